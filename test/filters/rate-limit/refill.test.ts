// Refill arithmetic against an exact model: the filter (build/rate-limit.wasm in the
// emulator) and a BigInt token bucket written here from filters.md's definition decide
// the same long, seeded schedules of requests — fractional refills at microsecond
// steps, long idles, clock steps back — and report the same header values, request
// after request. Any rounding or drift in the filter's fixed-point arithmetic shows up
// as a difference. The seed is printed on failure.
import { describe, expect, it } from 'vitest';
import { exchange } from '../../../harness/host/testing.ts';
import { rateLimitEmulator } from './harness.ts';

const LIMITS = [
  { max_tokens: 7, tokens_per_fill: 3, fill_interval: '1.7s' },
  { max_tokens: 20, tokens_per_fill: 5, fill_interval: '13s' },
  { max_tokens: 100, tokens_per_fill: 100, fill_interval: '60s' },
];
const NS = 1_000_000_000n;

/** filters.md's bucket, in exact integers: 1 token = fill_interval ns units, each ns adds tokens_per_fill units. */
class ModelBucket {
  readonly unit: bigint;
  readonly rate: bigint;
  readonly full: bigint;
  tokens: bigint;
  last: bigint;

  constructor(limit: (typeof LIMITS)[number], now: bigint) {
    this.unit = BigInt(Math.round(Number.parseFloat(limit.fill_interval) * 1e9));
    this.rate = BigInt(limit.tokens_per_fill);
    this.full = BigInt(limit.max_tokens) * this.unit;
    this.tokens = this.full;
    this.last = now;
  }

  /** Tokens at `now` (time going back adds nothing). */
  at(now: bigint): bigint {
    if (now <= this.last) return this.tokens;
    const t = this.tokens + (now - this.last) * this.rate;
    return t > this.full ? this.full : t;
  }

  nanosUntil(units: bigint, tokens: bigint): bigint {
    return units <= tokens ? 0n : (units - tokens + this.rate - 1n) / this.rate;
  }
}

const secondsCeil = (ns: bigint) => (ns + NS - 1n) / NS;

/**
 * What the filter should answer at `now`. A bucket's state changes when tokens are
 * taken, or when time went back (its refill time moves back to now); a denial leaves
 * it as it was, so refilling is always counted from the last change.
 */
function modelDecide(buckets: ModelBucket[], now: bigint): { status: number; remaining: string; reset: string; retryAfter?: string } {
  const tokens = buckets.map((b) => b.at(now));
  const every = buckets.every((b, i) => tokens[i] >= b.unit);
  if (every) buckets.forEach((b, i) => (tokens[i] -= b.unit));
  if (every || buckets.some((b) => now < b.last)) {
    buckets.forEach((b, i) => {
      b.tokens = tokens[i];
      b.last = now;
    });
  }
  let reported = 0;
  buckets.forEach((b, i) => {
    if (tokens[i] / b.unit < tokens[reported] / buckets[reported].unit) reported = i;
  });
  const r = buckets[reported];
  const out = { status: every ? 200 : 429, remaining: String(tokens[reported] / r.unit), reset: String(secondsCeil(r.nanosUntil(r.full, tokens[reported]))) };
  if (every) return out;
  let wait = 0n;
  buckets.forEach((b, i) => {
    const w = b.nanosUntil(b.unit, tokens[i]);
    if (w > wait) wait = w;
  });
  const retry = secondsCeil(wait);
  return { ...out, retryAfter: String(retry < 1n ? 1n : retry) };
}

/** The host's conversion of the fake monotonic clock (ms, fractional) to ns (harness/host/memory.ts). */
function nanosOf(ms: number): bigint {
  const whole = Math.floor(ms);
  return BigInt(whole) * 1_000_000n + BigInt(Math.round((ms - whole) * 1e6));
}

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A step of the schedule, in ms: mostly sub-token gaps at µs resolution, some idles, some steps back. */
function step(random: () => number): number {
  const r = random();
  const micros = (max: number) => Math.floor(random() * max) / 1000;
  if (r < 0.45) return micros(300_000); // up to 0.3 s
  if (r < 0.75) return micros(3_000); // up to 3 ms
  if (r < 0.85) return 0;
  if (r < 0.92) return micros(20_000_000); // up to 20 s
  if (r < 0.95) return Math.floor(random() * 48 * 3_600_000); // up to two days idle
  if (r < 0.98) return -micros(600_000_000); // up to 10 minutes back
  return -micros(2_000); // a jitter back
}

describe('refill arithmetic matches an exact model', () => {
  it.each([0x5eed, 0xc0ffee, 20260101])('seed %i: 4000 requests, every decision and header value equal', async (seed) => {
    const emu = await rateLimitEmulator({ rules: [{ name: 'r', key: [{ generic: 'k' }], limits: LIMITS }], response_headers: true });
    const random = mulberry32(seed);
    let mono = 86_400_000; // start a day in, so steps back stay positive
    emu.advanceClock(mono);
    let buckets: ModelBucket[] | undefined;
    const tally = { allowed: 0, denied: 0, back: 0 };
    for (let i = 0; i < 4000; i++) {
      const delta = step(random);
      if (delta < 0) tally.back++;
      if (mono + delta > 0) {
        emu.advanceClock(delta);
        mono += delta;
      }
      const now = nanosOf(mono);
      buckets ??= LIMITS.map((l) => new ModelBucket(l, now));
      const want = modelDecide(buckets, now);
      const got = exchange(emu);
      const seen = { status: got.status, remaining: got.responseHeader('x-ratelimit-remaining'), reset: got.responseHeader('x-ratelimit-reset'), ...(got.status === 200 ? {} : { retryAfter: got.responseHeader('retry-after') }) };
      if (JSON.stringify(seen) !== JSON.stringify(want)) {
        throw new Error(`seed ${seed}, request ${i} at ${now} ns: filter ${JSON.stringify(seen)}, model ${JSON.stringify(want)}`);
      }
      if (got.status === 200) tally.allowed++;
      else tally.denied++;
    }
    expect(emu.vmFailed).toBe(false);
    // The schedule exercised both outcomes and steps back.
    expect(tally.allowed).toBeGreaterThan(500);
    expect(tally.denied).toBeGreaterThan(500);
    expect(tally.back).toBeGreaterThan(50);
  });

  it('20 000 allowed requests 1.234567 ms apart, each refilling and writing a fraction, lose nothing', async () => {
    // 7 tokens per 3 s: each step adds 0.00288... of a token, kept as an exact remainder.
    const emu = await rateLimitEmulator({ rules: [{ name: 'r', limits: [{ max_tokens: 1_000_000, tokens_per_fill: 7, fill_interval: '3s' }] }], response_headers: true });
    let mono = 1000;
    emu.advanceClock(mono);
    const first = nanosOf(mono);
    let last = exchange(emu);
    for (let i = 1; i < 20_000; i++) {
      emu.advanceClock(1.234567);
      mono += 1.234567;
      last = exchange(emu);
    }
    const elapsed = nanosOf(mono) - first;
    expect(elapsed).toBeGreaterThan(24_000_000_000n);
    // Never full again, so every ns since the first request counts: refilled = elapsed × 7 / 3 s.
    expect(BigInt(last.responseHeader('x-ratelimit-remaining')!)).toBe(1_000_000n - 20_000n + (elapsed * 7n) / 3_000_000_000n);
  }, 60_000);
});
