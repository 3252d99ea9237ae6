// Hostcalls that belong to no context: time, properties, shared data, shared queues,
// foreign functions. Each wraps one ABI function (proxy-wasm/spec v0.2.1) and returns
// a typed result; none traps on a host error.

import {
  clock_time_get,
  proxy_call_foreign_function,
  proxy_dequeue_shared_queue,
  proxy_enqueue_shared_queue,
  proxy_get_current_time_nanoseconds,
  proxy_get_property,
  proxy_get_shared_data,
  proxy_register_shared_queue,
  proxy_resolve_shared_queue,
  proxy_set_property,
  proxy_set_shared_data,
} from './abi/imports';
import {
  RET_CAS,
  RET_ID,
  RET_PTR,
  RET_SIZE,
  RET_U64,
  argPtr,
  argSize,
  argsBegin,
  hostMemoryMark,
  reserve,
  putString,
  releaseHostMemory,
  returnedRange,
  takeBytes,
  takeResult,
  takeString,
  utf8MaxSize,
} from './abi/memory';
import { HeaderPair, deserializePairs } from './abi/pairs';
import {
  decodeBool,
  decodeInt64,
  decodeUint64,
  encodePropertyPathInto,
  propertyPathMaxSize,
} from './abi/property';
import { WasmResult } from './abi/types';
import { setLastResult } from './state';

// ---------------------------------------------------------------------------
// Time

/**
 * Wall-clock time in ns since the Unix epoch (`proxy_get_current_time_nanoseconds`);
 * Envoy may freeze it for the duration of a callback. 0 if the host fails.
 */
export function getCurrentTimeNanoseconds(): u64 {
  const r = proxy_get_current_time_nanoseconds(RET_U64);
  setLastResult(r);
  return r == WasmResult.Ok ? load<u64>(RET_U64) : 0;
}

/**
 * Monotonic time in ns from an arbitrary origin: WASI `clock_time_get(1)` (monotonic),
 * which Envoy answers with its process-wide monotonic source (proxy-wasm-cpp-host
 * src/exports.cc `wasi_unstable_clock_time_get` → `getMonotonicTimeNanoseconds`), the
 * same clock for every worker VM and immune to wall-clock steps (NTP). A host without
 * it (an error answer) gets `getCurrentTimeNanoseconds` instead. Not a hostcall of the
 * proxy-wasm ABI, so `lastResult()` is left as it was unless the fallback runs.
 */
export function getMonotonicTimeNanoseconds(): u64 {
  if (clock_time_get(1, 1, RET_U64) == 0) return load<u64>(RET_U64);
  return getCurrentTimeNanoseconds();
}

/** `getCurrentTimeNanoseconds` in whole milliseconds. */
export function getCurrentTimeMilliseconds(): u64 {
  return getCurrentTimeNanoseconds() / 1_000_000;
}

// ---------------------------------------------------------------------------
// Properties

let pathPtr: usize = 0;
let pathSize: usize = 0;

// Encodes `path` into the argument scratch (pathPtr, pathSize), leaving `extra` bytes
// of room after it; false if a segment contains NUL.
function putPath(path: string[], extra: usize): bool {
  const max = propertyPathMaxSize(path);
  argsBegin(max + extra);
  const ptr = reserve(max);
  const size = encodePropertyPathInto(path, ptr);
  if (size < 0) return false;
  pathPtr = ptr;
  pathSize = <usize>size;
  return true;
}

// `proxy_get_property(path)`'s status; BadArgument, without a hostcall, when a segment
// contains NUL.
function requestProperty(path: string[]): WasmResult {
  return putPath(path, 0) ? proxy_get_property(pathPtr, pathSize, RET_PTR, RET_SIZE) : WasmResult.BadArgument;
}

/**
 * The raw value of property `path` (`proxy_get_property`; segments such as
 * `["request", "headers", "x-id"]`), or null: NotFound when absent, BadArgument when a
 * segment contains NUL (see `lastResult()`).
 */
