// rate-limit in the emulator with its fake clock: the seeds' tiers, denials and their
// headers, refill over time, shadow mode, metrics, overflow, hostile input, failing
// shared data. Every request goes through build/rate-limit.wasm on the project host.
import { describe, expect, it } from 'vitest';
import { LogLevel } from '../../../harness/host/abi.ts';
import { SharedState } from '../../../harness/host/shared/shared-state.ts';
import { counter, exchange, forwarded } from '../../../harness/host/testing.ts';
import { rateLimitEmulator, TIERS } from './harness.ts';

const premium = (user: string) => ({ headers: { 'x-user-tier': 'premium', 'x-user-id': user } });
const user = (id: string) => ({ headers: { 'x-user-id': id } });
const client = (ip: string) => ({ info: { downstreamRemoteAddress: `${ip}:40000` } });

describe('the seeds\' tiers', () => {
  it('premium: 100 per minute, then 429 with Envoy\'s local_ratelimit reply and the draft-03 headers', async () => {
    const emu = await rateLimitEmulator(TIERS);
    for (let i = 1; i <= 100; i++) {
      const ok = exchange(emu, premium('p1'));
      expect(ok.status).toBe(200);
      expect(ok.responseHeader('x-ratelimit-remaining')).toBe(String(100 - i));
      expect(ok.responseHeader('x-ratelimit-limit')).toBe('100, 100;w=60, 2000;w=3600');
      expect(ok.responseHeader('x-envoy-ratelimited')).toBeUndefined();
    }
    const denied = exchange(emu, premium('p1'));
    expect([denied.status, denied.body, denied.reply?.details]).toEqual([429, 'local_rate_limited', 'local_rate_limited']);
    expect(Object.fromEntries(denied.responseHeaders)).toMatchObject({
      'x-envoy-ratelimited': 'true',
      'retry-after': '1', // one token every 0.6 s, rounded up
      'x-ratelimit-limit': '100, 100;w=60, 2000;w=3600',
      'x-ratelimit-remaining': '0',
      'x-ratelimit-reset': '60', // back to 100 tokens in 60 s
    });
    // Another premium user has a bucket of their own.
    expect(exchange(emu, premium('p2')).status).toBe(200);
    expect(counter(emu, 'rate_limit_requests_total', { rule: 'premium', outcome: 'allowed' })).toBe(101);
    expect(counter(emu, 'rate_limit_requests_total', { rule: 'premium', outcome: 'denied' })).toBe(1);
  });

  it('authenticated: 30 per minute per user, apart from the same user\'s premium bucket', async () => {
    const emu = await rateLimitEmulator(TIERS);
    expect(forwarded(emu, 40, user('u1'))).toBe(30);
    expect(exchange(emu, user('u1')).responseHeader('retry-after')).toBe('2');
    expect(exchange(emu, premium('u1')).status).toBe(200); // another rule, another bucket
    expect(forwarded(emu, 5, user('u2'))).toBe(5);
  });

  it('anonymous: 5 per minute per client address', async () => {
    const emu = await rateLimitEmulator(TIERS);
    expect(forwarded(emu, 8, client('198.51.100.1'))).toBe(5);
    const denied = exchange(emu, client('198.51.100.1'));
    expect(denied.responseHeader('retry-after')).toBe('12');
    expect(denied.responseHeader('x-ratelimit-limit')).toBe('5, 5;w=60, 50;w=3600');
    // Another port of the same client is the same client; another address is not.
    expect(exchange(emu, { info: { downstreamRemoteAddress: '198.51.100.1:1' } }).status).toBe(429);
    expect(forwarded(emu, 5, client('198.51.100.2'))).toBe(5);
    expect(forwarded(emu, 1, { info: { downstreamRemoteAddress: '[2001:db8::7]:443' } })).toBe(1);
  });

  it('anonymous: the hour limit holds once minutes refill (50 per hour, refilled continuously)', async () => {
    const emu = await rateLimitEmulator(TIERS);
    let allowed = 0;
    for (let minute = 0; minute < 60; minute++) {
      allowed += forwarded(emu, 10, client('198.51.100.9'));
      emu.advanceClock(60_000);
    }
    // 5 a minute for 11 minutes (the hour bucket starts with 50 and refills 5/6 of a
    // token a minute), then what the hour limit refills: 4 + 1 + floor(47 × 5/6) = 44.
    expect(allowed).toBe(99);
    // The 60th minute's refill completes the 100th token.
    expect(exchange(emu, client('198.51.100.9')).status).toBe(200);
  });
});

