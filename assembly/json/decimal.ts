/**
 * Decimal to binary64 conversion, correctly rounded (IEEE 754 roundTiesToEven), so
 * that a number parses to the same double as `JSON.parse` (ECMA-262 §7.1.4.1.1) gives.
 *
 * `parseJson` takes the fast path itself (Clinger, "How to Read Floating Point Numbers
 * Accurately", PLDI 1990: an exact significand ≤ 2^53 and |exponent| ≤ 22 give an exact
 * product or quotient). Everything else comes here: an approximation, then exact big
 * integer comparisons against the halfway points of the neighbouring doubles (Clinger's
 * AlgorithmR idea) until the nearest double is found. (AssemblyScript's own `strtod`
 * is not used: it truncates to 19 digits and loses a power of ten for exponents 23–37.) Rare on request paths (JWT
 * numbers are integers), so it favours being obviously right over being fast.
 */
/** Significant digits kept; more only set a sticky bit (767 suffice for binary64). */
export const MAX_SIGNIFICANT_DIGITS: i32 = 800;

// Enough limbs for 800 digits × 2^1075 or (2^54) × 10^1124 (< 4000 bits).
const LIMBS: i32 = 160;

/** Fixed-capacity unsigned big integer, 32-bit limbs, little endian. */
class BigNat {
  limbs: StaticArray<u32> = new StaticArray<u32>(LIMBS);
  len: i32 = 0;

  setU64(v: u64): void {
    this.len = 0;
    while (v != 0) {
      unchecked((this.limbs[this.len++] = <u32>v));
      v >>= 32;
    }
  }

  mulAdd(mul: u32, add: u32): void {
    let carry: u64 = add;
    const limbs = this.limbs;
    for (let i = 0; i < this.len; i++) {
      const t = <u64>unchecked(limbs[i]) * mul + carry;
      unchecked((limbs[i] = <u32>t));
      carry = t >> 32;
    }
    if (carry != 0 && this.len < LIMBS) unchecked((limbs[this.len++] = <u32>carry));
  }

  mulPow10(k: i32): void {
    while (k >= 9) {
      this.mulAdd(1000000000, 0);
      k -= 9;
    }
    if (k > 0) this.mulAdd(<u32>POW10_U32[k], 0);
  }

  shl(k: i32): void {
    if (this.len == 0 || k == 0) return;
    const words = k >> 5;
    const bits = k & 31;
    const limbs = this.limbs;
    let newLen = this.len + words + 1;
    if (newLen > LIMBS) newLen = LIMBS; // unreachable for the exponent range checked by the caller
    for (let i = newLen - 1; i >= 0; i--) {
      const src = i - words;
      let v: u32 = 0;
      if (src >= 0 && src < this.len) v = unchecked(limbs[src]) << bits;
      if (bits != 0 && src - 1 >= 0 && src - 1 < this.len) v |= unchecked(limbs[src - 1]) >> (32 - bits);
      unchecked((limbs[i] = v));
    }
    this.len = newLen;
    while (this.len > 0 && unchecked(limbs[this.len - 1]) == 0) this.len--;
  }

  cmp(other: BigNat): i32 {
    if (this.len != other.len) return this.len > other.len ? 1 : -1;
    for (let i = this.len - 1; i >= 0; i--) {
      const a = unchecked(this.limbs[i]);
      const b = unchecked(other.limbs[i]);
      if (a != b) return a > b ? 1 : -1;
    }
    return 0;
  }
}

const POW10_F64: StaticArray<f64> = [
  1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
  1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
];
const POW10_U32: StaticArray<u32> = [1, 10, 100, 1000, 10000, 100000, 1000000, 10000000, 100000000, 1000000000];

// Digits of the number being converted, and the two sides of a comparison.
const digits = new StaticArray<u8>(MAX_SIGNIFICANT_DIGITS);
let digitCount: i32 = 0;
let decimalExponent: i32 = 0;
let sticky: bool = false;
const lhs = new BigNat();
const rhs = new BigNat();

/**
 * Converts the JSON number token at [start, end) (RFC 8259 §6 grammar, already
 * validated, without its leading '-') to the nearest double. Returns Infinity when the
 * value is too large for binary64 (the caller rejects it).
 */
export function decimalTokenToF64(start: usize, end: usize): f64 {
  collectDigits(start, end);
  if (digitCount == 0) return 0;
  // The value lies in [10^(magnitude-1), 10^magnitude).
  const magnitude = digitCount + decimalExponent;
  if (magnitude > 310) return Infinity;
  if (magnitude < -324) return 0; // below half the smallest subnormal (2.47e-324)
  return nearest(approximate());
}

