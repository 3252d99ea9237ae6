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
 * The result is a tape (tape.ts): a successful parse allocates the result, the document,
 * a copy of the input, the tape and the root handle, whatever the document holds (plus
 * a hash table per object of more than 32 members).
 * Not re-entrant (module-level scratch memory, reused across calls); Wasm modules run
 * one callback at a time.
 */
import { JsonDocument, JsonValue } from "./value";
import { JsonError, JsonErrorKind } from "./error";
import { POW10_F64, decimalTokenToF64 } from "./decimal";
import { ascii, formatHex, formatInteger } from "../proxy-wasm";
import {
  INDEXED_OBJECT_MEMBERS, MAX_CONTAINER_COUNT, MAX_STRING_BYTES, TAG_ARRAY, TAG_F64, TAG_FALSE, TAG_INT, TAG_NULL,
  TAG_OBJECT, TAG_TRUE, containerEntry, decodeString, entriesEqual, hashAscii, hashEntry, hex4, indexCapacity,
  indexInsert, isJsonSpace, stringEntry,
} from "./tape";

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
      ascii.text("input of ") + formatInteger(length) + ascii.text(" bytes is over the limit of ") + formatInteger(options.maxBytes)));
  }
  base = ptr;
  end = ptr + <usize>length;
  errorKind = JsonErrorKind.None;
  tapeLength = 0;
  frameCount = 0;
  nameCount = 0;
  const ok = parseDocument(options.maxDepth < 0 ? 0 : options.maxDepth);
  if (!ok) {
    tables = null;
    return new JsonResult(null, new JsonError(errorKind, <i32>(errorAt - base), errorMessage));
  }
  return new JsonResult(finishDocument(length), null);
}

let EMPTY_OBJECT: JsonValue | null = null;

/** `{}`, one shared instance (values are immutable). */
export function emptyJsonObject(): JsonValue {
  let v = EMPTY_OBJECT;
  if (v === null) {
    const text = memory.data<u8>([0x7b, 0x7d]);
    // `{}` always parses: no null check (its abort would link a message and a file name).
    EMPTY_OBJECT = v = changetype<JsonValue>(parseJsonAt(text, 2).value);
  }
  return v;
}

// ---- parser state -----------------------------------------------------------------

let base: usize = 0;
let end: usize = 0;
let errorKind = JsonErrorKind.None;
let errorAt: usize = 0;
let errorMessage: string = "";

// Scratch memory outside the GC heap, grown as needed and kept for the next parse.
// The tape being built (u64 entries).
let tapePtr: usize = 0;
let tapeCapacity: i32 = 0;
let tapeLength: i32 = 0;
// Open containers, 4 i32 each: tape index of the container entry, count so far, for
// objects the index in the name scratch where its names start (-1 for arrays), and 1 +
// the index of the object's hash table in `tables` (0: none yet).
let framePtr: usize = 0;
let frameCapacity: i32 = 0;
let frameCount: i32 = 0;
// Member names of the open objects, 2 i32 each: hash and tape index of the name entry.
let namePtr: usize = 0;
let nameCapacity: i32 = 0;
let nameCount: i32 = 0;
// Hash tables of the objects that grew past INDEXED_OBJECT_MEMBERS, open or closed; each
// ends with its object's tape index (see tape.ts). The document keeps the list. Made on
// first need, not at module start: another module's top-level code may parse before
// this module's globals are initialized.
let tables: Array<StaticArray<i32>> | null = null;

// Result of scanString.
let stringStart: usize = 0;
let stringEnd: usize = 0;
let stringEscapedFlag: bool = false;

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

/** Grows a scratch area to hold `needed` items of `itemSize` bytes; returns its (new) address. */
function grow(ptr: usize, capacity: i32, needed: i32, itemSize: i32): usize {
  let size = capacity > 0 ? capacity : 64;
  while (size < needed) size <<= 1;
  const grown = heap.alloc(<usize>size * itemSize);
  if (ptr) {
    memory.copy(grown, ptr, <usize>capacity * itemSize);
    heap.free(ptr);
  }
  growCapacity = size;
  return grown;
}
let growCapacity: i32 = 0;

