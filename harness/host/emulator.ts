/**
 * A test API that drives one real `.wasm` plugin by hand, in the spirit of
 * proxy-wasm-go-sdk's `proxytest` host emulator, on the same host code the proxy uses
 * (`createWasmPlugin`), with a fake clock and fake timers:
 *
 * ```ts
 * const emu = await WasmEmulator.create({ wasm: 'build/test/example.wasm', pluginConfiguration: 'x-hello=world' });
 * const id = emu.initializeHttpContext();
 * expect(emu.callOnRequestHeaders(id, { ':path': '/' }, false)).toBe(FilterHeadersStatus.Continue);
 * expect(emu.getCurrentRequestHeaders(id)).toContainEqual(['x-hello', 'world']);
 * emu.completeHttpContext(id); // proxy_on_log, proxy_on_done, proxy_on_delete
 * ```
 *
 * The emulator plays the part of Envoy's filter manager for this one filter: it keeps
 * the bodies the filter forwards or buffers (`StopIterationAndBuffer`), records
 * `continue`, local replies (built as Envoy builds them, gRPC trailers-only included; a
 * reply before the response runs through the filter's response path, as in Envoy, a
 * reply from the response path replaces the response without it), resets and
 * route-cache clears; HTTP and gRPC calls wait until the test answers them or the fake
 * clock passes their timeout (then, as in Envoy, a 504 `upstream request timeout`
 * response; `failHttpCall` gives zero headers, a reset), but for `clustersWithoutHosts`.
 * Shared data, queues and metrics are the emulator's own unless `shared` is given, so
 * tests do not see each other; emulators given one `shared` are plugins on one worker
 * (plugins with the same vm_id, VM configuration and code share a VM there, as in Envoy).
 *
 * Envoy runs one VM of a plugin per worker thread, over one shared-data store; races
 * between them (compare-and-swap on shared data) are tested deterministically with
 * `createWorkers`, which makes one VM per worker in the test's thread, over one store,
 * queues, metrics and fake clock, and `beforeNextHostcall`, which runs something (another
 * worker's whole request) at a chosen hostcall of a VM:
 *
 * ```ts
 * const [a, b] = await WasmEmulator.createWorkers(2, { wasm: 'build/rate-limit.wasm', pluginConfiguration });
 * // a reads the bucket, b's whole request runs, then a writes with the CAS it read: CAS_MISMATCH, a decides again.
 * a.beforeNextHostcall('proxy_set_shared_data', () => send(b));
 * send(a);
 * ```
 */
import { readFile } from 'node:fs/promises';
import { BodyBuffer } from './body-buffer.ts';
import {
  type DecoderFilterCallbacks,
  type EncoderFilterCallbacks,
  FilterDataStatus,
  FilterHeadersStatus,
  FilterTrailersStatus,
  type HttpFilter,
  type LocalReply,
  type StreamInfo,
} from './filter.ts';
import { HeaderMap, type HeaderPair } from './header-map.ts';
import { type FailurePolicy, GrpcStatus, LogLevel, MapType, MetricType, type WasmResult } from './abi.ts';
import { addHeaderCopy, Context } from './context.ts';
import { WasmPlugin } from './plugin.ts';
import type { Clock, GrpcCallRequest, GrpcStreamCallbacks, GrpcStreamRequest, HostcallObserver, HttpCallResponse, LogSource, NodeInfo, TimerHandle, Timers } from './services.ts';
import { type MetricSnapshot } from './shared/metrics.ts';
import { renderPrometheus } from './shared/prometheus.ts';
import { SharedState } from './shared/shared-state.ts';

/** The router's local reply to an async call that times out (router.cc `onResponseTimeout`). */
const UPSTREAM_TIMEOUT_BODY = 'upstream request timeout';
/** The router's local reply to a call to a cluster without a healthy host (router.cc `sendNoHealthyUpstream`). */
const NO_HEALTHY_UPSTREAM_BODY = 'no healthy upstream';

/** A local reply of the async client's router, as a call response (`prepareLocalReply` without plugin headers). */
function localReplyResponse(status: number, body: string): HttpCallResponse {
  const { headers } = prepareLocalReply({ status, body, details: '' }, false, false);
  return { headers: headers.entries(), body: Buffer.from(body), trailers: [] };
}

export interface EmulatorOptions {
  /** Path of a `.wasm` file, or the module bytes. */
  wasm: string | Uint8Array;
  /** Plugin configuration (`proxy_on_configure`). */
  pluginConfiguration?: string | Uint8Array;
  /** VM configuration (`proxy_on_vm_start`). */
  vmConfiguration?: string | Uint8Array;
  name?: string;
  rootId?: string;
  vmId?: string;
  environmentVariables?: Record<string, string>;
  failurePolicy?: FailurePolicy;
  /** The legacy `fail_open` (exclusive with `failurePolicy`; see plugin.ts). */
  failOpen?: boolean;
  reloadBaseIntervalMs?: number;
  /** Envoy `allow_on_headers_stop_iteration` (default false). */
  allowOnHeadersStopIteration?: boolean;
  /** Fake wall clock start, ms since the epoch (default 2026-01-01T00:00:00Z). */
  startTimeMs?: number;
  /** Level below which plugin logs are dropped, as `proxy_get_log_level` reports it (default trace). */
  logLevel?: LogLevel;
  /** Clusters `proxy_http_call` / `proxy_grpc_call` may use (default: any). */
  clusters?: string[];
  /**
   * Known clusters with no healthy host: Envoy's router answers a `proxy_http_call` to one
   * with a 503 `no healthy upstream` before the hostcall returns, so the host answers
   * `INTERNAL_FAILURE` and never calls `proxy_on_http_call_response` (context.cc `httpCall`).
   */
  clustersWithoutHosts?: string[];
  /** The route's virtual host name (`xds.virtual_host_name`) every stream starts with (default: none). */
  virtualHostName?: string;
  /** Shared data, queues and metrics (default: the emulator's own). */
  shared?: SharedState;
  node?: NodeInfo;
  /** Sees every hostcall the module makes, before it runs (`HostServices.onHostcall`). */
  onHostcall?: HostcallObserver;
}