describe('rules and keys', () => {
  it('applies the first rule whose match holds; no rule: no limit and no headers', async () => {
    const emu = await rateLimitEmulator({
      rules: [
        { name: 'api', match: { prefix: '/api' }, limits: [{ max_tokens: 1, fill_interval: '60s' }] },
        { name: 'all', match: { prefix: '/api/x' }, limits: [{ max_tokens: 100, fill_interval: '60s' }] },
      ],
      response_headers: true,
    });
    expect(exchange(emu, { path: '/api/x' }).status).toBe(200);
    expect(exchange(emu, { path: '/api/x' }).status).toBe(429); // "api" came first
    const free = exchange(emu, { path: '/health' });
    expect(free.status).toBe(200);
    expect(free.responseHeaders.map(([k]) => k).filter((k) => k.startsWith('x-ratelimit'))).toEqual([]);
    expect(forwarded(emu, 50, { path: '/health' })).toBe(50);
  });

  it('counts a missing header as its own key value, not a bypass', async () => {
    const emu = await rateLimitEmulator({ rules: [{ name: 'keyed', key: [{ header: 'x-api-key' }], limits: [{ max_tokens: 3, fill_interval: '60s' }] }] });
    expect(forwarded(emu, 10)).toBe(3);
    expect(forwarded(emu, 10, { headers: { 'x-api-key': '' } })).toBe(3); // empty is another value
    expect(forwarded(emu, 10, { headers: { 'x-api-key': 'k1' } })).toBe(3);
  });

  it('keys on path (without query), generic constants and x-forwarded-for with trusted hops', async () => {
    const emu = await rateLimitEmulator({
      xff_num_trusted_hops: 1,
      rules: [
        { name: 'per_path', match: { prefix: '/p' }, key: [{ path: {} }, { generic: 'v1' }], limits: [{ max_tokens: 2, fill_interval: '60s' }] },
        { name: 'per_client', key: [{ remote_address: {} }], limits: [{ max_tokens: 2, fill_interval: '60s' }] },
      ],
    });
    expect(forwarded(emu, 1, { path: '/p/a?x=1' }) + forwarded(emu, 5, { path: '/p/a?x=2' })).toBe(2);
    expect(forwarded(emu, 5, { path: '/p/b' })).toBe(2);
    // One trusted hop: the rightmost XFF entry is the client, whatever the connection.
    const via = (xff: string, remote: string) => ({ path: '/', headers: { 'x-forwarded-for': xff }, info: { downstreamRemoteAddress: remote } });
    expect(forwarded(emu, 5, via('203.0.113.5', '10.0.0.1:1'))).toBe(2);
    expect(forwarded(emu, 5, via('1.1.1.1, 203.0.113.5', '10.0.0.2:1'))).toBe(0);
    expect(forwarded(emu, 5, via('203.0.113.6', '10.0.0.1:1'))).toBe(2);
    // No usable XFF entry: the connection's address, as Envoy falls back.
    expect(forwarded(emu, 5, via('garbage', '10.0.0.3:1'))).toBe(2);
    expect(forwarded(emu, 5, { path: '/', info: { downstreamRemoteAddress: '10.0.0.3:2' } })).toBe(0);
  });
});

describe('refill on the fake clock', () => {
  it('gives back exactly one token per tokens_per_fill / fill_interval, never above max_tokens', async () => {
    const emu = await rateLimitEmulator(TIERS);
    const c = client('192.0.2.10');
    expect(forwarded(emu, 6, c)).toBe(5);
    emu.advanceClock(11_999); // 12 s per token
    expect(exchange(emu, c).status).toBe(429);
    emu.advanceClock(1);
    expect(forwarded(emu, 3, c)).toBe(1);
    emu.advanceClock(86_400_000); // a day idle: full, not more
    expect(forwarded(emu, 10, c)).toBe(5);
  });

  it('adds nothing when the clock steps back, and refills from the new time on', async () => {
    const emu = await rateLimitEmulator(TIERS);
    const c = client('192.0.2.11');
    emu.advanceClock(3_600_000);
    expect(forwarded(emu, 6, c)).toBe(5);
    emu.advanceClock(-3_000_000); // 50 minutes back
    expect(exchange(emu, c).status).toBe(429);
    emu.advanceClock(11_999);
    expect(exchange(emu, c).status).toBe(429);
    emu.advanceClock(1);
    expect(forwarded(emu, 3, c)).toBe(1);
    expect(emu.vmFailed).toBe(false);
  });
});

