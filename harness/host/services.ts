/**
 * What the embedder (the emulator, or `harness/envoy/plugins.ts`'s configuration check)
 * provides to the host: Envoy's dispatcher time source and timers, the cluster manager's
 * async HTTP and gRPC clients, the stats store, the logger, and the node identity.
 * Everything is optional; `resolveServices` fills in real-time defaults (no clusters,
 * console logging).
 */
import type { HeaderPair } from './header-map.ts';
import { LOG_LEVEL_NAMES, LogLevel } from './abi.ts';
import type { MemoryView } from './memory.ts';
import { SharedState } from './shared/shared-state.ts';

/** Time as the plugin sees it (`proxy_get_current_time_nanoseconds`, WASI `clock_time_get`). */
export interface Clock {
  /** Wall clock, milliseconds since the epoch (fractions allowed). */
  now(): number;
  /** Monotonic clock, milliseconds from an arbitrary origin. */
  monotonic(): number;
}

export type TimerHandle = unknown;

/** One-shot timers (Envoy `Event::Timer`); ticks re-arm them after each `proxy_on_tick`. */
export interface Timers {
  setTimer(callback: () => void, delayMs: number): TimerHandle;
  clearTimer(handle: TimerHandle): void;
}

/** The response of a `proxy_http_call`, handed back by the embedder. */
export interface HttpCallResponse {
  headers: HeaderPair[];
  body: Uint8Array;
  trailers: HeaderPair[];
}

/** Lets the host cancel an outstanding call (Envoy cancels them when a context is deleted). */
export interface CallHandle {
  cancel(): void;
}

/**
 * `proxy_http_call` to a cluster (Envoy `Http::AsyncClient` of a thread-local cluster).
 * Returns false when the cluster is unknown (the hostcall then answers `BAD_ARGUMENT`).
 * `onResponse(null)` means the call was reset before a response (the host then calls
 * `proxy_on_http_call_response` with zero headers). A timeout is a response, as in
 * Envoy's async client: 504 `upstream request timeout`. `timeoutMs` 0 means no timeout.
 */
export type HttpCallFn = (
  cluster: string,
  headers: HeaderPair[],
  body: Uint8Array,
  trailers: HeaderPair[],
  timeoutMs: number,
  onResponse: (response: HttpCallResponse | null) => void,
) => boolean | CallHandle;

/** Callbacks of a unary gRPC call (Envoy `Grpc::RawAsyncRequestCallbacks`). */
export interface GrpcCallCallbacks {
  /** The response message; the call is then over (Envoy calls no close callback). */
  onSuccess(message: Uint8Array): void;
  /** Failure with a gRPC status and message (`proxy_on_grpc_close`). */
  onFailure(status: number, message: string): void;
}

export interface GrpcCallRequest {
  cluster: string;
  service: string;
  method: string;
  initialMetadata: HeaderPair[];
  message: Uint8Array;
  timeoutMs: number;
}

/** A gRPC stream's opening (`proxy_grpc_stream`): a call's target and metadata, no message or timeout. */
export type GrpcStreamRequest = Omit<GrpcCallRequest, 'message' | 'timeoutMs'>;

/** Callbacks of a gRPC stream (Envoy `Grpc::RawAsyncStreamCallbacks`). */
export interface GrpcStreamCallbacks {
  onInitialMetadata(metadata: HeaderPair[]): void;
  onMessage(message: Uint8Array): void;
  onTrailingMetadata(metadata: HeaderPair[]): void;
  onClose(status: number, message: string): void;
}

export interface GrpcStreamHandle {
  send(message: Uint8Array, endStream: boolean): void;
  /** Half-close from our side (`proxy_grpc_close`). */
  close(): void;
  /** Reset (`proxy_grpc_cancel`). */
  cancel(): void;
}

/** Where a log line comes from: Envoy prefixes plugin logs with `name root_id vm_id`. */
export interface LogSource {
  plugin: string;
  rootId: string;
  vmId: string;
  /** A line of the host itself (a VM failure, a warning), not the plugin's `proxy_log`. */
  host?: boolean;
}

export type LogSink = (level: LogLevel, message: string, source: LogSource) => void;

