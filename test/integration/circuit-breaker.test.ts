/**
 * circuit-breaker on Envoy with `--concurrency 4` (four worker threads, one VM each, one
 * shared-data store): counts the requests that reach programmable upstreams while circuits
 * open, probe and close, so a filter whose read-modify-write skipped CAS would let more
 * through than these tests allow; and the fail-over route (matched on the filter state the
 * filter sets), which a client's headers (any case, any count, HTTP/1.1 or HTTP/2) must
 * neither reach nor use to hide an upstream's failures. Reported as skipped, with the
 * reason, where there is no Envoy.
 */
import http2 from 'node:http2';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { envoyAvailable, envoySuiteTitle, startEnvoy, type EnvoyProcess } from '../../harness/envoy/runner.ts';
import { testModule } from '../../harness/host/testing.ts';
import { action, delay, echo, failTimes, startUpstream, status, type Upstream } from '../../harness/upstream/index.ts';
import { CREDIT_BUREAU } from '../filters/circuit-breaker/harness.ts';
import { bootstrap, type RouteSpec } from './bootstrap.ts';
import { metric, prometheus, workerConnections } from './envoy-stats.ts';
import { wasmHttpFilter } from './wasm-filter.ts';

const CONCURRENCY = 4;
/** The filter state an open circuit sets for its fail-over route. */
const FAILOVER_KEY = 'wasm.circuit_breaker.fallback';

