/**
 * RSASSA-PKCS1-v1_5 verification (RFC 8017 §8.2.2) with EMSA-PKCS1-v1_5 (§9.2): JWS
 * RS256/RS384/RS512 (RFC 7518 §3.3).
 *
 * The whole encoded message is compared with the one expected, 0x00 0x01 FF…FF 0x00
 * DigestInfo H, rather than parsed: parsing the DigestInfo is how signature forgeries
 * against small exponents slipped through other verifiers (Bleichenbacher 2006).
 */
import { VerifyResult } from "../result";
import { HashAlg, hashLength, hashRawInto } from "../sha2";
import { DIGEST_INFO_PREFIX_LENGTH as PREFIX_LENGTH, digestInfoPrefix } from "./digest-info";
import { RsaPublicKey } from "./key";

const digestScratch = new Uint8Array(64);

/**
 * Verifies an RSASSA-PKCS1-v1_5 signature of `msgLen` bytes at `msg` (hashed with
 * `alg`). `sigLen` must be the modulus length k. Valid or Invalid; BadSignature for a
 * signature of the wrong length or ≥ n; BadKey for an unusable key; BadInput for an
 * unknown `alg`.
 */
export function verifyPkcs1v15Raw(key: RsaPublicKey, alg: HashAlg, msg: usize, msgLen: usize, sig: usize, sigLen: i32): VerifyResult {
  if (key.status != VerifyResult.Valid) return key.status;
  const hLen = hashRawInto(alg, msg, msgLen, digestScratch);
  if (hLen == 0) return VerifyResult.BadInput;
  return verifyPkcs1v15DigestRaw(key, alg, digestScratch.dataStart, sig, sigLen);
}

/** As `verifyPkcs1v15Raw`, given the message digest H (hash length bytes at `digest`). */
export function verifyPkcs1v15DigestRaw(key: RsaPublicKey, alg: HashAlg, digest: usize, sig: usize, sigLen: i32): VerifyResult {
  if (key.status != VerifyResult.Valid) return key.status;
  const hLen = hashLength(alg);
  if (hLen == 0) return VerifyResult.BadInput;
  const k = key.modulusBytes;
  if (sigLen != k) return VerifyResult.BadSignature;
  if (key.eShift != 0) {
    // e = 2^t + 1: compare s^e and the expected EM, both times R^(−2^t), as residues
    // (equal mod n exactly when the bytes would be: EM < n). One product fewer.
    const moved = key.shiftedPublicOperation(sig);
    if (moved === null) return VerifyResult.BadSignature;
    return key.sameResidue(moved, key.expectedPkcs1(alg, digest)) ? VerifyResult.Valid : VerifyResult.Invalid;
  }
  const em = key.publicOperation(sig);
  if (em == 0) return VerifyResult.BadSignature;
  const prefix = digestInfoPrefix(alg);
  const tLen = PREFIX_LENGTH + hLen;
  // k ≥ 256 > tLen + 11 for every accepted key, so the padding has at least 8 bytes.
  const psEnd = k - tLen - 1;
  let diff: u32 = load<u8>(em) | (load<u8>(em, 1) ^ 0x01) | load<u8>(em + <usize>psEnd);
  for (let i = 2; i < psEnd; i++) diff |= load<u8>(em + <usize>i) ^ 0xff;
  const t = em + <usize>(psEnd + 1);
  for (let i = 0; i < PREFIX_LENGTH; i++) diff |= load<u8>(t + <usize>i) ^ load<u8>(prefix + <usize>i);
  const h = t + <usize>PREFIX_LENGTH;
  for (let i = 0; i < hLen; i++) diff |= load<u8>(h + <usize>i) ^ load<u8>(digest + <usize>i);
  return diff == 0 ? VerifyResult.Valid : VerifyResult.Invalid;
}
