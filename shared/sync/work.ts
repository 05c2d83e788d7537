// Fan-out of the periodic work. Azure runs a timer function on one instance at a time, so the timers do no API call:
// each sends one sweep message for its task (milliseconds, whatever the number of mailboxes). A sweep reads one page
// of the mailboxes due for the task, enqueues one work message per mailbox (session = the mailbox), marks them
// enqueued, and enqueues the sweep of the next page; the work messages spread over every instance's sessions.
// A mailbox whose work is outstanding is not due (its row says so until the message's time to live has passed), so a
// run still going when the next is due is not doubled; the sweeps of one task share a session, so they never overlap.
// https://learn.microsoft.com/azure/azure-functions/functions-bindings-timer#scale-out (one timer instance)
import type { AttentionPageMessage, MailboxTask, MailboxWork, RetentionPageMessage, Sweep, WorkMessage } from '../servicebus/work.js';
import { attentionStates, type MailboxState } from '../storage/mailboxStore.js';
import type { Runtime } from '../runtime.js';
import { isSyncError, toSyncError, type SyncError } from '../errors.js';
import { classifyFailure, gateOf } from './errorPolicy.js';
import { blockMailbox, pauseMailbox, resumeMailbox } from './mailboxHealth.js';
import { retentionCursor, retentionPeriodMs, trimDecisionPage, type RetentionPage } from './decisionRetention.js';
import { reconcileDataverse, reconcileMailbox, reconcileScopes } from './reconcile.js';
import { nextDue, nextPollInterval } from './schedule.js';
import { isPolled, pollMailboxTodo, renewMailboxSubscriptions } from './timers.js';

/** Outstanding work is not enqueued again before its message would have expired (workQueue's time to live, PT1H). */
export const outstandingMs = 3600_000;

/** What a timer run enqueued: only the first sweep page (the rest follows on the work queue). */
export interface TimerRun {
  task: MailboxTask;
  run: string;
  dataverse: boolean;
  /** The daily decision retention pass was started. */
  retention?: boolean;
}

/** The timer of a task: one sweep message; the reconciliation timer also starts Dataverse change tracking when due. */
export async function startSweep(rt: Runtime, task: MailboxTask): Promise<TimerRun> {
  const now = rt.now();
  const run = now.toISOString();
  const messages: WorkMessage[] = [{ v: 1, type: 'sweep', task, run, page: 0 }];
  // Once a minute, with the To Do poll: the pass that records the attention gauge of the mailboxes needing it.
  if (task === 'pollTodo') messages.push({ v: 1, type: 'attention', run, page: 0 });
  let dataverse = false;
  if (task === 'reconcile') {
    const period = rt.settings.SYNC_RECONCILE_PERIOD_MINUTES * 60_000;
    const last = await rt.cursors.get<{ at: string }>(reconcileScopes.last, 'dataverse');
    if (!last || Date.parse(last.at) + period <= now.getTime()) {
      // One run id per period slot: the minute timer sends it again while the round runs, and duplicate detection
      // (its window is an hour) drops the repeats; a period of 0 means every run.
      const slot = period > 0 ? new Date(Math.floor(now.getTime() / period) * period).toISOString() : run;
      messages.push({ v: 1, type: 'dataverse', run: slot });
      dataverse = true;
    }
    const lastRetention = await rt.cursors.get<{ at: string }>(retentionCursor.scope, retentionCursor.name);
    if (!lastRetention || Date.parse(lastRetention.at) + retentionPeriodMs <= now.getTime()) {
      // One run id per day: until its first page records the start, the minute timer's repeats are duplicates.
      messages.push({ v: 1, type: 'retention', run: new Date(Math.floor(now.getTime() / retentionPeriodMs) * retentionPeriodMs).toISOString(), page: 0 });
      await rt.work.send(messages);
      return { task, run, dataverse, retention: true };
    }
  }
  await rt.work.send(messages);
  return { task, run, dataverse };
}

export interface SweepResult {
  enqueued: number;
  /** Due mailboxes the task does not apply to (rescheduled without work). */
  notApplicable: number;
  nextPage: boolean;
}

