/**
 * Points of edwards25519, -x² + y² = 1 + d·x²·y² over GF(2^255 - 19) (RFC 8032 §5.1),
 * in the coordinate systems of Hisil, Wong, Carter, Dawson, "Twisted Edwards Curves
 * Revisited" (ASIACRYPT 2008), as stored structures of field elements at an address:
 *
 * - `P3`, extended (X:Y:Z:T): x = X/Z, y = Y/Z, x·y = T/Z. 160 bytes.
 * - `P2`, projective (X:Y:Z): the first three fields of a `P3`; enough to double.
 * - `P1P1`, completed ((X:Z), (Y:T)): x = X/Z, y = Y/T, what additions and doublings
 *   produce before the final multiplications; converting to `P2` costs 3M, to `P3` 4M.
 * - `Niels`, affine precomputed (y+x, y-x, 2d·x·y): the fixed operand of a mixed
 *   addition. 120 bytes. Tables of them serve the multi-scalar multiplication.
 *
 * The formulas are those of the paper for a = -1: "dbl-2008-hwcd" (4S + 3M to P2) and
 * "madd-2008-hwcd-3" (7M to P3, 6M when the result is only doubled). They are not
 * constant-time (verification handles public data only).
 */
import {
  Fe, FE_SIZE, add, carry, copy, equal, fromBytes, invert, isCanonical, isNegative, isZero, mul, neg, one,
  pow22523, sq, sub, toBytes, zero,
} from "./field";

/** Address of a point in extended coordinates (X, Y, Z, T at offsets 0, 40, 80, 120). */
export type P3 = usize;
/** Address of a projective point (X, Y, Z at offsets 0, 40, 80). */
export type P2 = usize;
/** Address of a completed point (X, Y, Z, T at offsets 0, 40, 80, 120). */
export type P1P1 = usize;
/** Address of an affine precomputed point (y+x, y-x, 2d·x·y at offsets 0, 40, 80). */
export type Niels = usize;

export const P3_SIZE: usize = 4 * FE_SIZE;
export const NIELS_SIZE: usize = 3 * FE_SIZE;

// @ts-ignore: decorator
@inline export function X(p: usize): Fe { return p; }
// @ts-ignore: decorator
@inline export function Y(p: usize): Fe { return p + FE_SIZE; }
// @ts-ignore: decorator
@inline export function Z(p: usize): Fe { return p + 2 * FE_SIZE; }
// @ts-ignore: decorator
@inline export function T(p: usize): Fe { return p + 3 * FE_SIZE; }
// Fields of a Niels point.
// @ts-ignore: decorator
@inline function YpX(q: Niels): Fe { return q; }
// @ts-ignore: decorator
@inline function YmX(q: Niels): Fe { return q + FE_SIZE; }
// @ts-ignore: decorator
@inline function XY2d(q: Niels): Fe { return q + 2 * FE_SIZE; }

// Constants as canonical little-endian bytes (RFC 8032 §5.1).
// d = -121665/121666 mod p
const D_BYTES: usize = memory.data<u8>([
  0xa3, 0x78, 0x59, 0x13, 0xca, 0x4d, 0xeb, 0x75, 0xab, 0xd8, 0x41, 0x41, 0x4d, 0x0a, 0x70, 0x00,
  0x98, 0xe8, 0x79, 0x77, 0x79, 0x40, 0xc7, 0x8c, 0x73, 0xfe, 0x6f, 0x2b, 0xee, 0x6c, 0x03, 0x52,
]);
// 2^((p-1)/4), a square root of -1
const SQRTM1_BYTES: usize = memory.data<u8>([
  0xb0, 0xa0, 0x0e, 0x4a, 0x27, 0x1b, 0xee, 0xc4, 0x78, 0xe4, 0x2f, 0xad, 0x06, 0x18, 0x43, 0x2f,
  0xa7, 0xd7, 0xfb, 0x3d, 0x99, 0x00, 0x4d, 0x2b, 0x0b, 0xdf, 0xc1, 0x4f, 0x80, 0x24, 0x83, 0x2b,
]);
/** Encoding of the base point B (y = 4/5, x even), RFC 8032 §5.1. */
export const B_BYTES: usize = memory.data<u8>([
  0x58, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66,
  0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66,
]);

/** Writes d (the curve constant) into `h`. */
export function curveD(h: Fe): void {
  fromBytes(h, D_BYTES);
}

/** Writes sqrt(-1) = 2^((p-1)/4) into `h`. */
export function sqrtM1(h: Fe): void {
  fromBytes(h, SQRTM1_BYTES);
}

