/**
 * The tape: how a parsed document is stored. One u64 entry per scalar (two for numbers),
 * one per container start, strings as (offset, length) into a copy of the input, so
 * that a parse makes a handful of allocations whatever the document holds, and strings
 * are decoded only when read (after the idea of simdjson's tape, Langdale & Lemire 2019).
 *
 *   bits 63..60  tag
 *   string       bit 59: has escapes or non-ASCII bytes; bits 58..32: byte length;
 *                bits 31..0: byte offset of the first byte after the opening quote
 *   array/object bits 59..32: item/member count; bits 31..0: tape index after the container
 *   int          bit 0: the literal was negative zero; the next entry holds the i64
 *   f64          the next entry holds the f64 bits
 *
 * An object's entries are its members in document order: a string entry for the name,
 * then the value's entries.
 */

export const TAG_NULL: u32 = 0;
export const TAG_FALSE: u32 = 1;
export const TAG_TRUE: u32 = 2;
export const TAG_INT: u32 = 3;
export const TAG_F64: u32 = 4;
export const TAG_STRING: u32 = 5;
export const TAG_ARRAY: u32 = 6;
export const TAG_OBJECT: u32 = 7;

export const STRING_ESCAPED: u64 = <u64>1 << 59;
/** Longest string the tape can describe (128 MiB - 1). */
export const MAX_STRING_BYTES: i32 = (1 << 27) - 1;
/** Most items or members one container can hold. */
export const MAX_CONTAINER_COUNT: i32 = (1 << 28) - 1;

/** Objects with more members than this get a hash index (built while checking for duplicates). */
export const INDEXED_OBJECT_MEMBERS: i32 = 32;

/** JSON whitespace (RFC 8259 §2): space, line feed, carriage return, tab. */
// @ts-ignore: decorator
@inline export function isJsonSpace(c: u8): bool {
  return c == 0x20 || c == 0x0a || c == 0x0d || c == 0x09;
}

// @ts-ignore: decorator
@inline export function tagOf(entry: u64): u32 {
  return <u32>(entry >> 60);
}

// @ts-ignore: decorator
@inline export function stringEntry(offset: u32, length: i32, escaped: bool): u64 {
  return (<u64>TAG_STRING << 60) | (escaped ? STRING_ESCAPED : 0) | (<u64>length << 32) | <u64>offset;
}

// @ts-ignore: decorator
@inline export function containerEntry(tag: u32, count: i32, end: i32): u64 {
  return (<u64>tag << 60) | (<u64>count << 32) | <u64><u32>end;
}

// @ts-ignore: decorator
@inline export function stringOffset(entry: u64): u32 {
  return <u32>entry;
}

// @ts-ignore: decorator
@inline export function stringLength(entry: u64): i32 {
  return <i32>((entry >> 32) & 0x7ffffff);
}

// @ts-ignore: decorator
@inline export function stringEscaped(entry: u64): bool {
  return (entry & STRING_ESCAPED) != 0;
}

// @ts-ignore: decorator
@inline export function containerCount(entry: u64): i32 {
  return <i32>((entry >> 32) & 0xfffffff);
}

// @ts-ignore: decorator
@inline export function containerEnd(entry: u64): i32 {
  return <i32><u32>entry;
}

/** Index of the entry after the value that starts at `pos`. */
// @ts-ignore: decorator
@inline export function skipValue(tape: usize, pos: i32): i32 {
  const entry = load<u64>(tape + (<usize>pos << 3));
  const tag = tagOf(entry);
  if (tag >= TAG_ARRAY) return containerEnd(entry);
  return tag == TAG_INT || tag == TAG_F64 ? pos + 2 : pos + 1;
}

// ---- string bodies (validated by the parser) ----------------------------------------

/** Value of a hex digit, or -1. */
// @ts-ignore: decorator
@inline export function hexValue(c: u32): i32 {
  if (c - 0x30 < 10) return <i32>(c - 0x30);
  const l = (c | 0x20) - 0x61;
  return l < 6 ? <i32>(l + 10) : -1;
}