export interface LogEntry {
  level: LogLevel;
  message: string;
  source: LogSource;
}

/** An HTTP call the plugin made and the test has not answered yet. */
export interface PendingHttpCall {
  /** Order of the call (1, 2, ...), to answer it with `respondHttpCall`. */
  id: number;
  cluster: string;
  headers: HeaderPair[];
  body: Buffer;
  trailers: HeaderPair[];
  timeoutMs: number;
}

export interface PendingGrpcCall {
  id: number;
  request: GrpcCallRequest;
}

/** A gRPC stream the plugin opened (`proxy_grpc_stream`), with what it sent so far. */
export interface EmulatedGrpcStream {
  id: number;
  request: GrpcStreamRequest;
  sent: Buffer[];
  /** The plugin half-closed (`proxy_grpc_close` or `end_stream`). */
  localClosed: boolean;
  /** The plugin reset it (`proxy_grpc_cancel`). */
  cancelled: boolean;
}

/** A response to hand to `proxy_on_http_call_response`. */
export interface EmulatedResponse {
  status?: number;
  headers?: HeaderPair[] | Record<string, string>;
  body?: string | Uint8Array;
  trailers?: HeaderPair[] | Record<string, string>;
}

type Headers = HeaderPair[] | Record<string, string>;

interface StreamState {
  id: number;
  filter: HttpFilter;
  info: StreamInfo & Record<string, unknown>;
  requestHeaders: HeaderMap | null;
  requestTrailers: HeaderMap | null;
  responseHeaders: HeaderMap | null;
  responseTrailers: HeaderMap | null;
  requestForwarded: Buffer[];
  requestBuffered: BodyBuffer | null;
  responseForwarded: Buffer[];
  responseBuffered: BodyBuffer | null;
  localReply: LocalReply | undefined;
  /** FilterManager `is_grpc_request_` / `is_head_request_`, from the request headers as they came. */
  grpcRequest: boolean;
  headRequest: boolean;
  /** The response headers went downstream (the filter let them through). */
  responseHeadersEncoded: boolean;
  /** A local reply replaced the response after the filter saw it: the filter sees no more of it. */
  encoderAborted: boolean;
  reset: boolean;
  routeCacheClears: number;
  decodingContinued: number;
  encodingContinued: number;
  completed: boolean;
}

const DEFAULT_START = Date.UTC(2026, 0, 1);

class FakeClock implements Clock, Timers {
  private timers: Array<{ due: number; seq: number; fn: () => void }> = [];
  private seq = 0;
  private mono = 0;

  constructor(private wall: number) {}

  now(): number {
    return this.wall;
  }

  monotonic(): number {
    return this.mono;
  }

  setTimer(fn: () => void, delayMs: number): TimerHandle {
    const timer = { due: this.mono + Math.max(0, delayMs), seq: ++this.seq, fn };
    this.timers.push(timer);
    return timer;
  }

  clearTimer(handle: TimerHandle): void {
    this.timers = this.timers.filter((t) => t !== handle);
  }

  /** Moves time forward by `ms`, running due timers in order; `after` runs after each. */
  advance(ms: number, after: () => void): void {
    const target = this.mono + ms;
    for (;;) {
      let next: (typeof this.timers)[number] | undefined;
      for (const t of this.timers) if (t.due <= target && (!next || t.due < next.due || (t.due === next.due && t.seq < next.seq))) next = t;
      if (!next) break;
      this.timers = this.timers.filter((t) => t !== next);
      this.wall += next.due - this.mono;
      this.mono = next.due;
      next.fn();
      after();
    }
    this.wall += target - this.mono;
    this.mono = target;
  }
}

/** A run `beforeNextHostcall` keeps until its hostcall comes. */
interface Interleaving {
  /** `env.<name>` for a bare name, else `module.field`, as `HostcallObserver` names it. */
  hostcall: string;
  /** Key bytes a shared-data hostcall must name, or null for any call. */
  key: Buffer | null;
  run: () => void;
}

/** Hostcalls whose first two arguments are a shared-data key (pointer, size). */
const KEYED_HOSTCALLS = new Set(['env.proxy_get_shared_data', 'env.proxy_set_shared_data']);

function defaultSharedState(): SharedState {
  return SharedState.create({ data: { bytes: 4 << 20, buckets: 1024 }, queues: { bytes: 1 << 20, maxQueues: 64 }, metrics: { maxMetrics: 1024, nameBytes: 65536 } });
}

/**
 * Envoy `Utility::prepareLocalReply` (source/common/http/utility.cc) for a reply sent by a
 * Wasm plugin: `:status`, then the plugin's headers added as Envoy's `addCopy` adds them
 * (wasm context.cc `sendLocalResponse`: inline headers joined with `,`). A gRPC request
 * gets a trailers-only reply: `:status` 200, `content-type: application/grpc` over the
 * plugin's, `grpc-status` (the plugin's header, else its gRPC status, else mapped from the
 * HTTP status), `grpc-message` (the body, percent-encoded; none for HEAD), no body or
 * `content-length`. Otherwise `content-length` when there is a body, `content-type:
 * text/plain` only when the plugin gave none; no body: neither header. A HEAD request
 * gets the headers only (`encodeLocalReply`). `endStream`: the headers end the response.
 */
function prepareLocalReply(reply: LocalReply, grpc: boolean, head: boolean): { headers: HeaderMap; body: Buffer; endStream: boolean } {
  const headers = new HeaderMap([[':status', String(reply.status)]]);
  for (const [k, v] of reply.headers ?? []) addHeaderCopy(headers, MapType.HttpResponseHeaders, k, v);
  const body = toBytes(reply.body);
  if (grpc) {
    headers.set(':status', '200');
    headers.set('content-type', 'application/grpc');
    if (!headers.get('grpc-status')) headers.set('grpc-status', String(reply.grpcStatus ?? httpToGrpcStatus(reply.status)));
    if (body.length > 0 && !head) headers.set('grpc-message', percentEncode(body));
    headers.remove('content-length');
    return { headers, body: Buffer.alloc(0), endStream: true };
  }
  if (body.length > 0) {
    headers.set('content-length', String(body.length));
    if (!headers.has('content-type')) headers.add('content-type', 'text/plain');
  } else {
    headers.remove('content-length');
    headers.remove('content-type');
  }
  return { headers, body: head ? Buffer.alloc(0) : body, endStream: head || body.length === 0 };
}

