/**
 * What part of a request's cost is the filter's own Wasm and what part is the host: a
 * request is recorded (every hostcall, its arguments and the bytes it hands the host),
 * then replayed by a module that makes exactly those hostcalls with the same inputs and
 * does nothing else. Through the same emulator:
 *
 * - whole request − replay = the filter's Wasm (its logic, allocator, SDK dispatch: what
 *   Envoy runs the same way in its own V8);
 * - replay − empty module = the JavaScript host's hostcalls (what Envoy does in native
 *   C++, at a cost not measured here);
 * - empty module = the emulator's own per-request work (header map, context creation
 *   and callback calls), which Envoy's filter manager does in C++ too.
 *
 * The replay module answers `proxy_on_memory_allocate` with one fixed block, so a
 * returned value still costs the host its call into the VM, while the filter's allocator
 * counts as the filter's. It defines the same metrics in the same order at
 * configuration, so that metric ids resolve as they did.
 */
import type { HostcallObserver } from '../host/services.ts';
import { defaultHostFunctions } from '../host/hostcalls.ts';
import { DROP, buildModule, i32, i64, type FuncSpec } from '../host/wasm-builder.ts';

/** One hostcall as the module made it. */
export interface RecordedHostcall {
  /** Import name, `env.proxy_…`. */
  name: string;
  args: Array<number | bigint>;
  /** The memory the host reads for it: (address, bytes) of each input argument. */
  inputs: Array<{ offset: number; bytes: Uint8Array }>;
}

/** Arguments that are (pointer, size) inputs, by hostcall: the index of each pointer. */
const INPUT_ARGS: Record<string, readonly number[]> = {
  'env.proxy_get_header_map_value': [1],
  'env.proxy_remove_header_map_value': [1],
  'env.proxy_add_header_map_value': [1, 3],
  'env.proxy_replace_header_map_value': [1, 3],
  'env.proxy_get_property': [0],
  'env.proxy_log': [1],
  'env.proxy_define_metric': [1],
  'env.proxy_send_local_response': [1, 3, 5],
  'env.proxy_get_shared_data': [0],
  'env.proxy_set_shared_data': [0, 2],
};

/** Hostcalls whose effect the replay cannot reproduce faithfully (ids of this VM's contexts, calls out). */
const NOT_REPLAYABLE = new Set(['env.proxy_set_effective_context', 'env.proxy_http_call', 'env.proxy_grpc_call', 'env.proxy_grpc_stream']);

/** Records hostcalls while `recording` is set. */
export class HostcallRecorder {
  recording = false;
  readonly calls: RecordedHostcall[] = [];

  readonly observer: HostcallObserver = (name, args, wasm) => {
    if (!this.recording) return;
    const inputs = (INPUT_ARGS[name] ?? []).map((i) => {
      const offset = Number(args[i]) >>> 0;
      const size = Number(args[i + 1]) >>> 0;
      return { offset, bytes: Uint8Array.from(wasm.mem.bytes(offset, size) ?? []) };
    });
    this.calls.push({ name, args: [...args], inputs });
  };

  /** The calls recorded since the last `take`, and records nothing more until `recording` is set again. */
  take(): RecordedHostcall[] {
    this.recording = false;
    return this.calls.splice(0);
  }
}

function imports(calls: RecordedHostcall[]): Array<{ module: string; name: string; params: Array<'i32' | 'i64'>; results: Array<'i32' | 'i64'> }> {
  const table = defaultHostFunctions();
  return [...new Set(calls.map((c) => c.name))].map((name) => {
    const type = table.get(name)!.type;
    const [module, field] = name.split('.');
    return { module, name: field, params: type.params as Array<'i32' | 'i64'>, results: type.results as Array<'i32' | 'i64'> };
  });
}

function callsCode(calls: RecordedHostcall[], call: (name: string) => number[]): number[] {
  return calls.flatMap((c) => [...c.args.flatMap((a) => (typeof a === 'bigint' ? i64(a) : i32(a))), ...call(c.name), ...DROP]);
}

/**
 * A module whose `proxy_on_request_headers` makes `request` (and returns Continue), after
 * a `proxy_on_configure` that makes the `proxy_define_metric` calls of `configure`.
 * Throws for a hostcall it cannot replay.
 */
export function replayModule(configure: RecordedHostcall[], request: RecordedHostcall[]): Uint8Array {
  const defines = configure.filter((c) => c.name === 'env.proxy_define_metric');
  for (const c of request) if (NOT_REPLAYABLE.has(c.name)) throw new Error(`hostcall-replay: cannot replay ${c.name}`);
  const all = [...defines, ...request];
  const segments = all.flatMap((c) => c.inputs).filter((s) => s.bytes.length > 0);
  const top = Math.max(2048, ...all.flatMap((c) => c.args.map((a) => Number(a) >>> 0).filter((a) => a < 1 << 26)), ...segments.map((s) => s.offset + s.bytes.length));
  // Returned values land in one block past everything the calls read or write.
  const block = (Math.ceil(top / 65536) + 1) * 65536;
  const pages = block / 65536 + 4;
  return buildModule({
    imports: imports(all),
    memoryPages: pages,
    segments,
    functions: moduleFunctions(block, {
      conf: { export: 'proxy_on_configure', params: ['i32', 'i32'], results: ['i32'], body: (call) => [...callsCode(defines, call), ...i32(1)] },
      hdrs: { export: 'proxy_on_request_headers', params: ['i32', 'i32', 'i32'], results: ['i32'], body: (call) => [...callsCode(request, call), ...i32(0)] },
    }),
  });
}

/** A module that does nothing in `proxy_on_request_headers` (the emulator's own cost). */
export function emptyModule(): Uint8Array {
  return buildModule({
    memoryPages: 2,
    functions: moduleFunctions(65536, {
      hdrs: { export: 'proxy_on_request_headers', params: ['i32', 'i32', 'i32'], results: ['i32'], body: () => i32(0) },
    }),
  });
}

function moduleFunctions(block: number, more: Record<string, FuncSpec>): Record<string, FuncSpec> {
  return {
    abi: { export: 'proxy_abi_version_0_2_1' },
    alloc: { export: 'proxy_on_memory_allocate', params: ['i32'], results: ['i32'], body: () => i32(block) },
    create: { export: 'proxy_on_context_create', params: ['i32', 'i32'] },
    ...more,
  };
}
