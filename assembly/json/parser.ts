/**
 * Strict JSON parser (RFC 8259) from UTF-8 bytes into the immutable `JsonValue` model.
 *
 * Strict where RFC 8259 leaves room and where JOSE needs it:
 * - duplicate member names are rejected (RFC 7515 §4: a JOSE header with two `alg`
 *   must be refused; RFC 7493 §2.3);
 * - `\u` escapes of lone surrogates are rejected, not replaced (RFC 7493 §2.1: a
 *   replacement would make two different tokens decode to the same claim);
 * - input must be well-formed UTF-8 (RFC 8259 §8.1, RFC 3629 §4); no BOM;
 * - numbers that round beyond binary64 are rejected (RFC 8259 §6 allows range limits);
 * - no comments, trailing commas, leading zeros, single quotes or trailing data.
 *
 * Bounded: input size (`maxBytes`) and nesting (`maxDepth`) are limited, nesting is
 * handled with an explicit stack (no recursion, so no stack overflow), every read is
 * checked against the input end. Every failure is a `JsonError` result, never a trap.
 *
 * Not re-entrant (module-level scratch stacks, reused across calls so that a parse
 * allocates only the values it returns); Wasm modules run one callback at a time.
 */
import { JsonValue, SMALL_OBJECT_MEMBERS, emptyJsonArray, emptyJsonObject } from "./value";
import { JsonError, JsonErrorKind } from "./error";
import { decimalTokenToF64 } from "./decimal";

/** Limits for one parse. */
export class JsonOptions {
  constructor(
    /** Deepest nesting of arrays/objects accepted; `[]` is depth 1, a scalar depth 0. */
    public maxDepth: i32 = 64,
    /** Longest input accepted, in bytes. */
    public maxBytes: i32 = 1 << 20,
  ) {}
}

/** The outcome of a parse: a value, or an error (exactly one is non-null). */
export class JsonResult {
  constructor(
    readonly value: JsonValue | null,
    readonly error: JsonError | null,
  ) {}

  get ok(): bool {
    return this.value !== null;
  }
}

// @ts-ignore: decorator
@lazy const DEFAULT_OPTIONS = new JsonOptions();

/** Parses the UTF-8 JSON text in `bytes`. */
export function parseJson(bytes: Uint8Array, options: JsonOptions = DEFAULT_OPTIONS): JsonResult {
  return parseJsonAt(bytes.dataStart, bytes.length, options);
}

/** Parses the UTF-8 JSON text in `buffer` (as the proxy-wasm host hands bodies and configuration). */
export function parseJsonBuffer(buffer: ArrayBuffer, options: JsonOptions = DEFAULT_OPTIONS): JsonResult {
  return parseJsonAt(changetype<usize>(buffer), buffer.byteLength, options);
}

/** Parses JSON held in a string (encoded to UTF-8 first; lone surrogates then fail as invalid UTF-8). */
export function parseJsonString(text: string, options: JsonOptions = DEFAULT_OPTIONS): JsonResult {
  const bytes = String.UTF8.encode(text);
  return parseJsonAt(changetype<usize>(bytes), bytes.byteLength, options);
}

/**
 * Parses `length` bytes of UTF-8 JSON at linear memory address `ptr`. The bytes must
 * stay unchanged during the call; nothing keeps a reference to them afterwards.
 */
export function parseJsonAt(ptr: usize, length: i32, options: JsonOptions = DEFAULT_OPTIONS): JsonResult {
  if (length < 0) length = 0;
  if (length > options.maxBytes) {
    return new JsonResult(null, new JsonError(JsonErrorKind.TooLarge, options.maxBytes,
      "input of " + length.toString() + " bytes is over the limit of " + options.maxBytes.toString()));
  }
  base = ptr;
  end = ptr + <usize>length;
  errorKind = JsonErrorKind.None;
  const value = parseDocument(options.maxDepth < 0 ? 0 : options.maxDepth);
  // Drop references held by the scratch stacks, so the values can be collected.
  values.length = 0;
  keys.length = 0;
  keyOffsets.length = 0;
  frames.length = 0;
  if (value === null) {
    return new JsonResult(null, new JsonError(errorKind, <i32>(errorAt - base), errorMessage));
  }
  return new JsonResult(value, null);
}

