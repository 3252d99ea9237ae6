import { defineConfig } from 'vitest/config';

const EXCLUDE = ['test/fixtures/**', 'node_modules/**'];

export default defineConfig({
  test: {
    globalSetup: ['test/setup/envoy.ts', 'test/setup/ratelimit.ts'],
    reporters: ['default', './test/setup/skipped-reporter.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Suites start Envoys on real ports; two cores, so keep files few at once.
    maxWorkers: 2,
    projects: [
      { extends: true, test: { name: 'all', include: ['test/**/*.test.ts', 'filters/**/*.test.ts'], exclude: EXCLUDE } },
      {
        // The filter suites again, each filter as the one member of the mesh module
        // (harness/host/testing.ts `asMember`): on the host, and on Envoy where a suite puts
        // a filter in a bootstrap (test/integration/wasm-filter.ts); the fuzz targets too
        // (harness/fuzz/session.ts).
        extends: true,
        test: {
          name: 'as-member',
          include: ['test/filters/**/*.test.ts', 'test/fuzz/filters.test.ts', 'test/integration/{circuit-breaker,jwt-auth,retry,rate-limit,global-rate-limit}.test.ts'],
          exclude: EXCLUDE,
          env: { MESH_FILTERS_AS_MEMBER: '1' },
        },
      },
    ],
  },
});
