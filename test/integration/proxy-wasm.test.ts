// The SDK's example filter (build/test/example.wasm, test/wasm/example) on Envoy, twice in
// one filter chain: without a plugin configuration (its defaults) and with one. Each adds
// its request header upstream, its response header downstream, and counts requests on
// /stats/prometheus. Reported as skipped, with the reason, where there is no Envoy.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { envoyAvailable, envoySuiteTitle, startEnvoy, type EnvoyProcess } from '../../harness/envoy/runner.ts';
import { testModule } from '../../harness/host/testing.ts';
import { startUpstream, type Upstream } from '../../harness/upstream/index.ts';
import { bootstrap } from './bootstrap.ts';
import { metric, prometheus } from './envoy-stats.ts';
import { wasmHttpFilter } from './wasm-filter.ts';

const envoy = envoyAvailable();

describe.skipIf(!envoy.ok)(envoySuiteTitle('the SDK example wasm filter on Envoy (--concurrency 1)', envoy), () => {
  let up: Upstream;
  let proxy: EnvoyProcess;
  beforeAll(async () => {
    const example = await testModule('test-example');
    up = await startUpstream();
    proxy = await startEnvoy({
      portOverride: 0,
      concurrency: 1,
      availability: envoy,
      bootstrap: bootstrap({
        filters: [
          wasmHttpFilter('example', example, ''),
          wasmHttpFilter('configured', example, 'request_header=X-Configured\nrequest_value=on\nresponse_value=42\ncounter=configured_requests'),
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

  it('adds its request header upstream and its response header downstream, and counts the request', async () => {
    for (let i = 0; i < 3; i++) {
      const res = await request(`http://${proxy.listeners.ingress}/w${i}`);
      const json = (await res.body.json()) as { headers: Record<string, string> };
      expect(res.statusCode).toBe(200);
      expect([json.headers['x-example-request'], json.headers['x-configured']]).toEqual(['1', 'on']);
      // both add x-example-response; encoders run in reverse filter order, the configured one first
      expect(res.headers['x-example-response']).toEqual(['42', '1']);
    }
    const prom = await prometheus(proxy.adminAddress);
    expect([metric(prom, 'example_requests_total'), metric(prom, 'configured_requests')]).toEqual([3, 3]);
  });
});
