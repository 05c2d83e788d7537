// `mailbox enable --email`: email is opt-in, refused while server-side sync handles the mailbox's email unless the
// administrator takes it over, and the plan says what the administrator loses.
import { describe, expect, it } from 'vitest';
import { emailTakeOverWarning, planEnable, type EnableInputs } from '../../../shared/onboarding/mailbox.js';

const now = new Date('2026-03-01T00:00:00Z');
const url = 'https://sync.example/api/graph/notifications?code=k';
const inputs = (dv: EnableInputs['dataverseMailbox']): EnableInputs => ({
  userId: 'u1',
  userPrincipalName: 'alice@contoso.example',
  address: 'alice@contoso.example',
  systemUserId: 'su1',
  timeZone: 'Europe/Berlin',
  subscriptions: [],
  dataverseMailbox: dv,
});
const none = { mailboxId: 'mb1', incoming: 0, outgoing: 0 };

describe('enabling email on a mailbox', () => {
  it('is opt-in: without it no message subscription and no email entity', () => {
    const plan = planEnable(inputs(none), { now, notificationUrl: url });
    expect(plan.mailbox.entities).toEqual(['appointment', 'task', 'contact']);
    expect(plan.actions.filter((a) => a.type === 'createSubscription').map((a) => a.type === 'createSubscription' && a.resourceKind)).toEqual(['events', 'contacts']);
  });

  it('with email: subscribes to the mailbox messages and warns what the administrator loses', () => {
    const plan = planEnable(inputs(none), { entities: ['appointment', 'email'], now, notificationUrl: url });
    expect(plan.actions.filter((a) => a.type === 'createSubscription').map((a) => a.type === 'createSubscription' && a.resource)).toEqual(['/users/u1/events', '/users/u1/messages']);
    expect(plan.actions).toContainEqual({ type: 'warn', message: emailTakeOverWarning });
    expect(emailTakeOverWarning).toMatch(/App for Outlook/);
    expect(plan.actions.some((a) => a.type === 'takeOverEmail')).toBe(false);
  });

  it.each([
    ['incoming', { mailboxId: 'mb1', incoming: 2, outgoing: 0 }],
    ['outgoing', { mailboxId: 'mb1', incoming: 0, outgoing: 2 }],
    ['incoming and outgoing', { mailboxId: 'mb1', incoming: 2, outgoing: 2 }],
  ])('is refused while server-side sync handles its %s email', (what, dv) => {
    expect(() => planEnable(inputs(dv), { entities: ['email'], now, notificationUrl: url })).toThrow(new RegExp(`the ${what} email of alice@contoso.example is handled by server-side synchronization.*--take-over-email.*App for Outlook`));
  });

  it('taking over sets the delivery methods to None, after saying what is lost', () => {
    const plan = planEnable(inputs({ mailboxId: 'mb1', incoming: 2, outgoing: 2 }), { entities: ['email'], now, notificationUrl: url, takeOverEmail: true });
    const types = plan.actions.map((a) => a.type);
    expect(types.indexOf('warn')).toBeLessThan(types.indexOf('takeOverEmail'));
    expect(plan.actions).toContainEqual({ type: 'takeOverEmail', mailboxId: 'mb1', incoming: 2, outgoing: 2 });
  });

  it('without a Dataverse mailbox row email is refused, naming the user', () => {
    expect(() => planEnable(inputs(undefined), { entities: ['email'], now, notificationUrl: url })).toThrow(/no Dataverse mailbox row for alice@contoso.example/);
  });

  it('switching email off deletes its message subscription', () => {
    const sub = { id: 's9', mailboxId: 'u1', resourceKind: 'messages', resource: '/users/u1/messages', clientState: 'x'.repeat(32), expirationDateTime: '2026-03-05T00:00:00Z', createdOn: '2026-03-01T00:00:00Z' };
    const plan = planEnable({ ...inputs(none), subscriptions: [sub] }, { entities: ['appointment'], now, notificationUrl: url });
    expect(plan.actions).toContainEqual({ type: 'removeSubscription', subscription: sub });
  });
});
