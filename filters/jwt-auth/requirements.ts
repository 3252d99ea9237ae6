/**
 * The requirement tree of a rule (`requires`), after Envoy's jwt_authn verifier
 * (source/extensions/filters/http/jwt_authn/verifier.cc):
 * - `provider_name`: the provider verified one identity (authenticator.ts), and its
 *   token satisfies the node's `claims` (else 403 `jwt_claims_not_satisfied`);
 * - `requires_all`: every child must pass; the first refusal is the answer;
 * - `requires_any`: the first child that passes allows. When all fail, the answer is
 *   the most telling refusal (after Envoy AnyVerifierImpl, see extractor.ts `telling`):
 *   any other error (the last such one), else the first "unknown issuer" or "no
 *   fitting key", else the first "missing" (whose provider the refusal is counted for);
 *   then `allow_missing_or_failed` allows anyway, and `allow_missing` allows when that
 *   answer is "missing".
 * A child waiting for keys (`Pending`) makes the node wait unless another child
 * already allows (any) or refuses (all). The providers that satisfied the tree, in its
 * order, are recorded with the authenticator (only the passing child of a
 * `requires_any` counts): they write the claim headers.
 *
 * `evaluateRule` adds what the tree alone does not see: a request with more credentials
 * than are checked is refused first, and an allowed one still needs every credential
 * verified (`Authenticator.checkCredentials`). A credential that failed also turns a
 * 403 (a verified token without the rule's claims) into its 401: the request carried a
 * bad credential, which is the first thing to tell.
 */
import { Authenticator, Verdict } from "./authenticator";
import { ClaimRequirement } from "./claims";
import { Requirement, RequirementKind, Rule } from "./config";
import { telling } from "./extractor";
import { Jwt } from "./jwt";
import { Reason, isDenial, reasonInfo } from "./reasons";

export { Verdict } from "./authenticator";

/** Evaluates the requirement of `rule` (which has one) for the request `auth` was begun with; the outcome goes to `out`. */
export function evaluateRule(rule: Rule, auth: Authenticator, out: Verdict): void {
  if (auth.tooMany) {
    out.reason = Reason.JwtTooMany;
    out.provider = -1;
    return;
  }
  evaluate(rule.requires!, auth, out);
  if (out.reason == Reason.Ok || (isDenial(out.reason) && reasonInfo(out.reason).status == 403)) auth.checkCredentials(out);
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
  const jwt = o.jwt!;
  const claims = node.claims;
  for (let c = 0, m = claims.length; c < m; c++) {
    if (!holds(unchecked(claims[c]), jwt)) {
      out.reason = Reason.JwtClaimsNotSatisfied;
      return;
    }
  }
  auth.satisfiedBy(p);
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

function evaluateAny(node: Requirement, auth: Authenticator, out: Verdict): void {
  let pending = false;
  let final = Reason.JwtMissing;
  let finalProvider = -1;
  const children = node.children;
  const mark = auth.satisfiedMark;
  for (let i = 0, n = children.length; i < n; i++) {
    evaluate(unchecked(children[i]), auth, out);
    const r = out.reason;
    if (r == Reason.Ok) return;
    auth.unsatisfy(mark);
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
