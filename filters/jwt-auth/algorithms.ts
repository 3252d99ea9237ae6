/**
 * JWS algorithms (RFC 7518 §3.1, RFC 8037 §3.1) and the key type each one needs. The
 * pairing is what stops algorithm confusion: an HS256 token is only ever checked
 * against an `oct` key, never against an RSA or EC public key used as an HMAC secret.
 */
import { HashAlg } from "../../assembly/crypto";
import { JsonValue } from "../../assembly/json";

/** The `alg` values jwt-auth knows. `None` ("none") and `Unknown` are always rejected. */
export enum Alg {
  Unknown = 0,
  None,
  HS256,
  HS384,
  HS512,
  RS256,
  RS384,
  RS512,
  PS256,
  PS384,
  PS512,
  ES256,
  ES384,
  EdDSA,
}

/** JWK `kty` values (RFC 7518 §6.1, RFC 8037 §2). */
export enum KeyType {
  None = 0,
  Rsa,
  Ec,
  Okp,
  Oct,
}

const NAMES: StaticArray<string> = [
  "", "none", "HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "EdDSA",
];

/**
 * The algorithm a JSON string value names, compared without decoding; Unknown for
 * anything else. "Ed25519" (the fully-specified name of draft-ietf-jose-fully-specified-
 * algorithms, accepted by `jose`) is EdDSA with an Ed25519 key, the only OKP curve here.
 */
export function algFromJson(v: JsonValue): Alg {
  for (let i = 1; i < NAMES.length; i++) {
    if (v.equalsString(unchecked(NAMES[i]))) return <Alg>i;
  }
  if (v.equalsString("Ed25519")) return Alg.EdDSA;
  return Alg.Unknown;
}

/** The algorithm named `name` (configuration), or Unknown. */
export function algFromName(name: string): Alg {
  for (let i = 2; i < NAMES.length; i++) {
    if (name == unchecked(NAMES[i])) return <Alg>i;
  }
  if (name == "Ed25519") return Alg.EdDSA;
  return Alg.Unknown;
}

/** The key type `alg` needs (None for Unknown and "none"). */
export function algKeyType(alg: Alg): KeyType {
  if (alg >= Alg.HS256 && alg <= Alg.HS512) return KeyType.Oct;
  if (alg >= Alg.RS256 && alg <= Alg.PS512) return KeyType.Rsa;
  if (alg == Alg.ES256 || alg == Alg.ES384) return KeyType.Ec;
  if (alg == Alg.EdDSA) return KeyType.Okp;
  return KeyType.None;
}

/** The hash of `alg` (SHA-256 for *256...; EdDSA hashes internally: SHA-512). */
export function algHash(alg: Alg): HashAlg {
  if (alg == Alg.HS256 || alg == Alg.RS256 || alg == Alg.PS256 || alg == Alg.ES256) return HashAlg.SHA256;
  if (alg == Alg.HS384 || alg == Alg.RS384 || alg == Alg.PS384 || alg == Alg.ES384) return HashAlg.SHA384;
  return HashAlg.SHA512;
}

/** Whether `alg` is RSASSA-PSS. */
export function isPss(alg: Alg): bool {
  return alg >= Alg.PS256 && alg <= Alg.PS512;
}

/** A set of algorithms as a bit mask (`1 << alg`). */
export type AlgSet = u32;

/** Every algorithm jwt-auth verifies. */
export const ALL_ALGS: AlgSet = ((1 << (<i32>Alg.EdDSA + 1)) - 1) & ~((1 << <i32>Alg.HS256) - 1);

/** Whether `set` holds `alg`. */
// @ts-ignore: decorator
@inline export function algIn(set: AlgSet, alg: Alg): bool {
  return (set & (<u32>1 << <u32>alg)) != 0;
}