/** Envoy `Grpc::Common::isGrpcRequestHeaders`: a `:path` and `content-type` `application/grpc` or `application/grpc+...`. */
function isGrpcRequest(headers: HeaderMap): boolean {
  const type = headers.get('content-type') ?? '';
  return headers.has(':path') && (type === 'application/grpc' || type.startsWith('application/grpc+'));
}

/** Envoy `Grpc::Utility::httpToGrpcStatus` (grpc's http-grpc-status-mapping). */
function httpToGrpcStatus(status: number): GrpcStatus {
  switch (status) {
    case 400:
      return GrpcStatus.Internal;
    case 401:
      return GrpcStatus.Unauthenticated;
    case 403:
      return GrpcStatus.PermissionDenied;
    case 404:
      return GrpcStatus.Unimplemented;
    case 429:
    case 502:
    case 503:
    case 504:
      return GrpcStatus.Unavailable;
    default:
      return GrpcStatus.Unknown;
  }
}

/** Envoy `Http::Utility::PercentEncoding::encode` for `grpc-message`: bytes outside ' '..'}' and `%` as `%XX`. */
function percentEncode(bytes: Buffer): string {
  let out = '';
  for (const b of bytes) out += b < 0x20 || b >= 0x7e || b === 0x25 ? `%${b.toString(16).toUpperCase().padStart(2, '0')}` : String.fromCharCode(b);
  return out;
}

/** How many completed streams stay readable (`WasmEmulator.completeHttpContext`). */
export const KEPT_COMPLETED_STREAMS = 4096;

function toPairs(headers: Headers | undefined): HeaderPair[] {
  if (!headers) return [];
  return Array.isArray(headers) ? headers : Object.entries(headers);
}

function toBytes(body: string | Uint8Array | undefined): Buffer {
  if (body === undefined) return Buffer.alloc(0);
  return typeof body === 'string' ? Buffer.from(body) : Buffer.from(body);
}

export class WasmEmulator {
  readonly plugin: WasmPlugin;
  readonly shared: SharedState;
  private readonly clock: FakeClock;
  private readonly logs: LogEntry[];
  private readonly streams = new Map<number, StreamState>();
  /** Ids of the last `KEPT_COMPLETED_STREAMS` completed streams, a ring (`completeHttpContext`). */
  private readonly completedRing: number[] = [];
  private completedNext = 0;
  private readonly httpCalls: Array<PendingHttpCall & { respond: (r: HttpCallResponse | null) => void; timer?: TimerHandle }>;
  private readonly grpcCalls: Array<PendingGrpcCall & { onSuccess(m: Uint8Array): void; onFailure(s: number, m: string): void }>;
  private readonly grpcStreams: Array<EmulatedGrpcStream & { callbacks: GrpcStreamCallbacks }>;
  private nextCallId = 0;
  private nextSyntheticId = 1_000_000;
  private nextStreamId = 1;
  private virtualHostName: string | undefined;
  /** The emulators of `createWorkers` (this one included) that share the clock; else just this one. */
  private workers: WasmEmulator[] = [this];
  /** Runs waiting for their hostcall; null when hostcalls are not observed (`create`). */
  private interleavings: Interleaving[] | null = null;
  /** True while one of this VM's interleaved runs is running. */
  private interleaving = false;
  /** What an interleaved run threw, rethrown when the call that drove this VM returns. */
  private interleavingError: { error: unknown } | undefined;

  private constructor(
    plugin: WasmPlugin,
    shared: SharedState,
    clock: FakeClock,
    logs: LogEntry[],
    httpCalls: WasmEmulator['httpCalls'],
    grpcCalls: WasmEmulator['grpcCalls'],
    grpcStreams: WasmEmulator['grpcStreams'],
  ) {
    this.grpcStreams = grpcStreams;
    this.plugin = plugin;
    this.shared = shared;
    this.clock = clock;
    this.logs = logs;
    this.httpCalls = httpCalls;
    this.grpcCalls = grpcCalls;
  }

  /**
   * Loads the module and runs `proxy_on_vm_start` / `proxy_on_configure`; rejects with
   * `WasmPluginError` when the plugin refuses its configuration.
   */
  static create(options: EmulatorOptions): Promise<WasmEmulator> {
    return WasmEmulator.load(options, new FakeClock(options.startTimeMs ?? DEFAULT_START), false);
  }

  /**
   * Envoy's one VM per worker thread: `count` emulators of the plugin `options` describes,
   * each a VM of its own worker (its own VM registry and shared-queue wake-up slot, as
   * `SharedState.attach` gives a worker thread), all over one shared-data store, queues
   * and metrics (`options.shared`, or new ones) and one fake clock, in the test's thread.
   * They are created one after another (Envoy configures each worker's plugin before
   * that worker serves), and their hostcalls are observed, so `beforeNextHostcall` can
   * interleave them. `advanceClock` on any of them moves the clock of all, firing every
   * worker's due timers in order. Rejects with `WasmPluginError` as `create` does.
   */
  static async createWorkers(count: number, options: EmulatorOptions): Promise<WasmEmulator[]> {
    const shared = options.shared ?? defaultSharedState();
    const clock = new FakeClock(options.startTimeMs ?? DEFAULT_START);
    const workers: WasmEmulator[] = [];
    for (let i = 0; i < count; i++) workers.push(await WasmEmulator.load({ ...options, shared: SharedState.attach(shared.handle) }, clock, true));
    for (const w of workers) w.workers = workers;
    return workers;
  }

