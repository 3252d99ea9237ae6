// The request path leaves nothing behind in the VM: 100 000 requests over the seeds'
// tiers (allowed and denied, three rules, thousands of keys), and the module's memory
// is the same after them as after the first 10 000.
import { describe, expect, it } from 'vitest';
import { counter, exchange, type RequestSpec } from '../../../harness/host/testing.ts';
import { rateLimitEmulator, TIERS } from './harness.ts';

describe('the request path', () => {
  it('leaves VM memory flat over 100 000 requests', async () => {
    const emu = await rateLimitEmulator(TIERS);
    const request = (i: number): RequestSpec => {
      const u = i % 3000;
      if (u % 3 === 0) return { headers: { 'x-user-tier': 'premium', 'x-user-id': `p${u}` } };
      if (u % 3 === 1) return { headers: { 'x-user-id': `a${u}` } };
      return { info: { downstreamRemoteAddress: `10.${(u >> 8) & 255}.${u & 255}.1:${i & 0xffff}` } };
    };
    let denied = 0;
    const run = (from: number, to: number) => {
      for (let i = from; i < to; i++) {
        if (exchange(emu, request(i)).status === 429) denied++;
        if (i % 100 === 0) emu.advanceClock(250);
      }
    };
    run(0, 10_000);
    const warm = emu.plugin.wasm.mem.size;
    run(10_000, 100_000);
    expect(emu.plugin.wasm.mem.size).toBe(warm);
    expect(denied).toBeGreaterThan(1000); // both paths ran
    expect(counter(emu, 'rate_limit_requests_total', { rule: 'premium', outcome: 'allowed' }) + counter(emu, 'rate_limit_requests_total', { rule: 'authenticated', outcome: 'allowed' }) + counter(emu, 'rate_limit_requests_total', { rule: 'anonymous', outcome: 'allowed' }) + denied).toBe(100_000);
  }, 60_000);
});
