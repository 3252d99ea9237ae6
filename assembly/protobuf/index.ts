/**
 * Protocol Buffers wire format (protobuf.dev "Encoding"), the part a filter needs to
 * write a request message and read a response: varints, length-delimited fields
 * (strings, bytes, sub-messages) and skipping what it does not know. No schema, no
 * reflection: a message's code names its fields (see filters/rate-limit/rls.ts).
 *
 * Writing: `ProtoWriter` appends fields to one growable buffer, reused from message to
 * message; a sub-message is `begin(field)` … `end(mark)` (its length is written once known,
 * as the shortest varint). Strings are written as UTF-8 with every unpaired surrogate
 * replaced by U+FFFD, since proto3 parsers (Go's among them) refuse a `string` field that
 * is not valid UTF-8, and strings built from header bytes can hold such surrogates.
 *
 * Reading: `ProtoReader` walks `[start, end)` of memory; every read checks the bounds and
 * a malformed input (a truncated varint or field, a length past the end, a group or an
 * unknown wire type) clears `ok` and stops the walk; nothing traps.
 */

/** Wire types (protobuf.dev "Message Structure"). */
export const WIRE_VARINT: u32 = 0;
export const WIRE_FIXED64: u32 = 1;
export const WIRE_LEN: u32 = 2;
export const WIRE_FIXED32: u32 = 5;

/** Room kept for a sub-message's length before its fields are written: a u32 varint. */
const LENGTH_ROOM: i32 = 5;

/** Appends protobuf fields to a buffer. */
export class ProtoWriter {
  private buffer: ArrayBuffer;
  private length: i32 = 0;

  constructor(capacity: i32 = 256) {
    this.buffer = new ArrayBuffer(max(capacity, 16));
  }

  /** Forgets what was written (the buffer is kept). */
  reset(): void {
    this.length = 0;
  }

  /** Bytes written so far. */
  get size(): i32 {
    return this.length;
  }

  /** A copy of the bytes written. */
  toBuffer(): ArrayBuffer {
    const out = new ArrayBuffer(this.length);
    memory.copy(changetype<usize>(out), changetype<usize>(this.buffer), <usize>this.length);
    return out;
  }

  /** A varint (base 128, least significant group first). */
  varint(x: u64): void {
    this.reserve(10);
    let p = changetype<usize>(this.buffer) + <usize>this.length;
    const start = p;
    while (x >= 0x80) {
      store<u8>(p++, <u8>(x | 0x80));
      x >>= 7;
    }
    store<u8>(p++, <u8>x);
    this.length += <i32>(p - start);
  }

  /** A field's key: `(field << 3) | wireType`. */
  tag(field: u32, wireType: u32): void {
    this.varint((<u64>field << 3) | <u64>wireType);
  }

  /** A varint field (uint32, uint64, int64, enum, bool); proto3 leaves a 0 out. */
  uint64Field(field: u32, x: u64): void {
    if (x == 0) return;
    this.tag(field, WIRE_VARINT);
    this.varint(x);
  }

  /** A string field: the UTF-8 of `s[0, length)` (default all of it); proto3 leaves "" out. */
  stringField(field: u32, s: string, length: i32 = -1): void {
    const n = length < 0 || length > s.length ? s.length : length;
    if (n == 0) return;
    this.tag(field, WIRE_LEN);
    // UTF-8 takes at most 3 bytes per UTF-16 unit.
    const mark = this.beginLength(3 * n);
    const p = changetype<usize>(this.buffer) + <usize>this.length;
    this.length += <i32>String.UTF8.encodeUnsafe(changetype<usize>(s), n, p, false, String.UTF8.ErrorMode.REPLACE);
    this.end(mark);
  }

  /** Starts a sub-message (or any length-delimited field) of number `field`; pass the mark to `end`. */
  begin(field: u32): i32 {
    this.tag(field, WIRE_LEN);
    return this.beginLength(0);
  }

  /** Ends the field `begin` started: writes its length in front of its bytes. */
  end(mark: i32): void {
    const base = changetype<usize>(this.buffer);
    const bodyStart = mark + LENGTH_ROOM;
    const bodyLength = this.length - bodyStart;
    let p = base + <usize>mark;
    let x = <u32>bodyLength;
    while (x >= 0x80) {
      store<u8>(p++, <u8>(x | 0x80));
      x >>= 7;
    }
    store<u8>(p++, <u8>x);
    const gap = base + <usize>bodyStart - p;
    if (gap > 0) {
      memory.copy(p, base + <usize>bodyStart, <usize>bodyLength);
      this.length -= <i32>gap;
    }
  }

  private beginLength(room: i32): i32 {
    this.reserve(LENGTH_ROOM + room);
    const mark = this.length;
    this.length += LENGTH_ROOM;
    return mark;
  }

