/**
 * google.protobuf.Duration in its JSON form: `"60s"`, `"0.25s"`, `"-1.5s"`, as Envoy's
 * configuration uses it (duration.proto "JSON Mapping"; accepted syntax as protobuf's
 * own parser, src/google/protobuf/json/internal/parser.cc ParseDuration: an optional
 * '-', decimal seconds, optionally '.' and 1 to 9 fractional digits, then exactly one
 * 's'; no '+', no spaces, no exponent).
 */

import { ascii, formatInteger } from "../proxy-wasm";

/** Largest |seconds| of google.protobuf.Duration: 10,000 years (duration.proto). */
export const DURATION_MAX_SECONDS: i64 = 315576000000;

const NANOS_PER_SECOND: i64 = 1000000000;
const NANOS_PER_MILLISECOND: i64 = 1000000;

/** A signed span of time with nanosecond resolution; `seconds` and `nanos` have the same sign. */
export class Duration {
  constructor(
    /** Whole seconds, within ±DURATION_MAX_SECONDS. */
    readonly seconds: i64,
    /** Fraction in nanoseconds, within ±999,999,999, same sign as `seconds`. */
    readonly nanos: i32,
  ) {}

  static zero(): Duration {
    return new Duration(0, 0);
  }

  static fromNanoseconds(total: i64): Duration {
    return new Duration(total / NANOS_PER_SECOND, <i32>(total % NANOS_PER_SECOND));
  }

  static fromMilliseconds(total: i64): Duration {
    return new Duration(total / 1000, <i32>((total % 1000) * NANOS_PER_MILLISECOND));
  }

  /** Total nanoseconds, saturated at the i64 range (±292 years). */
  get totalNanoseconds(): i64 {
    if (this.seconds > i64.MAX_VALUE / NANOS_PER_SECOND - 1) return i64.MAX_VALUE;
    if (this.seconds < i64.MIN_VALUE / NANOS_PER_SECOND + 1) return i64.MIN_VALUE;
    return this.seconds * NANOS_PER_SECOND + this.nanos;
  }

  /**
   * Total milliseconds, truncated toward zero, as protobuf's
   * `TimeUtil::DurationToMilliseconds` (which Envoy's `DurationUtil` uses) does.
   */
  get totalMilliseconds(): i64 {
    return this.seconds * 1000 + this.nanos / <i32>NANOS_PER_MILLISECOND;
  }

  /** The JSON form, with 0, 3, 6 or 9 fractional digits as protobuf writes it: `"60s"`, `"0.250s"`. */
  toString(): string {
    const negative = this.seconds < 0 || this.nanos < 0;
    const seconds = this.seconds < 0 ? -this.seconds : this.seconds;
    let nanos = this.nanos < 0 ? -this.nanos : this.nanos;
    let out = (negative ? "-" : "") + formatInteger(seconds);
    if (nanos != 0) {
      let digits = 9;
      while (digits > 3 && nanos % 1000 == 0) {
        nanos /= 1000;
        digits -= 3;
      }
      let fraction = formatInteger(nanos);
      while (fraction.length < digits) fraction = "0" + fraction;
      out += "." + fraction;
    }
    return out + "s";
  }
}

/** A parsed duration, or why not. */
export class DurationParse {
  constructor(
    readonly value: Duration | null,
    /** Empty when `value` is set. */
    readonly error: string,
  ) {}
}

/** The message for text that is not a protobuf-JSON duration (filters.md quotes it). */
export const DURATION_SYNTAX_ERROR = "expected a duration like \"60s\"";

/** Parses the protobuf-JSON form of a google.protobuf.Duration. */
export function parseDuration(text: string): DurationParse {
  const n = text.length;
  let i = 0;
  let negative = false;
  if (i < n && text.charCodeAt(i) == 0x2d) {
    negative = true;
    i++;
  }
  const digitsStart = i;
  let seconds: i64 = 0;
  let overflow = false;
  while (i < n) {
    const d = text.charCodeAt(i) - 0x30;
    if (<u32>d >= 10) break;
    if (seconds > DURATION_MAX_SECONDS) overflow = true;
    else seconds = seconds * 10 + d;
    i++;
  }
  if (i == digitsStart) return new DurationParse(null, DURATION_SYNTAX_ERROR);
  let nanos: i32 = 0;
  if (i < n && text.charCodeAt(i) == 0x2e) {
    i++;
    let digits = 0;
    while (i < n) {
      const d = text.charCodeAt(i) - 0x30;
      if (<u32>d >= 10) break;
      if (++digits > 9) return new DurationParse(null, DURATION_SYNTAX_ERROR);
      nanos = nanos * 10 + d;
      i++;
    }
    if (digits == 0) return new DurationParse(null, DURATION_SYNTAX_ERROR);
    for (; digits < 9; digits++) nanos *= 10;
  }
  if (i != n - 1 || text.charCodeAt(i) != 0x73) return new DurationParse(null, DURATION_SYNTAX_ERROR);
  if (overflow || seconds > DURATION_MAX_SECONDS) {
    return new DurationParse(null, ascii.text("duration out of range (at most ") + formatInteger(DURATION_MAX_SECONDS) + "s)");
  }
  return new DurationParse(negative ? new Duration(-seconds, -nanos) : new Duration(seconds, nanos), "");
}