// ---- parser state -----------------------------------------------------------------

let base: usize = 0;
let end: usize = 0;
let errorKind = JsonErrorKind.None;
let errorAt: usize = 0;
let errorMessage: string = "";

// Completed values, member names and their offsets, waiting for their container to close.
const values = new Array<JsonValue>();
const keys = new Array<string>();
const keyOffsets = new Array<i32>();
// One entry per open container: index into `values` where its items start; objects
// also push the index into `keys` (stored as -1 - index, to tell the kinds apart).
const frames = new Array<i32>();

// Results of scanString / scanNumber.
let lastString: string = "";
let lastNumber: JsonValue = JsonValue.null();

const CH_TAB: u8 = 0x09;
const CH_LF: u8 = 0x0a;
const CH_CR: u8 = 0x0d;
const CH_SPACE: u8 = 0x20;
const CH_QUOTE: u8 = 0x22;
const CH_PLUS: u8 = 0x2b;
const CH_COMMA: u8 = 0x2c;
const CH_MINUS: u8 = 0x2d;
const CH_DOT: u8 = 0x2e;
const CH_SLASH: u8 = 0x2f;
const CH_0: u8 = 0x30;
const CH_COLON: u8 = 0x3a;
const CH_LBRACKET: u8 = 0x5b;
const CH_BACKSLASH: u8 = 0x5c;
const CH_RBRACKET: u8 = 0x5d;
const CH_LBRACE: u8 = 0x7b;
const CH_RBRACE: u8 = 0x7d;

function fail(kind: JsonErrorKind, at: usize, message: string): usize {
  if (errorKind == JsonErrorKind.None) {
    errorKind = kind;
    errorAt = at;
    errorMessage = message;
  }
  return 0;
}

// @ts-ignore: decorator
@inline function skipWhitespace(p: usize): usize {
  while (p < end) {
    const c = load<u8>(p);
    if (c != CH_SPACE && c != CH_LF && c != CH_CR && c != CH_TAB) break;
    p++;
  }
  return p;
}

function describeUnexpected(p: usize, expected: string): string {
  const c = load<u8>(p);
  if (c == CH_SLASH) return "comments are not allowed";
  if (c == 0x27) return "strings must be in double quotes";
  if (c >= 0x80 || c < 0x20 || c == 0x7f) return "unexpected byte 0x" + (<u32>c).toString(16) + ", " + expected;
  return "unexpected character '" + String.fromCharCode(c) + "', " + expected;
}