  private reserve(n: i32): void {
    const need = this.length + n;
    if (need <= this.buffer.byteLength) return;
    let size = this.buffer.byteLength << 1;
    while (size < need) size <<= 1;
    const grown = new ArrayBuffer(size);
    memory.copy(changetype<usize>(grown), changetype<usize>(this.buffer), <usize>this.length);
    this.buffer = grown;
  }
}

/** Reads protobuf fields from `[start, end)` of memory. */
export class ProtoReader {
  /** False once the input proved malformed; every later read then returns nothing. */
  ok: bool = true;
  /** Field number and wire type of the last `next()`. */
  field: u32 = 0;
  wireType: u32 = 0;
  /** Bounds of the last length-delimited value (`bytes()`). */
  valueStart: usize = 0;
  valueEnd: usize = 0;

  constructor(private position: usize, private end: usize) {}

  /** Points this reader at `[start, end)` afresh, so that a decoder reuses its readers rather than allocating one per message. */
  reset(start: usize, end: usize): ProtoReader {
    this.ok = true;
    this.field = 0;
    this.wireType = 0;
    this.valueStart = 0;
    this.valueEnd = 0;
    this.position = start;
    this.end = end;
    return this;
  }

  /** A reader of `bytes`. */
  static of(bytes: ArrayBuffer): ProtoReader {
    const p = changetype<usize>(bytes);
    return new ProtoReader(p, p + <usize>bytes.byteLength);
  }

  /** A reader of the last length-delimited value (a sub-message). */
  message(): ProtoReader {
    return new ProtoReader(this.valueStart, this.valueEnd);
  }

  /** `message()` without the allocation: `into`, reset to the last length-delimited value. */
  messageInto(into: ProtoReader): ProtoReader {
    return into.reset(this.valueStart, this.valueEnd);
  }

  /** Whether bytes are left (for walking a packed field's values with `packedVarint`). */
  get more(): bool {
    return this.ok && this.position < this.end;
  }

  /**
   * The next varint of a packed repeated field: read with a reader of the field's value
   * (`bytes()` then `message()`) while `more`. A repeated scalar may come packed or not
   * (protobuf.dev "Packed Repeated Fields": parsers accept both); unpacked values come as
   * separate fields, read with `varintValue`.
   */
  packedVarint(): u64 {
    return this.varint();
  }

  /** Moves to the next field: true with `field` and `wireType` set, false at the end or on malformed input. */
  next(): bool {
    if (!this.ok || this.position >= this.end) return false;
    const key = this.varint();
    if (!this.ok) return false;
    this.field = <u32>(key >> 3);
    this.wireType = <u32>(key & 7);
    if (this.field == 0 || key > <u64>u32.MAX_VALUE) return this.fail();
    return true;
  }

  /** The current field's varint value (its wire type must be WIRE_VARINT, else the input is malformed). */
  varintValue(): u64 {
    if (this.wireType != WIRE_VARINT) {
      this.fail();
      return 0;
    }
    return this.varint();
  }

  /** The current length-delimited field: sets `valueStart`/`valueEnd`; false (malformed) for another wire type. */
  bytes(): bool {
    if (this.wireType != WIRE_LEN) return this.fail();
    const length = this.varint();
    if (!this.ok) return false;
    if (length > <u64>(this.end - this.position)) return this.fail();
    this.valueStart = this.position;
    this.valueEnd = this.position + <usize>length;
    this.position = this.valueEnd;
    return true;
  }

  /** The current string field (UTF-8), or "" when malformed. */
  string(): string {
    if (!this.bytes()) return "";
    return String.UTF8.decodeUnsafe(this.valueStart, this.valueEnd - this.valueStart);
  }

  /** Skips the current field's value, whatever its wire type (groups are malformed here). */
  skip(): void {
    switch (this.wireType) {
      case WIRE_VARINT:
        this.varint();
        break;
      case WIRE_FIXED64:
        this.advance(8);
        break;
      case WIRE_LEN:
        this.bytes();
        break;
      case WIRE_FIXED32:
        this.advance(4);
        break;
      default:
        this.fail();
    }
  }

  private varint(): u64 {
    let x: u64 = 0;
    for (let shift: u64 = 0; shift < 70; shift += 7) {
      if (this.position >= this.end) {
        this.fail();
        return 0;
      }
      const b = <u64>load<u8>(this.position++);
      x |= (b & 0x7f) << shift;
      if (b < 0x80) return x;
    }
    this.fail(); // more than 10 bytes
    return 0;
  }

  private advance(n: usize): void {
    if (n > this.end - this.position) this.fail();
    else this.position += n;
  }

  private fail(): bool {
    this.ok = false;
    this.position = this.end;
    return false;
  }
}
