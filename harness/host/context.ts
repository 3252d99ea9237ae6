/**
 * A Proxy-Wasm context: the VM context (id 0), a root context per plugin, or a stream
 * context per HTTP stream, after Envoy's `Extensions::Common::Wasm::Context`
 * (source/extensions/common/wasm/context.cc) on top of proxy-wasm-cpp-host
 * `ContextBase` (src/context.cc). A stream context is the `HttpFilter` the filter
 * manager drives, as Envoy's Context is its `Http::StreamFilter`.
 *
 * Behaviour kept from Envoy, with the source:
 * - `proxy_on_context_create` runs lazily at the first `decodeHeaders` (or at access-log
 *   time for streams the filter never saw) — cpp-host `ContextBase::onCreate`.
 * - End of stream: `proxy_on_log` when the stream completes (Envoy runs access loggers
 *   before destroying filters: http/conn_manager_impl.cc `doDeferredStreamDestroy`),
 *   then `proxy_on_done` and `proxy_on_delete` at `onDestroy` (context.cc).
 * - Header maps are reachable only while Envoy holds them: request headers during
 *   `proxy_on_request_headers` and until the request continues, etc. (context.cc
 *   `decodeHeaders` clears the pointer when the filter returns Continue). Outside that
 *   the calls answer `BAD_ARGUMENT`, `proxy_on_log` reads them as they were logged.
 * - Changing request headers clears the route cache (context.cc `addHeaderMapValue`...).
 * - `StopIteration` from a headers callback becomes `StopAllIterationAndWatermark`
 *   (cpp-host `convertVmCallResultToFilterHeadersStatus`, ABI 0.2.x default) unless the
 *   plugin sets `allow_on_headers_stop_iteration`.
 * - A local reply, continue or close asked for inside a callback runs after the callback
 *   returns (context.cc `sendLocalResponse` / `continueStream` defer them).
 * - If the VM has failed (a trap), a stream it serves is answered 503 `wasm_fail_stream`,
 *   or let through with the legacy `fail_open`: cpp-host `CHECK_FAIL`, context.cc
 *   `failStream`.
 */
import type { BodyBuffer } from './body-buffer.ts';
import {
  type DecoderFilterCallbacks,
  type EncoderFilterCallbacks,
  FilterDataStatus,
  FilterHeadersStatus,
  FilterTrailersStatus,
  type HttpFilter,
  type StreamInfo,
} from './filter.ts';
import { HeaderMap, type HeaderPair } from './header-map.ts';
import { AbiVersion, BufferType, GrpcStatus, LogLevel, MAX_STREAM_TYPE, MapType, StreamType, WasmResult } from './abi.ts';
import { readProperty } from './properties.ts';
import type { CallHandle, GrpcStreamHandle, HttpCallResponse, LogSource } from './services.ts';
import type { VmContext, Wasm } from './wasm.ts';

/** What a context knows of its plugin (Envoy `Plugin` / cpp-host `PluginBase`). */
export interface PluginInfo {
  readonly name: string;
  readonly rootId: string;
  readonly vmId: string;
  readonly configuration: Uint8Array;
  /** cpp-host `PluginBase::key`: root contexts are shared by plugins with the same key. */
  readonly key: string;
  /**
   * The legacy `fail_open` flag, the only one Envoy hands cpp-host (`plugin_->fail_open_`): a
   * failed VM lets the streams it serves through; else they get 503 (`failure_policy` FAIL_OPEN
   * only leaves the filter out of later streams: plugin.ts).
   */
  readonly failOpen: boolean;
  /** Envoy `allow_on_headers_stop_iteration` (cpp-host `allow_on_headers_stop_iteration_`). */
  readonly allowOnHeadersStopIteration?: boolean;
  readonly logSource: LogSource;
  /** Error-level lines the plugin logged during `proxy_on_configure`, for the load error. */
  configureErrors?: string[];
}

const EMPTY = new Uint8Array(0);

/** Names Envoy's header maps keep inline in both request and response headers (`INLINE_REQ_RESP_HEADERS`). */
const INLINE_REQUEST_AND_RESPONSE = [
  'connection', 'content-type', 'x-envoy-decorator-operation', 'keep-alive', 'proxy-connection', 'proxy-status',
  'x-request-id', 'transfer-encoding', 'upgrade', 'via', 'content-length', 'x-envoy-attempt-count',
];

/**
 * The O(1) ("inline") headers of each header map type, where a second `addCopy` of a name
 * joins the first entry with `,` instead of adding an entry: Envoy envoy/http/header_map.h
 * `INLINE_REQ_HEADERS`, `INLINE_RESP_HEADERS`, `INLINE_REQ_RESP_HEADERS`,
 * `INLINE_RESP_HEADERS_TRAILERS`, plus the `CustomInlineHeaderRegistry` registrations of
 * the Envoy 1.40 build (authorization, accept, cache-control, ..., as it answers them:
 * test/host/envoy-agreement.test.ts). `cookie` and `set-cookie` are not inline.
 */
