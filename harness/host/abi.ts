/**
 * Proxy-Wasm ABI constants as the host sees them: proxy-wasm/spec
 * `abi-versions/v0.2.1/README.md` ("Types"), plus the codes proxy-wasm-cpp-host
 * (`include/proxy-wasm/word.h`, `context_interface.h`) uses beyond the spec.
 * The HTTP filter statuses live in `harness/host/filter.ts`. The SDK declares the same
 * enums in `assembly/proxy-wasm/abi/types.ts`; test/host/abi-enums.test.ts holds the
 * two to the same names and values.
 */

/** `proxy_status_t` (cpp-host `WasmResult`). */
export enum WasmResult {
  Ok = 0,
  NotFound = 1,
  BadArgument = 2,
  SerializationFailure = 3,
  ParseFailure = 4,
  BadExpression = 5,
  InvalidMemoryAccess = 6,
  Empty = 7,
  CasMismatch = 8,
  ResultMismatch = 9,
  InternalFailure = 10,
  BrokenConnection = 11,
  Unimplemented = 12,
}

/** `proxy_log_level_t`; Envoy maps them 1:1 onto spdlog levels (context.cc `Context::log`). */
export enum LogLevel {
  Trace = 0,
  Debug = 1,
  Info = 2,
  Warn = 3,
  Error = 4,
  Critical = 5,
}

/** spdlog's level names, as Envoy prints them (`[warning]`) and `--log-level` takes them. */
export const LOG_LEVEL_NAMES = ['trace', 'debug', 'info', 'warning', 'error', 'critical'] as const;
/** A `LogLevel` by name (`LOG_LEVEL_NAMES[level]`). */
export type LogLevelName = (typeof LOG_LEVEL_NAMES)[number];

/** `proxy_buffer_type_t`. */
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

/** `proxy_map_type_t`. */
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

/** `proxy_stream_type_t`. */
export enum StreamType {
  HttpRequest = 0,
  HttpResponse = 1,
  Downstream = 2,
  Upstream = 3,
}

/** The last value of each type a hostcall range-checks (cpp-host's `MAX` members). */
export const MAX_BUFFER_TYPE = BufferType.ForeignFunctionArguments;
export const MAX_MAP_TYPE = MapType.HttpCallResponseTrailers;
export const MAX_STREAM_TYPE = StreamType.Upstream;

/** `proxy_metric_type_t`. */
export enum MetricType {
  Counter = 0,
  Gauge = 1,
  Histogram = 2,
}

/** `wasi_errno_t` values Envoy returns (cpp-host src/exports.cc). */
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

/** `wasi_fd_id_t`: the descriptors Envoy writes to its log. */
export enum WasiFd {
  Stdout = 1,
  Stderr = 2,
}

/** `wasi_clock_id_t`: the clocks `clock_time_get` reads. */
export enum WasiClockId {
  Realtime = 0,
  Monotonic = 1,
}

/** The ABI a module declares by exporting `proxy_abi_version_*` (cpp-host bytecode_util.cc). */
export enum AbiVersion {
  V0_1_0 = '0.1.0',
  V0_2_0 = '0.2.0',
  V0_2_1 = '0.2.1',
}

/** cpp-host `FailState`: why a VM stopped being usable. */
export enum FailState {
  Ok = 'Ok',
  UnableToCreateVm = 'UnableToCreateVm',
  UnableToCloneVm = 'UnableToCloneVm',
  MissingFunction = 'MissingFunction',
  UnableToInitializeCode = 'UnableToInitializeCode',
  StartFailed = 'StartFailed',
  ConfigureFailed = 'ConfigureFailed',
  RuntimeError = 'RuntimeError',
}

/**
 * `envoy.extensions.wasm.v3.FailurePolicy` (Envoy >= 1.33). `fail_open: true` of older
 * configs maps to FAIL_OPEN, unset to FAIL_CLOSED (Envoy common/wasm/wasm.cc `PluginConfig`).
 */
export type FailurePolicy = 'FAIL_CLOSED' | 'FAIL_OPEN' | 'FAIL_RELOAD';

/**
 * gRPC status codes (grpc/grpc doc/statuscodes.md): `proxy_on_grpc_close`, the
 * `grpc_status` of `proxy_send_local_response`, Envoy's gRPC local replies.
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
  /** No gRPC status: a plain HTTP local reply (what SDKs pass to `proxy_send_local_response`). */
  None = -1,
}
