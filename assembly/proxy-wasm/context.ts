// The context classes a filter extends, after proxy-wasm-rust-sdk's traits (`Context`,
// `RootContext`, `HttpContext`, `StreamContext`): every callback has a default that does
// nothing, so a filter overrides only what it uses.
//
// A context's methods act on that context wherever they are called from: each one
// first makes its context the effective one (`proxy_set_effective_context`), which
// costs nothing inside the context's own callbacks. So a root context that paused
// streams while fetching keys resumes one with `stream.resumeRequest()` or answers it
// with `stream.sendLocalResponse(...)`.

import {
  proxy_close_stream,
  proxy_continue_stream,
  proxy_done,
  proxy_get_status,
  proxy_grpc_call,
  proxy_grpc_cancel,
  proxy_grpc_close,
  proxy_grpc_send,
  proxy_grpc_stream,
  proxy_http_call,
  proxy_send_local_response,
  proxy_set_tick_period_milliseconds,
} from './abi/imports';
import {
  RET_ID,
  RET_PTR,
  RET_SIZE,
  argPtr,
  argSize,
  argsBegin,
  hostMemoryMark,
  putString,
  reserve,
  takeResult,
  takeString,
  utf8MaxSize,
} from './abi/memory';
import { HeaderPair, serializePairsInto, serializedPairsMaxSize } from './abi/pairs';
import {
  FilterDataStatus,
  FilterHeadersStatus,
  FilterStatus,
  FilterTrailersStatus,
  GrpcStatus,
  PeerType,
  StreamType,
  WasmResult,
} from './abi/types';
import {
  Buffer,
  downstreamDataBuffer,
  pluginConfiguration,
  requestBodyBuffer,
  responseBodyBuffer,
  upstreamDataBuffer,
  vmConfiguration,
} from './buffer';
import {
  HeaderMap,
  requestHeadersMap,
  requestTrailersMap,
  responseHeadersMap,
  responseTrailersMap,
} from './headers';
import {
  activateContext,
  grpcCaller,
  rememberGrpcCaller,
  rememberHttpCaller,
  setLastResult,
} from './state';

/** Which kind of context an object is; the dispatcher uses it instead of `instanceof`. */
export enum ContextKind {
  Root = 0,
  Http = 1,
  Stream = 2,
}

/** Outcome of starting an HTTP or gRPC call: `callId` is valid when `status` is Ok. */
export class CallResult {
  constructor(readonly status: WasmResult, readonly callId: u32) {}

  get ok(): bool {
    return this.status == WasmResult.Ok;
  }
}

/** `proxy_get_status`: the gRPC status (or HTTP-call status) and its message. */
export class CallStatus {
  constructor(readonly status: WasmResult, readonly code: u32, readonly message: string) {}
}

// Serializes optional pairs into the scratch; (0, 0) for null. Room must be reserved.
let pairsPtr: usize = 0;
let pairsSize: usize = 0;
function putPairs(pairs: HeaderPair[] | null): void {
  if (pairs) {
    const max = serializedPairsMaxSize(pairs);
    pairsPtr = reserve(max);
    pairsSize = serializePairsInto(pairs, pairsPtr);
  } else {
    pairsPtr = 0;
    pairsSize = 0;
  }
}

// @ts-ignore: decorator
@inline
function pairsMax(pairs: HeaderPair[] | null): usize {
  return pairs ? serializedPairsMaxSize(pairs) : 0;
}

/** What every context has: an id, its lifecycle, and outgoing HTTP and gRPC calls. */
export class Context {
  private isDeleted: bool = false;

  /**
   * `rootContextId` is the plugin's root context (a root context's own id). Subclass
   * constructors set it; filters extend `RootContext`, `HttpContext` or `StreamContext`.
   */
  constructor(readonly contextId: u32, readonly contextKind: ContextKind, readonly rootContextId: u32) {}