const INLINE_HEADERS: Partial<Record<MapType, ReadonlySet<string>>> = {
  [MapType.HttpRequestHeaders]: new Set([
    ...INLINE_REQUEST_AND_RESPONSE,
    ':authority', ':method', ':path', ':protocol', ':scheme', 'host', 'te', 'user-agent', 'expect', 'grpc-timeout',
    'x-client-trace-id', 'x-envoy-downstream-service-cluster', 'x-envoy-downstream-service-node', 'x-envoy-external-address',
    'x-envoy-force-trace', 'x-envoy-hedge-on-per-try-timeout', 'x-envoy-internal', 'x-envoy-ip-tags', 'x-envoy-retry-on',
    'x-envoy-retry-grpc-on', 'x-envoy-retriable-status-codes', 'x-envoy-retriable-header-names', 'x-envoy-is-timeout-retry',
    'x-envoy-original-path', 'x-envoy-original-url', 'x-envoy-upstream-alt-stat-name', 'x-envoy-upstream-rq-timeout-alt-response',
    'x-envoy-expected-rq-timeout-ms', 'x-envoy-max-retries', 'x-envoy-upstream-rq-timeout-ms', 'x-envoy-upstream-rq-per-try-timeout-ms',
    'x-envoy-upstream-stream-duration-ms', 'x-forwarded-client-cert', 'x-forwarded-for', 'x-forwarded-host', 'x-forwarded-proto',
    'x-forwarded-port',
    // registered by extensions
    'authorization', 'accept', 'accept-encoding', 'cache-control', 'origin', 'referer', 'content-encoding', 'if-match',
    'if-none-match', 'if-modified-since', 'pragma', 'grpc-accept-encoding', 'access-control-request-method',
    'access-control-request-headers',
  ]),
  [MapType.HttpResponseHeaders]: new Set([
    ...INLINE_REQUEST_AND_RESPONSE,
    ':status', 'date', 'location', 'server', 'x-envoy-degraded', 'x-envoy-immediate-health-check-fail', 'x-envoy-ratelimited',
    'x-envoy-upstream-canary', 'x-envoy-upstream-healthchecked-cluster', 'x-envoy-upstream-service-time', 'grpc-status', 'grpc-message',
    // registered by extensions
    'cache-control', 'content-encoding', 'etag', 'last-modified', 'vary', 'age', 'expires',
  ]),
  [MapType.HttpResponseTrailers]: new Set(['grpc-status', 'grpc-message']),
};

/**
 * Envoy `HeaderMapImpl::addCopy` on a map of `type`: a header the map keeps inline
 * (`INLINE_HEADERS`) that is already there gets `value` appended to its entry after a `,`;
 * any other header is a new entry. Also how Envoy adds a local reply's plugin headers.
 */
export function addHeaderCopy(map: HeaderMap, type: MapType, key: string, value: string): void {
  const name = key.toLowerCase();
  const existing = INLINE_HEADERS[type]?.has(name) ? map.get(name) : undefined;
  if (existing === undefined) map.add(name, value);
  else {
    const pairs = map.entries();
    pairs.find(([k]) => k === name)![1] = `${existing},${value}`;
    map.replaceAll(pairs);
  }
}

const FAIL_STREAM_DETAILS = 'wasm_fail_stream';
const CLOSE_STREAM_DETAILS = 'wasm_close_stream';

/** The response of an HTTP call while `proxy_on_http_call_response` runs. */
interface CallResponse {
  headers: HeaderMap;
  body: Uint8Array;
  trailers: HeaderMap;
}

export class Context implements HttpFilter, VmContext {
  readonly wasm: Wasm<Context>;
  readonly id: number;
  /** Root context id for stream contexts, 0 for root contexts and the VM context. */
  readonly rootContextId: number;
  readonly plugin: PluginInfo | null;
  readonly root: Context;
  private inVmContextCreated = false;

  // Root context state.
  /** Plugin configuration while `proxy_on_configure` runs (cpp-host `temp_plugin_`). */
  private configuring: Uint8Array | null = null;
  statusCode = 0;
  statusMessage = '';
  private httpCallResponse: CallResponse | null = null;
  // Callouts belong to root contexts: their maps are made on first use, so that the
  // thousands of stream contexts a busy host holds carry none.
  private httpCallsMap: Map<number, CallHandle | true> | null = null;
  private grpcReceiveBuffer: Uint8Array | null = null;
  private grpcInitialMetadata: HeaderMap | null = null;
  private grpcTrailingMetadata: HeaderMap | null = null;
  private grpcCallsMap: Map<number, CallHandle | true> | null = null;
  private grpcStreamsMap: Map<number, { handle: GrpcStreamHandle; localClosed: boolean; remoteClosed: boolean }> | null = null;
  private foreignArgs: Uint8Array | null = null;
  /** A root context whose `proxy_on_done` returned false waits for `proxy_done`. */
  private pendingDone = false;

  // Stream context state.
  decoder: DecoderFilterCallbacks | null = null;
  encoder: EncoderFilterCallbacks | null = null;
  streamInfo: StreamInfo | null;
  private requestHeaders: HeaderMap | null = null;
  private requestTrailers: HeaderMap | null = null;
  private responseHeaders: HeaderMap | null = null;
  private responseTrailers: HeaderMap | null = null;
  private requestBody: BodyBuffer | null = null;
  private responseBody: BodyBuffer | null = null;
  private bufferingRequestBody = false;
  private bufferingResponseBody = false;
  private endOfStream = false;
  accessLogPhase = false;
  private destroyed = false;
  private streamFailed = false;
  private failureLocalReplySent = false;
  /** `proxy_set_property` values (Envoy filter state `wasm.<path>`). */
  filterState: Map<string, Uint8Array> | null = null;

  /**
   * `rootContext` null makes a root context (or the VM context when `plugin` is null
   * too); otherwise a stream context of that root.
   */
  constructor(wasm: Wasm<Context>, plugin: PluginInfo | null, rootContext: Context | null, streamInfo: StreamInfo | null = null) {
    this.wasm = wasm;
    this.plugin = plugin;
    this.id = plugin === null && rootContext === null ? 0 : wasm.allocContextId();
    this.root = rootContext ?? this;
    this.rootContextId = rootContext ? rootContext.id : 0;
    this.streamInfo = streamInfo;
    wasm.contexts.set(this.id, this);
  }

  private get httpCalls(): Map<number, CallHandle | true> {
    return (this.httpCallsMap ??= new Map());
  }

  private get grpcCalls(): Map<number, CallHandle | true> {
    return (this.grpcCallsMap ??= new Map());
  }

  private get grpcStreams(): Map<number, { handle: GrpcStreamHandle; localClosed: boolean; remoteClosed: boolean }> {
    return (this.grpcStreamsMap ??= new Map());
  }

  get isRoot(): boolean {
    return this.root === this;
  }

