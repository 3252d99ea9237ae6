/**
 * The one reason table of jwt-auth: every outcome of authenticating a request, with the
 * HTTP status, the RFC 6750 §3.1 error code, the message (jwt_verify_lib's
 * `getStatusString` texts, src/status.cc, where Envoy has one), and the snake_case name
 * used in `x-jwt-auth-reason`, as the `reason` label of metrics (stats.ts) and in
 * response code details. Responses, logs and metrics all read this table.
 *
 * Choices where filters.md leaves room (see also README "jwt-auth"):
 * - 401 with `error="invalid_token"` for every token that fails verification, the
 *   audience check included (Envoy's jwt_authn answers 403 for a wrong audience; the
 *   contract says invalid token → 401).
 * - 403 with `error="insufficient_scope"` for valid tokens that a rule does not accept:
 *   `claims` requirements and the provider's `subjects`.
 * - A missing token: 401, no `error` attribute in `www-authenticate` (RFC 6750 §3.1),
 *   `"error":"missing_token"` in the body.
 * - 401 `invalid_token` for requests whose credentials cannot name one identity: two
 *   different tokens verified by one provider (`jwt_ambiguous`), more credentials than
 *   are checked (`jwt_too_many`), and `jwt_bad_format` for a value at a token location
 *   that no location's `value_prefix` starts (`Basic ...` in `authorization`).
 */

/** Authentication outcomes. `Ok` allows; `Pending` waits for keys; the rest deny. */
export enum Reason {
  Ok = 0,
  /** Internal: keys are being fetched; the stream waits and is evaluated again. */
  Pending,
  /** Internal: JWKS unavailable and `on_jwks_unavailable: "allow"`: counts as allowed. */
  JwksUnavailableAllowed,
  JwtMissing,
  JwtTooLarge,
  JwtBadFormat,
  JwtHeaderBadBase64,
  JwtHeaderBadJson,
  JwtHeaderBadAlg,
  JwtAlgNotSupported,
  JwtHeaderBadKid,
  JwtHeaderCritNotSupported,
  JwtPayloadBadBase64,
  JwtPayloadBadJson,
  JwtIssNotString,
  JwtSubNotString,
  JwtAudNotString,
  JwtExpNotNumber,
  JwtNbfNotNumber,
  JwtIatNotNumber,
  JwtSignatureBadBase64,
  JwtUnknownIssuer,
  JwksKidAlgMismatch,
  JwksUnavailable,
  JwtVerificationFailed,
  JwtExpRequired,
  JwtExpired,
  JwtNotYetValid,
  JwtIatRequired,
  JwtLifetimeTooLong,
  JwtAudienceNotAllowed,
  JwtAmbiguous,
  JwtTooMany,
  JwtSubjectNotAllowed,
  JwtClaimsNotSatisfied,
}

/** Number of entries of `Reason`. */
export const REASON_COUNT: i32 = <i32>Reason.JwtClaimsNotSatisfied + 1;

/** One row of the table. */
export class ReasonInfo {
  constructor(
    /** snake_case name: `x-jwt-auth-reason`, metric suffix, response code details. */
    readonly name: string,
    /** HTTP status of the denial (0 for the internal, non-denying entries). */
    readonly status: u32,
    /** RFC 6750 §3.1 error code, or `missing_token` for a missing token (never in `www-authenticate`). */
    readonly error: string,
    /** Human-readable message, the response body's `message`. */
    readonly message: string,
  ) {}

  /** Whether `www-authenticate` carries `error="..."` (every denial but a missing token). */
  get challengeHasError(): bool {
    return this.error != MISSING_TOKEN;
  }
}

const INVALID = "invalid_token";
const SCOPE = "insufficient_scope";
const MISSING_TOKEN = "missing_token";

function row(name: string, status: u32, error: string, message: string): ReasonInfo {
  return new ReasonInfo(name, status, error, message);
}