// @ts-ignore: decorator
@inline function pushTape(entry: u64): void {
  if (tapeLength == tapeCapacity) {
    tapePtr = grow(tapePtr, tapeCapacity, tapeLength + 1, 8);
    tapeCapacity = growCapacity;
  }
  store<u64>(tapePtr + (<usize>tapeLength << 3), entry);
  tapeLength++;
}

// @ts-ignore: decorator
@inline function tapeAt(i: i32): u64 {
  return load<u64>(tapePtr + (<usize>i << 3));
}

function finishDocument(length: i32): JsonValue {
  const tape = new StaticArray<u64>(tapeLength);
  memory.copy(changetype<usize>(tape), tapePtr, <usize>tapeLength << 3);
  const source = new ArrayBuffer(length);
  memory.copy(changetype<usize>(source), base, <usize>length);
  const indexes = tables;
  tables = null;
  return new JsonValue(new JsonDocument(source, tape, indexes), 0);
}

// @ts-ignore: decorator
@inline function skipWhitespace(p: usize): usize {
  while (p < end) {
    if (!isJsonSpace(load<u8>(p))) break;
    p++;
  }
  return p;
}

function describeUnexpected(p: usize, expected: string): string {
  const c = load<u8>(p);
  if (c == CH_SLASH) return ascii.text("comments are not allowed");
  if (c == 0x27) return ascii.text("strings must be in double quotes");
  if (c >= 0x80 || c < 0x20 || c == 0x7f) return ascii.text("unexpected byte 0x") + formatHex(c) + ", " + expected;
  return ascii.text("unexpected character '") + String.fromCharCode(c) + "', " + expected;
}

// ---- containers -------------------------------------------------------------------

// @ts-ignore: decorator
@inline function frameAddress(i: i32): usize {
  return framePtr + (<usize>i << 4);
}

function openContainer(object: bool): void {
  if (frameCount == frameCapacity) {
    framePtr = grow(framePtr, frameCapacity, frameCount + 1, 16);
    frameCapacity = growCapacity;
  }
  const f = frameAddress(frameCount++);
  store<i32>(f, tapeLength);
  store<i32>(f, 0, 4);
  store<i32>(f, object ? nameCount : -1, 8);
  store<i32>(f, 0, 12);
  pushTape(0); // patched when the container closes
}

// @ts-ignore: decorator
@inline function topIsObject(): bool {
  return load<i32>(frameAddress(frameCount - 1), 8) >= 0;
}

/** Counts one more item in the innermost container; false (with the error set) past the limit. */
function countItem(at: usize): bool {
  const f = frameAddress(frameCount - 1);
  const count = load<i32>(f, 4) + 1;
  if (count > MAX_CONTAINER_COUNT) {
    fail(JsonErrorKind.TooLarge, at, ascii.text("more than ") + formatInteger(MAX_CONTAINER_COUNT) + ascii.text(" items in one container"));
    return false;
  }
  store<i32>(f, count, 4);
  return true;
}

function closeContainer(): void {
  const f = frameAddress(--frameCount);
  const at = load<i32>(f);
  const count = load<i32>(f, 4);
  const names = load<i32>(f, 8);
  const object = names >= 0;
  store<u64>(tapePtr + (<usize>at << 3), containerEntry(object ? TAG_OBJECT : TAG_ARRAY, count, tapeLength));
  if (object) nameCount = names;
}

