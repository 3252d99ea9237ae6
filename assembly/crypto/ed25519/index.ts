/**
 * Ed25519 signature verification (RFC 8032 §5.1.7; JWS "EdDSA" with OKP keys of curve
 * "Ed25519", RFC 8037). Build an `Ed25519PublicKey` once per JWK (`fromBytes(x)`), then
 * `key.verify(signingInput, signature)` for each token. Results are `VerifyResult` codes.
 *
 * Inside: field.ts (GF(2^255-19)), scalar.ts (mod L, wNAF), point.ts (extended twisted
 * Edwards coordinates, encoding), msm.ts ([S]B - [k]A and its tables), verify.ts.
 */
export {
  ED25519_PUBLIC_KEY_LENGTH, ED25519_SIGNATURE_LENGTH, Ed25519PublicKey, ed25519Verify,
} from "./verify";
export { VerifyResult } from "../result";
