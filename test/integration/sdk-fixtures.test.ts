// Modules on Envoy beyond the four filters: filters built with other proxy-wasm SDKs
// (test/fixtures/, scripts/build-fixtures.ts) add their headers; a plugin that traps is
// answered as its failure policy says; plugin log lines reach Envoy's log; plugin metrics
// show on /stats/prometheus. The trapping and logging plugin is the host's probe module
// (test/wasm/host-probe: a script of raw hostcalls per callback). Reported as skipped, with
// the reason, where there is no Envoy.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { envoyAvailable, envoySuiteTitle, startEnvoy, type EnvoyProcess } from '../../harness/envoy/runner.ts';
import { startUpstream, type Upstream } from '../../harness/upstream/index.ts';
import { testModule } from '../../harness/host/testing.ts';
import { buildFixture, fixtureWasm } from '../../scripts/build-fixtures.ts';
import { bootstrap } from './bootstrap.ts';
import { metric, prometheus, workerConnections } from './envoy-stats.ts';
import { wasmHttpFilter } from './wasm-filter.ts';

const envoy = envoyAvailable();
let probeWasm = '';

/** The probe plugin (root_id `probe`) running `script` (lines `<phase> <op> <args>`). */
const probe = (script: string[], plugin: Record<string, unknown> = {}) => wasmHttpFilter('probe', probeWasm, script.join('\n'), undefined, plugin);

