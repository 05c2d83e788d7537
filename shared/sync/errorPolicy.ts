// The mailbox error policy (pure): what a failed change means for its mailbox. Server-side synchronization disables
// a mailbox at once on a permanent error and, after 10 retries of a transient one, disables it too, so an Exchange
// outage leaves every mailbox disabled until an admin re-enables each
// (https://learn.microsoft.com/power-platform/admin/troubleshooting-monitoring-server-side-synchronization; the complaint:
// https://github.com/MicrosoftDocs/dynamics-365-customer-engagement/issues/269). Here a permanent cause of the
// mailbox blocks it (pairs kept, work skipped until an operator enables it again); an outage only pauses it, with
// back-off, and the first change tried after the pause is the probe that resumes it by itself.
import { toSyncError, type SyncError } from '../errors.js';
import { maxClaimWaits } from './claim.js';

/** Stable codes of the causes that block a mailbox (shown by status, explain and the CLI). */
export const blockCodes = {
  /** The user was deleted, or the mailbox removed or unlicensed (Graph ErrorInvalidUser, ErrorNonExistentMailbox, MailboxNotEnabledForRESTAPI). */
  'graph.mailboxUnavailable': 'the mailbox is gone or has no Exchange license',
  /** An application access policy leaves the mailbox out (403 ErrorAccessDenied "Access to OData is disabled"). */
  'graph.accessPolicy': "an application access policy excludes the mailbox from the app's access",
  /** The Dataverse user is disabled (0x80040225): impersonating it fails. */
  'dataverse.userDisabled': 'the Dataverse user is disabled',
  /** The Dataverse user (or the app acting as it) lacks a privilege the sync needs (0x80040220). */
  'dataverse.noPrivilege': 'the Dataverse user lacks a privilege the sync needs',
} as const;
export type BlockCode = keyof typeof blockCodes;

/**
 * Dataverse codes that block (https://learn.microsoft.com/power-apps/developer/data-platform/reference/web-service-error-codes):
 * 0x80040225 "The specified user is disabled" (UserDisabled, answered when a disabled user is impersonated) and
 * 0x80040220 "SecLib::CheckPrivilege failed" (PrivilegeDenied).
 */
const dataverseBlocks: Readonly<Record<string, BlockCode>> = {
  '0x80040225': 'dataverse.userDisabled',
  '0x80040220': 'dataverse.noPrivilege',
};

export type FailureClass =
  /** A permanent cause of the mailbox: block it now, whatever the attempt. */
  | { class: 'block'; code: BlockCode; reason: string }
  /** A dependency that is down, throttling or not issuing tokens: retry, then pause the mailbox (never dead-letter). */
  | { class: 'outage' }
  /** Another change of the item holds its create (Busy): wait for it, outside the change's attempts. */
  | { class: 'wait' }
  /** Anything else is the item's own failure: its retries, then the dead-letter queue, decide. */
  | { class: 'item' };

/** What a failure says about the mailbox, from its code and the service's code only (never a message). */
export function classifyFailure(error: Pick<SyncError, 'code' | 'serviceCode' | 'status'> & { impersonated?: boolean | undefined; privilege?: string | undefined }): FailureClass {
  if (error.code === 'MailboxUnavailable') {
    const code: BlockCode = error.serviceCode === 'ErrorAccessDenied' ? 'graph.accessPolicy' : 'graph.mailboxUnavailable';
    return { class: 'block', code, reason: `${blockCodes[code]} (${error.serviceCode ?? error.code})` };
  }
  const dataverse = error.serviceCode === undefined ? undefined : dataverseBlocks[error.serviceCode.toLowerCase()];
  // The mailbox's user is disabled or lacks a privilege only when the call acted as that user; the application user
  // itself disabled or missing a privilege is the deployment's fault, shared by every mailbox: an outage, so no
  // mailbox is blocked for it and each resumes once it is fixed.
  if (dataverse && error.impersonated === false) return { class: 'outage' };
  if (dataverse) return { class: 'block', code: dataverse, reason: `${blockCodes[dataverse]} (${error.serviceCode}${error.privilege ? ` ${error.privilege}` : ''})` };
  // 429, 5xx, timeouts and resets (Transient covers a token endpoint that is down), and an app-level 401 (a token
  // not accepted, a secret that expired): none is the mailbox's fault, and each passes without anyone touching it.
  if (error.code === 'Throttled' || error.code === 'Transient' || error.code === 'Unauthorized') return { class: 'outage' };
  if (error.code === 'Busy') return { class: 'wait' };
  return { class: 'item' };
}

export interface PolicySettings {
  /** SYNC_MAX_ATTEMPTS: tries of one change before its failure counts against the mailbox. */
  maxAttempts: number;
  /** SYNC_PAUSE_MIN_SECONDS: the first pause; 0 turns pausing off (an exhausted change is dead-lettered). */
  pauseMinSeconds: number;
  /** SYNC_PAUSE_MAX_SECONDS: the longest pause the doubling reaches. */
  pauseMaxSeconds: number;
}

/** The mailbox's pause as its registry row records it. */
export interface PauseState {
  state: string;
  pausedUntil?: string | undefined;
  pauseSeconds?: number | undefined;
}

export type FailureDecision =
  | { action: 'block'; code: BlockCode; reason: string }
  /** Pause (or extend the pause of) the mailbox and reschedule the change for the pause's end. */
  | { action: 'pause' }
  /**
   * Before pausing again for a change that already waited out a pause: ask the mailbox itself (one mailbox-level
   * call per service) whether it answers, then decide again with the answer.
   */
  | { action: 'checkMailbox' }
  /** Reschedule the change after the wait its error asks for, as the same attempt (a claim held by another change). */
  | { action: 'wait' }
  /** `itemFailing`: the mailbox answers while this item keeps failing, so the item's own path applies and the mailbox resumes. */
  | { action: 'retry'; itemFailing?: true }
  | { action: 'deadLetter'; itemFailing?: true };