  get failed(): boolean {
    return this.wasm.failed;
  }

  // --- lifecycle: root ---------------------------------------------------------

  /** `proxy_on_context_create(id, 0)` then `proxy_on_vm_start` (cpp-host `ContextBase::onStart`). */
  onStart(): boolean {
    const w = this.wasm;
    const f = w.fns;
    let result = true;
    if (f.proxy_on_context_create) {
      w.call2(this, 'proxy_on_context_create', f.proxy_on_context_create, this.id, 0);
      this.inVmContextCreated = true;
    }
    if (f.proxy_on_vm_start && !w.failed) {
      result = w.call2(this, 'proxy_on_vm_start', f.proxy_on_vm_start, this.id, w.vmConfiguration.length) !== 0;
    }
    w.afterVmCall();
    return result && !w.failed;
  }

  /** `proxy_on_configure` with the plugin configuration (cpp-host `ContextBase::onConfigure`). */
  onConfigure(configuration: Uint8Array): boolean {
    const w = this.wasm;
    if (w.failed) return true;
    const f = w.fns;
    if (!this.inVmContextCreated && f.proxy_on_context_create) {
      w.call2(this, 'proxy_on_context_create', f.proxy_on_context_create, this.id, 0);
      w.afterVmCall();
    }
    this.inVmContextCreated = true;
    if (!f.proxy_on_configure || w.failed) return true;
    this.configuring = configuration;
    const result = w.call2(this, 'proxy_on_configure', f.proxy_on_configure, this.id, configuration.length) !== 0;
    this.configuring = null;
    w.afterVmCall();
    return result;
  }

  onTick(): void {
    const w = this.wasm;
    if (w.failed || !w.fns.proxy_on_tick) return;
    w.call1(this, 'proxy_on_tick', w.fns.proxy_on_tick, this.id);
    w.afterVmCall();
  }

  onQueueReady(token: number): void {
    const w = this.wasm;
    if (w.failed || !w.fns.proxy_on_queue_ready) return;
    w.call2(this, 'proxy_on_queue_ready', w.fns.proxy_on_queue_ready, this.id, token);
    w.afterVmCall();
  }

  /** `proxy_on_foreign_function` with arguments readable as FOREIGN_FUNCTION_ARGUMENTS. */
  onForeignFunction(functionId: number, args: Uint8Array): void {
    const w = this.wasm;
    if (w.failed || !w.fns.proxy_on_foreign_function) return;
    this.foreignArgs = args;
    w.call3(this, 'proxy_on_foreign_function', w.fns.proxy_on_foreign_function, this.id, functionId, args.length);
    this.foreignArgs = null;
    w.afterVmCall();
  }

  /** `proxy_on_done`, true when the context may be deleted now. */
  onDone(): boolean {
    const w = this.wasm;
    if (w.failed || !w.fns.proxy_on_done) return true;
    const result = w.call1(this, 'proxy_on_done', w.fns.proxy_on_done, this.id) !== 0;
    w.afterVmCall();
    return result;
  }

  onLog(): void {
    const w = this.wasm;
    if (w.failed || !w.fns.proxy_on_log) return;
    w.call1(this, 'proxy_on_log', w.fns.proxy_on_log, this.id);
    w.afterVmCall();
  }

  onDelete(): void {
    const w = this.wasm;
    if (this.inVmContextCreated && !w.failed && w.fns.proxy_on_delete) {
      w.call1(this, 'proxy_on_delete', w.fns.proxy_on_delete, this.id);
      w.afterVmCall();
    }
  }

  /**
   * Ends a root context (cpp-host `WasmBase::startShutdown`): `proxy_on_done`, and
   * `proxy_on_delete` now or after the plugin calls `proxy_done`.
   */
  shutdown(): void {
    this.cancelCallouts();
    if (this.onDone()) this.release();
    else this.pendingDone = true;
  }

  /** `proxy_done` (cpp-host `WasmBase::done`): finish a root context that `proxy_on_done` kept. */
  done(): WasmResult {
    const root = this.root;
    if (!root.pendingDone) return WasmResult.NotFound;
    root.pendingDone = false;
    // Deferred so that proxy_on_delete does not run inside the caller's callback.
    this.wasm.addAfterVmCallAction(() => root.release());
    return WasmResult.Ok;
  }

  private release(): void {
    this.onDelete();
    this.wasm.contexts.delete(this.id);
    this.onReleased?.();
  }

  /** Called once a root context is deleted (its plugin then lets the VM go). */
  onReleased: (() => void) | undefined;

  /** True while a closed root context waits for the plugin's `proxy_done`. */
  get awaitingDone(): boolean {
    return this.pendingDone;
  }

  // --- lifecycle: stream (HttpFilter) -----------------------------------------

  setDecoderFilterCallbacks(callbacks: DecoderFilterCallbacks): void {
    this.decoder = callbacks;
    this.streamInfo ??= callbacks.streamInfo;
  }

  setEncoderFilterCallbacks(callbacks: EncoderFilterCallbacks): void {
    this.encoder = callbacks;
    this.streamInfo ??= callbacks.streamInfo;
  }

  /** cpp-host `ContextBase::onCreate`: `proxy_on_context_create(id, root id)` once. */
  private onCreate(): void {
    const w = this.wasm;
    if (!w.failed && !this.inVmContextCreated && w.fns.proxy_on_context_create) {
      w.call2(this, 'proxy_on_context_create', w.fns.proxy_on_context_create, this.id, this.rootContextId);
      w.afterVmCall();
    }
    this.inVmContextCreated = true;
  }

  decodeHeaders(headers: HeaderMap, endStream: boolean): FilterHeadersStatus {
    this.onCreate();
    this.requestHeaders = headers;
    this.endOfStream = endStream;
    const result = this.onRequestHeaders(headers.size, endStream);
    if (result === FilterHeadersStatus.Continue) this.requestHeaders = null;
    return result;
  }

