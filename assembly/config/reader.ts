/**
 * Reads a filter's JSON configuration (the plugin configuration of
 * `proxy_on_configure`) into typed values, with one-line errors that name the JSON path
 * and the reason, as filters.md "Common rules" asks:
 *
 *   rules[2].limits[0].fill_interval: expected a duration like "60s"
 *
 * Every object is opened with the list of its fields; any other member is an error
 * (`rules[0].limts: unknown field`), reported in document order before the object's
 * fields are read, so that a typo cannot silently drop a setting. The first error wins:
 * later getters return their defaults and record nothing, so a filter can read its whole
 * configuration straight through and check `reader.ok` once at the end.
 *
 * ```ts
 * const reader = ConfigReader.fromBuffer(configuration);
 * const root = reader.root(["stat_prefix", "rules"]);
 * const prefix = root.optionalString("stat_prefix", "rate_limit");
 * const rules = root.requiredArray("rules", 1);
 * for (let i = 0; i < rules.length; i++) {
 *   const rule = rules.objectAt(i, ["name", "match", "limits"]);
 *   const interval = rule.requiredDuration("fill_interval", 1_000_000); // at least 1 ms
 * }
 * if (!reader.ok) { logError("rate-limit: " + reader.error); return false; }
 * ```
 *
 * JSON `null` counts as absent (the protobuf JSON mapping's rule).
 */
import { JsonError, JsonErrorKind, JsonOptions, JsonValue, emptyJsonObject, parseJsonAt } from "../json";
import { Duration, parseDuration } from "./duration";
import { ascii, formatHex, formatInteger, formatNumber } from "../proxy-wasm";

/** Limits for configuration documents (parsed once, at configure time). */
// @ts-ignore: decorator
@lazy const CONFIG_JSON_OPTIONS = new JsonOptions(64, 4 << 20);

// @ts-ignore: decorator
@lazy const EMPTY_OBJECT = emptyJsonObject();

/** The configuration being read and its first error. */
export class ConfigReader {
  private firstError: string = "";
  private failed: bool = false;

  /** @internal Use the static constructors. */
  constructor(
    /** The parsed document; an empty object when it did not parse. */
    readonly document: JsonValue,
  ) {}

  /** Parses `length` bytes of UTF-8 JSON at `ptr`; empty input is an error unless `allowEmpty` (then it reads as `{}`). */
  static fromMemory(ptr: usize, length: i32, allowEmpty: bool = false): ConfigReader {
    if (length <= 0) {
      const reader = new ConfigReader(EMPTY_OBJECT);
      if (!allowEmpty) reader.fail("", "configuration is empty, expected a JSON object");
      return reader;
    }
    const result = parseJsonAt(ptr, length, CONFIG_JSON_OPTIONS);
    // A result holds its value when ok, its error otherwise (JsonResult): no null checks.
    if (result.ok) return new ConfigReader(changetype<JsonValue>(result.value));
    const reader = new ConfigReader(EMPTY_OBJECT);
    const error = changetype<JsonError>(result.error);
    let where = "";
    if (error.kind != JsonErrorKind.TooLarge) {
      // Line and column help with configuration embedded in YAML.
      let line = 1;
      let column = 1;
      for (let i = 0; i < error.offset; i++) {
        if (load<u8>(ptr + <usize>i) == 0x0a) {
          line++;
          column = 1;
        } else column++;
      }
      where = ascii.text(" (line ") + formatInteger(line) + ascii.text(", column ") + formatInteger(column) + ")";
    }
    reader.fail("", "invalid JSON: " + error.message + where);
    return reader;
  }

  /** The plugin configuration as the SDK hands it (null: none given). */
  static fromBuffer(buffer: ArrayBuffer | null, allowEmpty: bool = false): ConfigReader {
    if (buffer === null) return ConfigReader.fromMemory(0, 0, allowEmpty);
    return ConfigReader.fromMemory(changetype<usize>(buffer), buffer.byteLength, allowEmpty);
  }

  static fromBytes(bytes: Uint8Array, allowEmpty: bool = false): ConfigReader {
    return ConfigReader.fromMemory(bytes.dataStart, bytes.length, allowEmpty);
  }

  static fromString(text: string, allowEmpty: bool = false): ConfigReader {
    const bytes = String.UTF8.encode(text);
    return ConfigReader.fromMemory(changetype<usize>(bytes), bytes.byteLength, allowEmpty);
  }

