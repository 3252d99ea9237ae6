// jwt-auth on Envoy with --concurrency 4 (4 worker threads, one VM each): a real JWKS
// server whose keys rotate during the test, fetched once for all workers (CAS on the shared
// lease: without it every worker fetches), unknown-kid refetch and cache_duration refresh,
// fetch failures (a 503, a timeout Envoy's router answers 504), gRPC clients getting
// UNAUTHENTICATED / PERMISSION_DENIED and per-method permissions on the demo's
// ProjectService, and the metrics on /stats/prometheus. Reported as skipped, with the
// reason, where there is no Envoy.
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { callProject, projectClient, startProjectService, type ProjectServer } from '../../harness/demo/projects.ts';
import { envoyAvailable, envoySuiteTitle, startEnvoy, type EnvoyProcess } from '../../harness/envoy/runner.ts';
import { delay, startUpstream, status, type Upstream } from '../../harness/upstream/index.ts';
import { AUDIENCE, ISSUER, type SigningKey, buildJwtAuth, claims, jwksOf, makeKey, sign, wasmFilter } from '../filters/jwt-auth/harness.ts';
import { bootstrap } from './bootstrap.ts';
import { metric, prometheus, workerConnections } from './envoy-stats.ts';

const JWKS_PATH = '/.well-known/jwks.json';
/** Providers of /fleet, each with its own JWKS URI: 8 races for the fetch lease per worker. */
const FLEET = 8;
/** The JWKS of a provider with a 2 s cache_duration. */
const FRESH_PATH = '/fresh.json';

let jwks: Upstream;
let api: Upstream;
let projects: ProjectServer;
let proxy: EnvoyProcess;
let k1: SigningKey;
let k2: SigningKey;
let served: SigningKey[];
let base: string;

const now = () => Math.floor(Date.now() / 1000);

async function get(path: string, token?: string): Promise<{ status: number; reason?: string; body: string }> {
  const res = await request(`${base}${path}`, { headers: token ? { authorization: `Bearer ${token}` } : {} });
  return { status: res.statusCode, reason: res.headers['x-jwt-auth-reason'] as string | undefined, body: await res.body.text() };
}

const envoy = envoyAvailable();

