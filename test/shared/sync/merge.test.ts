import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { mergeSnapshots, type Direction } from '../../../shared/sync/merge.js';

const directions: Record<string, Direction> = { subject: 'Both', location: 'Both', reminder: 'ToExchange', categories: 'ToDataverse', internal: 'None' };
const base = { subject: 'A', location: 'Room 1', reminder: true, categories: ['x'], internal: 1 };

describe('three-way merge', () => {
  it('a field changed only in Dataverse flows to Exchange', () => {
    const r = mergeSnapshots({ directions, base, dataverse: { ...base, subject: 'B' }, exchange: base, policy: 'lastModifiedWins' });
    expect(r.toExchange).toEqual({ subject: 'B' });
    expect(r.toDataverse).toEqual({});
    expect(r.conflicts).toEqual([]);
  });

  it('a field changed only in Exchange flows to Dataverse', () => {
    const r = mergeSnapshots({ directions, base, dataverse: base, exchange: { ...base, location: 'Room 2' }, policy: 'lastModifiedWins' });
    expect(r.toDataverse).toEqual({ location: 'Room 2' });
    expect(r.toExchange).toEqual({});
  });

  it('different fields changed on each side merge without conflict', () => {
    const r = mergeSnapshots({ directions, base, dataverse: { ...base, subject: 'B' }, exchange: { ...base, location: 'Room 2' }, policy: 'lastModifiedWins' });
    expect(r.toExchange).toEqual({ subject: 'B' });
    expect(r.toDataverse).toEqual({ location: 'Room 2' });
    expect(r.merged).toMatchObject({ subject: 'B', location: 'Room 2' });
  });

  it('the same field changed on both sides: the later modification wins by default, and the conflict is reported with both timestamps', () => {
    const r = mergeSnapshots({
      directions, base,
      dataverse: { ...base, subject: 'From D365' },
      exchange: { ...base, subject: 'From Outlook' },
      policy: 'lastModifiedWins',
      dataverseModifiedOn: '2026-05-01T10:00:00Z',
      exchangeModifiedOn: '2026-05-01T10:00:05Z',
    });
    expect(r.toDataverse).toEqual({ subject: 'From Outlook' });
    expect(r.conflicts).toEqual([
      { field: 'subject', dataverseValue: 'From D365', exchangeValue: 'From Outlook', dataverseModifiedOn: '2026-05-01T10:00:00Z', exchangeModifiedOn: '2026-05-01T10:00:05Z', winner: 'exchange' },
    ]);
  });

  it('the conflict policy can make one side always win', () => {
    const input = { directions, base, dataverse: { ...base, subject: 'D' }, exchange: { ...base, subject: 'E' }, dataverseModifiedOn: '2026-01-01T00:00:00Z', exchangeModifiedOn: '2026-02-01T00:00:00Z' };
    expect(mergeSnapshots({ ...input, policy: 'dataverseWins' }).toExchange).toEqual({ subject: 'D' });
    expect(mergeSnapshots({ ...input, policy: 'exchangeWins' }).toDataverse).toEqual({ subject: 'E' });
  });

  it('one-direction fields never flow backwards, and None fields never flow', () => {
    const r = mergeSnapshots({ directions, base, dataverse: { ...base, categories: ['y'], internal: 2 }, exchange: { ...base, reminder: false, internal: 3 }, policy: 'lastModifiedWins' });
    expect(r.toExchange).toEqual({});
    expect(r.toDataverse).toEqual({});
  });

  it('a one-direction field flows its way: ToExchange from Dataverse, ToDataverse from Exchange', () => {
    const r = mergeSnapshots({ directions, base, dataverse: { ...base, reminder: false }, exchange: { ...base, categories: ['y'] }, policy: 'lastModifiedWins' });
    expect(r.toExchange).toEqual({ reminder: false });
    expect(r.toDataverse).toEqual({ categories: ['y'] });
    expect(r.merged).toMatchObject({ reminder: false, categories: ['y'] });
  });

  it('a one-direction field changed on the side that does not own it: nothing flows, and the base keeps the owner\'s value', () => {
    const r = mergeSnapshots({ directions, base, dataverse: { ...base, categories: ['y'] }, exchange: { ...base, reminder: false }, policy: 'lastModifiedWins' });
    expect(r.toExchange).toEqual({});
    expect(r.toDataverse).toEqual({});
    // categories belong to Exchange (ToDataverse), the reminder to Dataverse (ToExchange).
    expect(r.merged).toEqual({ subject: 'A', location: 'Room 1', reminder: true, categories: ['x'] });
  });

  it('a None field is left out of the new base', () => {
    const r = mergeSnapshots({ directions, base, dataverse: { ...base, internal: 2 }, exchange: base, policy: 'lastModifiedWins' });
    expect(r.merged).not.toHaveProperty('internal');
  });

  it('a one-direction field changed on both sides: its source wins whatever the policy', () => {
    const input = { directions, base, dataverse: { ...base, reminder: false, categories: ['d'] }, exchange: { ...base, reminder: 'x', categories: ['e'] } };
    const exWins = mergeSnapshots({ ...input, policy: 'exchangeWins' });
    expect(exWins.toExchange).toEqual({ reminder: false });
    const dvWins = mergeSnapshots({ ...input, policy: 'dataverseWins' });
    expect(dvWins.toDataverse).toEqual({ categories: ['e'] });
    expect(dvWins.conflicts.map((c) => [c.field, c.winner])).toEqual([['reminder', 'dataverse'], ['categories', 'exchange']]);
  });

  it('lastModifiedWins: the later side wins either way, a tie goes to Dataverse, and a side without a timestamp loses', () => {
    const input = { directions: { subject: 'Both' as Direction }, base: { subject: 'A' }, dataverse: { subject: 'D' }, exchange: { subject: 'E' }, policy: 'lastModifiedWins' as const };
    const winner = (dataverseModifiedOn: string | undefined, exchangeModifiedOn: string | undefined) =>
      mergeSnapshots({ ...input, dataverseModifiedOn, exchangeModifiedOn }).conflicts[0]?.winner;
    expect(winner('2026-05-01T10:00:05Z', '2026-05-01T10:00:00Z')).toBe('dataverse');
    expect(winner('2026-05-01T10:00:00Z', '2026-05-01T10:00:05Z')).toBe('exchange');
    expect(winner('2026-05-01T10:00:00Z', '2026-05-01T10:00:00Z')).toBe('dataverse');
    expect(winner(undefined, '2026-05-01T10:00:00Z')).toBe('exchange');
    expect(winner('2026-05-01T10:00:00Z', undefined)).toBe('dataverse');
    expect(winner('not a date', 'not a date')).toBe('dataverse');
  });

  it('exchangeWins holds even when Dataverse changed later', () => {
    const r = mergeSnapshots({ directions, base, dataverse: { ...base, subject: 'D' }, exchange: { ...base, subject: 'E' }, policy: 'exchangeWins', dataverseModifiedOn: '2026-03-01T00:00:00Z', exchangeModifiedOn: '2026-02-01T00:00:00Z' });
    expect(r.toDataverse).toEqual({ subject: 'E' });
    expect(r.toExchange).toEqual({});
  });

  it('with no base yet (a first link), differing values are settled by the policy but not reported as a conflict', () => {
    const r = mergeSnapshots({ directions, base: {}, dataverse: { subject: 'D' }, exchange: { subject: 'E' }, policy: 'dataverseWins' });
    expect(r.toExchange).toEqual({ subject: 'D' });
    expect(r.conflicts).toEqual([]);
  });

  it('property: merging is idempotent -- writing the result and merging again changes nothing', () => {
    const value = fc.oneof(fc.constant('A'), fc.constant('B'), fc.constant('C'));
    fc.assert(
      fc.property(value, value, value, fc.constantFrom('lastModifiedWins', 'dataverseWins', 'exchangeWins') as fc.Arbitrary<'lastModifiedWins'>, (b, d, e, policy) => {
        const dirs: Record<string, Direction> = { f: 'Both' };
        const first = mergeSnapshots({ directions: dirs, base: { f: b }, dataverse: { f: d }, exchange: { f: e }, policy, dataverseModifiedOn: '2026-01-01T00:00:00Z', exchangeModifiedOn: '2026-01-02T00:00:00Z' });
        const dv2 = { f: first.toDataverse.f ?? d };
        const ex2 = { f: first.toExchange.f ?? e };
        expect(dv2).toEqual(ex2);
        const second = mergeSnapshots({ directions: dirs, base: first.merged, dataverse: dv2, exchange: ex2, policy });
        expect(second.toDataverse).toEqual({});
        expect(second.toExchange).toEqual({});
      }),
      { seed: 20261126, numRuns: 200 },
    );
  });
});