  decodeData(data: BodyBuffer, endStream: boolean): FilterDataStatus {
    if (!this.inVmContextCreated) return FilterDataStatus.Continue;
    if (this.bufferingRequestBody && this.decoder) {
      // context.cc decodeData: the chunk joins the buffered body under the buffer limit
      // (`addDecodedData(data, false)`: 413 past it).
      this.decoder.addDecodedData(data, false);
      if (this.destroyed) return FilterDataStatus.StopIterationAndBuffer;
    }
    this.requestBody = data;
    this.endOfStream = endStream;
    const size = this.getBuffer(BufferType.HttpRequestBody)?.length ?? 0;
    const result = this.onBody(true, size, endStream);
    this.bufferingRequestBody = false;
    if (result === FilterDataStatus.Continue) this.requestBody = null;
    else if (result === FilterDataStatus.StopIterationAndBuffer) this.bufferingRequestBody = true;
    return result;
  }

  decodeTrailers(trailers: HeaderMap): FilterTrailersStatus {
    if (!this.inVmContextCreated) return FilterTrailersStatus.Continue;
    this.requestTrailers = trailers;
    const result = this.onTrailers(true, trailers.size);
    if (result === FilterTrailersStatus.Continue) this.requestTrailers = null;
    return result;
  }

  encodeHeaders(headers: HeaderMap, endStream: boolean): FilterHeadersStatus {
    if (!this.inVmContextCreated || this.failureLocalReplySent) return FilterHeadersStatus.Continue;
    this.responseHeaders = headers;
    this.endOfStream = endStream;
    const result = this.onResponseHeaders(headers.size, endStream);
    if (result === FilterHeadersStatus.Continue) this.responseHeaders = null;
    return result;
  }

  encodeData(data: BodyBuffer, endStream: boolean): FilterDataStatus {
    if (!this.inVmContextCreated || this.failureLocalReplySent) return FilterDataStatus.Continue;
    if (this.bufferingResponseBody && this.encoder) {
      this.encoder.addEncodedData(data, false);
      if (this.destroyed) return FilterDataStatus.StopIterationAndBuffer;
    }
    this.responseBody = data;
    this.endOfStream = endStream;
    const size = this.getBuffer(BufferType.HttpResponseBody)?.length ?? 0;
    const result = this.onBody(false, size, endStream);
    this.bufferingResponseBody = false;
    if (result === FilterDataStatus.Continue) this.responseBody = null;
    else if (result === FilterDataStatus.StopIterationAndBuffer) this.bufferingResponseBody = true;
    return result;
  }

  encodeTrailers(trailers: HeaderMap): FilterTrailersStatus {
    if (!this.inVmContextCreated || this.failureLocalReplySent) return FilterTrailersStatus.Continue;
    this.responseTrailers = trailers;
    const result = this.onTrailers(false, trailers.size);
    if (result === FilterTrailersStatus.Continue) this.responseTrailers = null;
    return result;
  }

  /** Access-log time (Envoy `Context::log`): `proxy_on_log` with the logged headers readable. */
  onStreamComplete(): void {
    if (!this.inVmContextCreated) this.onCreate();
    this.accessLogPhase = true;
    this.onLog();
    this.accessLogPhase = false;
  }

  /** Envoy `Context::onDestroy`: `proxy_on_done` then `proxy_on_delete`. */
  onDestroy(): void {
    if (!this.destroyed) {
      this.destroyed = true;
      if (this.inVmContextCreated) {
        this.onDone();
        this.onDelete();
      }
    }
    this.wasm.contexts.delete(this.id);
    this.decoder = null;
    this.encoder = null;
  }

  // --- calls into the module for streams ---------------------------------------

  /** cpp-host `CHECK_FAIL_HTTP`: fail open lets the stream go, fail closed answers 503 once. */
  private checkFail(): boolean {
    if (!this.wasm.failed) return false;
    if (!this.plugin?.failOpen && !this.streamFailed) {
      this.failStream(StreamType.HttpRequest);
      this.failStream(StreamType.HttpResponse);
      this.streamFailed = true;
    }
    return true;
  }

  private onRequestHeaders(headers: number, endOfStream: boolean): FilterHeadersStatus {
    return this.onHeaders(true, headers, endOfStream);
  }

  private onResponseHeaders(headers: number, endOfStream: boolean): FilterHeadersStatus {
    return this.onHeaders(false, headers, endOfStream);
  }

  private onHeaders(request: boolean, headers: number, endOfStream: boolean): FilterHeadersStatus {
    const w = this.wasm;
    if (this.checkFail()) {
      return this.plugin?.failOpen ? FilterHeadersStatus.Continue : FilterHeadersStatus.StopAllIterationAndWatermark;
    }
    const fn = request ? w.fns.proxy_on_request_headers : w.fns.proxy_on_response_headers;
    if (!fn) return FilterHeadersStatus.Continue;
    const name = request ? 'proxy_on_request_headers' : 'proxy_on_response_headers';
    const result =
      w.abiVersion === AbiVersion.V0_1_0
        ? w.call2(this, name, fn, this.id, headers)
        : w.call3(this, name, fn, this.id, headers, endOfStream ? 1 : 0);
    let status: FilterHeadersStatus;
    if (this.checkFail()) {
      status = this.plugin?.failOpen ? FilterHeadersStatus.Continue : FilterHeadersStatus.StopAllIterationAndWatermark;
    } else if (w.stopIteration || result > FilterHeadersStatus.StopAllIterationAndWatermark) {
      status = FilterHeadersStatus.StopAllIterationAndWatermark;
    } else if (result === FilterHeadersStatus.StopIteration && !this.root.plugin?.allowOnHeadersStopIteration) {
      // cpp-host convertVmCallResultToFilterHeadersStatus: pausing headers alone breaks
      // body processing assumptions, so it stops everything unless the plugin opted in.
      status = FilterHeadersStatus.StopAllIterationAndWatermark;
    } else if (result === FilterHeadersStatus.ContinueAndEndStream) {
      // Envoy context.cc `convertFilterHeadersStatus` has no case for it: Continue.
      status = FilterHeadersStatus.Continue;
    } else {
      status = result;
    }
    w.afterVmCall();
    return status;
  }

