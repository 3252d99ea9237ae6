/**
 * Test-only module (built by test/filters/rate-limit/global-proto.test.ts, never
 * shipped): assembly/protobuf and rls.ts exported with raw pointers, so that
 * test/filters/rate-limit/global-proto.test.ts can check them against protobufjs and
 * test/filters/rate-limit/rls.proto. The caller writes its input at `alloc`ated memory;
 * results are bytes at `output()`, the export returning their length (-1: malformed input).
 */
import { ProtoReader, ProtoWriter, WIRE_LEN, WIRE_VARINT } from "../../../assembly/protobuf";
import { RateLimitResponse, addEntry, beginRequest, endRequest } from "../rls";
import { ServiceQuota } from "../response-headers";

const writer = new ProtoWriter(16);
const response = new RateLimitResponse();
const quota = new ServiceQuota();
let out: ArrayBuffer = new ArrayBuffer(0);

/** `size` bytes outside the managed heap, for the caller's input. */
export function alloc(size: i32): usize {
  return heap.alloc(<usize>max(size, 1));
}

export function free(ptr: usize): void {
  heap.free(ptr);
}

/** Address of the last result. */
export function output(): usize {
  return changetype<usize>(out);
}

function result(bytes: ArrayBuffer): i32 {
  out = bytes;
  return bytes.byteLength;
}

/**
 * A `RateLimitRequest` with one descriptor from UTF-16 text at `ptr` (`units` code units):
 * the domain, then key and value of each entry, separated by U+0000 (lone surrogates
 * allowed: they are written as U+FFFD).
 */
export function encodeRequest(ptr: usize, units: i32): i32 {
  const parts = String.UTF16.decodeUnsafe(ptr, <usize>units << 1).split("\0");
  const mark = beginRequest(writer, unchecked(parts[0]));
  for (let i = 1; i + 1 < parts.length; i += 2) addEntry(writer, unchecked(parts[i]), unchecked(parts[i + 1]));
  endRequest(writer, mark);
  return result(writer.toBuffer());
}

/** Writes `n` UTF-16 units of `s` from 0 as a JSON array of numbers (no escaping needed). */
function units(s: string): string {
  let t = "[";
  for (let i = 0; i < s.length; i++) t += (i > 0 ? "," : "") + s.charCodeAt(i).toString();
  return t + "]";
}

/**
 * Decodes the `RateLimitResponse` of `length` bytes at `ptr`; the result is JSON (UTF-8)
 * of what rls.ts read and what `ServiceQuota` makes of it, or -1 when it is malformed.
 */
export function decodeResponse(ptr: usize, length: i32): i32 {
  if (!response.decodeAt(ptr, length)) return -1;
  let t = "{\"overall\":" + response.overallCode.toString() + ",\"statuses\":[";
  for (let i = 0; i < response.count; i++) {
    const s = unchecked(response.statuses[i]);
    if (i > 0) t += ",";
    t += "{\"code\":" + s.code.toString() + ",\"hasLimit\":" + (s.hasLimit ? "true" : "false") +
      ",\"requestsPerUnit\":" + s.requestsPerUnit.toString() + ",\"unit\":" + s.unit.toString() +
      ",\"name\":" + units(s.name) + ",\"remaining\":" + s.remaining.toString() +
      ",\"seconds\":\"" + s.resetSeconds.toString() + "\",\"nanos\":" + s.resetNanos.toString() + "}";
  }
  quota.read(response);
  t += "],\"quota\":{\"present\":" + (quota.present ? "true" : "false") + ",\"limit\":" + units(quota.limit) +
    ",\"remaining\":" + quota.remaining.toString() + ",\"reset\":" + quota.resetSeconds.toString() +
    ",\"retryAfter\":" + quota.retryAfterSeconds.toString() + "}}";
  return result(String.UTF8.encode(t));
}

/**
 * The values of repeated varint field `field` in the message at `ptr`, packed or not
 * (both may appear, in any order), as JSON strings of decimal; -1 when malformed.
 */
export function repeatedVarints(ptr: usize, length: i32, field: u32): i32 {
  const r = new ProtoReader(ptr, ptr + <usize>length);
  let t = "[";
  let n = 0;
  while (r.next()) {
    if (r.field != field) {
      r.skip();
      continue;
    }
    if (r.wireType == WIRE_VARINT) {
      const v = r.varintValue();
      if (!r.ok) break;
      t += (n++ > 0 ? "," : "") + "\"" + v.toString() + "\"";
    } else if (r.wireType == WIRE_LEN) {
      if (!r.bytes()) break;
      const packed = r.message();
      while (packed.more) {
        const v = packed.packedVarint();
        if (!packed.ok) return -1;
        t += (n++ > 0 ? "," : "") + "\"" + v.toString() + "\"";
      }
    } else {
      r.skip();
    }
  }
  if (!r.ok) return -1;
  return result(String.UTF8.encode(t + "]"));
}
