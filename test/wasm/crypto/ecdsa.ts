// ECDSA (assembly/crypto/ec/) for the vitest suites test/crypto/ecdsa*.test.ts and the
// benchmark harness/bench/crypto/ecdsa.ts. Byte arguments come as (ptr, len) pairs; `crv`
// is EcCurve (1 = P-256, 2 = P-384). Results are VerifyResult codes unless said otherwise.
import { VerifyResult } from "../../../assembly/crypto/result";
import { EcCurve, EcPublicKey, ecCoordinateLength } from "../../../assembly/crypto/ec/index";
import { curveP256, curveP384 } from "../../../assembly/crypto/ec/curves";
import { p256Add, p256Mul, p256Sqr, p256Sub } from "../../../assembly/crypto/ec/p256-field";
import { p384Add, p384Mul, p384Sqr, p384Sub } from "../../../assembly/crypto/ec/p384-field";
import { wordsFromBytes, wordsToBytes } from "../../../assembly/crypto/ec/words";
import { output } from "./io";

/** Imports the key and verifies in one call (ES256 for crv 1, ES384 for crv 2); BadKey if the key is invalid. */
export function ecdsa_verify(
  crv: i32, x: usize, xLen: i32, y: usize, yLen: i32, msg: usize, msgLen: i32, sig: usize, sigLen: i32,
): i32 {
  const key = EcPublicKey.fromRaw(<EcCurve>crv, x, xLen, y, yLen);
  if (key === null) return VerifyResult.BadKey;
  return key.verifyRaw(msg, msgLen, sig, sigLen);
}

const keys: Array<EcPublicKey | null> = [];

/** Imports a key and keeps it; returns its handle (≥ 0), or -1 when the key is invalid. */
export function ecdsa_key_import(crv: i32, x: usize, xLen: i32, y: usize, yLen: i32): i32 {
  const key = EcPublicKey.fromRaw(<EcCurve>crv, x, xLen, y, yLen);
  if (key === null) return -1;
  keys.push(key);
  return keys.length - 1;
}

/** Verifies with a kept key (the prebuilt key object a filter would hold). */
export function ecdsa_key_verify(handle: i32, msg: usize, msgLen: i32, sig: usize, sigLen: i32): i32 {
  if (handle < 0 || handle >= keys.length) return VerifyResult.BadInput;
  const key = keys[handle];
  if (key === null) return VerifyResult.BadInput;
  return key.verifyRaw(msg, msgLen, sig, sigLen);
}

/** Drops every kept key. */
export function ecdsa_keys_clear(): void {
  keys.length = 0;
}

/**
 * k1·G + k2·Q with the kept key `handle` as Q: writes affine x || y (big-endian) to the
 * output area and returns its length, 0 for the point at infinity, -1 for a bad handle.
 */
export function ec_point_mul(handle: i32, k1: usize, k1Len: i32, k2: usize, k2Len: i32): i32 {
  if (handle < 0 || handle >= keys.length) return -1;
  const key = keys[handle];
  if (key === null) return -1;
  const len = key.coordinateLength;
  if (k1Len != len || k2Len != len) return -1;
  return key.mulDoubleForTest(output(), k1, k2) ? 2 * len : 0;
}

const scratch = new StaticArray<u32>(36);

/**
 * One raw field operation on big-endian elements < p of the curve's size, result
 * big-endian in the output area (returns its length, -1 on bad arguments):
 * op 0 Montgomery product a·b·R^-1, 1 Montgomery square a²·R^-1, 2 a + b, 3 a - b,
 * 4 the inverse a^-1 (a ≠ 0), 5 a·R (into Montgomery form), all mod p.
 */
export function ec_field(crv: i32, op: i32, a: usize, aLen: i32, b: usize, bLen: i32): i32 {
  const len = ecCoordinateLength(<EcCurve>crv);
  if (len == 0 || aLen != len || bLen != len) return -1;
  const words = len >> 2;
  const A = changetype<usize>(scratch);
  const B = A + <usize>len;
  const O = B + <usize>len;
  wordsFromBytes(A, words, a, len);
  wordsFromBytes(B, words, b, len);
  if (crv == EcCurve.P256) {
    if (op == 0) p256Mul(O, A, B);
    else if (op == 1) p256Sqr(O, A);
    else if (op == 2) p256Add(O, A, B);
    else if (op == 3) p256Sub(O, A, B);
    else if (op == 4) {
      const c = curveP256();
      c.toMont(A, A);
      c.invert(O, A);
      c.fromMont(O, O);
    } else if (op == 5) curveP256().toMont(O, A);
    else return -1;
  } else {
    if (op == 0) p384Mul(O, A, B);
    else if (op == 1) p384Sqr(O, A);
    else if (op == 2) p384Add(O, A, B);
    else if (op == 3) p384Sub(O, A, B);
    else if (op == 4) {
      const c = curveP384();
      c.toMont(A, A);
      c.invert(O, A);
      c.fromMont(O, O);
    } else if (op == 5) curveP384().toMont(O, A);
    else return -1;
  }
  wordsToBytes(output(), len, O);
  return len;
}

/** a^-1 mod n (1 ≤ a < n, big-endian) into the output area; returns the length, -1 if a is out of range. */
export function ec_scalar_inverse(crv: i32, a: usize, aLen: i32): i32 {
  const len = ecCoordinateLength(<EcCurve>crv);
  if (len == 0 || aLen != len) return -1;
  const sc = crv == EcCurve.P256 ? curveP256().scalar : curveP384().scalar;
  const A = changetype<usize>(scratch);
  const O = A + <usize>len + 4;
  const one = O + <usize>len + 4;
  if (!sc.parseNonZero(A, a)) return -1;
  sc.invertMont(O, A); // a^-1·R
  memory.fill(one, 0, <usize>len);
  store<u32>(one, 1);
  sc.montMul(O, O, one); // a^-1
  wordsToBytes(output(), len, O);
  return len;
}
