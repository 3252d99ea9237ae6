// Raw host functions of the proxy-wasm ABI v0.2.1, as the module imports them.
//
// Source: proxy-wasm/spec abi-versions/v0.2.1/README.md; the set Envoy links for a
// v0.2.1 module is proxy-wasm-cpp-host src/wasm.cc `registerCallbacks` (every
// FOR_ALL_HOST_FUNCTIONS entry plus continue_stream, close_stream, get_log_level).
// The v0.1.0-only functions (proxy_get_configuration, proxy_continue_request,
// proxy_continue_response, proxy_clear_route_cache) are deliberately absent: Envoy does
// not link them for a v0.2.1 module, so importing one would fail the module's load.
//
// Types follow the spec: pointers and sizes are `usize` (i32 on wasm32), `uint32_t`
// is `u32`, `bool` is `bool` (i32), enums are their i32 wire values. Every pointer
// named `return*` receives a result; `*Ptr` receives a pointer to memory the host
// allocated through `proxy_on_memory_allocate` (the module owns and frees it).
//
// Only the SDK calls these; filters use the wrappers in `../hostcalls.ts`. An
// import is only emitted into the module when something calls it.

import './marker';
import {
  BufferType,
  LogLevel,
  MapType,
  MetricType,
  StreamType,
  WasmResult,
} from './types';

// ---------------------------------------------------------------------------
// Context lifecycle

/** Tells the host the current context, which returned false from `proxy_on_done`, is done. */
// @ts-ignore: decorator
@external('env', 'proxy_done')
export declare function proxy_done(): WasmResult;

/** Makes `contextId` the context later hostcalls act on (e.g. a stream, from a root callback). */
// @ts-ignore: decorator
@external('env', 'proxy_set_effective_context')
export declare function proxy_set_effective_context(contextId: u32): WasmResult;

// ---------------------------------------------------------------------------
// Logging

/** Logs `message` (UTF-8, not NUL-terminated) at `level`. */
// @ts-ignore: decorator
@external('env', 'proxy_log')
export declare function proxy_log(level: LogLevel, messageData: usize, messageSize: usize): WasmResult;

/** Writes the host's current log level to `returnLogLevel` (u32). */
// @ts-ignore: decorator
@external('env', 'proxy_get_log_level')
export declare function proxy_get_log_level(returnLogLevel: usize): WasmResult;

// ---------------------------------------------------------------------------
// Clocks and timers

/** Writes the host's wall-clock time, ns since the Unix epoch, to `returnTime` (u64). */
// @ts-ignore: decorator
@external('env', 'proxy_get_current_time_nanoseconds')
export declare function proxy_get_current_time_nanoseconds(returnTime: usize): WasmResult;

/** Calls `proxy_on_tick` on the current root context every `tickPeriod` ms; 0 stops it. */
// @ts-ignore: decorator
@external('env', 'proxy_set_tick_period_milliseconds')
export declare function proxy_set_tick_period_milliseconds(tickPeriod: u32): WasmResult;

// ---------------------------------------------------------------------------
// Buffers

/** Replaces `size` bytes at `start` of buffer `bufferType` with `value` (prepend, append, replace). */
// @ts-ignore: decorator
@external('env', 'proxy_set_buffer_bytes')
export declare function proxy_set_buffer_bytes(
  bufferType: BufferType, start: usize, size: usize, valueData: usize, valueSize: usize,
): WasmResult;

/** Copies up to `maxSize` bytes from `start` of buffer `bufferType` into host-allocated memory. */
// @ts-ignore: decorator
@external('env', 'proxy_get_buffer_bytes')
export declare function proxy_get_buffer_bytes(
  bufferType: BufferType, start: usize, maxSize: usize, returnValueDataPtr: usize, returnValueSize: usize,
): WasmResult;

/** Writes the size of buffer `bufferType` to `returnBufferSize` (and flags, unused, to `returnFlags`). */
// @ts-ignore: decorator
@external('env', 'proxy_get_buffer_status')
export declare function proxy_get_buffer_status(
  bufferType: BufferType, returnBufferSize: usize, returnFlags: usize,
): WasmResult;

