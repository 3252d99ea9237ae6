// harness/host/testing.ts, the filter suites' helpers: the exchange driver, the metric reader
// (labels in any order, a clear error for a metric never defined), the seed configurations
// read from envoy/*.yaml in both forms (Envoy bootstrap, Istio WasmPlugin), and the modules
// (built by harness/build.ts `buildTarget`, only when stale, never seen half-written).
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildTarget, listTargets, projectRoot } from '../../harness/build.ts';
import { counter, exchange, filterEmulator, forwarded, gauge, pluginConfig, request, seedEntry, testModule } from '../../harness/host/testing.ts';

const PROBE = await testModule('test-host-probe');

describe('counter and gauge', () => {
  it('find a metric by name and labels in any order, and throw for one never defined', async () => {
    const emu = await filterEmulator(PROBE, 'probe', [
      'configure metric_define 0 rule=.=a;.;outcome=.=denied;.;x_requests_total',
      'configure metric_define 0 rule=.=a;.;outcome=.=allowed;.;x_requests_total',
      'configure metric_define 1 state=.=open;.;x_state',
      'configure metric_inc rule=.=a;.;outcome=.=denied;.;x_requests_total 3',
      'configure metric_record state=.=open;.;x_state 1',
    ].join('\n'));
    expect(counter(emu, 'x_requests_total', { outcome: 'denied', rule: 'a' })).toBe(3);
    expect(counter(emu, 'x_requests_total', { rule: 'a', outcome: 'allowed' })).toBe(0);
    expect(gauge(emu, 'x_state', { state: 'open' })).toBe(1);
    expect(() => counter(emu, 'x_requests_total', { rule: 'a' })).toThrow('the plugin defined no counter x_requests_total{rule="a"}');
    expect(() => counter(emu, 'x_state', { state: 'open' })).toThrow('no counter'); // a gauge is not a counter
  });
});

describe('request and exchange', () => {
  it('send the pseudo-headers (overridable) and headers, answer, and keep what the stream ended with', async () => {
    const emu = await filterEmulator(PROBE, 'probe', 'req_headers return 0');
    const open = request(emu, { method: 'POST', path: '/a', headers: [['x', '1'], ['x', '2'], [':authority', 'other']] });
    expect(open.filterStatus).toBe(0);
    // The header map keeps pseudo-headers first, as Envoy's does.
    expect(open.requestHeaders).toEqual([[':method', 'POST'], [':path', '/a'], [':scheme', 'https'], [':authority', 'other'], ['x', '1'], ['x', '2']]);
    expect(open.requestHeader('x')).toBe('1,2');
    expect(open.status).toBeUndefined();
    open.respond({ ':status': '503', 'y': 'z' });
    expect([open.status, open.responseHeader('y'), open.reply]).toEqual([503, 'z', undefined]);
    // Completed: the exchange still reads after the emulator has let the stream go.
    for (let i = 0; i < 4100; i++) exchange(emu);
    expect(() => emu.getCurrentRequestHeaders(open.id)).toThrow();
    expect(open.requestHeader(':path')).toBe('/a');
    expect(forwarded(emu, 3, { path: '/b' })).toBe(3);
  });
});

describe('pluginConfig and seedEntry', () => {
  it('read an Envoy bootstrap and an Istio WasmPlugin, and refuse what is not there', () => {
    expect(pluginConfig('envoy/retry.yaml', 'retry')).toMatchObject({ budget: { ratio: 0.2, window: '10s' }, strip_downstream_retry_headers: true });
    expect(seedEntry('envoy/istio/circuit-breaker.yaml', 'circuit-breaker', 'services', 'credit-bureau')).toMatchObject({ failure_threshold: 3, open_duration: '60s' });
    expect(() => pluginConfig('envoy/retry.yaml', 'no-such-plugin')).toThrow('0 configurations of plugin no-such-plugin');
    expect(() => seedEntry('envoy/retry.yaml', 'retry', 'policies', 'nothing')).toThrow('has no policies entry named nothing');
  });
});

describe('testModule and buildTarget', () => {
  it('builds a variant entry into build/test/<outName>.wasm with its depfile, once while it is fresh', async () => {
    const out = path.join(projectRoot, 'build/test/noop-testing-variant.wasm');
    rmSync(out, { force: true });
    rmSync(`${out}.deps`, { force: true });
    try {
      expect(await testModule('test-noop', { entry: 'test/wasm/noop/index.ts', outName: 'noop-testing-variant' })).toBe(out);
      expect(WebAssembly.validate(readFileSync(out))).toBe(true);
      expect(JSON.parse(readFileSync(`${out}.deps`, 'utf8'))).toContain('test/wasm/noop/index.ts');
      const built = statSync(out).mtimeMs;
      await testModule('test-noop', { entry: 'test/wasm/noop/index.ts', outName: 'noop-testing-variant' });
      expect(statSync(out).mtimeMs).toBe(built);
      expect(readdirSync(path.dirname(out)).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    } finally {
      rmSync(out, { force: true });
      rmSync(`${out}.deps`, { force: true });
    }
  }, 180_000);

  it('writes outFile whole when two builds race for it, and leaves nothing when asc fails', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'build-target-'));
    try {
      const noop = (await listTargets()).find((t) => t.name === 'test-noop')!;
      const outFile = path.join(dir, 'noop.wasm');
      const [a, b] = await Promise.all([buildTarget(noop, { outFile }), buildTarget(noop, { outFile })]);
      expect(a.bytes).toBe(b.bytes);
      expect(WebAssembly.validate(readFileSync(outFile))).toBe(true);
      await expect(buildTarget({ ...noop, entry: 'test/wasm/noop/missing.ts' }, { outFile: path.join(dir, 'bad.wasm') })).rejects.toThrow(/test-noop: /);
      expect(readdirSync(dir).sort()).toEqual(['noop.wasm', 'noop.wasm.deps']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 180_000);
});
