// The proxy-wasm SDK's public surface. Filters import from here and re-export
// `./exports` from their entry file (see README.md). Raw ABI and marshalling live in
// `./abi/`; a filter never needs them.

export {
  FilterDataStatus,
  FilterHeadersStatus,
  FilterStatus,
  FilterTrailersStatus,
  GrpcStatus,
  LogLevel,
  MapType,
  BufferType,
  MetricType,
  PeerType,
  StreamType,
  WasmResult,
} from './abi/types';
export { HeaderPair, serializePairs, deserializePairsBuffer } from './abi/pairs';
export { decodeBool, decodeDouble, decodeInt64, decodeString, decodeUint64 } from './abi/property';
export { logLevelName, wasmResultName } from './abi/status';

export {
  CallResult,
  CallStatus,
  Context,
  ContextKind,
  HttpContext,
  RootContext,
  StreamContext,
} from './context';
export { HttpContextChain, RootContextChain } from './chain';
export { RootContextFactory, registerRootContext } from './dispatch';
export {
  HeaderFields,
  HeaderMap,
  HeaderName,
  grpcInitialMetadata,
  grpcTrailingMetadata,
  httpCallResponseHeaders,
  httpCallResponseTrailers,
  requestHeadersMap,
  requestTrailersMap,
  responseHeadersMap,
  responseTrailersMap,
  utf8,
} from './headers';
export {
  Buffer,
  foreignFunctionArguments,
  grpcMessage,
  httpCallResponseBody,
  pluginConfiguration,
  vmConfiguration,
} from './buffer';
export {
  SharedData,
  SharedDataReader,
  SharedQueue,
  callForeignFunction,
  dequeueSharedQueue,
  enqueueSharedQueue,
  enqueueSharedQueueString,
  getCurrentTimeMilliseconds,
  getCurrentTimeNanoseconds,
  getMonotonicTimeNanoseconds,
  getProperty,
  getPropertyBool,
  getPropertyInt64,
  getPropertyPairs,
  getPropertyString,
  getPropertyUint64,
  getSharedData,
  getSharedDataBytes,
  registerSharedQueue,
  resolveSharedQueue,
  setProperty,
  setPropertyString,
  setSharedData,
  setSharedDataBytes,
  setSharedDataString,
} from './host';
export { ascii, asciiLowerCase, formatHex, formatInteger, formatNumber, formatUnsigned } from './format';
export { isLogEnabled, log, logCritical, logDebug, logError, logInfo, logTrace, logWarn } from './log';
export { Counter, Gauge, Histogram, Metric, metricName } from './metrics';
export { lastResult } from './state';