/** One page of the attention pass: the mailboxes in a state that stops their sync (the handler records the gauge). */
export interface AttentionPage {
  attention: { mailboxId: string; state: MailboxState }[];
  nextPage: boolean;
}

export interface MailboxWorkResult {
  task: MailboxTask;
  mailboxId: string;
  /** Changes the work found and enqueued on the changes queue. */
  enqueued: number;
  failed: boolean;
  nextDueAt: string;
  intervalSeconds?: number;
  /** Not run: the mailbox is paused (until nextDueAt) or blocked. */
  skipped?: 'paused' | 'blocked';
}

/** Processes one work message (already parsed). Failures of a mailbox's work are logged and rescheduled, not thrown. */
export async function processWork(rt: Runtime, message: WorkMessage): Promise<SweepResult | MailboxWorkResult | RetentionPage | AttentionPage | { dataverse: true; enqueued: number; errors: number }> {
  await rt.ready();
  switch (message.type) {
    case 'sweep':
      return sweep(rt, message);
    case 'mailbox':
      return mailboxWork(rt, message);
    case 'dataverse': {
      const result = await reconcileDataverse(rt);
      return { dataverse: true, enqueued: result.enqueued, errors: result.errors.length };
    }
    case 'retention':
      return retentionPage(rt, message);
    case 'attention':
      return attentionPage(rt, message);
  }
}

/**
 * One page of the mailboxes needing attention, then the next page's message. The gauge of the "mailbox needs
 * attention" alert (infra/modules/alerts.bicep) is recorded from these (1, once a minute while the state lasts) and
 * from the state changes themselves (shared/runtime.ts: 0 when a mailbox syncs again), so no run reads the whole
 * registry: a healthy tenant's pass answers with no row.
 */
async function attentionPage(rt: Runtime, message: AttentionPageMessage): Promise<AttentionPage> {
  const page = await rt.mailboxes.inStatesPage(attentionStates, { pageSize: rt.settings.SYNC_SWEEP_PAGE_SIZE, continuation: message.continuation });
  if (page.continuation) await rt.work.send([{ ...message, page: message.page + 1, continuation: page.continuation }]);
  return { attention: page.mailboxes.map((m) => ({ mailboxId: m.id, state: m.state })), nextPage: page.continuation !== undefined };
}

/** One page of the decision retention pass, then the next page's message (a page redelivered trims nothing twice). */
async function retentionPage(rt: Runtime, message: RetentionPageMessage): Promise<RetentionPage> {
  const now = rt.now();
  if (message.page === 0) await rt.cursors.set(retentionCursor.scope, retentionCursor.name, { at: now.toISOString() });
  const retention = { keep: rt.settings.SYNC_DECISIONS_KEEP, dropAfterMs: rt.settings.SYNC_DECISIONS_DROP_AFTER_DAYS * 86_400_000 };
  const result = await trimDecisionPage(rt.decisions, rt.pairs, now, retention, message.continuation);
  if (result.continuation) await rt.work.send([{ ...message, page: message.page + 1, continuation: result.continuation }]);
  return result;
}

async function sweep(rt: Runtime, message: Sweep): Promise<SweepResult> {
  const now = rt.now();
  const page = await rt.mailboxes.duePage(message.task, now, { pageSize: rt.settings.SYNC_SWEEP_PAGE_SIZE, continuation: message.continuation });
  const work: MailboxWork[] = [];
  let notApplicable = 0;
  for (const { mailbox, dueAt } of page.due) {
    if (message.task === 'pollTodo' && !isPolled(mailbox)) {
      // Not polled at all: looked at again after the longest interval (its kinds may change).
      await rt.mailboxes.markDone('pollTodo', mailbox.id, new Date(now.getTime() + rt.settings.SYNC_TODO_POLL_MAX_SECONDS * 1000));
      notApplicable += 1;
      continue;
    }
    work.push({ v: 1, type: 'mailbox', task: message.task, mailboxId: mailbox.id, dueAt: new Date(Date.parse(dueAt) || now.getTime()).toISOString(), run: message.run });
  }
  // Sent before being marked: a sweep that dies in between is delivered again and sends the same message ids, which
  // duplicate detection drops; marked first, a lost send would leave the mailboxes waiting for the time to live.
  const next: Sweep[] = page.continuation ? [{ ...message, page: message.page + 1, continuation: page.continuation }] : [];
  await rt.work.send(work);
  await rt.mailboxes.markEnqueued(message.task, work.map((w) => w.mailboxId), now, new Date(now.getTime() + outstandingMs));
  await rt.work.send(next);
  return { enqueued: work.length, notApplicable, nextPage: next.length > 0 };
}

