// The email rules as tables: each row is one rule of shared/sync/kinds/emailPlan.ts with the state that triggers it.
import type { Message } from '@microsoft/microsoft-graph-types';
import { describe, expect, it } from 'vitest';
import { attachmentPlan } from '../../../../shared/sync/kinds/email.js';
import { nextSendSlot, planSend, planTrack, sendRules, trackRules, type SendState, type TrackState } from '../../../../shared/sync/kinds/emailPlan.js';
import type { Mailbox } from '../../../../shared/storage/mailboxStore.js';
import type { Pair } from '../../../../shared/storage/pairStore.js';

const category = 'Tracked to Dynamics 365';
const message = (over: Partial<Message> = {}): Message => ({ id: 'm1', categories: [category], isDraft: false, internetMessageId: '<a@b>', ...over });
const pair: Pair = { mailboxId: 'mb', kind: 'email', dataverseEntity: 'email', dataverseId: 'e1', exchangeId: 'm1', base: {}, status: 'linked' };
const track = (over: Partial<TrackState>): TrackState => ({ changeType: 'updated', message: message(), pair: undefined, category, key: '<a@b>', direction: 'incoming', existing: undefined, ...over });

describe('tracking rules (Exchange -> Dynamics 365)', () => {
  it.each<[string, Partial<TrackState>, string, string?]>([
    ['a deleted tracked message unlinks, never deletes', { changeType: 'deleted', message: undefined, pair }, 'Unlink'],
    ['a deleted untracked message is nothing', { changeType: 'deleted', message: undefined }, 'Ignore'],
    ['a message gone when read unlinks', { message: undefined, pair }, 'Unlink'],
    ['a draft is never tracked', { message: message({ isDraft: true }) }, 'Ignore', 'a draft is not tracked'],
    ['without the category it is not tracked', { message: message({ categories: ['Red'] }) }, 'Ignore', 'not tracked'],
    ['the category is matched by display name, case-insensitively', { message: message({ categories: ['tracked to dynamics 365'] }) }, 'CreateActivity'],
    ['removing the category unlinks and keeps the activity', { message: message({ categories: [] }), pair }, 'Unlink', 'tracking category removed: the activity stays'],
    ['a tracked message changes the activity once only', { pair }, 'Ignore', 'already tracked'],
    ['no Message-ID: not tracked', { key: undefined }, 'Ignore', 'no internetMessageId'],
    ['tracked in another mailbox: join its activity', { existing: { activityId: 'e9', complete: true } }, 'Join'],
    ['our own create stopped half-way: finish it', { existing: { activityId: 'e9', complete: false } }, 'CreateActivity'],
    ['otherwise create', {}, 'CreateActivity'],
  ])('%s', (_name, over, type, reason) => {
    const [action, ...rest] = planTrack(track(over));
    expect(rest).toEqual([]);
    expect(action?.type).toBe(type);
    if (reason) expect(action).toMatchObject({ reason });
  });

  it('keeps the direction on a join and a create', () => {
    expect(planTrack(track({ direction: 'outgoing', existing: { activityId: 'e9', complete: true } }))).toEqual([{ type: 'Join', activityId: 'e9', direction: 'outgoing', reason: 'tracked already' }]);
    expect(planTrack(track({ direction: 'outgoing' }))).toEqual([{ type: 'CreateActivity', direction: 'outgoing' }]);
  });

  it('every rule says why', () => {
    for (const r of trackRules) expect(r.rule.length).toBeGreaterThan(10);
  });
});

const mailbox = { id: 'mb', entities: ['email'] } as unknown as Mailbox;
const pending = { statecode: 1, statuscode: 6, directioncode: true };
const send = (over: Partial<SendState>): SendState => ({ record: pending, senderSystemUserId: 'su', senderMailbox: mailbox, outgoingMethod: 0, claim: undefined, ...over });
const claim = (state: 'claimed' | 'submitted' | 'sent' | 'failed', extra: Record<string, unknown> = {}) => ({ activityId: 'e1', mailboxId: 'mb', state, at: '2026-01-01T00:00:00Z', ...extra });

