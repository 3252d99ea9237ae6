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

const REALM_START = "Bearer realm=\"";
const DEFAULT_SCHEME = "http";
const SCHEME_END = "://";
/** Closes the realm and opens the error, for the reasons that have one. */
const ERROR_START = "\", error=\"";
const QUOTE = "\"";

/** Length of `s[0, end)` in an RFC 9110 §5.6.4 quoted-string: `"` and `\` take a `\` more. */
function quotedLength(s: string, end: i32): i32 {
  let n = end;
  for (let i = 0; i < end; i++) {
    const c = s.charCodeAt(i);
    if (c == 0x22 || c == 0x5c) n++;
  }
  return n;
}

/** Writes `s[0, end)` at `out` (UTF-16) escaped as `quotedLength` counts it; returns the end. */
function writeQuoted(out: usize, s: string, end: i32): usize {
  for (let i = 0; i < end; i++) {
    const c = <u16>s.charCodeAt(i);
    if (c == 0x22 || c == 0x5c) {
      store<u16>(out, 0x5c);
      out += 2;
    }
    store<u16>(out, c);
    out += 2;
  }
  return out;
}

/** Writes `s` at `out` (UTF-16); returns the end. */
function writeText(out: usize, s: string): usize {
  const size = <usize>s.length << 1;
  memory.copy(out, changetype<usize>(s), size);
  return out + size;
}

/**
 * The `www-authenticate` value for `reason` on a request to `scheme://authority` + `path`,
 * written into one new string (a denial allocates nothing else for it).
 */
export function challenge(reason: Reason, scheme: string, authority: string, path: string): string {
  let pathEnd = pathLength(path);
  if (pathEnd > MAX_REALM_PATH) pathEnd = MAX_REALM_PATH;
  if (scheme.length == 0) scheme = DEFAULT_SCHEME;
  const info = reasonInfo(reason);
  const hasError = info.challengeHasError;
  let length = REALM_START.length + quotedLength(scheme, scheme.length) + SCHEME_END.length +
    quotedLength(authority, authority.length) + quotedLength(path, pathEnd) + QUOTE.length;
  if (hasError) length += ERROR_START.length + info.error.length;
  const value = __new(<usize>length << 1, idof<string>());
  let out = writeText(value, REALM_START);
  out = writeQuoted(out, scheme, scheme.length);
  out = writeText(out, SCHEME_END);
  out = writeQuoted(out, authority, authority.length);
  out = writeQuoted(out, path, pathEnd);
  if (hasError) {
    out = writeText(out, ERROR_START);
    out = writeText(out, info.error);
  }
  writeText(out, QUOTE);
  return changetype<string>(value);
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
