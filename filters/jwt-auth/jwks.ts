/**
 * JSON Web Key Sets (RFC 7517 §5) parsed once into verification keys whose expensive
 * parts are precomputed (RSA Montgomery constants, EC and Ed25519 point tables, HMAC
 * pad states: see assembly/crypto), and the key selection of a JWS (RFC 7515 §4.1.4
 * `kid`, RFC 7518 §6 key types).
 *
 * Accepted keys, by `kty` (RFC 7518 §6, RFC 8037 §2):
 * - `RSA` `n`, `e` → RS256/384/512, PS256/384/512 (2048 to 4096 bits);
 * - `EC` `crv` P-256 / P-384, `x`, `y` → ES256 / ES384 (the curve fixes the algorithm);
 * - `OKP` `crv` Ed25519, `x` → EdDSA;
 * - `oct` `k` → HS256/384/512, each only when the secret is at least as long as the
 *   hash (RFC 7518 §3.2).
 * A key's optional `alg` narrows it to that one algorithm; a key whose `use` is not
 * "sig" or whose `key_ops` lacks "verify" is left out silently (it is not for us).
 * Error texts are jwt_verify_lib's (src/status.cc) where it has one.
 */
import {
  EcCurve, EcPublicKey, Ed25519PublicKey, HashAlg, HmacKey, RsaPublicKey, VerifyResult, base64urlDecode, hashLength,
  verifyPkcs1v15Raw, verifyPssRaw,
} from "../../assembly/crypto";
import { JsonOptions, JsonValue, parseJsonAt } from "../../assembly/json";
import { Alg, KeyType, algFromName, algHash, algKeyType, isPss } from "./algorithms";

/** Limits for a JWKS document: remote documents are bounded by this too. */
// @ts-ignore: decorator
@lazy const JWKS_JSON_OPTIONS = new JsonOptions(16, 1 << 20);

/** One verification key of a JWKS. */
export class Jwk {
  /** `kid`, or null when the key has none. */
  kid: string | null = null;
  /** The key's `alg`, or Unknown when it names none (any algorithm of its type fits). */
  alg: Alg = Alg.Unknown;
  keyType: KeyType = KeyType.None;
  rsa: RsaPublicKey | null = null;
  ec: EcPublicKey | null = null;
  okp: Ed25519PublicKey | null = null;
  hs256: HmacKey | null = null;
  hs384: HmacKey | null = null;
  hs512: HmacKey | null = null;

  /** Whether a JWS with `alg` may be checked with this key: the key type, curve and `alg` agree. */
  fits(alg: Alg): bool {
    if (this.alg != Alg.Unknown && this.alg != alg) return false;
    if (algKeyType(alg) != this.keyType) return false;
    switch (this.keyType) {
      case KeyType.Rsa: return true;
      case KeyType.Ec: {
        const ec = this.ec!;
        return alg == (ec.curve == EcCurve.P256 ? Alg.ES256 : Alg.ES384);
      }
      case KeyType.Okp: return alg == Alg.EdDSA;
      case KeyType.Oct: return this.hmac(alg) !== null;
    }
    return false;
  }

  /** The HMAC key for HS256/384/512, or null when the secret is too short for it. */
  hmac(alg: Alg): HmacKey | null {
    if (alg == Alg.HS256) return this.hs256;
    if (alg == Alg.HS384) return this.hs384;
    if (alg == Alg.HS512) return this.hs512;
    return null;
  }

  /**
   * Verifies `sigLen` bytes at `sig` over the JWS signing input (`msgLen` bytes at `msg`)
   * with `alg`, which must fit (`fits`). Never traps: malformed signatures are results.
   */
  verify(alg: Alg, msg: usize, msgLen: i32, sig: usize, sigLen: i32): VerifyResult {
    switch (this.keyType) {
      case KeyType.Oct: {
        const key = this.hmac(alg);
        return key === null ? VerifyResult.BadInput : key.verifyRaw(msg, <usize>msgLen, sig, <usize>sigLen);
      }
      case KeyType.Rsa: {
        const hash = algHash(alg);
        return isPss(alg)
          ? verifyPssRaw(this.rsa!, hash, msg, <usize>msgLen, sig, sigLen)
          : verifyPkcs1v15Raw(this.rsa!, hash, msg, <usize>msgLen, sig, sigLen);
      }
      case KeyType.Ec: return this.ec!.verifyRaw(msg, msgLen, sig, sigLen);
      case KeyType.Okp: return this.okp!.verifyRaw(msg, <usize>msgLen, sig, <usize>sigLen);
    }
    return VerifyResult.BadInput;
  }
}

/** The usable keys of a JWKS, in document order. */
export class JwkSet {
  constructor(readonly keys: Jwk[]) {}

  /** Whether some key has `kid` (given as the token header's JSON string, compared without decoding). */
  hasKid(kid: JsonValue): bool {
    const keys = this.keys;
    for (let i = 0, n = keys.length; i < n; i++) {
      const k = unchecked(keys[i]).kid;
      if (k !== null && kid.equalsString(k)) return true;
    }
    return false;
  }
}

