// The embedded router's retry semantics, checked against Envoy's router.cc and
// retry_state_impl.cc: first the retry state alone (deterministic backoff, header
// parsing), then through the proxy with real sockets and flaky upstreams (the cases
// test/integration/proxy.test.ts does not cover).
import http2 from 'node:http2';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { HeaderMap } from '../../harness/host/header-map.ts';
import { startProxy, type RunningProxy } from '../../harness/proxy/index.ts';
import { RetryState, parseRetryOn, simpleAtoi, type RetryClusterHooks, type RoutePolicy } from '../../harness/proxy/retry-state.ts';
import { action, delay, failTimes, sequence, startUpstream, status, type RecordedRequest, type Upstream, type UpstreamHandler } from '../../harness/upstream/index.ts';
import { bootstrap, TRUST_LOOPBACK } from './bootstrap.ts';
import { closedPort, get } from './proxy-client.ts';

function hooks(maxOpen = Infinity): RetryClusterHooks & { counts: Record<string, number> } {
  const counts: Record<string, number> = { open: 0, retry: 0, success: 0, limit: 0, overflow: 0 };
  return {
    counts,
    tryOpenRetry: () => (counts.open < maxOpen ? (counts.open++, true) : false),
    closeRetry: () => void counts.open--,
    onRetry: () => void counts.retry++,
    onRetrySuccess: () => void counts.success++,
    onRetryLimitExceeded: () => void counts.limit++,
    onRetryOverflow: () => void counts.overflow++,
  };
}

const policy = (over: Partial<RoutePolicy> = {}): RoutePolicy => ({ retryOn: 0, numRetries: 1, retriableStatusCodes: [], ...over });