function parseDocument(maxDepth: i32): JsonValue | null {
  let p = skipWhitespace(base);
  let depth = 0;
  while (true) {
    // A value starts at p.
    if (p >= end) {
      fail(JsonErrorKind.UnexpectedEnd, end, "unexpected end of input, expected a value");
      return null;
    }
    let c = load<u8>(p);
    let value: JsonValue;
    if (c == CH_LBRACE || c == CH_LBRACKET) {
      if (depth >= maxDepth) {
        fail(JsonErrorKind.TooDeep, p, "nesting deeper than " + maxDepth.toString());
        return null;
      }
      p = skipWhitespace(p + 1);
      if (c == CH_LBRACKET) {
        if (p < end && load<u8>(p) == CH_RBRACKET) {
          value = emptyJsonArray();
          p++;
        } else {
          frames.push(values.length);
          depth++;
          continue;
        }
      } else {
        if (p < end && load<u8>(p) == CH_RBRACE) {
          value = emptyJsonObject();
          p++;
        } else {
          frames.push(-1 - keys.length);
          frames.push(values.length);
          depth++;
          p = parseMemberName(p);
          if (!p) return null;
          continue;
        }
      }
    } else if (c == CH_QUOTE) {
      p = scanString(p);
      if (!p) return null;
      value = JsonValue.string(lastString);
    } else if (c == CH_MINUS || <u32>(c - CH_0) < 10) {
      p = scanNumber(p);
      if (!p) return null;
      value = lastNumber;
    } else if (c == 0x74) {
      p = expectLiteral(p, "true");
      if (!p) return null;
      value = JsonValue.bool(true);
    } else if (c == 0x66) {
      p = expectLiteral(p, "false");
      if (!p) return null;
      value = JsonValue.bool(false);
    } else if (c == 0x6e) {
      p = expectLiteral(p, "null");
      if (!p) return null;
      value = JsonValue.null();
    } else {
      if (c == CH_RBRACKET || c == CH_RBRACE) {
        fail(JsonErrorKind.UnexpectedCharacter, p, describeUnexpected(p, "expected a value"));
      } else if (c == CH_PLUS || c == CH_DOT) {
        fail(JsonErrorKind.InvalidNumber, p, "numbers start with '-' or a digit");
      } else {
        fail(JsonErrorKind.UnexpectedCharacter, p, describeUnexpected(p, "expected a value"));
      }
      return null;
    }

    // `value` is complete: hand it to the enclosing containers, closing those that end.
    while (true) {
      const open = frames.length;
      if (open == 0) {
        p = skipWhitespace(p);
        if (p != end) {
          fail(JsonErrorKind.TrailingData, p, describeUnexpected(p, "expected the end of input"));
          return null;
        }
        return value;
      }
      values.push(value);
      p = skipWhitespace(p);
      if (p >= end) {
        fail(JsonErrorKind.UnexpectedEnd, end, "unexpected end of input inside " + (isObjectFrame() ? "an object" : "an array"));
        return null;
      }
      c = load<u8>(p);
      const inObject = isObjectFrame();
      if (c == CH_COMMA) {
        const comma = p;
        p = skipWhitespace(p + 1);
        if (p < end && load<u8>(p) == (inObject ? CH_RBRACE : CH_RBRACKET)) {
          fail(JsonErrorKind.TrailingComma, comma, "trailing comma");
          return null;
        }
        if (inObject) {
          p = parseMemberName(p);
          if (!p) return null;
        }
        break; // next value
      }
      if (c == (inObject ? CH_RBRACE : CH_RBRACKET)) {
        p++;
        depth--;
        const closed = inObject ? closeObject() : closeArray();
        if (closed === null) return null;
        value = closed;
        continue;
      }
      fail(JsonErrorKind.UnexpectedCharacter, p, describeUnexpected(p, inObject ? "expected ',' or '}'" : "expected ',' or ']'"));
      return null;
    }
  }
}

// @ts-ignore: decorator
@inline function isObjectFrame(): bool {
  const n = frames.length;
  return n >= 2 && unchecked(frames[n - 2]) < 0;
}

/** At p (after whitespace): `"name"` then `:`; returns the position of the value (after whitespace). */
function parseMemberName(p: usize): usize {
  if (p >= end) return fail(JsonErrorKind.UnexpectedEnd, end, "unexpected end of input, expected a member name");
  if (load<u8>(p) != CH_QUOTE) {
    return fail(JsonErrorKind.UnexpectedCharacter, p, describeUnexpected(p, "expected a member name in double quotes"));
  }
  const at = p;
  p = scanString(p);
  if (!p) return 0;
  keys.push(lastString);
  keyOffsets.push(<i32>(at - base));
  p = skipWhitespace(p);
  if (p >= end) return fail(JsonErrorKind.UnexpectedEnd, end, "unexpected end of input, expected ':'");
  if (load<u8>(p) != CH_COLON) return fail(JsonErrorKind.UnexpectedCharacter, p, describeUnexpected(p, "expected ':'"));
  return skipWhitespace(p + 1);
}

