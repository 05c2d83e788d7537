// The status report (GET /api/status and `cli status`): per mailbox its state, subscriptions and their expiry, last
// successful sync per direction, reconciliation and backfill progress; the queue backlog, dead letters and the last
// errors. No secrets (clientState is never included) and no item contents (ids, counts, codes and times only).
import { handlesEmail } from '../sync/kinds/index.js';
import type { EmailStats } from '../storage/emailStore.js';
import { backfillScope } from '../onboarding/backfill.js';
import type { Runtime } from '../runtime.js';
import { peekFromStart } from '../servicebus/peek.js';
import { changesQueue } from '../servicebus/queues.js';
import { reconcileScopes, type RecurringIgnored } from '../sync/reconcile.js';
import { deadLetterScope, type DeadLetterRecord } from '../sync/worker.js';

interface LastReconcile {
  at: string;
  enqueued: number;
  skipped: number;
  resynced: number;
  errors: string[];
}

export interface MailboxStatus {
  id: string;
  userPrincipalName: string;
  state: string;
  stateReason?: string | undefined;
  /** Paused (an outage): when the pause ends and the next change tried resumes it by itself. */
  pausedUntil?: string | undefined;
  /** Blocked (a permanent cause): its stable code (shared/sync/errorPolicy.ts), lifted by `mailbox enable`. */
  blockCode?: string | undefined;
  entities: string[];
  subscriptions: { id: string; resourceKind: string; expirationDateTime: string; expiresInHours: number }[];
  /** When a change last reached each side (recorded by the worker through recordApplied). */
  lastSync: { toExchange?: string | undefined; toDataverse?: string | undefined };
  lastReconcile?: LastReconcile | undefined;
  /** A lifecycle notification asked for a catch-up that has not completed yet. */
  catchupPending?: { reason: string; at: string } | undefined;
  backfill?: { enqueued: number; startedAt: string; completedAt?: string | undefined } | undefined;
  /** Items of recurring series (masters, occurrences, instances, exceptions) left out: series are not synced yet. */
  recurringIgnored: number;
  /** Email of a mailbox that syncs it: messages tracked, emails sent, sends refused and the last refusal's reason (ids only). */
  email?: EmailStats | undefined;
}

export interface Backlog {
  /** Messages waiting on the changes queue (active and scheduled), counted by peeking; `capped` when there are more. */
  queued: number | null;
  deadLettered: number | null;
  capped: boolean;
  method: string;
}

/** Writes the mass-delete breaker holds in one scope (mailbox, kind, direction) instead of executing them. */
export interface BreakerHoldStatus {
  mailboxId: string;
  kind: string;
  direction: string;
  /** The rule that tripped (emptySide, ratio, hardCap, ...). */
  trigger: string;
  held: number;
  since: string;
}

/** One decision of the planner with its reason, as `explain` records them. */
export interface DecisionStatus {
  at: string;
  mailboxId?: string | undefined;
  kind: string;
  direction: string;
  /** The Dataverse or Exchange id the decision was about. */
  itemId: string;
  decision: string;
  reason: string;
}

export interface StatusReport {
  generatedAt: string;
  mailboxes: MailboxStatus[];
  dataverseReconcile?: LastReconcile | undefined;
  backlog: Backlog;
  deadLetters: { count: number; recent: DeadLetterRecord[] };
  /** The most recent problems: dead-letter reasons, degraded mailboxes, reconciliation errors. */
  lastErrors: { at: string; source: string; message: string }[];
  calls: Runtime['calls'];
  /**
   * Held writes per breaker scope, once the mass-delete breaker records them; absent while this version records
   * none (the status page then shows "none").
   */
  breakerHolds?: BreakerHoldStatus[] | undefined;
  /** The planner's latest decisions with their reasons, once they are recorded for `explain`; absent until then. */
  recentDecisions?: DecisionStatus[] | undefined;
  /** The sync configuration in force (shared/settings/): its version, who wrote it, and the mailboxes with keys of their own. */
  configuration: { version: number; updatedBy?: string | undefined; at?: string | undefined; mailboxesWithOwnKeys: string[]; recent: { version: number; at: string; updatedBy: string; keys: string[] }[] };
}

const peekCap = 250;

/** Counts the queue by peeking (needs only Listen); Service Bus runtime properties would need Manage rights. */
async function backlogOf(rt: Runtime): Promise<Backlog> {
  const count = async (subQueueType?: 'deadLetter') => {
    const receiver = rt.serviceBus.createReceiver(changesQueue.name, subQueueType ? { subQueueType } : {});
    try {
      return (await peekFromStart(receiver, peekCap)).length;
    } finally {
      await receiver.close();
    }
  };
  try {
    const [queued, deadLettered] = await Promise.all([count(), count('deadLetter')]);
    return { queued, deadLettered, capped: queued >= peekCap || deadLettered >= peekCap, method: `peek (up to ${peekCap})` };
  } catch (error) {
    return { queued: null, deadLettered: null, capped: false, method: `unavailable: ${(error as Error).message}`.slice(0, 200) };
  }
}