/** Records the name just pushed on the tape for the innermost object; false (error set) on a duplicate. */
function addName(quote: usize): bool {
  const namePos = tapeLength - 1;
  const entry = tapeAt(namePos);
  const hash = stringEscapedFlag ? hashEntry(base, entry) : hashAscii(stringStart, <i32>(stringEnd - stringStart));
  const frame = frameCount - 1;
  const first = load<i32>(frameAddress(frame), 8);
  const tableSlot = load<i32>(frameAddress(frame), 12);
  let duplicate = -1;
  // A slot is only recorded once `tables` exists (rebuildTable).
  const table: StaticArray<i32> | null = tableSlot > 0 ? unchecked(changetype<Array<StaticArray<i32>>>(tables)[tableSlot - 1]) : null;
  if (table !== null) {
    duplicate = indexInsert(table, tapePtr, base, hash, namePos);
  } else {
    for (let i = first; i < nameCount; i++) {
      const a = namePtr + (<usize>i << 3);
      if (load<u32>(a) == hash && entriesEqual(base, tapeAt(load<i32>(a, 4)), entry)) {
        duplicate = i;
        break;
      }
    }
  }
  if (duplicate >= 0) {
    let name = decodeString(base, entry);
    if (name.length > 64) name = name.substring(0, 64) + "...";
    fail(JsonErrorKind.DuplicateKey, quote, ascii.text("duplicate member name \"") + name + "\"");
    return false;
  }
  if (nameCount == nameCapacity) {
    namePtr = grow(namePtr, nameCapacity, nameCount + 1, 8);
    nameCapacity = growCapacity;
  }
  const a = namePtr + (<usize>nameCount << 3);
  store<u32>(a, hash);
  store<i32>(a, namePos, 4);
  nameCount++;
  const members = nameCount - first;
  if (table !== null) {
    if (members * 2 > (table.length >> 1)) rebuildTable(frame, first); // keep the load under 1/2
  } else if (members > INDEXED_OBJECT_MEMBERS) {
    rebuildTable(frame, first);
  }
  return true;
}

/** (Re)builds the hash table of the object at `frame` from its names so far. */
function rebuildTable(frame: i32, first: i32): void {
  const f = frameAddress(frame);
  const capacity = indexCapacity(nameCount - first);
  const table = new StaticArray<i32>(capacity * 2 + 1);
  unchecked((table[capacity * 2] = load<i32>(f)));
  for (let i = first; i < nameCount; i++) {
    const a = namePtr + (<usize>i << 3);
    indexInsert(table, tapePtr, base, load<u32>(a), load<i32>(a, 4));
  }
  const slot = load<i32>(f, 12);
  let list = tables;
  if (list === null) tables = list = new Array<StaticArray<i32>>();
  if (slot > 0) {
    unchecked((list[slot - 1] = table));
  } else {
    list.push(table);
    store<i32>(f, list.length, 12);
  }
}

// ---- document -----------------------------------------------------------------------