  /**
   * The host is done with this context (`proxy_on_done`). Return false to keep it until
   * `done()` is called, e.g. to finish a call in flight.
   */
  onDone(): bool {
    return true;
  }

  /** After the stream ends, before the context is deleted (`proxy_on_log`): access logging. */
  onLog(): void {}

  /** The host deleted the context (`proxy_on_delete`); the SDK forgets it afterwards. */
  onDelete(): void {}

  /**
   * Response to this context's `httpCall` `callId` (`proxy_on_http_call_response`,
   * which Envoy sends to the root context; the SDK forwards it here and makes this
   * context effective). `numHeaders` 0 means the call failed (timeout, reset, no
   * upstream). Read the response with `httpCallResponseHeaders`, `httpCallResponseBody`,
   * `httpCallResponseTrailers` during the callback.
   */
  onHttpCallResponse(callId: u32, numHeaders: u32, bodySize: usize, numTrailers: u32): void {}

  // gRPC callbacks, like HTTP-call responses, come to the context that made the call.

  /** Initial metadata of gRPC call `callId`; read it with `grpcInitialMetadata`. */
  onGrpcReceiveInitialMetadata(callId: u32, numElements: u32): void {}

  /** A message of gRPC call `callId`; read it with `grpcMessage`. */
  onGrpcReceive(callId: u32, messageSize: usize): void {}

  /** Trailing metadata of gRPC call `callId`; read it with `grpcTrailingMetadata`. */
  onGrpcReceiveTrailingMetadata(callId: u32, numElements: u32): void {}

  /** gRPC call `callId` ended with `statusCode`; `getCallStatus()` has the message. */
  onGrpcClose(callId: u32, statusCode: u32): void {}

  /** Whether the host has deleted this context: its hostcalls would fail. */
  get deleted(): bool {
    return this.isDeleted;
  }

  /** Marks the context deleted; the dispatcher's business. */
  markDeleted(): void {
    this.isDeleted = true;
  }

  /** Makes this context the effective one for the hostcalls that follow. */
  activate(): WasmResult {
    return activateContext(this.contextId);
  }

  /** `proxy_continue_stream(stream)` on this context: the resume methods of the subclasses. */
  protected continueStream(stream: StreamType): WasmResult {
    const a = this.activate();
    return setLastResult(a != WasmResult.Ok ? a : proxy_continue_stream(stream));
  }

  /** `proxy_close_stream(stream)` on this context: the close methods of the subclasses. */
  protected closeStream(stream: StreamType): WasmResult {
    const a = this.activate();
    return setLastResult(a != WasmResult.Ok ? a : proxy_close_stream(stream));
  }

  /** Finishes a context whose `onDone` returned false (`proxy_done`). */
  done(): WasmResult {
    const a = this.activate();
    if (a != WasmResult.Ok) return setLastResult(a);
    return setLastResult(proxy_done());
  }

  /**
   * Sends an HTTP request to cluster `cluster` (`proxy_http_call`); the response comes
   * to this context's `onHttpCallResponse` with the returned `callId`. `headers` must
   * hold `:method`, `:path` and `:authority`, else BadArgument; an unknown cluster is
   * BadArgument too. `timeoutMilliseconds` bounds the whole call.
   */
  httpCall(
    cluster: string,
    headers: HeaderPair[],
    body: ArrayBuffer | null,
    trailers: HeaderPair[] | null,
    timeoutMilliseconds: u32,
  ): CallResult {
    const a = this.activate();
    if (a != WasmResult.Ok) return new CallResult(setLastResult(a), 0);
    argsBegin(utf8MaxSize(cluster) + serializedPairsMaxSize(headers) + pairsMax(trailers));
    putString(cluster);
    const cp = argPtr, cs = argSize;
    putPairs(headers);
    const hp = pairsPtr, hs = pairsSize;
    putPairs(trailers);
    const r = setLastResult(proxy_http_call(
      cp, cs, hp, hs,
      body ? changetype<usize>(body) : 0, body ? <usize>body.byteLength : 0,
      pairsPtr, pairsSize, timeoutMilliseconds, RET_ID,
    ));
    if (r != WasmResult.Ok) return new CallResult(r, 0);
    const callId = load<u32>(RET_ID);
    rememberHttpCaller(this.rootContextId, callId, this);
    return new CallResult(r, callId);
  }