/** p = the neutral element (0, 1). */
export function identity(p: P3): void {
  zero(X(p));
  one(Y(p));
  one(Z(p));
  zero(T(p));
}

/** p = q (extended). */
export function copyP3(p: P3, q: P3): void {
  memory.copy(p, q, P3_SIZE);
}

/** r = 2p ("dbl-2008-hwcd", a = -1): 4 squarings; p needs X, Y, Z only; r ≠ p. */
export function dbl(r: P1P1, p: P2): void {
  const rX = X(r), rY = Y(r), rZ = Z(r), rT = T(r);
  sq(rX, X(p));        // XX
  sq(rZ, Y(p));        // YY
  sq(rT, Z(p));
  add(rT, rT, rT);     // 2ZZ
  add(rY, X(p), Y(p));
  sq(rY, rY);          // (X+Y)²
  add(TMP, rZ, rX);    // YY + XX
  sub(rZ, rZ, rX);     // G = YY - XX
  sub(rX, rY, TMP);    // E = (X+Y)² - XX - YY = 2XY
  copy(rY, TMP);       // -H = XX + YY
  sub(rT, rT, rZ);     // -F = 2ZZ - G
  // x = E/G, y = (-H)/(-F) = H/F
}

const TMP: Fe = memory.data(40, 8);
const TA: Fe = memory.data(40, 8);
const TB: Fe = memory.data(40, 8);

/**
 * r = p + q with q affine ("madd-2008-hwcd-3", a = -1, Z2 = 1): A = (Y1-X1)(y2-x2),
 * B = (Y1+X1)(y2+x2), C = T1·2d·x2·y2, D = 2Z1; x3 = (B-A)/(D+C), y3 = (B+A)/(D-C).
 */
export function maddNiels(r: P1P1, p: P3, q: Niels): void {
  sub(TA, Y(p), X(p));
  add(TB, Y(p), X(p));
  mul(TA, TA, YmX(q));        // A
  mul(TB, TB, YpX(q));        // B
  mul(TMP, T(p), XY2d(q));    // C
  add(Z(r), Z(p), Z(p));      // D
  sub(X(r), TB, TA);          // E = B - A
  add(Y(r), TB, TA);          // H = B + A
  sub(T(r), Z(r), TMP);       // F = D - C
  add(Z(r), Z(r), TMP);       // G = D + C
}

/** r = p - q with q affine: `maddNiels` with -q = (y-x, y+x, -2d·x·y). */
export function msubNiels(r: P1P1, p: P3, q: Niels): void {
  sub(TA, Y(p), X(p));
  add(TB, Y(p), X(p));
  mul(TA, TA, YpX(q));        // A with -q
  mul(TB, TB, YmX(q));        // B with -q
  mul(TMP, T(p), XY2d(q));    // -C
  add(Z(r), Z(p), Z(p));      // D
  sub(X(r), TB, TA);          // E
  add(Y(r), TB, TA);          // H
  add(T(r), Z(r), TMP);       // F = D - (-C)
  sub(Z(r), Z(r), TMP);       // G = D + (-C)
}

const T2D: Fe = memory.data(40, 8);
const TC: Fe = memory.data(40, 8);

/**
 * r = p + q, both extended ("add-2008-hwcd-3", a = -1): 9M. Used to build tables, where
 * neither operand is affine yet.
 */
export function addP3(r: P1P1, p: P3, q: P3): void {
  sub(TA, Y(p), X(p));
  sub(TB, Y(q), X(q));
  mul(TA, TA, TB);            // A = (Y1-X1)(Y2-X2)
  add(TB, Y(p), X(p));
  add(TC, Y(q), X(q));
  mul(TB, TB, TC);            // B = (Y1+X1)(Y2+X2)
  curveD(T2D);
  add(T2D, T2D, T2D);
  mul(TC, T(p), T(q));
  mul(TC, TC, T2D);           // C = T1·2d·T2
  mul(TMP, Z(p), Z(q));
  add(TMP, TMP, TMP);         // D = 2Z1Z2
  sub(X(r), TB, TA);          // E
  add(Y(r), TB, TA);          // H
  sub(T(r), TMP, TC);         // F
  add(Z(r), TMP, TC);         // G
}

/** p = r as a projective point: X = X·T, Y = Y·Z, Z = Z·T (3M). */
export function toP2(p: P2, r: P1P1): void {
  mul(X(p), X(r), T(r));
  mul(Y(p), Y(r), Z(r));
  mul(Z(p), Z(r), T(r));
}

