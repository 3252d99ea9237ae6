// jwt-auth on Envoy with --concurrency 4 (4 worker threads, one VM each): a real JWKS
// server whose keys rotate during the test, fetched once for all workers (CAS on the shared
// lease: without it every worker fetches), unknown-kid refetch and cache_duration refresh,
// fetch failures (a 503, a timeout Envoy's router answers 504), gRPC clients getting
// UNAUTHENTICATED / PERMISSION_DENIED and per-method permissions on the demo's
// ProjectService, and the metrics on /stats/prometheus. Then the credential attacks of
// "Hardening on Envoy" on the jwt-auth configurations of envoy/mesh.yaml and
// envoy/jwt-auth.yaml, over HTTP/1.1 and HTTP/2, with what the upstream received. Reported
// as skipped, with the reason, where there is no Envoy.
import http2 from 'node:http2';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { demoJwks } from '../../harness/demo/keys.ts';
import { callProject, projectClient, startProjectService, type ProjectServer } from '../../harness/demo/projects.ts';
import { mintDemoToken } from '../../harness/demo/token.ts';
import { envoyAvailable, envoySuiteTitle, startEnvoy, type EnvoyProcess } from '../../harness/envoy/runner.ts';
import { pluginConfig, testModule } from '../../harness/host/testing.ts';
import { delay, startUpstream, status, type Upstream } from '../../harness/upstream/index.ts';
import { AUDIENCE, ISSUER, type SigningKey, claims, jwksOf, makeKey, sign, wasmFilter } from '../filters/jwt-auth/harness.ts';
import { bootstrap } from './bootstrap.ts';
import { metric, prometheus, workerConnections } from './envoy-stats.ts';
import { wasmHttpFilter } from './wasm-filter.ts';

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
    const wasm = await testModule('jwt-auth');
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

    it('shows per-provider metrics on /stats/prometheus, labelled by provider, reason and outcome', async () => {
      await get('/orders');
      const text = await prometheus(proxy.adminAddress);
      expect(metric(text, 'jwt_auth_provider_jwks_fetches_total', { provider: 'idp', outcome: 'ok' })).toBe(jwks.count(JWKS_PATH));
      expect(metric(text, 'jwt_auth_provider_jwks_fetches_total', { provider: 'broken', outcome: 'failed' })).toBeGreaterThanOrEqual(1);
      expect(metric(text, 'jwt_auth_provider_denied_total', { provider: 'idp', reason: 'jwt_missing' })).toBeGreaterThanOrEqual(1);
      expect(metric(text, 'jwt_auth_provider_allowed_total', { provider: 'idp' })).toBeGreaterThanOrEqual(40);
      expect(metric(text, 'jwt_auth_denied_total', { reason: 'jwks_unavailable' })).toBe(2);
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

/** What a request got: the status, jwt-auth's reason, and (when it reached the echo upstream) what the upstream saw. */
interface Seen {
  status: number;
  reason?: string;
  upstream?: { path: string; headers: Record<string, string> };
}

function seen(status: number, reason: unknown, body: string): Seen {
  const echo = status === 200 ? (JSON.parse(body) as { path: string; headers: Record<string, string> }) : undefined;
  return { status, reason: reason as string | undefined, upstream: echo && { path: echo.path, headers: echo.headers } };
}

/** GET over HTTP/1.1; `headers` as name/value pairs (a name may repeat: one field each). */
async function h1(address: string, p: string, headers: [string, string][] = []): Promise<Seen> {
  const res = await request(`http://${address}${p}`, { headers: headers.flat() });
  return seen(res.statusCode, res.headers['x-jwt-auth-reason'], await res.body.text());
}

/** GET over HTTP/2 (h2c, prior knowledge); a repeated name is sent as one field per value. */
async function h2(address: string, p: string, headers: [string, string][] = []): Promise<Seen> {
  const fields: http2.OutgoingHttpHeaders = { ':method': 'GET', ':path': p };
  for (const [k, v] of headers) {
    const had = fields[k];
    fields[k] = had === undefined ? v : [...(Array.isArray(had) ? had : [String(had)]), v];
  }
  const session = http2.connect(`http://${address}`);
  try {
    return await new Promise<Seen>((resolve, reject) => {
      const req = session.request(fields);
      let status = 0;
      let reason: unknown;
      const chunks: Buffer[] = [];
      req.on('response', (h) => {
        status = Number(h[':status']);
        reason = h['x-jwt-auth-reason'];
      });
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => resolve(seen(status, reason, Buffer.concat(chunks).toString())));
      req.on('error', reject);
      req.end();
    });
  } finally {
    session.close();
  }
}

const PROTOCOLS = [['HTTP/1.1', h1], ['HTTP/2', h2]] as const;

describe.skipIf(!envoy.ok)(envoySuiteTitle('jwt-auth credential attacks on Envoy (envoy/mesh.yaml and envoy/jwt-auth.yaml configurations)', envoy), () => {
  let echoUp: Upstream;
  let jwksUp: Upstream;
  let attacked: EnvoyProcess;
  /** Listener running envoy/mesh.yaml's jwt-auth configuration (+ a requires_all rule on /both). */
  let mesh: string;
  /** Listener running envoy/jwt-auth.yaml's (default token locations: `authorization: Bearer`, `?access_token=`). */
  let example: string;
  const user = (sub: string, extra: Parameters<typeof mintDemoToken>[0] = {}) => mintDemoToken({ alg: 'RS256', sub, permissions: ['credit:read'], ...extra });
  const service = (serviceId = 'eva-frontend') => mintDemoToken({ alg: 'HS256', serviceId, permissions: ['credit:read'] });
  /** Sends a request that must be refused by jwt-auth: it never reaches the upstream. */
  const refused = async (send: () => Promise<Seen>): Promise<Seen> => {
    const before = echoUp.count();
    const res = await send();
    expect(echoUp.count(), 'requests that reached the upstream').toBe(before);
    return res;
  };
  /** `token` with one signature character changed (inside the segment, so that its base64url stays canonical). */
  const tampered = (token: string) => {
    const i = token.length - 10;
    return `${token.slice(0, i)}${token[i] === 'A' ? 'B' : 'A'}${token.slice(i + 1)}`;
  };

  beforeAll(async () => {
    const wasm = await testModule('jwt-auth');
    const body = JSON.stringify(await demoJwks());
    jwksUp = await startUpstream({ name: 'jwks', fallback: status(200, body, { 'content-type': 'application/json' }) });
    echoUp = await startUpstream({ name: 'echo' });
    const meshConfig = pluginConfig('envoy/mesh.yaml', 'jwt-auth') as { rules: unknown[] };
    // A front end calling on a user's behalf where both must be verified, and a route that tolerates failed tokens.
    meshConfig.rules.unshift(
      { match: { prefix: '/both' }, requires: { requires_all: [{ provider_name: 'users' }, { provider_name: 'services' }] } },
      { match: { prefix: '/tolerant' }, requires: { requires_any: [{ provider_name: 'users' }, { allow_missing_or_failed: true }] } },
    );
    const doc = bootstrap({
      filters: [wasmHttpFilter('jwt-auth', wasm, meshConfig)],
      virtualHosts: [{ routes: [{ match: { prefix: '/' }, route: { cluster: 'echo' } }] }],
      clusters: { echo: { endpoints: [echoUp.address] }, jwks: { endpoints: [jwksUp.address] } },
    }) as Record<string, any>;
    // A second listener, the same but for envoy/jwt-auth.yaml's jwt-auth (in a VM of its own).
    const second = structuredClone(doc.static_resources.listeners[0]);
    second.name = 'example';
    const filter = wasmHttpFilter('jwt-auth', wasm, pluginConfig('envoy/jwt-auth.yaml', 'jwt-auth')) as Record<string, any>;
    filter.typed_config.config.vm_config.vm_id = 'jwt-auth-example';
    second.filter_chains[0].filters[0].typed_config.http_filters[0] = filter;
    doc.static_resources.listeners.push(second);
    attacked = await startEnvoy({ portOverride: 0, concurrency: 1, availability: envoy, bootstrap: doc });
    mesh = attacked.listeners.ingress;
    example = attacked.listeners.example;
  }, 300_000);

  afterAll(async () => {
    await attacked?.stop();
    await Promise.all([echoUp?.close(), jwksUp?.close()]);
  });

  describe('two identities of one provider', () => {
    it('denies alice in authorization and bob in ?access_token= as ambiguous', async () => {
      const [alice, bob] = [await user('alice'), await user('bob')];
      const res = await refused(() => h1(example, `/anything?access_token=${bob}`, [['authorization', `Bearer ${alice}`]]));
      expect([res.status, res.reason]).toEqual([401, 'jwt_ambiguous']);
    });

    it('takes the same token in both places as one identity, removing it from both', async () => {
      const alice = await user('alice', { tier: 'premium' });
      const res = await h1(example, `/anything?a=1&access_token=${alice}`, [['authorization', `Bearer ${alice}`]]);
      expect(res.status).toBe(200);
      expect(res.upstream!.headers['x-user-id']).toBe('alice');
      expect(res.upstream!.headers['x-user-tier']).toBe('premium');
      expect(res.upstream!.headers.authorization).toBeUndefined();
      expect(res.upstream!.path).toBe('/anything?a=1');
    });

    for (const [name, send] of PROTOCOLS) {
      it(`denies two different service tokens in x-service-token fields as ambiguous; the same one twice is one identity, ${name}`, async () => {
        const tokens = [await service('eva-frontend'), await service('auth-service')];
        const res = await refused(() => send(mesh, '/anything', tokens.map((t): [string, string] => ['x-service-token', t])));
        expect([res.status, res.reason]).toEqual([401, 'jwt_ambiguous']);
        const good = await service();
        const twice = await send(mesh, '/anything', [['x-service-token', good], ['x-service-token', good]]);
        expect(twice.status).toBe(200);
        expect(twice.upstream!.headers['x-service-id']).toBe('eva-frontend');
        expect(twice.upstream!.headers['x-service-token']).toBeUndefined();
      });
    }
  });

  describe('every credential is checked', () => {
    for (const [name, send] of PROTOCOLS) {
      it(`denies ?access_token=<valid>&access_token=<bad>, ${name}`, async () => {
        const alice = await user('alice');
        const res = await refused(() => send(example, `/anything?access_token=${alice}&access_token=${tampered(alice)}`));
        expect([res.status, res.reason]).toEqual([401, 'jwt_verification_failed']);
      });

      it(`denies two x-service-token fields, valid then bad, ${name}`, async () => {
        const good = await service();
        const res = await refused(() => send(mesh, '/anything', [['x-service-token', good], ['x-service-token', tampered(good)]]));
        expect([res.status, res.reason]).toEqual([401, 'jwt_verification_failed']);
        if (send === h1) {
          // Envoy's codec joins repeated authorization fields (an inline header) with ",": no token
          const user = await mintDemoToken({ alg: 'RS256' });
          expect((await send(mesh, '/anything', [['authorization', `Bearer ${user}`], ['authorization', `Bearer ${tampered(user)}`]])).status).toBe(401);
        }
      });

      it(`denies more credentials than it checks, unchecked, ${name}`, async () => {
        const good = await service();
        const res = await refused(() => send(mesh, '/anything', Array.from({ length: 5 }, (): [string, string] => ['x-service-token', good])));
        expect([res.status, res.reason]).toEqual([401, 'jwt_too_many']);
      });
    }
  });

  describe('no unverified credential goes upstream', () => {
    for (const [name, send] of PROTOCOLS) {
      it(`denies a valid user token with a bad x-service-token under requires_any, ${name}`, async () => {
        const [bad, alice] = [tampered(await service()), await user('alice')];
        const res = await refused(() => send(mesh, '/api/credit-bureau/report', [['authorization', `Bearer ${alice}`], ['x-service-token', bad]]));
        expect([res.status, res.reason]).toEqual([401, 'jwt_verification_failed']);
      });

      it(`denies authorization headers that are no Bearer credential on an allow_missing route, ${name}`, async () => {
        for (const value of ['Bearer\tx', 'Basic dXNlcjpwYXNz']) {
          const res = await refused(() => send(mesh, '/anything', [['authorization', value]]));
          expect([res.status, res.reason], value).toEqual([401, 'jwt_bad_format']);
        }
        expect((await send(mesh, '/anything')).status).toBe(200); // no credential at all: allow_missing
      });

      it(`removes a failed credential where the rule tolerates failure (allow_missing_or_failed), ${name}`, async () => {
        const res = await send(mesh, '/tolerant', [['authorization', `Bearer ${tampered(await user('alice'))}`], ['x-user-id', 'forged']]);
        expect(res.status).toBe(200);
        expect([res.upstream!.headers.authorization, res.upstream!.headers['x-user-id']]).toEqual([undefined, undefined]);
      });
    }
  });

  describe('a user token and a service token together', () => {
    for (const [name, send] of PROTOCOLS) {
      it(`requires_any: allowed as the user, the verified service token removed too, ${name}`, async () => {
        const res = await send(mesh, '/api/credit-bureau/report', [['authorization', `Bearer ${await user('alice', { tier: 'premium' })}`], ['x-service-token', await service()]]);
        expect(res.status).toBe(200);
        const got = res.upstream!.headers;
        expect([got['x-user-id'], got['x-user-tier'], got['x-user-permissions'], got['x-service-id']]).toEqual(['alice', 'premium', 'credit:read', undefined]);
        expect([got.authorization, got['x-service-token']]).toEqual([undefined, undefined]);
      });

      it(`requires_all: each claim header from one credential, the user's first, ${name}`, async () => {
        const res = await send(mesh, '/both', [['authorization', `Bearer ${await user('alice')}`], ['x-service-token', await mintDemoToken({ alg: 'HS256', sub: 'svc', tier: 'premium', permissions: ['admin'] })]]);
        expect(res.status).toBe(200);
        const got = res.upstream!.headers;
        // x-user-* come from alice's token alone (it has no tier: none is written), x-service-id from the service token
        expect([got['x-user-id'], got['x-user-tier'], got['x-user-permissions'], got['x-service-id']]).toEqual(['alice', undefined, 'credit:read', 'eva-frontend']);
      });
    }
  });
});
