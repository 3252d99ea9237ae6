// Loading and linking as Envoy does it: cpp-host src/wasm.cc (registerCallbacks per ABI,
// getFunctions, startVm with restricted callbacks), src/v8/v8.cc (link: missing import /
// type mismatch messages), src/bytecode_util.cc (ABI version from the exports).
import { describe, expect, it } from 'vitest';
import { WasmPlugin, WasmPluginError } from '../../harness/host/plugin.ts';
import { BASICS, DROP, buildModule, i32, logData } from '../../harness/host/wasm-builder.ts';

const noLogs = { log: () => {} };

async function load(code: Uint8Array, logs: string[] = []): Promise<WasmPlugin> {
  return WasmPlugin.create({ name: 'm', code }, { log: (_level, message) => logs.push(message) });
}

async function loadError(code: Uint8Array): Promise<WasmPluginError> {
  const error = await WasmPlugin.create({ name: 'm', code }, noLogs).catch((e) => e);
  expect(error).toBeInstanceOf(WasmPluginError);
  return error;
}

describe('linking', () => {
  it('a module importing an unknown function fails with Envoy\'s missing-import message', async () => {
    const code = buildModule({ imports: [{ module: 'env', name: 'proxy_teleport', results: ['i32'] }], functions: BASICS });
    expect((await loadError(code)).message).toBe('Unable to create Wasm plugin m: Failed to load Wasm module due to a missing import: env.proxy_teleport');
  });

  it('an import with another signature fails with the type mismatch spelled out', async () => {
    const code = buildModule({ imports: [{ module: 'env', name: 'proxy_log', params: ['i32'], results: ['i32'] }], functions: BASICS });
    expect((await loadError(code)).message).toBe(
      'Unable to create Wasm plugin m: Failed to load Wasm module due to an import type mismatch: env.proxy_log, want: i32 -> i32, but host exports: i32 i32 i32 -> i32',
    );
  });

  it('WASI functions Envoy provides link under wasi_snapshot_preview1 and wasi_unstable', async () => {
    const code = buildModule({
      imports: [
        { module: 'wasi_snapshot_preview1', name: 'fd_write', params: ['i32', 'i32', 'i32', 'i32'], results: ['i32'] },
        { module: 'wasi_snapshot_preview1', name: 'proc_exit', params: ['i32'] },
        { module: 'wasi_unstable', name: 'clock_time_get', params: ['i32', 'i64', 'i32'], results: ['i32'] },
        { module: 'wasi_snapshot_preview1', name: 'fd_read', params: ['i32', 'i32', 'i32', 'i32'], results: ['i32'] },
      ],
      functions: BASICS,
    });
    await expect(load(code)).resolves.toBeInstanceOf(WasmPlugin);
  });

  it('a module without a proxy_abi_version export is refused', async () => {
    const code = buildModule({ functions: { alloc: BASICS.alloc } });
    expect((await loadError(code)).message).toBe('Unable to create Wasm plugin m: Missing or unknown Proxy-Wasm ABI version');
  });

  it('ABI 0.2.0 modules load, but get no proxy_get_log_level (0.2.1 only in cpp-host)', async () => {
    const abi020 = { ...BASICS, abi: { export: 'proxy_abi_version_0_2_0' } };
    await expect(load(buildModule({ imports: [{ module: 'env', name: 'proxy_continue_stream', params: ['i32'], results: ['i32'] }], functions: abi020 }))).resolves.toBeInstanceOf(WasmPlugin);
    const code = buildModule({ imports: [{ module: 'env', name: 'proxy_get_log_level', params: ['i32'], results: ['i32'] }], functions: abi020 });
    expect((await loadError(code)).message).toMatch(/missing import: env.proxy_get_log_level$/);
  });

  it('the 0.1.0 names (proxy_continue_request...) are not linked for 0.2.x modules', async () => {
    const code = buildModule({ imports: [{ module: 'env', name: 'proxy_continue_request', results: ['i32'] }], functions: BASICS });
    expect((await loadError(code)).message).toMatch(/missing import: env.proxy_continue_request$/);
  });

  it('a module without malloc or proxy_on_memory_allocate is refused', async () => {
    const code = buildModule({ functions: { abi: BASICS.abi } });
    expect((await loadError(code)).message).toBe('Unable to create Wasm plugin m: Wasm module is missing malloc function.');
  });

  it('a callback with the wrong signature is refused (cpp-host "Bad function signature")', async () => {
    const code = buildModule({ functions: { ...BASICS, headers: { export: 'proxy_on_request_headers', params: ['i32'], results: ['i32'], body: () => i32(0) } } });
    expect((await loadError(code)).message).toBe(
      'Unable to create Wasm plugin m: Bad function signature for: proxy_on_request_headers, want: i32 i32 i32 -> i32, but the module exports: i32 -> i32',
    );
  });
});

