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