describe('RetryState (retry_state_impl.cc) without a proxy', () => {
  it('backs off with full jitter from 25 ms, doubling, capped at 10 × base', () => {
    const top = RetryState.create(policy({ retryOn: parseRetryOn('5xx').bits, numRetries: 6 }), new HeaderMap(), hooks(), () => 0.99999)!;
    expect(Array.from({ length: 6 }, () => top.nextBackOffMs())).toEqual([24, 49, 99, 199, 249, 249]);
    const bottom = RetryState.create(policy({ retryOn: parseRetryOn('5xx').bits }), new HeaderMap(), hooks(), () => 0)!;
    expect([bottom.nextBackOffMs(), bottom.nextBackOffMs()]).toEqual([0, 0]);
  });

  it('uses the route’s retry_back_off (the seeds’ 2 s to 10 s for financial transactions)', () => {
    const s = RetryState.create(policy({ retryOn: parseRetryOn('reset').bits, baseIntervalMs: 2000, maxIntervalMs: 10000 }), new HeaderMap(), hooks(), () => 0.99999)!;
    expect(Array.from({ length: 5 }, () => s.nextBackOffMs())).toEqual([1999, 3999, 7999, 9999, 9999]);
    const reads = RetryState.create(policy({ retryOn: parseRetryOn('5xx').bits, baseIntervalMs: 500, maxIntervalMs: 5000 }), new HeaderMap(), hooks(), () => 0.5)!;
    expect(Array.from({ length: 5 }, () => reads.nextBackOffMs())).toEqual([250, 500, 1000, 2000, 2500]);
  });

  it('reads numeric headers as absl::SimpleAtoi does', () => {
    expect([simpleAtoi('3'), simpleAtoi(' 3 '), simpleAtoi('+3'), simpleAtoi('0')]).toEqual([3, 3, 3, 0]);
    expect([simpleAtoi('3.0'), simpleAtoi('-1'), simpleAtoi(''), simpleAtoi('abc'), simpleAtoi('3 3')]).toEqual([undefined, undefined, undefined, undefined, undefined]);
    expect(simpleAtoi('18446744073709551615')).toBe(18446744073709551615);
    expect(simpleAtoi('18446744073709551616')).toBeUndefined();
    expect(simpleAtoi('4294967296', 0xffffffffn)).toBeUndefined();
  });

  it('merges the headers into the route policy and consumes them all', () => {
    const h = new HeaderMap([
      ['x-envoy-retry-on', ' 5xx , bogus,,retriable-status-codes'],
      ['x-envoy-retry-grpc-on', 'unavailable'],
      ['x-envoy-max-retries', '+4'],
      ['x-envoy-retriable-status-codes', '418, x,429'],
      ['x-envoy-retriable-header-names', 'X-Retry-Me'],
      ['x-envoy-hedge-on-per-try-timeout', 'true'],
      ['x-envoy-upstream-rq-per-try-timeout-ms', '10'],
      ['x-keep', '1'],
    ]);
    const s = RetryState.create(policy({ retriableStatusCodes: [503] }), h, hooks())!;
    expect(s.retriesRemaining).toBe(4);
    expect(s.retriableStatusCodes).toEqual([503, 418, 429]);
    expect(s.retriableHeaderNames).toEqual(['x-retry-me']);
    expect(h.entries()).toEqual([['x-keep', '1']]);
    expect(s.wouldRetryFromHeaders(500, new HeaderMap([[':status', '500']]))).toBe(true);
    expect(s.wouldRetryFromHeaders(418, new HeaderMap([[':status', '418']]))).toBe(true);
    expect(s.wouldRetryFromHeaders(200, new HeaderMap([[':status', '200'], ['grpc-status', '14']]))).toBe(true);
    expect(s.wouldRetryFromHeaders(200, new HeaderMap([[':status', '200'], ['grpc-status', '5']]))).toBe(false);
  });

  it('ignores x-envoy-max-retries when no retry condition is on, and an unparsable one', () => {
    expect(RetryState.create(policy(), new HeaderMap([['x-envoy-max-retries', '3']]), hooks())).toBeNull();
    const bad = RetryState.create(policy({ retryOn: parseRetryOn('5xx').bits, numRetries: 2 }), new HeaderMap([['x-envoy-max-retries', 'many']]), hooks())!;
    expect(bad.retriesRemaining).toBe(2);
    const header = RetryState.create(policy({ numRetries: 2 }), new HeaderMap([['x-envoy-retry-on', 'reset'], ['x-envoy-max-retries', '0']]), hooks())!;
    expect(header.retriesRemaining).toBe(0);
    expect(header.shouldRetry(true).status).toBe('limit-exceeded');
  });

  it('decides resets as wouldRetryFromReset: connect failures, before-request, reset, 5xx, refused stream', () => {
    const on = (conditions: string) => RetryState.create(policy({ retryOn: parseRetryOn(conditions).bits }), new HeaderMap(), hooks())!;
    expect(on('connect-failure').wouldRetryFromReset('remote connection failure', false)).toBe(true);
    expect(on('connect-failure').wouldRetryFromReset('connection timeout', false)).toBe(true);
    expect(on('connect-failure').wouldRetryFromReset('connection termination', true)).toBe(false);
    expect(on('reset-before-request').wouldRetryFromReset('connection termination', false)).toBe(true);
    expect(on('reset-before-request').wouldRetryFromReset('connection termination', true)).toBe(false);
    expect(on('reset').wouldRetryFromReset('remote reset', true)).toBe(true);
    expect(on('5xx').wouldRetryFromReset('local reset', true)).toBe(true);
    expect(on('gateway-error').wouldRetryFromReset('remote reset', true)).toBe(true);
    expect(on('refused-stream').wouldRetryFromReset('remote refused stream reset', true)).toBe(true);
    expect(on('refused-stream').wouldRetryFromReset('remote reset', true)).toBe(false);
    expect(on('reset,5xx').wouldRetryFromReset('overflow', false)).toBe(false);
  });

  it('counts retries against the cluster’s max_retries (overflow) and a success after a retry', () => {
    const h = hooks(1);
    const a = RetryState.create(policy({ retryOn: parseRetryOn('5xx').bits, numRetries: 3 }), new HeaderMap(), h)!;
    const b = RetryState.create(policy({ retryOn: parseRetryOn('5xx').bits, numRetries: 3 }), new HeaderMap(), h)!;
    expect(a.shouldRetry(true).status).toBe('yes');
    expect(b.shouldRetry(true).status).toBe('overflow');
    expect(a.shouldRetry(false).status).toBe('no');
    expect(h.counts).toMatchObject({ open: 0, retry: 1, success: 1, overflow: 1 });
  });
});

