// The email rules as decision tables, pure: state in, actions out. shared/sync/kinds/email.ts reads the state and
// runs the actions. Tracking (Exchange -> Dynamics 365) follows server-side synchronization's category tracking
// (https://learn.microsoft.com/power-platform/admin/use-outlook-category-track-appointments-emails): the category
// tracks a mail, removing it untracks the mail but the activity "is not deleted", and one activity exists per
// (Message-ID, direction) (https://learn.microsoft.com/dynamics365/outlook-app/user/faq-email-tracking). Sending
// (Dynamics 365 -> Exchange) takes over what server-side sync does for a Pending Send email of a mailbox whose
// outgoing email it does not handle (https://learn.microsoft.com/power-platform/admin/server-side-synchronization).
import type { Message } from '@microsoft/microsoft-graph-types';
import { EmailStatus, type EmailDirection } from '../../mapping/email.js';
import type { SendClaim } from '../../storage/emailStore.js';
import type { Mailbox } from '../../storage/mailboxStore.js';
import type { Pair } from '../../storage/pairStore.js';

export type EmailAction =
  | { type: 'Ignore'; reason: string }
  /** Forget this mailbox's link to the activity; the activity stays. */
  | { type: 'Unlink'; reason: string }
  /** The message is tracked already (another mailbox's copy, or server-side sync): link this copy to that activity. */
  | { type: 'Join'; activityId: string; direction: EmailDirection; reason: string }
  /** Create the email activity (or finish one this key's create began: the id is derived from the key). */
  | { type: 'CreateActivity'; direction: EmailDirection }
  /** Claim the send if not yet, make (or reuse) the draft, take a slot of the sender's pace, submit, mark Sent. */
  | { type: 'Send'; reuseDraft: boolean }
  /** The send went out (an earlier attempt's answer was lost after the submission): only mark the email Sent. */
  | { type: 'MarkSent'; reason: string }
  /** Mark the email Failed (Open) with the reason. */
  | { type: 'MarkFailed'; reason: string };

/** One row of a decision table: the first row whose `when` holds decides. */
export interface Rule<S> {
  rule: string;
  when: (s: S) => boolean;
  then: (s: S) => EmailAction[];
}

export function decide<S>(rules: readonly Rule<S>[], state: S): EmailAction[] {
  for (const r of rules) if (r.when(state)) return r.then(state);
  return [{ type: 'Ignore', reason: 'no rule applies' }];
}

// ------------------------------------------------------------------------------------------------------------
// Exchange -> Dynamics 365: tracking
// ------------------------------------------------------------------------------------------------------------

export interface TrackState {
  changeType: 'created' | 'updated' | 'deleted';
  /** The message now; undefined when it is gone. */
  message: Message | undefined;
  /** This mailbox's link of the message, if it is tracked here. */
  pair: Pair | undefined;
  /** The tracking category's display name (Graph matches categories by name: outlookcategory resource). */
  category: string;
  /** The normalized Message-ID, or undefined when the message has none. */
  key: string | undefined;
  direction: EmailDirection | undefined;
  /** The activity already made for (key, direction): by the sync (its key row) or by anyone (Dataverse messageid). */
  existing: { activityId: string; complete: boolean } | undefined;
}

const isTracked = (s: TrackState) => (s.message?.categories ?? []).some((c) => c.toLowerCase() === s.category.toLowerCase());

/** The tracking rules, in order. */
export const trackRules: readonly Rule<TrackState>[] = [
  {
    rule: 'a message deleted in Exchange unlinks its activity, never deletes it',
    when: (s) => s.changeType === 'deleted' || s.message === undefined,
    then: (s) => (s.pair ? [{ type: 'Unlink', reason: 'message deleted in Exchange: the activity stays' }] : [{ type: 'Ignore', reason: 'not tracked' }]),
  },
  { rule: 'drafts are never tracked', when: (s) => s.message?.isDraft === true, then: () => [{ type: 'Ignore', reason: 'a draft is not tracked' }] },
  {
    rule: 'removing the category untracks the message; the activity is not deleted',
    when: (s) => !isTracked(s),
    then: (s) => (s.pair ? [{ type: 'Unlink', reason: 'tracking category removed: the activity stays' }] : [{ type: 'Ignore', reason: 'not tracked' }]),
  },
  { rule: 'a tracked message is promoted once; later changes of it (read, flag, move) do not change the activity', when: (s) => s.pair !== undefined, then: () => [{ type: 'Ignore', reason: 'already tracked' }] },
  { rule: 'a message without a Message-ID cannot be correlated and is not tracked', when: (s) => s.key === undefined, then: () => [{ type: 'Ignore', reason: 'no internetMessageId' }] },
  {
    rule: 'the same message tracked in another mailbox (or by server-side sync) is one activity: link this copy to it',
    when: (s) => s.existing?.complete === true,
    then: (s) => [{ type: 'Join', activityId: s.existing!.activityId, direction: s.direction ?? 'incoming', reason: 'tracked already' }],
  },
  { rule: 'otherwise (or to finish an interrupted create) create the activity', when: () => true, then: (s) => [{ type: 'CreateActivity', direction: s.direction ?? 'incoming' }] },
];

