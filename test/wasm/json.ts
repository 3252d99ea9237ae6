// Test-only module: the JSON parser and writer of assembly/json/ exported with raw
// pointers, for the vitest differential test, the fuzzer (harness/fuzz/) and the bench
// (harness/bench/json.ts). Built by `npm run build -- --tests` into build/test/json.wasm.
//
// Memory exchange: the JS side allocates an input area with `alloc`, writes bytes,
// calls an export with (ptr, len) and frees the area with `dealloc`. Results that are
// bytes are left at `outputPtr()` for `outputLength()` bytes until the next call.
import { JsonOptions, JsonWriter, parseJsonAt } from "../../assembly/json";

/** Allocates `size` bytes outside the GC heap (never moved or collected). */
export function alloc(size: usize): usize {
  return heap.alloc(size);
}

export function dealloc(ptr: usize): void {
  heap.free(ptr);
}

const writer = new JsonWriter(4096);
let output: Uint8Array = new Uint8Array(0);

export function outputPtr(): usize {
  return output.dataStart;
}

export function outputLength(): i32 {
  return output.length;
}

/**
 * Parses `len` bytes at `ptr` with the given limits. Returns 0 and leaves the document
 * re-serialized by JsonWriter (integers exactly, member order kept) as the output; or
 * returns the JsonErrorKind and leaves `<offset> <message>` as the output.
 */
export function parse(ptr: usize, len: i32, maxDepth: i32, maxBytes: i32): i32 {
  const result = parseJsonAt(ptr, len, new JsonOptions(maxDepth, maxBytes));
  if (result.ok) {
    output = writer.reset().value(result.value!).toBytes();
    return 0;
  }
  const error = result.error!;
  output = Uint8Array.wrap(String.UTF8.encode(error.offset.toString() + " " + error.message));
  return error.kind;
}

// @ts-ignore: decorator
@lazy const benchOptions = new JsonOptions(16, 8192);

/** Parses with the limits jwt-auth uses for a payload; returns the error kind (0 = ok). For the bench. */
export function parseOnly(ptr: usize, len: i32): i32 {
  const result = parseJsonAt(ptr, len, benchOptions);
  return result.ok ? 0 : result.error!.kind;
}

/**
 * What jwt-auth does with a payload: parse, then read `exp` (i64), `iss` and `sub`
 * (strings). Returns `exp`, or -1 when the payload is not an object with an integer
 * `exp`. For the bench.
 */
export function parseClaims(ptr: usize, len: i32): i64 {
  const result = parseJsonAt(ptr, len, benchOptions);
  if (!result.ok) return -1;
  const claims = result.value!;
  const exp = claims.get("exp");
  if (exp === null || !exp.isInteger()) return -1;
  if (claims.getString("iss").length == 0 || claims.getString("sub").length == 0) return -1;
  return exp.asI64();
}