// Indexed by Reason; keep in the enum's order (a spec checks names are unique and filled).
const TABLE: StaticArray<ReasonInfo> = [
  row("ok", 200, "", "OK"),
  row("pending", 0, "", "Jwks fetch in progress"),
  row("jwks_unavailable_allowed", 200, "", "Jwks is unavailable, request allowed by on_jwks_unavailable"),
  row("jwt_missing", 401, MISSING_TOKEN, "Jwt is missing"),
  row("jwt_too_large", 401, INVALID, "Jwt is larger than the configured max_token_bytes"),
  row("jwt_bad_format", 401, INVALID, "Jwt is not in the form of Header.Payload.Signature with two dots and 3 sections"),
  row("jwt_header_bad_base64", 401, INVALID, "Jwt header is an invalid Base64url encoded"),
  row("jwt_header_bad_json", 401, INVALID, "Jwt header is an invalid JSON"),
  row("jwt_header_bad_alg", 401, INVALID, "Jwt header [alg] field is required and must be a string"),
  row("jwt_alg_not_supported", 401, INVALID, "Jwt header [alg] is not supported"),
  row("jwt_header_bad_kid", 401, INVALID, "Jwt header [kid] field is not a string"),
  row("jwt_header_crit_not_supported", 401, INVALID, "Jwt header [crit] field is not supported"),
  row("jwt_payload_bad_base64", 401, INVALID, "Jwt payload is an invalid Base64url encoded"),
  row("jwt_payload_bad_json", 401, INVALID, "Jwt payload is an invalid JSON"),
  row("jwt_iss_not_string", 401, INVALID, "Jwt payload [iss] field is not a string"),
  row("jwt_sub_not_string", 401, INVALID, "Jwt payload [sub] field is not a string"),
  row("jwt_aud_not_string", 401, INVALID, "Jwt payload [aud] field is not a string or string list"),
  row("jwt_exp_not_number", 401, INVALID, "Jwt payload [exp] field is not a number"),
  row("jwt_nbf_not_number", 401, INVALID, "Jwt payload [nbf] field is not a number"),
  row("jwt_iat_not_number", 401, INVALID, "Jwt payload [iat] field is not a number"),
  row("jwt_signature_bad_base64", 401, INVALID, "Jwt signature is an invalid Base64url encoded"),
  row("jwt_unknown_issuer", 401, INVALID, "Jwt issuer is not configured"),
  row("jwks_kid_alg_mismatch", 401, INVALID, "Jwks doesn't have key to match kid or alg from Jwt"),
  row("jwks_unavailable", 401, INVALID, "Jwks remote fetch is failed"),
  row("jwt_verification_failed", 401, INVALID, "Jwt verification fails"),
  row("jwt_exp_required", 401, INVALID, "Jwt payload [exp] field is required"),
  row("jwt_expired", 401, INVALID, "Jwt is expired"),
  row("jwt_not_yet_valid", 401, INVALID, "Jwt not yet valid"),
  row("jwt_iat_required", 401, INVALID, "Jwt payload [iat] field is required by max_lifetime_seconds"),
  row("jwt_lifetime_too_long", 401, INVALID, "Jwt lifetime is longer than max_lifetime_seconds"),
  row("jwt_audience_not_allowed", 401, INVALID, "Audiences in Jwt are not allowed"),
  row("jwt_ambiguous", 401, INVALID, "Jwts of more than one identity for one provider"),
  row("jwt_too_many", 401, INVALID, "More Jwts in the request than are checked"),
  row("jwt_subject_not_allowed", 403, SCOPE, "Jwt subject is not allowed"),
  row("jwt_claims_not_satisfied", 403, SCOPE, "Jwt claims do not satisfy the requirement"),
];

/** The row of `reason`. */
export function reasonInfo(reason: Reason): ReasonInfo {
  return unchecked(TABLE[<i32>reason]);
}

/** Whether `reason` denies the request (everything but Ok, Pending and JwksUnavailableAllowed). */
export function isDenial(reason: Reason): bool {
  return reason >= Reason.JwtMissing;
}