describe('send rules (Dynamics 365 -> Exchange)', () => {
  it.each<[string, Partial<SendState>, string, Record<string, unknown>?]>([
    ['a Pending Send email from an enabled mailbox is sent', {}, 'Send', { reuseDraft: false }],
    ['Sending (7) counts as Pending Send', { record: { ...pending, statuscode: 7 } }, 'Send'],
    ['a Draft is not sent', { record: { statecode: 0, statuscode: 1, directioncode: true } }, 'Ignore', { reason: 'not Pending Send' }],
    ['a Sent email is not sent', { record: { statecode: 1, statuscode: 3, directioncode: true } }, 'Ignore'],
    ['an incoming email is never sent', { record: { ...pending, directioncode: false } }, 'Ignore', { reason: 'an incoming email' }],
    ['a queue sender is left to server-side sync', { senderSystemUserId: undefined }, 'Ignore'],
    ['a sender whose mailbox does not sync email is left alone', { senderMailbox: undefined }, 'Ignore', { reason: "the sender's mailbox is not enabled for email" }],
    ['server-side sync handles the outgoing email: left to it', { outgoingMethod: 2 }, 'Ignore', { reason: "server-side synchronization sends this mailbox's email" }],
    ['a claimed send goes on with its draft', { claim: claim('claimed') }, 'Send', { reuseDraft: true }],
    ['a submitted send is never submitted blindly again', { claim: claim('submitted') }, 'Send', { reuseDraft: true }],
    ['sent earlier, still Pending Send: only marked Sent', { claim: claim('sent') }, 'MarkSent'],
    ['sent earlier and marked: nothing', { claim: claim('sent'), record: { statecode: 1, statuscode: 3, directioncode: true } }, 'Ignore', { reason: 'already sent' }],
    ['failed, the mark lost: marked Failed again', { claim: claim('failed', { reason: 'x' }) }, 'MarkFailed', { reason: 'x' }],
    ['failed and marked, Pending Send again: the user sent it again', { claim: claim('failed', { reason: 'x', marked: true }) }, 'Send', { reuseDraft: false }],
    ['failed and marked, still Failed: nothing', { claim: claim('failed', { marked: true }), record: { statecode: 0, statuscode: 8, directioncode: true } }, 'Ignore'],
  ])('%s', (_name, over, type, fields) => {
    const [action, ...rest] = planSend(send(over));
    expect(rest).toEqual([]);
    expect(action?.type).toBe(type);
    if (fields) expect(action).toMatchObject(fields);
  });

  it('every rule says why', () => {
    for (const r of sendRules) expect(r.rule.length).toBeGreaterThan(10);
  });
});

describe('send pace', () => {
  const window = 60_000;
  it.each<[string, number[], number, number]>([
    ['room in the window: now', [0, 1], 10_000, 10_000],
    ['full window: one window and the margin after the limit-th latest', [1000, 2000, 3000], 4000, 1000 + window + 3000],
    ['slots long past do not count', [-200_000, -150_000, -100_000], 0, 0],
    ['a later slot already taken keeps the order', [0, 50_000], 10_000, 50_000],
  ])('%s', (_name, taken, now, expected) => {
    expect(nextSendSlot(taken, now, 3, window)).toBe(expected);
  });

  it('any window holds at most the limit of slots, whatever the order of reservations', () => {
    const limit = 30;
    const taken: number[] = [];
    let now = 0;
    for (let i = 0; i < 500; i++) {
      now += (i * 7919) % 1000; // deterministic, uneven arrivals
      taken.push(nextSendSlot(taken, now, limit, window));
      taken.sort((a, b) => a - b);
    }
    for (const t of taken) expect(taken.filter((x) => x >= t && x < t + window).length).toBeLessThanOrEqual(limit);
  });
});

describe('attachments copied from a tracked message', () => {
  it('copies files up to the limit, skips larger files and links', () => {
    const plan = attachmentPlan(
      [
        { id: 'a', size: 100, '@odata.type': '#microsoft.graph.fileAttachment' },
        { id: 'b', size: 5_000_000, '@odata.type': '#microsoft.graph.fileAttachment' },
        { id: 'c', size: 10, '@odata.type': '#microsoft.graph.referenceAttachment' },
        { id: 'd', size: 10, '@odata.type': '#microsoft.graph.itemAttachment' },
      ],
      1_000_000,
    );
    expect(plan.copy.map((a) => a.id)).toEqual(['a']);
    expect(plan.skipped).toEqual([
      { id: 'b', why: 'too large' },
      { id: 'c', why: 'not a file' },
      { id: 'd', why: 'not a file' },
    ]);
  });
});