export interface FailureInput {
  retryable: boolean;
  attempt: number;
  /** The change was tried while its mailbox was paused (the probe). */
  probing: boolean;
  /** How many times the change was put off for a pause already (its message's deferral count). */
  deferrals: number;
  /** How many times the change waited behind another change's claim already (its message's waits). */
  waits?: number;
  /** Whether the mailbox answered a mailbox-level call just now; undefined when not asked (yet). */
  mailboxAnswers?: boolean | undefined;
}

/**
 * What to do with a change that failed. An outage is retried within the change's budget, then pauses the mailbox; a
 * change tried while the mailbox is paused (the probe) pauses it again at once, since retrying it is what the pause
 * is for. A change that belongs to no mailbox (a Dataverse record's read, before any mailbox) is paused too: it waits
 * with the same back-off instead of being dead-lettered.
 *
 * The per-item guard: a change that already waited out a pause and meets the outage again is either a longer outage
 * or one item that always fails (a 5xx for that item only). Server-side synchronization keeps the two apart: an
 * item that fails is an item-level failure, listed per item (its item-level monitoring, OrgDbOrgSetting
 * EnableSssItemLevelMonitoring, https://learn.microsoft.com/power-platform/admin/troubleshooting-monitoring-server-side-synchronization),
 * while mailbox-level errors are what disable a mailbox. So the mailbox is asked:
 * when it answers, the failure is the item's (its retries, then the dead-letter queue) and the mailbox resumes; when
 * it does not, it is an outage and the pause doubles. The first exhaustion always pauses, without asking: a flaky
 * service that answers one call may still fail most of them, and one pause costs the item nothing.
 */
export function decideFailure(failure: FailureClass, input: FailureInput, settings: PolicySettings): FailureDecision {
  if (failure.class === 'block') return { action: 'block', code: failure.code, reason: failure.reason };
  // Waiting behind another change's create is no failure of anything: it costs no attempt (shared/sync/claim.ts).
  if (failure.class === 'wait' && (input.waits ?? 0) < maxClaimWaits) return { action: 'wait' };
  if (failure.class === 'outage' && settings.pauseMinSeconds > 0) {
    if (!input.probing && input.attempt < settings.maxAttempts) return { action: 'retry' };
    if (input.deferrals === 0 || input.mailboxAnswers === false) return { action: 'pause' };
    if (input.mailboxAnswers === undefined) return { action: 'checkMailbox' };
    return input.retryable && input.attempt < settings.maxAttempts ? { action: 'retry', itemFailing: true } : { action: 'deadLetter', itemFailing: true };
  }
  return input.retryable && input.attempt < settings.maxAttempts ? { action: 'retry' } : { action: 'deadLetter' };
}

/**
 * The next pause of a mailbox: SYNC_PAUSE_MIN_SECONDS the first time, doubling with each failed probe up to
 * SYNC_PAUSE_MAX_SECONDS. A mailbox already paused past `now` keeps its pause (another change paused it first: one
 * outage doubles the pause once, not once per change).
 */
export function nextPause(current: PauseState | undefined, now: Date, settings: PolicySettings): { pausedUntil: string; pauseSeconds: number; extended: boolean } {
  if (current?.state === 'paused' && current.pausedUntil && Date.parse(current.pausedUntil) > now.getTime() && current.pauseSeconds !== undefined) {
    return { pausedUntil: current.pausedUntil, pauseSeconds: current.pauseSeconds, extended: false };
  }
  const previous = current?.state === 'paused' ? current.pauseSeconds : undefined;
  const pauseSeconds = previous === undefined ? settings.pauseMinSeconds : Math.min(settings.pauseMaxSeconds, Math.max(settings.pauseMinSeconds, previous * 2));
  return { pausedUntil: new Date(now.getTime() + pauseSeconds * 1000).toISOString(), pauseSeconds, extended: true };
}

/** How a change meets its mailbox's state: go ahead (and, for a paused mailbox whose pause is over, probe), wait, or skip. */
export type MailboxGate = { gate: 'go'; probing: boolean } | { gate: 'wait'; until: string } | { gate: 'skip'; reason: string };

/** Whether a change may run for a mailbox in this state now. */
export function gateOf(mailbox: PauseState & { stateReason?: string | undefined }, now: Date): MailboxGate {
  if (mailbox.state === 'blocked') return { gate: 'skip', reason: `mailbox blocked: ${mailbox.stateReason ?? 'no reason recorded'}` };
  if (mailbox.state === 'paused') {
    if (mailbox.pausedUntil && Date.parse(mailbox.pausedUntil) > now.getTime()) return { gate: 'wait', until: mailbox.pausedUntil };
    return { gate: 'go', probing: true };
  }
  return { gate: 'go', probing: false };
}

/** A failure met while writing for one mailbox: the worker's policy applies it to that mailbox. */
export class MailboxFailure extends Error {
  readonly error: SyncError;
  constructor(
    readonly mailboxId: string,
    cause: unknown,
  ) {
    const error = toSyncError(cause);
    super(error.message, { cause: error });
    this.name = 'MailboxFailure';
    this.error = error;
  }
}

/** The failure as met for this mailbox (a failure already tied to a mailbox keeps its mailbox). */
export function mailboxFailure(mailboxId: string, error: unknown): MailboxFailure {
  return error instanceof MailboxFailure ? error : new MailboxFailure(mailboxId, error);
}
