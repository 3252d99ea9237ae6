/**
 * The requirement tree of a rule (`requires`), after Envoy's jwt_authn verifier
 * (source/extensions/filters/http/jwt_authn/verifier.cc):
 * - `provider_name`: the provider's tokens must all verify, and each must satisfy the
 *   node's `claims` (else 403 `jwt_claims_not_satisfied`);
 * - `requires_all`: every child must pass; the first refusal is the answer;
 * - `requires_any`: the first child that passes allows. When all fail, the answer is
 *   the most telling refusal (after Envoy AnyVerifierImpl, see `telling`): any other
 *   error (the last such one), else the first "unknown issuer" or "no fitting key",
 *   else the first "missing" (whose provider the refusal is counted for);
 *   then `allow_missing_or_failed` allows anyway, and `allow_missing` allows when that
 *   answer is "missing".
 * A child waiting for keys (`Pending`) makes the node wait unless another child
 * already allows (any) or refuses (all).
 */
import { Authenticator } from "./authenticator";
import { ClaimRequirement } from "./claims";
import { Requirement, RequirementKind } from "./config";
import { Jwt } from "./jwt";
import { Reason, isDenial } from "./reasons";

/** The outcome of a requirement: a reason, and the provider it is attributed to (-1: none). */
export class Verdict {
  reason: Reason = Reason.Ok;
  provider: i32 = -1;
}

/** Evaluates `node` for the request `auth` was begun with; the outcome goes to `out`. */
export function evaluate(node: Requirement, auth: Authenticator, out: Verdict): void {
  switch (node.kind) {
    case RequirementKind.Provider: return evaluateProvider(node, auth, out);
    case RequirementKind.All: return evaluateAll(node, auth, out);
    default: return evaluateAny(node, auth, out);
  }
}

function evaluateProvider(node: Requirement, auth: Authenticator, out: Verdict): void {
  const p = node.provider!;
  out.provider = p.index;
  const o = auth.outcome(p);
  if (o.reason == Reason.JwksUnavailableAllowed) {
    // Nothing verified to read claims from: on_jwks_unavailable "allow" lets it through.
    out.reason = Reason.Ok;
    return;
  }
  if (o.reason != Reason.Ok) {
    out.reason = o.reason;
    return;
  }
  const claims = node.claims;
  for (let i = 0, n = o.jwts.length; i < n; i++) {
    const jwt = unchecked(o.jwts[i]);
    for (let c = 0, m = claims.length; c < m; c++) {
      if (!holds(unchecked(claims[c]), jwt)) {
        out.reason = Reason.JwtClaimsNotSatisfied;
        return;
      }
    }
  }
  out.reason = Reason.Ok;
}

/**
 * Whether `jwt` satisfies `claim`. The answer depends on the payload only, so it is kept
 * with the token (`Jwt.claimsChecked` / `claimsHeld`) for requirements numbered below 64:
 * a cached token reads its claims once per requirement, not once per request.
 */
function holds(claim: ClaimRequirement, jwt: Jwt): bool {
  const index = claim.index;
  if (index < 0 || index >= 64) return claim.satisfiedBy(jwt.payload);
  const bit = <u64>1 << <u64>index;
  if (jwt.claimsChecked & bit) return (jwt.claimsHeld & bit) != 0;
  const held = claim.satisfiedBy(jwt.payload);
  jwt.claimsChecked |= bit;
  if (held) jwt.claimsHeld |= bit;
  return held;
}

function evaluateAll(node: Requirement, auth: Authenticator, out: Verdict): void {
  let pending = false;
  let pendingProvider = -1;
  const children = node.children;
  for (let i = 0, n = children.length; i < n; i++) {
    evaluate(unchecked(children[i]), auth, out);
    if (isDenial(out.reason)) return;
    if (out.reason == Reason.Pending) {
      pending = true;
      pendingProvider = out.provider;
    }
  }
  out.reason = pending ? Reason.Pending : Reason.Ok;
  out.provider = pending ? pendingProvider : -1;
}

/**
 * How much a refusal says: "missing" least, then the two ways of saying "this token is
 * another provider's" (its issuer, or no key of this provider fits its kid and alg),
 * then any other error. Envoy ranks only the issuer so; with two providers sharing a
 * header and an issuer (user tokens RS256, service tokens HS256), ranking the key miss
 * alike keeps a user token's real refusal (403 claims) from being hidden by the service
 * provider's "no key for RS256".
 */
function telling(r: Reason): i32 {
  if (r == Reason.JwtMissing) return 0;
  return r == Reason.JwtUnknownIssuer || r == Reason.JwksKidAlgMismatch ? 1 : 2;
}

function evaluateAny(node: Requirement, auth: Authenticator, out: Verdict): void {
  let pending = false;
  let final = Reason.JwtMissing;
  let finalProvider = -1;
  const children = node.children;
  for (let i = 0, n = children.length; i < n; i++) {
    evaluate(unchecked(children[i]), auth, out);
    const r = out.reason;
    if (r == Reason.Ok) return;
    if (r == Reason.Pending) {
      pending = true;
      continue;
    }
    const rank = telling(r);
    if (finalProvider < 0 || rank > telling(final) || rank == 2) {
      final = r;
      finalProvider = out.provider;
    }
  }
  if (pending) {
    out.reason = Reason.Pending;
    return;
  }
  if (node.allowMissingOrFailed || (node.allowMissing && final == Reason.JwtMissing)) {
    out.reason = Reason.Ok;
    out.provider = -1;
    return;
  }
  out.reason = final;
  out.provider = finalProvider;
}
