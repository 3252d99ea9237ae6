// Runtime hooks the compiler would otherwise import from the host (`env.abort`,
// `env.trace`, `env.seed`): Envoy refuses a module with an import it does not provide.
//
// This folder is an asc library (`"lib"` in asconfig.json), so these functions are
// globals in every module, and `"use": ["abort=__proxy_wasm_abort", ...]` routes the
// compiler's calls to them. A library file cannot import project files, so the two
// host functions are declared here again (the optimizer merges duplicate imports).
//
// Modules that do not include the SDK keep the compiler's usual imports (see below),
// so plain test modules built with the same options load as before.
//
// Nothing here allocates: `abort` also runs on out-of-memory, and `trace` may run
// anywhere. Text is formatted into a static buffer; non-ASCII characters become '?'.

// What a module without the SDK (a plain test module) imports instead, as it would
// without this file: the SDK marks its presence with the global `__PROXY_WASM_SDK`.
// @ts-ignore: decorator
@external('env', 'abort')
declare function __proxy_wasm_env_abort(message: usize, fileName: usize, line: u32, column: u32): void;
// @ts-ignore: decorator
@external('env', 'trace')
declare function __proxy_wasm_env_trace(message: usize, n: i32, a0: f64, a1: f64, a2: f64, a3: f64, a4: f64): void;
// @ts-ignore: decorator
@external('env', 'seed')
declare function __proxy_wasm_env_seed(): f64;

// @ts-ignore: decorator
@external('env', 'proxy_log')
declare function __proxy_wasm_log(level: i32, messageData: usize, messageSize: usize): i32;

// @ts-ignore: decorator
@external('wasi_snapshot_preview1', 'random_get')
declare function __proxy_wasm_random_get(buffer: usize, bufferSize: usize): u32;

// @ts-ignore: decorator
@lazy const LINE_CAPACITY: usize = 1024;
// @ts-ignore: decorator
@lazy const line: usize = memory.data(1024);
// @ts-ignore: decorator
@lazy let lineSize: usize = 0;
// @ts-ignore: decorator
@lazy let aborting: bool = false;

function __proxy_wasm_put_text(text: string | null): void {
  if (text === null) return;
  const s = changetype<usize>(text);
  const n = <usize>load<u32>(s - 4) >> 1;
  for (let i: usize = 0; i < n && lineSize < LINE_CAPACITY; i++) {
    const c = load<u16>(s + (i << 1));
    store<u8>(line + lineSize++, c < 0x20 || c > 0x7e ? 0x3f : <u8>c);
  }
}

function __proxy_wasm_put_number(value: f64): void {
  let v = value;
  if (v < 0) {
    if (lineSize < LINE_CAPACITY) store<u8>(line + lineSize++, 0x2d);
    v = -v;
  }
  // Integers only (line, column, trace arguments truncated); 20 digits cover u64.
  let n = <u64>v;
  const digits = memory.data(20);
  let count = 0;
  do {
    store<u8>(digits + count++, <u8>(0x30 + n % 10));
    n /= 10;
  } while (n > 0 && count < 20);
  while (count > 0 && lineSize < LINE_CAPACITY) {
    store<u8>(line + lineSize++, load<u8>(digits + --count));
  }
}

/**
 * Replaces `abort` (failed assert, out-of-bounds, out-of-memory, explicit throw): logs
 * `abort: <message> at <file>:<line>:<column>` at CRITICAL through `proxy_log`, then
 * traps. The trap is the last resort: Envoy then applies the plugin's failure policy.
 */
export function __proxy_wasm_abort(message: string | null, fileName: string | null, lineNumber: u32, columnNumber: u32): void {
  // @ts-ignore: compile-time builtin
  if (!isDefined(__PROXY_WASM_SDK)) {
    __proxy_wasm_env_abort(changetype<usize>(message), changetype<usize>(fileName), lineNumber, columnNumber);
    unreachable();
  }
  if (!aborting) {
    aborting = true;
    lineSize = 0;
    __proxy_wasm_put_text('abort: ');
    __proxy_wasm_put_text(message);
    __proxy_wasm_put_text(' at ');
    __proxy_wasm_put_text(fileName);
    __proxy_wasm_put_text(':');
    __proxy_wasm_put_number(<f64>lineNumber);
    __proxy_wasm_put_text(':');
    __proxy_wasm_put_number(<f64>columnNumber);
    __proxy_wasm_log(5, line, lineSize);
    aborting = false;
  }
  unreachable();
}

/** Replaces `trace`: logs `trace: <message> <a0> ...` (integer parts) at TRACE. */
export function __proxy_wasm_trace(message: string, n: i32 = 0, a0: f64 = 0, a1: f64 = 0, a2: f64 = 0, a3: f64 = 0, a4: f64 = 0): void {
  // @ts-ignore: compile-time builtin
  if (!isDefined(__PROXY_WASM_SDK)) {
    __proxy_wasm_env_trace(changetype<usize>(message), n, a0, a1, a2, a3, a4);
    return;
  }
  lineSize = 0;
  __proxy_wasm_put_text('trace: ');
  __proxy_wasm_put_text(message);
  if (n > 0) { __proxy_wasm_put_text(' '); __proxy_wasm_put_number(a0); }
  if (n > 1) { __proxy_wasm_put_text(' '); __proxy_wasm_put_number(a1); }
  if (n > 2) { __proxy_wasm_put_text(' '); __proxy_wasm_put_number(a2); }
  if (n > 3) { __proxy_wasm_put_text(' '); __proxy_wasm_put_number(a3); }
  if (n > 4) { __proxy_wasm_put_text(' '); __proxy_wasm_put_number(a4); }
  __proxy_wasm_log(0, line, lineSize);
}

/** Replaces `seed` (Math.random's seed): 8 random bytes from WASI `random_get`. */
export function __proxy_wasm_seed(): f64 {
  // @ts-ignore: compile-time builtin
  if (!isDefined(__PROXY_WASM_SDK)) return __proxy_wasm_env_seed();
  const bytes = memory.data(8, 8);
  if (__proxy_wasm_random_get(bytes, 8) != 0) {
    // No randomness from the host: any fixed non-zero seed keeps Math.random working.
    return 1;
  }
  // Keep 52 bits: a finite, positive double.
  return <f64>(load<u64>(bytes) >>> 12);
}
