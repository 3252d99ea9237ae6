// Wasm filters through the proxy: the SDK example (build/test/example.wasm) on worker threads.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { projectRoot } from '../../harness/build.ts';
import { startProxy, type RunningProxy } from '../../harness/proxy/index.ts';
import { startUpstream, type Upstream } from '../../harness/upstream/index.ts';
import { bootstrap } from './bootstrap.ts';

const EXAMPLE = path.join(projectRoot, 'build', 'test', 'example.wasm');
const missing = existsSync(EXAMPLE) ? '' : `${EXAMPLE} not built (npm run build -- --tests)`;

describe.skipIf(missing !== '')(`proxy with the SDK example wasm filter${missing ? ` (skipped: ${missing})` : ''}`, () => {
  let up: Upstream;
  let proxy: RunningProxy;
  beforeAll(async () => {
    up = await startUpstream();
    proxy = await startProxy({
      portOverride: 0,
      concurrency: 2,
      logLevel: 'error',
      bootstrap: bootstrap({
        filters: [
          {
            name: 'envoy.filters.http.wasm',
            typed_config: {
              '@type': 'type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm',
              config: { name: 'example', root_id: 'example', vm_config: { runtime: 'envoy.wasm.runtime.v8', code: { local: { filename: EXAMPLE } } } },
            },
          },
        ],
        virtualHosts: [{ routes: [{ match: { prefix: '/' }, route: { cluster: 'b' } }] }],
        clusters: { b: { endpoints: [up.address] } },
      }),
    });
  });
  afterAll(async () => {
    await proxy?.stop();
    await up?.close();
  });

  it('adds its request header upstream and its response header downstream, on every worker', async () => {
    for (let i = 0; i < 4; i++) {
      const res = await request(`http://${proxy.listeners[0].address}/w${i}`, { reset: true });
      const json = (await res.body.json()) as { headers: Record<string, string> };
      expect(res.statusCode).toBe(200);
      expect(json.headers['x-example-request']).toBeDefined();
      expect(res.headers['x-example-response']).toBeDefined();
    }
  });
});
