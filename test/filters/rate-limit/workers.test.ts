// One limit for every worker: Envoy runs a VM of the filter per worker thread, all
// taking tokens from one bucket table in shared data with compare-and-swap
// (limiter.ts). Workers here are WasmEmulator.createWorkers VMs, and the race is played
// deterministically: a worker's page write waits for another worker's whole request
// (beforeNextHostcall), so every write is made on a stale read. The filter stays exact;
// the control, the same filter writing its page without CAS (racy-entry.ts), over-admits
// in the same race — which shows these tests can fail. (N workers under real load: the
// Envoy suite test/integration/rate-limit.test.ts.)
import { beforeAll, describe, expect, it } from 'vitest';
import type { WasmEmulator } from '../../../harness/host/emulator.ts';
import { counter, type Exchange, exchange, filterWorkers, testModule } from '../../../harness/host/testing.ts';

/** `tokens` for one key, never refilled during a test (one more per hour). */
const config = (tokens: number) => ({
  max_keys: 64,
  rules: [{ name: 'exact', key: [{ header: 'x-client' }], limits: [{ max_tokens: tokens, tokens_per_fill: 1, fill_interval: '3600s' }] }],
});
const REQUEST = { headers: { 'x-client': 'c1' } };

let filter = '';
let noCas = '';
beforeAll(async () => {
  // The control module: the filter with its page written without CAS.
  [filter, noCas] = [await testModule('rate-limit'), await testModule('rate-limit', { entry: 'filters/rate-limit/__tests__/racy-entry.ts', outName: 'rate-limit-no-cas' })];
}, 300_000);

/**
 * One round: worker 0's request, whose page write first runs worker 1's whole request,
 * whose write first runs worker 2's, and so on (the last worker writes first). Returns
 * the statuses in worker order. A worker whose request writes nothing (denied at once)
 * leaves the rest of the chain unrun: those workers' statuses are missing.
 */
function round(workers: WasmEmulator[]): number[] {
  const outcomes: Exchange[] = [];
  for (let i = 0; i + 1 < workers.length; i++) {
    workers[i].beforeNextHostcall('proxy_set_shared_data', () => void (outcomes[i + 1] = exchange(workers[i + 1], REQUEST)));
  }
  outcomes[0] = exchange(workers[0], REQUEST);
  return outcomes.map((o) => o.status!);
}

describe.each([
  { module: 'the filter (CAS write)', wasm: () => filter, cas: true },
  { module: 'the control (page written with cas 0)', wasm: () => noCas, cas: false },
])('$module', ({ wasm, cas }) => {
  it('two workers race for the last token: one is admitted with CAS, both without', async () => {
    const [a, b] = await filterWorkers(2, wasm(), 'rate-limit', config(1));
    // a reads the page (1 token), b's whole request takes the token, a writes on its stale read.
    expect(round([a, b])).toEqual(cas ? [429, 200] : [200, 200]);
    expect(exchange(b, REQUEST).status).toBe(429);
  });

  it('four workers, every page write made on a stale read: exactly max_tokens of 12 admitted with CAS', async () => {
    const workers = await filterWorkers(4, wasm(), 'rate-limit', config(10));
    const statuses = [round(workers), round(workers), round(workers)];
    if (cas) {
      // Rounds 1 and 2: each worker loses its CAS, reads again and takes a token (8 of 10).
      // Round 3 (2 left): the last two writers get them, the first two find the bucket empty.
      expect(statuses).toEqual([[200, 200, 200, 200], [200, 200, 200, 200], [429, 429, 200, 200]]);
      // Process-wide counters: every worker's decisions in one value.
      expect(counter(workers[3], 'rate_limit_requests_total', { rule: 'exact', outcome: 'allowed' })).toBe(10);
      expect(counter(workers[0], 'rate_limit_requests_total', { rule: 'exact', outcome: 'denied' })).toBe(2);
    } else {
      // Each stale write undoes the takes written after its read: one token gone per round.
      expect(statuses.flat().filter((s) => s === 200)).toHaveLength(12);
      expect(counter(workers[0], 'rate_limit_requests_total', { rule: 'exact', outcome: 'allowed' })).toBe(12);
    }
  });
});
