// The directions imports may take between the parts of the code, read from the import lines of every source file,
// so a forbidden dependency cannot come back unnoticed: the sync core does not reach into onboarding, the CLI does
// not run Functions handlers, only the Functions adapters see @azure/functions, the pure merge does not depend on
// storage, the product never loads development code and the simulators never load the product.
import { readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot, sourceFiles } from '../support/sourceFiles.js';

const root = repoRoot;

interface Rule {
  name: string;
  /** Files the rule applies to (repository-relative path). */
  from: (file: string) => boolean;
  /** A forbidden target: a repository-relative path for relative imports, the bare specifier for packages. */
  to: (target: string) => boolean;
}

const under = (folder: string) => (path: string) => path.startsWith(`${folder}/`);
const functionsAdapters = ['functions/', 'shared/handlers/', 'dev/host/'];

export const rules: Rule[] = [
  { name: 'sync does not import onboarding', from: under('shared/sync'), to: under('shared/onboarding') },
  { name: 'the CLI does not import Functions handlers', from: under('shared/cli'), to: (t) => under('shared/handlers')(t) || under('functions')(t) },
  {
    name: 'only the Functions adapters import @azure/functions',
    from: (f) => !functionsAdapters.some((prefix) => f.startsWith(prefix)),
    to: (t) => t === '@azure/functions' || t.startsWith('@azure/functions/'),
  },
  { name: 'the pure merge does not import storage', from: (f) => f === 'shared/sync/merge.ts', to: under('shared/storage') },
  { name: 'the product does not import development code', from: (f) => under('shared')(f) || under('functions')(f), to: under('dev') },
  { name: 'the simulators do not import the product', from: under('dev/sim'), to: (t) => under('shared')(t) || under('functions')(t) },
];

const specifier = /(?:\bfrom\s*|\bimport\s*\(\s*|^\s*import\s+)['"]([^'"]+)['"]/gm;

/** The import targets of a source text: relative ones resolved to repository paths, packages as written. */
export function importsOf(file: string, text: string): string[] {
  const out: string[] = [];
  for (const [, spec] of text.matchAll(specifier)) {
    if (!spec!.startsWith('.')) out.push(spec!);
    else out.push(relative(root, resolve(root, dirname(file), spec!)).replace(/\.js$/, '.ts'));
  }
  return out;
}


/** Every forbidden import of the given files, as "file -> target (rule)". */
export function violations(files: { file: string; text: string }[]): string[] {
  const hits: string[] = [];
  for (const { file, text } of files) {
    for (const target of importsOf(file, text)) {
      for (const rule of rules) if (rule.from(file) && rule.to(target)) hits.push(`${file} -> ${target} (${rule.name})`);
    }
  }
  return hits;
}

describe('import directions', () => {
  it('the check finds each forbidden direction, in single-line, multi-line, type-only and dynamic imports', () => {
    const samples = [
      { file: 'shared/sync/lifecycle.ts', text: "import { createSubscription } from '../onboarding/mailbox.js';" },
      { file: 'shared/cli/commands/status.ts', text: "import {\n  buildStatus,\n  type StatusReport,\n} from '../../handlers/status.js';" },
      { file: 'shared/sync/worker.ts', text: "import type { InvocationContext } from '@azure/functions';" },
      { file: 'shared/sync/merge.ts', text: "import { baseValueEquals } from '../storage/pairStore.js';" },
      { file: 'shared/runtime.ts', text: "const sim = await import('../dev/sim/graph/index.js');" },
      { file: 'dev/sim/queues.ts', text: "export { queues } from '../../shared/servicebus/queues.js';" },
    ];
    for (const sample of samples) expect(violations([sample]), sample.text).toHaveLength(1);
    // Allowed: the handlers adapt @azure/functions, dev/ outside the simulators may drive the product.
    expect(violations([{ file: 'shared/handlers/status.ts', text: "import type { HttpRequest } from '@azure/functions';\nimport { buildStatus } from '../status/index.js';" }])).toEqual([]);
    expect(violations([{ file: 'dev/stack/index.ts', text: "import { enableMailbox } from '../../shared/onboarding/mailbox.js';" }])).toEqual([]);
  });

  it('no source file imports in a forbidden direction', () => {
    const files = ['shared', 'functions', 'dev'].flatMap(sourceFiles).map((file) => ({ file, text: readFileSync(join(root, file), 'utf8') }));
    expect(files.length).toBeGreaterThan(100);
    expect(violations(files)).toEqual([]);
  });
});