  private static async load(options: EmulatorOptions, clock: FakeClock, interleaved: boolean): Promise<WasmEmulator> {
    const code = typeof options.wasm === 'string' ? await readFile(options.wasm) : options.wasm;
    const shared = options.shared ?? defaultSharedState();
    const logs: LogEntry[] = [];
    const httpCalls: WasmEmulator['httpCalls'] = [];
    const grpcCalls: WasmEmulator['grpcCalls'] = [];
    const grpcStreams: WasmEmulator['grpcStreams'] = [];
    const clusters = options.clusters ? new Set(options.clusters) : undefined;
    const withoutHosts = new Set(options.clustersWithoutHosts);
    let emulator: WasmEmulator | undefined;
    let callIds = 0;
    const logLevel = options.logLevel ?? LogLevel.Trace;
    const plugin = await WasmPlugin.create(
      {
        name: options.name ?? 'emulated',
        rootId: options.rootId,
        vmId: options.vmId,
        code,
        configuration: options.pluginConfiguration,
        vmConfiguration: options.vmConfiguration,
        environmentVariables: options.environmentVariables,
        failurePolicy: options.failurePolicy,
        failOpen: options.failOpen,
        reloadBaseIntervalMs: options.reloadBaseIntervalMs,
        allowOnHeadersStopIteration: options.allowOnHeadersStopIteration,
      },
      {
        clock,
        timers: clock,
        shared,
        node: options.node ?? { id: 'emulator', cluster: 'emulator' },
        onHostcall: interleaved
          ? (name, args, wasm) => {
              options.onHostcall?.(name, args, wasm);
              emulator?.beforeHostcall(name, args, wasm);
            }
          : options.onHostcall,
        logLevel: () => logLevel,
        log: (level, message, source) => logs.push({ level, message, source }),
        httpCall: (cluster, headers, body, trailers, timeoutMs, onResponse) => {
          if (withoutHosts.has(cluster)) {
            // router.cc sendNoHealthyUpstream, inside the async client's send.
            onResponse(localReplyResponse(503, NO_HEALTHY_UPSTREAM_BODY));
            return true;
          }
          if (clusters && !clusters.has(cluster)) return false;
          const id = emulator ? ++emulator.nextCallId : ++callIds;
          const call = { id, cluster, headers, body: Buffer.from(body), trailers, timeoutMs, respond: onResponse, timer: undefined as TimerHandle | undefined };
          if (timeoutMs > 0) {
            call.timer = clock.setTimer(() => {
              const i = httpCalls.indexOf(call);
              if (i >= 0) httpCalls.splice(i, 1);
              // Envoy's async client turns the router's timeout into a response
              // (source/common/http/async_client_impl.cc AsyncStreamImpl::sendLocalReply),
              // so the plugin sees 504 `upstream request timeout`, not zero headers.
              onResponse(localReplyResponse(504, UPSTREAM_TIMEOUT_BODY));
            }, timeoutMs);
          }
          httpCalls.push(call);
          return {
            cancel: () => {
              const i = httpCalls.indexOf(call);
              if (i >= 0) httpCalls.splice(i, 1);
              if (call.timer !== undefined) clock.clearTimer(call.timer);
            },
          };
        },
        grpcCall: (request, callbacks) => {
          if (clusters && !clusters.has(request.cluster)) return false;
          const id = emulator ? ++emulator.nextCallId : ++callIds;
          const call = { id, request, ...callbacks };
          grpcCalls.push(call);
          return { cancel: () => void grpcCalls.splice(grpcCalls.indexOf(call) >>> 0, 1) };
        },
        grpcStream: (request, callbacks) => {
          if (clusters && !clusters.has(request.cluster)) return false;
          const id = emulator ? ++emulator.nextCallId : ++callIds;
          const stream = { id, request, sent: [] as Buffer[], localClosed: false, cancelled: false, callbacks };
          grpcStreams.push(stream);
          return {
            send: (message, endStream) => {
              stream.sent.push(Buffer.from(message));
              if (endStream) stream.localClosed = true;
            },
            close: () => void (stream.localClosed = true),
            cancel: () => void (stream.cancelled = true),
          };
        },
      },
    );
    emulator = new WasmEmulator(plugin, shared, clock, logs, httpCalls, grpcCalls, grpcStreams);
    emulator.nextCallId = callIds;
    emulator.virtualHostName = options.virtualHostName;
    if (interleaved) emulator.interleavings = [];
    emulator.deliverQueues();
    return emulator;
  }

  // --- streams -------------------------------------------------------------------

  /** Starts a stream (the filter is created as the filter manager would) and returns its id. */
  initializeHttpContext(streamInfo: Partial<StreamInfo> = {}): number {
    const info = {
      streamId: this.nextStreamId++,
      connectionId: 1,
      startTimeMs: this.clock.now(),
      protocol: 'HTTP/1.1',
      downstreamRemoteAddress: '10.0.0.1:50000',
      downstreamLocalAddress: '10.0.0.2:8080',
      mtls: false,
      nodeId: 'emulator',
      nodeCluster: 'emulator',
      requestBodyBytes: 0,
      responseBodyBytes: 0,
      virtualHostName: this.virtualHostName,
      ...streamInfo,
    } as StreamState['info'];
    const filter = this.plugin.createFilter(info);
    const id = filter instanceof Context ? filter.id : this.nextSyntheticId++;
    const state: StreamState = {
      id,
      filter,
      info,
      requestHeaders: null,
      requestTrailers: null,
      responseHeaders: null,
      responseTrailers: null,
      requestForwarded: [],
      requestBuffered: null,
      responseForwarded: [],
      responseBuffered: null,
      localReply: undefined,
      grpcRequest: false,
      headRequest: false,
      responseHeadersEncoded: false,
      encoderAborted: false,
      reset: false,
      routeCacheClears: 0,
      decodingContinued: 0,
      encodingContinued: 0,
      completed: false,
    };
    this.streams.set(id, state);
    filter.setDecoderFilterCallbacks(this.decoderCallbacks(state));
    filter.setEncoderFilterCallbacks(this.encoderCallbacks(state));
    return id;
  }

