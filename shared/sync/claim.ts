// How long a change waits behind another change's claim on a create (a pending pair with claimedBy), and when a
// claim counts as dead. The holder normally finishes within moments; a holder whose host died comes back only when
// Service Bus redelivers its message, once the message's lock expires (the queue's lockDuration, PT1M in
// shared/servicebus/queues.ts and infra/; https://learn.microsoft.com/azure/service-bus-messaging/message-transfers-locks-settlement#peeklock).
// A follower that backs off exponentially by its attempt (0.5 s doubling) oversleeps both moments: found by the
// host-crash and chaos tests, where a notification's change waited 22.8 s at attempt 6 behind a claim whose holder
// had long finished, and every attempt counted towards SYNC_MAX_ATTEMPTS.
import { SyncError } from '../errors.js';
import { changesQueue } from '../servicebus/queues.js';
import type { Pair } from '../storage/pairStore.js';

/** The changes queue's lock duration in ms (an ISO 8601 duration of minutes and seconds, e.g. PT1M). */
export function lockDurationMs(iso: string = changesQueue.lockDuration): number {
  const m = /^PT(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?$/.exec(iso);
  if (!m || (m[1] === undefined && m[2] === undefined)) throw new Error(`lock duration ${JSON.stringify(iso)} is not PTnMnS`);
  return (Number(m[1] ?? 0) * 60 + Number(m[2] ?? 0)) * 1000;
}

/**
 * How long a pending pair claimed by another change keeps others from creating: a create in flight finishes well
 * within the queue's lock duration (renewed while the handler runs); a claim older than that is an attempt that
 * died, whose item is looked for before anything is created again.
 */
export const claimMs = 2 * 60_000;

/**
 * Waits behind claims a change may make before each further one counts as an attempt (toward SYNC_MAX_ATTEMPTS). A
 * wait is not a failure, and one claim lives at most claimMs, which the doubling waits cover in about eight; the
 * bound is for a claim that never ends (a bug): the change's attempts then run out as for any failure.
 */
export const maxClaimWaits = 24;

/** The shortest wait behind a claim: a live holder's create takes a few calls. */
export const claimMinWaitMs = 2_000;

/** Slack after the lock expires for the redelivered holder to run (a create and its pair). */
const redeliverySlackMs = 5_000;

/**
 * The wait before a change that met a claim of age `ageMs` looks again. The claim's age doubles with each wait
 * (2 s at least), so a live holder is met again soon and a dead one is not polled every second; and no wait runs
 * past the next moment the claim can have changed: the holder's redelivery after its lock expires (lock duration +
 * 5 s), and the claim turning stale (claimMs), after which the follower takes the create over. Beyond both, a lock
 * duration (whoever holds the pending pair by then is a redelivered change).
 */
export function claimWaitMs(ageMs: number, lockMs: number = lockDurationMs()): number {
  const age = Number.isFinite(ageMs) && ageMs > 0 ? ageMs : 0;
  const next = [lockMs + redeliverySlackMs, claimMs].find((moment) => moment > age);
  if (next === undefined) return lockMs;
  return Math.max(250, Math.min(Math.max(claimMinWaitMs, age), next - age));
}

/**
 * Whether a claim (or a create in progress) of age `ageMs` still holds others back. Its time is its writer's clock
 * (shared/storage/pairStore.ts), and another instance's may run ahead of this one's: a claim a moment in the future
 * is as live as one a moment old (claimWaitMs waits as for age 0). A time further ahead than a claim lives is not
 * trusted (taken as stale), and one that cannot be read (NaN) holds nothing back.
 */
export const claimIsLive = (ageMs: number): boolean => ageMs > -claimMs && ageMs < claimMs;

/** The age of a pair's claim at `now` (NaN when it has no time). */
export const claimAge = (pair: Pick<Pair, 'updatedOn'>, now: Date) => now.getTime() - Date.parse(pair.updatedOn ?? '');

/**
 * Another change of this record is creating its item now: wait, then decide again from what it left. Decided from
 * the pair alone, so the engine asks it before it reads the mailbox (a waiting change needs no mailbox state; it
 * reads the mailbox when it comes back and goes ahead).
 */
export function claimedElsewhere(pair: Pick<Pair, 'status' | 'claimedBy' | 'updatedOn'>, claim: string | undefined, now: Date): SyncError | undefined {
  if (pair.status !== 'pending' || !pair.claimedBy || pair.claimedBy === claim) return undefined;
  const age = claimAge(pair, now);
  if (!claimIsLive(age)) return undefined;
  return new SyncError('Busy', 'another change of this record is creating its item; deciding again after it', { retryAfterMs: claimWaitMs(age) });
}
