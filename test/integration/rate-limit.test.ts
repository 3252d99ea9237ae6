// rate-limit on Envoy, as users see it: the seeds' tiers over real HTTP and gRPC
// (--concurrency 1), with the headers jwt-auth would write (here set by the test: this
// suite runs the rate limiter alone), the denial and its headers, x-ratelimit-* on
// upstream responses, and the counters on the admin's /stats/prometheus; then one bucket
// enforced exactly by 4 worker threads (--concurrency 4: one VM each, one shared-data
// store) under 1,000 concurrent requests. Reported as skipped, with the reason, where
// there is no Envoy.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { envoyAvailable, envoySuiteTitle, startEnvoy, type EnvoyProcess } from '../../harness/envoy/runner.ts';
import { testModule } from '../../harness/host/testing.ts';
import { callEcho, echoClient, startGrpcUpstream, startUpstream, type GrpcUpstream, type Upstream } from '../../harness/upstream/index.ts';
import { TIERS } from '../filters/rate-limit/harness.ts';
import { bootstrap } from './bootstrap.ts';
import { workerConnections } from './envoy-stats.ts';
import { burst, prometheusValue, rateLimitBootstrap, rateLimitFilter } from './rate-limit-support.ts';

const envoy = envoyAvailable();

interface Reply {
  status: number;
  headers: Record<string, string>;
  body: string;
}

describe.skipIf(!envoy.ok)(envoySuiteTitle('rate-limit on Envoy: the tiers (--concurrency 1)', envoy), () => {
  let upstream: Upstream;
  let grpcUpstream: GrpcUpstream;
  let proxy: EnvoyProcess;

  beforeAll(async () => {
    const wasm = await testModule('rate-limit');
    upstream = await startUpstream();
    grpcUpstream = await startGrpcUpstream();
    proxy = await startEnvoy({
      concurrency: 1,
      portOverride: 0,
      availability: envoy,
      bootstrap: bootstrap({
        filters: [rateLimitFilter(wasm, TIERS)],
        virtualHosts: [{ routes: [
          { match: { prefix: '/mesh.test.v1.EchoService/', grpc: {} }, route: { cluster: 'grpc' } },
          { match: { prefix: '/' }, route: { cluster: 'backend' } },
        ] }],
        clusters: { backend: { endpoints: [upstream.address] }, grpc: { endpoints: [grpcUpstream.address], http2: true } },
      }),
    });
  }, 300_000);
  afterAll(async () => {
    await proxy?.stop();
    await upstream?.close();
    await grpcUpstream?.close();
  });

  const get = async (headers: Record<string, string>, path = '/api/x'): Promise<Reply> => {
    const res = await request(`http://${proxy.listeners.ingress}${path}`, { headers });
    return { status: res.statusCode, headers: res.headers as Record<string, string>, body: await res.body.text() };
  };
  /** Counters as the filter should have them (`rule outcome` → value of `rate_limit_requests_total{rule,outcome}`), from what the client saw. */
  const seen = new Map<string, number>();
  const tally = (rule: string, status: number) => {
    const k = `${rule} ${status === 200 ? 'allowed' : 'denied'}`;
    seen.set(k, (seen.get(k) ?? 0) + 1);
  };
  const send = async (rule: string, headers: Record<string, string>): Promise<Reply> => {
    const reply = await get(headers);
    tally(rule, reply.status);
    return reply;
  };
  /**
   * Sends `n` requests one after another; expects `fresh` of them through, plus at most what
   * refills meanwhile (one token per `tokenMs` of wall time: Envoy's clock is real).
   */
  const expectAllowed = async (rule: string, n: number, headers: Record<string, string>, fresh: number, tokenMs: number): Promise<void> => {
    const started = performance.now();
    let allowed = 0;
    for (let i = 0; i < n; i++) if ((await send(rule, headers)).status === 200) allowed++;
    expect(allowed).toBeGreaterThanOrEqual(fresh);
    expect(allowed).toBeLessThanOrEqual(fresh + Math.ceil((performance.now() - started) / tokenMs));
  };
  /** The next denial (a token may have refilled since the last one). */
  const nextDenial = async (rule: string, headers: Record<string, string>): Promise<Reply> => {
    for (let i = 0; i < 5; i++) {
      const reply = await send(rule, headers);
      if (reply.status !== 200) return reply;
    }
    throw new Error(`no denial for ${JSON.stringify(headers)}`);
  };

  it('premium: 100 a minute per user, then 429 local_rate_limited with retry-after and x-ratelimit-*', async () => {
    const premium = { 'x-user-tier': 'premium', 'x-user-id': 'alice' };
    upstream.clearRequests();
    const first = await send('premium', premium);
    expect(first.status).toBe(200);
    expect(first.headers).toMatchObject({ 'x-ratelimit-limit': '100, 100;w=60, 2000;w=3600', 'x-ratelimit-remaining': '99', 'x-ratelimit-reset': '1' });
    await expectAllowed('premium', 120, premium, 99, 600);
    expect(upstream.count()).toBe(seen.get('premium allowed'));
    const denied = await nextDenial('premium', premium);
    expect(denied.status).toBe(429);
    expect(denied.body).toBe('local_rate_limited');
    expect(denied.headers).toMatchObject({
      'x-envoy-ratelimited': 'true',
      'retry-after': '1',
      'x-ratelimit-limit': '100, 100;w=60, 2000;w=3600',
      'x-ratelimit-remaining': '0',
    });
    expect(Number(denied.headers['x-ratelimit-reset'])).toBeGreaterThanOrEqual(59);
    // Another user, and the same user without the premium tier, have buckets of their own.
    expect((await send('premium', { 'x-user-tier': 'premium', 'x-user-id': 'bob' })).status).toBe(200);
    expect((await send('authenticated', { 'x-user-id': 'alice' })).headers['x-ratelimit-remaining']).toBe('29');
  });

  it('authenticated: 30 a minute per user', async () => {
    await expectAllowed('authenticated', 35, { 'x-user-id': 'carol' }, 30, 2000);
    const denied = await nextDenial('authenticated', { 'x-user-id': 'carol' });
    expect(denied.status).toBe(429);
    expect(['1', '2']).toContain(denied.headers['retry-after']); // a token every 2 s, part of which has passed
  });

  it('anonymous: 5 a minute per client address (the address the connection manager resolved)', async () => {
    // No use_remote_address: the connection manager takes the client from x-forwarded-for,
    // and source.address is that client (Envoy's ConnectionManagerUtility).
    await expectAllowed('anonymous', 8, { 'x-forwarded-for': '198.51.100.7' }, 5, 12_000);
    await expectAllowed('anonymous', 8, { 'x-forwarded-for': '198.51.100.8' }, 5, 12_000);
    const denied = await nextDenial('anonymous', { 'x-forwarded-for': '198.51.100.7' });
    expect(denied.headers['x-ratelimit-limit']).toBe('5, 5;w=60, 50;w=3600');
    expect(Number(denied.headers['retry-after'])).toBeGreaterThanOrEqual(11); // a token every 12 s
  });

  it('limits gRPC calls by their metadata; a denial is UNAVAILABLE (Envoy maps 429) with the reason', async () => {
    const client = echoClient(proxy.listeners.ingress);
    try {
      let ok = 0;
      let denial: { code?: number; details?: string } | undefined;
      for (let i = 0; i < 40 && !denial; i++) {
        try {
          await callEcho(client, { message: 'hi', key: 'rl' }, { 'x-user-id': 'grpc-user' });
          tally('authenticated', 200);
          ok++;
        } catch (e) {
          tally('authenticated', 429);
          denial = e as { code?: number; details?: string };
        }
      }
      expect(ok).toBeGreaterThanOrEqual(30);
      expect(denial).toMatchObject({ code: 14, details: 'local_rate_limited' });
      expect(grpcUpstream.calls('rl')).toBe(ok);
    } finally {
      client.close();
    }
  });

  it('counts per rule and outcome on /stats/prometheus (rate_limit_requests_total{rule,outcome})', async () => {
    expect(seen.size).toBe(6);
    for (const [key, value] of seen) {
      const [rule, outcome] = key.split(' ');
      expect([key, await prometheusValue(proxy.adminAddress, 'rate_limit_requests_total', { rule, outcome })]).toEqual([key, value]);
      expect([key, await prometheusValue(proxy.adminAddress, 'rate_limit_requests_total', { rule, outcome: 'fail_open' })]).toEqual([key, 0]);
    }
  });
});

