// The decision table of a series' exceptions and cancelled occurrences (shared/sync/kinds/occurrences.ts), row by
// row: the delete rule of single appointments per cancelled occurrence, history and the window left alone, an
// exception written to the side that does not hold it, and Exchange winning when both changed one occurrence.
import { describe, expect, it } from 'vitest';
import { deletedInDataverse, fingerprintOf, planOccurrences, type OccurrenceFacts, type OccurrenceState, type OccurrenceStep } from '../../../shared/sync/kinds/occurrences.js';

const key = '2026-12-16T08:00:00Z';
const moved: OccurrenceState = { cancelled: false, start: '2026-12-16T10:00:00Z', end: '2026-12-16T11:00:00Z', subject: 'Weekly sync', location: null };
const renamed: OccurrenceState = { cancelled: false, start: key, end: '2026-12-16T09:00:00Z', subject: 'Weekly sync (renamed)', location: null };
const facts = (over: Partial<OccurrenceFacts>): OccurrenceFacts => ({
  key,
  base: undefined,
  exchange: undefined,
  dataverse: undefined,
  instanceId: 'instance-1',
  dataverseDeleted: false,
  occurrenceId: undefined,
  instanceClosed: false,
  inWindow: true,
  isPast: false,
  organizes: true,
  ...over,
});

