// The exceptions and cancelled occurrences of a paired series: a pure decision table over each occurrence's three
// states (last synced, Exchange now, Dataverse now), keyed by the original start in UTC, never by an occurrence id
// or an iCalUId (Graph occurrence ids change when a series moves, and iCalUId is "different for each occurrence" on
// the v1.0 event page; Dataverse instance ids are the platform's). Plain occurrences are never stored: both sides derive them from the pattern.
// Rules: the delete rule of single appointments (organizer, future, not completed or canceled,
// https://learn.microsoft.com/power-platform/admin/sync-logic "apply to exceptionAppointments as well"), both ways,
// past history kept, only occurrences inside the sync window touched.
import { createHash } from 'node:crypto';

/** One occurrence as the sync compares it: cancelled, or an exception's own schedule and texts. */
export type OccurrenceState =
  | { cancelled: true }
  | { cancelled: false; start: string; end: string; subject: string | null; location: string | null };

/**
 * The recorded form of a state: a fingerprint, so the pair keeps a few bytes per exception whatever its texts
 * (a pair's base is one Table property of at most 64 KiB).
 */
export function fingerprintOf(state: OccurrenceState | undefined): string | undefined {
  if (state === undefined) return undefined;
  if (state.cancelled) return 'cancelled';
  return `x:${createHash('sha256').update(JSON.stringify(state)).digest('base64url').slice(0, 22)}`;
}

/** What the table reads for one original start. */
export interface OccurrenceFacts {
  /** Original start, ISO UTC to the second. */
  key: string;
  /** The fingerprint recorded at the last sync. */
  base: string | undefined;
  /** Exchange: an exception or a cancellation of the master; undefined for a plain occurrence. */
  exchange: OccurrenceState | undefined;
  /** Dataverse: an exception instance (instancetypecode 3); undefined for a plain or an absent instance. */
  dataverse: OccurrenceState | undefined;
  /** The Dataverse instance of this original start, when the platform expanded it. */
  instanceId: string | undefined;
  /**
   * Dataverse lost the instance: the series' list of deleted instances changed since the last pass, Exchange still
   * lists the occurrence, and Dataverse had expanded the series that far.
   */
  dataverseDeleted: boolean;
  /** The Exchange occurrence's id, when this pass listed the occurrences (only to delete it; never a key). */
  occurrenceId: string | undefined;
  instanceClosed: boolean;
  inWindow: boolean;
  isPast: boolean;
  /** The syncing user organizes the series, and the pair is not an attendee's mirror. */
  organizes: boolean;
}

export type OccurrenceStep =
  | { type: 'DeleteInstance'; key: string; instanceId: string; reason: string }
  | { type: 'DeleteOccurrence'; key: string; occurrenceId: string; reason: string }
  | { type: 'WriteInstance'; key: string; instanceId: string; state: Extract<OccurrenceState, { cancelled: false }> }
  | { type: 'WriteOccurrence'; key: string; state: Extract<OccurrenceState, { cancelled: false }> }
  | { type: 'Keep'; key: string; reason: string };

/** Recorded for an occurrence deleted in Dynamics 365 that Exchange keeps (past, or the user does not organize it). */
export const deletedInDataverse = 'deleted-in-dataverse';

const same = (a: OccurrenceState | undefined, b: OccurrenceState | undefined) => fingerprintOf(a) === fingerprintOf(b);
const newlyCancelled = (f: OccurrenceFacts) => f.exchange?.cancelled === true && f.base !== 'cancelled';
const changedInExchange = (f: OccurrenceFacts) => f.exchange !== undefined && !f.exchange.cancelled && fingerprintOf(f.exchange) !== f.base;
const changedInDataverse = (f: OccurrenceFacts) => f.dataverse !== undefined && !f.dataverse.cancelled && fingerprintOf(f.dataverse) !== f.base;

interface Row {
  /** The rule, for the README and the tests. */
  when: string;
  test(f: OccurrenceFacts): boolean;
  steps(f: OccurrenceFacts): OccurrenceStep[];
  /** The state recorded for this original start afterwards (undefined: nothing recorded). */
  next(f: OccurrenceFacts): OccurrenceState | string | undefined;
}