/** Milliseconds between the upstream's arrivals on `path`. */
function gaps(up: Upstream, path: string): number[] {
  const at = up.requests.filter((r) => r.path === path).map((r) => r.at);
  return at.slice(1).map((t, i) => t - at[i]);
}

describe('router retries through the proxy (concurrency 1, loopback trusted)', () => {
  let up: Upstream;
  let proxy: RunningProxy;
  let dead: number;

  beforeAll(async () => {
    up = await startUpstream({ name: 'flaky' });
    dead = await closedPort();
    proxy = await startProxy({
      portOverride: 0,
      concurrency: 1,
      logLevel: 'error',
      bootstrap: bootstrap({
        hcm: TRUST_LOOPBACK,
        virtualHosts: [
          {
            name: 'all',
            include_request_attempt_count: true,
            include_attempt_count_in_response: true,
            routes: [
              { match: { prefix: '/backoff/' }, route: { cluster: 'backend', retry_policy: { retry_on: '5xx', num_retries: 10, retry_back_off: { base_interval: '0.1s', max_interval: '0.1s' } } } },
              { match: { prefix: '/slowbackoff' }, route: { cluster: 'backend', timeout: '0.3s', retry_policy: { retry_on: '5xx', num_retries: 3, retry_back_off: { base_interval: '60s' } } } },
              { match: { prefix: '/route2/' }, route: { cluster: 'backend', retry_policy: { retry_on: '5xx', num_retries: 2 } } },
              { match: { prefix: '/short' }, route: { cluster: 'backend', timeout: '0.1s' } },
              { match: { prefix: '/h2/' }, route: { cluster: 'h2c' } },
              { match: { prefix: '/dead' }, route: { cluster: 'dead' } },
              { match: { prefix: '/' }, route: { cluster: 'backend' } },
            ],
          },
        ],
        clusters: {
          backend: { endpoints: [up.address] },
          h2c: { endpoints: [up.address], http2: true },
          dead: { endpoints: [`127.0.0.1:${dead}`] },
        },
      }),
    });
  });
  afterAll(async () => {
    await proxy?.stop();
    await up?.close();
  });

  it('retries each gRPC condition of x-envoy-retry-grpc-on, and no other grpc-status', async () => {
    const codes: Record<string, number> = { cancelled: 1, 'deadline-exceeded': 4, 'resource-exhausted': 8, internal: 13, unavailable: 14 };
    for (const [condition, code] of Object.entries(codes)) {
      up.route(`/g/${condition}`, failTimes(1, action({ kind: 'grpc-status', code })));
      const r = await get(proxy, `/g/${condition}`, { 'x-envoy-retry-grpc-on': condition, 'content-type': 'application/grpc' }, { method: 'POST', body: '' });
      expect([condition, r.status, r.headers['grpc-status'], up.count(`/g/${condition}`)]).toEqual([condition, 200, undefined, 2]);
      // Any other condition leaves that status alone.
      const other = condition === 'unavailable' ? 'cancelled' : 'unavailable';
      up.route(`/n/${condition}`, failTimes(1, action({ kind: 'grpc-status', code })));
      const n = await get(proxy, `/n/${condition}`, { 'x-envoy-retry-grpc-on': other, 'content-type': 'application/grpc' }, { method: 'POST', body: '' });
      expect([condition, n.headers['grpc-status'], up.count(`/n/${condition}`)]).toEqual([condition, String(code), 1]);
    }
  });

  it('backs off per the route’s retry_back_off, fully jittered', async () => {
    up.route('/backoff/', status(503));
    const r = await get(proxy, '/backoff/a');
    expect([r.status, r.headers['x-envoy-attempt-count']]).toEqual([503, '11']);
    const g = gaps(up, '/backoff/a');
    expect(g.length).toBe(10);
    // Each wait is uniform in [0, 100 ms) (plus a round trip); full jitter makes some short.
    expect(Math.max(...g)).toBeLessThan(100 + 80);
    expect(g.filter((x) => x < 60).length).toBeGreaterThan(0);
  });

  it('backs off from 25 ms by default, doubling to the 250 ms cap', async () => {
    up.route('/defaultbackoff', status(503));
    const r = await get(proxy, '/defaultbackoff', { 'x-envoy-retry-on': '5xx', 'x-envoy-max-retries': '5' });
    expect(r.headers['x-envoy-attempt-count']).toBe('6');
    const g = gaps(up, '/defaultbackoff');
    [25, 50, 100, 200, 250].forEach((bound, i) => expect(g[i]).toBeLessThan(bound + 80));
  });

  it('the route timeout covers the backoff: 504 while waiting to retry', async () => {
    up.route('/slowbackoff', status(503));
    const t0 = Date.now();
    const r = await get(proxy, '/slowbackoff');
    expect([r.status, r.text, r.headers['x-envoy-attempt-count']]).toEqual([504, 'upstream request timeout', '1']);
    expect(Date.now() - t0).toBeLessThan(2000);
    expect(up.count('/slowbackoff')).toBe(1);
  });

  it('x-envoy-upstream-rq-timeout-ms: 0 disables the route timeout; an unparsable value keeps it', async () => {
    up.route('/short', delay(300));
    expect((await get(proxy, '/short', { 'x-envoy-upstream-rq-timeout-ms': '0' })).status).toBe(200);
    expect((await get(proxy, '/short', { 'x-envoy-upstream-rq-timeout-ms': 'soon' })).status).toBe(504);
  });

  it('x-envoy-max-retries takes absl::SimpleAtoi numbers and ignores others', async () => {
    up.route('/route2/plus', status(500));
    expect((await get(proxy, '/route2/plus', { 'x-envoy-max-retries': '+1' })).headers['x-envoy-attempt-count']).toBe('2');
    up.route('/route2/bad', status(500));
    expect((await get(proxy, '/route2/bad', { 'x-envoy-max-retries': '1.5' })).headers['x-envoy-attempt-count']).toBe('3');
  });

  it('retriable-headers with x-envoy-retriable-header-names', async () => {
    up.route('/rh', failTimes(1, status(500, 'later', { 'x-try-again': 'yes' })));
    const r = await get(proxy, '/rh', { 'x-envoy-retry-on': 'retriable-headers', 'x-envoy-retriable-header-names': 'X-Try-Again' });
    expect([r.status, up.count('/rh')]).toEqual([200, 2]);
    up.route('/rh2', failTimes(1, status(500)));
    const n = await get(proxy, '/rh2', { 'x-envoy-retry-on': 'retriable-headers', 'x-envoy-retriable-header-names': 'x-try-again' });
    expect([n.status, up.count('/rh2')]).toEqual([500, 1]);
  });

  it('never retries a response with x-envoy-ratelimited, unless envoy-ratelimited', async () => {
    up.route('/rl', failTimes(1, status(429, '', { 'x-envoy-ratelimited': 'true' })));
    const r = await get(proxy, '/rl', { 'x-envoy-retry-on': 'retriable-status-codes', 'x-envoy-retriable-status-codes': '429' });
    expect([r.status, up.count('/rl')]).toEqual([429, 1]);
    up.route('/rl2', failTimes(1, status(429, '', { 'x-envoy-ratelimited': 'true' })));
    const ok = await get(proxy, '/rl2', { 'x-envoy-retry-on': 'envoy-ratelimited' });
    expect([ok.status, up.count('/rl2')]).toEqual([200, 2]);
  });

  it('reset-before-request retries connect failures, not resets of a request already sent', async () => {
    const r = await get(proxy, '/dead', { 'x-envoy-retry-on': 'reset-before-request', 'x-envoy-max-retries': '2' });
    expect([r.status, r.headers['x-envoy-attempt-count']]).toEqual([503, '3']);
    up.route('/sent', failTimes(1, action({ kind: 'reset' })));
    const s = await get(proxy, '/sent', { 'x-envoy-retry-on': 'reset-before-request' });
    expect([s.status, up.count('/sent')]).toEqual([503, 1]);
  });

  it('a per-try timeout is retried only under reset, 5xx or gateway-error', async () => {
    up.route('/pt4xx', sequence([delay(400), delay(0)]));
    const r = await get(proxy, '/pt4xx', { 'x-envoy-retry-on': 'retriable-4xx', 'x-envoy-upstream-rq-per-try-timeout-ms': '100' });
    expect([r.status, r.text, r.headers['x-envoy-attempt-count']]).toEqual([504, 'upstream request timeout', '1']);
    up.route('/ptreset', sequence([delay(400), delay(0)]));
    const ok = await get(proxy, '/ptreset', { 'x-envoy-retry-on': 'reset', 'x-envoy-upstream-rq-per-try-timeout-ms': '100' });
    expect([ok.status, ok.headers['x-envoy-attempt-count']]).toEqual([200, '2']);
  });

  it('the per-try timeout starts once the request body is complete', async () => {
    up.route('/slowbody', status(200, 'ok'));
    const body = Readable.from(
      (async function* () {
        yield Buffer.from('first;');
        await new Promise((r) => setTimeout(r, 300));
        yield Buffer.from('second');
      })(),
    );
    const res = await request(`http://${proxy.listeners[0].address}/slowbody`, {
      method: 'POST',
      headers: { 'x-envoy-retry-on': '5xx', 'x-envoy-upstream-rq-per-try-timeout-ms': '150' },
      body,
    });
    expect([res.statusCode, await res.body.text()]).toEqual([200, 'ok']);
    expect(up.requests.filter((q) => q.path === '/slowbody').map((q) => q.body.toString())).toEqual(['first;second']);
  });

  it('replays body and trailers on every attempt, over HTTP/2 too, and counts attempts upstream', async () => {
    up.route('/h2/replay', failTimes(2, status(503)));
    const out = await new Promise<{ status: number; count?: string }>((resolve, reject) => {
      const session = http2.connect(`http://${proxy.listeners[0].address}`);
      session.on('error', reject);
      const req = session.request({ ':method': 'POST', ':path': '/h2/replay', 'x-envoy-retry-on': '5xx', 'x-envoy-max-retries': '3' }, { waitForTrailers: true });
      req.on('wantTrailers', () => req.sendTrailers({ 'x-checksum': 'abc' }));
      req.on('response', (h) => {
        req.resume();
        req.on('end', () => {
          session.close();
          resolve({ status: Number(h[':status']), count: h['x-envoy-attempt-count'] as string | undefined });
        });
      });
      req.end('payment=42');
    });
    expect(out).toEqual({ status: 200, count: '3' });
    const seen = up.requests.filter((q) => q.path === '/h2/replay');
    expect(seen.map((q) => [q.headers['x-envoy-attempt-count'], q.body.toString(), q.trailers['x-checksum'], q.protocol])).toEqual([
      ['1', 'payment=42', 'abc', 'HTTP/2'],
      ['2', 'payment=42', 'abc', 'HTTP/2'],
      ['3', 'payment=42', 'abc', 'HTTP/2'],
    ]);
  });

  it('gives up retrying a body larger than the buffer limit (retry_or_shadow_abandoned)', async () => {
    up.route('/huge', failTimes(1, status(503)));
    const r = await get(proxy, '/huge', { 'x-envoy-retry-on': '5xx' }, { method: 'POST', body: Buffer.alloc(2 << 20, 97) });
    expect([r.status, up.count('/huge')]).toEqual([503, 1]);
    const stats = await (await request(`http://${proxy.admin!.address}/stats?filter=retry_or_shadow_abandoned`)).body.text();
    expect(stats).toMatch(/cluster\.backend\.retry_or_shadow_abandoned: [1-9]/);
  });
});