  /**
   * Sends one unary gRPC request (`proxy_grpc_call`) to `service`/`method` on
   * `cluster`; the reply comes to this context with `callId`: `onGrpcReceive` on
   * success, or `onGrpcClose` with the gRPC status on failure (Envoy sends one of the two).
   */
  grpcCall(
    cluster: string,
    service: string,
    method: string,
    initialMetadata: HeaderPair[] | null,
    message: ArrayBuffer | null,
    timeoutMilliseconds: u32,
  ): CallResult {
    const a = this.activate();
    if (a != WasmResult.Ok) return new CallResult(setLastResult(a), 0);
    argsBegin(utf8MaxSize(cluster) + utf8MaxSize(service) + utf8MaxSize(method) + pairsMax(initialMetadata));
    putString(cluster);
    const cp = argPtr, cs = argSize;
    putString(service);
    const sp = argPtr, ss = argSize;
    putString(method);
    const mp = argPtr, ms = argSize;
    putPairs(initialMetadata);
    const r = setLastResult(proxy_grpc_call(
      cp, cs, sp, ss, mp, ms, pairsPtr, pairsSize,
      message ? changetype<usize>(message) : 0, message ? <usize>message.byteLength : 0,
      timeoutMilliseconds, RET_ID,
    ));
    if (r != WasmResult.Ok) return new CallResult(r, 0);
    const callId = load<u32>(RET_ID);
    rememberGrpcCaller(this.rootContextId, callId, this, false);
    return new CallResult(r, callId);
  }

  /** Opens a gRPC stream (`proxy_grpc_stream`); send on it with `grpcSend`. */
  grpcStream(cluster: string, service: string, method: string, initialMetadata: HeaderPair[] | null): CallResult {
    const a = this.activate();
    if (a != WasmResult.Ok) return new CallResult(setLastResult(a), 0);
    argsBegin(utf8MaxSize(cluster) + utf8MaxSize(service) + utf8MaxSize(method) + pairsMax(initialMetadata));
    putString(cluster);
    const cp = argPtr, cs = argSize;
    putString(service);
    const sp = argPtr, ss = argSize;
    putString(method);
    const mp = argPtr, ms = argSize;
    putPairs(initialMetadata);
    const r = setLastResult(proxy_grpc_stream(cp, cs, sp, ss, mp, ms, pairsPtr, pairsSize, RET_ID));
    if (r != WasmResult.Ok) return new CallResult(r, 0);
    const callId = load<u32>(RET_ID);
    rememberGrpcCaller(this.rootContextId, callId, this, true);
    return new CallResult(r, callId);
  }

  /** Sends `message` on gRPC stream `streamId`, half-closing it if `endStream`. */
  grpcSend(streamId: u32, message: ArrayBuffer, endStream: bool): WasmResult {
    const a = this.activate();
    if (a != WasmResult.Ok) return setLastResult(a);
    return setLastResult(proxy_grpc_send(
      streamId, changetype<usize>(message), <usize>message.byteLength, endStream,
    ));
  }

  /** Cancels gRPC call or stream `callId`: no further callbacks for it. */
  grpcCancel(callId: u32): WasmResult {
    const a = this.activate();
    if (a != WasmResult.Ok) return setLastResult(a);
    grpcCaller(this.rootContextId, callId, true);
    return setLastResult(proxy_grpc_cancel(callId));
  }

  /** Closes gRPC call or stream `callId`. */
  grpcClose(callId: u32): WasmResult {
    const a = this.activate();
    if (a != WasmResult.Ok) return setLastResult(a);
    return setLastResult(proxy_grpc_close(callId));
  }