  /** True while no error has been recorded. */
  get ok(): bool {
    return !this.failed;
  }

  /** The first error as one line, `path: reason` (just `reason` at the top level); empty when ok. */
  get error(): string {
    return this.firstError;
  }

  /** Records an error at `path` unless one is already recorded. */
  fail(path: string, message: string): void {
    if (this.failed) return;
    this.failed = true;
    this.firstError = path.length > 0 ? path + ": " + message : message;
  }

  /** The top-level object, whose members must be among `fields`. */
  root(fields: string[]): ConfigObject {
    if (!this.document.isObject()) {
      this.fail("", "expected a JSON object at the top level");
      return new ConfigObject(this, "", EMPTY_OBJECT, fields);
    }
    return new ConfigObject(this, "", this.document, fields);
  }
}

/** `parent.name`, or `parent["odd name"]` when the name is not identifier-like. */
export function memberPath(parent: string, name: string): string {
  let plain = name.length > 0;
  for (let i = 0, n = name.length; i < n && plain; i++) {
    const c = name.charCodeAt(i);
    plain = (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || c == 0x5f || c == 0x2d || (i > 0 && c >= 0x30 && c <= 0x39);
  }
  if (!plain) return parent + "[" + quote(name) + "]";
  return parent.length > 0 ? parent + "." + name : name;
}

/** `parent[i]`. */
export function indexPath(parent: string, i: i32): string {
  return parent + "[" + formatInteger(i) + "]";
}

function quote(s: string): string {
  let out = "\"";
  for (let i = 0, n = s.length; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c == 0x22 || c == 0x5c) out += "\\" + String.fromCharCode(c);
    else if (c < 0x20) out += "\\u00" + formatHex(c, 2);
    else out += String.fromCharCode(c);
  }
  return out + "\"";
}

function integerExpectation(min: i64, max: i64): string {
  if (min == i64.MIN_VALUE && max == i64.MAX_VALUE) return ascii.text("expected an integer");
  if (max == i64.MAX_VALUE) return ascii.text("expected an integer of at least ") + formatInteger(min);
  if (min == i64.MIN_VALUE) return ascii.text("expected an integer of at most ") + formatInteger(max);
  return ascii.text("expected an integer between ") + formatInteger(min) + ascii.text(" and ") + formatInteger(max);
}

function numberExpectation(min: f64, max: f64): string {
  const noMin = min == -Infinity;
  const noMax = max == Infinity;
  if (noMin && noMax) return ascii.text("expected a number");
  if (noMax) return ascii.text("expected a number of at least ") + formatNumber(min);
  if (noMin) return ascii.text("expected a number of at most ") + formatNumber(max);
  return ascii.text("expected a number between ") + formatNumber(min) + ascii.text(" and ") + formatNumber(max);
}

function durationExpectation(minNanos: i64, maxNanos: i64): string {
  if (maxNanos == i64.MAX_VALUE) return ascii.text("expected a duration of at least ") + Duration.fromNanoseconds(minNanos).toString();
  return ascii.text("expected a duration between ") + Duration.fromNanoseconds(minNanos).toString() + ascii.text(" and ") + Duration.fromNanoseconds(maxNanos).toString();
}

function quotedList(names: string[]): string {
  let out = "";
  for (let i = 0; i < names.length; i++) out += (i ? ", " : "") + quote(unchecked(names[i]));
  return out;
}

function readString(reader: ConfigReader, path: string, v: JsonValue, nonEmpty: bool): string {
  if (!v.isString()) {
    reader.fail(path, nonEmpty ? "expected a non-empty string" : "expected a string");
    return "";
  }
  const s = v.asString();
  if (nonEmpty && s.length == 0) reader.fail(path, "expected a non-empty string");
  return s;
}

function readInteger(reader: ConfigReader, path: string, v: JsonValue, min: i64, max: i64): i64 {
  if (!v.isInteger() || v.asI64() < min || v.asI64() > max) {
    reader.fail(path, integerExpectation(min, max));
    return min > 0 ? min : (max < 0 ? max : 0);
  }
  return v.asI64();
}