function parseDocument(maxDepth: i32): bool {
  let p = skipWhitespace(base);
  while (true) {
    // A value starts at p.
    if (p >= end) {
      fail(JsonErrorKind.UnexpectedEnd, end, ascii.text("unexpected end of input, expected a value"));
      return false;
    }
    let c = load<u8>(p);
    if (c == CH_LBRACE || c == CH_LBRACKET) {
      if (frameCount >= maxDepth) {
        fail(JsonErrorKind.TooDeep, p, ascii.text("nesting deeper than ") + formatInteger(maxDepth));
        return false;
      }
      const object = c == CH_LBRACE;
      openContainer(object);
      p = skipWhitespace(p + 1);
      if (p < end && load<u8>(p) == (object ? CH_RBRACE : CH_RBRACKET)) {
        p++;
        closeContainer();
      } else {
        if (object) {
          p = parseMemberName(p);
          if (!p) return false;
        }
        continue;
      }
    } else if (c == CH_QUOTE) {
      p = scanString(p);
      if (!p) return false;
      pushString();
    } else if (c == CH_MINUS || <u32>(c - CH_0) < 10) {
      p = scanNumber(p);
      if (!p) return false;
    } else if (c == 0x74) {
      p = expectLiteral(p, "true");
      if (!p) return false;
      pushTape(<u64>TAG_TRUE << 60);
    } else if (c == 0x66) {
      p = expectLiteral(p, "false");
      if (!p) return false;
      pushTape(<u64>TAG_FALSE << 60);
    } else if (c == 0x6e) {
      p = expectLiteral(p, "null");
      if (!p) return false;
      pushTape(<u64>TAG_NULL << 60);
    } else {
      if (c == CH_PLUS || c == CH_DOT) fail(JsonErrorKind.InvalidNumber, p, ascii.text("numbers start with '-' or a digit"));
      else fail(JsonErrorKind.UnexpectedCharacter, p, describeUnexpected(p, ascii.text("expected a value")));
      return false;
    }

    // A value is complete: count it in its container, closing the containers that end.
    while (true) {
      if (frameCount == 0) {
        p = skipWhitespace(p);
        if (p != end) {
          fail(JsonErrorKind.TrailingData, p, describeUnexpected(p, ascii.text("expected the end of input")));
          return false;
        }
        return true;
      }
      if (!countItem(p)) return false;
      p = skipWhitespace(p);
      const inObject = topIsObject();
      if (p >= end) {
        fail(JsonErrorKind.UnexpectedEnd, end, ascii.text("unexpected end of input inside ") + (inObject ? ascii.text("an object") : ascii.text("an array")));
        return false;
      }
      c = load<u8>(p);
      const close = inObject ? CH_RBRACE : CH_RBRACKET;
      if (c == CH_COMMA) {
        const comma = p;
        p = skipWhitespace(p + 1);
        if (p < end && load<u8>(p) == close) {
          fail(JsonErrorKind.TrailingComma, comma, ascii.text("trailing comma"));
          return false;
        }
        if (inObject) {
          p = parseMemberName(p);
          if (!p) return false;
        }
        break; // next value
      }
      if (c == close) {
        p++;
        closeContainer();
        continue;
      }
      fail(JsonErrorKind.UnexpectedCharacter, p, describeUnexpected(p, inObject ? ascii.text("expected ',' or '}'") : ascii.text("expected ',' or ']'")));
      return false;
    }
  }
}

/** At p (after whitespace): `"name"` then `:`; returns the position of the value (after whitespace). */
function parseMemberName(p: usize): usize {
  if (p >= end) return fail(JsonErrorKind.UnexpectedEnd, end, ascii.text("unexpected end of input, expected a member name"));
  if (load<u8>(p) != CH_QUOTE) {
    return fail(JsonErrorKind.UnexpectedCharacter, p, describeUnexpected(p, ascii.text("expected a member name in double quotes")));
  }
  const quote = p;
  p = scanString(p);
  if (!p) return 0;
  pushString();
  if (!addName(quote)) return 0;
  p = skipWhitespace(p);
  if (p >= end) return fail(JsonErrorKind.UnexpectedEnd, end, ascii.text("unexpected end of input, expected ':'"));
  if (load<u8>(p) != CH_COLON) return fail(JsonErrorKind.UnexpectedCharacter, p, describeUnexpected(p, ascii.text("expected ':'")));
  return skipWhitespace(p + 1);
}

function expectLiteral(p: usize, word: string): usize {
  const n = word.length;
  for (let i = 0; i < n; i++) {
    const q = p + <usize>i;
    if (q >= end) return fail(JsonErrorKind.UnexpectedEnd, end, ascii.text("unexpected end of input in '") + word + "'");
    if (<u32>load<u8>(q) != <u32>word.charCodeAt(i)) {
      return fail(JsonErrorKind.UnexpectedCharacter, p, ascii.text("invalid literal, expected '") + word + "'");
    }
  }
  return p + <usize>n;
}

// ---- strings ----------------------------------------------------------------------

