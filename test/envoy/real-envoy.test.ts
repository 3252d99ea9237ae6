/**
 * envoy/mesh.yaml on Envoy as the demo (`npm start`) serves it: every cluster with its demo
 * service, the banner saying where everything is, and the checks of mesh-traffic.ts, in
 * order, on ephemeral ports (so that it runs beside a developer's own `npm start`); then the
 * same with its filters as one plugin of the mesh module (`npm start -- --one-module`,
 * harness/envoy/combine.ts), which must answer every check the same.
 */
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDemo, type RunningDemo } from '../../harness/demo/index.ts';
import { envoyAvailable, envoySuiteTitle } from '../../harness/envoy/runner.ts';
import { meshChecks, type MeshContext } from './mesh-traffic.ts';

const root = path.resolve(import.meta.dirname, '../..');
const envoy = envoyAvailable();

for (const oneModule of [false, true]) {
  const form = oneModule ? ', its filters in one module (--one-module)' : '';
  describe.skipIf(!envoy.ok)(envoySuiteTitle(`envoy/mesh.yaml on Envoy with the demo services${form}`, envoy), () => {
    let demo: RunningDemo;
    let ctx: MeshContext;
    const lines: string[] = [];

    beforeAll(async () => {
      demo = await startDemo({ cwd: root, build: false, portOverride: 0, concurrency: 2, logLevel: 'error', log: (l) => lines.push(l), oneModule });
      ctx = { listener: demo.listenerAddress, admin: demo.adminAddress, services: demo.services };
    });
    afterAll(async () => {
      await demo?.stop();
    });

    it('starts a service for every cluster and prints where everything is, and the filter chain', () => {
      expect(demo.services.map((s) => s.cluster).sort()).toEqual(['banking', 'credit-bureau', 'documents', 'echo', 'jwks', 'projects']);
      const text = lines.join('\n');
      const plugins = oneModule ? '1 wasm filter' : '5 wasm filters';
      const chain = oneModule ? 'mesh' : 'rate-limit-edge -> jwt-auth -> rate-limit -> circuit-breaker -> retry';
      expect(text).toMatch(new RegExp(`^mesh-filters demo: envoy/mesh\\.yaml on Envoy [\\d.]* ?\\(pid ${demo.pid}, 2 workers; 1 listener, 6 clusters, ${plugins}\\)$`, 'm'));
      expect(text).toContain(`listener  http://${demo.listenerAddress}   ${chain} -> router`);
      expect(text).toContain(`admin     http://${demo.adminAddress}`);
      for (const s of demo.services) expect(text).toContain(`  ${s.cluster.padEnd(14)}${s.address}`);
    });

    it('serves the demo JWKS (public keys only) through the jwks cluster address', async () => {
      const jwks = demo.services.find((s) => s.cluster === 'jwks')!;
      const res = await fetch(`http://${jwks.address}/.well-known/jwks.json`);
      const body = (await res.json()) as { keys: Array<Record<string, unknown>> };
      expect(body.keys.map((k) => k.kid)).toEqual(['demo-rs256', 'demo-es256']);
      expect(body.keys.every((k) => k.d === undefined)).toBe(true);
    });

    for (const check of meshChecks) it(check.name, () => check.run(ctx));
  });
}