// ---------------------------------------------------------------------------
// HTTP fields (header maps)

/** Writes the serialized size of map `mapType` to `returnSize`. */
// @ts-ignore: decorator
@external('env', 'proxy_get_header_map_size')
export declare function proxy_get_header_map_size(mapType: MapType, returnSize: usize): WasmResult;

/** Returns every pair of map `mapType`, serialized (see `pairs.ts`), in host-allocated memory. */
// @ts-ignore: decorator
@external('env', 'proxy_get_header_map_pairs')
export declare function proxy_get_header_map_pairs(
  mapType: MapType, returnDataPtr: usize, returnSize: usize,
): WasmResult;

/** Replaces every pair of map `mapType` with the serialized pairs given. */
// @ts-ignore: decorator
@external('env', 'proxy_set_header_map_pairs')
export declare function proxy_set_header_map_pairs(mapType: MapType, data: usize, size: usize): WasmResult;

/** Returns the value of `key` in map `mapType` in host-allocated memory; NotFound if absent. */
// @ts-ignore: decorator
@external('env', 'proxy_get_header_map_value')
export declare function proxy_get_header_map_value(
  mapType: MapType, keyData: usize, keySize: usize, returnValueDataPtr: usize, returnValueSize: usize,
): WasmResult;

/** Appends the pair `key: value` to map `mapType` (an existing key gets one more value). */
// @ts-ignore: decorator
@external('env', 'proxy_add_header_map_value')
export declare function proxy_add_header_map_value(
  mapType: MapType, keyData: usize, keySize: usize, valueData: usize, valueSize: usize,
): WasmResult;

/** Sets `key` to `value` in map `mapType`, replacing existing values or adding it. */
// @ts-ignore: decorator
@external('env', 'proxy_replace_header_map_value')
export declare function proxy_replace_header_map_value(
  mapType: MapType, keyData: usize, keySize: usize, valueData: usize, valueSize: usize,
): WasmResult;

/** Removes every value of `key` from map `mapType` (Ok when absent too). */
// @ts-ignore: decorator
@external('env', 'proxy_remove_header_map_value')
export declare function proxy_remove_header_map_value(
  mapType: MapType, keyData: usize, keySize: usize,
): WasmResult;

// ---------------------------------------------------------------------------
// Common stream operations

/** Resumes the paused `streamType` of the current context. */
// @ts-ignore: decorator
@external('env', 'proxy_continue_stream')
export declare function proxy_continue_stream(streamType: StreamType): WasmResult;

/** Closes (resets) `streamType` of the current context. */
// @ts-ignore: decorator
@external('env', 'proxy_close_stream')
export declare function proxy_close_stream(streamType: StreamType): WasmResult;

/** In an HTTP-call or gRPC callback: writes the status code (u32) and the message in host memory. */
// @ts-ignore: decorator
@external('env', 'proxy_get_status')
export declare function proxy_get_status(
  returnStatusCode: usize, returnMessageDataPtr: usize, returnMessageSize: usize,
): WasmResult;

// ---------------------------------------------------------------------------
// HTTP

/** Answers the current request locally with status, details, body, serialized headers, gRPC status (-1: none). */
// @ts-ignore: decorator
@external('env', 'proxy_send_local_response')
export declare function proxy_send_local_response(
  statusCode: u32,
  statusCodeDetailsData: usize, statusCodeDetailsSize: usize,
  bodyData: usize, bodySize: usize,
  headersData: usize, headersSize: usize,
  grpcStatus: i32,
): WasmResult;

// ---------------------------------------------------------------------------
// HTTP calls

/** Sends an HTTP request to cluster `upstream`; the call id goes to `returnCallId` (u32). */
// @ts-ignore: decorator
@external('env', 'proxy_http_call')
export declare function proxy_http_call(
  upstreamData: usize, upstreamSize: usize,
  headersData: usize, headersSize: usize,
  bodyData: usize, bodySize: usize,
  trailersData: usize, trailersSize: usize,
  timeoutMilliseconds: u32,
  returnCallId: usize,
): WasmResult;

// ---------------------------------------------------------------------------
// gRPC calls