  /** `proxy_on_request_headers`; returns the action as the filter manager sees it. */
  callOnRequestHeaders(id: number, headers: Headers, endOfStream: boolean): FilterHeadersStatus {
    const s = this.stream(id);
    s.requestHeaders = new HeaderMap(toPairs(headers));
    s.grpcRequest = isGrpcRequest(s.requestHeaders);
    s.headRequest = s.requestHeaders.get(':method') === 'HEAD';
    const status = s.filter.decodeHeaders?.(s.requestHeaders, endOfStream) ?? FilterHeadersStatus.Continue;
    this.deliverQueues();
    return status;
  }

  /** `proxy_on_request_body` with one chunk. */
  callOnRequestBody(id: number, body: string | Uint8Array, endOfStream: boolean): FilterDataStatus {
    const s = this.stream(id);
    const data = new BodyBuffer(toBytes(body));
    s.info.requestBodyBytes += data.length;
    const status = s.filter.decodeData?.(data, endOfStream) ?? FilterDataStatus.Continue;
    this.handleData(s, true, data, status);
    this.deliverQueues();
    return status;
  }

  callOnRequestTrailers(id: number, trailers: Headers): FilterTrailersStatus {
    const s = this.stream(id);
    s.requestTrailers = new HeaderMap(toPairs(trailers));
    const status = s.filter.decodeTrailers?.(s.requestTrailers) ?? FilterTrailersStatus.Continue;
    this.deliverQueues();
    return status;
  }

  callOnResponseHeaders(id: number, headers: Headers, endOfStream: boolean): FilterHeadersStatus {
    const s = this.stream(id);
    s.responseHeaders = new HeaderMap(toPairs(headers));
    const code = Number(s.responseHeaders.get(':status'));
    if (Number.isInteger(code)) s.info.responseCode = code;
    const replied = s.localReply;
    const status = s.filter.encodeHeaders?.(s.responseHeaders, endOfStream) ?? FilterHeadersStatus.Continue;
    if (status === FilterHeadersStatus.Continue && s.localReply === replied) s.responseHeadersEncoded = true;
    this.deliverQueues();
    return status;
  }

  /**
   * `proxy_on_response_body` with one chunk. After a local reply replaced the response
   * (sent from the response path), the upstream's body is dropped: the filter is not
   * called, the response stays the reply, and the result is Continue.
   */
  callOnResponseBody(id: number, body: string | Uint8Array, endOfStream: boolean): FilterDataStatus {
    const s = this.stream(id);
    if (s.encoderAborted) return FilterDataStatus.Continue;
    const data = new BodyBuffer(toBytes(body));
    s.info.responseBodyBytes += data.length;
    const status = s.filter.encodeData?.(data, endOfStream) ?? FilterDataStatus.Continue;
    this.handleData(s, false, data, status);
    this.deliverQueues();
    return status;
  }

  /** `proxy_on_response_trailers`; dropped as `callOnResponseBody` says after a late local reply. */
  callOnResponseTrailers(id: number, trailers: Headers): FilterTrailersStatus {
    const s = this.stream(id);
    if (s.encoderAborted) return FilterTrailersStatus.Continue;
    s.responseTrailers = new HeaderMap(toPairs(trailers));
    const status = s.filter.encodeTrailers?.(s.responseTrailers) ?? FilterTrailersStatus.Continue;
    this.deliverQueues();
    return status;
  }

  /** Ends the stream as Envoy does: `proxy_on_log`, then `proxy_on_done` and `proxy_on_delete`. */
  completeHttpContext(id: number): void {
    const s = this.stream(id);
    if (s.completed) return;
    s.completed = true;
    s.filter.onStreamComplete?.();
    s.filter.onDestroy?.();
    this.deliverQueues();
    this.keepCompleted(id);
  }

  /**
   * A completed stream stays readable (its headers, bodies, local reply...) until
   * `KEPT_COMPLETED_STREAMS` later streams have completed; then the emulator lets it go,
   * so that a long run (benchmarks: hundreds of thousands of streams) does not keep every
   * stream it ever ran alive, and slow the garbage collector down with them.
   */
  private keepCompleted(id: number): void {
    const ring = this.completedRing;
    const at = this.completedNext;
    if (ring.length < KEPT_COMPLETED_STREAMS) ring.push(id);
    else {
      this.streams.delete(ring[at]);
      ring[at] = id;
    }
    this.completedNext = (at + 1) % KEPT_COMPLETED_STREAMS;
  }

  getCurrentRequestHeaders(id: number): HeaderPair[] {
    return this.stream(id).requestHeaders?.entries() ?? [];
  }

  getCurrentResponseHeaders(id: number): HeaderPair[] {
    return this.stream(id).responseHeaders?.entries() ?? [];
  }

  getCurrentRequestTrailers(id: number): HeaderPair[] {
    return this.stream(id).requestTrailers?.entries() ?? [];
  }

  getCurrentResponseTrailers(id: number): HeaderPair[] {
    return this.stream(id).responseTrailers?.entries() ?? [];
  }

  /** The request body as forwarded (and buffered) so far, after the filter's edits. */
  getCurrentRequestBody(id: number): Buffer {
    const s = this.stream(id);
    return Buffer.concat([...s.requestForwarded, ...(s.requestBuffered ? [s.requestBuffered.bytes()] : [])]);
  }

  getCurrentResponseBody(id: number): Buffer {
    const s = this.stream(id);
    return Buffer.concat([...s.responseForwarded, ...(s.responseBuffered ? [s.responseBuffered.bytes()] : [])]);
  }

  /** The local reply the filter sent (`proxy_send_local_response`), if any. */
  getSentLocalResponse(id: number): LocalReply | undefined {
    return this.stream(id).localReply;
  }

  /** How often the filter resumed the request (`proxy_continue_stream(HTTP_REQUEST)`) and response. */
  getContinueCalls(id: number): { request: number; response: number } {
    const s = this.stream(id);
    return { request: s.decodingContinued, response: s.encodingContinued };
  }

