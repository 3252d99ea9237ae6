import { formatInteger } from "../proxy-wasm";

/** Why a document was rejected by `parseJson`. Values are stable (tests and logs use them). */
export enum JsonErrorKind {
  None = 0,
  /** The input ends inside a value: truncated, or empty. */
  UnexpectedEnd = 1,
  /** A byte that cannot start or continue a value there: comments, `'`, bare words, a missing `,` or `:`. */
  UnexpectedCharacter = 2,
  /** A `,` right before `]` or `}`. */
  TrailingComma = 3,
  /** A number outside the RFC 8259 §6 grammar: leading zeros, `+1`, `.5`, `1.`, `1e`. */
  InvalidNumber = 4,
  /** A number whose magnitude rounds beyond binary64 (`1e400`; `JSON.parse` would give Infinity). */
  NumberOutOfRange = 5,
  /** U+0000–U+001F unescaped inside a string (RFC 8259 §7). */
  ControlCharacter = 6,
  /** A backslash escape not listed in RFC 8259 §7, or `\u` without four hex digits. */
  InvalidEscape = 7,
  /** A `\uD800`–`\uDFFF` escape that is not half of a surrogate pair (rejected, see I-JSON, RFC 7493 §2.1). */
  LoneSurrogate = 8,
  /** Bytes that are not well-formed UTF-8 (RFC 3629 §4): overlong forms, surrogates, above U+10FFFF, stray continuation bytes. */
  InvalidUtf8 = 9,
  /** An object member name that repeats an earlier one (RFC 7515 §4, RFC 7493 §2.3). */
  DuplicateKey = 10,
  /** Something other than whitespace after the top-level value. */
  TrailingData = 11,
  /** Arrays and objects nested deeper than `JsonOptions.maxDepth`. */
  TooDeep = 12,
  /** Input longer than `JsonOptions.maxBytes`. */
  TooLarge = 13,
}

/** A parse failure: what, where (byte offset into the input) and a one-line message. */
export class JsonError {
  constructor(
    readonly kind: JsonErrorKind,
    /** Byte offset of the offending byte (the input length for a truncated input). */
    readonly offset: i32,
    /** Lower-case, no trailing period, e.g. `duplicate member name "alg"`. */
    readonly message: string,
  ) {}

  /** `<message> at byte <offset>`. */
  toString(): string {
    return this.message + " at byte " + formatInteger(this.offset);
  }
}