describe('series occurrences: the decision table', () => {
  it.each([
    ['a future occurrence the organizer cancelled in Exchange: its instance is deleted', {}, ['DeleteInstance'], 'cancelled'],
    ['a past one: kept (history stays)', { isPast: true }, ['Keep'], 'cancelled'],
    ['a completed or canceled instance: kept', { instanceClosed: true }, ['Keep'], 'cancelled'],
    ['cancelled in an attendee copy: kept', { organizes: false }, ['Keep'], 'cancelled'],
    ['not expanded in Dataverse: kept', { instanceId: undefined }, ['Keep'], 'cancelled'],
    ['outside the sync window: not touched', { inWindow: false }, [], undefined],
    ['already recorded as cancelled: nothing', { base: 'cancelled' }, [], 'cancelled'],
  ])('cancelled in Exchange, %s', (_name, over, steps, recorded) => {
    const plan = planOccurrences([facts({ exchange: { cancelled: true }, ...over })]);
    expect(plan.steps.map((s) => s.type)).toEqual(steps);
    expect(plan.state[key]).toBe(recorded);
  });

  it('an exception made in Exchange is written to the instance, and recorded', () => {
    const plan = planOccurrences([facts({ exchange: moved })]);
    expect(plan.steps).toEqual([{ type: 'WriteInstance', key, instanceId: 'instance-1', state: moved }]);
    expect(plan.state[key]).toBe(fingerprintOf(moved));
  });

  it('an instance changed in Dynamics 365 by the organizer becomes an Exchange exception; an attendee copy writes nothing', () => {
    expect(planOccurrences([facts({ dataverse: renamed })]).steps).toEqual([{ type: 'WriteOccurrence', key, state: renamed }]);
    expect(planOccurrences([facts({ dataverse: renamed, organizes: false })]).steps).toEqual([]);
  });

  it('when both sides changed one occurrence, Exchange wins and is written to Dynamics 365', () => {
    const plan = planOccurrences([facts({ base: fingerprintOf(renamed), exchange: moved, dataverse: { ...renamed, subject: 'other' } })]);
    expect(plan.steps.map((s) => s.type)).toEqual(['WriteInstance']);
    expect(plan.state[key]).toBe(fingerprintOf(moved));
  });

  it('a synced exception that both sides hold is left alone, and one gone on both sides is forgotten', () => {
    expect(planOccurrences([facts({ base: fingerprintOf(moved), exchange: moved, dataverse: moved })])).toEqual({ steps: [], state: { [key]: fingerprintOf(moved) } });
    expect(planOccurrences([facts({ base: fingerprintOf(moved) })])).toEqual({ steps: [], state: {} });
  });

  it.each([
    ['a future occurrence the organizer deleted in Dynamics 365: the Exchange occurrence is deleted', {}, ['DeleteOccurrence'], 'cancelled'],
    ['a past one: kept in Exchange (history stays)', { isPast: true }, ['Keep'], deletedInDataverse],
    ['deleted by an attendee: kept in Exchange', { organizes: false }, ['Keep'], deletedInDataverse],
    ['outside the sync window: not touched', { inWindow: false }, [], undefined],
  ])('deleted in Dynamics 365, %s', (_name, over, steps, recorded) => {
    const plan = planOccurrences([facts({ instanceId: undefined, dataverseDeleted: true, occurrenceId: 'occurrence-1', ...over })]);
    expect(plan.steps.map((s) => s.type)).toEqual(steps);
    expect(plan.state[key]).toBe(recorded);
  });

  it('an occurrence recorded as deleted in Dynamics 365 and kept in Exchange stays recorded (it is not deleted on a later pass)', () => {
    expect(planOccurrences([facts({ instanceId: undefined, base: deletedInDataverse })])).toEqual({ steps: [], state: { [key]: deletedInDataverse } });
    expect(planOccurrences([facts({ instanceId: undefined, base: deletedInDataverse, dataverseDeleted: true, occurrenceId: 'occurrence-1' })]).steps).toEqual([]);
  });

  it('a cancelled occurrence is recorded as the fingerprint of a cancellation, which no exception has', () => {
    const plan = planOccurrences([facts({ exchange: { cancelled: true } })]);
    expect(plan.state[key]).toBe(fingerprintOf({ cancelled: true }));
    expect(fingerprintOf({ cancelled: true })).not.toBe(fingerprintOf(moved));
  });

  it('a change the other side already holds is recorded without writing it again (no echo write)', () => {
    expect(planOccurrences([facts({ exchange: moved, dataverse: moved })])).toEqual({ steps: [], state: { [key]: fingerprintOf(moved) } });
  });

  it('an exception changed in Dynamics 365 only is written to Exchange: the unchanged Exchange copy does not win', () => {
    const plan = planOccurrences([facts({ base: fingerprintOf(moved), exchange: moved, dataverse: renamed })]);
    expect(plan).toEqual({ steps: [{ type: 'WriteOccurrence', key, state: renamed }], state: { [key]: fingerprintOf(renamed) } });
  });

  // README "A pattern change drops the exceptions on both sides": the sync does not send one side's leftover back.
  it('an exception one side dropped while the other still holds it unchanged is not sent back, and stays recorded until both dropped it', () => {
    const recorded = fingerprintOf(moved);
    expect(planOccurrences([facts({ base: recorded, dataverse: moved })])).toEqual({ steps: [], state: { [key]: recorded } });
    expect(planOccurrences([facts({ base: recorded, exchange: moved })])).toEqual({ steps: [], state: { [key]: recorded } });
  });

  it('an exception made in Exchange before Dynamics 365 expanded its instance waits: nothing recorded, so it is written once the instance exists', () => {
    expect(planOccurrences([facts({ exchange: moved, instanceId: undefined })])).toEqual({ steps: [{ type: 'Keep', key, reason: 'not expanded in Dataverse' }], state: {} });
    expect(planOccurrences([facts({ exchange: moved })]).steps).toEqual([{ type: 'WriteInstance', key, instanceId: 'instance-1', state: moved }]);
  });

  it('a past occurrence cancelled in Exchange and kept in Dynamics 365, edited there later, is not written to Exchange (it is gone there)', () => {
    expect(planOccurrences([facts({ base: 'cancelled', exchange: { cancelled: true }, dataverse: renamed, isPast: true })])).toEqual({ steps: [], state: { [key]: 'cancelled' } });
  });

  it('an occurrence recorded as deleted in Dynamics 365 is forgotten once Dynamics 365 holds its instance again, and recorded as cancelled once Exchange cancels it too', () => {
    expect(planOccurrences([facts({ base: deletedInDataverse })])).toEqual({ steps: [], state: {} });
    expect(planOccurrences([facts({ instanceId: undefined, base: deletedInDataverse, exchange: { cancelled: true } })]).state[key]).toBe('cancelled');
  });

  it('deletes an Exchange occurrence only when Dynamics 365 deleted it, and never without its id', () => {
    // An id is only the handle to delete with: an occurrence Dynamics 365 still holds is no delete.
    expect(planOccurrences([facts({ occurrenceId: 'occurrence-1' })]).steps).toEqual([]);
    expect(planOccurrences([facts({ instanceId: undefined, dataverseDeleted: true })]).steps.map((s) => s.type)).not.toContain('DeleteOccurrence');
  });

  // The reason goes to the log line of the step and, for a delete, to the breaker's held deletes that the CLI lists.
  const deleted: Partial<OccurrenceFacts> = { instanceId: undefined, dataverseDeleted: true, occurrenceId: 'occurrence-1' };
  it.each<[string, Partial<OccurrenceFacts>, OccurrenceStep]>([
    ['cancelled in Exchange by the organizer', { exchange: { cancelled: true } }, { type: 'DeleteInstance', key, instanceId: 'instance-1', reason: 'organizer cancelled a future occurrence' }],
    ['cancelled in Exchange, in the past', { exchange: { cancelled: true }, isPast: true }, { type: 'Keep', key, reason: 'in the past' }],
    ['cancelled in Exchange, closed in Dynamics 365', { exchange: { cancelled: true }, instanceClosed: true }, { type: 'Keep', key, reason: 'completed or canceled' }],
    ['cancelled in an attendee copy', { exchange: { cancelled: true }, organizes: false }, { type: 'Keep', key, reason: 'not the organizer' }],
    ['cancelled in Exchange, past and not expanded', { exchange: { cancelled: true }, instanceId: undefined, isPast: true }, { type: 'Keep', key, reason: 'not expanded in Dataverse' }],
    ['deleted in Dynamics 365 by the organizer', deleted, { type: 'DeleteOccurrence', key, occurrenceId: 'occurrence-1', reason: 'organizer deleted a future instance' }],
    ['deleted in Dynamics 365, in the past', { ...deleted, isPast: true }, { type: 'Keep', key, reason: 'in the past' }],
    ['deleted in Dynamics 365 by an attendee', { ...deleted, organizes: false }, { type: 'Keep', key, reason: 'not the organizer' }],
  ])('%s: the step says why', (_name, over, step) => {
    expect(planOccurrences([facts(over)]).steps).toEqual([step]);
  });

  it('plans the occurrences in original-start order, whatever order they come in', () => {
    const at = (day: number) => `2026-12-${day}T08:00:00Z`;
    const plan = planOccurrences([16, 17, 15].map((day) => facts({ key: at(day), exchange: { cancelled: true } })));
    expect(plan.steps.map((s) => s.key)).toEqual([at(15), at(16), at(17)]);
  });

  it('records a few bytes per occurrence whatever the texts (a pair base is one Table property)', () => {
    const long: OccurrenceState = { ...moved, subject: 'x'.repeat(2000) };
    expect(fingerprintOf(long)!.length).toBeLessThan(32);
  });
});
