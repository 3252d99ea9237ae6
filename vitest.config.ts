import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    exclude: ['test/fixtures/**', 'node_modules/**'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Suites start proxies on real ports and worker threads; two cores, so keep files few at once.
    maxWorkers: 2,
  },
});
