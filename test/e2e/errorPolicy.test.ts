// The mailbox error policy end to end (issue 16 item 5): an outage of either service pauses the mailbox it met
// (only that one), its changes wait on Service Bus instead of being dead-lettered, and the first change tried after
// the pause resumes it by itself; a permanent cause of the mailbox (the Dataverse user disabled, an application
// access policy, the mailbox unlicensed) blocks it with the reason, keeps its pairs and is never read as "every item
// is gone".
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type Stack } from '../../dev/stack/index.js';
import { exchangeChange } from '../../shared/servicebus/messages.js';
import { changesQueue } from '../../shared/servicebus/queues.js';
import { enableMailbox } from '../../shared/onboarding/mailbox.js';
import { main } from '../../shared/cli/main.js';
import { formatStatus } from '../../shared/cli/commands/status.js';
import { buildStatus, renderStatusPage } from '../../shared/status/index.js';
import { appointments, createAppointment, daysFromNow, events, outlookEvent } from '../support/e2e.js';

describe('mailbox error policy', () => {
  let stack: Stack;
  beforeAll(async () => {
    // Two tries per change and pauses of 1 then 2 seconds, so an outage pauses quickly and the test waits little.
    stack = await startStack({ seed: 5155, env: { SYNC_MAX_ATTEMPTS: '2', SYNC_PAUSE_MIN_SECONDS: '1', SYNC_PAUSE_MAX_SECONDS: '2' } });
  }, 60_000);
  afterAll(async () => stack?.close());

  const put = () => stack.serviceBus.waitFor('scheduled', (e) => e.queue === changesQueue.name && /~\d+$/.test(e.messageId), 20_000);
  const deadLetters = () => stack.serviceBus.messages(changesQueue.name, 'deadLetter');
  const state = async (user: string) => (await stack.runtime.mailboxes.get(stack.users[user]!.graph.id))!;

  it('a Graph outage pauses only the mailbox it met; the change waits, is not dead-lettered, and the probe resumes the mailbox', async () => {
    const bob = stack.users.bob!;
    await stack.graph.admin.setFaultPlan({ routes: `^POST /users/${bob.graph.id}/events$`, serverErrors: { probability: 1, statuses: [503] } });
    const deferred = put();
    createAppointment(stack, 'bob', 'Outage review', daysFromNow(3));
    await deferred;
    const paused = await state('bob');
    expect(paused).toMatchObject({ state: 'paused', pauseSeconds: 1 });
    expect(paused.stateReason).toMatch(/^paused for 1 s after Transient: Graph events answered 503/);
    expect(Date.parse(paused.pausedUntil!)).toBeGreaterThan(Date.now() - 5_000);
    // Never every mailbox because Exchange was down for one.
    expect((await state('alice')).state).toBe('active');
    // Status (endpoint, page and CLI) shows the pause, its reason and when it ends.
    const report = await buildStatus(stack.runtime);
    expect(report.mailboxes.find((m) => m.id === bob.graph.id)).toMatchObject({ state: 'paused', pausedUntil: paused.pausedUntil, stateReason: paused.stateReason });
    expect(formatStatus(report).join('\n')).toContain(`resumes by itself from ${paused.pausedUntil}`);
    expect(renderStatusPage(report)).toMatch(/resumes by itself from <time/);

    await stack.graph.admin.setFaultPlan({});
    await stack.settled({ timeoutMs: 30_000 });
    expect((await events(stack, 'bob')).filter((e) => e.item.subject === 'Outage review')).toHaveLength(1);
    const resumed = await state('bob');
    expect(resumed.state).toBe('active');
    expect(resumed.pausedUntil).toBeUndefined();
    expect(deadLetters()).toHaveLength(0);
  });

  it('a probe that fails again doubles the pause, and the change still arrives once the service is back', async () => {
    const bob = stack.users.bob!;
    // The whole mailbox is down (its settings too), so the failed probe is an outage, not one failing item.
    await stack.graph.admin.setFaultPlan({ routes: `^\\w+ /users/${bob.graph.id}/`, serverErrors: { probability: 1, statuses: [503] } });
    const first = put();
    createAppointment(stack, 'bob', 'Longer outage', daysFromNow(4));
    await first;
    // The probe at the end of the first pause fails too: the pause doubles (1 s -> 2 s).
    await stack.serviceBus.waitFor('scheduled', (e) => e.queue === changesQueue.name && e.messageId.endsWith('~2'), 20_000);
    expect(await state('bob')).toMatchObject({ state: 'paused', pauseSeconds: 2 });
    await stack.graph.admin.setFaultPlan({});
    await stack.settled({ timeoutMs: 30_000 });
    expect((await events(stack, 'bob')).filter((e) => e.item.subject === 'Longer outage')).toHaveLength(1);
    expect((await state('bob')).state).toBe('active');
    expect(deadLetters()).toHaveLength(0);
  });

  it('a Dataverse outage pauses the mailbox whose change met it and resumes it by itself, with no item lost', async () => {
    stack.dataverse.admin.setFaultPlan({ requests: { match: '^(PATCH|POST) /api/data/v9.2/appointments', serverError: { probability: 1, status: 503 } } });
    const deferred = put();
    await outlookEvent(stack, 'alice', 'Written during the outage', daysFromNow(5), { track: true });
    await deferred;
    expect(await state('alice')).toMatchObject({ state: 'paused' });
    expect((await state('alice')).stateReason).toMatch(/Transient: Dataverse (PATCH|POST) appointments answered 503/);
    stack.dataverse.admin.setFaultPlan({});
    await stack.settled({ timeoutMs: 30_000 });
    expect(appointments(stack).filter((a) => a.subject === 'Written during the outage')).toHaveLength(1);
    expect((await state('alice')).state).toBe('active');
    expect(deadLetters()).toHaveLength(0);
  });

  it('a disabled Dataverse user blocks its mailbox with the reason; the others go on, and mailbox enable lifts the block', async () => {
    const bob = stack.users.bob!;
    stack.dataverse.admin.as(stack.users.alice!.systemUserId).update('systemusers', bob.systemUserId, { isdisabled: true });
    await outlookEvent(stack, 'bob', 'Tracked by a disabled user', daysFromNow(6), { track: true });
    await stack.settled();
    const blocked = await state('bob');
    expect(blocked).toMatchObject({ state: 'blocked', blockCode: 'dataverse.userDisabled' });
    expect(blocked.stateReason).toMatch(/^dataverse\.userDisabled: the Dataverse user is disabled \(0x80040225\); run mailbox enable once it is fixed/);
    expect((await buildStatus(stack.runtime)).mailboxes.find((m) => m.id === bob.graph.id)).toMatchObject({ state: 'blocked', blockCode: 'dataverse.userDisabled' });
    expect(appointments(stack).filter((a) => a.subject === 'Tracked by a disabled user')).toHaveLength(0);
    expect(deadLetters()).toHaveLength(0);
    // Blocked, the mailbox takes no change: a Dataverse appointment for bob is skipped (recorded), alice's still syncs.
    const skipped = createAppointment(stack, 'bob', 'Not for a blocked mailbox', daysFromNow(7));
    createAppointment(stack, 'alice', 'Alice goes on', daysFromNow(7));
    await stack.settled();
    expect((await events(stack, 'bob')).map((e) => e.item.subject)).not.toContain('Not for a blocked mailbox');
    expect((await events(stack, 'alice')).map((e) => e.item.subject)).toContain('Alice goes on');
    const decisions = await stack.runtime.decisions.lookup({ dataverseId: String(skipped.activityid) });
    expect(decisions.flatMap((d) => d.decisions.map((x) => x.decision))).toContain('MailboxBlocked');

    stack.dataverse.admin.as(stack.users.alice!.systemUserId).update('systemusers', bob.systemUserId, { isdisabled: false });
    await enableMailbox(stack.runtime, bob.userPrincipalName);
    await stack.settled();
    expect((await state('bob')).state).toBe('active');
  });

  it('an application access policy that leaves the mailbox out blocks it (graph.accessPolicy), with its pairs kept', async () => {
    const alice = stack.users.alice!;
    const synced = createAppointment(stack, 'alice', 'Paired before the policy', daysFromNow(8, 8));
    await stack.settled();
    const pair = await stack.runtime.pairs.get(alice.graph.id, String(synced.activityid));
    expect(pair?.status).toBe('linked');
    await stack.graph.admin.setMailboxUnavailable(alice.graph.id, 'accessPolicy');
    createAppointment(stack, 'alice', 'Behind an access policy', daysFromNow(8));
    await stack.settled();
    expect(await state('alice')).toMatchObject({ state: 'blocked', blockCode: 'graph.accessPolicy' });
    expect(await stack.runtime.pairs.get(alice.graph.id, String(synced.activityid))).toMatchObject({ exchangeId: pair!.exchangeId });
    expect(deadLetters()).toHaveLength(0);
    await stack.graph.admin.setMailboxUnavailable(alice.graph.id, null);
    await enableMailbox(stack.runtime, alice.userPrincipalName);
    await stack.settled();
    expect((await state('alice')).state).toBe('active');
  });

  it("an unlicensed mailbox's 404 blocks it (MailboxUnavailable) and is not read as the item gone: nothing is deleted or unlinked", async () => {
    // Failed before the fix: the 404 MailboxNotEnabledForRESTAPI was NotFound, so the read of the item said "gone"
    // and the change inferred the delete of the item's pair in Dataverse.
    const bob = stack.users.bob!;
    const appointment = createAppointment(stack, 'bob', 'Kept when the license goes', daysFromNow(9));
    await stack.settled();
    const id = String(appointment.activityid);
    const pair = await stack.runtime.pairs.get(bob.graph.id, id);
    expect(pair?.exchangeId).toBeDefined();
    await stack.graph.admin.setMailboxUnavailable(bob.graph.id, 'unlicensed');
    // A notification of the item that arrived as the license was removed.
    await stack.runtime.sender.send([exchangeChange({ mailboxId: bob.graph.id, resource: 'event', itemId: pair!.exchangeId!, changeType: 'updated' }, { receivedAt: new Date().toISOString() })]);
    await stack.settled();
    expect(await state('bob')).toMatchObject({ state: 'blocked', blockCode: 'graph.mailboxUnavailable' });
    expect((await state('bob')).stateReason).toMatch(/MailboxNotEnabledForRESTAPI/);
    expect(await stack.runtime.pairs.get(bob.graph.id, id)).toMatchObject({ exchangeId: pair!.exchangeId });
    expect(stack.dataverse.admin.record('appointments', id)).toBeDefined();
    await stack.graph.admin.setMailboxUnavailable(bob.graph.id, null);
    await enableMailbox(stack.runtime, bob.userPrincipalName);
    await stack.settled();
  });

  it("a Dataverse user whose role lacks a privilege the sync needs (simulator enforcing privileges: 403 0x80040220) blocks its mailbox, naming the privilege; the others go on", async () => {
    const bob = stack.users.bob!;
    const defaults = await stack.runtime.dataverse.retrieveUserPrivileges(bob.systemUserId);
    stack.dataverse.admin.setUserPrivileges(bob.systemUserId, defaults.filter((p) => p.name !== 'prvCreateActivity').map((p) => ({ name: p.name, depth: p.depth as 'Global' })));
    stack.dataverse.admin.setPrivilegeEnforcement(true);
    try {
      await outlookEvent(stack, 'bob', 'Tracked without the privilege', daysFromNow(12), { track: true });
      await outlookEvent(stack, 'alice', 'Tracked by a user with the role', daysFromNow(12), { track: true });
      await stack.settled();
      const blocked = await state('bob');
      expect(blocked).toMatchObject({ state: 'blocked', blockCode: 'dataverse.noPrivilege' });
      expect(blocked.stateReason).toBe('dataverse.noPrivilege: the Dataverse user lacks a privilege the sync needs (0x80040220 prvCreateActivity); run mailbox enable once it is fixed');
      expect(appointments(stack).map((a) => a.subject)).not.toContain('Tracked without the privilege');
      expect(appointments(stack).map((a) => a.subject)).toContain('Tracked by a user with the role');
      expect((await state('alice')).state).toBe('active');
      expect(deadLetters()).toHaveLength(0);
      // The role gets the privilege back; `mailbox enable` lifts the block and its backfill brings the event over.
      stack.dataverse.admin.setUserPrivileges(bob.systemUserId, defaults.map((p) => ({ name: p.name, depth: p.depth as 'Global' })));
      let out = '';
      const code = await main(['mailbox', 'enable', bob.userPrincipalName], { stdout: (t) => void (out += t), stderr: (t) => void (out += t), env: stack.env });
      expect(code, out).toBe(0);
      await stack.settled();
      expect((await state('bob')).state).toBe('active');
      expect(appointments(stack).filter((a) => a.subject === 'Tracked without the privilege')).toHaveLength(1);
    } finally {
      stack.dataverse.admin.setPrivilegeEnforcement(false);
    }
  });

  // Last: it leaves a dead letter, which the tests above count as none.
  it('one item that always answers 5xx pauses its mailbox once: failing again through the probe while the mailbox answers, it is an item failure (dead-lettered) and the mailbox resumes', async () => {
    // Failed before the per-item guard: the item's change paused bob, its probe re-paused him (1 s, 2 s, 2 s, ...)
    // for as long as the item failed, and every other change of bob's waited behind each pause (settled timed out).
    const bob = stack.users.bob!;
    const appointment = createAppointment(stack, 'bob', 'Poisoned item', daysFromNow(10));
    await stack.settled();
    const pair = await stack.runtime.pairs.get(bob.graph.id, String(appointment.activityid));
    expect(pair?.exchangeId).toBeDefined();
    const before = deadLetters().length;
    // Only this one event fails, and always: its mailbox (settings, other events) answers.
    await stack.graph.admin.setFaultPlan({ routes: `^PATCH /users/${bob.graph.id}/events/${pair!.exchangeId!.replace(/=+$/, '')}(=|%3D)*$`, serverErrors: { probability: 1, statuses: [503] } });
    const paused = put();
    stack.dataverse.admin.as(bob.systemUserId).update('appointments', String(appointment.activityid), { location: 'Room 5' });
    await paused;
    expect((await state('bob')).state).toBe('paused');
    // A change of another item of bob's, made during the pause, arrives once the pause ends.
    createAppointment(stack, 'bob', 'Not held by one item', daysFromNow(11));
    await stack.settled({ timeoutMs: 30_000 });
    expect((await events(stack, 'bob')).map((e) => e.item.subject)).toContain('Not held by one item');
    expect(await state('bob')).toMatchObject({ state: 'active' });
    const dead = deadLetters().slice(before);
    expect(dead).toHaveLength(1);
    const record = await stack.runtime.cursors.get<{ reason: string; description: string }>('deadletter', dead[0]!.messageId);
    expect(record).toMatchObject({ reason: 'ItemFailing' });
    expect(record!.description).toMatch(/^the item failed again after its mailbox's pause while the mailbox answered: Transient: Graph events answered 503/);
    const decisions = await stack.runtime.decisions.lookup({ dataverseId: String(appointment.activityid) });
    expect(decisions.flatMap((d) => d.decisions.map((x) => x.decision))).toContain('DeadLettered');
    await stack.graph.admin.setFaultPlan({});
  }, 60_000);
});