/** Pushes the string scanned last. */
// @ts-ignore: decorator
@inline function pushString(): void {
  pushTape(stringEntry(<u32>(stringStart - base), <i32>(stringEnd - stringStart), stringEscapedFlag));
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
 * Validates the string literal whose opening quote is at p: sets stringStart/stringEnd
 * (its body) and stringEscapedFlag; returns the position after the closing quote, or 0
 * with the error set. Nothing is decoded here: the tape keeps the bytes.
 */
function scanString(p: usize): usize {
  const start = p + 1;
  let q = start;
  let escaped = false; // escapes or non-ASCII: decoded the slow way
  while (true) {
    // Run of plain ASCII (the common case), eight bytes at a time while possible.
    while (q + 8 <= end) {
      const w = load<u64>(q);
      // A lane is special when < 0x20, == '"', == '\\' or >= 0x80 (SWAR on the low 7 bits;
      // false positives only above a real hit, which the byte loop sorts out).
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
    if (q >= end) return fail(JsonErrorKind.UnexpectedEnd, end, ascii.text("unexpected end of input inside a string"));
    const c = load<u8>(q);
    if (c == CH_QUOTE) break;
    escaped = true;
    if (c == CH_BACKSLASH) {
      if (q + 1 >= end) return fail(JsonErrorKind.UnexpectedEnd, end, ascii.text("unexpected end of input in an escape"));
      const e = load<u8>(q + 1);
      if (e == CH_QUOTE || e == CH_BACKSLASH || e == CH_SLASH || e == 0x62 || e == 0x66 || e == 0x6e || e == 0x72 || e == 0x74) {
        q += 2;
        continue;
      }
      if (e != 0x75) return fail(JsonErrorKind.InvalidEscape, q, ascii.text("invalid escape '\\") + String.fromCharCode(e) + "'");
      if (q + 6 > end) return fail(JsonErrorKind.UnexpectedEnd, end, ascii.text("unexpected end of input in a \\u escape"));
      const unit = hex4(q + 2);
      if (unit < 0) return fail(JsonErrorKind.InvalidEscape, q, ascii.text("\\u must be followed by four hex digits"));
      if (unit >= 0xdc00 && unit <= 0xdfff) return fail(JsonErrorKind.LoneSurrogate, q, ascii.text("lone low surrogate in \\u escape"));
      if (unit >= 0xd800 && unit <= 0xdbff) {
        const low = q + 6;
        if (low + 2 > end) {
          if (low >= end || load<u8>(low) == CH_BACKSLASH) return fail(JsonErrorKind.UnexpectedEnd, end, ascii.text("unexpected end of input in a surrogate pair"));
          return fail(JsonErrorKind.LoneSurrogate, q, ascii.text("lone high surrogate in \\u escape"));
        }
        if (load<u8>(low) != CH_BACKSLASH || load<u8>(low + 1) != 0x75) {
          return fail(JsonErrorKind.LoneSurrogate, q, ascii.text("lone high surrogate in \\u escape"));
        }
        if (low + 6 > end) return fail(JsonErrorKind.UnexpectedEnd, end, ascii.text("unexpected end of input in a \\u escape"));
        const second = hex4(low + 2);
        if (second < 0) return fail(JsonErrorKind.InvalidEscape, low, ascii.text("\\u must be followed by four hex digits"));
        if (second < 0xdc00 || second > 0xdfff) return fail(JsonErrorKind.LoneSurrogate, q, ascii.text("lone high surrogate in \\u escape"));
        q += 12;
        continue;
      }
      q += 6;
      continue;
    }
    if (c < 0x20) {
      return fail(JsonErrorKind.ControlCharacter, q, ascii.text("control character 0x") + formatHex(c) + ascii.text(" in a string must be escaped"));
    }
    const n = utf8SequenceLength(q);
    if (n < 0) return fail(JsonErrorKind.UnexpectedEnd, end, ascii.text("unexpected end of input inside a UTF-8 sequence"));
    if (n == 0) return fail(JsonErrorKind.InvalidUtf8, q, ascii.text("invalid UTF-8"));
    q += <usize>n;
  }
  if (q - start > <usize>MAX_STRING_BYTES) {
    return fail(JsonErrorKind.TooLarge, p, ascii.text("string longer than ") + formatInteger(MAX_STRING_BYTES) + ascii.text(" bytes"));
  }
  stringStart = start;
  stringEnd = q;
  stringEscapedFlag = escaped;
  return q + 1;
}

// ---- numbers ----------------------------------------------------------------------

const POW10_U64: StaticArray<u64> = [
  1, 10, 100, 1000, 10000, 100000, 1000000, 10000000, 100000000, 1000000000,
  10000000000, 100000000000, 1000000000000, 10000000000000, 100000000000000,
  1000000000000000, 10000000000000000, 100000000000000000, 1000000000000000000,
  10000000000000000000,
];


/**
 * Scans the number at p (RFC 8259 §6) onto the tape: an exact i64 when its decimal
 * value is an integer within range, else the correctly rounded f64.
 */
function scanNumber(p: usize): usize {
  const tokenStart = p;
  let negative = false;
  if (load<u8>(p) == CH_MINUS) {
    negative = true;
    p++;
    if (p >= end) return fail(JsonErrorKind.UnexpectedEnd, end, ascii.text("unexpected end of input in a number"));
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
      return fail(JsonErrorKind.InvalidNumber, tokenStart, ascii.text("leading zeros are not allowed"));
    }
  } else if (<u32>(c - CH_0) >= 10) {
    return fail(JsonErrorKind.InvalidNumber, p, ascii.text("expected a digit after '-'"));
  }

  // The integer digits, then those after a '.', into mant: one loop, as both count the
  // same way (zeros before the first non-zero digit are not significant; the integer
  // part has none, its first digit being non-zero or a lone 0).
  let inFraction = false;
  for (;;) {
    while (p < end) {
      const d = <u32>(load<u8>(p) - CH_0);
      if (d >= 10) break;
      p++;
      if (inFraction && fraction < 0x10000000) fraction++;
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
    if (inFraction || p >= end || load<u8>(p) != CH_DOT) break;
    p++;
    if (p >= end) return fail(JsonErrorKind.UnexpectedEnd, end, ascii.text("unexpected end of input in a number"));
    if (<u32>(load<u8>(p) - CH_0) >= 10) return fail(JsonErrorKind.InvalidNumber, p, ascii.text("expected a digit after '.'"));
    inFraction = true;
  }

  let exp: i32 = 0;
  if (p < end && (load<u8>(p) | 0x20) == 0x65) {
    p++;
    let expNegative = false;
    if (p < end && (load<u8>(p) == CH_MINUS || load<u8>(p) == CH_PLUS)) {
      expNegative = load<u8>(p) == CH_MINUS;
      p++;
    }
    if (p >= end) return fail(JsonErrorKind.UnexpectedEnd, end, ascii.text("unexpected end of input in a number"));
    if (<u32>(load<u8>(p) - CH_0) >= 10) return fail(JsonErrorKind.InvalidNumber, p, ascii.text("expected a digit in the exponent"));
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

  if (isInteger) {
    pushTape((<u64>TAG_INT << 60) | (negative && mant == 0 ? 1 : 0)); // remember -0 for asF64
    pushTape(<u64>int);
    return p;
  }

  // Nearest double.
  let f: f64;
  if (!inexact && e10 == 0) {
    f = <f64>mant; // u64 -> f64 rounds to nearest even
  } else if (!inexact && mant <= 9007199254740992 && e10 >= -22 && e10 <= 22) {
    f = e10 >= 0 ? <f64>mant * unchecked(POW10_F64[e10]) : <f64>mant / unchecked(POW10_F64[-e10]);
  } else {
    f = decimalTokenToF64(digitsStart, p);
    if (!isFinite(f)) return fail(JsonErrorKind.NumberOutOfRange, tokenStart, ascii.text("number out of range for a double"));
  }
  pushTape(<u64>TAG_F64 << 60);
  pushTape(reinterpret<u64>(negative ? -f : f));
  return p;
}
