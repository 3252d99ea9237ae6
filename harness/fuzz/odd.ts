/**
 * Odd HTTP inputs for the filter fuzzers: header names and values with control bytes
 * (all but NUL, CR and LF, which Envoy's codecs refuse),
 * bytes that are not UTF-8, empty names and values, sizes up to Envoy's limits and
 * repeats; bodies in odd chunks. Header bytes travel as latin1 strings (one char per
 * octet), as the host keeps them (harness/host/header-map.ts).
 *
 * Also AssemblyScript's UTF-8 codec as the filters use it (std/assembly/string.ts
 * `String.UTF8.decodeUnsafe` / `encodeUnsafe`): the decoder does not validate (a byte
 * ≥ 0x80 starts a sequence whatever follows, a truncated one at the end is dropped, no
 * U+FFFD), the encoder writes lone surrogates as three bytes (WTF-8). A model of a filter
 * needs both to know which header values a filter sees as equal.
 */
import type { Rng } from './json-gen.ts';

/** Envoy's default `max_request_headers_kb` (60 KiB) and `max_headers_count` (100). */
export const MAX_HEADER_BYTES = 60 * 1024;
export const MAX_HEADER_COUNT = 100;

/** A header as the host holds it: name and value as latin1 strings. */
export type Pair = [string, string];

/** Bytes (latin1 string) → the string an AssemblyScript filter decodes from them. */
export function asDecode(bytes: string): string {
  const units: number[] = [];
  const n = bytes.length;
  let i = 0;
  while (i < n) {
    let u0 = bytes.charCodeAt(i++);
    if (u0 < 0x80) {
      units.push(u0);
      continue;
    }
    if (i === n) break;
    const u1 = bytes.charCodeAt(i++) & 63;
    if ((u0 & 0xe0) === 0xc0) {
      units.push(((u0 & 31) << 6) | u1);
      continue;
    }
    if (i === n) break;
    const u2 = bytes.charCodeAt(i++) & 63;
    if ((u0 & 0xf0) === 0xe0) u0 = ((u0 & 15) << 12) | (u1 << 6) | u2;
    else {
      if (i === n) break;
      u0 = ((u0 & 7) << 18) | (u1 << 12) | (u2 << 6) | (bytes.charCodeAt(i++) & 63);
    }
    if (u0 < 0x10000) units.push(u0);
    else {
      const v = u0 - 0x10000;
      units.push(((v >> 10) | 0xd800) & 0xffff, (v & 0x3ff) | 0xdc00);
    }
  }
  let out = '';
  for (let k = 0; k < units.length; k += 4096) out += String.fromCharCode(...units.slice(k, k + 4096));
  return out;
}

/** A string → the bytes (latin1 string) an AssemblyScript filter encodes it to (WTF-8). */
export function asEncode(s: string): string {
  const out: number[] = [];
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) out.push(c);
    else if (c < 0x800) out.push(0xc0 | (c >> 6), 0x80 | (c & 63));
    else {
      if (c >= 0xd800 && c < 0xdc00 && i + 1 < s.length) {
        const d = s.charCodeAt(i + 1);
        if (d >= 0xdc00 && d < 0xe000) {
          const cp = 0x10000 + ((c & 0x3ff) << 10) + (d & 0x3ff);
          out.push(0xf0 | (cp >> 18), 0x80 | ((cp >> 12) & 63), 0x80 | ((cp >> 6) & 63), 0x80 | (cp & 63));
          i++;
          continue;
        }
      }
      out.push(0xe0 | (c >> 12), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63));
    }
  }
  return Buffer.from(out).toString('latin1');
}

/** UTF-8 text as latin1 bytes (what a client sends for it). */
export const utf8Bytes = (text: string): string => Buffer.from(text, 'utf8').toString('latin1');

/**
 * Control bytes a header may carry through Envoy: its codecs refuse NUL, CR and LF in
 * any header (HTTP/1 parsers, RFC 9113 §8.2.1), so those never reach a filter.
 */
const CONTROL = [1, 8, 9, 11, 12, 27, 31, 127];
const UTF8_SAMPLES = ['é', '€', '😀', 'ß', '中', '\u2028', '\ufeff', '\u{10ffff}'];
/** Byte sequences that are not UTF-8 (and some that nearly are). */
const BROKEN_UTF8 = ['\xff', '\xfe', '\xc0\xaf', '\xe2\x82', '\xf0\x9f\x98', '\xed\xa0\x80', '\x80', '\xc3', '\xf8\x88\x80\x80\x80', '\xf4\x90\x80\x80'];
const PUNCT = [' ', '\t', ',', ';', '=', '"', '\\', '%', '%2', '%zz', '%00', '%0A', '%41', '+', '&', '?', '#', ':', '/', '.', '..'];

