// "No module outside shared/sync/kinds/ branches on a kind name" (issue 13), kept true: product code outside the
// kinds, the mapping and the wire schemas holds no string literal that is a kind, table or Graph resource name of a
// kind. Such a literal is a per-kind fact written again beside the registry, which is how the engine once built its
// own call beside the mapping's tested rule. Ask the registry (shared/sync/kinds/index.ts) instead.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot, sourceFiles } from '../support/sourceFiles.js';
import { kindNames, resourceNames, tableNames } from '../../shared/sync/kinds/index.js';

const root = repoRoot;

/** Where per-kind facts belong: the kinds themselves, their mapping, and the wire schemas of the two services. */
const owners = ['shared/sync/kinds/', 'shared/mapping/', 'shared/wire/'];

/**
 * Literals that name a Dataverse table for a reason that is not a kind: each with the file, the literal and why.
 * An activity party resolves an attendee's address to a system user or a contact record, whatever the activity's
 * kind (https://learn.microsoft.com/power-apps/developer/data-platform/activityparty-entity).
 */
const allowed: { file: string; literal: string; why: string }[] = [{ file: 'shared/sync/parties.ts', literal: 'contact', why: 'activity party target table' }];

const names = [...new Set<string>([...kindNames, ...tableNames, ...resourceNames])];
const literal = new RegExp(`(['"\`])(${names.join('|')})\\1`, 'g');

/** The kind-name literals of a source text, as "line: literal". */
export function kindLiterals(text: string): { line: number; literal: string }[] {
  const hits: { line: number; literal: string }[] = [];
  for (const [index, line] of text.split('\n').entries()) for (const m of line.matchAll(literal)) hits.push({ line: index + 1, literal: m[2]! });
  return hits;
}


describe('kind names stay in the kinds', () => {
  it('the check finds a kind, table or resource name in single, double and backtick quotes, and nothing else', () => {
    expect(kindLiterals("if (record.entity === 'appointment') {").map((h) => h.literal)).toEqual(['appointment']);
    expect(kindLiterals('mailbox.entities.includes("task")').map((h) => h.literal)).toEqual(['task']);
    expect(kindLiterals('const r = `todoTask`; const t = \'phonecall\';').map((h) => h.literal)).toEqual(['todoTask', 'phonecall']);
    expect(kindLiterals("rt.graph.call('read', 'events'); const taskKind = kindNamed(name); 'contacts'")).toEqual([]);
  });

  it('no product module outside shared/sync/kinds/, shared/mapping/ and shared/wire/ holds one', () => {
    const files = ['shared', 'functions'].flatMap(sourceFiles).filter((f) => !owners.some((o) => f.startsWith(o)));
    expect(files.length).toBeGreaterThan(40);
    const hits = files.flatMap((file) =>
      kindLiterals(readFileSync(join(root, file), 'utf8'))
        .filter((h) => !allowed.some((a) => a.file === file && a.literal === h.literal))
        .map((h) => `${file}:${h.line}: '${h.literal}'`),
    );
    expect(hits).toEqual([]);
  });
});