export function getProperty(path: string[]): ArrayBuffer | null {
  const mark = hostMemoryMark();
  const value = takeBytes(mark, requestProperty(path));
  setLastResult(takeResult);
  return value;
}

/** A string property (Envoy sends strings raw), or null. */
export function getPropertyString(path: string[]): string | null {
  const mark = hostMemoryMark();
  const value = takeString(mark, requestProperty(path));
  setLastResult(takeResult);
  return value;
}

/**
 * An int64 property (8 bytes little endian; also durations and timestamps in ns), or
 * `fallback` when absent or not 8 bytes long (then `lastResult()` is not Ok).
 */
export function getPropertyInt64(path: string[], fallback: i64 = 0): i64 {
  const value = getProperty(path);
  if (!value) return fallback;
  if (value.byteLength != 8) {
    setLastResult(WasmResult.SerializationFailure);
    return fallback;
  }
  return decodeInt64(value, fallback);
}

/** A uint64 property, or `fallback` (see `getPropertyInt64`). */
export function getPropertyUint64(path: string[], fallback: u64 = 0): u64 {
  const value = getProperty(path);
  if (!value) return fallback;
  if (value.byteLength != 8) {
    setLastResult(WasmResult.SerializationFailure);
    return fallback;
  }
  return decodeUint64(value, fallback);
}

/** A bool property (1 byte), or `fallback` when absent or malformed. */
export function getPropertyBool(path: string[], fallback: bool = false): bool {
  const value = getProperty(path);
  if (!value) return fallback;
  if (value.byteLength != 1) {
    setLastResult(WasmResult.SerializationFailure);
    return fallback;
  }
  return decodeBool(value, fallback);
}

/** A map property (serialized pairs, e.g. `request.headers`), or null. */
export function getPropertyPairs(path: string[]): HeaderPair[] | null {
  const mark = hostMemoryMark();
  if (!returnedRange(mark, requestProperty(path))) {
    setLastResult(takeResult);
    return null;
  }
  const pairs = deserializePairs(load<usize>(RET_PTR), load<usize>(RET_SIZE));
  releaseHostMemory(mark);
  setLastResult(pairs ? WasmResult.Ok : WasmResult.SerializationFailure);
  return pairs;
}

/** Sets property `path` to `value` (`proxy_set_property`). */
export function setProperty(path: string[], value: ArrayBuffer): WasmResult {
  if (!putPath(path, 0)) return setLastResult(WasmResult.BadArgument);
  return setLastResult(proxy_set_property(
    pathPtr, pathSize, changetype<usize>(value), <usize>value.byteLength,
  ));
}

/** Sets property `path` to the UTF-8 of `value`. */
export function setPropertyString(path: string[], value: string): WasmResult {
  if (!putPath(path, utf8MaxSize(value))) return setLastResult(WasmResult.BadArgument);
  // The path block was reserved at its maximum size; the value goes after it.
  putString(value);
  return setLastResult(proxy_set_property(pathPtr, pathSize, argPtr, argSize));
}

// ---------------------------------------------------------------------------
// Shared data

/**
 * A shared data entry (`proxy_get_shared_data`): `status` Ok with `value` and `cas`, or
 * NotFound (value null, cas 0). Pass `cas` back to `setSharedData` for an atomic update.
 */
export class SharedData {
  constructor(readonly status: WasmResult, readonly value: ArrayBuffer | null, readonly cas: u32) {}

  /** Whether the key exists. */
  get found(): bool {
    return this.status == WasmResult.Ok;
  }

  /** The value decoded from UTF-8, or null. */
  valueString(): string | null {
    const v = this.value;
    return v ? String.UTF8.decode(v) : null;
  }
}

function getSharedDataAt(keyPtr: usize, keySize: usize): SharedData {
  const mark = hostMemoryMark();
  const value = takeBytes(mark, proxy_get_shared_data(keyPtr, keySize, RET_PTR, RET_SIZE, RET_CAS));
  setLastResult(takeResult);
  return value ? new SharedData(WasmResult.Ok, value, load<u32>(RET_CAS)) : new SharedData(takeResult, null, 0);
}