  /** Whether the filter reset the stream (`proxy_close_stream`). */
  isStreamReset(id: number): boolean {
    return this.stream(id).reset;
  }

  /** How often the filter cleared the route cache (request header edits do). */
  getRouteCacheClears(id: number): number {
    return this.stream(id).routeCacheClears;
  }

  /** The stream's `StreamInfo`, to set e.g. `responseCode` or `upstreamAddress` as the router would. */
  getStreamInfo(id: number): StreamState['info'] {
    return this.stream(id).info;
  }

  // --- root context ------------------------------------------------------------

  get rootContextId(): number {
    return this.plugin.rootContext.id;
  }

  /** True once a trap has failed the plugin's current VM. */
  get vmFailed(): boolean {
    return this.plugin.wasm.failed;
  }

  /** Runs `proxy_on_tick` now (whatever the tick period). */
  tick(): void {
    this.plugin.rootContext.onTick();
    this.deliverQueues();
  }

  /** Moves the fake clock (of every worker, for `createWorkers`), firing ticks and call timeouts that fall due. */
  advanceClock(ms: number): void {
    this.clock.advance(ms, () => {
      for (const w of this.workers) w.deliverQueues();
    });
  }

  /** Fake wall clock, ms since the epoch. */
  now(): number {
    return this.clock.now();
  }

  // --- logs ----------------------------------------------------------------------

  /** Messages the plugin logged, all or at one level. */
  getLogs(level?: LogLevel): string[] {
    return this.logs.filter((l) => level === undefined || l.level === level).map((l) => l.message);
  }

  getLogEntries(): readonly LogEntry[] {
    return this.logs;
  }

  clearLogs(): void {
    this.logs.length = 0;
  }

  // --- metrics -------------------------------------------------------------------

  /** Value of a metric the plugin defined (by its own name), or undefined. */
  getMetric(name: string, type?: MetricType): bigint | undefined {
    const m = this.findMetric(`wasmcustom.${name}`, type) ?? this.findMetric(name, type);
    return m?.value;
  }

  getCounterValue(name: string): bigint | undefined {
    return this.getMetric(name, MetricType.Counter);
  }

  getGaugeValue(name: string): bigint | undefined {
    return this.getMetric(name, MetricType.Gauge);
  }

  getHistogram(name: string): MetricSnapshot['histogram'] {
    return this.findMetric(`wasmcustom.${name}`, MetricType.Histogram)?.histogram;
  }

  /** Envoy's `/stats/prometheus` rendering of this emulator's metrics. */
  renderPrometheus(): string {
    return renderPrometheus(this.shared.metrics);
  }

  private findMetric(name: string, type?: MetricType): MetricSnapshot | undefined {
    return this.shared.metrics.snapshot().find((m) => m.name === name && (type === undefined || m.type === type));
  }

  // --- HTTP and gRPC calls ---------------------------------------------------------

  getPendingHttpCalls(): PendingHttpCall[] {
    return this.httpCalls.map(({ id, cluster, headers, body, trailers, timeoutMs }) => ({ id, cluster, headers, body, trailers, timeoutMs }));
  }

  /** Answers call `id` (default: the oldest pending); `proxy_on_http_call_response` runs now. */
  respondHttpCall(response: EmulatedResponse, id?: number): void {
    const call = this.takeHttpCall(id);
    const headers = toPairs(response.headers);
    if (!headers.some(([k]) => k === ':status')) headers.unshift([':status', String(response.status ?? 200)]);
    call.respond({ headers, body: toBytes(response.body), trailers: toPairs(response.trailers) });
    this.deliverQueues();
  }

  /** Fails call `id` (reset): `proxy_on_http_call_response` with zero headers. */
  failHttpCall(id?: number): void {
    this.takeHttpCall(id).respond(null);
    this.deliverQueues();
  }

  getPendingGrpcCalls(): PendingGrpcCall[] {
    return this.grpcCalls.map(({ id, request }) => ({ id, request }));
  }

  respondGrpcCall(message: Uint8Array, id?: number): void {
    this.takeGrpcCall(id).onSuccess(message);
    this.deliverQueues();
  }

  failGrpcCall(status: number, message: string, id?: number): void {
    this.takeGrpcCall(id).onFailure(status, message);
    this.deliverQueues();
  }

  /** gRPC streams the plugin opened, oldest first. */
  getGrpcStreams(): EmulatedGrpcStream[] {
    return this.grpcStreams.map(({ callbacks: _c, ...stream }) => stream);
  }

  /** Delivers an event of gRPC stream `id` from the server side. */
  grpcStreamEvent(
    id: number,
    event: { initialMetadata: HeaderPair[] } | { message: Uint8Array } | { trailingMetadata: HeaderPair[] } | { close: { status: number; message: string } },
  ): void {
    const stream = this.grpcStreams.find((s) => s.id === id);
    if (!stream) throw new Error(`no gRPC stream ${id}`);
    if ('initialMetadata' in event) stream.callbacks.onInitialMetadata(event.initialMetadata);
    else if ('message' in event) stream.callbacks.onMessage(event.message);
    else if ('trailingMetadata' in event) stream.callbacks.onTrailingMetadata(event.trailingMetadata);
    else stream.callbacks.onClose(event.close.status, event.close.message);
    this.deliverQueues();
  }

  private takeHttpCall(id?: number): WasmEmulator['httpCalls'][number] {
    const i = id === undefined ? 0 : this.httpCalls.findIndex((c) => c.id === id);
    const call = this.httpCalls[i];
    if (!call) throw new Error(id === undefined ? 'no pending HTTP call' : `no pending HTTP call ${id}`);
    this.httpCalls.splice(i, 1);
    if (call.timer !== undefined) this.clock.clearTimer(call.timer);
    return call;
  }

  private takeGrpcCall(id?: number): WasmEmulator['grpcCalls'][number] {
    const i = id === undefined ? 0 : this.grpcCalls.findIndex((c) => c.id === id);
    const call = this.grpcCalls[i];
    if (!call) throw new Error(id === undefined ? 'no pending gRPC call' : `no pending gRPC call ${id}`);
    this.grpcCalls.splice(i, 1);
    return call;
  }