/** Node identity (bootstrap `node`), for the `node.*` / `xds.node.*` properties. */
export interface NodeInfo {
  id: string;
  cluster: string;
}

export interface HostServices {
  clock?: Clock;
  timers?: Timers;
  /** Shared data, queues and metrics; default: one process-local state per thread. */
  shared?: SharedState;
  /** Log sink; default prints `[level][wasm] wasm log <prefix>: <message>` to stderr. */
  log?: LogSink;
  /** Current log level (`proxy_get_log_level`); messages below it are not sent to `log`. */
  logLevel?: () => LogLevel;
  httpCall?: HttpCallFn;
  /** Unary gRPC; return false for an unknown cluster (`PARSE_FAILURE`, as Envoy answers). */
  grpcCall?: (request: GrpcCallRequest, callbacks: GrpcCallCallbacks) => false | CallHandle;
  grpcStream?: (request: GrpcStreamRequest, callbacks: GrpcStreamCallbacks) => false | GrpcStreamHandle;
  node?: NodeInfo;
  /** Random bytes for WASI `random_get` (default: crypto.getRandomValues). */
  random?: (into: Uint8Array) => void;
  /**
   * Called before every hostcall a module makes, with the import's name
   * (`env.proxy_get_header_map_value`), its arguments and the VM's memory (tests counting
   * hostcalls, harness/bench/hostcall-replay.ts recording them). Null (the default)
   * links the host functions as they are, at no cost per call.
   */
  onHostcall?: HostcallObserver | null;
}

/** See `HostServices.onHostcall`. */
export type HostcallObserver = (name: string, args: ReadonlyArray<number | bigint>, vm: { readonly mem: MemoryView }) => void;

export type ResolvedServices = Required<HostServices>;

export const realClock: Clock = {
  now: () => performance.timeOrigin + performance.now(),
  monotonic: () => performance.now(),
};

export const realTimers: Timers = {
  setTimer: (callback, delayMs) => {
    const t = setTimeout(callback, delayMs);
    t.unref();
    return t;
  },
  clearTimer: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

/**
 * The text Envoy logs for a line (after its `[time][thread][level][wasm] [file:line] `
 * prefix): `wasm log<prefix>: <message>` for a plugin's `proxy_log` (context.cc
 * `Context::log`), the message alone for the host's own lines (a trap: cpp-host
 * `WasmVm::fail` → `integration()->error(message)`).
 */
export function formatLogLine(message: string, source: LogSource): string {
  return source.host ? message : `wasm log${logPrefix(source)}: ${message}`;
}

export function consoleLogSink(level: LogLevel, message: string, source: LogSource): void {
  process.stderr.write(`[${LOG_LEVEL_NAMES[level]}][wasm] ${formatLogLine(message, source)}\n`);
}

/** Envoy's plugin log prefix (cpp-host src/context.cc `PluginBase::makeLogPrefix`). */
export function logPrefix(source: LogSource): string {
  let prefix = '';
  if (source.plugin) prefix += ` ${source.plugin}`;
  if (source.rootId) prefix += ` ${source.rootId}`;
  if (source.vmId) prefix += ` ${source.vmId}`;
  return prefix;
}

let threadSharedState: SharedState | undefined;

/** The process-local shared state used when the embedder gives none (single thread). */
export function defaultSharedState(): SharedState {
  threadSharedState ??= SharedState.create();
  return threadSharedState;
}

export function resolveServices(services: HostServices = {}): ResolvedServices {
  return {
    clock: services.clock ?? realClock,
    timers: services.timers ?? realTimers,
    shared: services.shared ?? defaultSharedState(),
    log: services.log ?? consoleLogSink,
    logLevel: services.logLevel ?? (() => LogLevel.Info),
    httpCall: services.httpCall ?? (() => false),
    grpcCall: services.grpcCall ?? (() => false),
    grpcStream: services.grpcStream ?? (() => false),
    node: services.node ?? { id: '', cluster: '' },
    random: services.random ?? ((into) => void crypto.getRandomValues(into as Uint8Array<ArrayBuffer>)),
    onHostcall: services.onHostcall ?? null,
  };
}