/** Reads shared data `key` (common to every VM of this `vm_id`). */
export function getSharedData(key: string): SharedData {
  argsBegin(utf8MaxSize(key));
  putString(key);
  return getSharedDataAt(argPtr, argSize);
}

/** `getSharedData` with a byte key. */
export function getSharedDataBytes(key: ArrayBuffer): SharedData {
  return getSharedDataAt(changetype<usize>(key), <usize>key.byteLength);
}

/**
 * `proxy_get_shared_data` for the request path: the value is copied into a buffer this
 * reader keeps for values of its size, so reading a record of a size read before
 * allocates nothing (`getSharedData` allocates the value and its `SharedData`). A read
 * overwrites the buffer the previous read of the same size returned: callers that keep
 * `value` keep it only until their next `read`.
 */
export class SharedDataReader {
  /** Ok when found, NotFound, or the host's error (`value` null, `cas` 0 unless Ok). */
  status: WasmResult = WasmResult.NotFound;
  /** The entry's CAS, for `setSharedData*`. */
  cas: u32 = 0;
  /**
   * The value, in a buffer reused by reads of its size; null unless `status` is Ok, and
   * null for a value longer than `maxBytes` (found: `status` Ok, its `cas` set).
   */
  value: ArrayBuffer | null = null;
  private readonly buffers: Array<ArrayBuffer> = [];

  /**
   * `maxSizes`: how many value sizes get a buffer kept (a value of another size is
   * allocated); `maxBytes`: the longest value copied (a reader of fixed-size records need
   * not copy, nor keep a buffer for, whatever else a key holds).
   */
  constructor(private readonly maxSizes: i32 = 16, private readonly maxBytes: i32 = i32.MAX_VALUE) {}

  /** Whether the key exists. */
  get found(): bool {
    return this.status == WasmResult.Ok;
  }

  /** Reads `key`; returns `found`. */
  read(key: ArrayBuffer): bool {
    const mark = hostMemoryMark();
    const status = proxy_get_shared_data(changetype<usize>(key), <usize>key.byteLength, RET_PTR, RET_SIZE, RET_CAS);
    if (!returnedRange(mark, status)) {
      setLastResult(takeResult);
      this.status = takeResult;
      this.cas = 0;
      this.value = null;
      return false;
    }
    const size = load<usize>(RET_SIZE);
    let out: ArrayBuffer | null = null;
    if (size <= <usize>this.maxBytes) {
      out = this.bufferOf(<i32>size);
      memory.copy(changetype<usize>(out), load<usize>(RET_PTR), size);
    }
    releaseHostMemory(mark);
    setLastResult(WasmResult.Ok);
    this.status = WasmResult.Ok;
    this.cas = load<u32>(RET_CAS);
    this.value = out;
    return true;
  }

  private bufferOf(size: i32): ArrayBuffer {
    const buffers = this.buffers;
    const n = buffers.length;
    for (let i = 0; i < n; i++) {
      const b = unchecked(buffers[i]);
      if (b.byteLength == size) return b;
    }
    const b = new ArrayBuffer(size);
    if (n < this.maxSizes) buffers.push(b);
    return b;
  }
}

/**
 * Writes shared data `key` (`proxy_set_shared_data`). With `cas` 0 the write is
 * unconditional; otherwise it succeeds only if the entry's CAS still equals `cas`, else
 * CasMismatch: read again and retry.
 */
export function setSharedData(key: string, value: ArrayBuffer, cas: u32 = 0): WasmResult {
  argsBegin(utf8MaxSize(key));
  putString(key);
  return setLastResult(proxy_set_shared_data(
    argPtr, argSize, changetype<usize>(value), <usize>value.byteLength, cas,
  ));
}

