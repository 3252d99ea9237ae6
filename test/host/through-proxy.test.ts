// The host inside the embedded data plane (harness/proxy, worker threads): modules from
// other SDKs add their headers end to end, and a trapping plugin is answered as its
// failure_policy says (Envoy: 503 with details wasm_fail_stream, or bypass).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { startProxy, type RunningProxy } from '../../harness/proxy/index.ts';
import { startUpstream, type Upstream } from '../../harness/upstream/index.ts';
import { buildFixture, fixtureWasm } from '../../scripts/build-fixtures.ts';
import { bootstrap } from '../integration/bootstrap.ts';
import { PROBE_WASM, ensureBuilt } from './probe.ts';

function wasmFilter(name: string, file: string, configuration: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    name: 'envoy.filters.http.wasm',
    typed_config: {
      '@type': 'type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm',
      config: {
        name,
        root_id: name === 'probe' ? 'probe' : 'add_header',
        vm_config: { vm_id: name, runtime: 'envoy.wasm.runtime.v8', code: { local: { filename: file } } },
        configuration: { '@type': 'type.googleapis.com/google.protobuf.StringValue', value: configuration },
        ...extra,
      },
    },
  };
}

let up: Upstream;
beforeAll(async () => {
  buildFixture('gcore-sdk');
  buildFixture('solo-sdk');
  await ensureBuilt('test-host-probe');
  up = await startUpstream();
}, 300_000);
afterAll(async () => {
  await up?.close();
});

async function withProxy(
  filters: Record<string, unknown>[],
  run: (address: string, proxy: RunningProxy) => Promise<void>,
  logging: { logLevel?: 'warning' | 'off'; log?: (level: string, line: string) => void } = { logLevel: 'off' },
): Promise<void> {
  const proxy: RunningProxy = await startProxy({
    portOverride: 0,
    concurrency: 2,
    ...logging,
    bootstrap: bootstrap({
      filters,
      virtualHosts: [{ routes: [{ match: { prefix: '/' }, route: { cluster: 'backend' } }] }],
      clusters: { backend: { endpoints: [up.address] } },
    }),
  });
  try {
    await run(proxy.listeners[0].address, proxy);
  } finally {
    await proxy.stop();
  }
}

describe('modules from other SDKs through the proxy', () => {
  it('the gcore (AS 0.28, WASI) and solo (AS 0.14, ABI 0.2.0) filters both add their headers', async () => {
    await withProxy(
      [wasmFilter('gcore', fixtureWasm('gcore-sdk'), 'x-from-gcore=proxy'), wasmFilter('solo', fixtureWasm('solo-sdk'), 'x-solo-response=42')],
      async (address) => {
        for (let i = 0; i < 4; i++) {
          const res = await request(`http://${address}/r${i}`, { reset: true });
          const echoed = (await res.body.json()) as { headers: Record<string, string> };
          expect(res.statusCode).toBe(200);
          expect(echoed.headers['x-from-gcore']).toBe('proxy');
          expect(echoed.headers['x-solo-sdk']).toBe('1');
          expect(res.headers['x-gcore-sdk-response']).toBe('1');
          expect(res.headers['x-solo-response']).toBe('42');
        }
      },
    );
  });
});

describe('a trapping plugin through the proxy', () => {
  it('FAIL_CLOSED (default): clients get 503 from then on, the process keeps serving', async () => {
    await withProxy([wasmFilter('probe', PROBE_WASM, 'req_headers trap')], async (address) => {
      for (let i = 0; i < 3; i++) {
        const res = await request(`http://${address}/t${i}`, { reset: true });
        await res.body.dump();
        expect(res.statusCode).toBe(503);
      }
    });
  });

  it('FAIL_OPEN: requests bypass the failed filter', async () => {
    await withProxy([wasmFilter('probe', PROBE_WASM, 'req_headers trap', { failure_policy: 'FAIL_OPEN' })], async (address) => {
      for (let i = 0; i < 3; i++) {
        const res = await request(`http://${address}/o${i}`, { reset: true });
        await res.body.dump();
        expect(res.statusCode).toBe(200);
      }
    });
  });
});

describe('plugin logs through the proxy', () => {
  it('reach the proxy log from every worker at --log-level and above, as Envoy writes them (`wasm log <name> <root_id> <vm_id>: ...`; traps alone)', async () => {
    const lines: string[] = [];
    await withProxy(
      [wasmFilter('probe', PROBE_WASM, ['req_headers log 2 quiet', 'req_headers log 3 loud', 'resp_headers trap'].join('\n'))],
      async (address) => {
        const res = await request(`http://${address}/l`, { reset: true });
        await res.body.dump();
        expect(res.statusCode).toBe(503);
      },
      { logLevel: 'warning', log: (level, line) => lines.push(`[${level}] ${line}`) },
    );
    expect(lines).toContain('[warning] wasm log probe probe probe: loud');
    expect(lines.some((l) => l.includes('quiet'))).toBe(false);
    expect(lines.some((l) => l.startsWith('[error] Function: proxy_on_response_headers failed: Uncaught RuntimeError: unreachable'))).toBe(true);
  });
});

describe('plugin metrics in /stats/prometheus', () => {
  it('counters, gauges and histograms of every worker in one series each, without the wasmcustom namespace, {} for no tags, histograms as cumulative buckets', async () => {
    const script = [
      'configure metric_define 0 probe_hits',
      'configure metric_define 1 probe.level',
      'configure metric_define 2 probe_latency',
      'req_headers metric_inc probe_hits 1',
      'req_headers metric_record probe.level 5',
      'req_headers metric_record probe_latency 7',
    ];
    await withProxy([wasmFilter('probe', PROBE_WASM, script.join('\n'))], async (address, proxy) => {
      for (let i = 0; i < 6; i++) await (await request(`http://${address}/m${i}`, { reset: true })).body.dump();
      const prom = await (await request(`http://${proxy.admin!.address}/stats/prometheus`)).body.text();
      expect(prom).toMatch(/^# TYPE probe_hits counter\nprobe_hits\{\} 6$/m);
      expect(prom).toMatch(/^# TYPE probe_level gauge\nprobe_level\{\} 5$/m);
      expect(prom).toContain('# TYPE probe_latency histogram\n');
      expect(prom).toContain('probe_latency_bucket{le="5"} 0\nprobe_latency_bucket{le="10"} 6\n');
      expect(prom).toContain('probe_latency_bucket{le="+Inf"} 6\nprobe_latency_sum{} 42\nprobe_latency_count{} 6\n');
      // One VM per worker; Envoy also keeps the main thread's base VM (3 here). See docs/FIDELITY.md.
      expect(prom).toMatch(/^envoy_wasm_envoy_wasm_runtime_v8_active\{\} 2$/m);
      expect(prom.match(/^# TYPE probe_hits /gm)).toHaveLength(1);
    });
  });
});
