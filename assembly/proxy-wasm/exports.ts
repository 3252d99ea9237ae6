// The module's exports: every callback of proxy-wasm ABI v0.2.1 (proxy-wasm/spec
// abi-versions/v0.2.1/README.md), dispatched to context objects by context id.
//
// A filter's entry file re-exports them all:
//
//   export * from '../../assembly/proxy-wasm/exports';
//
// or, to keep the host from calling into the VM for events it ignores (Envoy skips a
// callback the module does not export, e.g. every body chunk), only those it needs,
// with `proxy_abi_version_0_2_1`, `proxy_on_memory_allocate`, `proxy_on_context_create`
// and `proxy_on_delete` always among them: `exports-core` (without `proxy_on_done`, whose
// absence Envoy takes as done).
//
// A callback for an unknown context (or one of another kind) does nothing and answers
// Continue / true, so a host event the filter did not expect never traps.

import { allocateForHost } from './abi/memory';
import { FilterDataStatus, FilterHeadersStatus, FilterStatus, FilterTrailersStatus, PeerType, WasmResult } from './abi/types';
import { Context, ContextKind, HttpContext, RootContext, StreamContext } from './context';
import { createContext, deleteContext, findContext } from './dispatch';
import { formatUnsigned } from './format';
import { logCritical } from './log';
import {
  activateContext,
  afterCallback,
  enterContext,
  grpcCaller,
  leaveContext,
  takeHttpCaller,
} from './state';

// ---------------------------------------------------------------------------
// Integration and memory

/** Marker of ABI v0.2.1; never called. */
export function proxy_abi_version_0_2_1(): void {}

/** Memory for data the host returns; 0 when `memorySize` is unreasonably large. */
export function proxy_on_memory_allocate(memorySize: usize): usize {
  return allocateForHost(memorySize);
}

// ---------------------------------------------------------------------------
// Context lifecycle

/** A root context (`parentContextId` 0) or a stream context is created. */
export function proxy_on_context_create(contextId: u32, parentContextId: u32): void {
  createContext(contextId, parentContextId);
  afterCallback();
}

/** The host is done with the context; false keeps it until `Context.done()`. */
export function proxy_on_done(contextId: u32): bool {
  const context = findContext(contextId);
  if (!context) return true;
  const saved = enterContext(contextId);
  const done = context.onDone();
  leaveContext(saved);
  afterCallback();
  return done;
}

/** The context finished; for access logging. */
export function proxy_on_log(contextId: u32): void {
  const context = findContext(contextId);
  if (!context) return;
  const saved = enterContext(contextId);
  context.onLog();
  leaveContext(saved);
  afterCallback();
}

/** The host deleted the context. */
export function proxy_on_delete(contextId: u32): void {
  deleteContext(contextId);
  afterCallback();
}

// ---------------------------------------------------------------------------
// Root context

// The root context `contextId`, or null (logged: the host and module disagree).
function rootContext(contextId: u32, callback: string): RootContext | null {
  const context = findContext(contextId);
  if (context && context.contextKind == ContextKind.Root) return changetype<RootContext>(context);
  logCritical(callback + ': no root context ' + formatUnsigned(contextId) + ' (registerRootContext not called?)');
  return null;
}

/** The VM starts. */
export function proxy_on_vm_start(rootContextId: u32, vmConfigurationSize: usize): bool {
  const root = rootContext(rootContextId, 'proxy_on_vm_start');
  if (!root) return false;
  const saved = enterContext(rootContextId);
  const ok = root.onVmStart(vmConfigurationSize);
  leaveContext(saved);
  afterCallback();
  return ok;
}

/** The plugin is configured. */
export function proxy_on_configure(rootContextId: u32, pluginConfigurationSize: usize): bool {
  const root = rootContext(rootContextId, 'proxy_on_configure');
  if (!root) return false;
  const saved = enterContext(rootContextId);
  const ok = root.onConfigure(pluginConfigurationSize);
  leaveContext(saved);
  afterCallback();
  return ok;
}

/** The tick timer fired. */
export function proxy_on_tick(rootContextId: u32): void {
  const context = findContext(rootContextId);
  if (!context || context.contextKind != ContextKind.Root) return;
  const saved = enterContext(rootContextId);
  changetype<RootContext>(context).onTick();
  leaveContext(saved);
  afterCallback();
}

