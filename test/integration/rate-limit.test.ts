// rate-limit through a data plane, as users see it: the seeds' tiers over real HTTP,
// with the headers jwt-auth would write (here set by the test: this suite runs the
// rate limiter alone), the denial and its headers, x-ratelimit-* on upstream responses,
// and the counters on the admin's /stats/prometheus. On the embedded data plane, and on
// real Envoy where one is present (reported as skipped, with the reason, elsewhere).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { envoyAvailable, envoySuiteTitle } from '../../harness/envoy/runner.ts';
import { callEcho, echoClient, startGrpcUpstream, startUpstream, type GrpcUpstream, type Upstream } from '../../harness/upstream/index.ts';
import { bootstrap } from './bootstrap.ts';
import { ensureRateLimit } from '../filters/rate-limit/build.ts';
import { TIERS } from '../filters/rate-limit/harness.ts';
import { startEmbedded, startRealEnvoy, type DataPlane } from './data-plane.ts';
import { prometheusValue, rateLimitFilter } from './rate-limit-support.ts';

const envoy = envoyAvailable();
const planes = [
  { title: 'rate-limit on the embedded data plane (2 workers)', skip: false, start: (doc: Record<string, unknown>) => startEmbedded(doc, 2) },
  { title: envoySuiteTitle('rate-limit on real Envoy', envoy), skip: !envoy.ok, start: (doc: Record<string, unknown>) => startRealEnvoy(doc, 2, envoy) },
];

interface Reply {
  status: number;
  headers: Record<string, string>;
  body: string;
}

describe.each(planes)('$title', ({ skip, start }) => {
  let upstream: Upstream;
  let grpcUpstream: GrpcUpstream;
  let plane: DataPlane;

  beforeAll(async () => {
    if (skip) return;
    const wasm = await ensureRateLimit();
    upstream = await startUpstream();
    grpcUpstream = await startGrpcUpstream();
    plane = await start(
      bootstrap({
        filters: [rateLimitFilter(wasm, TIERS)],
        virtualHosts: [{ routes: [
          { match: { prefix: '/mesh.test.v1.EchoService/', grpc: {} }, route: { cluster: 'grpc' } },
          { match: { prefix: '/' }, route: { cluster: 'backend' } },
        ] }],
        clusters: { backend: { endpoints: [upstream.address] }, grpc: { endpoints: [grpcUpstream.address], http2: true } },
      }),
    );
  }, 300_000);
  afterAll(async () => {
    await plane?.stop();
    await upstream?.close();
    await grpcUpstream?.close();
  });

  const get = async (headers: Record<string, string>, path = '/api/x'): Promise<Reply> => {
    const res = await request(`http://${plane.address}${path}`, { headers });
    return { status: res.statusCode, headers: res.headers as Record<string, string>, body: await res.body.text() };
  };
  /** Counters as the filter should have them, from what the client saw. */
  const seen = new Map<string, number>();
  const tally = (rule: string, status: number) => {
    const k = `rate_limit_${rule}_${status === 200 ? 'allowed' : 'denied'}`;
    seen.set(k, (seen.get(k) ?? 0) + 1);
  };
  const send = async (rule: string, headers: Record<string, string>): Promise<Reply> => {
    const reply = await get(headers);
    tally(rule, reply.status);
    return reply;
  };
  /**
   * Sends `n` requests one after another; expects `fresh` of them through, plus at most what
   * refills meanwhile (one token per `tokenMs` of wall time: the data plane's clock is real).
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

  it.skipIf(skip)('premium: 100 a minute per user, then 429 local_rate_limited with retry-after and x-ratelimit-*', async () => {
    const premium = { 'x-user-tier': 'premium', 'x-user-id': 'alice' };
    upstream.clearRequests();
    const first = await send('premium', premium);
    expect(first.status).toBe(200);
    expect(first.headers).toMatchObject({ 'x-ratelimit-limit': '100, 100;w=60, 2000;w=3600', 'x-ratelimit-remaining': '99', 'x-ratelimit-reset': '1' });
    await expectAllowed('premium', 120, premium, 99, 600);
    expect(upstream.count()).toBe(seen.get('rate_limit_premium_allowed'));
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

  it.skipIf(skip)('authenticated: 30 a minute per user', async () => {
    await expectAllowed('authenticated', 35, { 'x-user-id': 'carol' }, 30, 2000);
    const denied = await nextDenial('authenticated', { 'x-user-id': 'carol' });
    expect(denied.status).toBe(429);
    expect(['1', '2']).toContain(denied.headers['retry-after']); // a token every 2 s, part of which has passed
  });

  it.skipIf(skip)('anonymous: 5 a minute per client address (the address the connection manager resolved)', async () => {
    // No use_remote_address: the connection manager takes the client from x-forwarded-for,
    // and source.address is that client (Envoy's ConnectionManagerUtility).
    await expectAllowed('anonymous', 8, { 'x-forwarded-for': '198.51.100.7' }, 5, 12_000);
    await expectAllowed('anonymous', 8, { 'x-forwarded-for': '198.51.100.8' }, 5, 12_000);
    const denied = await nextDenial('anonymous', { 'x-forwarded-for': '198.51.100.7' });
    expect(denied.headers['x-ratelimit-limit']).toBe('5, 5;w=60, 50;w=3600');
    expect(Number(denied.headers['retry-after'])).toBeGreaterThanOrEqual(11); // a token every 12 s
  });

  it.skipIf(skip)('limits gRPC calls by their metadata; a denial is UNAVAILABLE (Envoy maps 429) with the reason', async () => {
    const client = echoClient(plane.address);
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

  it.skipIf(skip)('counts per rule on /stats/prometheus, across workers', async () => {
    expect(seen.size).toBe(6);
    for (const [name, value] of seen) expect([name, await prometheusValue(plane.admin, name)]).toEqual([name, value]);
    expect(await prometheusValue(plane.admin, 'rate_limit_fail_open')).toBe(0);
  });
});