describe.skipIf(!envoy.ok)(envoySuiteTitle('jwt-auth on Envoy (--concurrency 4)', envoy), () => {
  beforeAll(async () => {
    const wasm = await buildJwtAuth();
    [k1, k2] = await Promise.all([makeKey('ES256', 'k1'), makeKey('RS256', 'k2')]);
    served = [k1];
    jwks = await startUpstream({ name: 'jwks', fallback: status(404) });
    jwks.route(JWKS_PATH, () => ({ kind: 'respond', status: 200, body: JSON.stringify(jwksOf(served)), headers: { 'content-type': 'application/json' } }));
    jwks.route(FRESH_PATH, () => ({ kind: 'respond', status: 200, body: JSON.stringify(jwksOf([k1])) }));
    jwks.route('/down', status(503, 'down'));
    for (let i = 0; i < FLEET; i++) jwks.route(`/fleet/${i}`, () => ({ kind: 'respond', status: 200, body: JSON.stringify(jwksOf([k1])) }));
    jwks.route('/slow', delay(3000, status(200, '{"keys":[]}')));
    api = await startUpstream({ name: 'api' });
    projects = await startProjectService();
    const remote = (path: string, timeout = '1s', cache = '600s') => ({ http_uri: { uri: `http://jwks.internal${path}`, cluster: 'jwks', timeout }, cache_duration: cache });
    const config = {
      providers: {
        // a generous timeout: a fetch slowed by a loaded machine must not turn into a retry here
        idp: { issuer: ISSUER, audiences: [AUDIENCE], remote_jwks: remote(JWKS_PATH, '10s'), claim_to_headers: [{ claim_name: 'sub', header_name: 'x-user-id' }] },
        fresh: { remote_jwks: remote(FRESH_PATH, '10s', '2s'), from_headers: [{ name: 'x-fresh-token' }] },
        broken: { issuer: 'https://broken.test', remote_jwks: remote('/down'), from_headers: [{ name: 'x-broken-token' }] },
        slow: { issuer: 'https://slow.test', remote_jwks: remote('/slow', '0.3s'), from_headers: [{ name: 'x-slow-token' }] },
        ...Object.fromEntries(Array.from({ length: FLEET }, (_, i) => [`fleet${i}`, { remote_jwks: { ...remote(`/fleet/${i}`), cache_duration: '600s' }, from_headers: [{ name: 'x-fleet-token' }] }])),
      },
      rules: [
        { match: { prefix: '/broken' }, requires: { provider_name: 'broken' } },
        { match: { prefix: '/slow' }, requires: { provider_name: 'slow' } },
        { match: { prefix: '/fresh' }, requires: { provider_name: 'fresh' } },
        { match: { prefix: '/fleet' }, requires: { requires_all: Array.from({ length: FLEET }, (_, i) => ({ provider_name: `fleet${i}` })) } },
        { match: { path: '/zoptal.project.v1.ProjectService/CreateProject' }, requires: { provider_name: 'idp', claims: [{ name: 'permissions', all_of: ['project:create'] }] } },
        { match: { prefix: '/' }, requires: { provider_name: 'idp' } },
      ],
    };
    proxy = await startEnvoy({
      portOverride: 0,
      concurrency: 4,
      availability: envoy,
      bootstrap: bootstrap({
        filters: [wasmFilter(wasm, config)],
        virtualHosts: [{ routes: [
          { match: { prefix: '/zoptal.project.v1.ProjectService/' }, route: { cluster: 'projects' } },
          { match: { prefix: '/' }, route: { cluster: 'api' } },
        ] }],
        clusters: { api: { endpoints: [api.address] }, jwks: { endpoints: [jwks.address] }, projects: { endpoints: [projects.address], http2: true } },
      }),
    });
    base = `http://${proxy.listeners.ingress}`;
  }, 300_000);

  afterAll(async () => {
    await proxy?.stop();
    await Promise.all([jwks?.close(), api?.close(), projects?.close()]);
  });

  describe('remote JWKS shared by 4 workers', () => {
    it('fetches each JWKS once however many workers race for it (fails without CAS: workers fetch twice)', async () => {
      const token = await sign(k1, { sub: 'fleet' });
      const answers = await Promise.all(Array.from({ length: 24 }, () => request(`${base}/fleet`, { headers: { 'x-fleet-token': token } }).then(async (r) => (await r.body.dump(), r.statusCode))));
      expect(answers).toEqual(Array(24).fill(200));
      expect(Array.from({ length: FLEET }, (_, i) => jwks.count(`/fleet/${i}`))).toEqual(Array(FLEET).fill(1));
      expect((await workerConnections(proxy.adminAddress)).map((n) => n > 0)).toEqual([true, true, true, true]); // every worker raced
    });

    it('fetches once for all workers (CAS lease), pausing requests until the keys arrive', async () => {
      const token = await sign(k1, claims(now()));
      // New connections spread round robin over the workers: every worker gets some.
      const answers = await Promise.all(Array.from({ length: 24 }, () => get('/orders', token)));
      expect(answers.map((a) => a.status)).toEqual(Array(24).fill(200));
      expect(JSON.parse(answers[0].body).headers['x-user-id']).toBe('alice');
      expect(jwks.count(JWKS_PATH)).toBe(1);
    });

    it('picks up rotated keys: an unknown kid makes one refetch for all workers, then old-kid tokens fail', async () => {
      const before = jwks.count(JWKS_PATH);
      served = [k2]; // the identity provider rotates: k1 is gone, k2 comes
      const fresh = await sign(k2, claims(now()));
      const answers = await Promise.all(Array.from({ length: 16 }, () => get('/orders', fresh)));
      expect(answers.map((a) => a.status)).toEqual(Array(16).fill(200));
      expect(jwks.count(JWKS_PATH)).toBe(before + 1);
      // k1 tokens: their kid is unknown now, and another refetch is not due within 10 s
      const old = await get('/orders', await sign(k1, claims(now())));
      expect(old.status).toBe(401);
      expect(old.reason).toBe('jwks_kid_alg_mismatch');
    });

    it('refreshes before cache_duration (2 s) ends, once for all workers, without pausing requests', async () => {
      const token = await sign(k1, { sub: 'fresh' });
      const fresh = async () => (await request(`${base}/fresh`, { headers: { 'x-fresh-token': token } }).then(async (r) => (await r.body.dump(), r.statusCode)));
      expect(await fresh()).toBe(200);
      const before = jwks.count(FRESH_PATH);
      const deadline = Date.now() + 5000;
      while (jwks.count(FRESH_PATH) === before && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      expect(jwks.count(FRESH_PATH)).toBe(before + 1);
      await new Promise((r) => setTimeout(r, 300)); // every worker has had a tick since
      expect(jwks.count(FRESH_PATH)).toBe(before + 1);
      expect(await fresh()).toBe(200);
    });

    it('denies when the JWKS cannot be had: a 503, or a timeout the router answers 504', async () => {
      const broken = await request(`${base}/broken`, { headers: { 'x-broken-token': await sign(k1, { iss: 'https://broken.test' }) } });
      expect(broken.statusCode).toBe(401);
      expect(broken.headers['x-jwt-auth-reason']).toBe('jwks_unavailable');
      await broken.body.dump();
      const slow = await request(`${base}/slow`, { headers: { 'x-slow-token': await sign(k1, { iss: 'https://slow.test' }) } });
      expect(slow.statusCode).toBe(401);
      expect(slow.headers['x-jwt-auth-reason']).toBe('jwks_unavailable');
      await slow.body.dump();
    });

    it('shows per-provider metrics on /stats/prometheus', async () => {
      await get('/orders');
      const text = await prometheus(proxy.adminAddress);
      const value = (name: string) => metric(text, name);
      expect(value('jwt_auth_provider_idp_jwks_fetch_ok')).toBe(jwks.count(JWKS_PATH));
      expect(value('jwt_auth_provider_broken_jwks_fetch_failed')).toBeGreaterThanOrEqual(1);
      expect(value('jwt_auth_provider_idp_denied_jwt_missing')).toBeGreaterThanOrEqual(1);
      expect(value('jwt_auth_provider_idp_allowed')).toBeGreaterThanOrEqual(40);
      expect(value('jwt_auth_denied_jwks_unavailable')).toBe(2);
    });
  });

  describe('gRPC', () => {
    const metadata = (token?: string): Record<string, string> => (token ? { authorization: `Bearer ${token}` } : {});

    it('answers UNAUTHENTICATED without a token and PERMISSION_DENIED without the method permission', async () => {
      const client = projectClient(proxy.listeners.ingress);
      try {
        await expect(callProject(client, 'CreateProject', { name: 'x' }, metadata())).rejects.toMatchObject({ code: grpc.status.UNAUTHENTICATED });
        const reader = await sign(k2, claims(now(), { permissions: ['project:read'] }));
        await expect(callProject(client, 'CreateProject', { name: 'x' }, metadata(reader))).rejects.toMatchObject({ code: grpc.status.PERMISSION_DENIED });
        const creator = await sign(k2, claims(now(), { permissions: ['project:create'] }));
        const created = await callProject<{ id: string; owner_id: string }>(client, 'CreateProject', { name: 'mesh' }, metadata(creator));
        expect(created.owner_id).toBe('alice'); // from x-user-id, written by claim_to_headers
        // other methods fall to the catch-all rule: any valid token
        expect(await callProject(client, 'GetProject', { project_id: created.id }, metadata(reader))).toMatchObject({ id: created.id });
        await expect(callProject(client, 'GetProject', { project_id: created.id }, metadata('garbage'))).rejects.toMatchObject({ code: grpc.status.UNAUTHENTICATED });
        expect(projects.calls('CreateProject')).toBe(1);
      } finally {
        client.close();
      }
    });
  });
});
