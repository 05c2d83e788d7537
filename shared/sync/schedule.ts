// When each mailbox's periodic work is next due: pure functions of the mailbox, the clock and the settings.
// - To Do poll: adaptive between a minimum and a maximum. Server-side synchronization polls active mailboxes more
//   often than idle ones (its ActiveMailboxMinimumBackoffForACT / ActiveMailboxMaximumBackoffForACT /
//   IdleMailboxMinimumBackoffForACT deployment settings, the ServerSideSyncACTSettings class); here a poll that found
//   changes, or a change synced either way, goes back to the minimum and each quiet poll doubles the interval.
// - Reconciliation: each mailbox at its own place in the period (a hash of its id), so 10,000 mailboxes are not all
//   reconciled in the same minute.
import { createHash } from 'node:crypto';
import type { ScheduledTask } from '../storage/mailboxStore.js';

export interface ScheduleSettings {
  SYNC_TODO_POLL_MIN_SECONDS: number;
  SYNC_TODO_POLL_MAX_SECONDS: number;
  SYNC_RECONCILE_PERIOD_MINUTES: number;
  SYNC_RENEW_CHECK_MINUTES: number;
}

/** The next To Do poll interval (seconds): the minimum after activity, else double the last, within [min, max]. */
export function nextPollInterval(last: number | undefined, active: boolean, settings: ScheduleSettings): number {
  const min = settings.SYNC_TODO_POLL_MIN_SECONDS;
  const max = settings.SYNC_TODO_POLL_MAX_SECONDS;
  if (active || last === undefined) return min;
  return Math.min(max, Math.max(min, last * 2));
}

/** Where in the reconciliation period a mailbox's round falls: [0, period) ms, stable for its id. */
export function reconcileOffsetMs(mailboxId: string, periodMs: number): number {
  if (periodMs <= 0) return 0;
  const hash = createHash('sha256').update(mailboxId.toLowerCase()).digest();
  return hash.readUInt32BE(0) % periodMs;
}

/** The first time after `now` at the mailbox's place in the period (now itself when the period is 0). */
export function nextReconcileAt(mailboxId: string, now: Date, settings: ScheduleSettings): Date {
  const period = settings.SYNC_RECONCILE_PERIOD_MINUTES * 60_000;
  if (period <= 0) return now;
  const offset = reconcileOffsetMs(mailboxId, period);
  const base = Math.floor((now.getTime() - offset) / period) * period + offset;
  return new Date(base + period);
}

/** When a new mailbox's tasks are first due: poll and renewal check at once, reconciliation at its place. */
export function initialSchedule(settings: ScheduleSettings) {
  return (mailboxId: string, now: Date): Record<ScheduledTask, Date> => ({ pollTodo: now, reconcile: nextReconcileAt(mailboxId, now, settings), renew: now });
}

/** When a task done at `now` is next due (the To Do poll's from its interval). */
export function nextDue(task: ScheduledTask, mailboxId: string, now: Date, settings: ScheduleSettings, pollIntervalSeconds = 0): Date {
  switch (task) {
    case 'pollTodo':
      return new Date(now.getTime() + pollIntervalSeconds * 1000);
    case 'reconcile':
      return nextReconcileAt(mailboxId, now, settings);
    case 'renew':
      return new Date(now.getTime() + settings.SYNC_RENEW_CHECK_MINUTES * 60_000);
  }
}