export const planTrack = (s: TrackState): EmailAction[] => decide(trackRules, s);

// ------------------------------------------------------------------------------------------------------------
// Dynamics 365 -> Exchange: sending
// ------------------------------------------------------------------------------------------------------------

export interface SendState {
  record: { statecode: number; statuscode: number; directioncode: boolean | undefined };
  /** systemuserid of the From party, when it is a system user (a queue sends through its own mailbox: out of scope). */
  senderSystemUserId: string | undefined;
  /** The sender's mailbox in the registry, when it is enabled and syncs email. */
  senderMailbox: Mailbox | undefined;
  /** The sender's Dataverse mailbox row: outgoingemaildeliverymethod (0 None, 1 Outlook, 2 server-side sync). */
  outgoingMethod: number | undefined;
  claim: SendClaim | undefined;
}

const pendingSend = (s: SendState) => s.record.statuscode === EmailStatus.PendingSend.statuscode || s.record.statuscode === EmailStatus.Sending.statuscode;

/** The send rules, in order. */
export const sendRules: readonly Rule<SendState>[] = [
  {
    rule: 'a send that went out is marked Sent (again, if the first mark was lost), never sent twice',
    when: (s) => s.claim?.state === 'sent',
    then: (s) => (pendingSend(s) ? [{ type: 'MarkSent', reason: 'sent earlier; the mark was not recorded' }] : [{ type: 'Ignore', reason: 'already sent' }]),
  },
  {
    rule: 'a send refused by Exchange is marked Failed (again, if the first mark was lost)',
    when: (s) => s.claim?.state === 'failed' && s.claim.marked !== true,
    then: (s) => [{ type: 'MarkFailed', reason: s.claim?.reason ?? 'refused by Exchange' }],
  },
  { rule: 'only a Pending Send email is sent', when: (s) => !pendingSend(s), then: () => [{ type: 'Ignore', reason: 'not Pending Send' }] },
  { rule: 'incoming email is never sent', when: (s) => s.record.directioncode === false, then: () => [{ type: 'Ignore', reason: 'an incoming email' }] },
  { rule: 'a sender that is not a system user (a queue) is left to server-side sync', when: (s) => s.senderSystemUserId === undefined, then: () => [{ type: 'Ignore', reason: 'the sender is not a system user' }] },
  { rule: "a sender whose mailbox does not sync email here is left to server-side sync", when: (s) => s.senderMailbox === undefined, then: () => [{ type: 'Ignore', reason: "the sender's mailbox is not enabled for email" }] },
  {
    rule: "a sender whose outgoing email server-side sync handles is left to it (both would send: email.md section 4)",
    when: (s) => s.outgoingMethod === 2,
    then: () => [{ type: 'Ignore', reason: "server-side synchronization sends this mailbox's email" }],
  },
  {
    rule: 'a submission whose answer was lost is not repeated: the draft left Drafts, so it went out',
    when: (s) => s.claim?.state === 'submitted',
    then: () => [{ type: 'Send', reuseDraft: true }],
  },
  { rule: 'a claimed send goes on with the draft it made', when: (s) => s.claim?.state === 'claimed', then: () => [{ type: 'Send', reuseDraft: true }] },
  {
    rule: 'a Failed email is Open: Pending Send again means the user sent it again, so it is sent anew',
    when: (s) => s.claim?.state === 'failed',
    then: () => [{ type: 'Send', reuseDraft: false }],
  },
  { rule: 'otherwise claim the send and send it', when: () => true, then: () => [{ type: 'Send', reuseDraft: false }] },
];

export const planSend = (s: SendState): EmailAction[] => decide(sendRules, s);

/**
 * The submission slot of the next send of a mailbox, given the slots already taken (ascending): now while fewer
 * than `limit` fall within the window, else one window (plus a margin for the time a send takes) after the
 * `limit`-th latest. Exchange counts 30 messages per minute per mailbox and defers or rejects the excess
 * (https://learn.microsoft.com/office365/servicedescriptions/exchange-online-service-description/exchange-online-limits#sending-limits).
 */
export function nextSendSlot(taken: readonly number[], now: number, limit: number, windowMs: number): number {
  const margin = paceMarginMs(windowMs);
  const live = taken.filter((t) => t > now - windowMs - margin);
  if (live.length < limit) return Math.max(now, live[live.length - 1] ?? now);
  return Math.max(now, live[live.length - limit]! + windowMs + margin);
}

/** Slots taken that can still matter to a later reservation. */
export function liveSlots(taken: readonly number[], now: number, windowMs: number): number[] {
  const margin = paceMarginMs(windowMs);
  return taken.filter((t) => t > now - windowMs - margin);
}

/** How much longer than the window consecutive batches wait: a send takes time, and Exchange counts its own clock. */
export function paceMarginMs(windowMs: number): number {
  return Math.min(5_000, Math.max(1_000, Math.round(windowMs / 20)));
}
