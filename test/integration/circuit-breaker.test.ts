/**
 * circuit-breaker on Envoy with `--concurrency 4` (four worker threads, one VM each, one
 * shared-data store): counts the requests that reach programmable upstreams while circuits
 * open, probe and close, so a filter whose read-modify-write skipped CAS would let more
 * through than these tests allow. Reported as skipped, with the reason, where there is no
 * Envoy.
 */
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { envoyAvailable, envoySuiteTitle, startEnvoy, type EnvoyProcess } from '../../harness/envoy/runner.ts';
import { action, delay, echo, failTimes, startUpstream, status, type Upstream } from '../../harness/upstream/index.ts';
import { buildBreaker } from '../filters/circuit-breaker/harness.ts';
import { bootstrap } from './bootstrap.ts';
import { prometheus, workerConnections } from './envoy-stats.ts';
import { wasmHttpFilter } from './wasm-filter.ts';

const CONCURRENCY = 4;

const CONFIG = {
  services: [
    // the seeds' credit bureau, with a short open_duration
    { name: 'credit-bureau', match: { prefix: '/api/credit-bureau' }, failure_threshold: 3, open_duration: '60s', half_open_requests: 3, timeout: '10s' },
    { name: 'probe', match: { prefix: '/api/probe' }, failure_threshold: 1, open_duration: '1s', half_open_requests: 3, success_threshold: 3 },
    { name: 'documents', match: { prefix: '/api/documents' }, failure_threshold: 0, max_concurrent_requests: 3 },
    { name: 'scoring', match: { prefix: '/api/scoring' }, failure_threshold: 2, open_duration: '60s', open_action: { fallback_header: { name: 'x-fallback', value: 'scoring' } } },
    { name: 'banking', cluster: 'banking', failure_threshold: 5, open_duration: '30s', timeout: '15s' },
    { name: 'slow', match: { prefix: '/api/slow' }, failure_threshold: 2, timeout: '0.3s' },
    { name: 'cancel', match: { prefix: '/api/cancel' }, failure_threshold: 1 },
    { name: 'ledger', match: { prefix: '/api/ledger' }, failure_threshold: 400 },
    { name: 'down', cluster: 'down', failure_threshold: 2 },
  ],
};

interface Upstreams {
  main: Upstream;
  dr: Upstream;
  banking: Upstream;
  close(): Promise<void>;
}

async function startUpstreams(): Promise<Upstreams> {
  const main = await startUpstream({ name: 'main' });
  main.route('/api/credit-bureau/fail-test', status(503, '{"error":"service_unavailable"}'));
  main.route('/api/probe', failTimes(1, status(503), delay(800, echo())));
  main.route('/api/documents', delay(800, echo()));
  main.route('/api/scoring', status(503));
  main.route('/api/slow', delay(1500, echo()));
  main.route('/api/cancel/hang', action({ kind: 'hang' }));
  main.route('/api/ledger', status(503));
  const dr = await startUpstream({ name: 'dr' });
  const banking = await startUpstream({ name: 'banking' });
  banking.route('/api/banking/fail', status(500));
  return { main, dr, banking, close: async () => void (await Promise.all([main.close(), dr.close(), banking.close()])) };
}

function breakerBootstrap(wasm: string, ups: Upstreams): Record<string, unknown> {
  return bootstrap({
    filters: [wasmHttpFilter('circuit-breaker', wasm, CONFIG)],
    virtualHosts: [
      {
        routes: [
          // the fail-over route: chosen once the filter sets x-fallback
          { name: 'scoring-dr', match: { prefix: '/api/scoring', headers: [{ name: 'x-fallback', string_match: { exact: 'scoring' } }] }, route: { cluster: 'dr' } },
          { name: 'banking', match: { prefix: '/api/banking' }, route: { cluster: 'banking' } },
          { name: 'down', match: { prefix: '/api/down' }, route: { cluster: 'down' } },
          { name: 'main', match: { prefix: '/' }, route: { cluster: 'main', timeout: '10s' } },
        ],
      },
    ],
    clusters: {
      main: { endpoints: [ups.main.address] },
      dr: { endpoints: [ups.dr.address] },
      banking: { endpoints: [ups.banking.address] },
      down: { endpoints: ['127.0.0.1:1'], connect_timeout: '0.25s' }, // nothing listens: connect failures
    },
  });
}

// Many connections, so that concurrent requests spread over every worker.
const agent = new Agent({ connections: 64, pipelining: 1 });