/** The code unit of the 4 hex digits at p, or -1. */
export function hex4(p: usize): i32 {
  const a = hexValue(load<u8>(p));
  const b = hexValue(load<u8>(p, 1));
  const c = hexValue(load<u8>(p, 2));
  const d = hexValue(load<u8>(p, 3));
  if ((a | b | c | d) < 0) return -1;
  return (a << 12) | (b << 8) | (c << 4) | d;
}

/** UTF-16 length of a validated string body with escapes or UTF-8 sequences. */
export function escapedUtf16Length(p: usize, length: i32): i32 {
  const stop = p + <usize>length;
  let units = 0;
  while (p < stop) {
    const c = <u32>load<u8>(p);
    if (c == 0x5c) {
      p += load<u8>(p + 1) == 0x75 ? 6 : 2;
      units++;
    } else {
      // Continuation bytes add nothing; a 4-byte lead adds a surrogate pair.
      if ((c & 0xc0) != 0x80) units += c >= 0xf0 ? 2 : 1;
      p++;
    }
  }
  return units;
}

/** Decodes a validated string body with escapes or UTF-8 sequences as UTF-16 at `out`. */
export function decodeEscaped(out: usize, p: usize, length: i32): void {
  const stop = p + <usize>length;
  while (p < stop) {
    const c = <u32>load<u8>(p);
    if (c == 0x5c) {
      const e = <u32>load<u8>(p + 1);
      let unit: u32;
      if (e == 0x75) {
        unit = <u32>hex4(p + 2);
        p += 6;
      } else {
        p += 2;
        if (e == 0x62) unit = 0x08;
        else if (e == 0x66) unit = 0x0c;
        else if (e == 0x6e) unit = 0x0a;
        else if (e == 0x72) unit = 0x0d;
        else if (e == 0x74) unit = 0x09;
        else unit = e; // '"', '\\', '/'
      }
      store<u16>(out, <u16>unit);
      out += 2;
    } else if (c < 0x80) {
      store<u16>(out, <u16>c);
      out += 2;
      p++;
    } else if (c < 0xe0) {
      store<u16>(out, <u16>(((c & 0x1f) << 6) | (<u32>load<u8>(p + 1) & 0x3f)));
      out += 2;
      p += 2;
    } else if (c < 0xf0) {
      store<u16>(out, <u16>(((c & 0x0f) << 12) | ((<u32>load<u8>(p + 1) & 0x3f) << 6) | (<u32>load<u8>(p + 2) & 0x3f)));
      out += 2;
      p += 3;
    } else {
      const cp = ((c & 0x07) << 18) | ((<u32>load<u8>(p + 1) & 0x3f) << 12) |
        ((<u32>load<u8>(p + 2) & 0x3f) << 6) | (<u32>load<u8>(p + 3) & 0x3f);
      const v = cp - 0x10000;
      store<u16>(out, <u16>(0xd800 | (v >> 10)));
      store<u16>(out, <u16>(0xdc00 | (v & 0x3ff)), 2);
      out += 4;
      p += 4;
    }
  }
}

/** Widens `n` ASCII bytes at `src` to UTF-16 at `out`. */
export function widenAscii(out: usize, src: usize, n: i32): void {
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const w = <u64>load<u32>(src + <usize>i);
    store<u64>(out + (<usize>i << 1), (w & 0xff) | ((w & 0xff00) << 8) | ((w & 0xff0000) << 16) | ((w & 0xff000000) << 24));
  }
  for (; i < n; i++) store<u16>(out + (<usize>i << 1), load<u8>(src + <usize>i));
}

/** The string a tape string entry describes, decoded from `source`. */
export function decodeString(source: usize, entry: u64): string {
  const p = source + <usize>stringOffset(entry);
  const length = stringLength(entry);
  if (!stringEscaped(entry)) {
    const out = __new(<usize>length << 1, idof<string>());
    widenAscii(out, p, length);
    return changetype<string>(out);
  }
  const out = __new(<usize>escapedUtf16Length(p, length) << 1, idof<string>());
  decodeEscaped(out, p, length);
  return changetype<string>(out);
}

// ---- member-name hashing and comparison -----------------------------------------------