function closeArray(): JsonValue {
  const start = frames.pop();
  const n = values.length - start;
  const items = new StaticArray<JsonValue>(n);
  for (let i = 0; i < n; i++) unchecked((items[i] = unchecked(values[start + i])));
  values.length = start;
  return JsonValue.array(items);
}

function closeObject(): JsonValue | null {
  const start = frames.pop();
  const keyStart = -1 - frames.pop();
  const n = values.length - start;
  const names = new StaticArray<string>(n);
  const items = new StaticArray<JsonValue>(n);
  for (let i = 0; i < n; i++) {
    unchecked((names[i] = unchecked(keys[keyStart + i])));
    unchecked((items[i] = unchecked(values[start + i])));
  }
  let index: Map<string, i32> | null = null;
  let duplicate = -1;
  if (n <= SMALL_OBJECT_MEMBERS) {
    for (let i = 1; i < n && duplicate < 0; i++) {
      const k = unchecked(names[i]);
      for (let j = 0; j < i; j++) {
        if (unchecked(names[j]) == k) {
          duplicate = i;
          break;
        }
      }
    }
  } else {
    const map = new Map<string, i32>();
    for (let i = 0; i < n; i++) {
      const k = unchecked(names[i]);
      if (map.has(k)) {
        duplicate = i;
        break;
      }
      map.set(k, i);
    }
    index = map;
  }
  if (duplicate >= 0) {
    fail(JsonErrorKind.DuplicateKey, base + <usize>unchecked(keyOffsets[keyStart + duplicate]),
      "duplicate member name \"" + clip(unchecked(names[duplicate])) + "\"");
    return null;
  }
  values.length = start;
  keys.length = keyStart;
  keyOffsets.length = keyStart;
  return JsonValue.objectUnchecked(names, items, index);
}

function clip(s: string): string {
  return s.length <= 64 ? s : s.substring(0, 64) + "...";
}

function expectLiteral(p: usize, word: string): usize {
  const n = word.length;
  for (let i = 0; i < n; i++) {
    const q = p + <usize>i;
    if (q >= end) return fail(JsonErrorKind.UnexpectedEnd, end, "unexpected end of input in '" + word + "'");
    if (<u32>load<u8>(q) != <u32>word.charCodeAt(i)) {
      return fail(JsonErrorKind.UnexpectedCharacter, p, "invalid literal, expected '" + word + "'");
    }
  }
  return p + <usize>n;
}

// ---- strings ----------------------------------------------------------------------

/** Value of a hex digit, or -1. */
// @ts-ignore: decorator
@inline function hexValue(c: u32): i32 {
  if (c - 0x30 < 10) return <i32>(c - 0x30);
  const l = (c | 0x20) - 0x61;
  return l < 6 ? <i32>(l + 10) : -1;
}

/** The code unit of the 4 hex digits at p (caller checked p + 4 <= end), or -1. */
function hex4(p: usize): i32 {
  const a = hexValue(load<u8>(p));
  const b = hexValue(load<u8>(p, 1));
  const c = hexValue(load<u8>(p, 2));
  const d = hexValue(load<u8>(p, 3));
  if ((a | b | c | d) < 0) return -1;
  return (a << 12) | (b << 8) | (c << 4) | d;
}

/**
 * Length of the well-formed UTF-8 sequence at p whose lead byte is >= 0x80 (Unicode
 * 15 Table 3-7), 0 when ill-formed, -1 when the input ends inside it.
 */
function utf8SequenceLength(p: usize): i32 {
  const b0 = <u32>load<u8>(p);
  let n: i32;
  let lo: u32 = 0x80;
  let hi: u32 = 0xbf;
  if (b0 >= 0xc2 && b0 <= 0xdf) n = 2;
  else if (b0 >= 0xe0 && b0 <= 0xef) {
    n = 3;
    if (b0 == 0xe0) lo = 0xa0; // no overlong forms
    else if (b0 == 0xed) hi = 0x9f; // no surrogates
  } else if (b0 >= 0xf0 && b0 <= 0xf4) {
    n = 4;
    if (b0 == 0xf0) lo = 0x90; // no overlong forms
    else if (b0 == 0xf4) hi = 0x8f; // nothing above U+10FFFF
  } else return 0;
  for (let i = 1; i < n; i++) {
    const q = p + <usize>i;
    if (q >= end) return -1;
    const b = <u32>load<u8>(q);
    if (b < lo || b > hi) return 0;
    lo = 0x80;
    hi = 0xbf;
  }
  return n;
}

