/**
 * The immutable JSON document model (RFC 8259 §3–§7) that `parseJson` returns.
 *
 * One class for every kind, so that a lookup never needs a cast. Accessors of the
 * wrong kind return their fallback instead of trapping: a filter reading untrusted
 * claims checks the kind it expects and otherwise treats the value as absent.
 */

/** The six JSON value kinds of RFC 8259 §3. */
export enum JsonKind {
  Null = 0,
  Bool = 1,
  Number = 2,
  String = 3,
  Array = 4,
  Object = 5,
}

/** Objects with more members than this get a hash index; smaller ones are scanned. */
export const SMALL_OBJECT_MEMBERS: i32 = 8;

const FLAG_TRUE: u8 = 1;
const FLAG_INTEGER: u8 = 2;

// @ts-ignore: decorator
@lazy const EMPTY_VALUES = new StaticArray<JsonValue>(0);
// @ts-ignore: decorator
@lazy const EMPTY_KEYS = new StaticArray<string>(0);

export class JsonValue {
  /** Use the static factories; the parser builds values through them too. */
  constructor(
    /** What this value is. */
    readonly kind: JsonKind,
    private readonly flags: u8,
    private readonly int: i64,
    private readonly num: f64,
    private readonly str: string | null,
    private readonly items: StaticArray<JsonValue> | null,
    private readonly keys: StaticArray<string> | null,
    private readonly index: Map<string, i32> | null,
  ) {}

  // ---- factories ----------------------------------------------------------------

  /** `null`. One shared instance. */
  static null(): JsonValue {
    return JSON_NULL;
  }

  /** `true` / `false`. Shared instances. */
  static bool(value: bool): JsonValue {
    return value ? JSON_TRUE : JSON_FALSE;
  }

  /** An integral number, exact as i64 (its f64 is the nearest double). */
  static integer(value: i64): JsonValue {
    return new JsonValue(JsonKind.Number, FLAG_INTEGER, value, <f64>value, null, null, null, null);
  }

  /**
   * A number from its nearest double. Integral doubles within ±2^53 are also exact
   * integers (`isInteger()` is true); others are not.
   */
  static number(value: f64): JsonValue {
    if (value == Math.trunc(value) && Math.abs(value) <= 9007199254740992.0) {
      return new JsonValue(JsonKind.Number, FLAG_INTEGER, <i64>value, value, null, null, null, null);
    }
    return new JsonValue(JsonKind.Number, 0, 0, value, null, null, null, null);
  }

  /** @internal Used by the parser, which knows both representations exactly. */
  static numberExact(isInteger: bool, int: i64, num: f64): JsonValue {
    return new JsonValue(JsonKind.Number, isInteger ? FLAG_INTEGER : 0, int, num, null, null, null, null);
  }

  static string(value: string): JsonValue {
    return new JsonValue(JsonKind.String, 0, 0, 0, value, null, null, null);
  }

  /** An array holding `items` (the array is taken over, not copied: do not change it after). */
  static array(items: StaticArray<JsonValue>): JsonValue {
    return new JsonValue(JsonKind.Array, 0, 0, 0, null, items, null, null);
  }

  /**
   * An object from member names and values in member order (both taken over, not copied).
   * Returns null when the lengths differ or a name repeats (RFC 8259 §4 "names SHOULD be
   * unique"; this library makes it a MUST, as RFC 7515 §4 and I-JSON (RFC 7493 §2.3) do).
   */
  static object(keys: StaticArray<string>, values: StaticArray<JsonValue>): JsonValue | null {
    if (keys.length != values.length) return null;
    if (findDuplicateKey(keys) >= 0) return null;
    return JsonValue.objectUnchecked(keys, values, buildIndex(keys));
  }

  /** @internal The parser has already checked uniqueness and built the index. */
  static objectUnchecked(keys: StaticArray<string>, values: StaticArray<JsonValue>, index: Map<string, i32> | null): JsonValue {
    return new JsonValue(JsonKind.Object, 0, 0, 0, null, values, keys, index);
  }

  // ---- kind tests ---------------------------------------------------------------

  isNull(): bool { return this.kind == JsonKind.Null; }
  isBool(): bool { return this.kind == JsonKind.Bool; }
  isNumber(): bool { return this.kind == JsonKind.Number; }
  isString(): bool { return this.kind == JsonKind.String; }
  isArray(): bool { return this.kind == JsonKind.Array; }
  isObject(): bool { return this.kind == JsonKind.Object; }

  /**
   * True for a number whose exact decimal value is an integer within the i64 range:
   * `1700000000`, `1.7e9`, `-0` and `1.0` are; `1.5`, `1e19` and `12345678901234567890`
   * are not. For those, `asI64()` is exact; for the others use `asF64()`.
   */
  isInteger(): bool {
    return (this.flags & FLAG_INTEGER) != 0;
  }

  // ---- scalar accessors ---------------------------------------------------------

