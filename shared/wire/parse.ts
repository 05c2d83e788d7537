// Turns a zod failure into the product's InvalidInput error, naming the first offending field and its value, so the
// worker dead-letters it with a message an administrator can act on (house style: bad input is 4xx naming the field).
import type { z } from 'zod';
import { invalidInput } from '../errors.js';

/** Parses `input` with `schema`; on failure throws SyncError InvalidInput naming the field path and its value. */
export function parseWire<S extends z.ZodType>(schema: S, input: unknown, what: string): z.output<S> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  if (issue === undefined) throw invalidInput(what, input, 'is not valid');
  const path = issue.path.filter((p): p is string | number => typeof p !== 'symbol');
  const value = valueAt(input, path);
  const field = path.length === 0 ? what : path.join('.');
  const problem = value === undefined ? `is required in ${what}` : `is not valid in ${what}: ${issue.message}`;
  throw invalidInput(field, value, problem);
}

function valueAt(input: unknown, path: readonly (string | number)[]): unknown {
  let current: unknown = input;
  for (const key of path) {
    if (current === null || typeof current !== 'object') return undefined;
    current = (current as Record<string | number, unknown>)[key];
  }
  return current;
}