/**
 * Scans and decodes the string literal whose opening quote is at p into `lastString`;
 * returns the position after the closing quote, or 0 with the error set.
 */
function scanString(p: usize): usize {
  const start = p + 1;
  let q = start;
  let units: i32 = 0; // UTF-16 code units of the decoded string
  let plain = true; // ASCII without escapes: decoded by widening
  while (true) {
    // Run of plain ASCII (the common case), eight bytes at a time while possible.
    const runStart = q;
    while (q + 8 <= end) {
      const w = load<u64>(q);
      // A lane is special when < 0x20, == '"', == '\\' or >= 0x80 (SWAR, lanes < 0x80 after masking).
      const lanes = w & 0x7f7f7f7f7f7f7f7f;
      const ctrl = (lanes - 0x2020202020202020) & ~lanes;
      const xq = lanes ^ 0x2222222222222222;
      const quote = (xq - 0x0101010101010101) & ~xq;
      const xb = lanes ^ 0x5c5c5c5c5c5c5c5c;
      const bslash = (xb - 0x0101010101010101) & ~xb;
      if (((ctrl | quote | bslash | w) & 0x8080808080808080) != 0) break;
      q += 8;
    }
    while (q < end) {
      const c = load<u8>(q);
      if (c < 0x20 || c == CH_QUOTE || c == CH_BACKSLASH || c >= 0x80) break;
      q++;
    }
    units += <i32>(q - runStart);
    if (q >= end) return fail(JsonErrorKind.UnexpectedEnd, end, "unexpected end of input inside a string");
    const c = load<u8>(q);
    if (c == CH_QUOTE) break;
    plain = false;
    if (c == CH_BACKSLASH) {
      if (q + 1 >= end) return fail(JsonErrorKind.UnexpectedEnd, end, "unexpected end of input in an escape");
      const e = load<u8>(q + 1);
      if (e == CH_QUOTE || e == CH_BACKSLASH || e == CH_SLASH || e == 0x62 || e == 0x66 || e == 0x6e || e == 0x72 || e == 0x74) {
        units++;
        q += 2;
        continue;
      }
      if (e != 0x75) return fail(JsonErrorKind.InvalidEscape, q, "invalid escape '\\" + String.fromCharCode(e) + "'");
      if (q + 6 > end) return fail(JsonErrorKind.UnexpectedEnd, end, "unexpected end of input in a \\u escape");
      const unit = hex4(q + 2);
      if (unit < 0) return fail(JsonErrorKind.InvalidEscape, q, "\\u must be followed by four hex digits");
      if (unit >= 0xdc00 && unit <= 0xdfff) return fail(JsonErrorKind.LoneSurrogate, q, "lone low surrogate in \\u escape");
      if (unit >= 0xd800 && unit <= 0xdbff) {
        const low = q + 6;
        if (low + 2 > end) {
          if (low >= end || load<u8>(low) == CH_BACKSLASH) return fail(JsonErrorKind.UnexpectedEnd, end, "unexpected end of input in a surrogate pair");
          return fail(JsonErrorKind.LoneSurrogate, q, "lone high surrogate in \\u escape");
        }
        if (load<u8>(low) != CH_BACKSLASH || load<u8>(low + 1) != 0x75) {
          return fail(JsonErrorKind.LoneSurrogate, q, "lone high surrogate in \\u escape");
        }
        if (low + 6 > end) return fail(JsonErrorKind.UnexpectedEnd, end, "unexpected end of input in a \\u escape");
        const second = hex4(low + 2);
        if (second < 0) return fail(JsonErrorKind.InvalidEscape, low, "\\u must be followed by four hex digits");
        if (second < 0xdc00 || second > 0xdfff) return fail(JsonErrorKind.LoneSurrogate, q, "lone high surrogate in \\u escape");
        units += 2;
        q += 12;
        continue;
      }
      units++;
      q += 6;
      continue;
    }
    if (c < 0x20) {
      return fail(JsonErrorKind.ControlCharacter, q, "control character 0x" + (<u32>c).toString(16) + " in a string must be escaped");
    }
    const n = utf8SequenceLength(q);
    if (n < 0) return fail(JsonErrorKind.UnexpectedEnd, end, "unexpected end of input inside a UTF-8 sequence");
    if (n == 0) return fail(JsonErrorKind.InvalidUtf8, q, "invalid UTF-8");
    units += n == 4 ? 2 : 1;
    q += <usize>n;
  }
  // q is at the closing quote; decode [start, q).
  const out = changetype<usize>(__new(<usize>units << 1, idof<string>()));
  if (plain) {
    widenAscii(out, start, <i32>(q - start));
  } else {
    decodeEscaped(out, start, q);
  }
  lastString = changetype<string>(out);
  return q + 1;
}

