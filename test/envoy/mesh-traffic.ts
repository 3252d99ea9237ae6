/**
 * Traffic through envoy/mesh.yaml on Envoy and the demo services (real-envoy.test.ts runs
 * these checks): every filter of the chain at work, with real HTTP/1.1 and gRPC (HTTP/2)
 * clients.
 *
 * The checks share one running mesh, whose rate limits and circuits are shared state, so
 * each keeps to its own: its own users (`sub`, the rate-limit key of authenticated
 * requests), the anonymous tier only in the rate-limit check (the test client's address is
 * its key), the credit bureau's circuit opened only by the circuit-breaker check, which
 * runs last. Counts of what reached a service are read before and after.
 */
import { expect } from 'vitest';
import { callProject, projectClient, type Project } from '../../harness/demo/projects.ts';
import type { DemoService } from '../../harness/demo/services.ts';
import { mintDemoToken, type TokenOptions } from '../../harness/demo/token.ts';
import { metric, prometheus } from '../integration/envoy-stats.ts';

export interface MeshContext {
  /** `host:port` of the ingress listener and of the admin. */
  listener: string;
  admin: string;
  /** The demo services behind it (what reached them). */
  services: readonly DemoService[];
}

export interface MeshCheck {
  name: string;
  run(ctx: MeshContext): Promise<void>;
}

interface Reply {
  status: number;
  headers: Headers;
  text: string;
}

async function send(ctx: MeshContext, path: string, opts: { method?: string; token?: string; headers?: Record<string, string>; body?: string } = {}): Promise<Reply> {
  const headers: Record<string, string> = { ...opts.headers };
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  const res = await fetch(`http://${ctx.listener}${path}`, { method: opts.method ?? 'GET', headers, body: opts.body });
  return { status: res.status, headers: res.headers, text: await res.text() };
}

/** The request headers the demo service echoed back. */
function upstreamHeaders(reply: Reply): Record<string, string> {
  return (JSON.parse(reply.text) as { headers: Record<string, string> }).headers;
}

function service(ctx: MeshContext, cluster: string): DemoService {
  const s = ctx.services.find((x) => x.cluster === cluster);
  if (!s) throw new Error(`no demo service for cluster ${cluster}`);
  return s;
}

/** A demo service token (HS256, serviceId eva-frontend) for the user `sub`. */
const serviceToken = (sub: string, permissions: string[], more: TokenOptions = {}) => mintDemoToken({ sub, permissions, ...more });

/** The admin's /stats/prometheus text (the filters' metrics labelled by envoy/mesh.yaml's stats_config). */
const metrics = (ctx: MeshContext): Promise<string> => prometheus(ctx.admin);

const PROJECT = '/zoptal.project.v1.ProjectService';

