// The embedded data plane end to end: real sockets, worker threads, programmable upstreams.
import http2 from 'node:http2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import * as grpc from '@grpc/grpc-js';
import { startProxy, type RunningProxy } from '../../harness/proxy/index.ts';
import { action, callEcho, delay, echoClient, failTimes, sequence, startGrpcUpstream, startUpstream, status, type GrpcUpstream, type Upstream } from '../../harness/upstream/index.ts';
import { bootstrap, TRUST_LOOPBACK } from './bootstrap.ts';
import { closedPort, get } from './proxy-client.ts';

function h2(address: string, headers: http2.OutgoingHttpHeaders, body?: string, trailers?: Record<string, string>) {
  return new Promise<{ headers: http2.IncomingHttpHeaders; body: string }>((resolve, reject) => {
    const session = http2.connect(`http://${address}`);
    session.on('error', reject);
    const req = session.request(headers, { endStream: body === undefined, waitForTrailers: trailers !== undefined });
    if (trailers) req.on('wantTrailers', () => req.sendTrailers(trailers));
    let out = '';
    let resHeaders: http2.IncomingHttpHeaders = {};
    req.on('response', (h) => (resHeaders = h));
    req.setEncoding('utf8');
    req.on('data', (c) => (out += c));
    req.on('end', () => {
      session.close();
      resolve({ headers: resHeaders, body: out });
    });
    req.on('error', reject);
    if (body !== undefined) req.end(body);
  });
}