  // --- shared data and queues ------------------------------------------------------

  /** Shared data of the plugin's vm_id. */
  getSharedData(key: string): { value: Buffer; cas: number } | undefined {
    return this.shared.data.read(this.plugin.info.vmId, key);
  }

  setSharedData(key: string, value: string | Uint8Array, cas = 0): WasmResult {
    return this.shared.data.write(this.plugin.info.vmId, key, value, cas);
  }

  /** Enqueues on queue `name` of the plugin's vm_id (as another plugin would); false if none. */
  enqueue(name: string, value: string | Uint8Array): boolean {
    const vmId = Buffer.from(this.plugin.info.vmId);
    const token = this.shared.queues.resolve(vmId, Buffer.from(name));
    if (token === 0) return false;
    this.shared.queues.enqueue(token, toBytes(value));
    this.deliverQueues();
    return true;
  }

  /** Dequeues from queue `name` of the plugin's vm_id. */
  dequeue(name: string): Buffer | undefined {
    const token = this.shared.queues.resolve(Buffer.from(this.plugin.info.vmId), Buffer.from(name));
    if (token === 0) return undefined;
    const len = this.shared.queues.dequeue(token);
    return len < 0 ? undefined : Buffer.from(this.shared.queues.scratch.subarray(0, len));
  }

  /** Closes the plugin (root context `proxy_on_done` / `proxy_on_delete`). */
  close(): void {
    this.plugin.close();
    if (this.shared !== undefined) this.shared.queues.close();
  }

  // --- interleaving workers --------------------------------------------------------

  /**
   * Runs `run` once, just before this VM's next hostcall `hostcall` runs (its arguments
   * are already read: a `proxy_set_shared_data` then writes with the CAS its VM read
   * earlier). `hostcall` is an `env` import's name (`proxy_set_shared_data`) or
   * `module.field`; `key` restricts `proxy_get_shared_data` / `proxy_set_shared_data` to
   * calls on that key. Runs due at one hostcall go in the order they were asked for; a
   * run may ask for more (for a later hostcall), e.g. to chain workers A → B → C.
   *
   * `run` stands for another worker meanwhile: it drives other emulators of
   * `createWorkers` (whole requests, ticks), reads and writes shared data; it must not
   * drive this emulator or move the clock (this VM is inside a hostcall: Envoy would not
   * call into it either; doing so is reported as an error). What `run` throws is
   * rethrown when the call that drove this VM returns; the VM goes on meanwhile.
   * Throws on an emulator made by `create` (its hostcalls are not observed, at no cost).
   */
  beforeNextHostcall(hostcall: string, run: () => void, options: { key?: string } = {}): void {
    if (this.interleavings === null) throw new Error('beforeNextHostcall: only emulators made by WasmEmulator.createWorkers observe their hostcalls');
    const name = hostcall.includes('.') ? hostcall : `env.${hostcall}`;
    if (options.key !== undefined && !KEYED_HOSTCALLS.has(name)) throw new Error(`beforeNextHostcall: a key applies to proxy_get_shared_data and proxy_set_shared_data, not ${hostcall}`);
    this.interleavings.push({ hostcall: name, key: options.key === undefined ? null : Buffer.from(options.key), run });
  }

  /** The hostcall observer of `createWorkers` emulators: runs the interleavings due. */
  private beforeHostcall(name: string, args: ReadonlyArray<number | bigint>, vm: Parameters<HostcallObserver>[2]): void {
    if (this.interleaving) {
      this.interleavingError ??= { error: new Error(`an interleaved run called into the VM it interrupted (${name}); drive other workers only`) };
      return;
    }
    const pending = this.interleavings!;
    if (pending.length === 0) return;
    const due = pending.filter((i) => i.hostcall === name && (i.key === null || vm.mem.bytes(Number(args[0]), Number(args[1]))?.equals(i.key) === true));
    if (due.length === 0) return;
    this.interleavings = pending.filter((i) => !due.includes(i));
    this.interleaving = true;
    try {
      for (const i of due) i.run();
    } catch (error) {
      this.interleavingError ??= { error };
    } finally {
      this.interleaving = false;
    }
  }

  // --- the filter manager's part ---------------------------------------------------

  private stream(id: number): StreamState {
    const s = this.streams.get(id);
    if (!s) throw new Error(`no HTTP context ${id} (completed streams stay readable for the next ${KEPT_COMPLETED_STREAMS} completions)`);
    return s;
  }

  /**
   * Delivers `proxy_on_queue_ready` for same-thread enqueues at once, deterministically.
   * Every call that drives the VM ends here, so it also rethrows an interleaved run's error.
   */
  private deliverQueues(): void {
    this.shared.queues.drain();
    const failed = this.interleavingError;
    if (failed !== undefined) {
      this.interleavingError = undefined;
      throw failed.error;
    }
  }

  /** Envoy FilterManager buffering: keep, forward or drop the chunk as the status says. */
  private handleData(s: StreamState, request: boolean, data: BodyBuffer, status: FilterDataStatus): void {
    const forwarded = request ? s.requestForwarded : s.responseForwarded;
    const bufferedKey = request ? 'requestBuffered' : 'responseBuffered';
    if (status === FilterDataStatus.Continue) {
      const buffered = s[bufferedKey];
      if (buffered) {
        forwarded.push(Buffer.from(buffered.drain()));
        s[bufferedKey] = null;
      }
      forwarded.push(Buffer.from(data.drain()));
    } else if (status === FilterDataStatus.StopIterationAndBuffer || status === FilterDataStatus.StopIterationAndWatermark) {
      const buffered = (s[bufferedKey] ??= new BodyBuffer());
      if (data.length > 0) buffered.append(data.drain());
    }
  }

  private continueDecoding(s: StreamState): void {
    s.decodingContinued++;
    if (s.requestBuffered) {
      s.requestForwarded.push(Buffer.from(s.requestBuffered.drain()));
      s.requestBuffered = null;
    }
  }

