// envoy/jwt-auth.yaml and envoy/mesh.yaml as a user runs them (`mesh-filters demo -c ...`):
// the demo services (harness/demo) behind Envoy, tokens minted the way
// `node bin/mesh-filters.js token` mints them (HS256 with the demo secret for services,
// RS256/ES256 with the demo keys the JWKS endpoint serves).
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { envoyAvailable, envoySuiteTitle } from '../../harness/envoy/runner.ts';
import { testModule } from '../../harness/host/testing.ts';
import { startDemo, type RunningDemo } from '../../harness/demo/index.ts';
import { callProject, projectClient } from '../../harness/demo/projects.ts';
import { mintDemoToken } from '../../harness/demo/token.ts';

const root = path.resolve(import.meta.dirname, '../..');

async function get(listener: string, p: string, token?: string): Promise<{ status: number; reason: string | null; json: () => Promise<Record<string, any>> }> {
  const res = await fetch(`http://${listener}${p}`, { headers: token ? { authorization: `Bearer ${token}` } : {} });
  return { status: res.status, reason: res.headers.get('x-jwt-auth-reason'), json: () => res.json() as Promise<Record<string, any>> };
}

/** What envoy/jwt-auth.yaml promises, on the data plane listening at `on()`. */
function exampleChecks(on: () => string): void {
  it('lets service (HS256) and user (RS256, ES256 from the JWKS endpoint) tokens with credit:read reach the credit bureau', async () => {
    for (const alg of ['HS256', 'RS256', 'ES256'] as const) {
      const res = await get(on(), '/api/credit-bureau/report', await mintDemoToken({ alg, permissions: ['credit:read'], tier: 'premium', sub: `u-${alg}` }));
      expect(res.status, alg).toBe(200);
      const seen = (await res.json()).headers;
      expect(seen['x-user-id']).toBe(`u-${alg}`);
      expect(seen['x-user-tier']).toBe('premium');
      expect(seen.authorization).toBeUndefined(); // forward: false
    }
  });

  it('answers 401 without a token, 401 for an expired one, 403 without the permission', async () => {
    expect((await get(on(), '/api/credit-bureau/report')).status).toBe(401);
    const expired = await get(on(), '/api/credit-bureau/report', await mintDemoToken({ permissions: ['credit:read'], expiresInSeconds: -3600 }));
    expect([expired.status, expired.reason]).toEqual([401, 'jwt_expired']);
    const weak = await get(on(), '/api/credit-bureau/report', await mintDemoToken({ alg: 'RS256', permissions: ['documents:write'] }));
    expect([weak.status, weak.reason]).toEqual([403, 'jwt_claims_not_satisfied']);
    const forged = await get(on(), '/api/credit-bureau/report', await mintDemoToken({ alg: 'ES256', permissions: ['credit:read'], kid: 'demo-rs256' }));
    expect(forged.status).toBe(401);
  });

  it('takes other routes with a valid token or none, never with a bad one; health needs nothing', async () => {
    expect((await get(on(), '/health')).status).toBe(200);
    expect((await get(on(), '/anything')).status).toBe(200);
    expect((await get(on(), '/anything', 'not.a.token')).status).toBe(401);
  });

  it('guards the CreateProject gRPC method with project:create', async () => {
    const client = projectClient(on());
    const md = async (permissions: string[]) => ({ authorization: `Bearer ${await mintDemoToken({ permissions, sub: 'alice' })}` });
    try {
      await expect(callProject(client, 'CreateProject', { name: 'x' })).rejects.toMatchObject({ code: grpc.status.UNAUTHENTICATED });
      await expect(callProject(client, 'CreateProject', { name: 'x' }, await md(['project:read']))).rejects.toMatchObject({ code: grpc.status.PERMISSION_DENIED });
      expect(await callProject(client, 'CreateProject', { name: 'x' }, await md(['project:create']))).toMatchObject({ name: 'x', owner_id: 'alice' });
    } finally {
      client.close();
    }
  });
}

const envoy = envoyAvailable();

describe.skipIf(!envoy.ok)(envoySuiteTitle('envoy/jwt-auth.yaml on Envoy with the demo services', envoy), () => {
  let demo: RunningDemo;
  beforeAll(async () => {
    await testModule('jwt-auth');
    demo = await startDemo({ cwd: root, build: false, portOverride: 0, concurrency: 2, logLevel: 'error', bootstrap: 'envoy/jwt-auth.yaml' });
  }, 300_000);
  afterAll(async () => {
    await demo?.stop();
  });
  exampleChecks(() => demo.listenerAddress);
});

describe.skipIf(!envoy.ok)(envoySuiteTitle('envoy/mesh.yaml (npm start) on Envoy', envoy), () => {
  let mesh: RunningDemo;
  beforeAll(async () => {
    await testModule('jwt-auth');
    mesh = await startDemo({ cwd: root, build: false, portOverride: 0, concurrency: 2, logLevel: 'error', bootstrap: 'envoy/mesh.yaml' });
  }, 300_000);
  afterAll(async () => {
    await mesh?.stop();
  });

  it("runs the demo banner's example: a premium token with credit:read reaches the credit bureau with its claims as headers", async () => {
    const res = await get(mesh.listenerAddress, '/api/credit-bureau/report', await mintDemoToken({ permissions: ['credit:read'], tier: 'premium' }));
    expect(res.status).toBe(200);
    const seen = (await res.json()).headers;
    expect(seen['x-user-id']).toBe('demo-user');
    expect(seen['x-user-tier']).toBe('premium');
    expect(seen['x-user-permissions']).toBe('credit:read');
  });

  it('needs documents:write for document writes, and refuses bad tokens anywhere', async () => {
    const post = async (token?: string) =>
      (await fetch(`http://${mesh.listenerAddress}/api/documents/upload`, { method: 'POST', body: '{}', headers: token ? { authorization: `Bearer ${token}` } : {} })).status;
    expect(await post()).toBe(401);
    expect(await post(await mintDemoToken({ alg: 'ES256', permissions: ['credit:read'] }))).toBe(403);
    expect(await post(await mintDemoToken({ alg: 'ES256', permissions: ['documents:write'] }))).toBe(200);
    expect((await get(mesh.listenerAddress, '/somewhere', 'x.y.z')).status).toBe(401);
  });
});
