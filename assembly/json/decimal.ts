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

// Fixed-capacity unsigned big integers in static memory (no allocation, nothing to
// initialize at module start): an i32 limb count, then 32-bit limbs, little endian.
const LHS: usize = memory.data(4 + LIMBS * 4, 4);
const RHS: usize = memory.data(4 + LIMBS * 4, 4);

// @ts-ignore: decorator
@inline function bigLen(n: usize): i32 {
  return load<i32>(n);
}

// @ts-ignore: decorator
@inline function limbAt(n: usize, i: i32): usize {
  return n + 4 + (<usize>i << 2);
}

function bigSetU64(n: usize, v: u64): void {
  let len = 0;
  while (v != 0) {
    store<u32>(limbAt(n, len++), <u32>v);
    v >>= 32;
  }
  store<i32>(n, len);
}

/** n = n × mul + add. */
function bigMulAdd(n: usize, mul: u32, add: u32): void {
  let carry: u64 = add;
  let len = bigLen(n);
  for (let i = 0; i < len; i++) {
    const t = <u64>load<u32>(limbAt(n, i)) * mul + carry;
    store<u32>(limbAt(n, i), <u32>t);
    carry = t >> 32;
  }
  if (carry != 0 && len < LIMBS) {
    store<u32>(limbAt(n, len++), <u32>carry);
    store<i32>(n, len);
  }
}

function bigMulPow10(n: usize, k: i32): void {
  for (; k >= 9; k -= 9) bigMulAdd(n, 1000000000, 0);
  if (k > 0) bigMulAdd(n, unchecked(POW10_U32[k]), 0);
}

/** n = n × 2^k. */
function bigShl(n: usize, k: i32): void {
  const len = bigLen(n);
  if (len == 0 || k == 0) return;
  const words = k >> 5;
  const bits = k & 31;
  let newLen = len + words + 1;
  if (newLen > LIMBS) newLen = LIMBS; // unreachable for the exponent range checked by the caller
  for (let i = newLen - 1; i >= 0; i--) {
    const src = i - words;
    let v: u32 = 0;
    if (src >= 0 && src < len) v = load<u32>(limbAt(n, src)) << bits;
    if (bits != 0 && src - 1 >= 0 && src - 1 < len) v |= load<u32>(limbAt(n, src - 1)) >> (32 - bits);
    store<u32>(limbAt(n, i), v);
  }
  while (newLen > 0 && load<u32>(limbAt(n, newLen - 1)) == 0) newLen--;
  store<i32>(n, newLen);
}

/** Sign of a − b. */
function bigCmp(a: usize, b: usize): i32 {
  const len = bigLen(a);
  if (len != bigLen(b)) return len > bigLen(b) ? 1 : -1;
  for (let i = len - 1; i >= 0; i--) {
    const x = load<u32>(limbAt(a, i));
    const y = load<u32>(limbAt(b, i));
    if (x != y) return x > y ? 1 : -1;
  }
  return 0;
}

/** The powers of ten a double holds exactly: 10^0 … 10^22. */
export const POW10_F64: StaticArray<f64> = [
  1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
  1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
];
const POW10_U32: StaticArray<u32> = [1, 10, 100, 1000, 10000, 100000, 1000000, 10000000, 100000000, 1000000000];

// Digits of the number being converted (one per byte).
const DIGITS: usize = memory.data(MAX_SIGNIFICANT_DIGITS);
let digitCount: i32 = 0;
let decimalExponent: i32 = 0;
let sticky: bool = false;

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
      store<u8>(DIGITS + <usize>digitCount, d);
      digitCount++;
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
  for (let i = 0; i < n; i++) mant = mant * 10 + load<u8>(DIGITS + <usize>i);
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
  store<i32>(LHS, 0);
  for (let i = 0; i < digitCount; ) {
    let chunk: u32 = 0;
    let k = 0;
    for (; k < 9 && i < digitCount; k++, i++) chunk = chunk * 10 + load<u8>(DIGITS + <usize>i);
    bigMulAdd(LHS, unchecked(POW10_U32[k]), chunk);
  }
  bigSetU64(RHS, 2 * m + 1);
  if (decimalExponent >= 0) bigMulPow10(LHS, decimalExponent);
  else bigMulPow10(RHS, -decimalExponent);
  if (e - 1 >= 0) bigShl(RHS, e - 1);
  else bigShl(LHS, 1 - e);
  const c = bigCmp(LHS, RHS);
  return c == 0 && sticky ? 1 : c;
}
