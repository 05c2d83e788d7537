// The tests Stryker runs against each mutant (`npm run test:mutation`, see stryker.config.mjs): the fast unit tests of
// the mutated folders. Not the e2e suite: Stryker runs every test that covers a mutant once per mutant, and an e2e
// file starts a stack in its beforeAll (about 15 s here) and covers most of the runtime, so one e2e file in the set
// makes every mutant cost as much. STRYKER_E2E=1 adds the webhook endpoints' e2e file for a run over shared/webhooks.
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
      ...(process.env.STRYKER_E2E === '1' ? ['test/e2e/webhooks.test.ts'] : []),
    ],
  },
});
