/**
 * base64url without padding (RFC 4648 §5), as JWS uses it (RFC 7515 §2): the segments
 * of a compact JWS and the members of a JWK.
 *
 * Decoding is strict, so that one byte string has exactly one accepted text:
 * `=` padding, characters outside `A–Z a–z 0–9 - _`, a length of 4k+1 characters and
 * non-zero unused bits in the last character (RFC 4648 §3.5) are all rejected.
 */

/** Returned by the decoders when the input is not canonical unpadded base64url. */
export const BASE64URL_INVALID: i32 = -1;

const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

// 6-bit value of each byte, 0xff for bytes outside the alphabet (built at start: 256 bytes).
const DECODE: usize = buildDecodeTable();
// The alphabet as bytes, for encoding.
const ENCODE: usize = buildEncodeTable();

function buildDecodeTable(): usize {
  const table = heap.alloc(256);
  memory.fill(table, 0xff, 256);
  for (let i = 0; i < 64; i++) store<u8>(table + <usize>ALPHABET.charCodeAt(i), <u8>i);
  return table;
}

function buildEncodeTable(): usize {
  const table = heap.alloc(64);
  for (let i = 0; i < 64; i++) store<u8>(table + <usize>i, <u8>ALPHABET.charCodeAt(i));
  return table;
}

/**
 * Bytes that `encodedLength` characters of unpadded base64url decode to, or
 * BASE64URL_INVALID for a length of 4k+1 (never produced by an encoder).
 */
export function base64urlDecodedLength(encodedLength: i32): i32 {
  if (encodedLength < 0) return BASE64URL_INVALID;
  const rem = encodedLength & 3;
  if (rem == 1) return BASE64URL_INVALID;
  return (encodedLength >> 2) * 3 + (rem == 0 ? 0 : rem - 1);
}

/** Characters of the unpadded base64url text of `byteLength` bytes. */
export function base64urlEncodedLength(byteLength: i32): i32 {
  const rem = byteLength % 3;
  return (byteLength / 3) * 4 + (rem == 0 ? 0 : rem + 1);
}

/**
 * Decodes the base64url text `src[start..end)` (ASCII bytes, e.g. a JWS segment as
 * received) into `out[outOffset..]`. Returns the number of bytes written, or
 * BASE64URL_INVALID when the text is not canonical unpadded base64url or `out` has no
 * room (nothing is promised about `out` then). Allocates nothing.
 */
export function base64urlDecodeInto(src: Uint8Array, start: i32, end: i32, out: Uint8Array, outOffset: i32 = 0): i32 {
  if (start < 0 || end > src.length || start > end) return BASE64URL_INVALID;
  const n = base64urlDecodedLength(end - start);
  if (n < 0 || outOffset < 0 || outOffset > out.length - n) return BASE64URL_INVALID;
  return base64urlDecodeRaw(src.dataStart + <usize>start, <usize>(end - start), out.dataStart + <usize>outOffset);
}

/**
 * As `base64urlDecodeInto`, for `len` ASCII bytes at `src` into `dst`, which must have
 * room for `base64urlDecodedLength(len)` bytes.
 */