  /** Status code and message of the call being answered (`proxy_get_status`). */
  getCallStatus(): CallStatus {
    const mark = hostMemoryMark();
    const r = proxy_get_status(RET_ID, RET_PTR, RET_SIZE);
    const message = takeString(mark, r);
    setLastResult(takeResult);
    return new CallStatus(takeResult, r == WasmResult.Ok ? load<u32>(RET_ID) : 0, message ? message : '');
  }
}

/**
 * The plugin's context (Envoy: one per plugin per worker VM): configuration, ticks,
 * queues, and the factory of per-stream contexts.
 */
export class RootContext extends Context {
  /**
   * The chain this root is a member of (chain.ts `RootContextChain`), which hands it its
   * part of the configuration and multiplexes its tick; null for a plugin's own root.
   */
  owner: RootContext | null = null;
  /** A member's configuration, set by its chain around `onConfigure`. */
  memberConfiguration: ArrayBuffer | null = null;

  constructor(contextId: u32) {
    super(contextId, ContextKind.Root, contextId);
  }

  /** A member asks for a tick period (chain.ts overrides); the plain root has no members. */
  setMemberTickPeriod(member: RootContext, milliseconds: u32): WasmResult {
    return setLastResult(WasmResult.BadArgument);
  }

  /** The VM started (`proxy_on_vm_start`); read it with `getVmConfiguration()`. False fails the VM. */
  onVmStart(vmConfigurationSize: usize): bool {
    return true;
  }

  /**
   * The plugin is (re)configured (`proxy_on_configure`); read it with
   * `getPluginConfiguration()`. False rejects the configuration (Envoy rejects the listener).
   */
  onConfigure(pluginConfigurationSize: usize): bool {
    return true;
  }

  /** The timer set with `setTickPeriodMilliseconds` fired (`proxy_on_tick`). */
  onTick(): void {}

  /** An item was enqueued on queue `queueId` registered by this context (`proxy_on_queue_ready`). */
  onQueueReady(queueId: u32): void {}

  /** The host called foreign function `functionId` (`proxy_on_foreign_function`). */
  onForeignFunction(functionId: u32, argumentsSize: usize): void {}

  /** The context of a new HTTP stream, or null for none (then the stream passes through). */
  createHttpContext(contextId: u32): HttpContext | null {
    return null;
  }

  /** The context of a new TCP connection (asked when `createHttpContext` gives null). */
  createStreamContext(contextId: u32): StreamContext | null {
    return null;
  }

  /** Calls `onTick` every `milliseconds` ms; 0 stops (`proxy_set_tick_period_milliseconds`). */
  setTickPeriodMilliseconds(milliseconds: u32): WasmResult {
    const owner = this.owner;
    if (owner !== null) return owner.setMemberTickPeriod(this, milliseconds);
    const a = this.activate();
    if (a != WasmResult.Ok) return setLastResult(a);
    return setLastResult(proxy_set_tick_period_milliseconds(milliseconds));
  }

  /** The VM configuration bytes, in `onVmStart`; null outside it. */
  getVmConfiguration(): ArrayBuffer | null {
    this.activate();
    return vmConfiguration.get();
  }

  /** The plugin configuration bytes, in `onConfigure`; null outside it. */
  getPluginConfiguration(): ArrayBuffer | null {
    if (this.owner !== null) return this.memberConfiguration;
    this.activate();
    return pluginConfiguration.get();
  }

  /** The plugin configuration as text (UTF-8), in `onConfigure`; null outside it. */
  getPluginConfigurationString(): string | null {
    if (this.owner !== null) {
      const configuration = this.memberConfiguration;
      return configuration !== null ? String.UTF8.decode(configuration) : null;
    }
    this.activate();
    return pluginConfiguration.getString();
  }
}

/** The context of one HTTP request/response pair (Envoy: one per stream per filter). */
export class HttpContext extends Context {
  /**
   * The chain this stream is a member of (chain.ts `HttpContextChain`): resuming then
   * runs the members after this one first, as Envoy's filter manager runs the next filter.
   */
  owner: HttpContext | null = null;

