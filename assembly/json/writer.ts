/**
 * JSON writer (RFC 8259) producing UTF-8 bytes, for what the filters emit: error bodies,
 * claims forwarded as headers, JWKS cached in shared data.
 *
 * Strings are escaped per RFC 8259 §7: `"` and `\` with a backslash, U+0000–U+001F as
 * `\b \f \n \r \t` or `\u00xx`; everything else is written as UTF-8. A lone surrogate in
 * an AssemblyScript string (UTF-16) is written as U+FFFD, so that the output is always
 * well-formed UTF-8 that `parseJson` accepts back. Non-finite numbers are written as
 * `null`, as `JSON.stringify` does.
 */
import { JsonKind, JsonValue } from "./value";
import { dtoa_buffered } from "util/number";

const HEX = "0123456789abcdef";
// UTF-16 scratch for dtoa_buffered (at most 28 code units).
const dtoaScratch = memory.data(64);

export class JsonWriter {
  private buffer: ArrayBuffer;
  private size: i32 = 0;
  // Whether the innermost open container has no item yet; outer levels on `levels`.
  private first: bool = true;
  private afterName: bool = false;
  private levels: Array<bool> = new Array<bool>();

  constructor(initialCapacity: i32 = 256) {
    this.buffer = new ArrayBuffer(initialCapacity > 16 ? initialCapacity : 16);
  }

  /** Bytes written so far. */
  get byteLength(): i32 {
    return this.size;
  }

  /** Address of the output (valid until the next write), for handing to a hostcall with `byteLength`. */
  get dataStart(): usize {
    return changetype<usize>(this.buffer);
  }

  /** Forgets the output and any open containers; keeps the buffer for reuse. */
  reset(): JsonWriter {
    this.size = 0;
    this.first = true;
    this.afterName = false;
    this.levels.length = 0;
    return this;
  }

  /** A copy of the output. */
  toBytes(): Uint8Array {
    const out = new Uint8Array(this.size);
    memory.copy(out.dataStart, changetype<usize>(this.buffer), <usize>this.size);
    return out;
  }

  /** A copy of the output as an ArrayBuffer (what SDK byte APIs take). */
  toArrayBuffer(): ArrayBuffer {
    return this.buffer.slice(0, this.size);
  }

  /** The output decoded as a string. */
  toString(): string {
    return String.UTF8.decodeUnsafe(changetype<usize>(this.buffer), <usize>this.size);
  }

  // ---- structure ----------------------------------------------------------------

  beginObject(): JsonWriter {
    this.beforeValue();
    this.byte(0x7b);
    this.levels.push(this.first);
    this.first = true;
    return this;
  }

  endObject(): JsonWriter {
    this.byte(0x7d);
    this.first = this.levels.length > 0 ? this.levels.pop() : false;
    return this;
  }

  beginArray(): JsonWriter {
    this.beforeValue();
    this.byte(0x5b);
    this.levels.push(this.first);
    this.first = true;
    return this;
  }

  endArray(): JsonWriter {
    this.byte(0x5d);
    this.first = this.levels.length > 0 ? this.levels.pop() : false;
    return this;
  }

  /** A member name inside an object; the next call writes its value. */
  name(key: string): JsonWriter {
    if (!this.first) this.byte(0x2c);
    this.first = false;
    this.writeString(key);
    this.byte(0x3a);
    this.afterName = true;
    return this;
  }

  // ---- values -------------------------------------------------------------------

  string(value: string): JsonWriter {
    this.beforeValue();
    this.writeString(value);
    return this;
  }

  bool(value: bool): JsonWriter {
    this.beforeValue();
    if (value) this.ascii("true");
    else this.ascii("false");
    return this;
  }

  null(): JsonWriter {
    this.beforeValue();
    this.ascii("null");
    return this;
  }

  integer(value: i64): JsonWriter {
    this.beforeValue();
    this.writeInteger(value);
    return this;
  }

  /** A double in the shortest-or-close round-tripping form; integral values within ±2^53 as integers; NaN/±Infinity as `null`. */
  number(value: f64): JsonWriter {
    this.beforeValue();
    this.writeNumber(value);
    return this;
  }

  /**
   * A whole value (integers exactly as i64, other numbers as doubles, member order kept).
   * Recurses once per nesting level, so the depth is what the parse's maxDepth allowed.
   */
  value(value: JsonValue): JsonWriter {
    switch (value.kind) {
      case JsonKind.Null:
        return this.null();
      case JsonKind.Bool:
        return this.bool(value.asBool());
      case JsonKind.Number:
        return value.isInteger() ? this.integer(value.asI64()) : this.number(value.asF64());
      case JsonKind.String:
        return this.string(value.asString());
      case JsonKind.Array: {
        this.beginArray();
        for (let i = 0, n = value.length; i < n; i++) this.value(value.at(i)!);
        return this.endArray();
      }
      default: {
        this.beginObject();
        for (let i = 0, n = value.length; i < n; i++) {
          this.name(value.keyAt(i)!);
          this.value(value.valueAt(i)!);
        }
        return this.endObject();
      }
    }
  }

  // ---- internals ----------------------------------------------------------------

  private beforeValue(): void {
    if (this.afterName) {
      this.afterName = false;
      return;
    }
    if (!this.first) this.byte(0x2c);
    this.first = false;
  }

