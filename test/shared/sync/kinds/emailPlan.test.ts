// The email rules as tables: each row is one rule of shared/sync/kinds/emailPlan.ts with the state that triggers it.
import type { Message } from '@microsoft/microsoft-graph-types';
import { describe, expect, it } from 'vitest';
import { attachmentPlan } from '../../../../shared/sync/kinds/email.js';
import { decide, liveSlots, nextSendSlot, paceMarginMs, planSend, planTrack, sendRules, trackRules, type SendState, type TrackState } from '../../../../shared/sync/kinds/emailPlan.js';
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

  it.each<[string, Partial<TrackState>, unknown]>([
    ['a deleted tracked message: unlinked as deleted', { changeType: 'deleted', message: undefined, pair }, { type: 'Unlink', reason: 'message deleted in Exchange: the activity stays' }],
    ['a message gone when read (not a delete notice): unlinked as deleted', { message: undefined, pair }, { type: 'Unlink', reason: 'message deleted in Exchange: the activity stays' }],
    ['a delete notice unlinks even with the message still given', { changeType: 'deleted', pair }, { type: 'Unlink', reason: 'message deleted in Exchange: the activity stays' }],
    ['a delete notice for a message still given and not linked: nothing', { changeType: 'deleted' }, { type: 'Ignore', reason: 'not tracked' }],
    ['a deleted message never linked here: not tracked', { changeType: 'deleted', message: undefined }, { type: 'Ignore', reason: 'not tracked' }],
    ['a message without categories is not tracked', { message: message({ categories: undefined }) }, { type: 'Ignore', reason: 'not tracked' }],
    ['the tracking category among others tracks it', { message: message({ categories: ['Red', 'Blue', category] }) }, { type: 'CreateActivity', direction: 'incoming' }],
    ['the category in upper case tracks it', { message: message({ categories: ['TRACKED TO DYNAMICS 365'] }) }, { type: 'CreateActivity', direction: 'incoming' }],
    ['a category that only contains the name does not track it', { message: message({ categories: [`${category} (old)`] }) }, { type: 'Ignore', reason: 'not tracked' }],
    ['a linked draft (saved again as a draft) is not tracked, nor unlinked', { message: message({ isDraft: true }), pair }, { type: 'Ignore', reason: 'a draft is not tracked' }],
    ['no direction known: a join is incoming', { direction: undefined, existing: { activityId: 'e9', complete: true } }, { type: 'Join', activityId: 'e9', direction: 'incoming', reason: 'tracked already' }],
    ['no direction known: a create is incoming', { direction: undefined }, { type: 'CreateActivity', direction: 'incoming' }],
  ])('%s', (_name, over, expected) => {
    expect(planTrack(track(over))).toEqual([expected]);
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

  it.each<[string, Partial<SendState>, unknown]>([
    ['sent earlier, still Sending (7): only marked Sent', { claim: claim('sent'), record: { ...pending, statuscode: 7 } }, { type: 'MarkSent', reason: 'sent earlier; the mark was not recorded' }],
    ['sent earlier, still Pending Send: the reason says the mark was lost', { claim: claim('sent') }, { type: 'MarkSent', reason: 'sent earlier; the mark was not recorded' }],
    ['failed without a recorded reason, the mark lost: a reason is given', { claim: claim('failed') }, { type: 'MarkFailed', reason: 'refused by Exchange' }],
    ['failed, the mark lost, the email no longer Pending Send: marked Failed again', { claim: claim('failed', { reason: 'x' }), record: { statecode: 0, statuscode: 8, directioncode: true } }, { type: 'MarkFailed', reason: 'x' }],
    ['a queue sender is left to server-side sync', { senderSystemUserId: undefined }, { type: 'Ignore', reason: 'the sender is not a system user' }],
    ['a Completed (2) email is not sent', { record: { statecode: 1, statuscode: 2, directioncode: true } }, { type: 'Ignore', reason: 'not Pending Send' }],
    ['a Pending Send email without a direction read is sent', { record: { ...pending, directioncode: undefined } }, { type: 'Send', reuseDraft: false }],
    ['an incoming email with a claim is still never sent', { record: { ...pending, directioncode: false }, claim: claim('claimed') }, { type: 'Ignore', reason: 'an incoming email' }],
    ['outgoing email by Outlook (1) is sent here', { outgoingMethod: 1 }, { type: 'Send', reuseDraft: false }],
    ['no Dataverse mailbox row read: sent here', { outgoingMethod: undefined }, { type: 'Send', reuseDraft: false }],
    ['server-side sync handles it, even with a claim of ours', { outgoingMethod: 2, claim: claim('claimed') }, { type: 'Ignore', reason: "server-side synchronization sends this mailbox's email" }],
  ])('%s', (_name, over, expected) => {
    expect(planSend(send(over))).toEqual([expected]);
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

  it.each<[number, number]>([
    [60_000, 3_000],
    [10_000, 1_000],
    [30_000, 1_500],
    [200_000, 5_000],
    [0, 1_000],
  ])('a window of %i ms waits %i ms more between batches', (windowMs, margin) => {
    expect(paceMarginMs(windowMs)).toBe(margin);
  });

  it('keeps a slot while it is within the window and the margin before now, and drops it from then on', () => {
    const now = 100_000;
    const edge = now - window - 3_000;
    expect(liveSlots([edge - 1, edge, edge + 1, now, now + 5], now, window)).toEqual([edge + 1, now, now + 5]);
    expect(liveSlots([], now, window)).toEqual([]);
  });

  it('a slot counts until the window and the margin have passed since it', () => {
    const now = 100_000;
    const edge = now - window - 3_000;
    // a slot at the edge has passed: the one reserved ahead is the only live one, so the next goes right behind it
    expect(nextSendSlot([edge, now + 500], now, 2, window)).toBe(now + 500);
    // a slot within the margin still fills the window: the next waits one window and the margin after it
    expect(nextSendSlot([edge + 2_000, now + 500], now, 2, window)).toBe(edge + 2_000 + window + 3_000);
  });

  it('waits behind the limit-th latest, not the oldest, when more than the limit are live', () => {
    expect(nextSendSlot([1000, 2000, 3000, 4000], 5000, 2, window)).toBe(3000 + window + 3000);
    expect(nextSendSlot([], 5000, 1, window)).toBe(5000);
    expect(nextSendSlot([4000], 5000, 1, window)).toBe(4000 + window + 3000);
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

describe('decision tables', () => {
  it('takes the first rule that holds, and ignores a state no rule covers', () => {
    const rules = [
      { rule: 'odd numbers are ignored as odd', when: (n: number) => n % 2 === 1, then: () => [{ type: 'Ignore' as const, reason: 'odd' }] },
      { rule: 'multiples of four are unlinked', when: (n: number) => n % 4 === 0, then: (n: number) => [{ type: 'Unlink' as const, reason: `${n}` }] },
      { rule: 'multiples of eight are never reached', when: (n: number) => n % 8 === 0, then: () => [{ type: 'Ignore' as const, reason: 'eight' }] },
    ];
    expect(decide(rules, 3)).toEqual([{ type: 'Ignore', reason: 'odd' }]);
    expect(decide(rules, 8)).toEqual([{ type: 'Unlink', reason: '8' }]);
    expect(decide(rules, 6)).toEqual([{ type: 'Ignore', reason: 'no rule applies' }]);
    expect(decide([], 1)).toEqual([{ type: 'Ignore', reason: 'no rule applies' }]);
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