  constructor(contextId: u32, readonly root: RootContext) {
    super(contextId, ContextKind.Http, root.contextId);
  }

  /** A member resumes `stream` (chain.ts overrides); a plain stream continues at once. */
  resumeMember(member: HttpContext, stream: StreamType): WasmResult {
    return this.continueStream(stream);
  }

  /** Request headers arrived (`proxy_on_request_headers`); `endOfStream` when no body follows. */
  onRequestHeaders(numHeaders: u32, endOfStream: bool): FilterHeadersStatus {
    return FilterHeadersStatus.Continue;
  }

  /** A request body chunk (`proxy_on_request_body`); `bodySize` is all that is buffered. */
  onRequestBody(bodySize: usize, endOfStream: bool): FilterDataStatus {
    return FilterDataStatus.Continue;
  }

  /** Request trailers arrived (`proxy_on_request_trailers`). */
  onRequestTrailers(numTrailers: u32): FilterTrailersStatus {
    return FilterTrailersStatus.Continue;
  }

  /** Response headers arrived (`proxy_on_response_headers`), also those of local replies. */
  onResponseHeaders(numHeaders: u32, endOfStream: bool): FilterHeadersStatus {
    return FilterHeadersStatus.Continue;
  }

  /** A response body chunk (`proxy_on_response_body`). */
  onResponseBody(bodySize: usize, endOfStream: bool): FilterDataStatus {
    return FilterDataStatus.Continue;
  }

  /** Response trailers arrived (`proxy_on_response_trailers`). */
  onResponseTrailers(numTrailers: u32): FilterTrailersStatus {
    return FilterTrailersStatus.Continue;
  }

  /** Request headers (readable in `onLog`, writable while the request is not sent on). */
  get requestHeaders(): HeaderMap {
    this.activate();
    return requestHeadersMap;
  }

  /** Request trailers. */
  get requestTrailers(): HeaderMap {
    this.activate();
    return requestTrailersMap;
  }

  /** Response headers. */
  get responseHeaders(): HeaderMap {
    this.activate();
    return responseHeadersMap;
  }

  /** Response trailers. */
  get responseTrailers(): HeaderMap {
    this.activate();
    return responseTrailersMap;
  }

  /** Request body buffered so far (in `onRequestBody`, or while paused from it). */
  get requestBody(): Buffer {
    this.activate();
    return requestBodyBuffer;
  }

  /** Response body buffered so far. */
  get responseBody(): Buffer {
    this.activate();
    return responseBodyBuffer;
  }

  /** Resumes a request paused by a Stop status (`proxy_continue_stream(HTTP_REQUEST)`). */
  resumeRequest(): WasmResult {
    const owner = this.owner;
    if (owner !== null) return owner.resumeMember(this, StreamType.HttpRequest);
    return this.continueStream(StreamType.HttpRequest);
  }

  /** Resumes a paused response (`proxy_continue_stream(HTTP_RESPONSE)`). */
  resumeResponse(): WasmResult {
    const owner = this.owner;
    if (owner !== null) return owner.resumeMember(this, StreamType.HttpResponse);
    return this.continueStream(StreamType.HttpResponse);
  }

  /** Resets the request (`proxy_close_stream(HTTP_REQUEST)`). */
  closeRequest(): WasmResult {
    return this.closeStream(StreamType.HttpRequest);
  }

  /** Resets the response (`proxy_close_stream(HTTP_RESPONSE)`). */
  closeResponse(): WasmResult {
    return this.closeStream(StreamType.HttpResponse);
  }

