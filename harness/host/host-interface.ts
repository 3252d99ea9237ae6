/**
 * What the hostcall table (hostcalls.ts, wasi.ts) links and calls: the VM and the context
 * a hostcall acts on, as proxy-wasm-cpp-host's `src/exports.cc` sees them through
 * `ContextBase` (include/proxy-wasm/context_interface.h, context.h) and `WasmBase`. The
 * table knows the host only through these interfaces; `Wasm` (wasm.ts) and `Context`
 * (context.ts) implement them, so the host state imports the table and never the
 * other way round (README.md "Layers").
 */
import type { AbiVersion, BufferType, LogLevel, MapType, MetricType, StreamType, WasmResult } from './abi.ts';
import type { BodyBuffer } from './body-buffer.ts';
import type { HeaderMap, HeaderPair } from './header-map.ts';
import type { MemoryView } from './memory.ts';
import type { FuncType } from './module-info.ts';
import type { ResolvedServices } from './services.ts';

/**
 * A context as a hostcall sees it (cpp-host `ContextBase`, Envoy's `Context` overriding
 * it). Results that carry a value or a status return the status as a `WasmResult`;
 * `httpCall`, `grpcCall` and `grpcStream` return the token, or minus the status.
 */
export interface HostContext {
  readonly id: number;
  /** The context's root context (itself for a root context or the VM context). */
  readonly root: HostContext;
  /** `proxy_get_status` of a root context: the last callout's status code and message. */
  readonly statusCode: number;
  readonly statusMessage: string;

  log(level: LogLevel, message: string): WasmResult;
  getConfiguration(): Uint8Array;
  /** The attribute at `path` (segments separated by NUL), encoded as Envoy serializes it. */
  getProperty(path: string): Uint8Array | WasmResult;
  setProperty(path: string, value: Uint8Array): WasmResult;
  done(): WasmResult;

  continueStream(type: StreamType): WasmResult;
  closeStream(type: StreamType): WasmResult;
  clearRouteCache(): void;
  sendLocalResponse(status: number, body: Uint8Array, headers: HeaderPair[], grpcStatus: number, details: string): void;

  /** The map a hostcall may read now, or null. */
  getConstMap(type: MapType): HeaderMap | null;
  getHeaderMapValue(type: MapType, key: string): string | WasmResult;
  addHeaderMapValue(type: MapType, key: string, value: string): WasmResult;
  replaceHeaderMapValue(type: MapType, key: string, value: string): WasmResult;
  removeHeaderMapValue(type: MapType, key: string): WasmResult;
  setHeaderMapPairs(type: MapType, pairs: HeaderPair[]): WasmResult;
  /** Bytes of keys and values, or -1 when the map may not be modified now. */
  getHeaderMapSize(type: MapType): number;

  /** Null is `NOT_FOUND`. */
  getBuffer(type: BufferType): BodyBuffer | Uint8Array | null;
  setBufferBytes(buffer: BodyBuffer | Uint8Array, start: number, length: number, data: Uint8Array): WasmResult;

  httpCall(cluster: string, headers: HeaderPair[], body: Uint8Array, trailers: HeaderPair[], timeoutMs: number): number;
  grpcCall(cluster: string, service: string, method: string, metadata: HeaderPair[], message: Uint8Array, timeoutMs: number): number;
  grpcStream(cluster: string, service: string, method: string, metadata: HeaderPair[]): number;
  grpcSend(token: number, message: Uint8Array, endStream: boolean): WasmResult;
  grpcCancel(token: number): WasmResult;
  grpcClose(token: number): WasmResult;
}

/** A VM as a hostcall sees it (the `WasmBase` members cpp-host's exports.cc uses). */
export interface HostVm {
  /** The module's linear memory (bounds-checked views). */
  readonly mem: MemoryView;
  readonly services: ResolvedServices;
  readonly vmIdBytes: Uint8Array;
  /** cpp-host `makeVmKey`: names this VM to the shared queues. */
  readonly vmKey: string;
  /** `environment_variables` of the VM configuration (WASI `environ_get`). */
  readonly envs: ReadonlyArray<readonly [string, string]>;
  readonly failed: boolean;
  /** Hostcalls allowed in the current phase, or null when unrestricted. */
  readonly restricted: ReadonlySet<string> | null;
  allowed(name: string): boolean;
  /** Every live context by id (0 is the VM context). */
  readonly contexts: ReadonlyMap<number, HostContext>;
  /** The context hostcalls act on (cpp-host `contextOrEffectiveContext`). */
  effectiveContext(): HostContext;
  /** Set by `proxy_set_effective_context`. */
  effectiveContextId: number;
  /** cpp-host `stop_iteration_`: set when a local reply was sent. */
  stopIteration: boolean;
  /** VM memory from the module's allocator: the address, or 0. */
  allocMemory(size: number): number;
  /** Copies into memory the module allocates and writes its address and size (cpp-host `copyToPointerSize`). */
  copyToPointerSize(bytes: Uint8Array, ptrPtr: number, sizePtr: number): boolean;
  copyLatin1ToPointerSize(s: string, ptrPtr: number, sizePtr: number): boolean;
  /** The new metric's id, or -1 when the store is full. */
  defineMetric(type: MetricType, name: string): number;
  /** Index in the shared metric store of metric `id`, or -1. */
  metricIndex(id: number): number;
  setTickPeriod(rootContextId: number, periodMs: number): void;
}

/** One host function: where it links, its signature, the ABIs that have it, its factory. */
export interface HostFunction {
  type: FuncType;
  abis: readonly AbiVersion[];
  make(vm: HostVm): (...args: never[]) => number | void;
}

/** `module.name` → host function. */
export type HostFunctionTable = Map<string, HostFunction>;

/** Raised by a hostcall that the VM may not make in the current phase (cpp-host "restricted_callback"). */
export class RestrictedCallback extends Error {
  constructor() {
    super('restricted_callback');
    this.name = 'RestrictedCallback';
  }
}

/** Throws into the VM when `name` may not be called now. */
export function checkAllowed(vm: HostVm, name: string): void {
  if (vm.restricted !== null && !vm.allowed(name)) throw new RestrictedCallback();
}