function readDuration(reader: ConfigReader, path: string, v: JsonValue, minNanos: i64, maxNanos: i64): Duration {
  if (!v.isString()) {
    reader.fail(path, "expected a duration like \"60s\"");
    return Duration.fromNanoseconds(minNanos);
  }
  const parsed = parseDuration(v.asString());
  const d = parsed.value;
  if (d === null) {
    reader.fail(path, parsed.error);
    return Duration.fromNanoseconds(minNanos);
  }
  const total = d.totalNanoseconds;
  if (total < minNanos || total > maxNanos) {
    reader.fail(path, durationExpectation(minNanos, maxNanos));
    return Duration.fromNanoseconds(minNanos);
  }
  return d;
}

/** A configuration object with a fixed set of fields. */
export class ConfigObject {
  /** @internal Use ConfigReader.root, ConfigObject.requiredObject/optionalObject, ConfigArray.objectAt, ConfigMap.objectAt. */
  constructor(
    readonly reader: ConfigReader,
    /** JSON path of this object ("" for the top level). */
    readonly path: string,
    private readonly value: JsonValue,
    private readonly fields: string[],
  ) {
    for (let i = 0, n = value.length; i < n; i++) {
      const name = changetype<string>(value.keyAt(i)); // i < length: a name
      if (!fields.includes(name)) {
        reader.fail(memberPath(path, name), "unknown field");
        break;
      }
    }
  }

  /** The path of member `name`. */
  pathOf(name: string): string {
    return memberPath(this.path, name);
  }

  /** Records an error about member `name` (for rules the getters cannot express). */
  fail(name: string, message: string): void {
    this.reader.fail(this.pathOf(name), message);
  }

  /** Records an error about this object as a whole. */
  failHere(message: string): void {
    this.reader.fail(this.path, message);
  }

  /** Member `name`, or null when absent or JSON null. Reading an undeclared field is a bug in the filter, reported as one. */
  raw(name: string): JsonValue | null {
    if (!this.fields.includes(name)) {
      this.reader.fail(this.pathOf(name), "internal error: field read but not declared");
      return null;
    }
    const v = this.value.get(name);
    return v === null || v.isNull() ? null : v;
  }

  /** Member `name`'s value as the configuration wrote it (its bytes), or null when absent; declared fields only, as `raw`. */
  rawSource(name: string): ArrayBuffer | null {
    return this.raw(name) !== null ? this.value.memberSource(name) : null;
  }

  /** Whether member `name` is present (and not null). */
  has(name: string): bool {
    return this.raw(name) !== null;
  }

  private required(name: string): JsonValue | null {
    const v = this.raw(name);
    if (v === null) this.fail(name, "missing required field");
    return v;
  }

  // ---- strings, booleans, numbers, durations --------------------------------

  requiredString(name: string, nonEmpty: bool = true): string {
    const v = this.required(name);
    return v === null ? "" : readString(this.reader, this.pathOf(name), v, nonEmpty);
  }

  optionalString(name: string, fallback: string, nonEmpty: bool = false): string {
    const v = this.raw(name);
    return v === null ? fallback : readString(this.reader, this.pathOf(name), v, nonEmpty);
  }

  /** One of `values`; returns its index, `fallback` when absent (-1: the field is required). */
  enumString(name: string, values: string[], fallback: i32 = -1): i32 {
    const v = fallback < 0 ? this.required(name) : this.raw(name);
    if (v === null) return fallback;
    const i = v.isString() ? values.indexOf(v.asString()) : -1;
    if (i < 0) {
      this.fail(name, "expected one of " + quotedList(values));
      return fallback < 0 ? 0 : fallback;
    }
    return i;
  }

  requiredBool(name: string): bool {
    const v = this.required(name);
    if (v === null) return false;
    if (!v.isBool()) this.fail(name, "expected true or false");
    return v.asBool();
  }

  optionalBool(name: string, fallback: bool): bool {
    const v = this.raw(name);
    if (v === null) return fallback;
    if (!v.isBool()) {
      this.fail(name, "expected true or false");
      return fallback;
    }
    return v.asBool();
  }

  /** An integer within [min, max] (JSON `5`, `5.0` and `5e0` are all 5). */
  requiredInteger(name: string, min: i64 = i64.MIN_VALUE, max: i64 = i64.MAX_VALUE): i64 {
    const v = this.required(name);
    return v === null ? (min > 0 ? min : 0) : readInteger(this.reader, this.pathOf(name), v, min, max);
  }

  optionalInteger(name: string, fallback: i64, min: i64 = i64.MIN_VALUE, max: i64 = i64.MAX_VALUE): i64 {
    const v = this.raw(name);
    return v === null ? fallback : readInteger(this.reader, this.pathOf(name), v, min, max);
  }

