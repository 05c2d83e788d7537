// Property test of the simulator's $filter parser and evaluator against a direct reference evaluation.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { matches, parseFilter } from '../../../dev/sim/dataverse/odata.js';
import { entityBySet } from '../../../dev/sim/dataverse/schema.js';
import type { Row } from '../../../dev/sim/dataverse/store.js';

type Field = 'prioritycode' | 'scheduledstart' | 'subject';
type Op = 'eq' | 'ne' | 'gt' | 'ge' | 'lt' | 'le';
type Expr = { k: 'cmp'; field: Field; op: Op; value: number | string | null } | { k: 'and' | 'or'; l: Expr; r: Expr } | { k: 'not'; e: Expr };

const DATES = ['2030-01-01T00:00:00Z', '2030-01-01T12:30:00Z', '2030-06-15T08:00:00Z', '2031-02-28T23:59:59Z'];
const SUBJECTS = ['alpha', 'Alpha', 'beta', "o'neil", 'Gamma'];

const rowArb = fc.record({
  prioritycode: fc.option(fc.constantFrom(0, 1, 2), { nil: null }),
  scheduledstart: fc.option(fc.constantFrom(...DATES), { nil: null }),
  subject: fc.option(fc.constantFrom(...SUBJECTS), { nil: null }),
});

const leaf: fc.Arbitrary<Expr> = fc.oneof(
  fc.record({ k: fc.constant('cmp' as const), field: fc.constant('prioritycode' as const), op: fc.constantFrom<Op>('eq', 'ne', 'gt', 'ge', 'lt', 'le'), value: fc.oneof(fc.constantFrom(0, 1, 2), fc.constant(null)) }),
  fc.record({ k: fc.constant('cmp' as const), field: fc.constant('scheduledstart' as const), op: fc.constantFrom<Op>('eq', 'ne', 'gt', 'ge', 'lt', 'le'), value: fc.oneof(fc.constantFrom(...DATES), fc.constant(null)) }),
  fc.record({ k: fc.constant('cmp' as const), field: fc.constant('subject' as const), op: fc.constantFrom<Op>('eq', 'ne', 'gt', 'lt'), value: fc.oneof(fc.constantFrom(...SUBJECTS), fc.constant(null)) }),
);
const exprArb: fc.Arbitrary<Expr> = fc.letrec<{ e: Expr }>((tie) => ({
  e: fc.oneof(
    { maxDepth: 3, depthSize: 'small' },
    leaf,
    fc.record({ k: fc.constantFrom('and' as const, 'or' as const), l: tie('e'), r: tie('e') }),
    fc.record({ k: fc.constant('not' as const), e: tie('e') }),
  ),
})).e;

function print(e: Expr): string {
  if (e.k === 'not') return `not (${print(e.e)})`;
  if (e.k !== 'cmp') return `(${print(e.l)}) ${e.k} (${print(e.r)})`;
  const v = e.value === null ? 'null' : e.field === 'subject' ? `'${String(e.value).replace(/'/g, "''")}'` : String(e.value);
  return `${e.field} ${e.op} ${v}`;
}

/** The documented semantics, written directly: null only equals null; strings compare case-insensitively. */
function reference(e: Expr, row: Record<Field, number | string | null>): boolean {
  if (e.k === 'not') return !reference(e.e, row);
  if (e.k !== 'cmp') return e.k === 'and' ? reference(e.l, row) && reference(e.r, row) : reference(e.l, row) || reference(e.r, row);
  const a = row[e.field];
  const b = e.value;
  if (a === null || b === null) return e.op === 'eq' ? a === b : e.op === 'ne' ? a !== b : false;
  const x = e.field === 'scheduledstart' ? Date.parse(String(a)) : e.field === 'subject' ? String(a).toLowerCase() : a;
  const y = e.field === 'scheduledstart' ? Date.parse(String(b)) : e.field === 'subject' ? String(b).toLowerCase() : b;
  switch (e.op) {
    case 'eq':
      return x === y;
    case 'ne':
      return x !== y;
    case 'gt':
      return x > y;
    case 'ge':
      return x >= y;
    case 'lt':
      return x < y;
    case 'le':
      return x <= y;
  }
  return false;
}

describe('simulator $filter', () => {
  const def = entityBySet.get('tasks')!;
  const ctx = { parties: () => [] };

  it('evaluates printed expressions (precedence, parentheses, null, datetimes, case-insensitive strings) like the reference', () => {
    fc.assert(
      fc.property(exprArb, fc.array(rowArb, { minLength: 1, maxLength: 8 }), (expr, rows) => {
        const node = parseFilter(def, print(expr));
        for (const row of rows) expect(matches(node, row as unknown as Row, ctx)).toBe(reference(expr, row));
      }),
      { seed: 20261126, numRuns: 300 },
    );
  });

  it('binds and tighter than or without parentheses', () => {
    const node = parseFilter(def, 'prioritycode eq 0 or prioritycode eq 1 and subject eq null');
    expect(matches(node, { prioritycode: 0, subject: 'x' }, ctx)).toBe(true);
    expect(matches(node, { prioritycode: 1, subject: 'x' }, ctx)).toBe(false);
  });

  it('rejects syntax errors with a 400 naming the expression', () => {
    expect(() => parseFilter(def, "subject eq 'open")).toThrow(/unterminated string/);
    expect(() => parseFilter(def, 'prioritycode eq')).toThrow(/\$filter 'prioritycode eq'/);
  });
});