const CONFIG = {
  services: [
    CREDIT_BUREAU, // the seeds' (envoy/istio/circuit-breaker.yaml)
    { name: 'probe', match: { prefix: '/api/probe' }, failure_threshold: 1, open_duration: '1s', half_open_requests: 3, success_threshold: 3 },
    { name: 'documents', match: { prefix: '/api/documents' }, failure_threshold: 0, max_concurrent_requests: 3 },
    // chosen by the cluster the route picked, each with a fail-over route (FAILOVER_KEY)
    { name: 'scoring', cluster: 'scoring', failure_threshold: 2, open_duration: '60s', open_action: { fallback_filter_state: { key: FAILOVER_KEY, value: 'scoring' } } },
    { name: 'quotes', cluster: 'quotes', failure_threshold: 3, open_duration: '60s', open_action: { fallback_filter_state: { key: FAILOVER_KEY, value: 'quotes' } } },
    // the quotes fail-over's own cluster: its outcomes count here, not against quotes
    { name: 'quotes-dr', cluster: 'quotes-dr', failure_threshold: 2, open_duration: '60s' },
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
  scoring: Upstream;
  quotes: Upstream;
  close(): Promise<void>;
}

async function startUpstreams(): Promise<Upstreams> {
  const main = await startUpstream({ name: 'main' });
  main.route('/api/credit-bureau/fail-test', status(503, '{"error":"service_unavailable"}'));
  main.route('/api/probe', failTimes(1, status(503), delay(800, echo())));
  main.route('/api/documents', delay(800, echo()));
  main.route('/api/slow', delay(1500, echo()));
  main.route('/api/cancel/hang', action({ kind: 'hang' }));
  main.route('/api/ledger', status(503));
  const dr = await startUpstream({ name: 'dr' });
  dr.route('/api/quotes/dr-fail', status(503));
  const banking = await startUpstream({ name: 'banking' });
  banking.route('/api/banking/fail', status(500));
  const scoring = await startUpstream({ name: 'scoring' });
  scoring.route('/api/scoring', status(503));
  const quotes = await startUpstream({ name: 'quotes' });
  quotes.route('/api/quotes', status(503));
  const all = [main, dr, banking, scoring, quotes];
  return { main, dr, banking, scoring, quotes, close: async () => void (await Promise.all(all.map((u) => u.close()))) };
}

/**
 * The fail-over route of `service`: chosen once the filter set FAILOVER_KEY to its name,
 * telling the fail-over upstream so in `x-fallback` (a client's own is overwritten).
 */
function failoverRoute(service: string, prefix: string, cluster: string): RouteSpec {
  const route = {
    name: `${service}-failover`,
    match: { prefix, filter_state: [{ key: FAILOVER_KEY, string_match: { exact: service } }] },
    route: { cluster },
    request_headers_to_add: [{ header: { key: 'x-fallback', value: `%FILTER_STATE(${FAILOVER_KEY}:PLAIN)%` }, append_action: 'OVERWRITE_IF_EXISTS_OR_ADD' }],
  };
  return route;
}

function breakerBootstrap(wasm: string, ups: Upstreams): Record<string, unknown> {
  return bootstrap({
    filters: [wasmHttpFilter('circuit-breaker', wasm, CONFIG)],
    virtualHosts: [
      {
        routes: [
          failoverRoute('scoring', '/api/scoring', 'dr'),
          failoverRoute('quotes', '/api/quotes', 'quotes-dr'),
          { name: 'scoring', match: { prefix: '/api/scoring' }, route: { cluster: 'scoring' } },
          { name: 'quotes', match: { prefix: '/api/quotes' }, route: { cluster: 'quotes' } },
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
      scoring: { endpoints: [ups.scoring.address] },
      quotes: { endpoints: [ups.quotes.address] },
      'quotes-dr': { endpoints: [ups.dr.address] },
      down: { endpoints: ['127.0.0.1:1'], connect_timeout: '0.25s' }, // nothing listens: connect failures
    },
  });
}

// Many connections, so that concurrent requests spread over every worker.
const agent = new Agent({ connections: 64, pipelining: 1 });

interface Reply {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** An HTTP/1.1 GET; `headers` as pairs are sent as given (names' case, repeats). */
async function get(proxy: EnvoyProcess, p: string, opts: { signal?: AbortSignal; headers?: Record<string, string> | [string, string][] } = {}): Promise<Reply> {
  const headers = Array.isArray(opts.headers) ? opts.headers.flat() : opts.headers;
  const res = await request(`http://${proxy.listeners.ingress}${p}`, { dispatcher: agent, signal: opts.signal, headers });
  const body = await res.body.text();
  return { status: res.statusCode, headers: res.headers as Record<string, string>, body };
}

/** An HTTP/2 (h2c, prior knowledge) GET; a header given as a list is sent once per value. */
function getH2(proxy: EnvoyProcess, p: string, headers: Record<string, string | string[]>): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const session = http2.connect(`http://${proxy.listeners.ingress}`);
    session.on('error', reject);
    const stream = session.request({ ':path': p, ...headers });
    let status = 0;
    const got: Record<string, string> = {};
    let body = '';
    stream.on('response', (h) => {
      status = Number(h[':status']);
      for (const [k, v] of Object.entries(h)) if (!k.startsWith(':')) got[k] = String(v);
    });
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => (body += chunk));
    stream.on('end', () => {
      session.close();
      resolve({ status, headers: got, body });
    });
    stream.on('error', reject);
    stream.end();
  });
}

/** A client forging the fail-over: x-fallback in every case and count, and x-circuit-breaker. */
function forgers(service: string): Array<(proxy: EnvoyProcess, p: string) => Promise<Reply>> {
  return [
    (proxy, p) => get(proxy, p, { headers: { 'x-fallback': service } }),
    (proxy, p) => get(proxy, p, { headers: [['X-Fallback', service]] }),
    (proxy, p) => get(proxy, p, { headers: [['x-fallback', service], ['X-FALLBACK', service]] }),
    (proxy, p) => get(proxy, p, { headers: [['x-circuit-breaker', 'fallback'], ['X-Fallback', service]] }),
    (proxy, p) => getH2(proxy, p, { 'x-fallback': service }),
    (proxy, p) => getH2(proxy, p, { 'x-fallback': [service, service], 'x-circuit-breaker': 'fallback' }),
  ];
}

const all = <T>(n: number, fn: (i: number) => Promise<T>): Promise<T[]> => Promise.all(Array.from({ length: n }, (_, i) => fn(i)));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const envoy = envoyAvailable();

describe.skipIf(!envoy.ok)(envoySuiteTitle(`circuit-breaker on Envoy (--concurrency ${CONCURRENCY})`, envoy), () => {
  let ups: Upstreams;
  let proxy: EnvoyProcess;
  beforeAll(async () => {
    const wasm = await testModule('circuit-breaker');
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
    expect(metric(prom, 'circuit_breaker_state', { service: 'credit-bureau', state: 'open' })).toBe(1);
    expect(metric(prom, 'circuit_breaker_transitions_total', { service: 'credit-bureau', state: 'open' })).toBe(1);
    expect(metric(prom, 'circuit_breaker_requests_total', { service: 'credit-bureau', outcome: 'rejected_open' })).toBe(40);
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
    expect(metric(prom, 'circuit_breaker_state', { service: 'probe', state: 'closed' })).toBe(1);
    expect(metric(prom, 'circuit_breaker_transitions_total', { service: 'probe', state: 'half_open' })).toBe(1);
    expect(metric(prom, 'circuit_breaker_transitions_total', { service: 'probe', state: 'closed' })).toBe(1);
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
    expect(metric(await prometheus(proxy.adminAddress), 'circuit_breaker_requests_total', { service: 'documents', outcome: 'rejected_bulkhead' })).toBe(45);
  });

  it('OPEN with a fail-over filter state: the router picks the fail-over route and nothing reaches the primary', async () => {
    for (let i = 0; i < 2; i++) expect((await get(proxy, '/api/scoring/a')).status).toBe(503);
    expect(ups.scoring.count()).toBe(2);
    const replies = await all(10, (i) => get(proxy, `/api/scoring/b?i=${i}`));
    expect(ups.scoring.count()).toBe(2);
    expect(ups.dr.count('/api/scoring')).toBe(10);
    for (const r of replies) {
      expect(r.status).toBe(200);
      expect(r.headers['x-circuit-breaker']).toBe('fallback');
      // the route told the fail-over upstream, from the filter state
      expect(JSON.parse(r.body)).toMatchObject({ upstream: 'dr', headers: { 'x-fallback': 'scoring' } });
    }
    expect(metric(await prometheus(proxy.adminAddress), 'circuit_breaker_requests_total', { service: 'scoring', outcome: 'fallback' })).toBe(10);
  });

  it('OPEN: a client sending the fail-over headers (any case, twice, HTTP/1.1 and HTTP/2) never reaches the primary', async () => {
    // scoring is OPEN (the test before)
    const primary = ups.scoring.count();
    const send = forgers('scoring');
    const replies = await all(send.length * 4, (i) => send[i % send.length](proxy, `/api/scoring/forged?i=${i}`));
    expect(ups.scoring.count()).toBe(primary);
    for (const r of replies) {
      expect(r.status).toBe(200);
      expect(r.headers['x-circuit-breaker']).toBe('fallback');
      expect(JSON.parse(r.body)).toMatchObject({ upstream: 'dr', headers: { 'x-fallback': 'scoring' } });
    }
  });

  it('CLOSED: a client sending the fail-over headers reaches the primary, and its failures open the circuit', async () => {
    const send = forgers('quotes');
    for (let i = 0; i < 3; i++) {
      const r = await send[[0, 2, 5][i]](proxy, `/api/quotes/x?i=${i}`); // lowercase; twice in mixed case; twice over HTTP/2
      expect(r.status).toBe(503);
      expect(r.headers['x-circuit-breaker']).toBeUndefined();
    }
    expect(ups.quotes.count()).toBe(3);
    const prom = await prometheus(proxy.adminAddress);
    expect(metric(prom, 'circuit_breaker_state', { service: 'quotes', state: 'open' })).toBe(1);
    expect(metric(prom, 'circuit_breaker_transitions_total', { service: 'quotes', state: 'open' })).toBe(1);
    // OPEN now: forged or not, requests fail over
    for (const forge of send) expect((await forge(proxy, '/api/quotes/y')).headers['x-circuit-breaker']).toBe('fallback');
    expect(ups.quotes.count()).toBe(3);
  });

  it("counts a fail-over request's outcome against the service of the cluster that served it", async () => {
    // quotes is OPEN (the test before): its requests go to the quotes-dr cluster
    for (let i = 0; i < 2; i++) {
      const r = await get(proxy, '/api/quotes/dr-fail');
      expect(r.status).toBe(503);
      expect(r.headers['x-circuit-breaker']).toBe('fallback');
    }
    const prom = await prometheus(proxy.adminAddress);
    expect(metric(prom, 'circuit_breaker_state', { service: 'quotes-dr', state: 'open' })).toBe(1);
    expect(metric(prom, 'circuit_breaker_transitions_total', { service: 'quotes-dr', state: 'open' })).toBe(1);
    expect(metric(prom, 'circuit_breaker_state', { service: 'quotes', state: 'open' })).toBe(1);
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
    expect(metric(await prometheus(proxy.adminAddress), 'circuit_breaker_state', { service: 'cancel', state: 'closed' })).toBe(1);
  });
});
