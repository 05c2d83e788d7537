// Mutation testing of the sync core (`npm run test:mutation`; not in CI: a full run takes hours on 2 cores).
// Stryker mutates the code under `mutate`, runs the tests that cover each mutant (vitest.mutation.config.ts) and
// reports the mutants no test killed. Incremental: the result file below is reused, so a rerun only tests mutants
// whose code or covering tests changed. Overrides:
//   STRYKER_MUTATE=shared/sync/merge.ts,shared/sync/plan.ts   only these files (globs, comma-separated; a file may
//                                                             take a line range, e.g. shared/sync/plan.ts:10-40)
//   STRYKER_CONCURRENCY=1                                     test-runner processes (default 2)
//   STRYKER_E2E=1                                             add the webhook endpoints' e2e file (slow: ~15 s a mutant)
// Equivalent survivors and the measured scores: docs/mutation.md.
import { createHash } from 'node:crypto';

const folders = ['shared/sync/**/*.ts', 'shared/mapping/**/*.ts', 'shared/webhooks/**/*.ts', 'shared/storage/**/*.ts'];
const mutate = process.env.STRYKER_MUTATE ? process.env.STRYKER_MUTATE.split(',').map((s) => s.trim()).filter(Boolean) : folders;
// Stryker writes the incremental file from the run's own report, which holds only the files that run mutated: one
// file per target set, so a run over one file does not throw away the results of the full run (or of another file).
const target = process.env.STRYKER_MUTATE
  ? `${mutate.join('+').replace(/^shared\//, '').replace(/[^A-Za-z0-9]+/g, '-').slice(0, 60)}-${createHash('sha1').update(mutate.join(',')).digest('hex').slice(0, 8)}`
  : 'all';

/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  testRunner: 'vitest',
  vitest: { configFile: 'vitest.mutation.config.ts', related: true },
  checkers: ['typescript'],
  // The checker type-checks the product only (not the tests and dev tools): a mutant is a compile error when the
  // product would not build, and the smaller program keeps the check of each mutant cheap.
  tsconfigFile: 'tsconfig.mutation.json',
  typescriptChecker: { prioritizePerformanceOverAccuracy: true },
  mutate,
  coverageAnalysis: 'perTest',
  ignoreStatic: true,
  incremental: true,
  incrementalFile: `reports/mutation/${target}.incremental.json`,
  reporters: ['clear-text', 'progress', 'html', 'json'],
  htmlReporter: { fileName: `reports/mutation/${target}.html` },
  jsonReporter: { fileName: `reports/mutation/${target}.json` },
  clearTextReporter: { allowColor: false, logTests: false, reportScoreTable: true },
  concurrency: Number(process.env.STRYKER_CONCURRENCY ?? 2),
  tempDirName: '.stryker-tmp',
  ignorePatterns: ['dist', 'reports', 'coverage', '.local', 'docs/images'],
  thresholds: { high: 85, low: 70, break: null },
  timeoutMS: 30_000,
  fileLogLevel: 'info',
};