/** FNV-1a over UTF-16 code units (equal for the same name however it was escaped). */
export function hashUnits16(p: usize, units: i32): u32 {
  let h: u32 = 0x811c9dc5;
  for (let i = 0; i < units; i++) h = (h ^ <u32>load<u16>(p + (<usize>i << 1))) * 0x01000193;
  return h;
}

/** The same hash over ASCII bytes (each byte is its own code unit). */
export function hashAscii(p: usize, n: i32): u32 {
  let h: u32 = 0x811c9dc5;
  for (let i = 0; i < n; i++) h = (h ^ <u32>load<u8>(p + <usize>i)) * 0x01000193;
  return h;
}

// Names with escapes or non-ASCII bytes are decoded into a new string to be hashed or
// compared: they are rare (JOSE and configuration names are ASCII), and one code path
// through decodeString is smaller than decoding into scratch buffers.

/** Hash of the name a string entry describes (see hashUnits16). */
export function hashEntry(source: usize, entry: u64): u32 {
  if (!stringEscaped(entry)) return hashAscii(source + <usize>stringOffset(entry), stringLength(entry));
  const s = decodeString(source, entry);
  return hashUnits16(changetype<usize>(s), s.length);
}

/** Whether two string entries (of the same source) decode to the same string. */
export function entriesEqual(source: usize, a: u64, b: u64): bool {
  if (!stringEscaped(a) && !stringEscaped(b)) {
    const la = stringLength(a);
    return la == stringLength(b) &&
      memory.compare(source + <usize>stringOffset(a), source + <usize>stringOffset(b), <usize>la) == 0;
  }
  return decodeString(source, a) == decodeString(source, b);
}

/** Whether a string entry decodes to `s`; allocates only for a name with escapes or non-ASCII bytes. */
export function entryEquals(source: usize, entry: u64, s: string): bool {
  if (stringEscaped(entry)) return decodeString(source, entry) == s;
  const p = source + <usize>stringOffset(entry);
  const n = s.length;
  if (stringLength(entry) != n) return false;
  const q = changetype<usize>(s);
  for (let i = 0; i < n; i++) {
    if (<u32>load<u8>(p + <usize>i) != <u32>load<u16>(q + (<usize>i << 1))) return false;
  }
  return true;
}

// ---- hash index of large objects --------------------------------------------------------

/**
 * Open addressing table: pairs (hash, tape index of the member's name entry + 1; 0 =
 * empty), capacity a power of two at least twice the member count, then one more i32:
 * the tape index of the object (so that a document finds it without a map).
 */
export function indexCapacity(members: i32): i32 {
  let capacity = 64;
  while (capacity < members * 2) capacity <<= 1;
  return capacity;
}

/**
 * Inserts a name into `table`; returns the tape index of an equal name already there
 * (a duplicate), or -1.
 */
export function indexInsert(table: StaticArray<i32>, tape: usize, source: usize, hash: u32, namePos: i32): i32 {
  const mask = (table.length >> 1) - 1;
  const entry = load<u64>(tape + (<usize>namePos << 3));
  let slot = <i32>hash & mask;
  while (true) {
    const stored = unchecked(table[(slot << 1) + 1]);
    if (stored == 0) {
      unchecked((table[slot << 1] = <i32>hash));
      unchecked((table[(slot << 1) + 1] = namePos + 1));
      return -1;
    }
    if (<u32>unchecked(table[slot << 1]) == hash && entriesEqual(source, load<u64>(tape + (<usize>(stored - 1) << 3)), entry)) {
      return stored - 1;
    }
    slot = (slot + 1) & mask;
  }
}

/** Tape index of the name entry equal to `key` in `table`, or -1. */
export function indexFind(table: StaticArray<i32>, tape: usize, source: usize, key: string): i32 {
  const mask = (table.length >> 1) - 1;
  const hash = hashUnits16(changetype<usize>(key), key.length);
  let slot = <i32>hash & mask;
  while (true) {
    const stored = unchecked(table[(slot << 1) + 1]);
    if (stored == 0) return -1;
    if (<u32>unchecked(table[slot << 1]) == hash && entryEquals(source, load<u64>(tape + (<usize>(stored - 1) << 3)), key)) {
      return stored - 1;
    }
    slot = (slot + 1) & mask;
  }
}
