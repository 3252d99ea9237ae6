// Number and case formatting for log lines, header values and error messages, without
// the standard library's general versions: `i64.toString()` links the radix tables of
// every base (about 1.6 KB of data, 2 KB of code) and `String#toLowerCase` the Unicode
// case tables (about 6 KB), into every module that calls them anywhere. Header names,
// methods and the numbers filters print need neither. Pure code: no host calls.

// Decimal digits of `value` written backwards ending at `end` (UTF-16); returns the start.
// @ts-ignore: decorator
@inline
function writeDigits(end: usize, value: u64): usize {
  do {
    end -= 2;
    store<u16>(end, <u16>(0x30 + <u32>(value % 10)));
    value /= 10;
  } while (value != 0);
  return end;
}

function decimalLength(value: u64): i32 {
  let n = 1;
  while (value >= 10) {
    value /= 10;
    n++;
  }
  return n;
}

/** `value` in decimal, as `u64.toString()` writes it (`0`, `18446744073709551615`). */
export function formatUnsigned(value: u64): string {
  const n = decimalLength(value);
  const out = __new(<usize>n << 1, idof<string>());
  writeDigits(out + (<usize>n << 1), value);
  return changetype<string>(out);
}

/** `value` in decimal, as `i64.toString()` writes it (`-42`; i64.MIN_VALUE too). */
export function formatInteger(value: i64): string {
  if (value >= 0) return formatUnsigned(<u64>value);
  const magnitude = <u64>0 - <u64>value;
  const n = decimalLength(magnitude) + 1;
  const out = __new(<usize>n << 1, idof<string>());
  store<u16>(out, 0x2d);
  writeDigits(out + (<usize>n << 1), magnitude);
  return changetype<string>(out);
}

/**
 * `x` as JavaScript writes integers below 1e15 and fractions of up to 9 decimals (`100`,
 * `0.25`, `12.5`, `1e-7`), without linking the standard library's shortest-double printer
 * (about 3 KB of code and tables). `m / 10^k` with m < 2^53 is correctly rounded, so the
 * first k whose candidate equals `x` gives the shortest digits; a value that needs more
 * than 9 decimals comes out rounded to 9. For configuration bounds and log lines.
 */
export function formatNumber(x: f64): string {
  if (x == Math.trunc(x) && Math.abs(x) < 1e15) return formatInteger(<i64>x);
  if (!isFinite(x)) return x != x ? "NaN" : x < 0 ? "-Infinity" : "Infinity";
  const sign = x < 0 ? "-" : "";
  let a = Math.abs(x);
  if (a >= 1e-6 && a < 1e15) return sign + formatFixed(a);
  // Exponent form, as JavaScript writes very small and very large numbers.
  let e = 0;
  while (a >= 10) { a /= 10; e++; }
  while (a < 1) { a *= 10; e--; }
  // The scaling is inexact: round the mantissa to 9 decimals and drop the zeros that leaves.
  const mantissa = formatFixed(a);
  let n = mantissa.length;
  if (mantissa.includes(".")) {
    while (mantissa.charCodeAt(n - 1) == 0x30) n--;
    if (mantissa.charCodeAt(n - 1) == 0x2e) n--;
  }
  return sign + mantissa.substring(0, n) + (e < 0 ? "e-" : "e+") + formatInteger(e < 0 ? -e : e);
}

// `a` (0 < a < 1e15) with the fewest decimals, up to 9, that read back as `a` (else 9, rounded).
function formatFixed(a: f64): string {
  let k = 0;
  let scale: f64 = 1; // 10^k, exact up to 10^22
  let m: f64 = 0;
  for (; k <= 9; k++, scale *= 10) {
    m = Math.round(a * scale);
    if (m >= 9007199254740992 || m / scale == a) break;
  }
  if (k > 9) k = 9;
  const digits = formatUnsigned(<u64>m);
  if (k == 0) return digits;
  const n = digits.length;
  if (n > k) return digits.substring(0, n - k) + "." + digits.substring(n - k);
  let fraction = digits;
  while (fraction.length < k) fraction = "0" + fraction;
  return "0." + fraction;
}

/** `value` in lower-case hexadecimal, zero-padded to at least `minDigits` digits (`0a`, `ff`). */
export function formatHex(value: u64, minDigits: i32 = 1): string {
  let n = 1;
  for (let v = value >> 4; v != 0; v >>= 4) n++;
  if (n < minDigits) n = minDigits;
  const out = __new(<usize>n << 1, idof<string>());
  for (let i = n - 1; i >= 0; i--) {
    const d = <u32>(value & 15);
    store<u16>(out + (<usize>i << 1), <u16>(d < 10 ? 0x30 + d : 0x57 + d));
    value >>= 4;
  }
  return changetype<string>(out);
}

/**
 * `s` with `A`–`Z` lowered and every other character kept: what HTTP header names,
 * methods and other protocol tokens need (RFC 9110 §5.1: field names are
 * case-insensitive ASCII). `s` itself when it has no upper-case ASCII letter.
 */
export function asciiLowerCase(s: string): string {
  const n = s.length;
  const src = changetype<usize>(s);
  let i = 0;
  while (i < n && <u32>load<u16>(src + (<usize>i << 1)) - 0x41 >= 26) i++;
  if (i == n) return s;
  const out = __new(<usize>n << 1, idof<string>());
  memory.copy(out, src, <usize>n << 1);
  for (; i < n; i++) {
    const p = out + (<usize>i << 1);
    const c = <u32>load<u16>(p);
    if (c - 0x41 < 26) store<u16>(p, <u16>(c | 0x20));
  }
  return changetype<string>(out);
}

/**
 * Constant messages (errors, log lines) stored as ASCII: write `ascii.text("...")`. The
 * build's transform (harness/ascii-transform.mjs, asconfig "transform") turns an ASCII
 * literal there into `__ascii_packed(...)`, two characters per UTF-16 code unit: half the
 * static data of a plain literal. Builds without it (as-pect specs) run `ascii.text`,
 * which returns its argument, so both give the same string. Each evaluation makes a new
 * string: for messages, not for values used on every request.
 */
export namespace ascii {
  /** `message` itself (the transform replaces this call where it can). */
  export function text(message: string): string {
    return message;
  }

  /**
   * The UTF-8 bytes of a constant (header names, as `changetype<HeaderName>(ascii.bytes("…"))`,
   * headers.ts): read-only, never mutate them. The
   * transform stores an ASCII literal here as a static ArrayBuffer (one byte a character,
   * no copy at start); without it this encodes `text`.
   */
  export function bytes(text: string): ArrayBuffer {
    return String.UTF8.encode(text);
  }
}

/**
 * The string the transform packed into `pairs`: low byte first, a NUL pad after an odd
 * length. Called only from the calls the transform writes, for `ascii.text` and for the
 * literals of config-error and log messages; global, so that files which do not import
 * `ascii` can call it.
 */
// @ts-ignore: decorator
@global
export function __ascii_packed(pairs: string): string {
  const units = pairs.length;
  const src = changetype<usize>(pairs);
  let n = units << 1;
  if (n > 0 && load<u16>(src + (<usize>(units - 1) << 1)) < 0x100) n--;
  const out = __new(<usize>n << 1, idof<string>());
  for (let i = 0; i < n; i++) store<u16>(out + (<usize>i << 1), load<u8>(src + <usize>i));
  return changetype<string>(out);
}
