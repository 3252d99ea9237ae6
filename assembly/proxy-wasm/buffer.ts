// Buffers: bodies, TCP data, HTTP-call response bodies, gRPC messages, configurations.
//
// ABI: proxy_get_buffer_status, proxy_get_buffer_bytes, proxy_set_buffer_bytes
// (proxy-wasm/spec v0.2.1 "Buffers"). Which buffer is readable in which callback is
// listed there; outside it the host answers NotFound or BadArgument.

import { proxy_get_buffer_bytes, proxy_get_buffer_status, proxy_set_buffer_bytes } from './abi/imports';
import {
  RET_ID,
  RET_PTR,
  RET_SIZE,
  argPtr,
  argSize,
  argsBegin,
  hostMemoryMark,
  putString,
  takeBytes,
  takeResult,
  takeString,
  utf8MaxSize,
} from './abi/memory';
import { BufferType, WasmResult } from './abi/types';
import { setLastResult } from './state';

// "To the end" for start/size arguments: a start at or past the end appends, a size
// larger than the buffer covers all of it (Envoy context.cc Buffer::copyFrom/copyTo).
// i32's maximum, as proxy-wasm-go-sdk uses, so that no host reads it as negative.
const ALL: usize = <usize>i32.MAX_VALUE;

// Keeps start + size from overflowing: cpp-host rejects such a range (exports.cc
// get_buffer_bytes, "Check for overflow") and clamps the rest to the buffer.
// @ts-ignore: decorator
@inline
function clampSize(start: usize, size: usize): usize {
  if (start >= ALL) return 0;
  return size > ALL - start ? ALL - start : size;
}

/**
 * One buffer of the current context. Like `HeaderMap`, obtain it from the context (or
 * the exported constants for call responses and configurations) and use it right away.
 */
export class Buffer {
  constructor(readonly bufferType: BufferType) {}

  /** Size in bytes (`proxy_get_buffer_status`), 0 if unavailable (see `lastResult()`). */
  size(): usize {
    const r = proxy_get_buffer_status(this.bufferType, RET_SIZE, RET_ID);
    setLastResult(r);
    return r == WasmResult.Ok ? load<usize>(RET_SIZE) : 0;
  }

  /** Up to `maxSize` bytes from `start` (default: all), or null if unavailable. */
  get(start: usize = 0, maxSize: usize = ALL): ArrayBuffer | null {
    const mark = hostMemoryMark();
    const bytes = takeBytes(mark, proxy_get_buffer_bytes(this.bufferType, start, clampSize(start, maxSize), RET_PTR, RET_SIZE));
    setLastResult(takeResult);
    return bytes;
  }

  /** Like `get`, decoded from UTF-8. */
  getString(start: usize = 0, maxSize: usize = ALL): string | null {
    const mark = hostMemoryMark();
    const s = takeString(mark, proxy_get_buffer_bytes(this.bufferType, start, clampSize(start, maxSize), RET_PTR, RET_SIZE));
    setLastResult(takeResult);
    return s;
  }

  /**
   * Replaces `size` bytes at `start` with `value` (`proxy_set_buffer_bytes`). Envoy
   * (context.cc setBuffer) supports for bodies: start 0 and size 0 to prepend, start 0 and
   * size >= length to replace all, start >= length to append; others are BadArgument.
   */
  set(value: ArrayBuffer, start: usize, size: usize): WasmResult {
    return setLastResult(proxy_set_buffer_bytes(
      this.bufferType, start, size, changetype<usize>(value), <usize>value.byteLength,
    ));
  }

  /** Replaces the whole buffer with `value`. */
  replace(value: ArrayBuffer): WasmResult {
    return this.set(value, 0, ALL);
  }

  /** Replaces the whole buffer with the UTF-8 of `value`. */
  replaceString(value: string): WasmResult {
    return this.setString(value, 0, ALL);
  }

  /** Appends `value`. */
  append(value: ArrayBuffer): WasmResult {
    return this.set(value, ALL, 0);
  }

  /** Appends the UTF-8 of `value`. */
  appendString(value: string): WasmResult {
    return this.setString(value, ALL, 0);
  }

  /** Prepends `value`. */
  prepend(value: ArrayBuffer): WasmResult {
    return this.set(value, 0, 0);
  }

  private setString(value: string, start: usize, size: usize): WasmResult {
    argsBegin(utf8MaxSize(value));
    putString(value);
    return setLastResult(proxy_set_buffer_bytes(this.bufferType, start, size, argPtr, argSize));
  }
}

/** Body of the HTTP call being answered, in `onHttpCallResponse`. */
// @ts-ignore: decorator
@lazy export const httpCallResponseBody = new Buffer(BufferType.HttpCallResponseBody);
/** Message of a gRPC call, in `onGrpcReceive`. */
// @ts-ignore: decorator
@lazy export const grpcMessage = new Buffer(BufferType.GrpcCallMessage);
/** VM configuration, in `onVmStart`. */
// @ts-ignore: decorator
@lazy export const vmConfiguration = new Buffer(BufferType.VmConfiguration);
/** Plugin configuration, in `onConfigure`. */
// @ts-ignore: decorator
@lazy export const pluginConfiguration = new Buffer(BufferType.PluginConfiguration);
/** Arguments of a foreign function call, in `onForeignFunction`. */
// @ts-ignore: decorator
@lazy export const foreignFunctionArguments = new Buffer(BufferType.ForeignFunctionArguments);

// Per-stream buffers: contexts hand them out after making themselves effective.
// @ts-ignore: decorator
@lazy export const requestBodyBuffer = new Buffer(BufferType.HttpRequestBody);
// @ts-ignore: decorator
@lazy export const responseBodyBuffer = new Buffer(BufferType.HttpResponseBody);
// @ts-ignore: decorator
@lazy export const downstreamDataBuffer = new Buffer(BufferType.DownstreamData);
// @ts-ignore: decorator
@lazy export const upstreamDataBuffer = new Buffer(BufferType.UpstreamData);