describe.skipIf(!envoy.ok)(envoySuiteTitle('modules on Envoy: other SDKs, failure policies, logs, metrics', envoy), () => {
  let up: Upstream;
  beforeAll(async () => {
    buildFixture('gcore-sdk');
    buildFixture('solo-sdk');
    probeWasm = await testModule('test-host-probe');
    up = await startUpstream();
  }, 300_000);
  afterAll(async () => {
    await up?.close();
  });

  /**
   * Runs `filters` before the router on Envoy (`concurrency` workers, `--log-level warn`),
   * calls `run`, stops Envoy; returns the lines Envoy logged.
   */
  async function withEnvoy(filters: Record<string, unknown>[], run: (proxy: EnvoyProcess) => Promise<void>, concurrency = 1): Promise<string> {
    const log: string[] = [];
    const doc = bootstrap({ filters, virtualHosts: [{ routes: [{ match: { prefix: '/' }, route: { cluster: 'backend' } }] }], clusters: { backend: { endpoints: [up.address] } } });
    // Histograms reach the admin when stats are flushed (default every 5 s).
    const proxy = await startEnvoy({ bootstrap: { ...doc, stats_flush_interval: '0.1s' }, concurrency, logLevel: 'warn', portOverride: 0, availability: envoy, onOutput: (line) => log.push(line) });
    try {
      await run(proxy);
    } finally {
      await proxy.stop();
    }
    return log.join('\n');
  }

  /** Statuses of `n` GETs, each on a new connection. */
  async function statuses(proxy: EnvoyProcess, n: number): Promise<number[]> {
    const out: number[] = [];
    for (let i = 0; i < n; i++) {
      const res = await request(`http://${proxy.listeners.ingress}/r${i}`, { reset: true });
      await res.body.dump();
      out.push(res.statusCode);
    }
    return out;
  }

  it('the gcore (AS 0.28, WASI) and solo (AS 0.14, ABI 0.2.0) filters both add their headers', async () => {
    const filters = [
      wasmHttpFilter('add_header', fixtureWasm('gcore-sdk'), 'x-from-gcore=envoy', undefined, { name: 'gcore' }),
      wasmHttpFilter('add_header', fixtureWasm('solo-sdk'), 'x-solo-response=42', undefined, { name: 'solo' }),
    ];
    await withEnvoy(filters, async (proxy) => {
      for (let i = 0; i < 3; i++) {
        const res = await request(`http://${proxy.listeners.ingress}/r${i}`);
        const echoed = (await res.body.json()) as { headers: Record<string, string> };
        expect(res.statusCode).toBe(200);
        expect([echoed.headers['x-from-gcore'], echoed.headers['x-solo-sdk']]).toEqual(['envoy', '1']);
        expect([res.headers['x-gcore-sdk-response'], res.headers['x-solo-response']]).toEqual(['1', '42']);
      }
    });
  });

  // One worker, so that every request meets the one VM that trapped (each worker has its own).
  describe('a plugin that traps in proxy_on_request_headers (--concurrency 1)', () => {
    it('FAIL_CLOSED (the default): that request and every later one get 503 with an empty body; Envoy keeps serving', async () => {
      const before = up.count();
      await withEnvoy([probe(['req_headers trap'])], async (proxy) => {
        expect(await statuses(proxy, 3)).toEqual([503, 503, 503]);
        const res = await request(`http://${proxy.listeners.ingress}/after`);
        expect([res.statusCode, await res.body.text()]).toEqual([503, '']);
        expect((await request(`http://${proxy.adminAddress}/ready`)).statusCode).toBe(200);
      });
      expect(up.count()).toBe(before);
    });

    // Envoy hands proxy-wasm-cpp-host only the legacy fail_open flag (Plugin → PluginBase), so
    // the stream that was in the VM when it trapped fails closed; failure_policy FAIL_OPEN acts
    // in PluginConfig::createContext, which leaves the failed filter out of later streams.
    it('failure_policy FAIL_OPEN: that request gets 503, later ones bypass the failed plugin', async () => {
      const before = up.count();
      await withEnvoy([probe(['req_headers trap'], { failure_policy: 'FAIL_OPEN' })], async (proxy) => {
        expect(await statuses(proxy, 3)).toEqual([503, 200, 200]);
      });
      expect(up.count() - before).toBe(2);
    });

    it('the legacy fail_open: true: that request bypasses it too', async () => {
      const before = up.count();
      await withEnvoy([probe(['req_headers trap'], { fail_open: true })], async (proxy) => {
        expect(await statuses(proxy, 3)).toEqual([200, 200, 200]);
      });
      expect(up.count() - before).toBe(3);
    });
  });

  it('plugin log lines reach Envoy’s log at --log-level and above (`wasm log <name> <root_id> <vm_id>: ...`), a trap as the failed call', async () => {
    const log = await withEnvoy([probe(['req_headers log 2 quiet', 'req_headers log 3 loud', 'resp_headers trap'])], async (proxy) => {
      expect(await statuses(proxy, 1)).toEqual([503]);
    });
    expect(log).toMatch(/\[warning\]\[wasm\] \[[^\]]+\] wasm log probe probe probe: loud$/m);
    expect(log).not.toContain('quiet'); // info, below warn
    expect(log).toMatch(/\[error\]\[wasm\] \[[^\]]+\] Function: proxy_on_response_headers failed: Uncaught RuntimeError: unreachable$/m);
  });

  it('plugin metrics of 4 workers: one series each on /stats/prometheus, named as defined, without tags', async () => {
    const requests = 40;
    const script = [
      'configure metric_define 0 probe_hits',
      'configure metric_define 1 probe.level',
      'configure metric_define 2 probe_latency',
      'req_headers metric_inc probe_hits 1',
      'req_headers metric_record probe.level 5',
      'req_headers metric_record probe_latency 7',
    ];
    await withEnvoy([probe(script)], async (proxy) => {
      expect(await statuses(proxy, requests)).toEqual(Array(requests).fill(200));
      expect((await workerConnections(proxy.adminAddress)).map((n) => n > 0)).toEqual([true, true, true, true]);
      let prom = '';
      const deadline = Date.now() + 10_000;
      while (metric(prom, 'probe_latency_count') !== requests && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 100));
        prom = await prometheus(proxy.adminAddress);
      }
      expect(prom).toMatch(new RegExp(`^# TYPE probe_hits counter\\nprobe_hits\\{\\} ${requests}$`, 'm'));
      expect(prom).toMatch(/^# TYPE probe_level gauge\nprobe_level\{\} 5$/m); // the name sanitized
      expect(prom).toContain('# TYPE probe_latency histogram\n');
      expect(prom).toContain(`probe_latency_bucket{le="5"} 0\nprobe_latency_bucket{le="10"} ${requests}\n`);
      expect(prom).toContain(`probe_latency_bucket{le="+Inf"} ${requests}\n`);
      expect(metric(prom, 'probe_latency_count')).toBe(requests);
      // Envoy's histograms keep two significant digits: each 7 counts as its bin [7, 7.1).
      expect(metric(prom, 'probe_latency_sum')).toBeGreaterThanOrEqual(7 * requests);
      expect(metric(prom, 'probe_latency_sum')).toBeLessThan(7.1 * requests);
      expect(prom.match(/^# TYPE probe_hits /gm)).toHaveLength(1);
      // A VM per thread-local slot (main thread and each worker) and the base VM the configuration was loaded in.
      expect(metric(prom, 'envoy_wasm_envoy_wasm_runtime_v8_active')).toBe(4 + 2);
    }, 4);
  });
});