/** `setSharedData` with a string value, written as UTF-8. */
export function setSharedDataString(key: string, value: string, cas: u32 = 0): WasmResult {
  argsBegin(utf8MaxSize(key) + utf8MaxSize(value));
  putString(key);
  const kp = argPtr, ks = argSize;
  putString(value);
  return setLastResult(proxy_set_shared_data(kp, ks, argPtr, argSize, cas));
}

/** `setSharedData` with a byte key. */
export function setSharedDataBytes(key: ArrayBuffer, value: ArrayBuffer, cas: u32 = 0): WasmResult {
  return setLastResult(proxy_set_shared_data(
    changetype<usize>(key), <usize>key.byteLength,
    changetype<usize>(value), <usize>value.byteLength, cas,
  ));
}

// ---------------------------------------------------------------------------
// Shared queues

/** Id of a shared queue, or the status that kept it from being registered/resolved. */
export class SharedQueue {
  constructor(readonly status: WasmResult, readonly queueId: u32) {}

  get ok(): bool {
    return this.status == WasmResult.Ok;
  }
}

/**
 * Creates, or opens if it exists, the queue `name` of this VM's `vm_id`
 * (`proxy_register_shared_queue`). Items enqueued on it call `onQueueReady` of the root
 * context that registered it.
 */
export function registerSharedQueue(name: string): SharedQueue {
  argsBegin(utf8MaxSize(name));
  putString(name);
  const r = setLastResult(proxy_register_shared_queue(argPtr, argSize, RET_ID));
  return new SharedQueue(r, r == WasmResult.Ok ? load<u32>(RET_ID) : 0);
}

/** Finds the existing queue `name` of VM `vmId` (`proxy_resolve_shared_queue`); NotFound if none. */
export function resolveSharedQueue(vmId: string, name: string): SharedQueue {
  argsBegin(utf8MaxSize(vmId) + utf8MaxSize(name));
  putString(vmId);
  const vp = argPtr, vs = argSize;
  putString(name);
  const r = setLastResult(proxy_resolve_shared_queue(vp, vs, argPtr, argSize, RET_ID));
  return new SharedQueue(r, r == WasmResult.Ok ? load<u32>(RET_ID) : 0);
}

/** Appends `value` to queue `queueId` (`proxy_enqueue_shared_queue`). */
export function enqueueSharedQueue(queueId: u32, value: ArrayBuffer): WasmResult {
  return setLastResult(proxy_enqueue_shared_queue(
    queueId, changetype<usize>(value), <usize>value.byteLength,
  ));
}

/** Appends the UTF-8 of `value` to queue `queueId`. */
export function enqueueSharedQueueString(queueId: u32, value: string): WasmResult {
  argsBegin(utf8MaxSize(value));
  putString(value);
  return setLastResult(proxy_enqueue_shared_queue(queueId, argPtr, argSize));
}

/**
 * Takes the front item of queue `queueId` (`proxy_dequeue_shared_queue`), or null:
 * `lastResult()` is Empty when the queue has no item, NotFound for an unknown queue.
 */
export function dequeueSharedQueue(queueId: u32): ArrayBuffer | null {
  const mark = hostMemoryMark();
  const value = takeBytes(mark, proxy_dequeue_shared_queue(queueId, RET_PTR, RET_SIZE));
  setLastResult(takeResult);
  return value;
}

// ---------------------------------------------------------------------------
// Foreign functions

/**
 * Calls the host's foreign function `name` (`proxy_call_foreign_function`; Envoy's are
 * listed in source/extensions/common/wasm/foreign.cc) and returns its result bytes, or
 * null with `lastResult()` NotFound for an unknown function.
 */
export function callForeignFunction(name: string, args: ArrayBuffer | null): ArrayBuffer | null {
  argsBegin(utf8MaxSize(name));
  putString(name);
  const mark = hostMemoryMark();
  const value = takeBytes(mark, proxy_call_foreign_function(
    argPtr, argSize,
    args ? changetype<usize>(args) : 0, args ? <usize>args.byteLength : 0,
    RET_PTR, RET_SIZE,
  ));
  setLastResult(takeResult);
  return value;
}