/** p = r in extended coordinates: `toP2` plus T = X·Y (4M). */
export function toP3(p: P3, r: P1P1): void {
  mul(X(p), X(r), T(r));
  mul(Y(p), Y(r), Z(r));
  mul(Z(p), Z(r), T(r));
  mul(T(p), X(r), Y(r));
}

const U: Fe = memory.data(40, 8);
const V: Fe = memory.data(40, 8);
const V3: Fe = memory.data(40, 8);
const CHECK: Fe = memory.data(40, 8);

/**
 * Decodes the 32-byte point encoding at `s` into `p` (RFC 8032 §5.1.3), strictly:
 * returns false, leaving `p` unspecified, when y ≥ p (non-canonical), when
 * x² = (y²-1)/(d·y²+1) has no root, or when x = 0 with the sign bit set.
 * Costs one exponentiation: x = u·v³·(u·v⁷)^((p-5)/8) gives the root without an inversion.
 */
export function decode(p: P3, s: usize): bool {
  if (!isCanonical(s)) return false;
  const x = X(p), y = Y(p);
  fromBytes(y, s);
  one(Z(p));
  sq(U, y);
  curveD(V);
  mul(V, V, U);
  sub(U, U, Z(p));            // u = y² - 1
  add(V, V, Z(p));            // v = d·y² + 1
  sq(V3, V);
  mul(V3, V3, V);             // v³
  sq(x, V3);
  mul(x, x, V);
  mul(x, x, U);               // u·v⁷
  pow22523(x, x);
  mul(x, x, V3);
  mul(x, x, U);               // candidate x = u·v³·(u·v⁷)^((p-5)/8)
  sq(CHECK, x);
  mul(CHECK, CHECK, V);       // v·x²
  if (!equal(CHECK, U)) {
    add(CHECK, CHECK, U);
    if (!isZero(CHECK)) return false; // v·x² ≠ ±u: not a square
    sqrtM1(CHECK);
    mul(x, x, CHECK);
  }
  const sign = <i32>(load<u8>(s + 31) >> 7);
  if (isNegative(x) != sign) {
    if (isZero(x)) return false; // x = 0 has no negative encoding
    neg(x, x);
  }
  mul(T(p), x, y);
  return true;
}

const ZINV: Fe = memory.data(40, 8);

/** Writes the 32-byte encoding of p (RFC 8032 §5.1.2) to `s`: y, with x's parity in bit 255. */
export function encode(s: usize, p: P2): void {
  invert(ZINV, Z(p));
  mul(TA, X(p), ZINV);
  mul(TB, Y(p), ZINV);
  toBytes(s, TB);
  store<u8>(s + 31, load<u8>(s + 31) | <u8>(isNegative(TA) << 7));
}

/**
 * Converts `count` extended points at `points` (consecutive, P3_SIZE apart) to affine
 * Niels form at `out` (NIELS_SIZE apart), sharing one inversion among them
 * (Montgomery's trick). `scratch` holds `count` field elements. No Z may be zero,
 * which holds for points on the curve.
 */
export function toNielsBatch(out: Niels, points: P3, count: i32, scratch: usize): void {
  // scratch[i] = Z0·Z1·…·Zi
  copy(scratch, Z(points));
  for (let i = 1; i < count; i++) {
    const acc = scratch + <usize>i * FE_SIZE;
    mul(acc, acc - FE_SIZE, Z(points + <usize>i * P3_SIZE));
  }
  const inv = ZINV;
  invert(inv, scratch + <usize>(count - 1) * FE_SIZE); // 1/(Z0…Z(n-1))
  curveD(T2D);
  add(T2D, T2D, T2D);
  for (let i = count - 1; i >= 0; i--) {
    const p = points + <usize>i * P3_SIZE;
    const zi = TC;
    if (i > 0) {
      mul(zi, inv, scratch + <usize>(i - 1) * FE_SIZE); // 1/Zi
      mul(inv, inv, Z(p));                              // 1/(Z0…Z(i-1))
    } else {
      copy(zi, inv);
    }
    const q = out + <usize>i * NIELS_SIZE;
    mul(TA, X(p), zi);        // x
    mul(TB, Y(p), zi);        // y
    add(YpX(q), TB, TA);
    sub(YmX(q), TB, TA);
    mul(XY2d(q), TA, TB);
    mul(XY2d(q), XY2d(q), T2D);
    // add/sub leave y±x loose; carry them so that the madd inputs stay within bounds
    carry(YpX(q), YpX(q));
    carry(YmX(q), YmX(q));
  }
}