  private onBody(request: boolean, size: number, endOfStream: boolean): FilterDataStatus {
    const w = this.wasm;
    if (this.checkFail()) {
      return this.plugin?.failOpen ? FilterDataStatus.Continue : FilterDataStatus.StopIterationNoBuffer;
    }
    const fn = request ? w.fns.proxy_on_request_body : w.fns.proxy_on_response_body;
    if (!fn) return FilterDataStatus.Continue;
    const name = request ? 'proxy_on_request_body' : 'proxy_on_response_body';
    const result = w.call3(this, name, fn, this.id, size, endOfStream ? 1 : 0);
    let status: FilterDataStatus;
    if (this.checkFail()) {
      status = this.plugin?.failOpen ? FilterDataStatus.Continue : FilterDataStatus.StopIterationNoBuffer;
    } else if (w.stopIteration || result > FilterDataStatus.StopIterationNoBuffer) {
      status = FilterDataStatus.StopIterationNoBuffer;
    } else {
      status = result;
    }
    w.afterVmCall();
    return status;
  }

  private onTrailers(request: boolean, trailers: number): FilterTrailersStatus {
    const w = this.wasm;
    if (this.checkFail()) {
      return this.plugin?.failOpen ? FilterTrailersStatus.Continue : FilterTrailersStatus.StopIteration;
    }
    const fn = request ? w.fns.proxy_on_request_trailers : w.fns.proxy_on_response_trailers;
    if (!fn) return FilterTrailersStatus.Continue;
    const name = request ? 'proxy_on_request_trailers' : 'proxy_on_response_trailers';
    const result = w.call2(this, name, fn, this.id, trailers);
    let status: FilterTrailersStatus;
    if (this.checkFail()) {
      status = this.plugin?.failOpen ? FilterTrailersStatus.Continue : FilterTrailersStatus.StopIteration;
    } else if (w.stopIteration || result > FilterTrailersStatus.StopIteration) {
      status = FilterTrailersStatus.StopIteration;
    } else {
      status = result;
    }
    w.afterVmCall();
    return status;
  }

  /** Envoy `Context::failStream`: 503 with details `wasm_fail_stream`, gRPC UNAVAILABLE. */
  private failStream(type: StreamType): void {
    const callbacks = type === StreamType.HttpRequest ? this.decoder : type === StreamType.HttpResponse ? this.encoder : null;
    if (!callbacks || this.failureLocalReplySent) return;
    this.failureLocalReplySent = true;
    callbacks.sendLocalReply({ status: 503, body: '', details: FAIL_STREAM_DETAILS, grpcStatus: GrpcStatus.Unavailable });
  }

  // --- hostcall backends: logging, configuration -------------------------------

  log(level: LogLevel, message: string): WasmResult {
    const services = this.wasm.services;
    if (level >= services.logLevel()) {
      const source = this.plugin?.logSource ?? this.root.plugin?.logSource ?? { plugin: '', rootId: '', vmId: this.wasm.vmId };
      services.log(level, message, source);
    }
    if (level >= LogLevel.Error && this.root.configuring !== null) {
      const plugin = this.root.plugin;
      if (plugin) (plugin.configureErrors ??= []).push(message);
    }
    return WasmResult.Ok;
  }

  /** ABI 0.1.0 `proxy_get_configuration` (Envoy `Context::getConfiguration`). */
  getConfiguration(): Uint8Array {
    return this.configuring ?? this.wasm.vmConfiguration;
  }

  // --- hostcall backends: header maps -----------------------------------------

  /** Envoy `Context::getMap`: the map a hostcall may modify now, or null. */
  private getMap(type: MapType): HeaderMap | null {
    switch (type) {
      case MapType.HttpRequestHeaders:
        return this.requestHeaders;
      case MapType.HttpRequestTrailers:
        // Trailers may be added during the last body callback of a stream without them.
        if (this.requestTrailers === null && this.requestBody !== null && this.endOfStream && this.decoder) {
          this.requestTrailers = this.decoder.addDecodedTrailers();
        }
        return this.requestTrailers;
      case MapType.HttpResponseHeaders:
        return this.responseHeaders;
      case MapType.HttpResponseTrailers:
        if (this.responseTrailers === null && this.responseBody !== null && this.endOfStream && this.encoder) {
          this.responseTrailers = this.encoder.addEncodedTrailers();
        }
        return this.responseTrailers;
      default:
        return null;
    }
  }

  /** Envoy `Context::getConstMap`: the map a hostcall may read now, or null. */
  getConstMap(type: MapType): HeaderMap | null {
    switch (type) {
      case MapType.HttpRequestHeaders:
        return this.accessLogPhase ? (this.decoder?.requestHeaders() ?? null) : this.requestHeaders;
      case MapType.HttpRequestTrailers:
        return this.accessLogPhase ? null : this.requestTrailers;
      case MapType.HttpResponseHeaders:
        return this.accessLogPhase ? (this.encoder?.responseHeaders() ?? null) : this.responseHeaders;
      case MapType.HttpResponseTrailers:
        return this.accessLogPhase ? (this.encoder?.responseTrailers() ?? null) : this.responseTrailers;
      case MapType.GrpcCallInitialMetadata:
        return this.root.grpcInitialMetadata;
      case MapType.GrpcCallTrailingMetadata:
        return this.root.grpcTrailingMetadata;
      case MapType.HttpCallResponseHeaders:
        return this.root.httpCallResponse?.headers ?? null;
      case MapType.HttpCallResponseTrailers:
        return this.root.httpCallResponse?.trailers ?? null;
      default:
        return null;
    }
  }

