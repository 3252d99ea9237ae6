/**
 * RSA signature verification for JWS RS256/384/512 (RSASSA-PKCS1-v1_5, RFC 8017 §8.2)
 * and PS256/384/512 (RSASSA-PSS, RFC 8017 §8.1): build an `RsaPublicKey` once per JWK,
 * then verify with `verifyPkcs1v15` or `verifyPss`.
 */
import { VerifyResult } from "../result";
import { HashAlg } from "../sha2";
import { RsaPublicKey } from "./key";
import { verifyPkcs1v15Raw } from "./pkcs1";
import { verifyPssRaw } from "./pss";

export { RsaPublicKey, MIN_MODULUS_BITS, MAX_MODULUS_BITS } from "./key";
export { verifyPkcs1v15Raw, verifyPkcs1v15DigestRaw } from "./pkcs1";
export { verifyPssRaw, verifyPssDigestRaw } from "./pss";

/**
 * RSASSA-PKCS1-v1_5 verification (RFC 8017 §8.2.2) of `signature` (k bytes) over
 * `message` hashed with `alg` (RS256: SHA256...). See `verifyPkcs1v15Raw` for results.
 */
export function verifyPkcs1v15(key: RsaPublicKey, alg: HashAlg, message: Uint8Array, signature: Uint8Array): VerifyResult {
  return verifyPkcs1v15Raw(key, alg, message.dataStart, <usize>message.length, signature.dataStart, signature.length);
}

/**
 * RSASSA-PSS verification (RFC 8017 §8.1.2, MGF1 with `alg`, salt length = hash
 * length as RFC 7518 §3.5 requires) of `signature` (k bytes) over `message`. See
 * `verifyPssRaw` for results.
 */
export function verifyPss(key: RsaPublicKey, alg: HashAlg, message: Uint8Array, signature: Uint8Array): VerifyResult {
  return verifyPssRaw(key, alg, message.dataStart, <usize>message.length, signature.dataStart, signature.length);
}
