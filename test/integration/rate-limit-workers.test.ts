// N workers enforce one limit exactly: the embedded data plane with --concurrency 4
// (four worker threads, each with its own VM of the filter, one shared-data store),
// 1000 concurrent requests against a bucket of 100 that does not refill during the
// test: exactly 100 get through, round after round. The same load against the
// filter with a widened race window (a wait between reading a page and writing it)
// is still exact with CAS — and lets more than 100 through when the write skips CAS,
// which is what shows that this test can fail.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startUpstream, type Upstream } from '../../harness/upstream/index.ts';
import { ensureRateLimit, ensureSlowWrite } from '../filters/rate-limit/build.ts';
import { startEmbedded, type DataPlane } from './data-plane.ts';
import { burst, prometheusValue, rateLimitBootstrap, rateLimitFilter } from './rate-limit-support.ts';

const WORKERS = 4;
const REQUESTS = 1000;
/** 100 tokens, one more per hour: nothing refills during a test. */
const CONFIG = {
  max_keys: 64,
  rules: [{ name: 'exact', key: [{ header: 'x-round' }], limits: [{ max_tokens: 100, tokens_per_fill: 1, fill_interval: '3600s' }] }],
};

let upstream: Upstream;
let wasm = '';
let slowWasm = '';
beforeAll(async () => {
  [wasm, slowWasm] = [await ensureRateLimit(), await ensureSlowWrite()];
  upstream = await startUpstream();
}, 300_000);
afterAll(async () => {
  await upstream?.close();
});

/** Runs `rounds` bursts (each against a fresh bucket) and returns how many got 200 in each. */
async function rounds(plane: DataPlane, label: string, count: number): Promise<number[]> {
  const allowed: number[] = [];
  for (let r = 0; r < count; r++) {
    const responses = await burst(plane.address, REQUESTS, { 'x-round': `${label}-${r}` });
    expect(responses.every((x) => x.status === 200 || x.status === 429)).toBe(true);
    allowed.push(responses.filter((x) => x.status === 200).length);
  }
  return allowed;
}

describe(`the filter on ${WORKERS} worker threads`, () => {
  it('lets exactly 100 of 1000 concurrent requests through, every round', async () => {
    const plane = await startEmbedded(rateLimitBootstrap(rateLimitFilter(wasm, CONFIG), upstream.address), WORKERS);
    try {
      upstream.clearRequests();
      expect(await rounds(plane, 'real', 3)).toEqual([100, 100, 100]);
      expect(upstream.count('/burst')).toBe(300);
      // Process-wide counters: every worker's increments in one value.
      expect(await prometheusValue(plane.admin, 'rate_limit_exact_allowed')).toBe(300);
      expect(await prometheusValue(plane.admin, 'rate_limit_exact_denied')).toBe(2700);
    } finally {
      await plane.stop();
    }
  }, 60_000);

  it('stays exact with a 1 ms window between read and CAS write', async () => {
    const plane = await startEmbedded(rateLimitBootstrap(rateLimitFilter(slowWasm, CONFIG, 'cas 1000'), upstream.address), WORKERS);
    try {
      expect(await rounds(plane, 'cas', 1)).toEqual([100]);
    } finally {
      await plane.stop();
    }
  }, 60_000);

  it('over-admits when the same write skips CAS (the failure the tests above would catch)', async () => {
    const plane = await startEmbedded(rateLimitBootstrap(rateLimitFilter(slowWasm, CONFIG, 'naive 1000'), upstream.address), WORKERS);
    try {
      const [allowed] = await rounds(plane, 'naive', 1);
      expect(allowed).toBeGreaterThan(100);
    } finally {
      await plane.stop();
    }
  }, 60_000);
});