async function mailboxWork(rt: Runtime, message: MailboxWork): Promise<MailboxWorkResult> {
  const mailbox = await rt.mailboxes.get(message.mailboxId);
  if (!mailbox || mailbox.state === 'disabled') {
    return { task: message.task, mailboxId: message.mailboxId, enqueued: 0, failed: false, nextDueAt: 'never' };
  }
  // The error policy holds for periodic work too: a paused mailbox's work waits for the end of its pause, a blocked
  // one's is skipped (looked at again at its next time, so a mailbox enabled again resumes its schedule).
  const gate = gateOf(mailbox, rt.now());
  if (gate.gate !== 'go') {
    const next = gate.gate === 'wait' ? new Date(gate.until) : nextDue(message.task, mailbox.id, rt.now(), rt.settings);
    await rt.mailboxes.markDone(message.task, mailbox.id, next);
    return { task: message.task, mailboxId: mailbox.id, enqueued: 0, failed: false, nextDueAt: next.toISOString(), skipped: gate.gate === 'wait' ? 'paused' : 'blocked' };
  }
  let enqueued = 0;
  let failed = false;
  let failure: SyncError | undefined;
  let intervalSeconds: number | undefined;
  try {
    switch (message.task) {
      case 'pollTodo': {
        const result = await pollMailboxTodo(rt, mailbox);
        enqueued = result.enqueued;
        failed = result.failed;
        failure = result.failure;
        const row = await rt.mailboxes.pollInterval(mailbox.id);
        // A poll that found changes (or failed: try again soon) goes back to the shortest interval.
        intervalSeconds = nextPollInterval(row, enqueued > 0 || failed, rt.settings);
        break;
      }
      case 'reconcile': {
        const result = await reconcileMailbox(rt, mailbox);
        enqueued = result.enqueued;
        failed = result.errors.length > 0;
        failure = result.failure;
        break;
      }
      case 'renew': {
        const result = await renewMailboxSubscriptions(rt, mailbox.id);
        failed = result.failed > 0;
        break;
      }
    }
  } catch (error) {
    failed = true;
    failure = toSyncError(error);
    rt.log.error('mailbox work failed', { task: message.task, mailboxId: mailbox.id, code: isSyncError(error) ? error.code : 'Unknown' });
  }
  await applyPolicy(rt, mailbox.id, gate.probing, failure);
  const next = nextDue(message.task, mailbox.id, rt.now(), rt.settings, intervalSeconds);
  await rt.mailboxes.markDone(message.task, mailbox.id, next, intervalSeconds);
  return { task: message.task, mailboxId: mailbox.id, enqueued, failed, nextDueAt: next.toISOString(), ...(intervalSeconds !== undefined ? { intervalSeconds } : {}) };
}

/**
 * The error policy after a mailbox's periodic work: a permanent cause blocks the mailbox; when the work was the probe
 * of a paused mailbox, success resumes it and an outage pauses it again (longer). An outage met by the work of an
 * active mailbox does not pause it: the work runs again at its next time, and changes decide pauses.
 */
async function applyPolicy(rt: Runtime, mailboxId: string, probing: boolean, failure: SyncError | undefined): Promise<void> {
  const verdict = failure ? classifyFailure(failure) : undefined;
  if (verdict?.class === 'block') return blockMailbox(rt, mailboxId, verdict.code, verdict.reason);
  if (!probing) return;
  if (!failure) return resumeMailbox(rt, mailboxId);
  if (verdict?.class === 'outage') await pauseMailbox(rt, mailboxId, `${failure.code}: ${failure.message}`);
}
