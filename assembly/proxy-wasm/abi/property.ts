// Property paths and the encodings Envoy gives property values.
//
// A path is its segments joined by NUL, with no trailing NUL: Envoy's
// Context::getProperty (source/extensions/common/wasm/context.cc) splits on '\0' and
// looks up every part, so a trailing NUL would name an empty last segment.
// Values (same file, `serializeValue`): strings and bytes raw; int64, uint64, double,
// durations and timestamps (nanoseconds) as 8 bytes little endian; bool as 1 byte;
// maps (e.g. `request.headers`) as serialized pairs (see pairs.ts).

/** Upper bound of the encoded size of `segments` in bytes. */
export function propertyPathMaxSize(segments: string[]): usize {
  let size: usize = 0;
  for (let i = 0, n = segments.length; i < n; i++) {
    size += <usize>unchecked(segments[i]).length * 3 + 1;
  }
  return size;
}

/**
 * Writes the encoded path at `ptr` (which has `propertyPathMaxSize` bytes of room) and
 * returns its size, or -1 when a segment contains NUL (it would split the segment).
 */
export function encodePropertyPathInto(segments: string[], ptr: usize): isize {
  let pos = ptr;
  for (let i = 0, n = segments.length; i < n; i++) {
    const s = unchecked(segments[i]);
    if (i > 0) store<u8>(pos++, 0);
    const len = String.UTF8.encodeUnsafe(changetype<usize>(s), s.length, pos);
    for (let j: usize = 0; j < len; j++) {
      if (load<u8>(pos + j) == 0) return -1;
    }
    pos += len;
  }
  return <isize>(pos - ptr);
}

/** The encoded path in a new buffer, or null when a segment contains NUL. */
export function encodePropertyPath(segments: string[]): ArrayBuffer | null {
  const scratch = new ArrayBuffer(<i32>propertyPathMaxSize(segments));
  const size = encodePropertyPathInto(segments, changetype<usize>(scratch));
  if (size < 0) return null;
  return scratch.slice(0, <i32>size);
}

/** An int64 value (also durations and timestamps, in ns), or `fallback` unless 8 bytes long. */
export function decodeInt64(value: ArrayBuffer, fallback: i64 = 0): i64 {
  return value.byteLength == 8 ? load<i64>(changetype<usize>(value)) : fallback;
}

/** A uint64 value, or `fallback` unless the value is 8 bytes long. */
export function decodeUint64(value: ArrayBuffer, fallback: u64 = 0): u64 {
  return value.byteLength == 8 ? load<u64>(changetype<usize>(value)) : fallback;
}

/** A double value, or `fallback` unless the value is 8 bytes long. */
export function decodeDouble(value: ArrayBuffer, fallback: f64 = 0): f64 {
  return value.byteLength == 8 ? load<f64>(changetype<usize>(value)) : fallback;
}

/** A bool value (one byte, non-zero is true), or `fallback` unless 1 byte long. */
export function decodeBool(value: ArrayBuffer, fallback: bool = false): bool {
  return value.byteLength == 1 ? load<u8>(changetype<usize>(value)) != 0 : fallback;
}

/** A string or bytes value, decoded from UTF-8 (leniently: never traps). */
export function decodeString(value: ArrayBuffer): string {
  return String.UTF8.decode(value);
}