/** Sends one unary gRPC request; the call id goes to `returnCallId` (u32). */
// @ts-ignore: decorator
@external('env', 'proxy_grpc_call')
export declare function proxy_grpc_call(
  upstreamData: usize, upstreamSize: usize,
  serviceNameData: usize, serviceNameSize: usize,
  methodNameData: usize, methodNameSize: usize,
  initialMetadataData: usize, initialMetadataSize: usize,
  messageData: usize, messageSize: usize,
  timeoutMilliseconds: u32,
  returnCallId: usize,
): WasmResult;

/** Opens a gRPC stream; the stream id goes to `returnStreamId` (u32). */
// @ts-ignore: decorator
@external('env', 'proxy_grpc_stream')
export declare function proxy_grpc_stream(
  upstreamData: usize, upstreamSize: usize,
  serviceNameData: usize, serviceNameSize: usize,
  methodNameData: usize, methodNameSize: usize,
  initialMetadataData: usize, initialMetadataSize: usize,
  returnStreamId: usize,
): WasmResult;

/** Sends one message on gRPC stream `streamId`, half-closing it when `endStream`. */
// @ts-ignore: decorator
@external('env', 'proxy_grpc_send')
export declare function proxy_grpc_send(
  streamId: u32, messageData: usize, messageSize: usize, endStream: bool,
): WasmResult;

/** Cancels gRPC call or stream `callOrStreamId` (no further callbacks). */
// @ts-ignore: decorator
@external('env', 'proxy_grpc_cancel')
export declare function proxy_grpc_cancel(callOrStreamId: u32): WasmResult;

/** Closes gRPC call or stream `callOrStreamId`. */
// @ts-ignore: decorator
@external('env', 'proxy_grpc_close')
export declare function proxy_grpc_close(callOrStreamId: u32): WasmResult;

// ---------------------------------------------------------------------------
// Shared key-value store

/** Returns the value of shared `key` in host memory and its CAS (u32); NotFound if absent. */
// @ts-ignore: decorator
@external('env', 'proxy_get_shared_data')
export declare function proxy_get_shared_data(
  keyData: usize, keySize: usize, returnValueDataPtr: usize, returnValueSize: usize, returnCas: usize,
): WasmResult;

/** Sets shared `key` to `value` if `cas` is 0 or matches; CasMismatch otherwise. */
// @ts-ignore: decorator
@external('env', 'proxy_set_shared_data')
export declare function proxy_set_shared_data(
  keyData: usize, keySize: usize, valueData: usize, valueSize: usize, cas: u32,
): WasmResult;

// ---------------------------------------------------------------------------
// Shared queues

/** Creates or opens the queue `name` of this VM id; its id goes to `returnQueueId` (u32). */
// @ts-ignore: decorator
@external('env', 'proxy_register_shared_queue')
export declare function proxy_register_shared_queue(
  nameData: usize, nameSize: usize, returnQueueId: usize,
): WasmResult;

/** Finds the existing queue `name` of VM `vmId`; NotFound if none. */
// @ts-ignore: decorator
@external('env', 'proxy_resolve_shared_queue')
export declare function proxy_resolve_shared_queue(
  vmIdData: usize, vmIdSize: usize, nameData: usize, nameSize: usize, returnQueueId: usize,
): WasmResult;

/** Appends `value` to queue `queueId`. */
// @ts-ignore: decorator
@external('env', 'proxy_enqueue_shared_queue')
export declare function proxy_enqueue_shared_queue(queueId: u32, valueData: usize, valueSize: usize): WasmResult;

/** Takes the front item of queue `queueId` into host memory; Empty when there is none. */
// @ts-ignore: decorator
@external('env', 'proxy_dequeue_shared_queue')
export declare function proxy_dequeue_shared_queue(
  queueId: u32, returnValueDataPtr: usize, returnValueSize: usize,
): WasmResult;

// ---------------------------------------------------------------------------
// Metrics

/** Defines (or finds) metric `name` of `metricType`; its id goes to `returnMetricId` (u32). */
// @ts-ignore: decorator
@external('env', 'proxy_define_metric')
export declare function proxy_define_metric(
  metricType: MetricType, nameData: usize, nameSize: usize, returnMetricId: usize,
): WasmResult;