/** A short run of odd bytes (latin1). */
export function oddPiece(rng: Rng): string {
  switch (rng.int(7)) {
    case 0:
      return String.fromCharCode(rng.pick(CONTROL));
    case 1:
      return utf8Bytes(rng.pick(UTF8_SAMPLES));
    case 2:
      return rng.pick(BROKEN_UTF8);
    case 3:
      return rng.pick(PUNCT);
    case 4:
      return String.fromCharCode(0x80 + rng.int(0x80));
    case 5: {
      let s = '';
      for (let i = rng.int(12); i > 0; i--) s += String.fromCharCode(0x21 + rng.int(0x5e));
      return s;
    }
    default:
      return 'abcdefghijklmnopqrstuvwxyz0123456789'.slice(rng.int(20), 20 + rng.int(16));
  }
}

/**
 * A header value (latin1 bytes): usually plain, often with odd bytes, sometimes empty,
 * padded with spaces or tabs, or long (up to `maxBytes`).
 */
export function oddValue(rng: Rng, maxBytes = 256): string {
  const r = rng.int(20);
  if (r === 0) return '';
  if (r === 1) return ' \t'.slice(0, 1 + rng.int(2)).repeat(1 + rng.int(3));
  if (r === 2 && maxBytes > 256) {
    const unit = oddPiece(rng) || 'x';
    return unit.repeat(Math.ceil((1 + rng.int(maxBytes)) / unit.length)).slice(0, maxBytes);
  }
  let s = '';
  for (let i = 1 + rng.int(5); i > 0; i--) s += rng.chance(0.6) ? oddPiece(rng) : 'v' + rng.int(100);
  if (rng.chance(0.1)) s = ' ' + s;
  if (rng.chance(0.1)) s += '\t';
  return s.slice(0, maxBytes);
}

/** A header name: usually a plain token, sometimes empty, upper case, pseudo-looking or with odd bytes. */
export function oddName(rng: Rng): string {
  switch (rng.int(12)) {
    case 0:
      return '';
    case 1:
      return 'X-Odd-' + rng.int(10);
    case 2:
      return ':' + rng.pick(['authority', 'path', 'method', 'x', '']);
    case 3:
      return 'x-' + oddPiece(rng);
    case 4:
      return 'x_' + rng.pick(['user_id', 'a', 'b']);
    default:
      return 'x-h' + rng.int(8);
  }
}

/**
 * `extra` odd headers (names from `names` or odd ones), keeping the whole request within
 * Envoy's limits given `used` bytes and `count` headers already there.
 */
export function oddHeaders(rng: Rng, names: readonly string[], used = 0, count = 4): Pair[] {
  const out: Pair[] = [];
  let bytes = used;
  const room = Math.max(0, MAX_HEADER_COUNT - count);
  const n = rng.chance(0.02) ? room : rng.int(Math.min(room, 6) + 1);
  for (let i = 0; i < n; i++) {
    const name = names.length > 0 && rng.chance(0.6) ? rng.pick(names) : oddName(rng);
    const big = rng.chance(0.005);
    const value = oddValue(rng, big ? MAX_HEADER_BYTES - bytes - name.length - 64 : 128);
    if (bytes + name.length + value.length > MAX_HEADER_BYTES) break;
    bytes += name.length + value.length;
    out.push([name, value]);
    if (rng.chance(0.05)) out.push([name, value]); // a repeat
  }
  return out;
}

/** A body cut into odd chunks (latin1 strings): empty ones, single bytes, one big one. */
export function oddChunks(rng: Rng, maxBytes = 4096): string[] {
  const total = rng.chance(0.05) ? rng.int(maxBytes * 16) : rng.int(maxBytes);
  let body = '';
  while (body.length < total) body += oddPiece(rng) || 'b';
  body = body.slice(0, total);
  const chunks: string[] = [];
  let at = 0;
  while (at < body.length) {
    if (rng.chance(0.1)) chunks.push('');
    const size = rng.chance(0.2) ? 1 : 1 + rng.int(body.length - at);
    chunks.push(body.slice(at, at + size));
    at += size;
  }
  if (chunks.length === 0 || rng.chance(0.2)) chunks.push('');
  return chunks;
}