describe('responses', () => {
  it('shadow mode (enforce: false) never denies, counts would-be denials and still sends the headers', async () => {
    const emu = await rateLimitEmulator({ ...TIERS, enforce: false });
    const outcomes = Array.from({ length: 8 }, () => exchange(emu, client('192.0.2.20')));
    expect(outcomes.map((o) => o.status)).toEqual(Array(8).fill(200));
    expect(outcomes.map((o) => o.responseHeader('x-ratelimit-remaining'))).toEqual(['4', '3', '2', '1', '0', '0', '0', '0']);
    expect(outcomes.every((o) => o.responseHeader('x-envoy-ratelimited') === undefined)).toBe(true);
    expect(counter(emu, 'rate_limit_requests_total', { rule: 'anonymous', outcome: 'allowed' })).toBe(5);
    expect(counter(emu, 'rate_limit_requests_total', { rule: 'anonymous', outcome: 'shadow_denied' })).toBe(3);
    expect(counter(emu, 'rate_limit_requests_total', { rule: 'anonymous', outcome: 'denied' })).toBe(0);
    // A shadow denial takes no token: the bucket refills as if they never came.
    emu.advanceClock(12_000);
    expect(exchange(emu, client('192.0.2.20')).responseHeader('x-ratelimit-remaining')).toBe('0');
    expect(counter(emu, 'rate_limit_requests_total', { rule: 'anonymous', outcome: 'allowed' })).toBe(6);
  });

  it('without response_headers: only x-envoy-ratelimited and retry-after, on denials; `status` as configured', async () => {
    const emu = await rateLimitEmulator({ ...TIERS, response_headers: false, status: 503 });
    const ok = exchange(emu, user('u'));
    expect(ok.responseHeaders.map(([k]) => k).filter((k) => k.startsWith('x-ratelimit'))).toEqual([]);
    forwarded(emu, 40, user('u'));
    const denied = exchange(emu, user('u'));
    expect(denied.status).toBe(503);
    expect(denied.responseHeader('x-envoy-ratelimited')).toBe('true');
    expect(denied.responseHeader('retry-after')).toBe('2');
    expect(denied.responseHeaders.map(([k]) => k).filter((k) => k.startsWith('x-ratelimit'))).toEqual([]);
  });

  it('replaces an upstream\'s own x-ratelimit-* headers rather than sending two values', async () => {
    const emu = await rateLimitEmulator(TIERS);
    const ok = exchange(emu, user('u'), { 'x-ratelimit-remaining': '999', 'x-ratelimit-limit': '1000' });
    expect(ok.responseHeader('x-ratelimit-remaining')).toBe('29');
    expect(ok.responseHeader('x-ratelimit-limit')).toBe('30, 30;w=60, 500;w=3600');
    expect(ok.responseHeader('x-ratelimit-reset')).toBe('2');
  });
});

describe('bounded keys', () => {
  it('sends keys whose page is full of partly used buckets to the rule\'s overflow bucket, and counts it', async () => {
    // max_keys 8: one page of 8 slots.
    const emu = await rateLimitEmulator({ max_keys: 8, rules: [{ name: 'users', key: [{ header: 'x-user-id' }], limits: [{ max_tokens: 3, tokens_per_fill: 3, fill_interval: '60s' }] }] });
    for (let i = 0; i < 8; i++) expect(forwarded(emu, 1, user(`u${i}`))).toBe(1);
    // u8 and u9 share the overflow bucket (3 tokens).
    expect(forwarded(emu, 2, user('u8')) + forwarded(emu, 2, user('u9'))).toBe(3);
    expect(counter(emu, 'rate_limit_overflow_requests_total', { rule: 'users' })).toBe(4);
    // The tracked keys kept their buckets.
    expect(forwarded(emu, 5, user('u0'))).toBe(2);
    // Once u1's bucket has refilled to max_tokens, its slot may go to a new key.
    emu.advanceClock(20_000);
    expect(forwarded(emu, 5, user('u1'))).toBe(3); // u1: 2 + 1 refilled; now empty again
    emu.advanceClock(40_000); // every bucket but u1's (emptied 40 s ago) full again
    expect(forwarded(emu, 3, user('new'))).toBe(3);
    expect(counter(emu, 'rate_limit_overflow_requests_total', { rule: 'users' })).toBe(4);
  });
});