async function get(proxy: EnvoyProcess, p: string, opts: { signal?: AbortSignal; headers?: Record<string, string> } = {}): Promise<{ status: number; headers: Record<string, string>; body: string }> {
  const res = await request(`http://${proxy.listeners.ingress}${p}`, { dispatcher: agent, signal: opts.signal, headers: opts.headers });
  const body = await res.body.text();
  return { status: res.statusCode, headers: res.headers as Record<string, string>, body };
}

const all = <T>(n: number, fn: (i: number) => Promise<T>): Promise<T[]> => Promise.all(Array.from({ length: n }, (_, i) => fn(i)));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const envoy = envoyAvailable();

describe.skipIf(!envoy.ok)(envoySuiteTitle(`circuit-breaker on Envoy (--concurrency ${CONCURRENCY})`, envoy), () => {
  let ups: Upstreams;
  let proxy: EnvoyProcess;
  beforeAll(async () => {
    const wasm = await buildBreaker();
    ups = await startUpstreams();
    proxy = await startEnvoy({ bootstrap: breakerBootstrap(wasm, ups), concurrency: CONCURRENCY, portOverride: 0, availability: envoy });
  }, 180_000);
  afterAll(async () => {
    await proxy?.stop();
    await ups?.close();
    await agent.close();
  });

  it('opens after 3 failures (the seeds fail-test); while OPEN no request of any worker reaches the upstream', async () => {
    for (let i = 0; i < 3; i++) expect((await get(proxy, '/api/credit-bureau/fail-test')).status).toBe(503);
    const before = ups.main.count('/api/credit-bureau');
    expect(before).toBe(3);
    const replies = await all(40, (i) => get(proxy, `/api/credit-bureau/report?i=${i}`));
    expect(ups.main.count('/api/credit-bureau')).toBe(before);
    for (const r of replies) {
      expect(r.status).toBe(503);
      expect(r.headers['x-circuit-breaker']).toBe('open');
      expect(Number(r.headers['retry-after'])).toBeGreaterThanOrEqual(59);
      expect(r.headers['content-type']).toBe('application/json');
      expect(r.body).toBe('{"error":"circuit_open"}');
    }
    const prom = await prometheus(proxy.adminAddress);
    expect(prom).toMatch(/^circuit_breaker_credit_bureau_state\{\} 1$/m);
    expect(prom).toMatch(/^circuit_breaker_credit_bureau_transition_closed_to_open\{\} 1$/m);
    expect(prom).toMatch(/^circuit_breaker_credit_bureau_rejected_open\{\} 40$/m);
  });

  it('HALF_OPEN lets exactly half_open_requests probes through across 4 workers, then closes', async () => {
    expect((await get(proxy, '/api/probe/x')).status).toBe(503); // opens (failure_threshold 1)
    expect((await get(proxy, '/api/probe/x')).headers['x-circuit-breaker']).toBe('open');
    await sleep(1100); // open_duration 1s
    const before = ups.main.count('/api/probe');
    const replies = await all(48, (i) => get(proxy, `/api/probe/x?i=${i}`));
    // the three probes each take 800 ms upstream: every other request found the slots taken
    expect(ups.main.count('/api/probe') - before).toBe(3);
    expect(replies.filter((r) => r.status === 200)).toHaveLength(3);
    expect(replies.filter((r) => r.headers['x-circuit-breaker'] === 'open')).toHaveLength(45);
    expect((await workerConnections(proxy.adminAddress)).map((n) => n > 0)).toEqual([true, true, true, true]); // the requests came through every worker
    // three successes closed it
    const after = await all(8, () => get(proxy, '/api/probe/y'));
    expect(after.every((r) => r.status === 200)).toBe(true);
    const prom = await prometheus(proxy.adminAddress);
    expect(prom).toMatch(/^circuit_breaker_probe_state\{\} 0$/m);
    expect(prom).toMatch(/^circuit_breaker_probe_transition_open_to_half_open\{\} 1$/m);
    expect(prom).toMatch(/^circuit_breaker_probe_transition_half_open_to_closed\{\} 1$/m);
  });

  it('counts failures from 4 workers at once exactly: the 400th consecutive failure opens it, not the 399th', async () => {
    const first = await all(399, (i) => get(proxy, `/api/ledger/${i}`));
    expect(first.every((r) => r.status === 503 && r.headers['x-circuit-breaker'] === undefined)).toBe(true);
    expect((await get(proxy, '/api/ledger/400')).headers['x-circuit-breaker']).toBeUndefined();
    expect(ups.main.count('/api/ledger')).toBe(400);
    expect((await get(proxy, '/api/ledger/401')).headers['x-circuit-breaker']).toBe('open');
    expect(ups.main.count('/api/ledger')).toBe(400);
  });

  it('the bulkhead holds max_concurrent_requests in flight across all workers', async () => {
    const before = ups.main.count('/api/documents');
    const replies = await all(48, (i) => get(proxy, `/api/documents/${i}`));
    expect(ups.main.count('/api/documents') - before).toBe(3);
    expect(replies.filter((r) => r.status === 200)).toHaveLength(3);
    const rejected = replies.filter((r) => r.status === 503);
    expect(rejected).toHaveLength(45);
    expect(rejected.every((r) => r.headers['x-circuit-breaker'] === 'bulkhead' && r.headers['retry-after'] === undefined)).toBe(true);
    expect((await get(proxy, '/api/documents/again')).status).toBe(200); // slots came back
    expect(await prometheus(proxy.adminAddress)).toMatch(/^circuit_breaker_documents_rejected_bulkhead\{\} 45$/m);
  });

  it('OPEN with a fallback header: the route is re-evaluated and requests fail over to the other cluster', async () => {
    // a client cannot pick the fail-over route itself
    const forged = await get(proxy, '/api/scoring/a', { headers: { 'x-fallback': 'scoring' } });
    expect(forged.status).toBe(503);
    await get(proxy, '/api/scoring/a');
    const primary = ups.main.count('/api/scoring');
    expect(primary).toBe(2);
    const replies = await all(10, (i) => get(proxy, `/api/scoring/b?i=${i}`));
    expect(ups.main.count('/api/scoring')).toBe(primary);
    expect(ups.dr.count('/api/scoring')).toBe(10);
    for (const r of replies) {
      expect(r.status).toBe(200);
      expect(r.headers['x-circuit-breaker']).toBe('fallback');
      expect(JSON.parse(r.body)).toMatchObject({ upstream: 'dr', headers: { 'x-fallback': 'scoring' } });
    }
    expect(await prometheus(proxy.adminAddress)).toMatch(/^circuit_breaker_scoring_fallback\{\} 10$/m);
  });

  it('a client-sent fallback header is stripped before routing on a closed circuit', async () => {
    const before = ups.dr.count();
    const body = JSON.parse((await get(proxy, '/api/banking/ok', { headers: { 'x-fallback': 'scoring' } })).body);
    expect(body.upstream).toBe('banking');
    expect(body.headers['x-fallback']).toBeUndefined();
    expect(ups.dr.count()).toBe(before);
  });

  it('selects a service by the routed cluster (cluster_name)', async () => {
    for (let i = 0; i < 5; i++) expect((await get(proxy, '/api/banking/fail')).status).toBe(500);
    const before = ups.banking.count();
    const r = await get(proxy, '/api/banking/ok');
    expect(r.status).toBe(503);
    expect(r.headers['x-circuit-breaker']).toBe('open');
    expect(Number(r.headers['retry-after'])).toBeLessThanOrEqual(30);
    expect(ups.banking.count()).toBe(before);
  });

  it("timeout becomes the router's timeout; its 504 local replies count as failures", async () => {
    // the upstream answers after 1.5 s and the route allows 10 s: a 504 is the filter's 0.3 s timeout
    expect((await get(proxy, '/api/slow/a')).status).toBe(504);
    expect((await get(proxy, '/api/slow/b')).status).toBe(504);
    const r = await get(proxy, '/api/slow/c');
    expect(r.status).toBe(503);
    expect(r.headers['x-circuit-breaker']).toBe('open');
    expect(ups.main.count('/api/slow')).toBe(2);
  });

  it("counts Envoy's 503 local replies (upstream connect error) as failures", async () => {
    for (let i = 0; i < 2; i++) {
      const r = await get(proxy, '/api/down/x');
      expect(r.status).toBe(503);
      expect(r.headers['x-circuit-breaker']).toBeUndefined();
      expect(r.body).toMatch(/^upstream connect error/);
    }
    const r = await get(proxy, '/api/down/x');
    expect(r.status).toBe(503);
    expect(r.headers['x-circuit-breaker']).toBe('open');
  });

  it('requests the client cancels are not counted', async () => {
    await all(4, async () => {
      const controller = new AbortController();
      const pending = get(proxy, '/api/cancel/hang', { signal: controller.signal }).catch((e: Error) => e);
      await sleep(150);
      controller.abort();
      expect(await pending).toBeInstanceOf(Error);
    });
    await sleep(100);
    expect(ups.main.count('/api/cancel/hang')).toBe(4);
    expect((await get(proxy, '/api/cancel/ok')).status).toBe(200); // still CLOSED (failure_threshold 1)
    expect(await prometheus(proxy.adminAddress)).toMatch(/^circuit_breaker_cancel_state\{\} 0$/m);
  });
});
