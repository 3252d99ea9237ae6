// hello (build/hello.wasm) on the project's proxy-wasm host and on Envoy: the template a
// new filter's tests start from, beside the filter as the Go SDK's examples keep theirs.
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { projectRoot } from '../../harness/build.ts';
import { WasmPluginError } from '../../harness/host/index.ts';
import { counter, exchange, filterEmulator, testModule } from '../../harness/host/testing.ts';
import { FilterHeadersStatus } from '../../harness/host/filter.ts';
import { envoyAvailable, envoySuiteTitle, startEnvoy, type EnvoyProcess } from '../../harness/envoy/runner.ts';
import { bootstrap } from '../../test/integration/bootstrap.ts';
import { wasmHttpFilter } from '../../test/integration/wasm-filter.ts';

const CONFIG = { greeting: 'hi there', header: 'x-hello', deny_path_prefix: '/forbidden' };
const WASM = path.join(projectRoot, 'build', 'hello.wasm');

describe('hello on the host', () => {
  let wasm = '';
  beforeAll(async () => {
    wasm = await testModule('hello');
  });
  const create = (config: unknown) => filterEmulator(wasm, 'hello', config);

  it('greets a request and counts it', async () => {
    const emu = await create(CONFIG);
    const x = exchange(emu);
    expect(x.filterStatus).toBe(FilterHeadersStatus.Continue);
    expect(x.requestHeader('x-hello')).toBe('hi there');
    expect(counter(emu, 'hello_requests_total', { outcome: 'greeted' })).toBe(1);
    expect(counter(emu, 'hello_requests_total', { outcome: 'denied' })).toBe(0);
  });

  it('replaces a greeting the client sent', async () => {
    const emu = await create(CONFIG);
    expect(exchange(emu, { headers: { 'x-hello': 'forged' } }).requestHeader('x-hello')).toBe('hi there');
  });

  it('answers 403 under deny_path_prefix', async () => {
    const emu = await create(CONFIG);
    const x = exchange(emu, { path: '/forbidden/x' });
    expect(x.filterStatus).toBe(FilterHeadersStatus.StopAllIterationAndWatermark);
    expect(x.reply).toMatchObject({ status: 403, details: 'hello_denied' });
    expect(x.requestHeader('x-hello')).toBeUndefined();
    expect(counter(emu, 'hello_requests_total', { outcome: 'denied' })).toBe(1);
    expect(counter(emu, 'hello_requests_total', { outcome: 'greeted' })).toBe(0);
  });

  it('rejects a bad configuration with one line naming the field', async () => {
    for (const [config, line] of [
      [{ header: 'X-Hello' }, 'hello: header: expected a lower-case header name'],
      [{ deny_path_prefix: 'forbidden' }, 'hello: deny_path_prefix: expected a path starting with "/"'],
      [{ greting: 'typo' }, 'hello: greting: unknown field'],
    ] as const) {
      const error = await create(config).catch((e) => e);
      expect(error).toBeInstanceOf(WasmPluginError);
      expect(error.message).toBe(line);
    }
  });
});

const envoy = envoyAvailable();
describe.skipIf(!envoy.ok)(envoySuiteTitle('hello on Envoy', envoy), () => {
  let proxy: EnvoyProcess;
  let base = '';
  beforeAll(async () => {
    await testModule('hello');
    proxy = await startEnvoy({
      bootstrap: bootstrap({
        virtualHosts: [{ routes: [{ match: { prefix: '/' }, direct_response: { status: 200, body: { inline_string: 'ok' } } }] }],
        clusters: {},
        filters: [wasmHttpFilter('hello', WASM, CONFIG)],
      }),
      concurrency: 1,
    });
    base = `http://${proxy.listeners.ingress}`;
  });
  afterAll(async () => proxy?.stop());

  it('answers 403 under the prefix and lets the rest through, counted on /stats', async () => {
    expect((await fetch(`${base}/forbidden/a`)).status).toBe(403);
    expect((await fetch(`${base}/ok`)).status).toBe(200);
    const stats = await (await fetch(`http://${proxy.adminAddress}/stats/prometheus`)).text();
    expect(stats).toMatch(/hello_requests_total\{outcome="denied"\} 1\b/);
    expect(stats).toMatch(/hello_requests_total\{outcome="greeted"\} 1\b/);
  });
});
