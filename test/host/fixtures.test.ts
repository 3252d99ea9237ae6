// Modules built with other proxy-wasm SDKs run on the host: @gcoredev/proxy-wasm-sdk-as
// (AssemblyScript 0.28, a WASI command exporting `_start`, logging through WASI
// `fd_write`) and @solo-io/proxy-runtime 0.1.8 (AssemblyScript 0.14, start section,
// ABI 0.2.0). Built by scripts/build-fixtures.ts.
import { beforeAll, describe, expect, it } from 'vitest';
import { LogLevel } from '../../harness/host/abi.ts';
import { WasmEmulator } from '../../harness/host/emulator.ts';
import { WasmPluginError } from '../../harness/host/plugin.ts';
import { SharedState } from '../../harness/host/shared/shared-state.ts';
import { buildFixture, fixtureWasm } from '../../scripts/build-fixtures.ts';
import { GET } from './probe.ts';

beforeAll(() => {
  buildFixture('gcore-sdk');
  buildFixture('solo-sdk');
}, 300_000);

describe('@gcoredev/proxy-wasm-sdk-as (AssemblyScript 0.28, WASI _start)', () => {
  it('adds its headers, and its stdout (fd_write) becomes an info log line', async () => {
    const emu = await WasmEmulator.create({ wasm: fixtureWasm('gcore-sdk'), pluginConfiguration: 'x-from-gcore=yes', rootId: 'add_header' });
    expect(emu.getLogEntries()).toContainEqual(expect.objectContaining({ level: LogLevel.Info, message: 'gcore add-header: adding x-from-gcore' }));
    const id = emu.initializeHttpContext();
    emu.callOnRequestHeaders(id, GET, true);
    expect(emu.getCurrentRequestHeaders(id)).toContainEqual(['x-from-gcore', 'yes']);
    emu.callOnResponseHeaders(id, { ':status': '200' }, true);
    expect(emu.getCurrentResponseHeaders(id)).toContainEqual(['x-gcore-sdk-response', '1']);
    emu.completeHttpContext(id);
    expect(emu.vmFailed).toBe(false);
  });
});

describe('@solo-io/proxy-runtime 0.1.8 (AssemblyScript 0.14, start section, ABI 0.2.0)', () => {
  it('adds its headers', async () => {
    const emu = await WasmEmulator.create({ wasm: fixtureWasm('solo-sdk'), pluginConfiguration: 'x-solo-response=42', rootId: 'add_header' });
    const id = emu.initializeHttpContext();
    emu.callOnRequestHeaders(id, GET, true);
    expect(emu.getCurrentRequestHeaders(id)).toContainEqual(['x-solo-sdk', '1']);
    emu.callOnResponseHeaders(id, { ':status': '200' }, true);
    expect(emu.getCurrentResponseHeaders(id)).toContainEqual(['x-solo-response', '42']);
    emu.completeHttpContext(id);
    expect(emu.vmFailed).toBe(false);
  });

  it('traps in proxy_on_configure on an empty configuration: the load fails with the trap, other plugins keep serving', async () => {
    const shared = SharedState.create();
    const healthy = await WasmEmulator.create({ wasm: fixtureWasm('gcore-sdk'), rootId: 'add_header', shared });
    const error = await WasmEmulator.create({ wasm: fixtureWasm('solo-sdk'), rootId: 'add_header', shared }).catch((e) => e);
    expect(error).toBeInstanceOf(WasmPluginError);
    expect(error.message).toMatch(/^Function: proxy_on_configure failed: Uncaught RuntimeError: /);
    const id = healthy.initializeHttpContext();
    healthy.callOnRequestHeaders(id, GET, true);
    expect(healthy.getCurrentRequestHeaders(id)).toContainEqual(['x-gcore-sdk', '1']);
  });
});
