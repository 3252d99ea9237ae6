// VM-wide SDK state that several modules read: the effective context, the last host
// status, the cached host log level.

import { proxy_get_log_level, proxy_set_effective_context } from './abi/imports';
import { RET_ID } from './abi/memory';
import { WasmResult } from './abi/types';
import { Context } from './context';

// The context the host applies stream hostcalls to. The host resets it to the
// callback's own context on every callback and restores it afterwards
// (proxy-wasm-cpp-host / Envoy `SaveRestoreContext`), and the dispatcher mirrors that.
let effectiveContextId: u32 = 0;

/** The context hostcalls currently act on. */
export function currentContextId(): u32 {
  return effectiveContextId;
}

// Callbacks in progress: the host can call back into the module from a hostcall.
let depth: i32 = 0;

// Counts callbacks: what was read from the host in one callback (headers.ts MapSnapshot)
// may have changed by the next (Envoy's other filters run between them). Never 0.
let epoch: u32 = 1;

/** The current callback's number (changes at every callback the host makes). */
// @ts-ignore: decorator
@inline
export function callbackEpoch(): u32 {
  return epoch;
}

// While a chain (chain.ts) runs its members: a header lookup with no copy of the map yet
// reads the map whole (headers.ts), so that the members after it find their headers there.
let wholeMapReads: bool = false;

/** Whether header lookups read a map whole (set by chains). */
// @ts-ignore: decorator
@inline
export function readWholeMaps(): bool {
  return wholeMapReads;
}

/** Sets `readWholeMaps()`; returns what it was. */
export function setReadWholeMaps(on: bool): bool {
  const was = wholeMapReads;
  wholeMapReads = on;
  return was;
}

/** Called by the dispatcher on callback entry; returns the context id it replaced. */
export function enterContext(contextId: u32): u32 {
  const previous = effectiveContextId;
  effectiveContextId = contextId;
  if (++epoch == 0) epoch = 1;
  hostLogLevel = -1;
  depth++;
  return previous;
}

/** Restores the context saved by `enterContext`. */
export function leaveContext(previous: u32): void {
  effectiveContextId = previous;
  depth--;
}

// Garbage collection with the `minimal` runtime (asconfig "runtime"), which never collects
// by itself and does not scan the stack: the SDK collects after an outermost callback,
// where no managed reference is on the stack. The incremental runtime would collect at
// any allocation, which makes the compiler keep every managed local on a shadow stack and
// put a write barrier on every reference store: about a third of a filter's code.
//
// When: once the garbage made since the last collection fills about half the memory, as
// a collector paced by allocation does. A collection costs in proportion to the heap
// (live objects are marked, garbage swept), so it is paid once per about as many bytes of
// garbage, however large the live heap (a JWT cache, local buckets) is. The garbage a
// callback makes is measured at each collection (bytes freed / callbacks since); memory
// that grew in a callback is collected at once, whatever the estimate said.
let callbacksSinceCollect: u32 = 0;
let collectAfterCallbacks: u32 = 64;
let pagesAfterCollect: i32 = 0;
let freedBytes: usize = 0;
// Garbage allowed between collections, at least (bytes).
const MIN_GARBAGE: usize = 64 << 10;
// Longest run of callbacks between collections.
const MAX_CALLBACKS: u32 = 1 << 16;
// Object header bytes (rt/common.ts: BLOCK mmInfo, OBJECT gcInfo, gcInfo2, rtId, rtSize).
const OBJECT_HEADER: usize = 20;

/** Called by the runtime for each object a collection frees: counts the bytes. */
// @ts-ignore: decorator
@global
export function __finalize(ptr: usize): void {
  if (ASC_RUNTIME == 1) freedBytes += <usize>load<u32>(ptr - 4) + OBJECT_HEADER;
}

function collect(): void {
  const callbacks = callbacksSinceCollect;
  callbacksSinceCollect = 0;
  freedBytes = 0;
  __collect();
  pagesAfterCollect = memory.size();
  let budget = <usize>pagesAfterCollect << 15; // half the memory
  if (budget < MIN_GARBAGE) budget = MIN_GARBAGE;
  const perCallback = freedBytes / (callbacks > 0 ? <usize>callbacks : 1);
  const next = perCallback > 0 ? budget / perCallback : <usize>MAX_CALLBACKS;
  collectAfterCallbacks = next < 1 ? 1 : next > <usize>MAX_CALLBACKS ? MAX_CALLBACKS : <u32>next;
}