/** In order: the circuit-breaker check leaves the credit bureau's circuit open. */
export const meshChecks: MeshCheck[] = [
  {
    name: 'routes each path to its service (attempt count in the response); health checks need no token',
    async run(ctx) {
      const health = await send(ctx, '/health');
      expect(health.status).toBe(200);
      expect(JSON.parse(health.text)).toMatchObject({ status: 'healthy' });

      const token = await serviceToken('routing-check', ['credit:read', 'banking:read']);
      for (const [path, upstream] of [
        ['/api/credit-bureau/report', 'credit-bureau'],
        ['/api/transactions/42', 'banking'],
        ['/api/banking/accounts', 'banking'],
        ['/api/documents/7', 'documents'],
        ['/somewhere/else', 'echo'],
      ]) {
        const res = await send(ctx, path, { token });
        expect(res.status, path).toBe(200);
        expect(res.headers.get('x-envoy-attempt-count'), path).toBe('1');
        expect(JSON.parse(res.text), path).toMatchObject({ upstream, path });
      }
    },
  },
  {
    name: 'jwt-auth: no token is 401 with www-authenticate, a bad token 401 invalid_token, even where tokens are optional',
    async run(ctx) {
      const bureau = service(ctx, 'credit-bureau');
      const before = bureau.received();
      const missing = await send(ctx, '/api/credit-bureau/report');
      expect(missing.status).toBe(401);
      expect(missing.headers.get('www-authenticate')).toBe(`Bearer realm="http://${ctx.listener}/api/credit-bureau/report"`);
      expect(missing.headers.get('x-jwt-auth-reason')).toBe('jwt_missing');
      // Claim headers a client writes itself open nothing.
      const forged = await send(ctx, '/api/credit-bureau/report', { headers: { 'x-user-permissions': 'credit:read', 'x-service-id': 'eva-frontend', 'x-user-id': 'alice' } });
      expect(forged.status).toBe(401);

      const expired = await serviceToken('expired-check', ['credit:read'], { expiresInSeconds: -3600 });
      const old = await send(ctx, '/api/credit-bureau/report', { token: expired });
      expect(old.status).toBe(401);
      expect(old.headers.get('www-authenticate')).toContain('error="invalid_token"');
      expect(JSON.parse(old.text)).toMatchObject({ error: 'invalid_token', message: 'Jwt is expired' });
      // Signed with another secret.
      const [h, p] = (await serviceToken('forger', ['credit:read'])).split('.');
      const wrongKey = `${h}.${p}.${Buffer.alloc(32, 7).toString('base64url')}`;
      expect((await send(ctx, '/api/credit-bureau/report', { token: wrongKey })).status).toBe(401);
      // Where a token is optional, a bad one is still refused.
      const optional = await send(ctx, '/api/test', { token: expired });
      expect(optional.status).toBe(401);
      expect(bureau.received()).toBe(before);
    },
  },
  {
    name: 'jwt-auth: a valid token without the route permission, or from a service not allowed to call, is 403 insufficient_scope',
    async run(ctx) {
      const user = await mintDemoToken({ alg: 'RS256', sub: 'scope-check', permissions: ['documents:write'] });
      const denied = await send(ctx, '/api/credit-bureau/report', { token: user });
      expect(denied.status).toBe(403);
      expect(denied.headers.get('www-authenticate')).toContain('error="insufficient_scope"');
      expect(denied.headers.get('x-jwt-auth-reason')).toBe('jwt_claims_not_satisfied');
      // The same user may write documents, but banking reads want banking:read.
      expect((await send(ctx, '/api/documents/9', { method: 'POST', token: user, body: '{}' })).status).toBe(200);
      expect((await send(ctx, '/api/banking/accounts', { token: user })).status).toBe(403);

      // Service tokens: only the allowed calling services (eva-frontend, auth-service).
      const stranger = await serviceToken('scope-check', ['credit:read'], { serviceId: 'analytics-service' });
      expect((await send(ctx, '/api/credit-bureau/report', { token: stranger })).status).toBe(403);
      // Where no token is needed, one that is there must still pass: an anonymous stranger it is not.
      expect((await send(ctx, '/api/test', { token: stranger })).status).toBe(403);
      const auth = await serviceToken('scope-check', ['credit:read'], { serviceId: 'auth-service' });
      expect((await send(ctx, '/api/credit-bureau/report', { token: auth })).status).toBe(200);
    },
  },
  {
    name: 'jwt-auth: valid tokens reach the service with their claims as headers, client copies and the token removed',
    async run(ctx) {
      const forged = { 'x-user-id': 'mallory', 'x-user-tier': 'premium', 'x-service-id': 'billing-service', 'x-user-permissions': 'admin' };
      const svc = await serviceToken('claims-check', ['credit:read']);
      const res = await send(ctx, '/api/credit-bureau/report', { token: svc, headers: forged });
      expect(res.status).toBe(200);
      const seen = upstreamHeaders(res);
      expect(seen['x-user-id']).toBe('claims-check');
      expect(seen['x-service-id']).toBe('eva-frontend');
      expect(seen['x-user-permissions']).toBe('credit:read');
      expect(seen['x-user-tier']).toBeUndefined();
      expect(seen.authorization).toBeUndefined();

      // The seeds' gRPC-metadata header for service tokens works for HTTP too.
      const viaHeader = await send(ctx, '/api/credit-bureau/report', { headers: { 'x-service-token': svc } });
      expect(viaHeader.status).toBe(200);
      expect(upstreamHeaders(viaHeader)['x-service-token']).toBeUndefined();

      // A user token of the identity provider (ES256, key from the JWKS endpoint).
      const user = await mintDemoToken({ alg: 'ES256', sub: 'claims-user', tier: 'premium', permissions: ['credit:read', 'documents:write'] });
      const asUser = await send(ctx, '/api/credit-bureau/report', { token: user, headers: forged });
      expect(asUser.status).toBe(200);
      const userSeen = upstreamHeaders(asUser);
      expect(userSeen).toMatchObject({ 'x-user-id': 'claims-user', 'x-user-tier': 'premium', 'x-user-permissions': 'credit:read,documents:write' });
      expect(userSeen['x-service-id']).toBeUndefined();
      // premium: 100 a minute, 2000 an hour, for this user.
      expect(asUser.headers.get('x-ratelimit-limit')).toBe('100, 100;w=60, 2000;w=3600');
    },
  },
  {
    name: 'rate-limit: anonymous clients get 5 requests a minute per address, whatever x-forwarded-for or x-user-id they send; then 429',
    async run(ctx) {
      const echo = service(ctx, 'echo');
      const before = echo.received('/api/test');
      const remaining: Array<string | null> = [];
      for (let i = 1; i <= 5; i++) {
        // Spoofing attempts: the listener takes the peer's address (use_remote_address), jwt-auth drops x-user-id.
        const res = await send(ctx, '/api/test', { headers: { 'x-forwarded-for': `203.0.113.${i}`, 'x-user-id': `user-${i}` } });
        expect(res.status, `request ${i}`).toBe(200);
        expect(res.headers.get('x-ratelimit-limit')).toBe('5, 5;w=60, 50;w=3600');
        remaining.push(res.headers.get('x-ratelimit-remaining'));
      }
      expect(remaining).toEqual(['4', '3', '2', '1', '0']);
      const limited = await send(ctx, '/api/test', { headers: { 'x-forwarded-for': '198.51.100.7' } });
      expect(limited.status).toBe(429);
      expect(limited.headers.get('x-envoy-ratelimited')).toBe('true');
      expect(Number(limited.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      expect(Number(limited.headers.get('retry-after'))).toBeLessThanOrEqual(12); // one token every 12 s
      expect(limited.headers.get('x-ratelimit-remaining')).toBe('0');
      expect(Number(limited.headers.get('x-ratelimit-reset'))).toBeGreaterThan(0);
      expect(echo.received('/api/test')).toBe(before + 5);

      // The same client with a token: the authenticated tier, its own bucket.
      const token = await mintDemoToken({ alg: 'RS256', sub: 'rate-check' });
      const authenticated = await send(ctx, '/api/test', { token });
      expect(authenticated.status).toBe(200);
      expect(authenticated.headers.get('x-ratelimit-limit')).toBe('30, 30;w=60, 500;w=3600');
      expect(authenticated.headers.get('x-ratelimit-remaining')).toBe('29');
    },
  },
  {
    name: 'retry: a flaky read is retried; a transaction without idempotency-key is tried once, with one retried; client x-envoy-* headers count for nothing',
    async run(ctx) {
      const banking = service(ctx, 'banking');
      const token = await serviceToken('retry-check', ['banking:read', 'transactions:write', 'documents:write']);

      let before = banking.received('/api/banking/flaky');
      const read = await send(ctx, '/api/banking/flaky', { token });
      expect(read.status).toBe(200);
      expect(read.headers.get('x-envoy-attempt-count')).toBe('2');
      expect(banking.received('/api/banking/flaky')).toBe(before + 2);

      before = banking.received('/api/transactions/flaky');
      const once = await send(ctx, '/api/transactions/flaky?mode=reset', { method: 'POST', token, body: '{"amount":100}' });
      expect(once.status).toBe(503);
      expect(once.headers.get('x-envoy-attempt-count')).toBe('1');
      expect(banking.received('/api/transactions/flaky')).toBe(before + 1);

      const keyed = await send(ctx, '/api/transactions/flaky?mode=reset', { method: 'POST', token, body: '{"amount":100}', headers: { 'idempotency-key': 'retry-check-1' } });
      expect(keyed.status).toBe(200);
      expect(keyed.headers.get('x-envoy-attempt-count')).toBe('2');
      expect(JSON.parse(keyed.text)).toMatchObject({ method: 'POST', body: '{"amount":100}' });
      expect(banking.received('/api/transactions/flaky')).toBe(before + 3);

      // No policy retries document writes; a client cannot ask for retries itself (an external
      // request loses its x-envoy-* headers at the connection manager).
      const docs = service(ctx, 'documents');
      const docsBefore = docs.received('/api/documents/retry-check');
      const asked = await send(ctx, '/api/documents/retry-check', {
        method: 'POST',
        token,
        body: '{}',
        headers: { 'x-upstream-status': '503', 'x-envoy-max-retries': '3', 'x-envoy-retry-on': '5xx' },
      });
      expect(asked.status).toBe(503);
      expect(asked.headers.get('x-envoy-attempt-count')).toBe('1');
      expect(docs.received('/api/documents/retry-check')).toBe(docsBefore + 1);
      const seen = upstreamHeaders(asked);
      expect(seen['x-envoy-max-retries']).toBeUndefined();
      expect(seen['x-envoy-retry-on']).toBeUndefined();
    },
  },
  {
    name: 'gRPC: CreateProject is UNAUTHENTICATED without a token, PERMISSION_DENIED without project:create, OK with it',
    async run(ctx) {
      const projects = service(ctx, 'projects');
      const client = projectClient(ctx.listener);
      try {
        const before = projects.received(`${PROJECT}/CreateProject`);
        await expect(callProject(client, 'CreateProject', { name: 'mesh' })).rejects.toMatchObject({ code: 16 }); // UNAUTHENTICATED
        const reader = await serviceToken('grpc-check', ['credit:read']);
        await expect(callProject(client, 'CreateProject', { name: 'mesh' }, { authorization: `Bearer ${reader}` })).rejects.toMatchObject({ code: 7 }); // PERMISSION_DENIED
        expect(projects.received(`${PROJECT}/CreateProject`)).toBe(before);

        const user = await mintDemoToken({ alg: 'RS256', sub: 'grpc-user', permissions: ['project:create'] });
        const created = await callProject<Project>(client, 'CreateProject', { name: 'mesh' }, { authorization: `Bearer ${user}` });
        expect(created).toMatchObject({ name: 'mesh', owner_id: 'grpc-user' }); // the owner is the token's sub (x-user-id)
        // A service token in the seeds' x-service-token metadata.
        const creator = await serviceToken('grpc-service', ['project:create']);
        expect(await callProject<Project>(client, 'CreateProject', { name: 'svc' }, { 'x-service-token': creator })).toMatchObject({ owner_id: 'grpc-service' });
        expect(projects.received(`${PROJECT}/CreateProject`)).toBe(before + 2);

        // Every other method takes any valid token.
        await expect(callProject(client, 'GetProject', { project_id: created.id })).rejects.toMatchObject({ code: 16 });
        expect(await callProject<Project>(client, 'GetProject', { project_id: created.id }, { authorization: `Bearer ${reader}` })).toMatchObject({ id: created.id, name: 'mesh' });
        await expect(callProject(client, 'GetProject', { project_id: 'p-none' }, { authorization: `Bearer ${reader}` })).rejects.toMatchObject({ code: 5 }); // NOT_FOUND
      } finally {
        client.close();
      }
    },
  },
  {
    name: "metrics: each filter's counters on the admin's /stats/prometheus move with the requests",
    async run(ctx) {
      const before = await metrics(ctx);
      const token = await serviceToken('metrics-check', ['banking:read']);
      expect((await send(ctx, '/api/credit-bureau/metrics-check')).status).toBe(401);
      expect((await send(ctx, '/api/banking/metrics-check', { token })).status).toBe(200);
      const after = await metrics(ctx);
      const moved = (name: string, labels: Record<string, string> = {}) => (metric(after, name, labels) ?? NaN) - (metric(before, name, labels) ?? 0);
      expect(moved('edge_rate_limit_requests_total', { rule: 'all', outcome: 'allowed' })).toBe(2);
      expect(moved('jwt_auth_denied_total', { reason: 'jwt_missing' })).toBe(1);
      expect(moved('jwt_auth_provider_allowed_total', { provider: 'services' })).toBe(1);
      expect(moved('rate_limit_requests_total', { rule: 'authenticated', outcome: 'allowed' })).toBe(1);
      expect(moved('retry_policy_requests_total', { policy: 'reads' })).toBe(1);
      expect(moved('circuit_breaker_requests_total', { service: 'banking', outcome: 'admitted' })).toBe(1);
      expect(metric(after, 'circuit_breaker_state', { service: 'banking', state: 'closed' })).toBe(1);
    },
  },
  {
    name: 'circuit-breaker: three credit-bureau failures open its circuit; then 503 x-circuit-breaker: open, and nothing reaches the service',
    async run(ctx) {
      const bureau = service(ctx, 'credit-bureau');
      const token = await serviceToken('circuit-check', ['credit:read']);
      const failTest = () => send(ctx, '/api/credit-bureau/fail-test', { method: 'POST', token });
      const before = bureau.received();
      for (let i = 1; i <= 3; i++) {
        const res = await failTest();
        expect(res.status, `failure ${i}`).toBe(503);
        expect(JSON.parse(res.text), `failure ${i}`).toEqual({ error: 'service_unavailable', service: 'credit-bureau' });
        expect(res.headers.get('x-circuit-breaker')).toBeNull();
      }
      expect(bureau.received()).toBe(before + 3);

      for (const res of [await failTest(), await send(ctx, '/api/credit-bureau/report', { token })]) {
        expect(res.status).toBe(503);
        expect(res.headers.get('x-circuit-breaker')).toBe('open');
        expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(50); // open for 60 s
        expect(JSON.parse(res.text)).toEqual({ error: 'circuit_open' });
      }
      expect(bureau.received()).toBe(before + 3);
      expect(metric(await metrics(ctx), 'circuit_breaker_state', { service: 'credit-bureau', state: 'open' })).toBe(1);
    },
  },
];