function collectDigits(start: usize, end: usize): void {
  digitCount = 0;
  sticky = false;
  let extra: i32 = 0; // significant digits beyond MAX_SIGNIFICANT_DIGITS
  let fraction: i32 = 0; // digits after the point
  let inFraction = false;
  let p = start;
  for (; p < end; p++) {
    const c = load<u8>(p);
    if (c == 0x2e) {
      inFraction = true;
      continue;
    }
    if ((c | 0x20) == 0x65) break; // 'e' / 'E'
    const d = <u8>(c - 0x30);
    if (inFraction) fraction++;
    if (digitCount == 0 && d == 0) continue; // leading zero
    if (digitCount < MAX_SIGNIFICANT_DIGITS) {
      unchecked((digits[digitCount++] = d));
    } else {
      if (d != 0) sticky = true;
      if (extra < 0x10000000) extra++;
    }
  }
  let exp: i32 = 0;
  if (p < end) {
    p++;
    let negative = false;
    const s = load<u8>(p);
    if (s == 0x2d || s == 0x2b) {
      negative = s == 0x2d;
      p++;
    }
    for (; p < end; p++) {
      if (exp < 100000000) exp = exp * 10 + (<i32>load<u8>(p) - 0x30);
    }
    if (negative) exp = -exp;
  }
  decimalExponent = extra - fraction + exp;
}

/**
 * A double within a few ulps of the value: the first 19 digits times exact powers of ten
 * (10^22 at most per step, each step rounding once).
 */
function approximate(): f64 {
  let mant: u64 = 0;
  const n = digitCount < 19 ? digitCount : 19;
  for (let i = 0; i < n; i++) mant = mant * 10 + unchecked(digits[i]);
  let e = decimalExponent + (digitCount - n);
  let x = <f64>mant;
  if (e > 0) {
    for (; e > 22; e -= 22) x *= 1e22;
    x *= unchecked(POW10_F64[e]);
  } else if (e < 0) {
    for (; e < -22; e += 22) x /= 1e22;
    x /= unchecked(POW10_F64[-e]);
  }
  return isFinite(x) ? x : f64.MAX_VALUE;
}

/** Steps from `b` to the double nearest the collected decimal value. */
function nearest(b: f64): f64 {
  for (let i = 0; i < 1100; i++) {
    let c = compareWithHalfwayAbove(b);
    if (c > 0 || (c == 0 && isOddSignificand(b))) {
      if (b == f64.MAX_VALUE) return Infinity;
      b = reinterpret<f64>(reinterpret<u64>(b) + 1);
      continue;
    }
    if (b == 0) return 0;
    const below = reinterpret<f64>(reinterpret<u64>(b) - 1);
    c = compareWithHalfwayAbove(below);
    if (c < 0 || (c == 0 && !isOddSignificand(below))) {
      b = below;
      continue;
    }
    return b;
  }
  return b; // not reached: the approximation is a few ulps off at most
}

function isOddSignificand(b: f64): bool {
  return (reinterpret<u64>(b) & 1) != 0;
}

/**
 * Sign of (value − h), where h is the midpoint between the non-negative double `b`
 * and the next one up: b = m·2^e, h = (2m+1)·2^(e−1).
 */
function compareWithHalfwayAbove(b: f64): i32 {
  const bits = reinterpret<u64>(b);
  const biased = <i32>((bits >> 52) & 0x7ff);
  let m = bits & 0xfffffffffffff;
  let e: i32;
  if (biased == 0) {
    e = -1074;
  } else {
    m |= <u64>1 << 52;
    e = biased - 1075;
  }
  // value = D·10^E; compare D·10^E·2^s1 with (2m+1)·2^(e−1)·10^s2, all integers.
  lhs.len = 0;
  for (let i = 0; i < digitCount; ) {
    let chunk: u32 = 0;
    let k = 0;
    for (; k < 9 && i < digitCount; k++, i++) chunk = chunk * 10 + unchecked(digits[i]);
    lhs.mulAdd(POW10_U32[k], chunk);
  }
  rhs.setU64(2 * m + 1);
  if (decimalExponent >= 0) lhs.mulPow10(decimalExponent);
  else rhs.mulPow10(-decimalExponent);
  if (e - 1 >= 0) rhs.shl(e - 1);
  else lhs.shl(1 - e);
  const c = lhs.cmp(rhs);
  return c == 0 && sticky ? 1 : c;
}