/** The decision table, first matching row wins. Exchange wins when both sides changed one occurrence. */
export const occurrenceRows: readonly Row[] = [
  { when: 'outside the sync window: not touched', test: (f) => !f.inWindow, steps: () => [], next: (f) => f.base },
  {
    when: 'recorded as deleted in Dynamics 365 and kept in Exchange, still so: nothing to do',
    test: (f) => f.base === deletedInDataverse && f.instanceId === undefined && f.exchange === undefined,
    steps: () => [],
    next: (f) => f.base,
  },
  {
    when: 'deleted in Dynamics 365; the organizer, a future occurrence: the Exchange occurrence is deleted (Exchange sends the attendees a cancellation)',
    test: (f) => f.dataverseDeleted && f.occurrenceId !== undefined && f.organizes && !f.isPast,
    steps: (f) => [{ type: 'DeleteOccurrence', key: f.key, occurrenceId: f.occurrenceId!, reason: 'organizer deleted a future instance' }],
    next: () => 'cancelled',
  },
  {
    when: 'deleted in Dynamics 365 otherwise (past, not the organizer): kept in Exchange, recorded',
    test: (f) => f.dataverseDeleted,
    steps: (f) => [{ type: 'Keep', key: f.key, reason: f.isPast ? 'in the past' : 'not the organizer' }],
    next: () => deletedInDataverse,
  },
  {
    when: 'cancelled in Exchange; the organizer, a future open instance: the instance is deleted',
    test: (f) => newlyCancelled(f) && f.instanceId !== undefined && f.organizes && !f.isPast && !f.instanceClosed,
    steps: (f) => [{ type: 'DeleteInstance', key: f.key, instanceId: f.instanceId!, reason: 'organizer cancelled a future occurrence' }],
    next: () => 'cancelled',
  },
  {
    when: 'cancelled in Exchange otherwise (past, completed or canceled, not the organizer, not expanded): kept in Dynamics 365',
    test: newlyCancelled,
    steps: (f) => [{ type: 'Keep', key: f.key, reason: f.instanceId === undefined ? 'not expanded in Dataverse' : f.isPast ? 'in the past' : f.instanceClosed ? 'completed or canceled' : 'not the organizer' }],
    next: () => 'cancelled',
  },
  {
    when: 'changed in Exchange: written to the Dataverse instance',
    test: (f) => changedInExchange(f) && f.instanceId !== undefined,
    steps: (f) => (same(f.exchange, f.dataverse) ? [] : [{ type: 'WriteInstance', key: f.key, instanceId: f.instanceId!, state: f.exchange as Extract<OccurrenceState, { cancelled: false }> }]),
    next: (f) => f.exchange,
  },
  {
    when: 'changed in Exchange, not expanded in Dataverse: recorded, written when the instance exists',
    test: changedInExchange,
    steps: (f) => [{ type: 'Keep', key: f.key, reason: 'not expanded in Dataverse' }],
    next: (f) => f.base,
  },
  {
    when: "changed in Dynamics 365, by the series' organizer: written to the Exchange occurrence (it becomes an exception)",
    test: (f) => changedInDataverse(f) && f.organizes && f.exchange?.cancelled !== true,
    steps: (f) => (same(f.dataverse, f.exchange) ? [] : [{ type: 'WriteOccurrence', key: f.key, state: f.dataverse as Extract<OccurrenceState, { cancelled: false }> }]),
    next: (f) => f.dataverse,
  },
  { when: 'no longer an exception on either side: forgotten', test: (f) => f.exchange === undefined && f.dataverse === undefined, steps: () => [], next: () => undefined },
  { when: 'otherwise: nothing to do', test: () => true, steps: () => [], next: (f) => f.base },
];

/** The steps for a series' occurrences and the state to record, in original-start order. */
export function planOccurrences(facts: readonly OccurrenceFacts[]): { steps: OccurrenceStep[]; state: Record<string, string> } {
  const steps: OccurrenceStep[] = [];
  const state: Record<string, string> = {};
  for (const f of [...facts].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))) {
    const row = occurrenceRows.find((r) => r.test(f))!;
    steps.push(...row.steps(f));
    const next = row.next(f);
    const recorded = typeof next === 'string' ? next : fingerprintOf(next);
    if (recorded !== undefined) state[f.key] = recorded;
  }
  return { steps, state };
}
