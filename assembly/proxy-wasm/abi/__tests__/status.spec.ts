import { logLevelName, wasmResultName } from '../status';
import { GrpcStatus, LogLevel, WasmResult } from '../types';

describe('WasmResult', () => {
  it('has the wire values of proxy_status_t (spec "Types")', () => {
    expect<i32>(WasmResult.Ok).toBe(0);
    expect<i32>(WasmResult.NotFound).toBe(1);
    expect<i32>(WasmResult.BadArgument).toBe(2);
    expect<i32>(WasmResult.SerializationFailure).toBe(3);
    expect<i32>(WasmResult.ParseFailure).toBe(4);
    expect<i32>(WasmResult.InvalidMemoryAccess).toBe(6);
    expect<i32>(WasmResult.Empty).toBe(7);
    expect<i32>(WasmResult.CasMismatch).toBe(8);
    expect<i32>(WasmResult.InternalFailure).toBe(10);
    expect<i32>(WasmResult.Unimplemented).toBe(12);
  });

  it('maps each code to its proxy-wasm name, and unknown codes to UNKNOWN(n)', () => {
    expect(wasmResultName(WasmResult.Ok)).toBe('OK');
    expect(wasmResultName(WasmResult.NotFound)).toBe('NOT_FOUND');
    expect(wasmResultName(WasmResult.BadArgument)).toBe('BAD_ARGUMENT');
    expect(wasmResultName(WasmResult.SerializationFailure)).toBe('SERIALIZATION_FAILURE');
    expect(wasmResultName(WasmResult.ParseFailure)).toBe('PARSE_FAILURE');
    expect(wasmResultName(WasmResult.BadExpression)).toBe('BAD_EXPRESSION');
    expect(wasmResultName(WasmResult.InvalidMemoryAccess)).toBe('INVALID_MEMORY_ACCESS');
    expect(wasmResultName(WasmResult.Empty)).toBe('EMPTY');
    expect(wasmResultName(WasmResult.CasMismatch)).toBe('CAS_MISMATCH');
    expect(wasmResultName(WasmResult.ResultMismatch)).toBe('RESULT_MISMATCH');
    expect(wasmResultName(WasmResult.InternalFailure)).toBe('INTERNAL_FAILURE');
    expect(wasmResultName(WasmResult.BrokenConnection)).toBe('BROKEN_CONNECTION');
    expect(wasmResultName(WasmResult.Unimplemented)).toBe('UNIMPLEMENTED');
    expect(wasmResultName(<WasmResult>13)).toBe('UNKNOWN(13)');
    expect(wasmResultName(<WasmResult>-1)).toBe('UNKNOWN(4294967295)');
  });
});

describe('LogLevel', () => {
  it('has the wire values of proxy_log_level_t and their names', () => {
    expect<i32>(LogLevel.Trace).toBe(0);
    expect<i32>(LogLevel.Critical).toBe(5);
    expect(logLevelName(LogLevel.Trace)).toBe('TRACE');
    expect(logLevelName(LogLevel.Debug)).toBe('DEBUG');
    expect(logLevelName(LogLevel.Info)).toBe('INFO');
    expect(logLevelName(LogLevel.Warn)).toBe('WARN');
    expect(logLevelName(LogLevel.Error)).toBe('ERROR');
    expect(logLevelName(LogLevel.Critical)).toBe('CRITICAL');
    expect(logLevelName(<LogLevel>6)).toBe('UNKNOWN(6)');
  });
});

describe('GrpcStatus', () => {
  it('uses -1 for "no gRPC status" in local replies, and the gRPC codes otherwise', () => {
    expect<i32>(GrpcStatus.None).toBe(-1);
    expect<i32>(GrpcStatus.Unavailable).toBe(14);
    expect<i32>(GrpcStatus.Unauthenticated).toBe(16);
  });
});
