import { availableParallelism } from 'node:os';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    exclude: ['dist/**', 'node_modules/**'],
    pool: 'forks',
    // Vitest's default is one fork fewer than the cores, which is a single fork on CI's 2 cores. The files spend most
    // of their time waiting on loopback I/O (simulators, Azurite, the host), so two forks overlap that waiting; no
    // file needs to run alone (every server listens on an ephemeral port, every folder is a fresh temporary one). The
    // two files that rebuild dist/ or .local/infra/ when stale may then do it at once; .ci/run builds both first.
    maxWorkers: Math.max(2, availableParallelism()),
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Property tests use a fixed seed (see test/support/seed.ts); nothing here depends on wall-clock timing.
    sequence: { shuffle: false },
  },
});
