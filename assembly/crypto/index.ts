/**
 * The JOSE crypto that filters import (jwt-auth): every verification returns a
 * `VerifyResult` and never traps. Build key objects once per JWK, verify per token.
 *
 * - SHA-2 (FIPS 180-4): `sha256`/`sha384`/`sha512`, streaming `Sha256`/`Sha512`, `HashAlg`;
 *   `sha256Compact` (./sha256-compact), the same SHA-256 in 0.5 KB of code for modules that hash little.
 * - HMAC (RFC 2104) for HS256/384/512: `HmacKey` (full-length tags only in `verify`).
 * - base64url (RFC 4648 §5, strict, unpadded): `base64urlDecodeInto`, `base64urlDecode`...
 * - `constantTimeEqual` for secrets.
 * - RSA (RFC 8017) for RS256/384/512 and PS256/384/512: `RsaPublicKey`, `verifyPkcs1v15`,
 *   `verifyPss`.
 * - ECDSA P-256/P-384 for ES256/ES384: `EcPublicKey` (./ec).
 * - Ed25519 for EdDSA: `Ed25519PublicKey` (./ed25519).
 *
 * Decisions a caller should know:
 * - HMAC tags: `HmacKey.verify` accepts only full-length tags (JWS HS* never truncates,
 *   RFC 7518 §3.2); a shorter tag is BadSignature. `verifyTruncated` (RFC 2104 §5) is
 *   for other protocols. JWS also asks for keys at least as long as the hash (RFC 7518
 *   §3.2): that is jwt-auth's policy to apply; HMAC itself takes any key.
 * - RSA keys: 2048–4096-bit moduli, odd e with 3 ≤ e < n; anything else is BadKey.
 *   PKCS#1 v1.5 accepts only the DER DigestInfo with NULL parameters (Wycheproof's
 *   "MissingNull" is rejected); PSS uses MGF1 with the same hash and a salt of hash length.
 * - RSA arithmetic has a Wasm SIMD path (about 2.5× faster) compiled when the module is
 *   built with `--enable simd`, and a scalar path otherwise (rsa/montgomery.ts).
 * - base64url decoding is strict: no padding, no characters outside the URL alphabet,
 *   no 4k+1 lengths, no non-zero trailing bits.
 */
export { VerifyResult } from "./result";
export * from "./sha2";
export { sha256Compact } from "./sha256-compact";
export { HmacKey, hmac } from "./hmac";
export * from "./base64url";
export { constantTimeEqual, constantTimeEqualRaw } from "./ct";
export * from "./rsa/index";
export * from "./ec/index";
export * from "./ed25519/index";
