/**
 * The immutable JSON document model (RFC 8259 §3–§7) that `parseJson` returns.
 *
 * A `JsonValue` is a small handle into its document's tape (see tape.ts): reading a
 * member or an item makes a new handle, reading a string decodes it then. Accessors of
 * the wrong kind return their fallback instead of trapping: a filter reading untrusted
 * claims checks the kind it expects and otherwise treats the value as absent.
 */
import {
  INDEXED_OBJECT_MEMBERS, TAG_ARRAY, TAG_F64, TAG_INT, TAG_NULL, TAG_OBJECT, TAG_STRING, TAG_TRUE,
  containerCount, decodeString, entryEquals, indexFind, isJsonSpace, skipValue, stringLength, stringOffset, tagOf,
} from "./tape";

/** The six JSON value kinds of RFC 8259 §3. */
export enum JsonKind {
  Null = 0,
  Bool = 1,
  Number = 2,
  String = 3,
  Array = 4,
  Object = 5,
}

/** A parsed document: a copy of the input bytes, its tape, and the indexes of large objects. */
export class JsonDocument {
  /** @internal Documents come from parseJson. */
  constructor(
    readonly source: ArrayBuffer,
    readonly tape: StaticArray<u64>,
    /**
     * Hash index of each object of more than INDEXED_OBJECT_MEMBERS members; the last
     * item of each is the object's tape index (see tape.ts indexInsert).
     */
    readonly indexes: Array<StaticArray<i32>> | null,
  ) {}

  /** The hash index of the object at tape index `pos`, or null. A document has few (one per large object). */
  memberIndex(pos: i32): StaticArray<i32> | null {
    const indexes = this.indexes;
    if (indexes === null) return null;
    for (let i = 0, n = indexes.length; i < n; i++) {
      const table = unchecked(indexes[i]);
      if (unchecked(table[table.length - 1]) == pos) return table;
    }
    return null;
  }

  /** The top-level value. */
  root(): JsonValue {
    return new JsonValue(this, 0);
  }
}

export class JsonValue {
  // Position of the last item/member reached by at/keyAt/valueAt, so that reading them in
  // order costs O(1) each (not part of the value: handles stay immutable to their users).
  private cursorIndex: i32 = 0;
  private cursorPos: i32 = -1;

  /** @internal Values come from parseJson and from other values' accessors. */
  constructor(
    private readonly doc: JsonDocument,
    /** Tape index of this value's first entry. */
    private readonly pos: i32,
  ) {}

  /** The UTF-8 text of the whole document this value belongs to (the parser's copy of its input). */
  get documentSource(): ArrayBuffer {
    return this.doc.source;
  }

  // @ts-ignore: decorator
  @inline private entry(pos: i32): u64 {
    return load<u64>(changetype<usize>(this.doc.tape) + (<usize>pos << 3));
  }

  // @ts-ignore: decorator
  @inline private get tag(): u32 {
    return tagOf(this.entry(this.pos));
  }

  /** What this value is. */
  get kind(): JsonKind {
    const tag = this.tag;
    if (tag == TAG_NULL) return JsonKind.Null;
    if (tag <= TAG_TRUE) return JsonKind.Bool;
    if (tag <= TAG_F64) return JsonKind.Number;
    if (tag == TAG_STRING) return JsonKind.String;
    return tag == TAG_ARRAY ? JsonKind.Array : JsonKind.Object;
  }

  isNull(): bool { return this.tag == TAG_NULL; }
  isBool(): bool { const t = this.tag; return t != TAG_NULL && t <= TAG_TRUE; }
  isNumber(): bool { const t = this.tag; return t == TAG_INT || t == TAG_F64; }
  isString(): bool { return this.tag == TAG_STRING; }
  isArray(): bool { return this.tag == TAG_ARRAY; }
  isObject(): bool { return this.tag == TAG_OBJECT; }

  /**
   * True for a number whose exact decimal value is an integer within the i64 range:
   * `1700000000`, `1.7e9`, `-0` and `1.0` are; `1.5`, `1e19` and `12345678901234567890`
   * are not. For those, `asI64()` is exact; for the others use `asF64()`.
   */
  isInteger(): bool {
    return this.tag == TAG_INT;
  }

  // ---- scalar accessors ---------------------------------------------------------

  /** The boolean, or `fallback` when this is not a boolean. */
  asBool(fallback: bool = false): bool {
    const t = this.tag;
    return t == TAG_TRUE ? true : t == TAG_NULL || t > TAG_TRUE ? fallback : false;
  }

  /** The exact integer when `isInteger()`, else `fallback` (also for non-numbers). */
  asI64(fallback: i64 = 0): i64 {
    return this.tag == TAG_INT ? <i64>this.entry(this.pos + 1) : fallback;
  }

  /**
   * The number as the nearest double (round half to even, as `JSON.parse` does; an
   * integer beyond ±2^53 is rounded), or `fallback` when this is not a number.
   */
  asF64(fallback: f64 = NaN): f64 {
    const t = this.tag;
    if (t == TAG_F64) return reinterpret<f64>(this.entry(this.pos + 1));
    if (t != TAG_INT) return fallback;
    if (this.entry(this.pos) & 1) return -0.0;
    return <f64><i64>this.entry(this.pos + 1);
  }

  /** The string (UTF-16, escapes decoded; decoded now, allocating), or `fallback` when this is not a string. */
  asString(fallback: string = ""): string {
    const e = this.entry(this.pos);
    return tagOf(e) == TAG_STRING ? decodeString(changetype<usize>(this.doc.source), e) : fallback;
  }

  /** The string, or null when this is not a string. */
  stringOrNull(): string | null {
    const e = this.entry(this.pos);
    return tagOf(e) == TAG_STRING ? decodeString(changetype<usize>(this.doc.source), e) : null;
  }