  private continueEncoding(s: StreamState): void {
    s.encodingContinued++;
    if (s.responseHeaders !== null) s.responseHeadersEncoded = true;
    if (s.responseBuffered) {
      s.responseForwarded.push(Buffer.from(s.responseBuffered.drain()));
      s.responseBuffered = null;
    }
  }

  /**
   * Envoy `FilterManager::sendLocalReply`. Every call records its details; then, as the
   * response stands:
   * - none yet: the reply (`prepareLocalReply`) becomes the response and runs through the
   *   filter's response path (the filter sees its own reply in `proxy_on_response_headers`);
   * - the filter holds the response headers (`sendDirectLocalReply`): the reply replaces
   *   the response straight away, the filter's response path does not run again, and the
   *   rest of the upstream response is dropped;
   * - the headers went downstream already: the stream is reset.
   * A second reply (the response is the first one) changes only `response.code_details`.
   */
  private sendLocalReply(s: StreamState, reply: LocalReply): void {
    s.info.responseCodeDetails = reply.details;
    if (s.localReply) return;
    s.localReply = reply;
    if (s.responseHeadersEncoded) {
      s.reset = true;
      return;
    }
    const { headers, body, endStream } = prepareLocalReply(reply, s.grpcRequest, s.headRequest);
    s.info.responseCode = Number(headers.get(':status'));
    const direct = s.responseHeaders !== null;
    s.responseHeaders = headers;
    s.responseTrailers = null;
    s.responseForwarded = [];
    s.responseBuffered = null;
    if (direct) {
      s.encoderAborted = true;
      s.responseHeadersEncoded = true;
      if (!endStream) s.responseForwarded.push(body);
      return;
    }
    const status = s.filter.encodeHeaders?.(headers, endStream) ?? FilterHeadersStatus.Continue;
    if (status === FilterHeadersStatus.Continue) s.responseHeadersEncoded = true;
    if (endStream) return;
    if (status === FilterHeadersStatus.Continue) {
      const data = new BodyBuffer(body);
      this.handleData(s, false, data, s.filter.encodeData?.(data, true) ?? FilterDataStatus.Continue);
    } else {
      s.responseBuffered = new BodyBuffer(body);
    }
  }

  /** What every stream's callbacks call back into (one object per emulator). */
  private readonly manager: FilterManagerActions = {
    continueDecoding: (s) => this.continueDecoding(s),
    continueEncoding: (s) => this.continueEncoding(s),
    sendLocalReply: (s, reply) => this.sendLocalReply(s, reply),
  };

  private decoderCallbacks(s: StreamState): DecoderFilterCallbacks {
    return new EmulatedDecoderCallbacks(this.manager, s);
  }

  private encoderCallbacks(s: StreamState): EncoderFilterCallbacks {
    return new EmulatedEncoderCallbacks(this.manager, s);
  }
}

/** The filter manager's actions the callbacks below call (WasmEmulator's). */
interface FilterManagerActions {
  continueDecoding(s: StreamState): void;
  continueEncoding(s: StreamState): void;
  sendLocalReply(s: StreamState, reply: LocalReply): void;
}

/**
 * The decoder callbacks of one stream. A class, not an object of closures: streams are
 * made by the thousand (benchmarks keep a batch of them waiting), and two small objects
 * per stream keep their state together in memory where 21 closures spread it out.
 */
class EmulatedDecoderCallbacks implements DecoderFilterCallbacks {
  readonly streamInfo: StreamInfo;

  constructor(
    private readonly manager: FilterManagerActions,
    private readonly s: StreamState,
  ) {
    this.streamInfo = s.info;
  }

  continueDecoding(): void {
    this.manager.continueDecoding(this.s);
  }

  decodingBuffer(): BodyBuffer | null {
    return this.s.requestBuffered;
  }

  addDecodedData(data: BodyBuffer): void {
    const s = this.s;
    if (s.requestBuffered !== data) (s.requestBuffered ??= new BodyBuffer()).append(data.drain());
  }

  requestHeaders(): HeaderMap | null {
    return this.s.requestHeaders;
  }

  requestTrailers(): HeaderMap | null {
    return this.s.requestTrailers;
  }

  addDecodedTrailers(): HeaderMap {
    return (this.s.requestTrailers ??= new HeaderMap());
  }

  sendLocalReply(reply: LocalReply): void {
    this.manager.sendLocalReply(this.s, reply);
  }

  clearRouteCache(): void {
    this.s.routeCacheClears++;
  }

  route(): { name: string; clusterName: string } | null {
    const info = this.s.info;
    return info.routeName !== undefined ? { name: info.routeName, clusterName: info.clusterName ?? '' } : null;
  }

  resetStream(): void {
    this.s.reset = true;
  }
}

/** The encoder callbacks of one stream (see EmulatedDecoderCallbacks). */
class EmulatedEncoderCallbacks implements EncoderFilterCallbacks {
  readonly streamInfo: StreamInfo;

  constructor(
    private readonly manager: FilterManagerActions,
    private readonly s: StreamState,
  ) {
    this.streamInfo = s.info;
  }

  continueEncoding(): void {
    this.manager.continueEncoding(this.s);
  }

  encodingBuffer(): BodyBuffer | null {
    return this.s.responseBuffered;
  }

  addEncodedData(data: BodyBuffer): void {
    const s = this.s;
    if (s.responseBuffered !== data) (s.responseBuffered ??= new BodyBuffer()).append(data.drain());
  }

  responseHeaders(): HeaderMap | null {
    return this.s.responseHeaders;
  }

  responseTrailers(): HeaderMap | null {
    return this.s.responseTrailers;
  }

  addEncodedTrailers(): HeaderMap {
    return (this.s.responseTrailers ??= new HeaderMap());
  }

  sendLocalReply(reply: LocalReply): void {
    this.manager.sendLocalReply(this.s, reply);
  }

  resetStream(): void {
    this.s.reset = true;
  }
}
