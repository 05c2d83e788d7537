// The mailbox error policy's I/O (shared/sync/errorPolicy.ts decides): pausing, resuming and blocking a mailbox in
// the registry, and running a change's work for one mailbox under its gate.
import type { Runtime } from '../runtime.js';
import type { Mailbox } from '../storage/mailboxStore.js';
import { blockCodes, gateOf, mailboxFailure, nextPause, type BlockCode, type MailboxGate, type PolicySettings } from './errorPolicy.js';
import type { Outcome } from './execute.js';

/** The policy's settings from the app settings. */
export function policySettings(rt: Runtime): PolicySettings {
  return { maxAttempts: rt.settings.SYNC_MAX_ATTEMPTS, pauseMinSeconds: rt.settings.SYNC_PAUSE_MIN_SECONDS, pauseMaxSeconds: rt.settings.SYNC_PAUSE_MAX_SECONDS };
}

/**
 * Pauses a mailbox (or keeps the pause another change set) and returns when the pause ends; undefined for a mailbox
 * that is gone, disabled or blocked (nothing to pause). `cause` is an error code and the service's answer, never item text.
 */
export async function pauseMailbox(rt: Runtime, mailboxId: string, cause: string): Promise<string | undefined> {
  const current = await rt.mailboxes.get(mailboxId);
  if (!current || current.state === 'disabled' || current.state === 'blocked') return undefined;
  const next = nextPause(current, rt.now(), policySettings(rt));
  if (!next.extended) return next.pausedUntil;
  await rt.mailboxes.patch(mailboxId, {
    state: 'paused',
    stateReason: `paused for ${next.pauseSeconds} s after ${cause}`.slice(0, 500),
    pausedUntil: next.pausedUntil,
    pauseSeconds: next.pauseSeconds,
  });
  rt.log.warn('mailbox paused', { mailboxId, pauseSeconds: next.pauseSeconds, pausedUntil: next.pausedUntil, cause: cause.slice(0, 200) });
  return next.pausedUntil;
}

/** A paused mailbox whose probe succeeded is active again; any other state is left as it is. */
export async function resumeMailbox(rt: Runtime, mailboxId: string): Promise<void> {
  const current = await rt.mailboxes.get(mailboxId);
  if (current?.state !== 'paused') return;
  await rt.mailboxes.patch(mailboxId, { state: 'active', stateReason: undefined, pausedUntil: undefined, pauseSeconds: undefined });
  rt.log.info('mailbox resumed', { mailboxId, pausedFor: current.pauseSeconds });
}

/** Blocks a mailbox for a permanent cause: its pairs stay, its work is skipped until `mailbox enable` runs again. */
export async function blockMailbox(rt: Runtime, mailboxId: string, code: BlockCode, reason: string): Promise<void> {
  const current = await rt.mailboxes.get(mailboxId);
  if (!current || current.state === 'disabled' || (current.state === 'blocked' && current.blockCode === code)) return;
  await rt.mailboxes.patch(mailboxId, {
    state: 'blocked',
    stateReason: `${code}: ${reason}; run mailbox enable once it is fixed`.slice(0, 500),
    blockCode: code,
    pausedUntil: undefined,
    pauseSeconds: undefined,
  });
  rt.log.error('mailbox blocked', { mailboxId, code, reason: blockCodes[code] });
}

/**
 * Whether the mailbox answers on both sides now: one mailbox-level read per service (its Graph mailbox settings, its
 * Dataverse user), so the error policy can tell one failing item from an outage (decideFailure's checkMailbox).
 * Any failure of either read is "does not answer": an outage keeps the pause it would have had.
 */
export async function mailboxAnswers(rt: Runtime, mailbox: Mailbox): Promise<boolean> {
  try {
    await rt.graph.getMailboxTimeZone(mailbox.id);
    return (await rt.dataverse.get('systemuser', mailbox.systemUserId, { select: ['systemuserid'] })) !== undefined;
  } catch {
    return false;
  }
}

/** How a change meets this mailbox now. */
export function gateFor(rt: Runtime, mailbox: Mailbox): MailboxGate {
  return gateOf(mailbox, rt.now());
}

/** The outcome of a change put off until the mailbox's pause ends (the worker schedules it again). */
export function pausedOutcome(mailbox: Mailbox, until: string, ids: Pick<Outcome, 'dataverseId' | 'exchangeId'>): Outcome {
  return { kind: 'paused', mailboxId: mailbox.id, ...ids, until, detail: `mailbox paused until ${until}` };
}

/**
 * Runs a change's work for one mailbox that its gate let through: a failure is tied to the mailbox (the worker's
 * policy pauses or blocks it), and a probe that succeeded resumes it.
 */
export async function forMailbox<T>(rt: Runtime, mailbox: Mailbox, gate: Extract<MailboxGate, { gate: 'go' }>, work: () => Promise<T>): Promise<T> {
  let result: T;
  try {
    result = await work();
  } catch (error) {
    throw mailboxFailure(mailbox.id, error);
  }
  if (gate.probing) await resumeMailbox(rt, mailbox.id);
  return result;
}
