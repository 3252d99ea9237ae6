// Names of ABI codes, for log lines and errors.

import { formatUnsigned } from '../format';
import { LogLevel, WasmResult } from './types';

/**
 * The proxy-wasm name of a `proxy_status_t` code (spec "Types"; codes 5, 9, 11 from
 * proxy-wasm-cpp-sdk proxy_wasm_common.h), e.g. `NOT_FOUND`; `UNKNOWN(<code>)` for a
 * code no host defines.
 */
export function wasmResultName(result: WasmResult): string {
  switch (result) {
    case WasmResult.Ok: return 'OK';
    case WasmResult.NotFound: return 'NOT_FOUND';
    case WasmResult.BadArgument: return 'BAD_ARGUMENT';
    case WasmResult.SerializationFailure: return 'SERIALIZATION_FAILURE';
    case WasmResult.ParseFailure: return 'PARSE_FAILURE';
    case WasmResult.BadExpression: return 'BAD_EXPRESSION';
    case WasmResult.InvalidMemoryAccess: return 'INVALID_MEMORY_ACCESS';
    case WasmResult.Empty: return 'EMPTY';
    case WasmResult.CasMismatch: return 'CAS_MISMATCH';
    case WasmResult.ResultMismatch: return 'RESULT_MISMATCH';
    case WasmResult.InternalFailure: return 'INTERNAL_FAILURE';
    case WasmResult.BrokenConnection: return 'BROKEN_CONNECTION';
    case WasmResult.Unimplemented: return 'UNIMPLEMENTED';
  }
  return 'UNKNOWN(' + formatUnsigned(<u32>result) + ')';
}

/** The proxy-wasm name of a `proxy_log_level_t`, e.g. `WARN`; `UNKNOWN(<level>)` otherwise. */
export function logLevelName(level: LogLevel): string {
  switch (level) {
    case LogLevel.Trace: return 'TRACE';
    case LogLevel.Debug: return 'DEBUG';
    case LogLevel.Info: return 'INFO';
    case LogLevel.Warn: return 'WARN';
    case LogLevel.Error: return 'ERROR';
    case LogLevel.Critical: return 'CRITICAL';
  }
  return 'UNKNOWN(' + formatUnsigned(<u32>level) + ')';
}
