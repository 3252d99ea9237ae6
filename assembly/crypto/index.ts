/**
 * The JOSE crypto that filters import (jwt-auth): every verification returns a
 * `VerifyResult` and never traps. Build key objects once per JWK, verify per token.
 *
 * - SHA-2 (FIPS 180-4): `sha256`/`sha384`/`sha512`, streaming `Sha256`/`Sha512`, `HashAlg`.
 * - HMAC (RFC 2104) for HS256/384/512: `HmacKey` (full-length tags only in `verify`).
 * - base64url (RFC 4648 §5, strict, unpadded): `base64urlDecodeInto`, `base64urlDecode`...
 * - `constantTimeEqual` for secrets.
 * - RSA (RFC 8017) for RS256/384/512 and PS256/384/512: `RsaPublicKey`, `verifyPkcs1v15`,
 *   `verifyPss`.
 * - ECDSA P-256/P-384 for ES256/ES384: `EcPublicKey` (./ec).
 * - Ed25519 for EdDSA: `Ed25519PublicKey` (./ed25519).
 */
export { VerifyResult } from "./result";
export * from "./sha2";
export { HmacKey, hmac } from "./hmac";
export * from "./base64url";
export { constantTimeEqual, constantTimeEqualRaw } from "./ct";
export * from "./rsa/index";
export * from "./ec/index";
export * from "./ed25519/index";