/** What `parseJwks` made of a document: a set, or the first error (and how many keys it skipped). */
export class JwksParse {
  constructor(
    /** The set, null when the document is unusable (then `error` says why). */
    readonly set: JwkSet | null,
    /** The first problem met: the document's, or `keys[i]: ...` for a rejected key. */
    readonly error: string,
    /** Keys left out because they were malformed (not counting keys for other uses). */
    readonly rejected: i32,
  ) {}
}

/**
 * Parses a JWKS of `length` UTF-8 bytes at `ptr`. A document that is not a JSON object
 * with a `keys` array, or has no usable key, gives a null set. A malformed key is left
 * out of the set and reported in `error`/`rejected`; `strict` callers (configuration)
 * treat that as an error, remote documents do not.
 */
export function parseJwks(ptr: usize, length: i32): JwksParse {
  const parsed = parseJsonAt(ptr, length, JWKS_JSON_OPTIONS);
  if (!parsed.ok) return new JwksParse(null, "Jwks is an invalid JSON", 0);
  const doc = parsed.value!;
  if (!doc.isObject()) return new JwksParse(null, "Jwks is an invalid JSON", 0);
  const keysValue = doc.get("keys");
  if (keysValue === null) return new JwksParse(null, "Jwks does not have [keys] field", 0);
  if (!keysValue.isArray()) return new JwksParse(null, "[keys] in Jwks is not an array", 0);
  const keys = new Array<Jwk>();
  let firstError = "";
  let rejected = 0;
  for (let i = 0, n = keysValue.length; i < n; i++) {
    const item = keysValue.at(i)!;
    const key = new Jwk();
    const error = readJwk(item, key);
    if (error === null) continue; // another use: not ours
    if (error.length > 0) {
      if (rejected++ == 0) firstError = "keys[" + i.toString() + "]: " + error;
      continue;
    }
    keys.push(key);
  }
  if (keys.length == 0) {
    return new JwksParse(null, firstError.length > 0 ? firstError : "Jwks doesn't have any valid public key", rejected);
  }
  return new JwksParse(new JwkSet(keys), firstError, rejected);
}

/** As `parseJwks`, for a string (configuration's `inline_string`). */
export function parseJwksString(text: string): JwksParse {
  const bytes = String.UTF8.encode(text);
  return parseJwks(changetype<usize>(bytes), bytes.byteLength);
}

/** Member `name` as a string: null when absent, "" flagged by `ok = false` when not a string. */
let memberOk = true;
function stringMember(obj: JsonValue, name: string): string | null {
  memberOk = true;
  const v = obj.get(name);
  if (v === null) return null;
  if (!v.isString()) {
    memberOk = false;
    return null;
  }
  return v.asString();
}

/** Decodes base64url member `name`; null when absent, not a string or not base64url (see `memberOk`). */
function bytesMember(obj: JsonValue, name: string): Uint8Array | null {
  const s = stringMember(obj, name);
  if (s === null) return null;
  const bytes = base64urlDecode(s);
  if (bytes === null) memberOk = false;
  return bytes;
}

/**
 * Fills `key` from JWK `jwk`: "" when usable, null when the key is for another use
 * (`use` not "sig", `key_ops` without "verify"), else why it is rejected.
 */
function readJwk(jwk: JsonValue, key: Jwk): string | null {
  if (!jwk.isObject()) return "[kty] is missing in [keys]";
  const use = jwk.get("use");
  if (use !== null && !use.equalsString("sig")) return null;
  const ops = jwk.get("key_ops");
  if (ops !== null) {
    if (!ops.isArray()) return "[key_ops] field is not an array";
    let verify = false;
    for (let i = 0, n = ops.length; i < n; i++) if (ops.at(i)!.equalsString("verify")) verify = true;
    if (!verify) return null;
  }
  const ktyValue = jwk.get("kty");
  if (ktyValue === null) return "[kty] is missing in [keys]";
  if (!ktyValue.isString()) return "[kty] is bad in [keys]";
  const kid = stringMember(jwk, "kid");
  if (!memberOk) return "[kid] field is not a string";
  key.kid = kid;
  const algText = stringMember(jwk, "alg");
  if (!memberOk) return "[alg] field is not a string";
  const alg = algText === null ? Alg.Unknown : algFromName(algText);
  if (ktyValue.equalsString("RSA")) return readRsa(jwk, key, algText, alg);
  if (ktyValue.equalsString("EC")) return readEc(jwk, key, algText, alg);
  if (ktyValue.equalsString("OKP")) return readOkp(jwk, key, algText, alg);
  if (ktyValue.equalsString("oct")) return readOct(jwk, key, algText, alg);
  return "[kty] is not supported in [keys]";
}