describe.skipIf(!envoy.ok)(envoySuiteTitle('rate-limit on Envoy: one bucket, 4 workers (--concurrency 4)', envoy), () => {
  const WORKERS = 4;
  const REQUESTS = 1000;
  /** 100 tokens, one more per hour: nothing refills during the test; each round's `x-round` is a fresh bucket. */
  const CONFIG = {
    max_keys: 64,
    rules: [{ name: 'exact', key: [{ header: 'x-round' }], limits: [{ max_tokens: 100, tokens_per_fill: 1, fill_interval: '3600s' }] }],
  };
  let upstream: Upstream;
  let proxy: EnvoyProcess;

  beforeAll(async () => {
    const wasm = await testModule('rate-limit');
    upstream = await startUpstream();
    proxy = await startEnvoy({ bootstrap: rateLimitBootstrap(rateLimitFilter(wasm, CONFIG), upstream.address), concurrency: WORKERS, portOverride: 0, availability: envoy });
  }, 300_000);
  afterAll(async () => {
    await proxy?.stop();
    await upstream?.close();
  });

  it('4 workers, 1,000 concurrent requests against a bucket of 100: exactly 100 allowed, 3 rounds (each round a fresh bucket)', async () => {
    const allowed: number[] = [];
    for (let round = 0; round < 3; round++) {
      const responses = await burst(proxy.listeners.ingress, REQUESTS, { 'x-round': `round-${round}` });
      expect(responses.every((r) => r.status === 200 || r.status === 429)).toBe(true);
      allowed.push(responses.filter((r) => r.status === 200).length);
    }
    expect(allowed).toEqual([100, 100, 100]);
    expect(upstream.count('/burst')).toBe(300);
    // The bursts came in through every worker, and the counters are process wide: every worker's increments in one value.
    expect((await workerConnections(proxy.adminAddress)).map((n) => n > 0)).toEqual([true, true, true, true]);
    expect(await prometheusValue(proxy.adminAddress, 'rate_limit_requests_total', { rule: 'exact', outcome: 'allowed' })).toBe(300);
    expect(await prometheusValue(proxy.adminAddress, 'rate_limit_requests_total', { rule: 'exact', outcome: 'denied' })).toBe(2700);
  }, 60_000);
});
