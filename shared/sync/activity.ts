// "Reset on any change from either side" of adaptive To Do polling (shared/sync/schedule.ts): a mailbox that had a
// change synced, Exchange -> Dynamics 365 or back, is an active mailbox, so its To Do poll returns to the shortest
// interval. One table read (and at most one write) per mailbox per 30 s per instance, whatever the burst.
import type { Runtime } from '../runtime.js';
import type { Outcome } from './execute.js';

/** Outcomes that wrote one side: the user (or Dynamics 365 on their behalf) is working in this mailbox. */
const writes = new Set<Outcome['kind']>(['created', 'updated', 'deleted', 'linked', 'unlinked']);
const everyMs = 30_000;
/** Bounded: forgotten wholesale past this many mailboxes (a forgotten one costs one more read, nothing else). */
const maxRemembered = 10_000;
const noted = new WeakMap<Runtime, Map<string, number>>();

/** Notes the mailboxes these outcomes wrote in as active. Never fails the change. */
export async function noteActivity(rt: Runtime, outcomes: readonly Outcome[]): Promise<void> {
  if (rt.settings.SYNC_TODO_POLL_MAX_SECONDS <= rt.settings.SYNC_TODO_POLL_MIN_SECONDS) return;
  const seen = noted.get(rt) ?? new Map<string, number>();
  noted.set(rt, seen);
  const now = rt.now();
  for (const id of new Set(outcomes.filter((o) => o.mailboxId && writes.has(o.kind)).map((o) => o.mailboxId!.toLowerCase()))) {
    if (now.getTime() - (seen.get(id) ?? -Infinity) < everyMs) continue;
    if (seen.size >= maxRemembered) seen.clear();
    seen.set(id, now.getTime());
    await rt.mailboxes.noteActivity(id, now, rt.settings.SYNC_TODO_POLL_MIN_SECONDS).catch((error: unknown) => rt.log.warn('could not note mailbox activity', { mailboxId: id, error: (error as Error).message }));
  }
}