describe('start-up', () => {
  const log = { module: 'env', name: 'proxy_log', params: ['i32', 'i32', 'i32'] as Array<'i32'>, results: ['i32'] as Array<'i32'> };

  it('_initialize runs, then main(0, 0); _start is not called when _initialize exists', async () => {
    const code = buildModule({
      imports: [log],
      data: 'initmainstart',
      functions: {
        ...BASICS,
        init: { export: '_initialize', body: (c) => logData(c, 0, 4) },
        main: { export: 'main', params: ['i32', 'i32'], results: ['i32'], body: (c) => [...logData(c, 4, 4), ...i32(0)] },
        start: { export: '_start', body: (c) => logData(c, 8, 5) },
      },
    });
    const logs: string[] = [];
    await load(code, logs);
    expect(logs).toEqual(['init', 'main']);
  });

  it('_start runs when there is no _initialize', async () => {
    const code = buildModule({ imports: [log], data: 'start', functions: { ...BASICS, start: { export: '_start', body: (c) => logData(c, 0, 5) } } });
    const logs: string[] = [];
    await load(code, logs);
    expect(logs).toEqual(['start']);
  });

  it('hostcalls other than logging, clocks, random and WASI trap during start-up (restricted_callback)', async () => {
    const getProperty = { module: 'env', name: 'proxy_get_property', params: ['i32', 'i32', 'i32', 'i32'] as Array<'i32'>, results: ['i32'] as Array<'i32'> };
    const code = buildModule({
      imports: [getProperty],
      functions: { ...BASICS, init: { export: '_initialize', body: (c) => [...i32(0), ...i32(0), ...i32(0), ...i32(0), ...c('env.proxy_get_property'), ...DROP] } },
    });
    expect((await loadError(code)).message).toBe('Unable to create Wasm plugin m: Function: _initialize failed: restricted_callback');
  });

  it('a trap names the function and, when the module has names, gives the in-VM backtrace (cpp-host getFailMessage)', async () => {
    const code = buildModule({
      names: true,
      functions: {
        ...BASICS,
        explode: { body: () => [0x00] },
        init: { export: '_initialize', body: (c) => c('explode') },
      },
    });
    const message = (await loadError(code)).message;
    expect(message).toMatch(/^Unable to create Wasm plugin m: Function: _initialize failed: Uncaught RuntimeError: unreachable\nProxy-Wasm plugin in-VM backtrace:\n {2}0: {2}0x[0-9a-f]+ - explode\n {2}1: {2}0x[0-9a-f]+ - init$/);
  });

  it('a trap during start-up fails the load', async () => {
    const code = buildModule({ functions: { ...BASICS, init: { export: '_initialize', body: () => [0x00] } } });
    expect((await loadError(code)).message).toMatch(/^Unable to create Wasm plugin m: Function: _initialize failed: Uncaught RuntimeError: unreachable/);
  });

  it('memory comes from malloc when a module exports both malloc and proxy_on_memory_allocate (cpp-host getFunctions)', async () => {
    const code = buildModule({
      functions: {
        ...BASICS,
        malloc: { export: 'malloc', params: ['i32'], results: ['i32'], body: () => i32(16384) },
      },
    });
    const plugin = await load(code);
    expect(plugin.wasm.allocMemory(8)).toBe(16384);
  });
});
