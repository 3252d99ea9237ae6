// Ed25519 (assembly/crypto/ed25519) for the vitest suites test/crypto/eddsa*.test.ts and
// the EdDSA case of the crypto bench: verification, keys kept by handle, and the field,
// scalar and point operations that the suites check against a BigInt reference.
// Functions returning bytes write them to `output()` and return the length (see io.ts).
import { Ed25519PublicKey, ed25519Verify } from "../../../assembly/crypto/ed25519";
import { VerifyResult } from "../../../assembly/crypto/result";
import * as fe from "../../../assembly/crypto/ed25519/field";
import { doubleScalarMulEncode, A_WINDOW, buildTable, tableSize } from "../../../assembly/crypto/ed25519/msm";
import { P3_SIZE, decode, encode } from "../../../assembly/crypto/ed25519/point";
import { reduce512, wnaf } from "../../../assembly/crypto/ed25519/scalar";
import { bytesAt, writeOutput } from "./io";

/** One-shot verification: a VerifyResult code. */
export function ed25519_verify(pk: usize, pkLen: usize, msg: usize, msgLen: usize, sig: usize, sigLen: usize): i32 {
  return ed25519Verify(bytesAt(pk, pkLen), bytesAt(msg, msgLen), bytesAt(sig, sigLen));
}

const keys = new Array<Ed25519PublicKey | null>();

/** Imports a public key once: a handle ≥ 0, or -VerifyResult.BadKey. */
export function ed25519_key_import(pk: usize, pkLen: usize): i32 {
  const key = Ed25519PublicKey.fromBytes(bytesAt(pk, pkLen));
  if (key === null) return -VerifyResult.BadKey;
  keys.push(key);
  return keys.length - 1;
}

/** Verifies with an imported key, without copying the message or signature. */
export function ed25519_key_verify(handle: i32, msg: usize, msgLen: usize, sig: usize, sigLen: usize): i32 {
  if (handle < 0 || handle >= keys.length) return VerifyResult.BadInput;
  const key = keys[handle];
  if (key === null) return VerifyResult.BadInput;
  return key.verifyRaw(msg, msgLen, sig, sigLen);
}

/** Forgets an imported key. */
export function ed25519_key_free(handle: i32): void {
  if (handle >= 0 && handle < keys.length) keys[handle] = null;
}

// Field elements: raw limbs (10 × i32, 40 bytes) or 32-byte encodings; results are
// canonical 32-byte encodings.
const FA: usize = memory.data(40, 8);
const FB: usize = memory.data(40, 8);
const OUT32: usize = memory.data(32, 8);

function outputFe(f: usize): i32 {
  fe.toBytes(OUT32, f);
  return writeOutput(bytesAt(OUT32, 32));
}

/** Product of two raw-limb field elements (40 bytes each). */
export function ed25519_fe_mul_limbs(a: usize, aLen: usize, b: usize, bLen: usize): i32 {
  if (aLen != 40 || bLen != 40) return -1;
  fe.mul(FA, a, b);
  return outputFe(FA);
}

/** Square of a raw-limb field element. */
export function ed25519_fe_sq_limbs(a: usize, aLen: usize): i32 {
  if (aLen != 40) return -1;
  fe.sq(FA, a);
  return outputFe(FA);
}

/** Canonical encoding of a raw-limb field element. */
export function ed25519_fe_encode_limbs(a: usize, aLen: usize): i32 {
  if (aLen != 40) return -1;
  return outputFe(a);
}

/** 0: decode then encode; 1: inverse; 2: z^((p-5)/8); 3: a + b; 4: a - b; 5: -a. Inputs 32 bytes. */
export function ed25519_fe_op(op: i32, a: usize, aLen: usize, b: usize, bLen: usize): i32 {
  if (aLen != 32 || bLen != 32) return -1;
  fe.fromBytes(FA, a);
  fe.fromBytes(FB, b);
  if (op == 1) fe.invert(FA, FA);
  else if (op == 2) fe.pow22523(FA, FA);
  else if (op == 3) fe.add(FA, FA, FB);
  else if (op == 4) fe.sub(FA, FA, FB);
  else if (op == 5) fe.neg(FA, FA);
  return outputFe(FA);
}

/** 1 when the 32 bytes encode a number below p (bit 255 ignored). */
export function ed25519_fe_is_canonical(a: usize, aLen: usize): i32 {
  return aLen == 32 && fe.isCanonical(a) ? 1 : 0;
}

const HASH: usize = memory.data(64, 8);

/** A 64-byte little-endian integer mod L, 32 bytes. */
export function ed25519_sc_reduce(h: usize, hLen: usize): i32 {
  if (hLen != 64) return -1;
  memory.copy(HASH, h, 64);
  reduce512(HASH, HASH);
  return writeOutput(bytesAt(HASH, 32));
}

const NAF: usize = memory.data(256, 8);

/** Width-w NAF of a 32-byte scalar: 256 signed bytes. */
export function ed25519_sc_wnaf(s: usize, sLen: usize, w: i32): i32 {
  if (sLen != 32 || w < 2 || w > 8) return -1;
  memory.copy(HASH, s, 32);
  wnaf(NAF, HASH, w);
  return writeOutput(bytesAt(NAF, 256));
}

const POINT: usize = memory.data(<i32>P3_SIZE, 8);

/** Decodes a point (RFC 8032 §5.1.3) and encodes it again; no bytes when decoding fails. */
export function ed25519_point_decode(s: usize, sLen: usize): i32 {
  if (sLen != 32 || !decode(POINT, s)) return 0;
  encode(OUT32, POINT);
  return writeOutput(bytesAt(OUT32, 32));
}

/**
 * [s]B - [k]A for the 32-byte point A (decoded without the key checks) and 32-byte
 * scalars below 2^253; no bytes when A does not decode.
 */
export function ed25519_double_scalar_mul(a: usize, aLen: usize, s: usize, sLen: usize, k: usize, kLen: usize): i32 {
  if (aLen != 32 || sLen != 32 || kLen != 32 || !decode(POINT, a)) return 0;
  const table = new StaticArray<u8>(<i32>tableSize(A_WINDOW));
  buildTable(changetype<usize>(table), POINT, A_WINDOW);
  memory.copy(HASH, s, 32);
  memory.copy(HASH + 32, k, 32);
  doubleScalarMulEncode(OUT32, HASH, HASH + 32, changetype<usize>(table));
  return writeOutput(bytesAt(OUT32, 32));
}