/** Called by every export last, with no managed reference live. */
// @ts-ignore: decorator
@inline
export function afterCallback(): void {
  if (ASC_RUNTIME == 1) {
    if (depth == 0 && (++callbacksSinceCollect >= collectAfterCallbacks || memory.size() > pagesAfterCollect)) collect();
  }
}

/**
 * Makes `contextId` the context hostcalls act on (`proxy_set_effective_context`), unless
 * it already is: a callback acting on its own context makes no hostcall for this.
 */
export function activateContext(contextId: u32): WasmResult {
  if (contextId == effectiveContextId) return WasmResult.Ok;
  const r = proxy_set_effective_context(contextId);
  if (r == WasmResult.Ok) effectiveContextId = contextId;
  return r;
}

let lastStatus: WasmResult = WasmResult.Ok;

/** Records the status of a hostcall and returns it. */
// @ts-ignore: decorator
@inline
export function setLastResult(r: WasmResult): WasmResult {
  lastStatus = r;
  return r;
}

/**
 * Status of the last hostcall a wrapper made: tells a getter's `null` for "absent"
 * (NotFound) from a failure (e.g. BadArgument outside the callback that owns a map).
 */
export function lastResult(): WasmResult {
  return lastStatus;
}

// -1: not fetched in this callback.
let hostLogLevel: i32 = -1;

/** The host's log level, fetched at most once per callback (`proxy_get_log_level`). */
export function currentHostLogLevel(): i32 {
  if (hostLogLevel < 0) {
    // On failure log everything: dropping a line silently is worse than an extra line.
    hostLogLevel = proxy_get_log_level(RET_ID) == WasmResult.Ok ? load<i32>(RET_ID) : 0;
  }
  return hostLogLevel;
}

// ---------------------------------------------------------------------------
// Callers of HTTP and gRPC calls.
//
// Envoy makes every call on the root context (proxy-wasm-cpp-host src/exports.cc:
// http_call, grpc_call, grpc_stream use `contextOrEffectiveContext()->root_context()`),
// so responses arrive at the root context with the call id. The SDK remembers which
// context started each call and hands the response to it, as proxy-wasm-rust-sdk and
// -go-sdk do. Keys are (root context id, call id): ids are per root context.

// Callers are kept as objects, not ids: the members of a chain (chain.ts) share their
// chain's context id, and the call must come back to the member that made it.
// @ts-ignore: decorator
@lazy const httpCallers = new Map<u64, Context>();
// @ts-ignore: decorator
@lazy const grpcCallers = new Map<u64, Context>();
// Keys of grpcCallers that are streams, not unary calls.
// @ts-ignore: decorator
@lazy const grpcStreams = new Set<u64>();

// @ts-ignore: decorator
@inline
function callKey(rootContextId: u32, callId: u32): u64 {
  return (<u64>rootContextId << 32) | <u64>callId;
}

/** Records that `caller` started HTTP call `callId` (ids of root `rootContextId`). */
export function rememberHttpCaller(rootContextId: u32, callId: u32, caller: Context): void {
  httpCallers.set(callKey(rootContextId, callId), caller);
}

/**
 * The context that started HTTP call `callId`, forgotten now that its response came;
 * null when the SDK did not see the call (the dispatcher then uses the context called back).
 */
export function takeHttpCaller(contextId: u32, callId: u32): Context | null {
  const key = callKey(contextId, callId);
  if (!httpCallers.has(key)) return null;
  const caller = httpCallers.get(key);
  httpCallers.delete(key);
  return caller;
}

// gRPC: Envoy ends a unary call with either one proxy_on_grpc_receive (success) or one
// proxy_on_grpc_close (failure) (source/extensions/common/wasm/context.cc
// onGrpcReceiveWrapper/onGrpcCloseWrapper); a stream ends with proxy_on_grpc_close.

/** Records that `caller` started gRPC call (or stream, `isStream`) `callId`. */
export function rememberGrpcCaller(rootContextId: u32, callId: u32, caller: Context, isStream: bool): void {
  const key = callKey(rootContextId, callId);
  grpcCallers.set(key, caller);
  if (isStream) grpcStreams.add(key);
}

/**
 * The context that started gRPC call or stream `callId` (null if unknown). The entry goes
 * when the event ends the call: `closing` (close, cancel), or a message of a unary call.
 */
export function grpcCaller(contextId: u32, callId: u32, closing: bool, isMessage: bool = false): Context | null {
  const key = callKey(contextId, callId);
  if (!grpcCallers.has(key)) return null;
  const caller = grpcCallers.get(key);
  if (closing || (isMessage && !grpcStreams.has(key))) {
    grpcCallers.delete(key);
    grpcStreams.delete(key);
  }
  return caller;
}