  /** The boolean, or `fallback` when this is not a boolean. */
  asBool(fallback: bool = false): bool {
    return this.kind == JsonKind.Bool ? (this.flags & FLAG_TRUE) != 0 : fallback;
  }

  /** The exact integer when `isInteger()`, else `fallback` (also for non-numbers). */
  asI64(fallback: i64 = 0): i64 {
    return (this.flags & FLAG_INTEGER) != 0 ? this.int : fallback;
  }

  /**
   * The number as the nearest double (round half to even, as `JSON.parse` does; an
   * integer beyond ±2^53 is rounded), or `fallback` when this is not a number.
   */
  asF64(fallback: f64 = NaN): f64 {
    return this.kind == JsonKind.Number ? this.num : fallback;
  }

  /** The string (UTF-16, escapes decoded), or `fallback` when this is not a string. */
  asString(fallback: string = ""): string {
    const s = this.str;
    return s !== null ? s : fallback;
  }

  /** The string, or null when this is not a string. */
  stringOrNull(): string | null {
    return this.str;
  }

  // ---- containers ---------------------------------------------------------------

  /** Number of items (array) or members (object); 0 for scalars. */
  get length(): i32 {
    const items = this.items;
    return items !== null ? items.length : 0;
  }

  /** Array item `i`, or null when out of range or not an array. */
  at(i: i32): JsonValue | null {
    const items = this.items;
    if (items === null || this.kind != JsonKind.Array || <u32>i >= <u32>items.length) return null;
    return unchecked(items[i]);
  }

  /** Name of object member `i` in document order, or null when out of range or not an object. */
  keyAt(i: i32): string | null {
    const keys = this.keys;
    if (keys === null || <u32>i >= <u32>keys.length) return null;
    return unchecked(keys[i]);
  }

  /** Value of object member `i` in document order, or null when out of range or not an object. */
  valueAt(i: i32): JsonValue | null {
    const items = this.items;
    if (items === null || this.kind != JsonKind.Object || <u32>i >= <u32>items.length) return null;
    return unchecked(items[i]);
  }

  /** Position of member `key` in an object, or -1 (also when this is not an object). */
  indexOf(key: string): i32 {
    const keys = this.keys;
    if (keys === null) return -1;
    const index = this.index;
    if (index !== null) return index.has(key) ? index.get(key) : -1;
    for (let i = 0, n = keys.length; i < n; i++) {
      if (unchecked(keys[i]) == key) return i;
    }
    return -1;
  }

  /** Member `key` of an object, or null when absent or when this is not an object. */
  get(key: string): JsonValue | null {
    const i = this.indexOf(key);
    return i >= 0 ? unchecked(this.items![i]) : null;
  }

  /** Whether an object has member `key`. */
  has(key: string): bool {
    return this.indexOf(key) >= 0;
  }

  /** Member `key` when it is a string, else `fallback`. */
  getString(key: string, fallback: string = ""): string {
    const v = this.get(key);
    return v !== null ? v.asString(fallback) : fallback;
  }
}

// @ts-ignore: decorator
@lazy const JSON_NULL = new JsonValue(JsonKind.Null, 0, 0, 0, null, null, null, null);
// @ts-ignore: decorator
@lazy const JSON_TRUE = new JsonValue(JsonKind.Bool, FLAG_TRUE, 0, 0, null, null, null, null);
// @ts-ignore: decorator
@lazy const JSON_FALSE = new JsonValue(JsonKind.Bool, 0, 0, 0, null, null, null, null);

// @ts-ignore: decorator
@lazy const JSON_EMPTY_ARRAY = JsonValue.array(EMPTY_VALUES);
// @ts-ignore: decorator
@lazy const JSON_EMPTY_OBJECT = JsonValue.objectUnchecked(EMPTY_KEYS, EMPTY_VALUES, null);

/** `[]`, one shared instance (values are immutable). */
export function emptyJsonArray(): JsonValue {
  return JSON_EMPTY_ARRAY;
}

/** `{}`, one shared instance. */
export function emptyJsonObject(): JsonValue {
  return JSON_EMPTY_OBJECT;
}

/** Index of the first name that repeats an earlier one, or -1. */
export function findDuplicateKey(keys: StaticArray<string>): i32 {
  const n = keys.length;
  if (n <= SMALL_OBJECT_MEMBERS) {
    for (let i = 1; i < n; i++) {
      const k = unchecked(keys[i]);
      for (let j = 0; j < i; j++) if (unchecked(keys[j]) == k) return i;
    }
    return -1;
  }
  const seen = new Set<string>();
  for (let i = 0; i < n; i++) {
    const k = unchecked(keys[i]);
    if (seen.has(k)) return i;
    seen.add(k);
  }
  return -1;
}

/** The hash index of a large object (null for small ones); names must be unique. */
export function buildIndex(keys: StaticArray<string>): Map<string, i32> | null {
  const n = keys.length;
  if (n <= SMALL_OBJECT_MEMBERS) return null;
  const index = new Map<string, i32>();
  for (let i = 0; i < n; i++) index.set(unchecked(keys[i]), i);
  return index;
}
