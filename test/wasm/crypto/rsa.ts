// RSA verification of assembly/crypto/rsa/ with raw pointers, for the vitest suites
// (test/crypto/rsa*) and the crypto bench. Keys are built once and kept by handle, as
// jwt-auth keeps JWKS keys.
import { HashAlg } from "../../../assembly/crypto/sha2";
import { RsaPublicKey, verifyPkcs1v15Raw, verifyPssRaw } from "../../../assembly/crypto/rsa";
import { VerifyResult } from "../../../assembly/crypto/result";
import { outputArray } from "./io";

const rsaKeys = new Array<RsaPublicKey | null>();

/** Builds a key from JWK n and e bytes and keeps it: its handle (≥ 0); see rsa_key_status. */
export function rsa_key_new(n: usize, nLen: i32, e: usize, eLen: i32): i32 {
  rsaKeys.push(new RsaPublicKey(n, nLen, e, eLen));
  return rsaKeys.length - 1;
}

function keyAt(handle: i32): RsaPublicKey | null {
  if (handle < 0 || handle >= rsaKeys.length) return null;
  return rsaKeys[handle];
}

/** The key's status: VerifyResult.Valid or BadKey; BadInput for an unknown handle. */
export function rsa_key_status(handle: i32): i32 {
  const key = keyAt(handle);
  return key === null ? VerifyResult.BadInput : key.status;
}

export function rsa_key_free(handle: i32): void {
  if (handle >= 0 && handle < rsaKeys.length) rsaKeys[handle] = null;
}

/** RSASSA-PKCS1-v1_5 verification with HashAlg `alg`: a VerifyResult. */
export function rsa_verify_pkcs1(handle: i32, alg: i32, msg: usize, msgLen: usize, sig: usize, sigLen: i32): i32 {
  const key = keyAt(handle);
  if (key === null) return VerifyResult.BadInput;
  return verifyPkcs1v15Raw(key, <HashAlg>alg, msg, msgLen, sig, sigLen);
}

/** RSASSA-PSS verification (MGF1 and salt length from `alg`): a VerifyResult. */
export function rsa_verify_pss(handle: i32, alg: i32, msg: usize, msgLen: usize, sig: usize, sigLen: i32): i32 {
  const key = keyAt(handle);
  if (key === null) return VerifyResult.BadInput;
  return verifyPssRaw(key, <HashAlg>alg, msg, msgLen, sig, sigLen);
}

/** RSAVP1: s^e mod n as k bytes into the output area, or -1 (bad key, wrong length, s ≥ n). */
export function rsa_public_op(handle: i32, sig: usize, sigLen: i32): i32 {
  const key = keyAt(handle);
  if (key === null || key.status != VerifyResult.Valid || sigLen != key.modulusBytes) return -1;
  const em = key.publicOperation(sig);
  if (em == 0) return -1;
  memory.copy(outputArray().dataStart, em, <usize>sigLen);
  return sigLen;
}