/** An item is ready on a shared queue. */
export function proxy_on_queue_ready(rootContextId: u32, queueId: u32): void {
  const context = findContext(rootContextId);
  if (!context || context.contextKind != ContextKind.Root) return;
  const saved = enterContext(rootContextId);
  changetype<RootContext>(context).onQueueReady(queueId);
  leaveContext(saved);
  afterCallback();
}

/** The host calls a foreign function of the module. */
export function proxy_on_foreign_function(rootContextId: u32, functionId: u32, argumentsSize: usize): void {
  const context = findContext(rootContextId);
  if (!context || context.contextKind != ContextKind.Root) return;
  const saved = enterContext(rootContextId);
  changetype<RootContext>(context).onForeignFunction(functionId, argumentsSize);
  leaveContext(saved);
  afterCallback();
}

// ---------------------------------------------------------------------------
// HTTP streams

// The HTTP context `contextId`, or null.
// @ts-ignore: decorator
@inline
function httpContext(contextId: u32): HttpContext | null {
  const context = findContext(contextId);
  return context && context.contextKind == ContextKind.Http ? changetype<HttpContext>(context) : null;
}

/** Request headers arrived. */
export function proxy_on_request_headers(contextId: u32, numHeaders: u32, endOfStream: bool): u32 {
  const http = httpContext(contextId);
  if (!http) return FilterHeadersStatus.Continue;
  const saved = enterContext(contextId);
  const status = http.onRequestHeaders(numHeaders, endOfStream);
  leaveContext(saved);
  afterCallback();
  return status;
}

/** A request body chunk arrived. */
export function proxy_on_request_body(contextId: u32, bodySize: usize, endOfStream: bool): u32 {
  const http = httpContext(contextId);
  if (!http) return FilterDataStatus.Continue;
  const saved = enterContext(contextId);
  const status = http.onRequestBody(bodySize, endOfStream);
  leaveContext(saved);
  afterCallback();
  return status;
}

/** Request trailers arrived. */
export function proxy_on_request_trailers(contextId: u32, numTrailers: u32): u32 {
  const http = httpContext(contextId);
  if (!http) return FilterTrailersStatus.Continue;
  const saved = enterContext(contextId);
  const status = http.onRequestTrailers(numTrailers);
  leaveContext(saved);
  afterCallback();
  return status;
}

/** Response headers arrived. */
export function proxy_on_response_headers(contextId: u32, numHeaders: u32, endOfStream: bool): u32 {
  const http = httpContext(contextId);
  if (!http) return FilterHeadersStatus.Continue;
  const saved = enterContext(contextId);
  const status = http.onResponseHeaders(numHeaders, endOfStream);
  leaveContext(saved);
  afterCallback();
  return status;
}

/** A response body chunk arrived. */
export function proxy_on_response_body(contextId: u32, bodySize: usize, endOfStream: bool): u32 {
  const http = httpContext(contextId);
  if (!http) return FilterDataStatus.Continue;
  const saved = enterContext(contextId);
  const status = http.onResponseBody(bodySize, endOfStream);
  leaveContext(saved);
  afterCallback();
  return status;
}

/** Response trailers arrived. */
export function proxy_on_response_trailers(contextId: u32, numTrailers: u32): u32 {
  const http = httpContext(contextId);
  if (!http) return FilterTrailersStatus.Continue;
  const saved = enterContext(contextId);
  const status = http.onResponseTrailers(numTrailers);
  leaveContext(saved);
  afterCallback();
  return status;
}

// ---------------------------------------------------------------------------
// HTTP and gRPC calls. The host calls back the root context (Envoy makes every call on
// it); the SDK hands the event to the context that made the call, effective for its
// hostcalls. A caller deleted in the meantime gets nothing.

// Makes the caller effective (the context called back when the SDK did not see the
// call); null if it is gone.
function enterCaller(contextId: u32, caller: Context | null): Context | null {
  if (caller === null) return findContext(contextId);
  if (caller.deleted) return null;
  if (caller.contextId != contextId && activateContext(caller.contextId) != WasmResult.Ok) return null;
  return caller;
}