describe('hostile input and failing shared data', () => {
  it('takes huge, odd and non-ASCII header values without trapping', async () => {
    const emu = await rateLimitEmulator({ ...TIERS, xff_num_trusted_hops: 3 });
    const huge = 'x'.repeat(256 * 1024);
    expect(forwarded(emu, 31, user(huge))).toBe(30);
    expect(forwarded(emu, 31, user(huge + 'y'))).toBe(30); // a long key is hashed, not truncated
    expect(forwarded(emu, 2, user('\u00ff\u00fe\u0000\u0001'))).toBe(2);
    const odd = ['', ',,,,', ':::', '1.2.3.4.5, [::1]:80, , ', '999.1.1.1,2.2.2.2,3.3.3.3', 'a'.repeat(10000)];
    odd.forEach((xff, i) => expect(exchange(emu, { headers: { 'x-forwarded-for': xff }, info: { downstreamRemoteAddress: `10.9.9.${i}:1` } }).status).toBe(200));
    expect(exchange(emu, { info: { downstreamRemoteAddress: 'not an address' } }).status).toBe(200);
    expect(exchange(emu, { path: '' }).status).toBe(200);
    expect(emu.vmFailed).toBe(false);
  });

  it('reads garbage in its shared-data pages as empty pages and writes over it', async () => {
    const emu = await rateLimitEmulator({ max_keys: 1024, rules: [{ name: 'users', key: [{ header: 'x-user-id' }], limits: [{ max_tokens: 2, fill_interval: '60s' }] }] });
    const pages = emu.shared.data.keys('rate-limit');
    const junk = [Buffer.from([1]), Buffer.from('RLP1'), Buffer.alloc(9000, 0xff), Buffer.from([0x52, 0x4c, 0x50, 0x31, 8, 200, 1, 0])];
    pages.forEach((k, i) => expect(emu.setSharedData(k, junk[i % junk.length])).toBe(0));
    for (let i = 0; i < 40; i++) expect(forwarded(emu, 3, user(`g${i}`))).toBe(2);
    expect(emu.vmFailed).toBe(false);
    expect(counter(emu, 'rate_limit_requests_total', { rule: 'users', outcome: 'fail_open' })).toBe(0);
  });

  it('lets requests through and counts them when shared data cannot take a write (fail open), logging once', async () => {
    // Room for the table as created (empty pages) and little more.
    const shared = SharedState.create({ data: { bytes: 24 << 10, buckets: 64 }, queues: { bytes: 1 << 16, maxQueues: 4 }, metrics: { maxMetrics: 64, nameBytes: 4096 } });
    const emu = await rateLimitEmulator({ max_keys: 64, rules: [{ name: 'users', key: [{ header: 'x-user-id' }], limits: [{ max_tokens: 1, fill_interval: '60s' }] }] }, { shared });
    // Fill the rest of the store so that no page can grow (large blocks, then small ones for the gaps).
    for (let i = 0; emu.setSharedData(`f${i}`, Buffer.alloc(256)) === 0; i++);
    for (let i = 0; emu.setSharedData(`s${i}`, Buffer.alloc(1)) === 0; i++);
    const outcomes = Array.from({ length: 20 }, (_, i) => exchange(emu, user(`f${i}`)));
    expect(outcomes.every((o) => o.status === 200)).toBe(true);
    expect(counter(emu, 'rate_limit_requests_total', { rule: 'users', outcome: 'fail_open' })).toBeGreaterThan(0);
    expect(counter(emu, 'rate_limit_requests_total', { rule: 'users', outcome: 'fail_open' }) + counter(emu, 'rate_limit_requests_total', { rule: 'users', outcome: 'allowed' })).toBe(20);
    const warnings = emu.getLogs(LogLevel.Warn);
    expect(warnings).toEqual(['rate-limit: shared data failed, letting requests through (counted in rate_limit_requests_total{outcome="fail_open"})']);
  });
});
