import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    exclude: ['dist/**', 'node_modules/**'],
    pool: 'forks',
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Property tests use a fixed seed (see test/support/seed.ts); nothing here depends on wall-clock timing.
    sequence: { shuffle: false },
  },
});
