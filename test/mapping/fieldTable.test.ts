// The field-table machinery every kind's mapping shares (shared/mapping/fieldTable.ts): which rows write to which
// side, what a body leaves out, and the equality that decides whether a field changed. The kinds' own tests reach
// these through real rows, where a wrong direction or a lax equality would hide behind rows that happen to agree;
// here a small table of plain records makes each rule stand alone.
import { describe, expect, it } from 'vitest';
import { SyncError } from '../../shared/errors.js';
import { canonicalEqual, writeBody, writesToDataverse, writesToExchange, type FieldTable } from '../../shared/mapping/fieldTable.js';
import { ctxAt } from './fixtures.js';

type Dv = { subject?: string | null; owner?: string; note?: string };
type Ex = { title?: string | null; ownerName?: string; remark?: string };
type Snap = { subject: string | null; owner: string; note: string };

const table: FieldTable<Snap, Dv, Ex> = [
  {
    name: 'subject',
    dataverse: ['subject'],
    graph: ['title'],
    direction: 'Both',
    conversion: { toExchange: 'as is', toDataverse: 'as is' },
    fromDataverse: (r) => r.subject ?? null,
    fromExchange: (i) => i.title ?? null,
    toExchange: (v) => ({ title: v }),
    toDataverse: (v) => ({ subject: v }),
  },
  {
    name: 'owner',
    dataverse: ['owner'],
    graph: ['ownerName'],
    direction: 'ToDataverse',
    conversion: { toExchange: 'not written', toDataverse: 'as is' },
    fromDataverse: (r) => r.owner ?? '',
    fromExchange: (i) => i.ownerName ?? '',
    toExchange: (v) => ({ ownerName: v }),
    toDataverse: (v) => ({ owner: v }),
  },
  {
    name: 'note',
    dataverse: ['note'],
    graph: ['remark'],
    direction: 'ToExchange',
    conversion: { toExchange: 'as is', toDataverse: 'not written' },
    fromDataverse: (r) => r.note ?? '',
    fromExchange: (i) => i.remark ?? '',
    toExchange: (v) => ({ remark: v }),
    toDataverse: (v) => ({ note: v }),
  },
  { name: 'color', dataverse: ['colorcode'], graph: ['color'], direction: 'None', conversion: { toExchange: 'not synced', toDataverse: 'not synced' } },
];
const ctx = ctxAt('2026-12-08T09:00:00Z');

describe('field directions', () => {
  it.each([
    ['Both', true, true],
    ['ToExchange', true, false],
    ['ToDataverse', false, true],
    ['None', false, false],
  ] as const)('%s writes to Exchange: %s, to Dataverse: %s', (direction, exchange, dataverse) => {
    expect(writesToExchange(direction)).toBe(exchange);
    expect(writesToDataverse(direction)).toBe(dataverse);
  });
});

describe('writeBody', () => {
  const all: Snap = { subject: 'Review', owner: 'Dana', note: 'bring slides' };

  it('writes to each side only the rows whose direction writes there', () => {
    expect(writeBody(table, 'exchange', all, ctx, undefined, 'test table')).toEqual({ title: 'Review', remark: 'bring slides' });
    expect(writeBody(table, 'dataverse', all, ctx, undefined, 'test table')).toEqual({ subject: 'Review', owner: 'Dana' });
  });

  it('leaves out a field given as undefined (not even as an undefined property), but writes a null one', () => {
    const body = writeBody(table, 'exchange', { subject: undefined, note: 'x' }, ctx, undefined, 'test table');
    expect(Object.keys(body)).toEqual(['remark']);
    expect(writeBody(table, 'exchange', { subject: null }, ctx, undefined, 'test table')).toEqual({ title: null });
  });

  it('skips a documented unsynced row, and refuses a name the table does not have', () => {
    // The unsynced row is not the first row, so a lookup that only matched when every row had the name would fail.
    expect(writeBody(table, 'exchange', { color: 'red' } as Partial<Snap>, ctx, undefined, 'test table')).toEqual({});
    const refused = (() => {
      try {
        writeBody(table, 'dataverse', { colour: 'red' } as Partial<Snap>, ctx, undefined, 'test table');
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(refused).toBeInstanceOf(SyncError);
    expect(refused).toMatchObject({ code: 'Internal', field: 'colour', message: 'test table has no field "colour"' });
  });

  it('with the current item, writes only the fields whose value it does not hold yet', () => {
    const current: Ex = { title: 'Review', remark: 'old' };
    expect(writeBody(table, 'exchange', all, ctx, current, 'test table')).toEqual({ remark: 'bring slides' });
  });
});

describe('canonicalEqual', () => {
  it.each([
    ['equal arrays', [1, 'a', null], [1, 'a', null]],
    ['equal nested arrays', [[1], { a: [2] }], [[1], { a: [2] }]],
    ['objects with keys in another order', { a: 1, b: { c: 'x' } }, { b: { c: 'x' }, a: 1 }],
  ])('%s are equal', (_, a, b) => {
    expect(canonicalEqual(a, b)).toBe(true);
    expect(canonicalEqual(b, a)).toBe(true);
  });

  it.each([
    ['an empty array and an empty object', [], {}],
    ['an array and an object with its indexes as keys', ['x'], { 0: 'x' }],
    ['arrays that differ in one element only', [1, 2, 3], [1, 2, 4]],
    ['arrays of different lengths', [1, 2], [1, 2, 3]],
    ['an object and one with an extra key', { a: 1 }, { a: 1, b: 2 }],
    ['objects with different keys of the same value', { a: undefined }, { b: undefined }],
    ['objects that differ in a nested value', { a: { b: 1 } }, { a: { b: 2 } }],
    ['null and an empty object', null, {}],
    ['a number and its text', 1, '1'],
  ])('%s are not equal', (_, a, b) => {
    expect(canonicalEqual(a, b)).toBe(false);
    expect(canonicalEqual(b, a)).toBe(false);
  });
});