  /** Whether this is a string equal to `s` (compared without decoding or allocating). */
  equalsString(s: string): bool {
    const e = this.entry(this.pos);
    return tagOf(e) == TAG_STRING && entryEquals(changetype<usize>(this.doc.source), e, s);
  }

  // ---- containers ---------------------------------------------------------------

  /** Number of items (array) or members (object); 0 for scalars. */
  get length(): i32 {
    const e = this.entry(this.pos);
    return tagOf(e) >= TAG_ARRAY ? containerCount(e) : 0;
  }

  /** Tape index of item/member `i` (its name entry for objects), stepping from the cursor. */
  private seek(i: i32): i32 {
    let index = this.cursorIndex;
    let p = this.cursorPos;
    if (p < 0 || i < index) {
      index = 0;
      p = this.pos + 1;
    }
    const tape = changetype<usize>(this.doc.tape);
    const object = this.tag == TAG_OBJECT;
    for (; index < i; index++) p = skipValue(tape, object ? p + 1 : p);
    this.cursorIndex = index;
    this.cursorPos = p;
    return p;
  }

  /** Array item `i`, or null when out of range or not an array. */
  at(i: i32): JsonValue | null {
    const e = this.entry(this.pos);
    if (tagOf(e) != TAG_ARRAY || <u32>i >= <u32>containerCount(e)) return null;
    return new JsonValue(this.doc, this.seek(i));
  }

  /** Name of object member `i` in document order, or null when out of range or not an object. */
  keyAt(i: i32): string | null {
    const e = this.entry(this.pos);
    if (tagOf(e) != TAG_OBJECT || <u32>i >= <u32>containerCount(e)) return null;
    return decodeString(changetype<usize>(this.doc.source), this.entry(this.seek(i)));
  }

  /** Whether the name of object member `i` equals `name` (no allocation). */
  keyAtEquals(i: i32, name: string): bool {
    const e = this.entry(this.pos);
    if (tagOf(e) != TAG_OBJECT || <u32>i >= <u32>containerCount(e)) return false;
    return entryEquals(changetype<usize>(this.doc.source), this.entry(this.seek(i)), name);
  }

  /** Value of object member `i` in document order, or null when out of range or not an object. */
  valueAt(i: i32): JsonValue | null {
    const e = this.entry(this.pos);
    if (tagOf(e) != TAG_OBJECT || <u32>i >= <u32>containerCount(e)) return null;
    return new JsonValue(this.doc, this.seek(i) + 1);
  }

  /** Tape index of the name entry of member `key`, or -1. */
  private findMember(key: string): i32 {
    const e = this.entry(this.pos);
    if (tagOf(e) != TAG_OBJECT) return -1;
    const n = containerCount(e);
    const tape = changetype<usize>(this.doc.tape);
    const source = changetype<usize>(this.doc.source);
    if (n > INDEXED_OBJECT_MEMBERS) {
      const table = this.doc.memberIndex(this.pos);
      if (table !== null) return indexFind(table, tape, source, key);
    }
    let p = this.pos + 1;
    for (let i = 0; i < n; i++) {
      if (entryEquals(source, load<u64>(tape + (<usize>p << 3)), key)) return p;
      p = skipValue(tape, p + 1);
    }
    return -1;
  }

  /** Member `key` of an object, or null when absent or when this is not an object. Small objects are scanned, large ones hashed. */
  get(key: string): JsonValue | null {
    const p = this.findMember(key);
    return p >= 0 ? new JsonValue(this.doc, p + 1) : null;
  }

  /**
   * The bytes of member `key`'s value exactly as the input wrote them (a copy), or null
   * when absent or when this is not an object: a sub-document handed on unchanged.
   */
  memberSource(key: string): ArrayBuffer | null {
    const p = this.findMember(key);
    if (p < 0) return null;
    const source = this.doc.source;
    const base = changetype<usize>(source);
    const size = source.byteLength;
    const name = this.entry(p);
    // After the name's closing quote: spaces, ':', spaces, then the value (the parse checked the form).
    let i = <i32>stringOffset(name) + stringLength(name) + 1;
    while (i < size && load<u8>(base + <usize>i) != 0x3a) i++;
    i++;
    while (i < size && isJsonSpace(load<u8>(base + <usize>i))) i++;
    return source.slice(i, valueEnd(base, i, size));
  }

  /** Whether an object has member `key`. */
  has(key: string): bool {
    return this.findMember(key) >= 0;
  }

  /** Member `key` when it is a string, else `fallback`. */
  getString(key: string, fallback: string = ""): string {
    const v = this.get(key);
    return v !== null ? v.asString(fallback) : fallback;
  }
}

/**
 * Offset just past the well-formed JSON value that starts at `start` of the `size` bytes
 * at `base`: a container to its matching bracket (brackets inside strings skipped), a
 * string to its closing quote, a literal or number to the next delimiter.
 */
function valueEnd(base: usize, start: i32, size: i32): i32 {
  let depth = 0;
  let inString = false;
  for (let i = start; i < size; i++) {
    const c = load<u8>(base + <usize>i);
    if (inString) {
      if (c == 0x5c) i++; // the escaped byte
      else if (c == 0x22) {
        inString = false;
        if (depth == 0) return i + 1;
      }
    } else if (c == 0x22) inString = true;
    else if (c == 0x7b || c == 0x5b) depth++;
    else if (c == 0x7d || c == 0x5d) {
      if (depth == 0) return i; // a scalar ends at its container's close
      if (--depth == 0) return i + 1;
    } else if (depth == 0 && (c == 0x2c || isJsonSpace(c))) return i;
  }
  return size;
}