function readRsa(jwk: JsonValue, key: Jwk, algText: string | null, alg: Alg): string {
  if (algText !== null && algKeyType(alg) != KeyType.Rsa) return "[alg] is not started with [RS] or [PS] for an RSA key";
  if (!jwk.has("n")) return "[n] field is missing for a RSA key";
  const n = bytesMember(jwk, "n");
  if (n === null) return memberOk ? "[n] field is missing for a RSA key" : "Jwks RSA [n] or [e] field is missing or has a parse error";
  if (!jwk.has("e")) return "[e] field is missing for a RSA key";
  const e = bytesMember(jwk, "e");
  if (e === null) return "Jwks RSA [n] or [e] field is missing or has a parse error";
  const rsa = RsaPublicKey.fromJwk(n, e);
  if (rsa.status != VerifyResult.Valid) return "RSA key is not usable: the modulus must have 2048 to 4096 bits, the exponent be odd, at least 3 and below it";
  key.keyType = KeyType.Rsa;
  key.alg = alg;
  key.rsa = rsa;
  return "";
}

function readEc(jwk: JsonValue, key: Jwk, algText: string | null, alg: Alg): string {
  const crvValue = jwk.get("crv");
  if (crvValue !== null && !crvValue.isString()) return "[crv] field is not string for an EC key";
  if (algText !== null && alg != Alg.ES256 && alg != Alg.ES384) return "[alg] is not started with [ES] for an EC key";
  let curve: EcCurve;
  if (crvValue === null) {
    // jwt_verify_lib derives the curve from `alg` when `crv` is absent.
    if (alg == Alg.ES256) curve = EcCurve.P256;
    else if (alg == Alg.ES384) curve = EcCurve.P384;
    else return "[crv] or [alg] field is not supported for an EC key";
  } else if (crvValue.equalsString("P-256")) curve = EcCurve.P256;
  else if (crvValue.equalsString("P-384")) curve = EcCurve.P384;
  else return "[crv] or [alg] field is not supported for an EC key";
  if (alg != Alg.Unknown && alg != (curve == EcCurve.P256 ? Alg.ES256 : Alg.ES384)) {
    return "[crv] field specified is not compatible with [alg] for an EC key";
  }
  if (!jwk.has("x")) return "[x] field is missing for an EC key";
  const x = bytesMember(jwk, "x");
  if (x === null) return memberOk ? "[x] field is missing for an EC key" : "Jwks EC [x] or [y] field is an invalid Base64.";
  if (!jwk.has("y")) return "[y] field is missing for an EC key";
  const y = bytesMember(jwk, "y");
  if (y === null) return "Jwks EC [x] or [y] field is an invalid Base64.";
  const ec = EcPublicKey.fromJwk(curve, x, y);
  if (ec === null) return "Jwks EC [x] and [y] fields have a parse error.";
  key.keyType = KeyType.Ec;
  key.alg = alg;
  key.ec = ec;
  return "";
}

function readOkp(jwk: JsonValue, key: Jwk, algText: string | null, alg: Alg): string {
  if (algText !== null && alg != Alg.EdDSA) return "[alg] is not [EdDSA] for an OKP key";
  const crvValue = jwk.get("crv");
  if (crvValue === null) return "[crv] field is missing for an OKP key";
  if (!crvValue.isString()) return "[crv] field is not string for an OKP key";
  if (!crvValue.equalsString("Ed25519")) return "[crv] field is not supported for an OKP key";
  if (!jwk.has("x")) return "[x] field is missing for an OKP key";
  const x = bytesMember(jwk, "x");
  if (x === null) return "Jwks OKP [x] field is an invalid Base64.";
  if (x.length != 32) return "Jwks OKP [x] field is wrong length.";
  const okp = Ed25519PublicKey.fromBytes(x);
  if (okp === null) return "Jwks OKP [x] field is not a usable Ed25519 public key";
  key.keyType = KeyType.Okp;
  key.alg = alg;
  key.okp = okp;
  return "";
}

function readOct(jwk: JsonValue, key: Jwk, algText: string | null, alg: Alg): string {
  if (algText !== null && algKeyType(alg) != KeyType.Oct) return "[alg] does not start with [HS] for an HMAC key";
  if (!jwk.has("k")) return "[k] field is missing for an HMAC key";
  const k = bytesMember(jwk, "k");
  if (k === null) return memberOk ? "[k] field is missing for an HMAC key" : "Jwks Oct key is an invalid Base64";
  // RFC 7518 §3.2: a key at least as long as the hash output.
  const len = k.length;
  if (alg != Alg.Unknown && len < hashLength(algHash(alg))) return "[k] is shorter than the hash of its [alg]";
  if (len < 32) return "[k] is shorter than 32 bytes, the least HS256 accepts";
  if (alg == Alg.Unknown || alg == Alg.HS256) key.hs256 = new HmacKey(HashAlg.SHA256, k);
  if ((alg == Alg.Unknown && len >= 48) || alg == Alg.HS384) key.hs384 = new HmacKey(HashAlg.SHA384, k);
  if ((alg == Alg.Unknown && len >= 64) || alg == Alg.HS512) key.hs512 = new HmacKey(HashAlg.SHA512, k);
  key.keyType = KeyType.Oct;
  key.alg = alg;
  return "";
}