  /**
   * Answers the request locally (`proxy_send_local_response`) instead of sending it on:
   * `statusCode` (e.g. 401), `details` (Envoy's response code details: a short
   * snake_case reason, e.g. `jwt_auth_denied`), `body` (UTF-8), extra `headers`, and a
   * gRPC status for gRPC clients (`GrpcStatus.None`: plain HTTP). The response path of
   * the filter chain still runs, this filter's `onResponseHeaders` included.
   */
  sendLocalResponse(
    statusCode: u32,
    details: string,
    body: string,
    headers: HeaderPair[] | null = null,
    grpcStatus: GrpcStatus = GrpcStatus.None,
  ): WasmResult {
    const a = this.activate();
    if (a != WasmResult.Ok) return setLastResult(a);
    argsBegin(utf8MaxSize(details) + utf8MaxSize(body) + pairsMax(headers));
    putString(details);
    const dp = argPtr, ds = argSize;
    putString(body);
    const bp = argPtr, bs = argSize;
    putPairs(headers);
    return setLastResult(proxy_send_local_response(
      statusCode, dp, ds, bp, bs, pairsPtr, pairsSize, <i32>grpcStatus,
    ));
  }

  /** `sendLocalResponse` with a byte body (null: empty). */
  sendLocalResponseBytes(
    statusCode: u32,
    details: string,
    body: ArrayBuffer | null,
    headers: HeaderPair[] | null = null,
    grpcStatus: GrpcStatus = GrpcStatus.None,
  ): WasmResult {
    const a = this.activate();
    if (a != WasmResult.Ok) return setLastResult(a);
    argsBegin(utf8MaxSize(details) + pairsMax(headers));
    putString(details);
    const dp = argPtr, ds = argSize;
    putPairs(headers);
    return setLastResult(proxy_send_local_response(
      statusCode, dp, ds,
      body ? changetype<usize>(body) : 0, body ? <usize>body.byteLength : 0,
      pairsPtr, pairsSize, <i32>grpcStatus,
    ));
  }
}

/** The context of one TCP connection (network filter), both directions. */
export class StreamContext extends Context {
  constructor(contextId: u32, readonly root: RootContext) {
    super(contextId, ContextKind.Stream, root.contextId);
  }

  /** A connection was accepted (`proxy_on_new_connection`). */
  onNewConnection(): FilterStatus {
    return FilterStatus.Continue;
  }

  /** Data from the client (`proxy_on_downstream_data`); read it with `downstreamData`. */
  onDownstreamData(dataSize: usize, endOfStream: bool): FilterStatus {
    return FilterStatus.Continue;
  }

  /** The client side closed (`proxy_on_downstream_connection_close`). */
  onDownstreamConnectionClose(peerType: PeerType): void {}

  /** Data from the upstream (`proxy_on_upstream_data`); read it with `upstreamData`. */
  onUpstreamData(dataSize: usize, endOfStream: bool): FilterStatus {
    return FilterStatus.Continue;
  }

  /** The upstream side closed (`proxy_on_upstream_connection_close`). */
  onUpstreamConnectionClose(peerType: PeerType): void {}

  /** Data received from downstream and not yet sent on. */
  get downstreamData(): Buffer {
    this.activate();
    return downstreamDataBuffer;
  }

  /** Data received from upstream and not yet sent on. */
  get upstreamData(): Buffer {
    this.activate();
    return upstreamDataBuffer;
  }

  /** Resumes paused downstream data (`proxy_continue_stream(DOWNSTREAM)`). */
  resumeDownstream(): WasmResult {
    return this.continueStream(StreamType.Downstream);
  }

  /** Resumes paused upstream data (`proxy_continue_stream(UPSTREAM)`). */
  resumeUpstream(): WasmResult {
    return this.continueStream(StreamType.Upstream);
  }

  /** Closes the downstream connection (`proxy_close_stream(DOWNSTREAM)`). */
  closeDownstream(): WasmResult {
    return this.closeStream(StreamType.Downstream);
  }

  /** Closes the upstream connection (`proxy_close_stream(UPSTREAM)`). */
  closeUpstream(): WasmResult {
    return this.closeStream(StreamType.Upstream);
  }
}