/** Builds the status report. */
/** Every tripped breaker scope with what it holds (shared/sync/breakerGate.ts): ids and counts, no contents. */
async function breakerHoldsOf(rt: Runtime): Promise<BreakerHoldStatus[]> {
  const out: BreakerHoldStatus[] = [];
  for (const { scope, state } of await rt.breaker.store.scopes()) {
    for (const trip of [state.trip, state.createTrip]) {
      if (!trip) continue;
      const held = (await rt.breaker.store.held(scope)).filter((e) => (trip === state.trip ? e.op === 'delete' : e.op === 'create')).length;
      out.push({ mailboxId: scope.mailboxId, kind: scope.kind, direction: scope.direction, trigger: trip.trigger, held, since: trip.at });
    }
  }
  return out.sort((a, b) => b.since.localeCompare(a.since));
}

export async function buildStatus(rt: Runtime): Promise<StatusReport> {
  await rt.ready();
  const now = rt.now();
  const subscriptions = await rt.subscriptions.list();
  const dead = (await rt.cursors.list<DeadLetterRecord>(deadLetterScope)).map((d) => d.value);
  dead.sort((a, b) => b.at.localeCompare(a.at));
  const lastSync = new Map((await rt.cursors.list<{ at: string }>(reconcileScopes.lastSync)).map((c) => [c.name, c.value.at]));
  const recurring = new Map<string, number>();
  for (const row of await rt.cursors.list<RecurringIgnored>(reconcileScopes.recurring)) {
    const mailbox = row.name.split('|')[0]!;
    recurring.set(mailbox, (recurring.get(mailbox) ?? 0) + 1);
  }
  const reconciles = new Map((await rt.cursors.list<LastReconcile>(reconcileScopes.last)).map((c) => [c.name, c.value]));
  const catchups = new Map((await rt.cursors.list<{ reason: string; at: string }>(reconcileScopes.catchup)).map((c) => [c.name, c.value]));
  const backfills = new Map((await rt.cursors.list<{ enqueued: number; startedAt: string; completedAt?: string }>(backfillScope)).map((c) => [c.name, c.value]));
  // A description starts with its error code, which is most often the reason too: name it once.
  const withReason = (d: { reason: string; description: string }) => (d.description.startsWith(`${d.reason}:`) ? d.description : `${d.reason}: ${d.description}`);
  const lastErrors: StatusReport['lastErrors'] = dead.slice(0, 10).map((d) => ({ at: d.at, source: 'dead-letter', message: withReason(d).slice(0, 300) }));
  const registered = await rt.mailboxes.list();
  const emailStats = new Map<string, EmailStats>();
  for (const m of registered) if (handlesEmail(m.entities)) emailStats.set(m.id, await rt.email.getStats(m.id));
  const mailboxes: MailboxStatus[] = registered.map((m) => {
    const key = m.id.toLowerCase();
    const reconcile = reconciles.get(m.id);
    if ((m.state === 'degraded' || m.state === 'paused' || m.state === 'blocked') && m.stateReason) lastErrors.push({ at: m.updatedOn ?? now.toISOString(), source: `mailbox ${m.userPrincipalName}`, message: m.stateReason });
    for (const e of reconcile?.errors ?? []) lastErrors.push({ at: reconcile!.at, source: `reconcile ${m.userPrincipalName}`, message: e });
    const catchup = catchups.get(m.id);
    const backfill = backfills.get(m.id);
    return {
      id: m.id,
      userPrincipalName: m.userPrincipalName,
      state: m.state,
      stateReason: m.stateReason,
      ...(m.state === 'paused' && m.pausedUntil ? { pausedUntil: m.pausedUntil } : {}),
      ...(m.state === 'blocked' && m.blockCode ? { blockCode: m.blockCode } : {}),
      entities: m.entities,
      subscriptions: subscriptions
        .filter((s) => s.mailboxId === m.id)
        .map((s) => ({ id: s.id, resourceKind: s.resourceKind, expirationDateTime: s.expirationDateTime, expiresInHours: Math.round((Date.parse(s.expirationDateTime) - now.getTime()) / 360_000) / 10 })),
      lastSync: { toExchange: lastSync.get(`${key}|toExchange`), toDataverse: lastSync.get(`${key}|toDataverse`) },
      lastReconcile: reconcile,
      catchupPending: catchup ? { reason: catchup.reason, at: catchup.at } : undefined,
      backfill: backfill ? { enqueued: backfill.enqueued, startedAt: backfill.startedAt, completedAt: backfill.completedAt } : undefined,
      recurringIgnored: recurring.get(key) ?? 0,
      email: emailStats.get(m.id),
    };
  });
  const dataverseReconcile = reconciles.get('dataverse');
  for (const e of dataverseReconcile?.errors ?? []) lastErrors.push({ at: dataverseReconcile!.at, source: 'reconcile dataverse', message: e });
  lastErrors.sort((a, b) => b.at.localeCompare(a.at));
  const config = await rt.config.snapshot({ fresh: true });
  const recent = (await rt.config.history(5)).map((v) => ({ version: v.version, at: v.at, updatedBy: v.updatedBy, keys: v.changes.map((c) => `${c.scope === 'global' ? '' : `${c.scope} `}${c.key}`) }));
  return {
    generatedAt: now.toISOString(),
    mailboxes,
    dataverseReconcile,
    backlog: await backlogOf(rt),
    deadLetters: { count: dead.length, recent: dead.slice(0, 20) },
    lastErrors: lastErrors.slice(0, 20),
    calls: { ...rt.calls },
    configuration: { version: config.version, updatedBy: config.updatedBy, at: config.at, mailboxesWithOwnKeys: Object.keys(config.mailboxes).sort(), recent },
    breakerHolds: await breakerHoldsOf(rt),
  };
}
