/**
 * The denial response of jwt-auth, all read from the reason table (reasons.ts):
 *
 *   :status           401 or 403
 *   www-authenticate  Bearer realm="<scheme>://<authority><path>"[, error="invalid_token" | "insufficient_scope"]
 *   x-jwt-auth-reason <reason name>
 *   content-type      application/json
 *   body              {"error":"<error>","message":"<message>"}
 *
 * as RFC 6750 §3 and Envoy's jwt_authn filter (filter.cc `onComplete`) shape it. The
 * realm is the request URI as Envoy builds it (`Http::Utility::buildOriginalUri`, the
 * path cut at 256 characters), without the query string, which may carry the very token
 * being refused. gRPC clients get the status mapped by the proxy (401 → UNAUTHENTICATED,
 * 403 → PERMISSION_DENIED) with the body as `grpc-message`.
 */
import { quoteJsonString } from "../../assembly/json";
import { pathLength } from "../../assembly/match";
import { REASON_COUNT, Reason, reasonInfo } from "./reasons";

/** Longest path kept in the realm (Envoy filter.cc MaximumUriLength). */
const MAX_REALM_PATH: i32 = 256;

const bodies = new StaticArray<string | null>(REASON_COUNT);

/** The JSON body of a denial for `reason` (built once per reason). */
export function denialBody(reason: Reason): string {
  let body = unchecked(bodies[<i32>reason]);
  if (body === null) {
    const info = reasonInfo(reason);
    body = "{\"error\":" + quoteJsonString(info.error) + ",\"message\":" + quoteJsonString(info.message) + "}";
    unchecked((bodies[<i32>reason] = body));
  }
  return body;
}

/** Escapes `"` and `\` for an RFC 9110 §5.6.4 quoted-string. */
function quoted(s: string): string {
  if (s.indexOf("\"") < 0 && s.indexOf("\\") < 0) return s;
  let out = "";
  for (let i = 0, n = s.length; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c == 0x22 || c == 0x5c) out += "\\";
    out += String.fromCharCode(c);
  }
  return out;
}

/** The `www-authenticate` value for `reason` on a request to `scheme://authority` + `path`. */
export function challenge(reason: Reason, scheme: string, authority: string, path: string): string {
  let length = pathLength(path);
  if (length > MAX_REALM_PATH) length = MAX_REALM_PATH;
  const realm = quoted((scheme.length > 0 ? scheme : "http") + "://" + authority + path.substring(0, length));
  const info = reasonInfo(reason);
  const value = "Bearer realm=\"" + realm + "\"";
  return info.challengeHasError ? value + ", error=\"" + info.error + "\"" : value;
}

const details = new StaticArray<string | null>(REASON_COUNT);

/** Envoy-style response code details: `jwt_auth_access_denied{<reason>}` (built once per reason). */
export function denialDetails(reason: Reason): string {
  let text = unchecked(details[<i32>reason]);
  if (text === null) {
    text = "jwt_auth_access_denied{" + reasonInfo(reason).name + "}";
    unchecked((details[<i32>reason] = text));
  }
  return text;
}
