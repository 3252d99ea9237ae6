// The retry filter (build/retry.wasm) on Envoy in front of flaky upstreams: what users see
// through real HTTP and gRPC (--concurrency 1), and the retry budget shared by
// --concurrency 4 worker threads, in a storm and in bursts of concurrent failures.
// Reported as skipped, with the reason, where there is no Envoy.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Pool, request } from 'undici';
import * as grpc from '@grpc/grpc-js';
import { envoyAvailable, envoySuiteTitle, startEnvoy, type EnvoyProcess } from '../../harness/envoy/runner.ts';
import { pluginConfig, testModule } from '../../harness/host/testing.ts';
import { action, callEcho, echoClient, failTimes, startGrpcUpstream, startUpstream, status, type GrpcUpstream, type Upstream, type UpstreamHandler } from '../../harness/upstream/index.ts';
import { bootstrap, TRUST_LOOPBACK } from './bootstrap.ts';
import { ECHO_GRPC } from '../filters/retry/policies.ts';
import { metric, prometheus, workerConnections } from './envoy-stats.ts';
import { wasmHttpFilter } from './wasm-filter.ts';

/** The seeds' policies (envoy/retry.yaml), and one for the gRPC upstream. */
const POLICIES = [...(pluginConfig('envoy/retry.yaml', 'retry').policies as unknown[]), ECHO_GRPC];

/** build/retry.wasm, or `RETRY_WASM` (another build of the filter). */
let WASM = '';

/** Envoy's fixed part of a route's retry policy: only the backoff (short here; envoy/mesh.yaml has the seeds' 2 s and 0.5 s). */
const BACKOFF = { retry_policy: { retry_back_off: { base_interval: '0.01s', max_interval: '0.05s' } } };

const MANY_RETRIES = { circuit_breakers: { thresholds: [{ max_retries: 1000 }] } };

function meshBootstrap(filterConfig: unknown, backend: string, grpcBackend?: string): Record<string, unknown> {
  return bootstrap({
    hcm: TRUST_LOOPBACK, // mesh traffic: clients' x-envoy-* headers reach the filters, which must strip them
    filters: [wasmHttpFilter('retry', WASM, filterConfig)],
    virtualHosts: [
      {
        name: 'mesh',
        include_request_attempt_count: true,
        include_attempt_count_in_response: true,
        routes: [
          ...(grpcBackend ? [{ match: { prefix: '/mesh.test.v1.EchoService/', grpc: {} }, route: { cluster: 'grpc', ...BACKOFF } }] : []),
          { match: { prefix: '/' }, route: { cluster: 'backend', ...BACKOFF } },
        ],
      },
    ],
    // Envoy's default max_retries circuit breaker (3 retries open at a time) would cut a storm first.
    clusters: { backend: { endpoints: [backend], extra: MANY_RETRIES }, ...(grpcBackend ? { grpc: { endpoints: [grpcBackend], http2: true } } : {}) },
  });
}

const envoy = envoyAvailable();

const start = (doc: Record<string, unknown>, concurrency: number) => startEnvoy({ bootstrap: doc, concurrency, portOverride: 0, availability: envoy });

async function call(proxy: EnvoyProcess, p: string, opts: { method?: string; headers?: Record<string, string>; body?: string } = {}) {
  const res = await request(`http://${proxy.listeners.ingress}${p}`, { method: (opts.method ?? 'GET') as 'GET', headers: opts.headers, body: opts.body, reset: true });
  const text = await res.body.text();
  return { status: res.statusCode, headers: res.headers as Record<string, string>, text };
}

/** A counter's value, NaN when absent (fails every bound). */
const counter = (text: string, name: string, labels: Record<string, string> = {}): number => metric(text, name, labels) ?? NaN;