describe('proxy: routing, codecs, router retries and timeouts, admin (concurrency 2, loopback trusted)', () => {
  let up: Upstream;
  let up2: Upstream;
  let g: GrpcUpstream;
  let proxy: RunningProxy;
  let dead: number;

  beforeAll(async () => {
    up = await startUpstream({ name: 'one' });
    up2 = await startUpstream({ name: 'two' });
    g = await startGrpcUpstream();
    dead = await closedPort();
    proxy = await startProxy({
      portOverride: 0,
      concurrency: 2,
      logLevel: 'error',
      bootstrap: bootstrap({
        hcm: TRUST_LOOPBACK,
        virtualHosts: [
          { name: 'api', domains: ['api.example.com', '*.api.example.com'], routes: [{ match: { path: '/only' }, direct_response: { status: 200, body: { inline_string: 'api vhost' } } }] },
          {
            name: 'all',
            include_request_attempt_count: true,
            include_attempt_count_in_response: true,
            routes: [
              { match: { prefix: '/direct' }, direct_response: { status: 201, body: { inline_string: 'hello direct' } } },
              { match: { prefix: '/rr' }, route: { cluster: 'pair' } },
              { match: { prefix: '/h2/' }, route: { cluster: 'h2c' } },
              { match: { prefix: '/mesh.test.v1.EchoService/', headers: [{ name: 'x-target', string_match: { exact: 'empty' } }] }, route: { cluster: 'empty' } },
              { match: { prefix: '/mesh.test.v1.EchoService/', grpc: {} }, route: { cluster: 'grpc' } },
              { match: { prefix: '/policy/' }, route: { cluster: 'backend', retry_policy: { retry_on: '5xx', num_retries: 2 } } },
              { match: { prefix: '/dead-retry' }, route: { cluster: 'dead', retry_policy: { retry_on: 'connect-failure', num_retries: 2 } } },
              { match: { prefix: '/dead' }, route: { cluster: 'dead' } },
              { match: { prefix: '/empty' }, route: { cluster: 'empty' } },
              { match: { prefix: '/timeout' }, route: { cluster: 'backend', timeout: '0.2s' } },
              { match: { safe_regex: { regex: '/re/[0-9]+' } }, route: { cluster: 'pair' } },
              { match: { prefix: '/' }, route: { cluster: 'backend' } },
            ],
          },
        ],
        clusters: {
          backend: { endpoints: [up.address] },
          pair: { endpoints: [up.address, up2.address] },
          h2c: { endpoints: [up.address], http2: true },
          grpc: { endpoints: [g.address], http2: true },
          dead: { endpoints: [`127.0.0.1:${dead}`] },
          empty: { endpoints: [] },
        },
      }),
    });
  });
  afterAll(async () => {
    await proxy?.stop();
    await Promise.all([up?.close(), up2?.close(), g?.close()]);
  });

  it('routes by virtual host domain, prefix, path and regex; no route is 404 with an empty body', async () => {
    expect((await get(proxy, '/only', { host: 'x.api.example.com' })).text).toBe('api vhost');
    const none = await get(proxy, '/other', { host: 'api.example.com' });
    expect(none.status).toBe(404);
    expect(none.text).toBe('');
    const direct = await get(proxy, '/direct');
    expect([direct.status, direct.text, direct.headers['content-type']]).toEqual([201, 'hello direct', 'text/plain']);
    expect((await get(proxy, '/re/42')).json().path).toBe('/re/42');
  });

  it('spreads requests round robin over a cluster’s endpoints', async () => {
    const names = [];
    for (let i = 0; i < 4; i++) names.push((await get(proxy, '/rr')).json().upstream);
    expect(names.filter((n: string) => n === 'one').length).toBe(2);
    expect(names.filter((n: string) => n === 'two').length).toBe(2);
  });

  it('adds Envoy’s request and response headers', async () => {
    const r = await get(proxy, '/hdrs', { 'x-forwarded-for': '10.1.2.3' });
    const seen = r.json().headers;
    expect(seen['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    expect(seen['x-forwarded-proto']).toBe('http');
    expect(seen['x-forwarded-for']).toBe('10.1.2.3,127.0.0.1');
    expect(seen['x-envoy-expected-rq-timeout-ms']).toBe('15000');
    expect(seen['x-envoy-attempt-count']).toBe('1');
    expect(r.headers.server).toBe('envoy');
    expect(Number(r.headers['x-envoy-upstream-service-time'])).toBeGreaterThanOrEqual(0);
    expect(r.headers['x-envoy-attempt-count']).toBe('1');
  });

  it('serves h2c clients and speaks HTTP/2 upstream where the cluster says so, with streamed bodies and trailers', async () => {
    const r = await h2(proxy.listeners[0].address, { ':method': 'POST', ':path': '/h2/x', 'content-type': 'text/plain' }, 'chunk-body', { 'x-trailer': 'tv' });
    expect(r.headers[':status']).toBe(200);
    const echoed = JSON.parse(r.body);
    expect(echoed.protocol).toBe('HTTP/2');
    expect(echoed.body).toBe('chunk-body');
    expect(echoed.trailers['x-trailer']).toBe('tv');
  });

  it('streams a 1 MiB request body through unchanged', async () => {
    const big = 'x'.repeat(1 << 20);
    const r = await get(proxy, '/big', {}, { method: 'POST', body: big });
    expect(r.json().body.length).toBe(1 << 20);
  });

  it('retries 5xx per x-envoy-retry-on and counts attempts upstream and downstream', async () => {
    up.route('/r5xx', failTimes(2, status(503)));
    const r = await get(proxy, '/r5xx', { 'x-envoy-retry-on': '5xx', 'x-envoy-max-retries': '3' }, { method: 'POST', body: 'payload' });
    expect(r.status).toBe(200);
    expect(r.headers['x-envoy-attempt-count']).toBe('3');
    expect(up.count('/r5xx')).toBe(3);
    const last = up.requests.filter((q) => q.path === '/r5xx').at(-1)!;
    expect(last.headers['x-envoy-attempt-count']).toBe('3');
    expect(last.body.toString()).toBe('payload');
    expect(last.headers['x-envoy-retry-on']).toBeUndefined();
  });

  it('gateway-error retries 502-504 but not 500; retriable-4xx retries 409 only', async () => {
    up.route('/ge500', failTimes(1, status(500)));
    expect((await get(proxy, '/ge500', { 'x-envoy-retry-on': 'gateway-error' })).status).toBe(500);
    up.route('/ge502', failTimes(1, status(502)));
    expect((await get(proxy, '/ge502', { 'x-envoy-retry-on': 'gateway-error' })).status).toBe(200);
    up.route('/c409', failTimes(1, status(409)));
    expect((await get(proxy, '/c409', { 'x-envoy-retry-on': 'retriable-4xx' })).status).toBe(200);
    up.route('/c404', failTimes(1, status(404)));
    expect((await get(proxy, '/c404', { 'x-envoy-retry-on': 'retriable-4xx' })).status).toBe(404);
  });

  it('retriable-status-codes uses x-envoy-retriable-status-codes', async () => {
    up.route('/teapot', failTimes(1, status(418)));
    const r = await get(proxy, '/teapot', { 'x-envoy-retry-on': 'retriable-status-codes', 'x-envoy-retriable-status-codes': '429,418' });
    expect(r.status).toBe(200);
    expect(up.count('/teapot')).toBe(2);
  });

  it('stops at x-envoy-max-retries and answers with the last upstream response (URX)', async () => {
    up.route('/always503', status(503, 'nope'));
    const r = await get(proxy, '/always503', { 'x-envoy-retry-on': '5xx', 'x-envoy-max-retries': '2' });
    expect(r.status).toBe(503);
    expect(r.text).toBe('nope');
    expect(r.headers['x-envoy-attempt-count']).toBe('3');
    expect(up.count('/always503')).toBe(3);
  });

  it('merges the route retry_policy (num_retries 2) with the headers', async () => {
    up.route('/policy/a', failTimes(2, status(500)));
    expect((await get(proxy, '/policy/a')).status).toBe(200);
    up.route('/policy/b', failTimes(2, status(500)));
    // x-envoy-max-retries replaces num_retries.
    expect((await get(proxy, '/policy/b', { 'x-envoy-max-retries': '1' })).status).toBe(500);
  });

  it('retries resets with `reset`, and not without a matching condition', async () => {
    up.route('/rst', failTimes(1, action({ kind: 'reset' })));
    expect((await get(proxy, '/rst', { 'x-envoy-retry-on': 'reset' })).status).toBe(200);
    up.route('/rst2', failTimes(1, action({ kind: 'reset' })));
    const r = await get(proxy, '/rst2', { 'x-envoy-retry-on': 'retriable-4xx' });
    expect(r.status).toBe(503);
    expect(r.text).toBe('upstream connect error or disconnect/reset before headers. reset reason: connection termination');
  });

  it('refused-stream retries an HTTP/2 REFUSED_STREAM; otherwise 503 remote refused stream reset', async () => {
    up.route('/h2/refuse', failTimes(1, action({ kind: 'refuse' })));
    expect((await get(proxy, '/h2/refuse', { 'x-envoy-retry-on': 'refused-stream' })).status).toBe(200);
    up.route('/h2/refuse2', failTimes(1, action({ kind: 'refuse' })));
    const r = await get(proxy, '/h2/refuse2', { 'x-envoy-retry-on': 'connect-failure' });
    expect(r.status).toBe(503);
    expect(r.text).toContain('reset reason: remote refused stream reset');
  });

  it('connect failures: 503 with Envoy’s text, retried with connect-failure', async () => {
    const r = await get(proxy, '/dead');
    expect(r.status).toBe(503);
    expect(r.text).toBe('upstream connect error or disconnect/reset before headers. reset reason: remote connection failure, transport failure reason: delayed connect error: Connection refused');
    const rr = await get(proxy, '/dead-retry');
    expect(rr.status).toBe(503);
    expect(rr.text).toContain('retried and the latest reset reason: remote connection failure');
    expect(rr.headers['x-envoy-attempt-count']).toBe('3');
    const empty = await get(proxy, '/empty');
    expect([empty.status, empty.text]).toEqual([503, 'no healthy upstream']);
  });

  it('retries on grpc-status with x-envoy-retry-grpc-on', async () => {
    up.route('/grpcish', failTimes(1, action({ kind: 'grpc-status', code: 14 })));
    const r = await get(proxy, '/grpcish', { 'x-envoy-retry-grpc-on': 'unavailable', 'content-type': 'application/grpc' }, { method: 'POST', body: '' });
    expect(r.status).toBe(200);
    expect(up.count('/grpcish')).toBe(2);
  });

  it('route timeout: 504 upstream request timeout; x-envoy-upstream-rq-timeout-ms overrides it', async () => {
    up.route('/timeout', delay(1000));
    const t0 = Date.now();
    const r = await get(proxy, '/timeout');
    expect([r.status, r.text]).toEqual([504, 'upstream request timeout']);
    expect(Date.now() - t0).toBeLessThan(900);
    up.route('/slow', delay(1000));
    const h = await get(proxy, '/slow', { 'x-envoy-upstream-rq-timeout-ms': '100' });
    expect(h.status).toBe(504);
  });

  it('per-try timeout retries a slow attempt within the route timeout', async () => {
    up.route('/pertry', sequence([delay(800), delay(0)]));
    const r = await get(proxy, '/pertry', { 'x-envoy-retry-on': '5xx', 'x-envoy-upstream-rq-per-try-timeout-ms': '100' });
    expect(r.status).toBe(200);
    expect(r.headers['x-envoy-attempt-count']).toBe('2');
  });

  it('gRPC through the proxy; local replies reach a grpc-js client as trailers-only statuses', async () => {
    const client = echoClient(proxy.listeners[0].address);
    try {
      const ok = await callEcho(client, { message: 'hi' });
      expect(ok.message).toBe('hi');
      await expect(callEcho(client, { message: 'x' }, { 'x-target': 'empty' })).rejects.toMatchObject({ code: grpc.status.UNAVAILABLE, details: 'no healthy upstream' });
      const retried = await callEcho(client, { key: 'g1', fail_code: grpc.status.UNAVAILABLE, fail_times: 1 }, { 'x-envoy-retry-grpc-on': 'unavailable' });
      expect(retried.attempt).toBe(2);
    } finally {
      client.close();
    }
  });

  it('a client reset cancels the upstream request', async () => {
    up.route('/hang', delay(2000));
    const ac = new AbortController();
    const p = request(`http://${proxy.listeners[0].address}/hang`, { signal: ac.signal }).catch((e) => e);
    await new Promise((r) => setTimeout(r, 150));
    ac.abort();
    await p;
    await new Promise((r) => setTimeout(r, 100));
    const stats = await (await request(`http://${proxy.admin!.address}/stats?filter=upstream_rq_cancelled`)).body.text();
    expect(stats).toMatch(/cluster\.backend\.upstream_rq_cancelled: [1-9]/);
  });

  it('admin: /ready, /stats/prometheus with Envoy names and tags, /clusters', async () => {
    const ready = await request(`http://${proxy.admin!.address}/ready`);
    expect([ready.statusCode, await ready.body.text()]).toEqual([200, 'LIVE\n']);
    const prom = await (await request(`http://${proxy.admin!.address}/stats/prometheus`)).body.text();
    expect(prom).toMatch(/^envoy_cluster_upstream_rq_total\{envoy_cluster_name="backend"\} [1-9]\d*$/m);
    expect(prom).toMatch(/^envoy_cluster_upstream_rq\{envoy_response_code="200",envoy_cluster_name="backend"\} [1-9]/m);
    expect(prom).toMatch(/^envoy_cluster_upstream_rq_retry\{envoy_cluster_name="backend"\} [1-9]/m);
    expect(prom).toMatch(/^# TYPE envoy_http_downstream_rq_total counter$/m);
    const clusters = await (await request(`http://${proxy.admin!.address}/clusters`)).body.text();
    expect(clusters).toMatch(new RegExp(`^backend::${up.address.replace(/\./g, '\\.')}::rq_total::[1-9]`, 'm'));
    expect(clusters).toContain(`backend::${up.address}::health_flags::healthy`);
  });
});

describe('proxy: defaults (untrusted clients) and concurrency', () => {
  for (const concurrency of [1, 4]) {
    it(`--concurrency ${concurrency}: serves parallel connections; external clients cannot set x-envoy-retry-on`, async () => {
      const up = await startUpstream();
      up.route('/flaky', failTimes(1, status(503)));
      const proxy = await startProxy({ portOverride: 0, concurrency, logLevel: 'error', bootstrap: bootstrap({ virtualHosts: [{ routes: [{ match: { prefix: '/' }, route: { cluster: 'b' } }] }], clusters: { b: { endpoints: [up.address] } } }) });
      try {
        expect(proxy.concurrency).toBe(concurrency);
        const r = await get(proxy, '/flaky', { 'x-envoy-retry-on': '5xx' });
        expect(r.status).toBe(503); // stripped by the connection manager: not retried
        const results = await Promise.all(Array.from({ length: 24 }, (_, i) => request(`http://${proxy.listeners[0].address}/p${i}`, { reset: true }).then((x) => x.body.json() as Promise<{ path: string }>)));
        expect(results.map((x) => x.path).sort()).toEqual(Array.from({ length: 24 }, (_, i) => `/p${i}`).sort());
      } finally {
        await proxy.stop();
        await up.close();
      }
    });
  }
});
