// A trap in the VM and the plugin's failure policy: cpp-host src/context.cc (CHECK_FAIL),
// src/v8/v8.cc (getFailMessage), Envoy common/wasm/context.cc (failStream: 503
// wasm_fail_stream, gRPC UNAVAILABLE), common/wasm/wasm.cc (PluginConfig: failure_policy,
// fail_open, FAIL_RELOAD with a jittered back-off from reload_config.backoff.base_interval).
import { describe, expect, it } from 'vitest';
import { FilterHeadersStatus } from '../../harness/host/filter.ts';
import { LogLevel } from '../../harness/host/abi.ts';
import { WasmPlugin, WasmPluginError } from '../../harness/host/plugin.ts';
import { testModule } from '../../harness/host/testing.ts';
import { GET, PROBE_WASM, probe, setScript } from './probe.ts';
import { readFile } from 'node:fs/promises';

const trapScript = (when: string) => [`req_headers ${when}`, 'req_headers log 2 serving'];

describe('a trap', () => {
  it('is logged at error as Envoy does, naming the function (no backtrace: the module has no name section)', async () => {
    const emu = await probe(trapScript('trap'));
    const id = emu.initializeHttpContext();
    emu.callOnRequestHeaders(id, GET, true);
    const line = emu.getLogEntries().find((l) => l.level === LogLevel.Error && l.message.startsWith('Function:'));
    expect(line?.message).toMatch(/^Function: proxy_on_request_headers failed: Uncaught RuntimeError: unreachable/);
    expect(line?.message).not.toContain('backtrace');
    expect(emu.vmFailed).toBe(true);
  });

  it('FAIL_CLOSED (default): the stream gets 503 wasm_fail_stream (gRPC UNAVAILABLE), and so do later streams', async () => {
    const emu = await probe(trapScript('trap'));
    const id = emu.initializeHttpContext();
    expect(emu.callOnRequestHeaders(id, GET, true)).toBe(FilterHeadersStatus.StopAllIterationAndWatermark);
    expect(emu.getSentLocalResponse(id)).toMatchObject({ status: 503, details: 'wasm_fail_stream', grpcStatus: 14 });
    emu.completeHttpContext(id);
    const next = emu.initializeHttpContext();
    expect(emu.callOnRequestHeaders(next, GET, true)).toBe(FilterHeadersStatus.StopAllIterationAndWatermark);
    expect(emu.getSentLocalResponse(next)?.status).toBe(503);
    // No VM code ran for the later stream.
    expect(emu.getLogs().filter((l) => l.startsWith('on_request_headers'))).toHaveLength(1);
    expect(emu.getCounterValue('wasm.emulated.runtime_error')).toBe(1n);
  });

  // Envoy hands cpp-host's PluginBase only the legacy fail_open flag: with failure_policy
  // FAIL_OPEN the stream in the VM when it trapped fails closed (CHECK_FAIL), and
  // PluginConfig::createContext leaves the failed filter out of the streams after it
  // (test/integration/sdk-fixtures.test.ts: 503, 200, 200 on Envoy 1.40).
  it('FAIL_OPEN: the stream that trapped gets 503 wasm_fail_stream; later streams bypass the filter', async () => {
    const emu = await probe(trapScript('trap'), { failurePolicy: 'FAIL_OPEN' });
    const id = emu.initializeHttpContext();
    expect(emu.callOnRequestHeaders(id, GET, true)).toBe(FilterHeadersStatus.StopAllIterationAndWatermark);
    expect(emu.getSentLocalResponse(id)).toMatchObject({ status: 503, details: 'wasm_fail_stream' });
    emu.completeHttpContext(id);
    const next = emu.initializeHttpContext();
    expect(emu.callOnRequestHeaders(next, GET, true)).toBe(FilterHeadersStatus.Continue);
    expect(emu.getSentLocalResponse(next)).toBeUndefined();
    expect(emu.getCurrentResponseHeaders(next)).toEqual([]);
  });

  it('the legacy fail_open: true: the stream that trapped goes on too, and so do later ones', async () => {
    const emu = await probe(trapScript('trap'), { failOpen: true });
    const id = emu.initializeHttpContext();
    expect(emu.callOnRequestHeaders(id, GET, true)).toBe(FilterHeadersStatus.Continue);
    expect(emu.getSentLocalResponse(id)).toBeUndefined();
    // Its response passes the failed VM untouched.
    expect(emu.callOnResponseHeaders(id, { ':status': '200' }, true)).toBe(FilterHeadersStatus.Continue);
    expect(emu.getSentLocalResponse(id)).toBeUndefined();
    emu.completeHttpContext(id);
    const next = emu.initializeHttpContext();
    expect(emu.callOnRequestHeaders(next, GET, true)).toBe(FilterHeadersStatus.Continue);
    expect(emu.getSentLocalResponse(next)).toBeUndefined();
  });

  it('FAIL_OPEN: a stream that was already running when another one trapped fails closed', async () => {
    const emu = await probe(['req_headers log 2 serving', 'resp_headers trap'], { failurePolicy: 'FAIL_OPEN' });
    const first = emu.initializeHttpContext();
    const second = emu.initializeHttpContext();
    emu.callOnRequestHeaders(first, GET, true);
    emu.callOnRequestHeaders(second, GET, true);
    emu.callOnResponseHeaders(first, { ':status': '200' }, true);
    expect(emu.vmFailed).toBe(true);
    emu.callOnResponseHeaders(second, { ':status': '200' }, true);
    expect(emu.getSentLocalResponse(second)).toMatchObject({ status: 503, details: 'wasm_fail_stream' });
  });

  it('FAIL_RELOAD: 503 while backing off, then a fresh VM serves again', async () => {
    const emu = await probe(['req_headers log 2 serving'], { failurePolicy: 'FAIL_RELOAD', reloadBaseIntervalMs: 1000 });
    // Only the first VM traps: its script is swapped; a reloaded VM runs the configuration's.
    setScript(emu.plugin, ['req_headers trap']);
    const first = emu.initializeHttpContext();
    emu.callOnRequestHeaders(first, GET, true);
    expect(emu.getSentLocalResponse(first)?.status).toBe(503);
    // Within the back-off (at least the base interval) streams are refused.
    const early = emu.initializeHttpContext();
    emu.callOnRequestHeaders(early, GET, true);
    expect(emu.getSentLocalResponse(early)?.status).toBe(503);
    expect(emu.getCounterValue('wasm.emulated.vm_reload_backoff')).toBeGreaterThanOrEqual(1n);
    // After 1.5 x base the next stream reloads the VM (its script is the plugin configuration again).
    emu.advanceClock(1500);
    const later = emu.initializeHttpContext();
    expect(emu.callOnRequestHeaders(later, GET, true)).toBe(FilterHeadersStatus.Continue);
    expect(emu.getSentLocalResponse(later)).toBeUndefined();
    expect(emu.getLogs()).toContain('serving');
    expect(emu.getCounterValue('wasm.emulated.vm_reload_success')).toBe(1n);
    expect(emu.vmFailed).toBe(false);
  });

  it('fail_open and failure_policy together are refused (Envoy PluginConfig)', async () => {
    await testModule('test-host-probe');
    const code = await readFile(PROBE_WASM);
    const error = await WasmPlugin.create({ name: 'x', code, failOpen: true, failurePolicy: 'FAIL_CLOSED' }).catch((e) => e);
    expect(error).toBeInstanceOf(WasmPluginError);
    expect(error.message).toBe('only one of fail_open or failure_policy can be set');
  });

  it('a trap in proxy_on_configure rejects the plugin with the trap message; other plugins keep serving', async () => {
    const good = await probe(['req_headers log 2 serving']);
    const error = await probe(['configure trap']).catch((e) => e);
    expect(error).toBeInstanceOf(WasmPluginError);
    expect(error.message).toMatch(/^Function: proxy_on_configure failed: Uncaught RuntimeError: unreachable/);
    const id = good.initializeHttpContext();
    expect(good.callOnRequestHeaders(id, GET, true)).toBe(FilterHeadersStatus.Continue);
    expect(good.getLogs()).toContain('serving');
  });
});