describe('router retries: external clients (Envoy’s default, nothing internal)', () => {
  it('cannot set any retry or timeout header, x-envoy-retriable-status-codes included', async () => {
    const up = await startUpstream();
    const proxy = await startProxy({
      portOverride: 0,
      concurrency: 1,
      logLevel: 'error',
      bootstrap: bootstrap({
        virtualHosts: [{ routes: [{ match: { prefix: '/' }, route: { cluster: 'b', retry_policy: { retry_on: 'retriable-status-codes', num_retries: 3 } } }] }],
        clusters: { b: { endpoints: [up.address] } },
      }),
    });
    try {
      up.route('/teapot', failTimes(1, status(418)));
      const r = await get(proxy, '/teapot', { 'x-envoy-retriable-status-codes': '418', 'x-envoy-hedge-on-per-try-timeout': 'true', 'x-envoy-original-url': 'http://evil/' });
      expect([r.status, up.count('/teapot')]).toEqual([418, 1]);
      const seen = up.requests[0].headers;
      expect([seen['x-envoy-retriable-status-codes'], seen['x-envoy-hedge-on-per-try-timeout'], seen['x-envoy-original-url']]).toEqual([undefined, undefined, undefined]);
    } finally {
      await proxy.stop();
      await up.close();
    }
  });
});

