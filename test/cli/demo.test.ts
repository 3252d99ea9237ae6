/**
 * The demo (`npm start`): every cluster of envoy/mesh.yaml gets its demo service, the
 * embedded data plane serves the bootstrap, and HTTP and gRPC requests reach the right
 * services. Ephemeral ports, so that it runs beside a developer's own `npm start`.
 */
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDemo, type RunningDemo } from '../../harness/demo/index.ts';
import { checkMeshTraffic } from '../envoy/mesh-traffic.ts';

const root = path.resolve(import.meta.dirname, '../..');

describe('demo on the embedded data plane', () => {
  let demo: RunningDemo;
  const lines: string[] = [];

  beforeAll(async () => {
    demo = await startDemo({ cwd: root, build: false, portOverride: 0, concurrency: 2, logLevel: 'error', log: (l) => lines.push(l) });
  });
  afterAll(async () => {
    await demo?.stop();
  });

  it('starts a service for every cluster and prints where everything is', () => {
    expect(demo.services.map((s) => s.cluster).sort()).toEqual(['banking', 'credit-bureau', 'documents', 'echo', 'jwks', 'projects']);
    const text = lines.join('\n');
    expect(text).toContain(`listener  http://${demo.listenerAddress}`);
    expect(text).toContain(`admin     http://${demo.adminAddress}`);
    expect(text).toContain('bin/mesh-filters.js token');
  });

  it('routes HTTP and gRPC to the demo services', async () => {
    await checkMeshTraffic(demo.listenerAddress);
  });

  it('serves the demo JWKS (public keys only) through the jwks cluster address', async () => {
    const jwks = demo.services.find((s) => s.cluster === 'jwks')!;
    const res = await fetch(`http://${jwks.address}/.well-known/jwks.json`);
    const body = (await res.json()) as { keys: Array<Record<string, unknown>> };
    expect(body.keys.map((k) => k.kid)).toEqual(['demo-rs256', 'demo-es256']);
    expect(body.keys.every((k) => k.d === undefined)).toBe(true);
  });

  it('has an admin that answers /ready', async () => {
    const res = await fetch(`http://${demo.adminAddress}/ready`);
    expect(res.status).toBe(200);
    expect((await res.text()).trim()).toBe('LIVE');
  });
});
