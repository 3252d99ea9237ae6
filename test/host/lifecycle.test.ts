// Context lifecycle as Envoy drives it: cpp-host src/context.cc (onStart, onConfigure,
// onCreate, onDone/onDelete), src/wasm.cc (startShutdown, done), Envoy
// common/wasm/context.cc (log, onDestroy) and http/conn_manager_impl.cc
// (doDeferredStreamDestroy: access logs before filters are destroyed).
import { describe, expect, it } from 'vitest';
import { WasmPluginError } from '../../harness/host/plugin.ts';
import { KEPT_COMPLETED_STREAMS, WasmEmulator } from '../../harness/host/emulator.ts';
import { testModule } from '../../harness/host/testing.ts';
import { EXAMPLE_WASM, GET, probe, result, status } from './probe.ts';

const lifecycle = (logs: string[]) =>
  logs.filter((l) => /^on_(context_create|request_headers|response_headers|log|done|delete)/.test(l)).map((l) => l.split(' ')[0]);

describe('stream contexts', () => {
  it('are created lazily at the first request headers, ended with on_log, on_done, on_delete in that order', async () => {
    const emu = await probe([]);
    const id = emu.initializeHttpContext();
    expect(lifecycle(emu.getLogs())).toEqual([]);
    emu.callOnRequestHeaders(id, GET, true);
    emu.callOnResponseHeaders(id, { ':status': '200' }, true);
    emu.completeHttpContext(id);
    expect(lifecycle(emu.getLogs())).toEqual([
      'on_context_create',
      'on_request_headers',
      'on_response_headers',
      'on_log',
      'on_done',
      'on_delete',
    ]);
    // The stream context names its root context as parent.
    expect(emu.getLogs()).toContain(`on_context_create ${id} ${emu.rootContextId} -> 0`);
  });

  it('a stream the filter never saw is created at access-log time, logged, but not done/deleted twice', async () => {
    const emu = await probe([]);
    const id = emu.initializeHttpContext();
    emu.completeHttpContext(id);
    expect(lifecycle(emu.getLogs())).toEqual(['on_context_create', 'on_log', 'on_done', 'on_delete']);
  });

  it('a completed stream stays readable for the next KEPT_COMPLETED_STREAMS completions, then is let go', async () => {
    await testModule('test-example');
    const emu = await WasmEmulator.create({ wasm: EXAMPLE_WASM, pluginConfiguration: 'request_header=x-hello\nrequest_value=world' });
    const ids: number[] = [];
    for (let i = 0; i <= KEPT_COMPLETED_STREAMS; i++) {
      const id = emu.initializeHttpContext();
      emu.callOnRequestHeaders(id, GET, true);
      emu.completeHttpContext(id);
      ids.push(id);
    }
    const live = emu.initializeHttpContext();
    // The oldest went when the (KEPT + 1)th completed; the one after it is still there.
    expect(() => emu.getCurrentRequestHeaders(ids[0])).toThrow(/no HTTP context/);
    expect(emu.getCurrentRequestHeaders(ids[1])).toContainEqual(['x-hello', 'world']);
    expect(emu.getCurrentRequestHeaders(ids[KEPT_COMPLETED_STREAMS])).toContainEqual(['x-hello', 'world']);
    // Streams not completed are never let go, however many complete after them.
    for (let i = 0; i < KEPT_COMPLETED_STREAMS; i++) emu.completeHttpContext(emu.initializeHttpContext());
    emu.callOnRequestHeaders(live, GET, true);
    expect(emu.getCurrentRequestHeaders(live)).toContainEqual(['x-hello', 'world']);
    emu.close();
  });

  it('each stream gets its own context id, never reused while alive', async () => {
    const emu = await probe([]);
    const a = emu.initializeHttpContext();
    const b = emu.initializeHttpContext();
    expect(a).not.toBe(b);
    expect(a).toBeGreaterThan(emu.rootContextId);
  });

  it('proxy_set_effective_context to an unknown id is BAD_ARGUMENT', async () => {
    const emu = await probe(['req_headers effective 424242', 'req_headers effective root']);
    const id = emu.initializeHttpContext();
    emu.callOnRequestHeaders(id, GET, true);
    expect(status(emu, 'req_headers effective 424242')).toBe(2);
    expect(status(emu, 'req_headers effective root')).toBe(0);
  });
});

describe('root contexts', () => {
  it('start with on_vm_start, then on_configure', async () => {
    const emu = await probe(['configure log 2 configured'], { vmConfiguration: 'vm_start log 2 started' });
    const order = emu.getLogs().filter((l) => l === 'started' || l === 'configured');
    expect(order).toEqual(['started', 'configured']);
  });

  it('a configuration the plugin rejects fails the load with the plugin\'s own error line', async () => {
    await testModule('test-example');
    const error = await WasmEmulator.create({ wasm: EXAMPLE_WASM, pluginConfiguration: 'request_header=x\nbogus' }).catch((e) => e);
    expect(error).toBeInstanceOf(WasmPluginError);
    expect(error.message).toBe('example: line 2: expected key=value');
  });

  it('on_vm_start returning false fails the plugin', async () => {
    const error = await probe([], { vmConfiguration: 'vm_start return 0' }).catch((e) => e);
    expect(error).toBeInstanceOf(WasmPluginError);
    expect(error.message).toMatch(/Failed to start Wasm plugin/);
  });

  it('close runs on_done then on_delete on the root context', async () => {
    const emu = await probe([]);
    emu.close();
    expect(emu.getLogs().filter((l) => /^on_(done|delete) root/.test(l))).toEqual(['on_done root -> 0', 'on_delete root -> 0']);
  });

  it('a root context whose on_done returns false is deleted only after proxy_done (cpp-host WasmBase::done)', async () => {
    const emu = await probe(['configure queue_register jobs', 'root_done return 0', 'queue_ready done', 'tick done']);
    emu.tick();
    // proxy_done while nothing is pending is NOT_FOUND.
    expect(status(emu, 'tick done')).toBe(1);
    emu.close();
    expect(emu.getLogs()).toContain('on_done root -> 0');
    expect(emu.getLogs()).not.toContain('on_delete root -> 0');
    // The plugin finishes later, e.g. when work arrives on its queue.
    expect(emu.enqueue('jobs', 'last')).toBe(true);
    expect(result(emu, 'queue_ready done')).toBe('0');
    expect(emu.getLogs()).toContain('on_delete root -> 0');
  });
});