function widenAscii(out: usize, src: usize, n: i32): void {
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const w = <u64>load<u32>(src + <usize>i);
    const wide = (w & 0xff) | ((w & 0xff00) << 8) | ((w & 0xff0000) << 16) | ((w & 0xff000000) << 24);
    store<u64>(out + (<usize>i << 1), wide);
  }
  for (; i < n; i++) store<u16>(out + (<usize>i << 1), load<u8>(src + <usize>i));
}

/** Decodes an already validated string body with escapes and/or UTF-8 sequences. */
function decodeEscaped(out: usize, p: usize, stop: usize): void {
  while (p < stop) {
    const c = <u32>load<u8>(p);
    if (c == CH_BACKSLASH) {
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
      const cp = ((c & 0x07) << 18) | ((<u32>load<u8>(p + 1) & 0x3f) << 12) | ((<u32>load<u8>(p + 2) & 0x3f) << 6) | (<u32>load<u8>(p + 3) & 0x3f);
      const v = cp - 0x10000;
      store<u16>(out, <u16>(0xd800 | (v >> 10)));
      store<u16>(out, <u16>(0xdc00 | (v & 0x3ff)), 2);
      out += 4;
      p += 4;
    }
  }
}

// ---- numbers ----------------------------------------------------------------------

const POW10_U64: StaticArray<u64> = [
  1, 10, 100, 1000, 10000, 100000, 1000000, 10000000, 100000000, 1000000000,
  10000000000, 100000000000, 1000000000000, 10000000000000, 100000000000000,
  1000000000000000, 10000000000000000, 100000000000000000, 1000000000000000000,
  10000000000000000000,
];

// Exactly representable powers of ten (10^0 … 10^22).
const POW10_F64: StaticArray<f64> = [
  1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
  1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
];

/**
 * Scans the number at p (RFC 8259 §6) into `lastNumber`: exact i64 when its decimal
 * value is an integer within range, and the correctly rounded f64 in every case.
 */