export function base64urlDecodeRaw(src: usize, len: usize, dst: usize): i32 {
  const table = DECODE;
  const full = len & ~3;
  let o = dst;
  // OR of every 6-bit value: bit 0x80 set means a byte outside the alphabet was seen.
  let bad: u32 = 0;
  for (let i: usize = 0; i < full; i += 4) {
    const a = <u32>load<u8>(table + <usize>load<u8>(src + i));
    const b = <u32>load<u8>(table + <usize>load<u8>(src + i, 1));
    const c = <u32>load<u8>(table + <usize>load<u8>(src + i, 2));
    const d = <u32>load<u8>(table + <usize>load<u8>(src + i, 3));
    bad |= a | b | c | d;
    const v = (a << 18) | (b << 12) | (c << 6) | d;
    store<u8>(o, <u8>(v >> 16));
    store<u8>(o, <u8>(v >> 8), 1);
    store<u8>(o, <u8>v, 2);
    o += 3;
  }
  const rem = len - full;
  if (rem == 1) return BASE64URL_INVALID;
  if (rem >= 2) {
    const a = <u32>load<u8>(table + <usize>load<u8>(src + full));
    const b = <u32>load<u8>(table + <usize>load<u8>(src + full, 1));
    bad |= a | b;
    if (rem == 2) {
      // 12 bits carry 8: the low 4 bits of the last character must be zero.
      if (b & 0x0f) return BASE64URL_INVALID;
      store<u8>(o, <u8>((a << 2) | (b >> 4)));
      o += 1;
    } else {
      // 18 bits carry 16: the low 2 bits of the last character must be zero.
      const c = <u32>load<u8>(table + <usize>load<u8>(src + full, 2));
      bad |= c;
      if (c & 0x03) return BASE64URL_INVALID;
      const v = (a << 10) | (b << 4) | (c >> 2);
      store<u8>(o, <u8>(v >> 8));
      store<u8>(o, <u8>v, 1);
      o += 2;
    }
  }
  if (bad & 0x80) return BASE64URL_INVALID;
  return <i32>(o - dst);
}

/**
 * Decodes base64url text held in a string (e.g. a JWK member read by the JSON parser)
 * into a new array; null when the text is not canonical unpadded base64url.
 */
export function base64urlDecode(text: string): Uint8Array | null {
  const n = base64urlDecodedLength(text.length);
  if (n < 0) return null;
  // Non-ASCII characters become bytes outside the alphabet, so they are rejected.
  const ascii = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    ascii[i] = c < 0x80 ? <u8>c : 0xff;
  }
  const out = new Uint8Array(n);
  if (base64urlDecodeRaw(ascii.dataStart, <usize>ascii.length, out.dataStart) != n) return null;
  return out;
}

/**
 * Encodes `data[start..end)` as unpadded base64url ASCII into `out[outOffset..]`.
 * Returns the number of characters written, or BASE64URL_INVALID when a range is bad
 * or `out` has no room.
 */
export function base64urlEncodeInto(data: Uint8Array, start: i32, end: i32, out: Uint8Array, outOffset: i32 = 0): i32 {
  if (start < 0 || end > data.length || start > end) return BASE64URL_INVALID;
  const n = base64urlEncodedLength(end - start);
  if (outOffset < 0 || outOffset > out.length - n) return BASE64URL_INVALID;
  const table = ENCODE;
  const src = data.dataStart + <usize>start;
  const len = <usize>(end - start);
  let o = out.dataStart + <usize>outOffset;
  let i: usize = 0;
  for (; i + 3 <= len; i += 3) {
    const v = (<u32>load<u8>(src + i) << 16) | (<u32>load<u8>(src + i, 1) << 8) | <u32>load<u8>(src + i, 2);
    store<u8>(o, load<u8>(table + (v >> 18)));
    store<u8>(o, load<u8>(table + ((v >> 12) & 63)), 1);
    store<u8>(o, load<u8>(table + ((v >> 6) & 63)), 2);
    store<u8>(o, load<u8>(table + (v & 63)), 3);
    o += 4;
  }
  const rem = len - i;
  if (rem == 1) {
    const v = <u32>load<u8>(src + i);
    store<u8>(o, load<u8>(table + (v >> 2)));
    store<u8>(o, load<u8>(table + ((v << 4) & 63)), 1);
  } else if (rem == 2) {
    const v = (<u32>load<u8>(src + i) << 8) | <u32>load<u8>(src + i, 1);
    store<u8>(o, load<u8>(table + (v >> 10)));
    store<u8>(o, load<u8>(table + ((v >> 4) & 63)), 1);
    store<u8>(o, load<u8>(table + ((v << 2) & 63)), 2);
  }
  return n;
}

/** Unpadded base64url text of `data`, as a string. */
export function base64urlEncode(data: Uint8Array): string {
  const out = new Uint8Array(base64urlEncodedLength(data.length));
  base64urlEncodeInto(data, 0, data.length, out);
  return String.UTF8.decodeUnsafe(out.dataStart, <usize>out.length);
}