describe.skipIf(!envoy.ok)(envoySuiteTitle('retry filter on Envoy', envoy), () => {
  beforeAll(async () => {
    WASM = process.env.RETRY_WASM ?? (await testModule('retry'));
  }, 180_000);

  describe('policies against flaky upstreams (--concurrency 1)', () => {
    let up: Upstream;
    let g: GrpcUpstream;
    let proxy: EnvoyProcess;

    beforeAll(async () => {
      up = await startUpstream({ name: 'flaky' });
      g = await startGrpcUpstream();
      proxy = await start(meshBootstrap({ policies: POLICIES }, up.address, g.address), 1);
    });
    afterAll(async () => {
      await proxy?.stop();
      await Promise.all([up?.close(), g?.close()]);
    });

    it('a GET that fails twice then succeeds returns 200 after 3 attempts', async () => {
      up.route('/api/credit-bureau/score', failTimes(2, status(503)));
      const r = await call(proxy, '/api/credit-bureau/score');
      expect([r.status, r.headers['x-envoy-attempt-count']]).toEqual([200, '3']);
      expect(up.count('/api/credit-bureau/score')).toBe(3);
      expect(up.requests.filter((q) => q.path === '/api/credit-bureau/score').map((q) => q.headers['x-envoy-attempt-count'])).toEqual(['1', '2', '3']);
      // The router consumed the filter's headers: none reaches the service.
      expect(Object.keys(up.requests.at(-1)!.headers).filter((h) => /^x-envoy-(retry|max-retries|retriable|upstream-rq)/.test(h))).toEqual([]);
    });

    it('reads retry 429 (retriable_status_codes) and stop after 5 retries', async () => {
      up.route('/api/documents/429', failTimes(1, status(429)));
      expect((await call(proxy, '/api/documents/429')).status).toBe(200);
      up.route('/api/documents/down', status(503, 'down'));
      const r = await call(proxy, '/api/documents/down');
      expect([r.status, r.text, r.headers['x-envoy-attempt-count']]).toEqual([503, 'down', '6']);
      expect(up.count('/api/documents/down')).toBe(6);
    });

    it('a POST without an idempotency key is tried once', async () => {
      up.route('/api/transactions/no-key', failTimes(1, action({ kind: 'reset' })));
      const r = await call(proxy, '/api/transactions/no-key', { method: 'POST', body: '{"amount":100}', headers: { 'content-type': 'application/json' } });
      expect(r.status).toBe(503);
      expect(r.text).toContain('reset reason: connection termination');
      expect(r.headers['x-envoy-attempt-count']).toBe('1');
      expect(up.count('/api/transactions/no-key')).toBe(1);
    });

    it('a POST with its idempotency key is retried per policy, its body replayed', async () => {
      up.route('/api/transactions/keyed', failTimes(2, action({ kind: 'reset' })));
      const body = '{"amount":100,"to":"ACME"}';
      const r = await call(proxy, '/api/transactions/keyed', { method: 'POST', body, headers: { 'content-type': 'application/json', 'idempotency-key': 'a1b2c3' } });
      expect([r.status, r.headers['x-envoy-attempt-count']]).toEqual([200, '3']);
      const seen = up.requests.filter((q) => q.path === '/api/transactions/keyed');
      expect(seen.map((q) => [q.body.toString(), q.headers['idempotency-key']])).toEqual([
        [body, 'a1b2c3'],
        [body, 'a1b2c3'],
        [body, 'a1b2c3'],
      ]);
      // Two retries at most: a third failure is returned.
      up.route('/api/transactions/keyed-down', action({ kind: 'reset' }));
      const down = await call(proxy, '/api/transactions/keyed-down', { method: 'POST', body, headers: { 'idempotency-key': 'k2' } });
      expect([down.status, up.count('/api/transactions/keyed-down')]).toEqual([503, 3]);
    });

    it('a client’s x-envoy-max-retries: 100 has no effect', async () => {
      const forged = { 'x-envoy-max-retries': '100', 'x-envoy-retry-on': '5xx,reset', 'x-envoy-upstream-rq-per-try-timeout-ms': '1' };
      up.route('/api/transactions/forged', action({ kind: 'reset' }));
      const post = await call(proxy, '/api/transactions/forged', { method: 'POST', body: 'x', headers: forged });
      expect([post.status, up.count('/api/transactions/forged')]).toEqual([503, 1]);
      up.route('/api/documents/forged', status(500));
      const get = await call(proxy, '/api/documents/forged', { headers: forged });
      expect([get.status, up.count('/api/documents/forged')]).toEqual([500, 6]);
      // A method no policy covers: the client's headers are removed, nothing is retried.
      up.route('/api/documents/delete', status(503));
      expect((await call(proxy, '/api/documents/delete', { method: 'DELETE', headers: forged })).status).toBe(503);
      expect(up.count('/api/documents/delete')).toBe(1);
    });

    it('a gRPC call failing with UNAVAILABLE is retried per retry_grpc_on; INTERNAL is not', async () => {
      const client = echoClient(proxy.listeners.ingress);
      try {
        const ok = await callEcho(client, { message: 'hi', key: 'u1', fail_code: grpc.status.UNAVAILABLE, fail_times: 2 });
        expect([ok.message, ok.attempt]).toEqual(['hi', 3]);
        expect(g.calls('u1')).toBe(3);
        await expect(callEcho(client, { key: 'i1', fail_code: grpc.status.INTERNAL, fail_times: 1 })).rejects.toMatchObject({ code: grpc.status.INTERNAL });
        expect(g.calls('i1')).toBe(1);
        await expect(callEcho(client, { key: 'u2', fail_code: grpc.status.UNAVAILABLE })).rejects.toMatchObject({ code: grpc.status.UNAVAILABLE });
        expect(g.calls('u2')).toBe(4);
      } finally {
        client.close();
      }
    });

    it('exposes its counters on /stats/prometheus', async () => {
      const prom = await prometheus(proxy.adminAddress);
      expect(counter(prom, 'retry_policy_requests_total', { policy: 'reads' })).toBeGreaterThanOrEqual(4);
      expect(counter(prom, 'retry_policy_retries_total', { policy: 'reads' })).toBeGreaterThanOrEqual(2 + 1 + 5 + 5);
      expect(counter(prom, 'retry_policy_retries_total', { policy: 'financial-transactions' })).toBeGreaterThanOrEqual(2 + 2);
      expect(counter(prom, 'retry_policy_retries_total', { policy: 'grpc' })).toBeGreaterThanOrEqual(2 + 3);
      expect(counter(prom, 'retry_idempotency_guarded_total')).toBeGreaterThanOrEqual(2);
      expect(counter(prom, 'retry_retries_total')).toBe(counter(prom, 'retry_policy_retries_total', { policy: 'reads' }) + counter(prom, 'retry_policy_retries_total', { policy: 'financial-transactions' }) + counter(prom, 'retry_policy_retries_total', { policy: 'grpc' }));
    });
  });

  describe('retry budget across 4 worker threads (--concurrency 4)', () => {
    /** Runs `total` requests with `parallel` at a time, each on its own connection (spread over the workers). */
    async function storm(proxy: EnvoyProcess, p: (i: number) => string, total: number, parallel: number) {
      let next = 0;
      const statuses: number[] = [];
      await Promise.all(
        Array.from({ length: parallel }, async () => {
          while (next < total) {
            const i = next++;
            statuses.push((await call(proxy, p(i))).status);
          }
        }),
      );
      return statuses;
    }

    it('a storm of failures stays within ratio × requests + min_retries_per_second × window', async () => {
      const up = await startUpstream();
      up.route('/storm/', status(503));
      const budget = { ratio: 0.2, min_retries_per_second: 1, window: '10s' };
      const proxy = await start(meshBootstrap({ policies: POLICIES, budget }, up.address), 4);
      try {
        const requests = 120;
        const parallel = 6;
        const statuses = await storm(proxy, (i) => `/storm/${i}`, requests, parallel);
        expect(statuses.every((s) => s === 503)).toBe(true);
        const retries = up.count('/storm/') - requests;
        const allowance = budget.ratio * requests + budget.min_retries_per_second * 10; // 34
        // Retries are reserved at admission: requests in flight at once cannot overdraw the budget.
        expect(retries).toBeLessThanOrEqual(allowance);
        expect(retries).toBeGreaterThanOrEqual(allowance / 2);
        // Without the budget the storm would have sent 5 retries per request.
        expect(retries).toBeLessThan(requests * 5 * 0.2);
        const prom = await prometheus(proxy.adminAddress);
        expect(counter(prom, 'retry_budget_exhausted_total')).toBeGreaterThan(requests / 2);
        expect(counter(prom, 'retry_retries_total')).toBe(retries);
        expect((await workerConnections(proxy.adminAddress)).map((n) => n > 0)).toEqual([true, true, true, true]);
      } finally {
        await proxy.stop();
        await up.close();
      }
    }, 20_000);

    it('counts every request and retry of every worker with CAS: the shared budget ends exact', async () => {
      // Budget = 129/128 × requests − retries reserved: 1023 requests granted and using one
      // retry each, then a probe allowed 100 retries gets 129/128 × 1024 − 1023 = 9 of them.
      // One request or reservation lost by a worker overwriting another's update would make
      // that 7 or 10.
      const budget = { ratio: 1.0078125, min_retries_per_second: 0, window: '60s' };
      const requests = 1023;
      const up = await startUpstream();
      up.route('/cas/', (req) => ({ kind: 'respond', status: req.headers['x-envoy-attempt-count'] === '1' ? 503 : 200 }));
      up.route('/probe', status(503));
      const policies = [
        { name: 'once', match: { prefix: '/cas/' }, max_retries: 1, retry_on: ['5xx'] },
        { name: 'probe', match: { prefix: '/probe' }, max_retries: 100, retry_on: ['5xx'] },
      ];
      const proxy = await start(meshBootstrap({ policies, budget }, up.address), 4);
      // 64 keep-alive connections, which the kernel spreads over the 4 workers' listen sockets (reuse_port).
      const pool = new Pool(`http://${proxy.listeners.ingress}`, { connections: 64 });
      try {
        let next = 0;
        let ok = 0;
        await Promise.all(
          Array.from({ length: 64 }, async () => {
            while (next < requests) {
              const res = await pool.request({ path: `/cas/${next++}`, method: 'GET' });
              await res.body.text();
              if (res.statusCode === 200 && res.headers['x-envoy-attempt-count'] === '2') ok++;
            }
          }),
        );
        expect(ok).toBe(requests);
        const probe = await call(proxy, '/probe');
        expect(Number(probe.headers['x-envoy-attempt-count']) - 1).toBe(9);
        const prom = await prometheus(proxy.adminAddress);
        expect(counter(prom, 'retry_retries_total')).toBe(requests + 9);
        expect((await workerConnections(proxy.adminAddress)).map((n) => n > 0)).toEqual([true, true, true, true]);
      } finally {
        await pool.close();
        await proxy.stop();
        await up.close();
      }
    }, 20_000);
  });

  describe('retry budget in a burst of concurrent failing requests (--concurrency 4)', () => {
    // 20 % + 10/s over 10 s: a burst of n may cause at most 0.2 n + 100 retries. The window
    // is long enough to hold a whole burst, so no reservation slides out of it meanwhile.
    const budget = { ratio: 0.2, min_retries_per_second: 10, window: '10s' };
    const WINDOW_SECONDS = 10;
    // 5 retries on any 5xx, no per-try timeout (a held first attempt must not time out).
    const policies = [{ name: 'burst', match: { prefix: '/burst/' }, max_retries: 5, retry_on: ['5xx'] }];
    // Envoy's cluster limits (1024 connections/requests, 3 retries at a time) would cut a burst before the budget does.
    const UNLIMITED = { circuit_breakers: { thresholds: [{ max_connections: 100_000, max_pending_requests: 100_000, max_requests: 100_000, max_retries: 100_000 }] } };

    /**
     * An always-503 upstream that holds every first attempt until `n` have arrived (or
     * `capMs` passed), so all n requests are admitted and in flight before any fails;
     * retries get their 503 at once.
     */
    function heldFailures(n: number, capMs: number): { handler: UpstreamHandler; close(): void } {
      let arrived = 0;
      let open = false;
      let waiting: Array<() => void> = [];
      let timer: NodeJS.Timeout | undefined;
      const release = () => {
        open = true;
        clearTimeout(timer);
        for (const w of waiting) w();
        waiting = [];
      };
      const handler: UpstreamHandler = async (req) => {
        if (!open && req.headers['x-envoy-attempt-count'] === '1') {
          if (++arrived >= n) release();
          else {
            timer ??= setTimeout(release, capMs);
            await new Promise<void>((resolve) => waiting.push(resolve));
          }
        }
        return { kind: 'respond', status: 503, body: 'down' };
      };
      return { handler, close: release };
    }

    for (const n of [50, 200, 1000]) {
      const bound = Math.floor(budget.ratio * n + budget.min_retries_per_second * WINDOW_SECONDS);
      it(`${n} concurrent always-503 GETs: the upstream gets at most ratio × ${n} + min_retries_per_second × window = ${bound} retries`, async () => {
        const up = await startUpstream();
        const held = heldFailures(n, 8_000);
        up.route('/burst/', held.handler);
        const doc = bootstrap({
          filters: [wasmHttpFilter('retry', WASM, { policies, budget })],
          virtualHosts: [{ name: 'burst', include_request_attempt_count: true, include_attempt_count_in_response: true, routes: [{ match: { prefix: '/' }, route: { cluster: 'backend', ...BACKOFF } }] }],
          // HTTP/2 to the upstream: a few multiplexed connections, not n at once into Node's listen backlog.
          clusters: { backend: { endpoints: [up.address], http2: true, extra: UNLIMITED } },
        });
        // n connections at once: a backlog above Envoy's default 128 per worker socket, or SYNs are dropped and retried a second later.
        (doc.static_resources as { listeners: Array<Record<string, unknown>> }).listeners[0].tcp_backlog_size = 4096;
        const proxy = await start(doc, 4);
        // One connection per request, which the kernel spreads over the 4 workers' listen sockets.
        const pool = new Pool(`http://${proxy.listeners.ingress}`, { connections: n });
        try {
          const statuses = await Promise.all(
            Array.from({ length: n }, async (_, i) => {
              const res = await pool.request({ path: `/burst/${i}`, method: 'GET' });
              await res.body.text();
              return res.statusCode;
            }),
          );
          expect(statuses.filter((s) => s !== 503)).toEqual([]);
          const retries = up.count('/burst/') - n;
          expect(retries).toBeLessThanOrEqual(bound);
          // The budget was spent, not merely unused: 5 retries a request would be 5 n.
          expect(retries).toBeGreaterThanOrEqual(Math.floor(bound * 0.9));
          const prom = await prometheus(proxy.adminAddress);
          expect(counter(prom, 'retry_retries_total')).toBe(retries);
          expect(counter(prom, 'retry_budget_exhausted_total')).toBeGreaterThan(0);
          expect((await workerConnections(proxy.adminAddress)).map((c) => c > 0)).toEqual([true, true, true, true]);
        } finally {
          held.close();
          await pool.close();
          await proxy.stop();
          await up.close();
        }
      }, 60_000);
    }
  });
});