function scanNumber(p: usize): usize {
  const tokenStart = p;
  let negative = false;
  if (load<u8>(p) == CH_MINUS) {
    negative = true;
    p++;
    if (p >= end) return fail(JsonErrorKind.UnexpectedEnd, end, "unexpected end of input in a number");
  }
  const digitsStart = p;
  let mant: u64 = 0;
  let nd: i32 = 0; // digits in mant (from the first non-zero one)
  let zeros: i32 = 0; // zeros seen but not yet multiplied into mant
  let lost: i32 = 0; // digits that did not fit in mant
  let inexact = false; // a lost digit was non-zero
  let fraction: i32 = 0;

  let c = load<u8>(p);
  if (c == CH_0) {
    p++;
    if (p < end && <u32>(load<u8>(p) - CH_0) < 10) {
      return fail(JsonErrorKind.InvalidNumber, tokenStart, "leading zeros are not allowed");
    }
  } else if (<u32>(c - CH_0) < 10) {
    while (p < end) {
      const d = <u32>(load<u8>(p) - CH_0);
      if (d >= 10) break;
      p++;
      if (d == 0) {
        zeros++;
      } else if (nd + zeros < 19) {
        mant = mant * unchecked(POW10_U64[zeros + 1]) + d;
        nd += zeros + 1;
        zeros = 0;
      } else {
        inexact = true;
        if (lost < 0x10000000) lost += zeros + 1;
        zeros = 0;
      }
    }
  } else {
    return fail(JsonErrorKind.InvalidNumber, p, "expected a digit after '-'");
  }

  if (p < end && load<u8>(p) == CH_DOT) {
    p++;
    if (p >= end) return fail(JsonErrorKind.UnexpectedEnd, end, "unexpected end of input in a number");
    if (<u32>(load<u8>(p) - CH_0) >= 10) return fail(JsonErrorKind.InvalidNumber, p, "expected a digit after '.'");
    while (p < end) {
      const d = <u32>(load<u8>(p) - CH_0);
      if (d >= 10) break;
      p++;
      if (fraction < 0x10000000) fraction++;
      if (d == 0) {
        if (nd != 0) zeros++;
      } else if (nd + zeros < 19) {
        mant = mant * unchecked(POW10_U64[zeros + 1]) + d;
        nd += zeros + 1;
        zeros = 0;
      } else {
        inexact = true;
        if (lost < 0x10000000) lost += zeros + 1;
        zeros = 0;
      }
    }
  }

  let exp: i32 = 0;
  if (p < end && (load<u8>(p) | 0x20) == 0x65) {
    p++;
    let expNegative = false;
    if (p < end && (load<u8>(p) == CH_MINUS || load<u8>(p) == CH_PLUS)) {
      expNegative = load<u8>(p) == CH_MINUS;
      p++;
    }
    if (p >= end) return fail(JsonErrorKind.UnexpectedEnd, end, "unexpected end of input in a number");
    if (<u32>(load<u8>(p) - CH_0) >= 10) return fail(JsonErrorKind.InvalidNumber, p, "expected a digit in the exponent");
    while (p < end) {
      const d = <u32>(load<u8>(p) - CH_0);
      if (d >= 10) break;
      p++;
      if (exp < 100000000) exp = exp * 10 + <i32>d;
    }
    if (expNegative) exp = -exp;
  }

  // value = ±(mant + inexact tail) · 10^e10
  const e10 = zeros + lost - fraction + exp;

  // Exact integer?
  let isInteger = false;
  let int: i64 = 0;
  if (mant == 0) {
    isInteger = true;
  } else if (!inexact && e10 >= 0 && e10 <= 18) {
    const scale = unchecked(POW10_U64[e10]);
    const limit: u64 = negative ? 0x8000000000000000 : 0x7fffffffffffffff;
    if (mant <= limit / scale) {
      const magnitude = mant * scale;
      isInteger = true;
      int = negative ? <i64>(0 - magnitude) : <i64>magnitude;
    }
  }

  // Nearest double.
  let f: f64;
  if (mant == 0) {
    f = 0;
  } else if (!inexact && e10 == 0) {
    f = <f64>mant; // u64 -> f64 rounds to nearest even
  } else if (!inexact && mant <= 9007199254740992 && e10 >= -22 && e10 <= 22) {
    f = e10 >= 0 ? <f64>mant * unchecked(POW10_F64[e10]) : <f64>mant / unchecked(POW10_F64[-e10]);
  } else {
    f = decimalTokenToF64(digitsStart, p);
    if (!isFinite(f)) return fail(JsonErrorKind.NumberOutOfRange, tokenStart, "number out of range for a double");
  }
  if (negative) f = -f;
  lastNumber = JsonValue.numberExact(isInteger, int, f);
  return p;
}