  /** A number within [min, max]. */
  requiredNumber(name: string, min: f64 = -Infinity, max: f64 = Infinity): f64 {
    const v = this.required(name);
    if (v === null) return 0;
    return this.checkNumber(name, v, min, max, 0);
  }

  optionalNumber(name: string, fallback: f64, min: f64 = -Infinity, max: f64 = Infinity): f64 {
    const v = this.raw(name);
    return v === null ? fallback : this.checkNumber(name, v, min, max, fallback);
  }

  private checkNumber(name: string, v: JsonValue, min: f64, max: f64, fallback: f64): f64 {
    const x = v.asF64();
    if (!v.isNumber() || !(x >= min && x <= max)) {
      this.fail(name, numberExpectation(min, max));
      return fallback;
    }
    return x;
  }

  /** A protobuf-JSON duration (`"0.25s"`) within [minNanos, maxNanos] nanoseconds (default: not negative). */
  requiredDuration(name: string, minNanos: i64 = 0, maxNanos: i64 = i64.MAX_VALUE): Duration {
    const v = this.required(name);
    return v === null ? Duration.fromNanoseconds(minNanos) : readDuration(this.reader, this.pathOf(name), v, minNanos, maxNanos);
  }

  optionalDuration(name: string, fallback: Duration, minNanos: i64 = 0, maxNanos: i64 = i64.MAX_VALUE): Duration {
    const v = this.raw(name);
    return v === null ? fallback : readDuration(this.reader, this.pathOf(name), v, minNanos, maxNanos);
  }

  // ---- containers -------------------------------------------------------------

  /** Object member `name`, whose own members must be among `fields` (an empty object stands in when missing). */
  requiredObject(name: string, fields: string[]): ConfigObject {
    const v = this.required(name);
    return this.objectFrom(name, v, fields);
  }

  /** Object member `name`, or null when absent. */
  optionalObject(name: string, fields: string[]): ConfigObject | null {
    const v = this.raw(name);
    return v === null ? null : this.objectFrom(name, v, fields);
  }

  // An absent member (already reported when required) reads as an empty object.
  private objectFrom(name: string, v: JsonValue | null, fields: string[]): ConfigObject {
    const path = this.pathOf(name);
    return v === null ? new ConfigObject(this.reader, path, EMPTY_OBJECT, fields) : objectOf(this.reader, path, v, fields);
  }

  /** Array member `name` with at least `minLength` items (an empty array stands in on error). */
  requiredArray(name: string, minLength: i32 = 0): ConfigArray {
    const v = this.required(name);
    return this.arrayFrom(name, v, minLength);
  }

  /** Array member `name` (empty when absent). */
  optionalArray(name: string, minLength: i32 = 0): ConfigArray {
    return this.arrayFrom(name, this.raw(name), minLength);
  }

  private arrayFrom(name: string, v: JsonValue | null, minLength: i32): ConfigArray {
    const path = this.pathOf(name);
    if (v === null) return new ConfigArray(this.reader, path, null);
    if (!v.isArray()) {
      this.reader.fail(path, "expected an array");
      return new ConfigArray(this.reader, path, null);
    }
    if (v.length < minLength) {
      // ascii.text: the transform packs only message literals of 8 characters or more.
      this.reader.fail(path, minLength == 1 ? "expected a non-empty array" : "expected at least " + formatInteger(minLength) + ascii.text(" items"));
    }
    return new ConfigArray(this.reader, path, v);
  }

  /** A list of strings (empty when absent); items must be non-empty unless `nonEmptyItems` is false. */
  stringList(name: string, minLength: i32 = 0, nonEmptyItems: bool = true): string[] {
    const arr = minLength > 0 ? this.requiredArray(name, minLength) : this.optionalArray(name);
    const out = new Array<string>(arr.length);
    for (let i = 0; i < arr.length; i++) unchecked((out[i] = arr.stringAt(i, nonEmptyItems)));
    return out;
  }

  /** A list of integers within [min, max] (empty when absent). */
  integerList(name: string, min: i64 = i64.MIN_VALUE, max: i64 = i64.MAX_VALUE, minLength: i32 = 0): i64[] {
    const arr = minLength > 0 ? this.requiredArray(name, minLength) : this.optionalArray(name);
    const out = new Array<i64>(arr.length);
    for (let i = 0; i < arr.length; i++) unchecked((out[i] = arr.integerAt(i, min, max)));
    return out;
  }