/** Response (or failure: no headers) of an HTTP call. */
export function proxy_on_http_call_response(
  contextId: u32, callId: u32, numHeaders: u32, bodySize: usize, numTrailers: u32,
): void {
  const saved = enterContext(contextId);
  const caller = enterCaller(contextId, takeHttpCaller(contextId, callId));
  if (caller) caller.onHttpCallResponse(callId, numHeaders, bodySize, numTrailers);
  leaveContext(saved);
  afterCallback();
}

/** Initial metadata of a gRPC call. */
export function proxy_on_grpc_receive_initial_metadata(contextId: u32, callId: u32, numElements: u32): void {
  const saved = enterContext(contextId);
  const caller = enterCaller(contextId, grpcCaller(contextId, callId, false));
  if (caller) caller.onGrpcReceiveInitialMetadata(callId, numElements);
  leaveContext(saved);
  afterCallback();
}

/** A message of a gRPC call. */
export function proxy_on_grpc_receive(contextId: u32, callId: u32, messageSize: usize): void {
  const saved = enterContext(contextId);
  const caller = enterCaller(contextId, grpcCaller(contextId, callId, false, true));
  if (caller) caller.onGrpcReceive(callId, messageSize);
  leaveContext(saved);
  afterCallback();
}

/** Trailing metadata of a gRPC call. */
export function proxy_on_grpc_receive_trailing_metadata(contextId: u32, callId: u32, numElements: u32): void {
  const saved = enterContext(contextId);
  const caller = enterCaller(contextId, grpcCaller(contextId, callId, false));
  if (caller) caller.onGrpcReceiveTrailingMetadata(callId, numElements);
  leaveContext(saved);
  afterCallback();
}

/** A gRPC call ended: its last callback. */
export function proxy_on_grpc_close(contextId: u32, callId: u32, statusCode: u32): void {
  const saved = enterContext(contextId);
  const caller = enterCaller(contextId, grpcCaller(contextId, callId, true));
  if (caller) caller.onGrpcClose(callId, statusCode);
  leaveContext(saved);
  afterCallback();
}

// ---------------------------------------------------------------------------
// TCP streams

// @ts-ignore: decorator
@inline
function streamContext(contextId: u32): StreamContext | null {
  const context = findContext(contextId);
  return context && context.contextKind == ContextKind.Stream ? changetype<StreamContext>(context) : null;
}

/** A TCP connection was accepted. */
export function proxy_on_new_connection(contextId: u32): u32 {
  const stream = streamContext(contextId);
  if (!stream) return FilterStatus.Continue;
  const saved = enterContext(contextId);
  const status = stream.onNewConnection();
  leaveContext(saved);
  afterCallback();
  return status;
}

/** Data from downstream. */
export function proxy_on_downstream_data(contextId: u32, dataSize: usize, endOfStream: bool): u32 {
  const stream = streamContext(contextId);
  if (!stream) return FilterStatus.Continue;
  const saved = enterContext(contextId);
  const status = stream.onDownstreamData(dataSize, endOfStream);
  leaveContext(saved);
  afterCallback();
  return status;
}

/** The downstream connection closed. */
export function proxy_on_downstream_connection_close(contextId: u32, peerType: u32): void {
  const stream = streamContext(contextId);
  if (!stream) return;
  const saved = enterContext(contextId);
  stream.onDownstreamConnectionClose(<PeerType>peerType);
  leaveContext(saved);
  afterCallback();
}

/** Data from upstream. */
export function proxy_on_upstream_data(contextId: u32, dataSize: usize, endOfStream: bool): u32 {
  const stream = streamContext(contextId);
  if (!stream) return FilterStatus.Continue;
  const saved = enterContext(contextId);
  const status = stream.onUpstreamData(dataSize, endOfStream);
  leaveContext(saved);
  afterCallback();
  return status;
}

/** The upstream connection closed. */
export function proxy_on_upstream_connection_close(contextId: u32, peerType: u32): void {
  const stream = streamContext(contextId);
  if (!stream) return;
  const saved = enterContext(contextId);
  stream.onUpstreamConnectionClose(<PeerType>peerType);
  leaveContext(saved);
  afterCallback();
}
