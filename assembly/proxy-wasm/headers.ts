// Header maps (HTTP headers and trailers, HTTP-call responses, gRPC metadata).
//
// ABI: proxy_get/add/replace/remove_header_map_value, proxy_get/set_header_map_pairs,
// proxy_get_header_map_size (proxy-wasm/spec v0.2.1 "HTTP fields"). Each map is
// reachable only from certain callbacks (see the spec); outside them the host answers
// BadArgument or NotFound, which comes back as a status or a null, never a trap.

import {
  proxy_add_header_map_value,
  proxy_get_header_map_pairs,
  proxy_get_header_map_size,
  proxy_get_header_map_value,
  proxy_remove_header_map_value,
  proxy_replace_header_map_value,
  proxy_set_header_map_pairs,
} from './abi/imports';
import {
  RET_PTR,
  RET_SIZE,
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
import { HeaderPair, deserializePairs, serializePairsInto, serializedPairsMaxSize } from './abi/pairs';
import { MapType, WasmResult } from './abi/types';
import { setLastResult } from './state';

/** The UTF-8 bytes of `s`: compute header names once, pass them to the `*Bytes` methods. */
export function utf8(s: string): ArrayBuffer {
  return String.UTF8.encode(s);
}

// Encodes `name` then `value` into the argument scratch: the name at (namePtr,
// nameSize), the value at (argPtr, argSize).
let namePtr: usize = 0;
let nameSize: usize = 0;
function putNameValue(name: string, value: string): void {
  argsBegin(utf8MaxSize(name) + utf8MaxSize(value));
  putString(name);
  namePtr = argPtr;
  nameSize = argSize;
  putString(value);
}

/**
 * One header map of the current context. Obtain it from the context
 * (`this.requestHeaders`), which makes its context the effective one, and use it right
 * away. Names are lower case (HTTP/2 and Envoy's header maps). String methods encode
 * into a reused scratch block; `*Bytes` methods take precomputed UTF-8 (see `utf8`).
 */
export class HeaderMap {
  constructor(readonly mapType: MapType) {}

  /** The value of `name` (the first one if repeated), or null if absent or unavailable. */
  get(name: string): string | null {
    argsBegin(utf8MaxSize(name));
    putString(name);
    return this.getValueString(argPtr, argSize);
  }

  /** The value of the header whose UTF-8 name is `name`, or null. */
  getByName(name: ArrayBuffer): string | null {
    return this.getValueString(changetype<usize>(name), <usize>name.byteLength);
  }

  /** The exact bytes of the value of UTF-8 `name`, or null if absent or unavailable. */
  getBytes(name: ArrayBuffer): ArrayBuffer | null {
    const mark = hostMemoryMark();
    const value = takeBytes(mark, proxy_get_header_map_value(
      this.mapType, changetype<usize>(name), <usize>name.byteLength, RET_PTR, RET_SIZE,
    ));
    setLastResult(takeResult);
    return value;
  }

  /** Whether `name` is present (its value is not copied). */
  has(name: string): bool {
    argsBegin(utf8MaxSize(name));
    putString(name);
    const mark = hostMemoryMark();
    const r = proxy_get_header_map_value(this.mapType, argPtr, argSize, RET_PTR, RET_SIZE);
    releaseHostMemory(mark);
    setLastResult(r);
    return r == WasmResult.Ok;
  }

  /** Adds `name: value`, keeping existing values of `name`. */
  add(name: string, value: string): WasmResult {
    putNameValue(name, value);
    return setLastResult(proxy_add_header_map_value(this.mapType, namePtr, nameSize, argPtr, argSize));
  }

  /** `add` with UTF-8 name and value. */
  addBytes(name: ArrayBuffer, value: ArrayBuffer): WasmResult {
    return setLastResult(proxy_add_header_map_value(
      this.mapType, changetype<usize>(name), <usize>name.byteLength,
      changetype<usize>(value), <usize>value.byteLength,
    ));
  }

  /** Sets `name` to `value`, replacing every existing value (adds it if absent). */
  replace(name: string, value: string): WasmResult {
    putNameValue(name, value);
    return setLastResult(proxy_replace_header_map_value(this.mapType, namePtr, nameSize, argPtr, argSize));
  }

  /** `replace` with a UTF-8 name and a string value. */
  replaceByName(name: ArrayBuffer, value: string): WasmResult {
    argsBegin(utf8MaxSize(value));
    putString(value);
    return setLastResult(proxy_replace_header_map_value(
      this.mapType, changetype<usize>(name), <usize>name.byteLength, argPtr, argSize,
    ));
  }

  /** `replace` with UTF-8 name and value. */
  replaceBytes(name: ArrayBuffer, value: ArrayBuffer): WasmResult {
    return setLastResult(proxy_replace_header_map_value(
      this.mapType, changetype<usize>(name), <usize>name.byteLength,
      changetype<usize>(value), <usize>value.byteLength,
    ));
  }

  /** Removes every value of `name` (Ok when absent too). */
  remove(name: string): WasmResult {
    argsBegin(utf8MaxSize(name));
    putString(name);
    return setLastResult(proxy_remove_header_map_value(this.mapType, argPtr, argSize));
  }

  /** `remove` with a UTF-8 name. */
  removeBytes(name: ArrayBuffer): WasmResult {
    return setLastResult(proxy_remove_header_map_value(
      this.mapType, changetype<usize>(name), <usize>name.byteLength,
    ));
  }

  /**
   * Every entry in order (repeated names repeated), decoded in place from the host's
   * serialized map; null if the map is unavailable or the host's bytes are malformed
   * (`lastResult()` is then the host status, or SerializationFailure).
   */
  getAll(): HeaderPair[] | null {
    const mark = hostMemoryMark();
    if (!returnedRange(mark, proxy_get_header_map_pairs(this.mapType, RET_PTR, RET_SIZE))) {
      setLastResult(takeResult);
      return null;
    }
    const pairs = deserializePairs(load<usize>(RET_PTR), load<usize>(RET_SIZE));
    releaseHostMemory(mark);
    setLastResult(pairs ? WasmResult.Ok : WasmResult.SerializationFailure);
    return pairs;
  }

  /** Replaces the whole map with `pairs`. */
  setAll(pairs: HeaderPair[]): WasmResult {
    const max = serializedPairsMaxSize(pairs);
    argsBegin(max);
    const ptr = reserve(max);
    const size = serializePairsInto(pairs, ptr);
    return setLastResult(proxy_set_header_map_pairs(this.mapType, ptr, size));
  }

  /** Size in bytes of the serialized map (`proxy_get_header_map_size`), 0 if unavailable. */
  serializedSize(): usize {
    const r = proxy_get_header_map_size(this.mapType, RET_SIZE);
    setLastResult(r);
    return r == WasmResult.Ok ? load<usize>(RET_SIZE) : 0;
  }

  private getValueString(namePtr: usize, nameSize: usize): string | null {
    const mark = hostMemoryMark();
    const value = takeString(mark, proxy_get_header_map_value(this.mapType, namePtr, nameSize, RET_PTR, RET_SIZE));
    setLastResult(takeResult);
    return value;
  }
}

/** Response headers of the HTTP call being answered, in `onHttpCallResponse`. */
// @ts-ignore: decorator
@lazy export const httpCallResponseHeaders = new HeaderMap(MapType.HttpCallResponseHeaders);
/** Response trailers of the HTTP call being answered, in `onHttpCallResponse`. */
// @ts-ignore: decorator
@lazy export const httpCallResponseTrailers = new HeaderMap(MapType.HttpCallResponseTrailers);
/** Initial metadata of a gRPC call, in `onGrpcReceiveInitialMetadata`. */
// @ts-ignore: decorator
@lazy export const grpcInitialMetadata = new HeaderMap(MapType.GrpcCallInitialMetadata);
/** Trailing metadata of a gRPC call, in `onGrpcReceiveTrailingMetadata`. */
// @ts-ignore: decorator
@lazy export const grpcTrailingMetadata = new HeaderMap(MapType.GrpcCallTrailingMetadata);

// Per-stream maps: contexts hand them out after making themselves effective.
// @ts-ignore: decorator
@lazy export const requestHeadersMap = new HeaderMap(MapType.HttpRequestHeaders);
// @ts-ignore: decorator
@lazy export const requestTrailersMap = new HeaderMap(MapType.HttpRequestTrailers);
// @ts-ignore: decorator
@lazy export const responseHeadersMap = new HeaderMap(MapType.HttpResponseHeaders);
// @ts-ignore: decorator
@lazy export const responseTrailersMap = new HeaderMap(MapType.HttpResponseTrailers);