  /** Value of `key`, or `BAD_ARGUMENT` (map not available) / `NOT_FOUND`. */
  getHeaderMapValue(type: MapType, key: string): string | WasmResult {
    const map = this.getConstMap(type);
    if (map === null) {
      if (this.accessLogPhase) return this.wasm.abiVersion === AbiVersion.V0_1_0 ? '' : WasmResult.NotFound;
      return WasmResult.BadArgument;
    }
    const value = map.get(key);
    if (value === undefined) return this.wasm.abiVersion === AbiVersion.V0_1_0 ? '' : WasmResult.NotFound;
    return value;
  }

  /**
   * Envoy `addHeaderMapValue` → `HeaderMapImpl::addCopy`: a header the map keeps inline
   * (O(1) headers, `INLINE_HEADERS`) that is already there gets the value appended to its
   * first entry after a `,`; any other header is a new entry.
   */
  addHeaderMapValue(type: MapType, key: string, value: string): WasmResult {
    const map = this.getMap(type);
    if (map === null) return WasmResult.BadArgument;
    addHeaderCopy(map, type, key, value);
    this.onHeadersModified(type);
    return WasmResult.Ok;
  }

  /** Envoy `replaceHeaderMapValue` → `HeaderMapImpl::setCopy`: every entry removed, one added at the end. */
  replaceHeaderMapValue(type: MapType, key: string, value: string): WasmResult {
    const map = this.getMap(type);
    if (map === null) return WasmResult.BadArgument;
    map.remove(key);
    map.add(key, value);
    this.onHeadersModified(type);
    return WasmResult.Ok;
  }

  removeHeaderMapValue(type: MapType, key: string): WasmResult {
    const map = this.getMap(type);
    if (map === null) return WasmResult.BadArgument;
    map.remove(key);
    this.onHeadersModified(type);
    return WasmResult.Ok;
  }

  setHeaderMapPairs(type: MapType, pairs: HeaderPair[]): WasmResult {
    const map = this.getMap(type);
    if (map === null) return WasmResult.BadArgument;
    map.replaceAll(pairs);
    this.onHeadersModified(type);
    return WasmResult.Ok;
  }

  /** Envoy `getHeaderMapSize`: the map's byte size (keys + values), or -1 (`BAD_ARGUMENT`). */
  getHeaderMapSize(type: MapType): number {
    const map = this.getMap(type);
    return map === null ? -1 : map.byteSize();
  }

  /** Any change to request headers may change the route (Envoy clears the route cache). */
  private onHeadersModified(type: MapType): void {
    if (type === MapType.HttpRequestHeaders && this.decoder) this.decoder.clearRouteCache();
  }

  clearRouteCache(): void {
    this.decoder?.clearRouteCache();
  }

  requestHeadersForProperties(): HeaderMap | null {
    return this.requestHeaders ?? (this.accessLogPhase ? (this.decoder?.requestHeaders() ?? null) : null);
  }

  responseHeadersForProperties(): HeaderMap | null {
    return this.responseHeaders ?? (this.accessLogPhase ? (this.encoder?.responseHeaders() ?? null) : null);
  }

  responseTrailersForProperties(): HeaderMap | null {
    return this.responseTrailers ?? (this.accessLogPhase ? (this.encoder?.responseTrailers() ?? null) : null);
  }

  // --- hostcall backends: buffers ---------------------------------------------

  /**
   * Envoy `Context::getBuffer`: the body buffered so far while the filter buffers, else
   * the current chunk (empty outside body callbacks); the configurations; the call
   * response. Null is `NOT_FOUND`.
   */
  getBuffer(type: BufferType): BodyBuffer | Uint8Array | null {
    switch (type) {
      case BufferType.HttpRequestBody:
        if (this.bufferingRequestBody && this.decoder) return this.decoder.decodingBuffer() ?? this.requestBody ?? EMPTY;
        return this.requestBody ?? EMPTY;
      case BufferType.HttpResponseBody:
        if (this.bufferingResponseBody && this.encoder) return this.encoder.encodingBuffer() ?? this.responseBody ?? EMPTY;
        return this.responseBody ?? EMPTY;
      case BufferType.DownstreamData:
      case BufferType.UpstreamData:
        return EMPTY;
      case BufferType.HttpCallResponseBody:
        return this.root.httpCallResponse?.body ?? null;
      case BufferType.GrpcCallMessage:
        return this.root.grpcReceiveBuffer ?? EMPTY;
      case BufferType.VmConfiguration:
        return this.wasm.vmConfiguration;
      case BufferType.PluginConfiguration:
        return this.root.configuring;
      case BufferType.ForeignFunctionArguments:
        return this.root.foreignArgs ?? EMPTY;
      default:
        return null;
    }
  }

  /**
   * Envoy `Buffer::copyFrom` for bodies: `start` 0 replaces the first `length` bytes
   * (prepends when `length` is 0), `start` at or past the end appends, anything else
   * is `BAD_ARGUMENT`; other buffers are read-only (`BAD_ARGUMENT`).
   */
  setBufferBytes(buffer: BodyBuffer | Uint8Array, start: number, length: number, data: Uint8Array): WasmResult {
    if (buffer instanceof Uint8Array) return WasmResult.BadArgument;
    if (start === 0) {
      buffer.replace(0, Math.min(length, buffer.length), Buffer.from(data));
      return WasmResult.Ok;
    }
    if (start >= buffer.length) {
      buffer.append(Buffer.from(data));
      return WasmResult.Ok;
    }
    return WasmResult.BadArgument;
  }

  // --- hostcall backends: stream control --------------------------------------

  /** Envoy `Context::continueStream` (deferred); clears the request state as Envoy does. */
  continueStream(type: StreamType): WasmResult {
    switch (type) {
      case StreamType.HttpRequest:
        if (this.decoder) {
          const decoder = this.decoder;
          this.wasm.addAfterVmCallAction(() => decoder.continueDecoding());
        }
        break;
      case StreamType.HttpResponse:
        if (this.encoder) {
          const encoder = this.encoder;
          this.wasm.addAfterVmCallAction(() => encoder.continueEncoding());
        }
        break;
      case StreamType.Downstream:
        return WasmResult.Ok;
      case StreamType.Upstream:
        return WasmResult.Unimplemented;
      default:
        return WasmResult.BadArgument;
    }
    this.requestHeaders = null;
    this.requestBody = null;
    this.requestTrailers = null;
    return WasmResult.Ok;
  }

