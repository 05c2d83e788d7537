// The tests Stryker runs against each mutant (`npm run test:mutation`, see stryker.config.mjs): the fast unit tests of
// the mutated folders, plus the e2e files that are the only cover of a file there and are cheap. Not the whole suite:
// the e2e stacks take minutes, and Stryker runs the covering tests once per mutant.
import { defineConfig } from 'vitest/config';
import base from './vitest.config.js';

export default defineConfig({
  test: {
    ...base.test,
    include: [
      'test/shared/sync/**/*.test.ts',
      'test/shared/webhooks/**/*.test.ts',
      'test/shared/storage/**/*.test.ts',
      'test/mapping/**/*.test.ts',
      'test/wire/**/*.test.ts',
      'test/shared/servicebus/**/*.test.ts',
      ...(process.env.STRYKER_E2E === '0' ? [] : ['test/e2e/webhooks.test.ts']),
    ],
  },
});
