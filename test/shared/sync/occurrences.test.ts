// The decision table of a series' exceptions and cancelled occurrences (shared/sync/kinds/occurrences.ts), row by
// row: the delete rule of single appointments per cancelled occurrence, history and the window left alone, an
// exception written to the side that does not hold it, and Exchange winning when both changed one occurrence.
import { describe, expect, it } from 'vitest';
import { deletedInDataverse, fingerprintOf, planOccurrences, type OccurrenceFacts, type OccurrenceState } from '../../../shared/sync/kinds/occurrences.js';

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

  it('records a few bytes per occurrence whatever the texts (a pair base is one Table property)', () => {
    const long: OccurrenceState = { ...moved, subject: 'x'.repeat(2000) };
    expect(fingerprintOf(long)!.length).toBeLessThan(32);
  });
});
