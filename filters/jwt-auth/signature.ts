/**
 * Signature verification of a parsed JWT against a provider's keys, with the key
 * selection of filters.md (as `jose`'s JWKS key selection): a `kid` in the header
 * selects the keys with that `kid`, otherwise every key is a candidate; a candidate
 * must fit the token's `alg` (key type, curve, the key's own `alg`: algorithms.ts,
 * jwks.ts); the token is valid when one candidate verifies it.
 */
import { VerifyResult } from "../../assembly/crypto";
import { JwkSet } from "./jwks";
import { Jwt, lastSignatureLength, lastSignaturePtr } from "./jwt";

/** The outcome of `verifySignature`. */
export enum KeyMatch {
  /** A key verified the signature. */
  Valid = 0,
  /** No key fits the token's `kid` and `alg` (jwt_verify_lib JwksKidAlgMismatch). */
  NoKey = 1,
  /** The token's `kid` is in no key at all (a remote provider may refetch). */
  KidUnknown = 2,
  /** Fitting keys exist, none verifies the signature. */
  Invalid = 3,
}

/**
 * Verifies `jwt`, just parsed by `parseJwt` (the decoded signature is the parser's
 * scratch), with the keys of `set`.
 */
export function verifySignature(set: JwkSet, jwt: Jwt): KeyMatch {
  const kid = jwt.kid;
  if (kid !== null && !set.hasKid(kid)) return KeyMatch.KidUnknown;
  const keys = set.keys;
  const alg = jwt.alg;
  const msg = jwt.tokenPtr;
  const msgLen = jwt.signingEnd - jwt.start;
  const sig = lastSignaturePtr();
  const sigLen = lastSignatureLength();
  let fitting = 0;
  for (let i = 0, n = keys.length; i < n; i++) {
    const key = unchecked(keys[i]);
    if (kid !== null && (key.kid === null || !kid.equalsString(key.kid!))) continue;
    if (!key.fits(alg)) continue;
    fitting++;
    if (key.verify(alg, msg, msgLen, sig, sigLen) == VerifyResult.Valid) return KeyMatch.Valid;
  }
  return fitting == 0 ? KeyMatch.NoKey : KeyMatch.Invalid;
}
