/**
 * What only the rate-limit suites need beyond harness/host/testing.ts: the filter on the
 * emulator with a shared-data store big enough for its bucket table, and the tiers the
 * suites configure.
 */
import type { EmulatorOptions, WasmEmulator } from '../../../harness/host/emulator.ts';
import { SharedState } from '../../../harness/host/shared/shared-state.ts';
import { filterEmulator, testModule } from '../../../harness/host/testing.ts';

/** The rate-limit filter with `config` (an object is written as JSON), on `bigSharedState()` unless `options.shared`. */
export async function rateLimitEmulator(config: unknown, options: Partial<EmulatorOptions> = {}): Promise<WasmEmulator> {
  return filterEmulator(await testModule('rate-limit'), 'rate-limit', config, { shared: options.shared ?? bigSharedState(), ...options });
}

/** A shared state with room for the default 100000-key table (the emulator's default store is 4 MiB). */
export function bigSharedState(bytes = 32 << 20): SharedState {
  return SharedState.create({ data: { bytes, buckets: 65536 }, queues: { bytes: 1 << 16, maxQueues: 8 }, metrics: { maxMetrics: 1024, nameBytes: 65536 } });
}

/** The tiers the suites configure: envoy/rate-limit.yaml's, matched on any path, anonymous only without x-user-id, 1024 keys. */
export const TIERS = {
  stat_prefix: 'rate_limit',
  rules: [
    {
      name: 'premium',
      match: { headers: [{ name: 'x-user-tier', exact: 'premium' }] },
      key: [{ claim: 'x-user-id' }],
      limits: [
        { max_tokens: 100, tokens_per_fill: 100, fill_interval: '60s' },
        { max_tokens: 2000, tokens_per_fill: 2000, fill_interval: '3600s' },
      ],
    },
    {
      name: 'authenticated',
      match: { headers: [{ name: 'x-user-id', present: true }] },
      key: [{ claim: 'x-user-id' }],
      limits: [
        { max_tokens: 30, tokens_per_fill: 30, fill_interval: '60s' },
        { max_tokens: 500, tokens_per_fill: 500, fill_interval: '3600s' },
      ],
    },
    {
      name: 'anonymous',
      match: { headers: [{ name: 'x-user-id', absent: true }] },
      key: [{ remote_address: {} }],
      limits: [
        { max_tokens: 5, tokens_per_fill: 5, fill_interval: '60s' },
        { max_tokens: 50, tokens_per_fill: 50, fill_interval: '3600s' },
      ],
    },
  ],
  response_headers: true,
  max_keys: 1024,
};
