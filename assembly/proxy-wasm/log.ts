// Logging through the host (`proxy_log`), skipped when the host would drop the line.

import { proxy_log } from './abi/imports';
import { argPtr, argSize, argsBegin, putString, utf8MaxSize } from './abi/memory';
import { LogLevel, WasmResult } from './abi/types';
import { currentHostLogLevel, setLastResult } from './state';

/**
 * Whether a line at `level` would be kept by the host (`proxy_get_log_level`, fetched at
 * most once per callback). Guard costly messages with it:
 * `if (isLogEnabled(LogLevel.Debug)) logDebug("claims: " + describe(claims))`.
 */
export function isLogEnabled(level: LogLevel): bool {
  return <i32>level >= currentHostLogLevel();
}

/**
 * Logs `message` at `level` with `proxy_log`; nothing happens (no hostcall) when the
 * host's level is above it. Returns the host's status (Ok when skipped).
 */
export function log(level: LogLevel, message: string): WasmResult {
  if (<i32>level < currentHostLogLevel()) return WasmResult.Ok;
  argsBegin(utf8MaxSize(message));
  putString(message);
  return setLastResult(proxy_log(level, argPtr, argSize));
}

/** `log(LogLevel.Trace, message)`. */
export function logTrace(message: string): void { log(LogLevel.Trace, message); }
/** `log(LogLevel.Debug, message)`. */
export function logDebug(message: string): void { log(LogLevel.Debug, message); }
/** `log(LogLevel.Info, message)`. */
export function logInfo(message: string): void { log(LogLevel.Info, message); }
/** `log(LogLevel.Warn, message)`. */
export function logWarn(message: string): void { log(LogLevel.Warn, message); }
/** `log(LogLevel.Error, message)`. */
export function logError(message: string): void { log(LogLevel.Error, message); }
/** `log(LogLevel.Critical, message)`. */
export function logCritical(message: string): void { log(LogLevel.Critical, message); }
