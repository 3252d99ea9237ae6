// Bounded by construction: a flood of random keys leaves shared data at its fixed set of
// entries (floor(max_keys / 8) pages + one overflow entry per rule, each at most a full
// page), the VM's memory flat, and a victim's partly used bucket exactly as it was —
// only buckets refilled to max_tokens are ever reclaimed.
import { describe, expect, it } from 'vitest';
import type { WasmEmulator } from '../../../harness/host/emulator.ts';
import { counter, exchange, forwarded } from '../../../harness/host/testing.ts';
import { rateLimitEmulator } from './harness.ts';

const SLOT_BYTES = 56 + 16; // one limit per slot (filters/rate-limit/bucket-page.ts)
const PAGE_BYTES = 8 + 8 * SLOT_BYTES;

function sharedDataFootprint(emu: WasmEmulator): { entries: number; bytes: number } {
  const keys = emu.shared.data.keys('rate-limit');
  let bytes = 0;
  for (const k of keys) bytes += emu.getSharedData(k)!.value.length;
  return { entries: keys.length, bytes };
}

function randomId(): string {
  return Math.random().toString(36).slice(2) + Math.random().toString(36).slice(2);
}

describe('a flood of random keys', () => {
  it('never resets a partly used bucket, and shared data and VM memory stay bounded', async () => {
    const emu = await rateLimitEmulator({
      max_keys: 256, // 32 pages of 8 slots
      rules: [{ name: 'users', key: [{ header: 'x-user-id' }], limits: [{ max_tokens: 10, tokens_per_fill: 10, fill_interval: '3600s' }] }],
      response_headers: true,
    });
    const victim = { headers: { 'x-user-id': 'victim' } };
    expect(forwarded(emu, 4, victim)).toBe(4); // 6 tokens left

    const flood = (n: number) => {
      for (let i = 0; i < n; i++) {
        exchange(emu, { headers: { 'x-user-id': randomId() } });
        emu.advanceClock(1);
      }
    };
    flood(3_000);
    const memory = emu.plugin.wasm.mem.size;
    const footprint = sharedDataFootprint(emu);
    flood(12_000);

    // 15 s of flood refilled 0.04 of a token: the victim still has exactly 6, not a fresh 10.
    expect(forwarded(emu, 20, victim)).toBe(6);
    expect(counter(emu, 'rate_limit_overflow_requests_total', { rule: 'users' })).toBeGreaterThan(12_000);
    // Shared data: the same 32 pages and 1 overflow entry, each at most a full page.
    const after = sharedDataFootprint(emu);
    expect(after.entries).toBe(33);
    expect(footprint.entries).toBe(33);
    expect(after.bytes).toBeLessThanOrEqual(33 * PAGE_BYTES);
    expect(emu.shared.data.size).toBe(33);
    expect(emu.plugin.wasm.mem.size).toBe(memory);
    expect(emu.vmFailed).toBe(false);
  }, 60_000);

  it('reclaims slots once their buckets refilled, which gives a returning key what it would have had anyway', async () => {
    const emu = await rateLimitEmulator({
      max_keys: 8, // one page
      rules: [{ name: 'users', key: [{ header: 'x-user-id' }], limits: [{ max_tokens: 2, tokens_per_fill: 2, fill_interval: '10s' }] }],
    });
    expect(forwarded(emu, 1, { headers: { 'x-user-id': 'victim' } })).toBe(1);
    // Seven more keys fill the page; the flood then lives in the overflow bucket.
    for (let i = 0; i < 500; i++) exchange(emu, { headers: { 'x-user-id': `f${i}` } });
    expect(forwarded(emu, 3, { headers: { 'x-user-id': 'victim' } })).toBe(1);
    // 10 s later every bucket is full: new keys take the slots (no overflow), and the
    // victim, reclaimed or not, has a full bucket of 2 either way.
    emu.advanceClock(10_000);
    const overflow = counter(emu, 'rate_limit_overflow_requests_total', { rule: 'users' });
    for (let i = 500; i < 507; i++) exchange(emu, { headers: { 'x-user-id': `f${i}` } });
    expect(counter(emu, 'rate_limit_overflow_requests_total', { rule: 'users' })).toBe(overflow);
    expect(forwarded(emu, 3, { headers: { 'x-user-id': 'victim' } })).toBe(2);
  });
});