describe('router retries: the max_retries circuit breaker (concurrency 4)', () => {
  it('is counted across all worker threads, as Envoy’s cluster resource manager does', async () => {
    const concurrent = 8;
    // The first attempts all fail at the same moment; each retry is answered after 400 ms,
    // so every retry decision happens while the retries already granted are still open.
    let waiting: Array<() => void> = [];
    const together: UpstreamHandler = (_req: RecordedRequest) =>
      new Promise((resolve) => {
        waiting.push(() => resolve({ kind: 'respond', status: 503 }));
        if (waiting.length === concurrent) for (const f of waiting.splice(0)) f();
      });
    const up = await startUpstream();
    up.route('/cb/', (req) => (req.headers['x-envoy-attempt-count'] === '1' ? together(req) : delay(400, status(200))(req)));
    const proxy = await startProxy({
      portOverride: 0,
      concurrency: 4,
      logLevel: 'error',
      bootstrap: bootstrap({
        hcm: TRUST_LOOPBACK,
        virtualHosts: [{ include_request_attempt_count: true, routes: [{ match: { prefix: '/' }, route: { cluster: 'b', retry_policy: { retry_on: '5xx', num_retries: 1 } } }] }],
        clusters: { b: { endpoints: [up.address], extra: { circuit_breakers: { thresholds: [{ max_retries: 2 }] } } } },
      }),
    });
    try {
      const statuses = await Promise.all(
        Array.from({ length: concurrent }, (_, i) => request(`http://${proxy.listeners[0].address}/cb/${i}`, { reset: true }).then(async (r) => (await r.body.text(), r.statusCode))),
      );
      expect(statuses.filter((s) => s === 200).length).toBe(2);
      expect(statuses.filter((s) => s === 503).length).toBe(concurrent - 2);
      const stats = await (await request(`http://${proxy.admin!.address}/stats?filter=upstream_rq_retry`)).body.text();
      expect(stats).toMatch(/cluster\.b\.upstream_rq_retry: 2$/m);
      expect(stats).toMatch(new RegExp(`cluster\\.b\\.upstream_rq_retry_overflow: ${concurrent - 2}$`, 'm'));
    } finally {
      await proxy.stop();
      await up.close();
    }
  }, 20_000);
});
