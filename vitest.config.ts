import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts', 'filters/**/*.test.ts'],
    exclude: ['test/fixtures/**', 'node_modules/**'],
    globalSetup: ['test/setup/envoy.ts', 'test/setup/ratelimit.ts'],
    reporters: ['default', './test/setup/skipped-reporter.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Suites start Envoys on real ports; two cores, so keep files few at once.
    maxWorkers: 2,
  },
});