  /** Envoy `Context::closeStream`: reset the stream after the call, details `wasm_close_stream`. */
  closeStream(type: StreamType): WasmResult {
    const callbacks = type === StreamType.HttpRequest ? this.decoder : type === StreamType.HttpResponse ? this.encoder : null;
    if (type > MAX_STREAM_TYPE) return WasmResult.BadArgument;
    if (callbacks) {
      callbacks.streamInfo.responseCodeDetails ??= CLOSE_STREAM_DETAILS;
      this.wasm.addAfterVmCallAction(() => callbacks.resetStream());
    }
    return WasmResult.Ok;
  }

  /**
   * Envoy `Context::sendLocalResponse`: deferred `sendLocalReply` on the decoder side;
   * a gRPC status outside 0..16 means "none" (SDKs pass -1).
   */
  sendLocalResponse(status: number, body: Uint8Array, headers: HeaderPair[], grpcStatus: number, details: string): void {
    const decoder = this.decoder;
    if (!decoder) return;
    const grpc = grpcStatus >= GrpcStatus.Ok && grpcStatus <= GrpcStatus.Unauthenticated ? grpcStatus : undefined;
    const replyDetails = details.replace(/\s/g, '_');
    this.wasm.addAfterVmCallAction(() =>
      decoder.sendLocalReply({ status, body, headers, grpcStatus: grpc, details: replyDetails }),
    );
  }

  // --- hostcall backends: properties ------------------------------------------

  /** `proxy_get_property` (Envoy `Context::getProperty`): properties.ts. */
  getProperty(path: string): Uint8Array | WasmResult {
    return readProperty(this, path);
  }

  /** Envoy `Context::setProperty`: stream filter state; `NOT_FOUND` without a stream. */
  setProperty(path: string, value: Uint8Array): WasmResult {
    if (!this.streamInfo || this.isRoot) return WasmResult.NotFound;
    (this.filterState ??= new Map()).set(path, value);
    return WasmResult.Ok;
  }

  // --- hostcall backends: HTTP calls (root context) ----------------------------

  /**
   * Envoy `Context::httpCall`: returns the token, or minus the status: `BAD_ARGUMENT` for
   * a negative timeout, an unknown cluster (no token taken) or missing
   * `:path`/`:method`/`:authority`; `INTERNAL_FAILURE` when the call is over before the
   * hostcall returns (the async client's `send` gives no request: a cluster without
   * hosts), and then `proxy_on_http_call_response` never runs for it.
   */
  httpCall(cluster: string, headers: HeaderPair[], body: Uint8Array, trailers: HeaderPair[], timeoutMs: number): number {
    if (timeoutMs < 0) return -WasmResult.BadArgument;
    let hasPath = false;
    let hasMethod = false;
    let hasAuthority = false;
    const request: HeaderPair[] = [];
    for (const [k, v] of headers) {
      const name = k.toLowerCase();
      if (name === ':path') hasPath = true;
      else if (name === ':method') hasMethod = true;
      else if (name === ':authority') hasAuthority = true;
      request.push([name, v]);
    }
    if (!hasPath || !hasMethod || !hasAuthority) return -WasmResult.BadArgument;
    if (body.length > 0) request.push(['content-length', String(body.length)]);
    const token = this.wasm.httpCallId();
    this.httpCalls.set(token, true);
    let sending = true;
    let inline = false;
    const handle = this.wasm.services.httpCall(cluster, request, body, trailers, timeoutMs, (response) => {
      if (sending) inline = true;
      else if (response) this.onHttpCallSuccess(token, response);
      else this.onHttpCallFailure(token);
    });
    sending = false;
    if (handle === false) {
      this.httpCalls.delete(token);
      this.wasm.returnHttpCallId(token);
      return -WasmResult.BadArgument;
    }
    if (inline) {
      this.httpCalls.delete(token);
      return -WasmResult.InternalFailure;
    }
    if (handle !== true) this.httpCalls.set(token, handle);
    return token;
  }

  private onHttpCallSuccess(token: number, response: HttpCallResponse): void {
    const w = this.wasm;
    if (w.current !== null) {
      w.addAfterVmCallAction(() => this.onHttpCallSuccess(token, response));
      return;
    }
    if (!this.httpCalls.delete(token)) return;
    this.httpCallResponse = {
      headers: new HeaderMap(response.headers),
      body: response.body,
      trailers: new HeaderMap(response.trailers),
    };
    w.addAfterVmCallAction(() => {
      this.httpCallResponse = null;
    });
    const r = this.httpCallResponse;
    this.onHttpCallResponse(token, r.headers.size, r.body.length, r.trailers.size);
  }

  private onHttpCallFailure(token: number): void {
    const w = this.wasm;
    if (w.current !== null) {
      w.addAfterVmCallAction(() => this.onHttpCallFailure(token));
      return;
    }
    if (!this.httpCalls.delete(token)) return;
    this.statusCode = WasmResult.BrokenConnection;
    this.statusMessage = 'reset';
    w.addAfterVmCallAction(() => {
      this.statusMessage = '';
    });
    this.onHttpCallResponse(token, 0, 0, 0);
  }

  private onHttpCallResponse(token: number, headers: number, body: number, trailers: number): void {
    const w = this.wasm;
    const fn = w.fns.proxy_on_http_call_response;
    if (!w.failed && fn) w.call5(this, 'proxy_on_http_call_response', fn, this.id, token, headers, body, trailers);
    w.afterVmCall();
  }

  /** HTTP calls still waiting for their response (emulator, tests). */
  get pendingHttpCalls(): number {
    return this.httpCalls.size;
  }