/** Sets gauge `metricId` to `value`, or records `value` in histogram `metricId`. */
// @ts-ignore: decorator
@external('env', 'proxy_record_metric')
export declare function proxy_record_metric(metricId: u32, value: u64): WasmResult;

/** Adds `delta` to metric `metricId` (a counter takes no negative delta). */
// @ts-ignore: decorator
@external('env', 'proxy_increment_metric')
export declare function proxy_increment_metric(metricId: u32, delta: i64): WasmResult;

/** Writes the value (u64) of counter or gauge `metricId` to `returnValue`. */
// @ts-ignore: decorator
@external('env', 'proxy_get_metric')
export declare function proxy_get_metric(metricId: u32, returnValue: usize): WasmResult;

// ---------------------------------------------------------------------------
// Properties

/** Returns property `path` (segments, each NUL-terminated) in Envoy's encoding, in host memory. */
// @ts-ignore: decorator
@external('env', 'proxy_get_property')
export declare function proxy_get_property(
  pathData: usize, pathSize: usize, returnValueDataPtr: usize, returnValueSize: usize,
): WasmResult;

/** Sets property `path` to `value`. */
// @ts-ignore: decorator
@external('env', 'proxy_set_property')
export declare function proxy_set_property(
  pathData: usize, pathSize: usize, valueData: usize, valueSize: usize,
): WasmResult;

// ---------------------------------------------------------------------------
// Foreign functions

/** Calls the host's foreign function `name` with `arguments`; results come back in host memory. */
// @ts-ignore: decorator
@external('env', 'proxy_call_foreign_function')
export declare function proxy_call_foreign_function(
  nameData: usize, nameSize: usize, argumentsData: usize, argumentsSize: usize,
  returnResultsDataPtr: usize, returnResultsSize: usize,
): WasmResult;

// ---------------------------------------------------------------------------
// WASI functions Envoy provides (wasi_snapshot_preview1). They return `wasi_errno_t`.

/** Writes `iovsLen` iovecs to `fd` (1: logged at info, 2: at error); byte count to `returnWritten`. */
// @ts-ignore: decorator
@external('wasi_snapshot_preview1', 'fd_write')
export declare function fd_write(fd: u32, iovs: usize, iovsLen: usize, returnWritten: usize): u32;

/** Writes the time (ns, u64) of clock `clockId` (0 realtime, 1 monotonic) to `returnTime`. */
// @ts-ignore: decorator
@external('wasi_snapshot_preview1', 'clock_time_get')
export declare function clock_time_get(clockId: u32, precision: u64, returnTime: usize): u32;

/** Fills `bufferSize` bytes at `buffer` with randomness. */
// @ts-ignore: decorator
@external('wasi_snapshot_preview1', 'random_get')
export declare function random_get(buffer: usize, bufferSize: usize): u32;

/** Writes the number of environment variables and their serialized size. */
// @ts-ignore: decorator
@external('wasi_snapshot_preview1', 'environ_sizes_get')
export declare function environ_sizes_get(returnNumElements: usize, returnBufferSize: usize): u32;

/** Writes the environment variables: pointers to `returnArray`, `NAME=value\0` bytes to `returnBuffer`. */
// @ts-ignore: decorator
@external('wasi_snapshot_preview1', 'environ_get')
export declare function environ_get(returnArray: usize, returnBuffer: usize): u32;

/** Writes 0 and 0: Envoy passes no arguments. */
// @ts-ignore: decorator
@external('wasi_snapshot_preview1', 'args_sizes_get')
export declare function args_sizes_get(returnArgc: usize, returnArgvBufferSize: usize): u32;

/** Never called when `args_sizes_get` returned zero sizes. */
// @ts-ignore: decorator
@external('wasi_snapshot_preview1', 'args_get')
export declare function args_get(returnArgv: usize, returnArgvBuffer: usize): u32;

/** Ends the VM; Envoy treats it as a failure of the module. */
// @ts-ignore: decorator
@external('wasi_snapshot_preview1', 'proc_exit')
export declare function proc_exit(exitCode: u32): void;