  /** An object whose member names are chosen by the user (provider names, header names); empty when absent. */
  map(name: string, minLength: i32 = 0): ConfigMap {
    const v = minLength > 0 ? this.required(name) : this.raw(name);
    const path = this.pathOf(name);
    if (v === null) return new ConfigMap(this.reader, path, EMPTY_OBJECT);
    if (!v.isObject()) {
      this.reader.fail(path, "expected an object");
      return new ConfigMap(this.reader, path, EMPTY_OBJECT);
    }
    if (v.length < minLength) this.reader.fail(path, "expected at least " + formatInteger(minLength) + " entries");
    return new ConfigMap(this.reader, path, v);
  }

  // ---- member combinations ----------------------------------------------------

  /** Exactly one of `names` must be present; returns its index in `names` (-1 after an error). */
  exactlyOneOf(names: string[]): i32 {
    const found = this.presentAmong(names);
    if (found == -2 || found == -1) {
      this.failHere("expected exactly one of " + quotedList(names));
      return -1;
    }
    return found;
  }

  /** At most one of `names` may be present; returns its index, or -1 when none is. */
  atMostOneOf(names: string[]): i32 {
    const found = this.presentAmong(names);
    if (found == -2) {
      this.failHere("expected at most one of " + quotedList(names));
      return -1;
    }
    return found;
  }

  /** Index of the one present name, -1 when none, -2 when several. */
  private presentAmong(names: string[]): i32 {
    let found = -1;
    for (let i = 0; i < names.length; i++) {
      if (this.has(unchecked(names[i]))) {
        if (found >= 0) return -2;
        found = i;
      }
    }
    return found;
  }
}

// `v` at `path` as an object with `fields`; an empty one stands in, after "expected an
// object", when `v` is missing (an item out of range) or not an object.
function objectOf(reader: ConfigReader, path: string, v: JsonValue | null, fields: string[]): ConfigObject {
  if (v !== null && v.isObject()) return new ConfigObject(reader, path, v, fields);
  reader.fail(path, "expected an object");
  return new ConfigObject(reader, path, EMPTY_OBJECT, fields);
}

/** A configuration array. */
export class ConfigArray {
  /** @internal */
  constructor(
    readonly reader: ConfigReader,
    readonly path: string,
    private readonly value: JsonValue | null,
  ) {}

  get length(): i32 {
    const v = this.value;
    return v === null ? 0 : v.length;
  }

  pathAt(i: i32): string {
    return indexPath(this.path, i);
  }

  /** Item `i` as it is (JSON null included), or null when out of range. */
  rawAt(i: i32): JsonValue | null {
    const v = this.value;
    return v === null ? null : v.at(i);
  }

  objectAt(i: i32, fields: string[]): ConfigObject {
    return objectOf(this.reader, this.pathAt(i), this.rawAt(i), fields);
  }

  stringAt(i: i32, nonEmpty: bool = true): string {
    const v = this.rawAt(i);
    return v === null ? "" : readString(this.reader, this.pathAt(i), v, nonEmpty);
  }

  integerAt(i: i32, min: i64 = i64.MIN_VALUE, max: i64 = i64.MAX_VALUE): i64 {
    const v = this.rawAt(i);
    return v === null ? 0 : readInteger(this.reader, this.pathAt(i), v, min, max);
  }
}

/** An object whose member names are data (a map), read entry by entry in document order. */
export class ConfigMap {
  /** @internal */
  constructor(
    readonly reader: ConfigReader,
    readonly path: string,
    private readonly value: JsonValue,
  ) {}

  get length(): i32 {
    return this.value.length;
  }

  keyAt(i: i32): string {
    const k = this.value.keyAt(i);
    return k === null ? "" : k;
  }

  pathAt(i: i32): string {
    return memberPath(this.path, this.keyAt(i));
  }

  rawAt(i: i32): JsonValue | null {
    return this.value.valueAt(i);
  }

  objectAt(i: i32, fields: string[]): ConfigObject {
    return objectOf(this.reader, this.pathAt(i), this.rawAt(i), fields);
  }

  stringAt(i: i32, nonEmpty: bool = false): string {
    const v = this.rawAt(i);
    return v === null ? "" : readString(this.reader, this.pathAt(i), v, nonEmpty);
  }
}