  // --- hostcall backends: gRPC (root context) ----------------------------------

  /** Envoy `Context::grpcCall`: token, or minus `PARSE_FAILURE` for an unknown cluster. */
  grpcCall(cluster: string, service: string, method: string, metadata: HeaderPair[], message: Uint8Array, timeoutMs: number): number {
    const w = this.wasm;
    const token = w.grpcCallId();
    this.grpcCalls.set(token, true);
    const handle = w.services.grpcCall(
      { cluster, service, method, initialMetadata: metadata, message, timeoutMs },
      {
        onSuccess: (response) => this.onGrpcReceive(token, response),
        onFailure: (status, text) => this.onGrpcClose(token, status, text),
      },
    );
    if (handle === false) {
      this.grpcCalls.delete(token);
      return -WasmResult.ParseFailure;
    }
    if (this.grpcCalls.has(token)) this.grpcCalls.set(token, handle);
    return token;
  }

  grpcStream(cluster: string, service: string, method: string, metadata: HeaderPair[]): number {
    const w = this.wasm;
    const token = w.grpcStreamId();
    const handle = w.services.grpcStream(
      { cluster, service, method, initialMetadata: metadata },
      {
        onInitialMetadata: (pairs) => this.onGrpcMetadata(token, pairs, true),
        onMessage: (message) => this.onGrpcReceive(token, message),
        onTrailingMetadata: (pairs) => this.onGrpcMetadata(token, pairs, false),
        onClose: (status, text) => {
          const s = this.grpcStreams.get(token);
          if (s) s.remoteClosed = true;
          this.onGrpcClose(token, status, text);
        },
      },
    );
    if (handle === false) return -WasmResult.ParseFailure;
    this.grpcStreams.set(token, { handle, localClosed: false, remoteClosed: false });
    return token;
  }

  grpcSend(token: number, message: Uint8Array, endStream: boolean): WasmResult {
    if ((token & 3) !== 2) return WasmResult.BadArgument;
    const stream = this.grpcStreams.get(token);
    if (!stream) return WasmResult.NotFound;
    stream.handle.send(message, endStream);
    return WasmResult.Ok;
  }

  grpcClose(token: number): WasmResult {
    if ((token & 3) === 1) {
      const call = this.grpcCalls.get(token);
      if (!call) return WasmResult.NotFound;
      if (call !== true) call.cancel();
      this.grpcCalls.delete(token);
      return WasmResult.Ok;
    }
    if ((token & 3) === 2) {
      const stream = this.grpcStreams.get(token);
      if (!stream) return WasmResult.NotFound;
      stream.handle.close();
      if (stream.remoteClosed) this.grpcStreams.delete(token);
      else stream.localClosed = true;
      return WasmResult.Ok;
    }
    return WasmResult.BadArgument;
  }

  grpcCancel(token: number): WasmResult {
    if ((token & 3) === 1) return this.grpcClose(token);
    if ((token & 3) === 2) {
      const stream = this.grpcStreams.get(token);
      if (!stream) return WasmResult.NotFound;
      stream.handle.cancel();
      this.grpcStreams.delete(token);
      return WasmResult.Ok;
    }
    return WasmResult.BadArgument;
  }

  private onGrpcMetadata(token: number, pairs: HeaderPair[], initial: boolean): void {
    const w = this.wasm;
    if (w.current !== null) {
      w.addAfterVmCallAction(() => this.onGrpcMetadata(token, pairs, initial));
      return;
    }
    const map = new HeaderMap(pairs);
    const fn = initial ? w.fns.proxy_on_grpc_receive_initial_metadata : w.fns.proxy_on_grpc_receive_trailing_metadata;
    if (initial) this.grpcInitialMetadata = map;
    else this.grpcTrailingMetadata = map;
    if (!w.failed && fn) {
      const name = initial ? 'proxy_on_grpc_receive_initial_metadata' : 'proxy_on_grpc_receive_trailing_metadata';
      w.call3(this, name, fn, this.id, token, map.size);
    }
    if (initial) this.grpcInitialMetadata = null;
    else this.grpcTrailingMetadata = null;
    w.afterVmCall();
  }

  private onGrpcReceive(token: number, message: Uint8Array): void {
    const w = this.wasm;
    if (w.current !== null) {
      w.addAfterVmCallAction(() => this.onGrpcReceive(token, message));
      return;
    }
    if ((token & 3) === 1) this.grpcCalls.delete(token);
    const fn = w.fns.proxy_on_grpc_receive;
    if (!w.failed && fn) {
      this.grpcReceiveBuffer = message;
      w.call3(this, 'proxy_on_grpc_receive', fn, this.id, token, message.length);
      this.grpcReceiveBuffer = null;
    }
    w.afterVmCall();
  }

  private onGrpcClose(token: number, status: number, message: string): void {
    const w = this.wasm;
    if (w.current !== null) {
      w.addAfterVmCallAction(() => this.onGrpcClose(token, status, message));
      return;
    }
    if ((token & 3) === 1) this.grpcCalls.delete(token);
    else {
      const stream = this.grpcStreams.get(token);
      if (stream?.localClosed) this.grpcStreams.delete(token);
    }
    const fn = w.fns.proxy_on_grpc_close;
    if (!w.failed && fn) {
      this.statusCode = status;
      this.statusMessage = message;
      w.call3(this, 'proxy_on_grpc_close', fn, this.id, token, status);
      this.statusMessage = '';
    }
    w.afterVmCall();
  }

  /** Cancels outstanding callouts (Envoy `Context::~Context`). */
  private cancelCallouts(): void {
    for (const h of this.httpCalls.values()) if (h !== true) h.cancel();
    this.httpCalls.clear();
    for (const h of this.grpcCalls.values()) if (h !== true) h.cancel();
    this.grpcCalls.clear();
    for (const s of this.grpcStreams.values()) s.handle.cancel();
    this.grpcStreams.clear();
  }
}
