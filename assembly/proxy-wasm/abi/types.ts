// Enumerations of the proxy-wasm ABI v0.2.1 and of Envoy's filter API.
//
// Values are wire values: they cross the host/module boundary as i32. The host declares
// the same enums (harness/host/abi.ts, filter.ts); test/host/abi-enums.test.ts holds the
// two to the same names and values.
// Source: proxy-wasm/spec abi-versions/v0.2.1/README.md ("Types"), and
// proxy-wasm-cpp-sdk proxy_wasm_common.h / proxy_wasm_enums.h for the codes the spec
// leaves out (BadExpression, ResultMismatch, BrokenConnection, filter statuses).

/** `proxy_status_t`: the status every hostcall returns. */
export enum WasmResult {
  Ok = 0,
  NotFound = 1,
  BadArgument = 2,
  SerializationFailure = 3,
  ParseFailure = 4,
  /** Not in the v0.2.1 spec; Envoy returns it for a malformed property path. */
  BadExpression = 5,
  InvalidMemoryAccess = 6,
  Empty = 7,
  CasMismatch = 8,
  /** Not in the v0.2.1 spec; kept so that every host code has a name. */
  ResultMismatch = 9,
  InternalFailure = 10,
  /** Not in the v0.2.1 spec; kept so that every host code has a name. */
  BrokenConnection = 11,
  Unimplemented = 12,
}

/** `proxy_log_level_t`. */
export enum LogLevel {
  Trace = 0,
  Debug = 1,
  Info = 2,
  Warn = 3,
  Error = 4,
  Critical = 5,
}

/** `proxy_action_t`: what a stream callback returns in the spec's own terms. */
export enum Action {
  Continue = 0,
  Pause = 1,
}

/** `proxy_buffer_type_t`: buffers readable with `proxy_get_buffer_bytes`. */
export enum BufferType {
  HttpRequestBody = 0,
  HttpResponseBody = 1,
  DownstreamData = 2,
  UpstreamData = 3,
  HttpCallResponseBody = 4,
  GrpcCallMessage = 5,
  VmConfiguration = 6,
  PluginConfiguration = 7,
  ForeignFunctionArguments = 8,
}

/** `proxy_map_type_t`: header maps reachable with the `proxy_*_header_map_*` calls. */
export enum MapType {
  HttpRequestHeaders = 0,
  HttpRequestTrailers = 1,
  HttpResponseHeaders = 2,
  HttpResponseTrailers = 3,
  GrpcCallInitialMetadata = 4,
  GrpcCallTrailingMetadata = 5,
  HttpCallResponseHeaders = 6,
  HttpCallResponseTrailers = 7,
}

/** `proxy_peer_type_t`: which side closed a TCP connection. */
export enum PeerType {
  Unknown = 0,
  Local = 1,
  Remote = 2,
}

/** `proxy_stream_type_t`: argument of `proxy_continue_stream` / `proxy_close_stream`. */
export enum StreamType {
  HttpRequest = 0,
  HttpResponse = 1,
  Downstream = 2,
  Upstream = 3,
}

/** `proxy_metric_type_t`. */
export enum MetricType {
  Counter = 0,
  Gauge = 1,
  Histogram = 2,
}

/**
 * Return value of `proxy_on_request_headers` / `proxy_on_response_headers`, after
 * Envoy's `Http::FilterHeadersStatus` (envoy/http/filter.h). Envoy (proxy-wasm-cpp-host
 * src/context.cc) turns `StopIteration` into `StopAllIterationAndWatermark`.
 */
export enum FilterHeadersStatus {
  Continue = 0,
  StopIteration = 1,
  ContinueAndEndStream = 2,
  StopAllIterationAndBuffer = 3,
  StopAllIterationAndWatermark = 4,
}

/** Return value of `proxy_on_*_body`, after Envoy's `Http::FilterDataStatus`. */
export enum FilterDataStatus {
  Continue = 0,
  StopIterationAndBuffer = 1,
  StopIterationAndWatermark = 2,
  StopIterationNoBuffer = 3,
}

/** Return value of `proxy_on_*_trailers`, after Envoy's `Http::FilterTrailersStatus`. */
export enum FilterTrailersStatus {
  Continue = 0,
  StopIteration = 1,
}

/** Return value of the TCP callbacks, after Envoy's `Network::FilterStatus`. */
export enum FilterStatus {
  Continue = 0,
  StopIteration = 1,
}

/**
 * gRPC status codes (grpc/grpc doc/statuscodes.md), as used by `proxy_on_grpc_close`
 * and the `grpc_status` argument of `proxy_send_local_response`.
 */
export enum GrpcStatus {
  Ok = 0,
  Cancelled = 1,
  Unknown = 2,
  InvalidArgument = 3,
  DeadlineExceeded = 4,
  NotFound = 5,
  AlreadyExists = 6,
  PermissionDenied = 7,
  ResourceExhausted = 8,
  FailedPrecondition = 9,
  Aborted = 10,
  OutOfRange = 11,
  Unimplemented = 12,
  Internal = 13,
  Unavailable = 14,
  DataLoss = 15,
  Unauthenticated = 16,
  /** "No gRPC status": Envoy sends a plain HTTP local reply (context.cc sendLocalResponse). */
  None = -1,
}

/** `wasi_errno_t`: the codes Envoy's WASI functions return (proxy-wasm-cpp-host src/exports.cc). */
export enum WasiErrno {
  Success = 0,
  Badf = 8,
  Notdir = 20,
  Fault = 21,
  Inval = 28,
  Noent = 44,
  Nosys = 52,
  Notsup = 58,
}

/** `wasi_fd_id_t`. */
export enum WasiFd {
  Stdout = 1,
  Stderr = 2,
}

/** `wasi_clock_id_t`. */
export enum WasiClockId {
  Realtime = 0,
  Monotonic = 1,
}
