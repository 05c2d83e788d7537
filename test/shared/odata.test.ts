// The one OData string-literal helper: a value can never end its literal early, whatever it holds.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { odataString } from '../../shared/odata.js';

describe('odataString', () => {
  it.each([
    ['plain', "'plain'"],
    ["O'Brien", "'O''Brien'"],
    ["''", "''''''"],
    ["x' or name ne '", "'x'' or name ne '''"],
    ['', "''"],
  ])('%j is written as %s', (value, literal) => {
    expect(odataString(value)).toBe(literal);
  });

  it('reads back as the value: outside the quotes nothing is left, inside every quote is doubled', () => {
    fc.assert(
      fc.property(fc.string(), (value) => {
        const literal = odataString(value);
        expect(literal.startsWith("'") && literal.endsWith("'")).toBe(true);
        const inner = literal.slice(1, -1);
        expect(inner.replace(/''/g, '')).not.toContain("'");
        expect(inner.replace(/''/g, "'")).toBe(value);
      }),
      { seed: 13 },
    );
  });
});
