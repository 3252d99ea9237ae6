// Serialized header maps: the format every proxy-wasm map crosses the ABI in.
//
// proxy-wasm/spec abi-versions/v0.2.1/README.md, "Serialization": a u32 count, then a
// (name size, value size) pair of u32 per entry, then each name and value followed by
// a NUL byte; integers little-endian. An empty map is either no bytes or a single 0x00
// byte. Like proxy-wasm-cpp-host src/pairs_util.cc (PairsUtil::toPairs) a buffer that
// does not end exactly after the last value's NUL is rejected as a whole.
//
// Names and values are UTF-8 on the wire; as strings they are decoded leniently (bytes
// that are not UTF-8 never trap, they decode to replacement code units). A filter that
// needs the exact bytes of one value uses `HeaderMap.getBytes`.

/** One entry of a header map (or of gRPC metadata): `name` is lower case for HTTP. */
export class HeaderPair {
  constructor(public name: string, public value: string) {}
}

// Sizes above this are rejected before any arithmetic could overflow 32 bits.
const MAX_SERIALIZED: u64 = 0x7fff_ffff;

/**
 * Upper bound of the serialized size of `pairs` in bytes (3 UTF-8 bytes per UTF-16
 * code unit), so that callers can reserve memory before `serializePairsInto`.
 */
export function serializedPairsMaxSize(pairs: HeaderPair[]): usize {
  let size: usize = 4;
  for (let i = 0, n = pairs.length; i < n; i++) {
    const p = unchecked(pairs[i]);
    size += 10 + (<usize>p.name.length + <usize>p.value.length) * 3;
  }
  return size;
}

/**
 * Writes `pairs` serialized at `ptr`, which must have `serializedPairsMaxSize(pairs)`
 * bytes of room. Returns the number of bytes written. Unpaired surrogates are
 * written as WTF-8, as AssemblyScript's `String.UTF8` does.
 */
export function serializePairsInto(pairs: HeaderPair[], ptr: usize): usize {
  const n = pairs.length;
  store<u32>(ptr, <u32>n);
  let sizes = ptr + 4;
  let data = sizes + (<usize>n << 3);
  for (let i = 0; i < n; i++) {
    const p = unchecked(pairs[i]);
    const nameLen = String.UTF8.encodeUnsafe(changetype<usize>(p.name), p.name.length, data);
    store<u8>(data + nameLen, 0);
    data += nameLen + 1;
    const valueLen = String.UTF8.encodeUnsafe(changetype<usize>(p.value), p.value.length, data);
    store<u8>(data + valueLen, 0);
    data += valueLen + 1;
    store<u32>(sizes, <u32>nameLen);
    store<u32>(sizes, <u32>valueLen, 4);
    sizes += 8;
  }
  return data - ptr;
}

/** `pairs` serialized into a new buffer of exactly the serialized size. */
export function serializePairs(pairs: HeaderPair[]): ArrayBuffer {
  let size: usize = 4;
  for (let i = 0, n = pairs.length; i < n; i++) {
    const p = unchecked(pairs[i]);
    size += 10 + <usize>String.UTF8.byteLength(p.name) + <usize>String.UTF8.byteLength(p.value);
  }
  const buf = new ArrayBuffer(<i32>size);
  serializePairsInto(pairs, changetype<usize>(buf));
  return buf;
}

/**
 * Checks that `size` bytes at `ptr` are a well-formed serialized map and returns its
 * entry count, or -1 when they are not (truncated, wrong count, missing NUL, trailing
 * bytes). Reads nothing outside `[ptr, ptr + size)`.
 */
export function validatePairs(ptr: usize, size: usize): i32 {
  if (size == 0) return 0;
  if (size == 1) return load<u8>(ptr) == 0 ? 0 : -1;
  if (size < 4 || <u64>size > MAX_SERIALIZED) return -1;
  const n = <u64>load<u32>(ptr);
  const end = <u64>size;
  // Every entry takes at least 10 bytes: two sizes and two NULs.
  if (4 + n * 10 > end) return -1;
  let pos: u64 = 4 + n * 8;
  for (let i: u64 = 0; i < n; i++) {
    const sizes = ptr + 4 + <usize>(i << 3);
    pos += <u64>load<u32>(sizes);
    if (pos >= end || load<u8>(ptr + <usize>pos) != 0) return -1;
    pos += 1 + <u64>load<u32>(sizes, 4);
    if (pos >= end || load<u8>(ptr + <usize>pos) != 0) return -1;
    pos += 1;
  }
  return pos == end ? <i32>n : -1;
}

/**
 * Decodes the serialized map of `size` bytes at `ptr` into pairs, or returns null when
 * the bytes are not a well-formed map (see `validatePairs`). Never traps.
 */
export function deserializePairs(ptr: usize, size: usize): HeaderPair[] | null {
  const n = validatePairs(ptr, size);
  if (n < 0) return null;
  const pairs = new Array<HeaderPair>(n);
  if (n == 0) return pairs;
  let sizes = ptr + 4;
  let data = sizes + (<usize>n << 3);
  for (let i = 0; i < n; i++) {
    const nameLen = <usize>load<u32>(sizes);
    const valueLen = <usize>load<u32>(sizes, 4);
    sizes += 8;
    const name = String.UTF8.decodeUnsafe(data, nameLen);
    data += nameLen + 1;
    const value = String.UTF8.decodeUnsafe(data, valueLen);
    data += valueLen + 1;
    unchecked((pairs[i] = new HeaderPair(name, value)));
  }
  return pairs;
}

/** `deserializePairs` over a whole buffer. */
export function deserializePairsBuffer(buf: ArrayBuffer): HeaderPair[] | null {
  return deserializePairs(changetype<usize>(buf), <usize>buf.byteLength);
}