  private reserve(extra: i32): usize {
    const needed = this.size + extra;
    let capacity = this.buffer.byteLength;
    if (needed > capacity) {
      while (capacity < needed) capacity <<= 1;
      const grown = new ArrayBuffer(capacity);
      memory.copy(changetype<usize>(grown), changetype<usize>(this.buffer), <usize>this.size);
      this.buffer = grown;
    }
    return changetype<usize>(this.buffer) + <usize>this.size;
  }

  private byte(b: u8): void {
    store<u8>(this.reserve(1), b);
    this.size++;
  }

  private ascii(s: string): void {
    const n = s.length;
    const out = this.reserve(n);
    for (let i = 0; i < n; i++) store<u8>(out + <usize>i, <u8>s.charCodeAt(i));
    this.size += n;
  }

  private writeInteger(value: i64): void {
    const out = this.reserve(20);
    // Digits of |value| from the right, as u64 so that i64.MIN_VALUE works.
    let magnitude: u64 = value < 0 ? <u64>0 - <u64>value : <u64>value;
    let digits = 1;
    for (let t = magnitude; t >= 10; t /= 10) digits++;
    let p = out;
    if (value < 0) store<u8>(p++, 0x2d);
    let q = p + <usize>digits;
    do {
      store<u8>(--q, <u8>(0x30 + <u32>(magnitude % 10)));
      magnitude /= 10;
    } while (magnitude != 0);
    this.size += <i32>(p - out) + digits;
  }

  private writeNumber(value: f64): void {
    if (!isFinite(value)) {
      this.ascii("null");
      return;
    }
    if (value == Math.trunc(value) && Math.abs(value) <= 9007199254740992.0) {
      this.writeInteger(<i64>value);
      return;
    }
    const n = <i32>dtoa_buffered(dtoaScratch, value);
    const out = this.reserve(n);
    for (let i = 0; i < n; i++) store<u8>(out + <usize>i, <u8>load<u16>(dtoaScratch + (<usize>i << 1)));
    this.size += n;
  }

  private writeString(s: string): void {
    const n = s.length;
    // Worst case: 6 bytes per code unit (\u00xx), plus the quotes.
    let out = this.reserve(6 * n + 2);
    const start = out;
    store<u8>(out++, 0x22);
    const src = changetype<usize>(s);
    for (let i = 0; i < n; i++) {
      const c = <u32>load<u16>(src + (<usize>i << 1));
      if (c < 0x80) {
        if (c >= 0x20 && c != 0x22 && c != 0x5c) {
          store<u8>(out++, <u8>c);
          continue;
        }
        store<u8>(out++, 0x5c);
        if (c == 0x22 || c == 0x5c) store<u8>(out++, <u8>c);
        else if (c == 0x08) store<u8>(out++, 0x62);
        else if (c == 0x0c) store<u8>(out++, 0x66);
        else if (c == 0x0a) store<u8>(out++, 0x6e);
        else if (c == 0x0d) store<u8>(out++, 0x72);
        else if (c == 0x09) store<u8>(out++, 0x74);
        else {
          store<u8>(out++, 0x75);
          store<u8>(out++, 0x30);
          store<u8>(out++, 0x30);
          store<u8>(out++, <u8>HEX.charCodeAt(c >> 4));
          store<u8>(out++, <u8>HEX.charCodeAt(c & 15));
        }
      } else if (c < 0x800) {
        store<u8>(out++, <u8>(0xc0 | (c >> 6)));
        store<u8>(out++, <u8>(0x80 | (c & 0x3f)));
      } else if (c >= 0xd800 && c <= 0xdfff) {
        let cp: u32 = 0xfffd;
        if (c <= 0xdbff && i + 1 < n) {
          const low = <u32>load<u16>(src + (<usize>(i + 1) << 1));
          if (low >= 0xdc00 && low <= 0xdfff) {
            cp = 0x10000 + ((c - 0xd800) << 10) + (low - 0xdc00);
            i++;
          }
        }
        if (cp > 0xffff) {
          store<u8>(out++, <u8>(0xf0 | (cp >> 18)));
          store<u8>(out++, <u8>(0x80 | ((cp >> 12) & 0x3f)));
          store<u8>(out++, <u8>(0x80 | ((cp >> 6) & 0x3f)));
          store<u8>(out++, <u8>(0x80 | (cp & 0x3f)));
        } else {
          store<u8>(out++, 0xef);
          store<u8>(out++, 0xbf);
          store<u8>(out++, 0xbd);
        }
      } else {
        store<u8>(out++, <u8>(0xe0 | (c >> 12)));
        store<u8>(out++, <u8>(0x80 | ((c >> 6) & 0x3f)));
        store<u8>(out++, <u8>(0x80 | (c & 0x3f)));
      }
    }
    store<u8>(out++, 0x22);
    this.size += <i32>(out - start);
  }
}

/** `value` as JSON text. */
export function stringify(value: JsonValue): string {
  return new JsonWriter().value(value).toString();
}

/** `value` as UTF-8 JSON bytes. */
export function stringifyToBytes(value: JsonValue): Uint8Array {
  return new JsonWriter().value(value).toBytes();
}

/** `text` as a JSON string literal (quoted and escaped), e.g. for a hand-built error body. */
export function quoteJsonString(text: string): string {
  return new JsonWriter(text.length + 16).string(text).toString();
}
