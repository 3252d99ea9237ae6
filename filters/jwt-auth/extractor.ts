/**
 * Where credentials are found and how they are taken out again, after Envoy's jwt_authn
 * extractor (source/extensions/filters/http/jwt_authn/extractor.cc): `from_headers`
 * (with `value_prefix`), `from_params`, `from_cookies`; with none of them,
 * `authorization: Bearer <token>` and the `access_token` parameter.
 *
 * A credential is one value at one token source of the rule: every field of a repeated
 * header (over HTTP/1.1 Envoy's codec already joins an inline header such as
 * `authorization` into one value with `,`, which then is no token), every occurrence of
 * a repeated parameter, every cookie of that name in every `cookie` field. A header value
 * that no reading location's `value_prefix` starts is a credential no provider could
 * parse. A request with more than MAX_CREDENTIALS of them is refused before any is
 * checked.
 *
 * Differences from Envoy, all stricter: a `value_prefix` must start the header value
 * (compared ignoring ASCII case, since RFC 9110 §11.1 auth schemes are
 * case-insensitive), where Envoy finds it anywhere; a parameter's value is
 * percent-decoded only (no `+` to space); a credential found in a cookie is removed too
 * (Envoy leaves cookies alone).
 */
import { hexValue } from "../../assembly/json/tape";
import { sameBytes } from "./bytes";
import { Reason } from "./reasons";
import { AuthRequest, HeaderBytes, FieldName } from "./request";

/** Kinds of token locations, in the order a rule's sources are read and removed (cookies last: see `removeCredentials`). */
export enum LocationKind {
  Header = 0,
  Param = 1,
  Cookie = 2,
}

/** A header, parameter or cookie name that some provider reads tokens from (one per kind and name). */
export class TokenSource {
  constructor(readonly kind: LocationKind, readonly name: FieldName) {}
}

/** One configured token location of a provider. */
export class TokenLocation {
  /** `value_prefix` as UTF-8 (empty: the whole value is the token). */
  readonly prefix: Uint8Array;
  /** Index of the provider reading here. */
  provider: i32 = 0;
  /** Shared with every other location of the same kind and name (config.ts). */
  source: TokenSource;

  constructor(
    readonly kind: LocationKind,
    /** Header name, parameter name or cookie name. */
    readonly name: FieldName,
    prefix: string = "",
  ) {
    this.prefix = Uint8Array.wrap(String.UTF8.encode(prefix));
    this.source = new TokenSource(kind, name);
  }
}

/**
 * A token source as one rule reads it: the locations of the rule's providers there,
 * and whether a credential no provider verified is let through there (and removed):
 * every provider reading it sits under `allow_missing_or_failed` in the rule.
 */
export class RuleSource {
  readers: TokenLocation[] = [];
  tolerated: bool = false;

  constructor(readonly source: TokenSource) {}
}

/** One credential of the current request, and what the rule's providers made of it. */
export class Credential {
  /** The value: `bytes[start..end)`. */
  bytes: Uint8Array = new Uint8Array(0);
  start: i32 = 0;
  end: i32 = 0;
  where: RuleSource | null = null;
  /** Its number among the values of its source (0 first). */
  occurrence: i32 = 0;
  /** Some provider of the rule verified it (one that verified a different token too does not count: `jwt_ambiguous`). */
  verified: bool = false;
  /** To be taken out before the request goes on. */
  remove: bool = false;
  /** Some location's prefix matched (else nothing could parse it: `jwt_bad_format`). */
  parsed: bool = false;
  /** A provider waits for keys to check it. */
  pending: bool = false;
  /** A provider could not check it: keys unavailable, `on_jwks_unavailable: "allow"`. */
  unavailable: bool = false;
  /** The most telling refusal a provider gave it (`telling`), and that provider. */
  failure: Reason = Reason.Ok;
  failureProvider: i32 = -1;

  /** Records `reason` from provider `p` if it says more than what was recorded. */
  refuse(reason: Reason, p: i32): void {
    if (this.failure == Reason.Ok || telling(reason) > telling(this.failure)) {
      this.failure = reason;
      this.failureProvider = p;
    }
  }
}

/**
 * How much a refusal says: "missing" least, then the two ways of saying "this token is
 * another provider's" (its issuer, or no key of this provider fits its kid and alg),
 * then any other error. Envoy ranks only the issuer so; with two providers sharing a
 * header and an issuer (user tokens RS256, service tokens HS256), ranking the key miss
 * alike keeps a user token's real refusal (403 claims) from being hidden by the service
 * provider's "no key for RS256".
 */
export function telling(r: Reason): i32 {
  if (r == Reason.JwtMissing) return 0;
  return r == Reason.JwtUnknownIssuer || r == Reason.JwksKidAlgMismatch ? 1 : 2;
}

/** Most credentials looked at per request (a request stuffed with tokens is refused, never partly checked). */
export const MAX_CREDENTIALS: i32 = 4;

/** The credentials of one request, in records reused from request to request. */
export class CredentialList {
  private readonly pool: Credential[] = [];
  /** Credentials found. */
  length: i32 = 0;
  /** More than MAX_CREDENTIALS were there. */
  overflow: bool = false;

  clear(): void {
    this.length = 0;
    this.overflow = false;
  }

  /** Credential `i` (< length). */
  at(i: i32): Credential {
    return unchecked(this.pool[i]);
  }

  /** Adds `bytes[start..end)` found at `where` (false, and nothing added, past MAX_CREDENTIALS). */
  add(bytes: Uint8Array, start: i32, end: i32, where: RuleSource, occurrence: i32): bool {
    if (this.length == MAX_CREDENTIALS) {
      this.overflow = true;
      return false;
    }
    const pool = this.pool;
    const i = this.length++;
    if (i == pool.length) pool.push(new Credential());
    const c = unchecked(pool[i]);
    c.bytes = bytes;
    c.start = start;
    c.end = end;
    c.where = where;
    c.occurrence = occurrence;
    c.verified = false;
    c.remove = false;
    c.parsed = false;
    c.pending = false;
    c.unavailable = false;
    c.failure = Reason.Ok;
    c.failureProvider = -1;
    return true;
  }
}

const COOKIE = new FieldName("cookie");
const PATH = new FieldName(":path");

/**
 * Appends the credentials at `sources` (a rule's, in their order) to `out`; stops, with
 * `out.overflow` set, past MAX_CREDENTIALS. `scratch` receives header values.
 */
export function collectCredentials(sources: RuleSource[], request: AuthRequest, out: CredentialList, scratch: HeaderBytes): void {
  for (let i = 0, n = sources.length; i < n && !out.overflow; i++) {
    const where = unchecked(sources[i]);
    const source = where.source;
    if (source.kind == LocationKind.Header) {
      for (let k = 0; request.headerValue(source.name, k, scratch); k++) {
        if (!out.add(scratch.bytes, scratch.start, scratch.end, where, k)) break;
      }
    } else if (source.kind == LocationKind.Param) {
      collectParams(request.path(), where, out);
    } else {
      let occurrence = 0;
      for (let k = 0; request.headerValue(COOKIE, k, scratch) && !out.overflow; k++) {
        occurrence = collectCookies(scratch, where, occurrence, out);
      }
    }
  }
}

function isSpace(c: u32): bool {
  return c == 0x20 || c == 0x09;
}

/**
 * The token `location` reads from `c` into `out`: a header value after the location's
 * prefix (one that does not start with it holds no token for it: false), trimmed of
 * spaces and tabs; a parameter or cookie value as it is.
 */
export function tokenAt(location: TokenLocation, c: Credential, out: HeaderBytes): bool {
  const value = c.bytes;
  let start = c.start;
  let end = c.end;
  if (location.kind == LocationKind.Header) {
    const prefix = location.prefix;
    const p = prefix.length;
    if (p > 0) {
      if (end - start < p) return false;
      for (let i = 0; i < p; i++) {
        // ASCII case folding: letters only differ in bit 0x20.
        const a = <u32>unchecked(value[start + i]);
        const b = <u32>unchecked(prefix[i]);
        if (a != b && !((a | 0x20) == (b | 0x20) && (b | 0x20) >= 0x61 && (b | 0x20) <= 0x7a)) return false;
      }
      start += p;
    }
    while (start < end && isSpace(unchecked(value[start]))) start++;
    while (end > start && isSpace(unchecked(value[end - 1]))) end--;
  }
  out.bytes = value;
  out.start = start;
  out.end = end;
  return true;
}

/**
 * Walks the `name=value` parts of a path's query string (between `?` and `#`), one
 * `next()` at a time; the current part is `path[from..end)`, its name `path[from..nameEnd)`.
 */
class QueryParts {
  /** Where the query starts (`?`), -1 when there is none. */
  readonly query: i32;
  /** Where it ends (`#` or the path's end). */
  readonly limit: i32;
  from: i32 = 0;
  end: i32 = 0;
  nameEnd: i32 = 0;

  constructor(readonly path: string) {
    const q = path.indexOf("?");
    let limit = q < 0 ? -1 : path.indexOf("#", q);
    if (limit < 0) limit = path.length;
    this.query = q;
    this.limit = limit;
    this.end = q;
  }

  next(): bool {
    if (this.query < 0 || this.end >= this.limit) return false;
    const path = this.path;
    const from = this.end + 1;
    let amp = path.indexOf("&", from);
    if (amp < 0 || amp > this.limit) amp = this.limit;
    const eq = path.indexOf("=", from);
    this.from = from;
    this.end = amp;
    this.nameEnd = eq >= 0 && eq < amp ? eq : amp;
    return true;
  }

  /** Whether the current part's name, percent-decoded, is `name`. */
  named(name: string): bool {
    return this.end > this.from && percentDecode(this.path.substring(this.from, this.nameEnd)) == name;
  }

  /** The current part's value, percent-decoded ("" without `=`). */
  value(): string {
    return this.nameEnd < this.end ? percentDecode(this.path.substring(this.nameEnd + 1, this.end)) : "";
  }
}

/** Every `where` parameter of `path`, in order (an empty one is a credential too: a bad one). */
function collectParams(path: string, where: RuleSource, out: CredentialList): void {
  if (path.indexOf("?") < 0) return; // most paths: no walker to allocate
  const name = where.source.name.name;
  const parts = new QueryParts(path);
  for (let occurrence = 0; parts.next(); ) {
    if (!parts.named(name)) continue;
    const bytes = Uint8Array.wrap(String.UTF8.encode(parts.value()));
    if (!out.add(bytes, 0, bytes.length, where, occurrence++)) return;
  }
}

/**
 * `path` without the `name` parameters whose occurrence (0 first) has its bit in `mask`
 * (the query's other parts are kept as they were).
 */
export function removeQueryParam(path: string, name: string, mask: u32 = u32.MAX_VALUE): string {
  const parts = new QueryParts(path);
  if (parts.query < 0) return path;
  let kept = "";
  for (let occurrence = 0; parts.next(); ) {
    if (parts.end == parts.from) continue;
    if (parts.named(name) && ((mask >> <u32>(occurrence++)) & 1) != 0) continue;
    const part = path.substring(parts.from, parts.end);
    kept = kept.length > 0 ? kept + "&" + part : part;
  }
  const base = path.substring(0, parts.query);
  const fragment = path.substring(parts.limit);
  return (kept.length > 0 ? base + "?" + kept : base) + fragment;
}

/** `%XX` escapes decoded as UTF-8 bytes; a malformed escape is kept as it is. */
export function percentDecode(s: string): string {
  if (s.indexOf("%") < 0) return s;
  const bytes = Uint8Array.wrap(String.UTF8.encode(s));
  const out = new Uint8Array(bytes.length);
  let o = 0;
  for (let i = 0, n = bytes.length; i < n; i++) {
    const c = <i32>unchecked(bytes[i]);
    if (c == 0x25 && i + 2 < n) {
      const hi = hexValue(<u32>unchecked(bytes[i + 1]));
      const lo = hexValue(<u32>unchecked(bytes[i + 2]));
      if (hi >= 0 && lo >= 0) {
        unchecked((out[o++] = <u8>((hi << 4) | lo)));
        i += 2;
        continue;
      }
    }
    unchecked((out[o++] = <u8>c));
  }
  return String.UTF8.decodeUnsafe(out.dataStart, <usize>o);
}

/**
 * Walks the `name=value` pairs of one `cookie` field (RFC 6265 §5.4: separated by `;`,
 * whitespace around names and values ignored): the current pair is `[from..end)`, its
 * name `[from..nameEnd)` and value `[valueStart..valueEnd)` (quotes removed), -1 name
 * end when it has no `=`.
 */
class CookiePairs {
  from: i32 = 0;
  end: i32 = 0;
  nameEnd: i32 = -1;
  valueStart: i32 = 0;
  valueEnd: i32 = 0;
  private at: i32;

  constructor(readonly bytes: Uint8Array, start: i32, readonly limit: i32) {
    this.at = start;
  }

  next(): bool {
    const b = this.bytes;
    let i = this.at;
    while (i < this.limit && (isSpace(unchecked(b[i])) || unchecked(b[i]) == 0x3b)) i++;
    if (i >= this.limit) return false;
    this.from = i;
    let semi = i;
    while (semi < this.limit && unchecked(b[semi]) != 0x3b) semi++;
    this.at = semi;
    let end = semi;
    while (end > i && isSpace(unchecked(b[end - 1]))) end--;
    this.end = end;
    let eq = i;
    while (eq < end && unchecked(b[eq]) != 0x3d) eq++;
    if (eq == end) {
      this.nameEnd = -1;
      return true;
    }
    let nameEnd = eq;
    while (nameEnd > i && isSpace(unchecked(b[nameEnd - 1]))) nameEnd--;
    this.nameEnd = nameEnd;
    let v = eq + 1;
    while (v < end && isSpace(unchecked(b[v]))) v++;
    let ve = end;
    if (ve - v >= 2 && unchecked(b[v]) == 0x22 && unchecked(b[ve - 1]) == 0x22) {
      v++;
      ve--;
    }
    this.valueStart = v;
    this.valueEnd = ve;
    return true;
  }

  named(name: FieldName): bool {
    const len = name.header.byteLength;
    return this.nameEnd - this.from == len && sameBytes(this.bytes.dataStart + <usize>this.from, changetype<usize>(name.header), len);
  }
}

/** Adds the `where` cookies of one `cookie` field, numbered from `occurrence`; returns the next number. */
function collectCookies(field: HeaderBytes, where: RuleSource, occurrence: i32, out: CredentialList): i32 {
  const pairs = new CookiePairs(field.bytes, field.start, field.end);
  while (pairs.next()) {
    if (!pairs.named(where.source.name)) continue;
    if (!out.add(field.bytes, pairs.valueStart, pairs.valueEnd, where, occurrence++)) break;
  }
  return occurrence;
}

/**
 * Takes the credentials of `where` whose occurrence has its bit in `mask` out of the
 * request (`all`: every one there is). A header loses every field, and gets back the
 * values `kept` (the others, copied before: they point into the request). The
 * `cookie` fields become one, without the removed cookies (re-read here: call this for
 * cookies after the other sources, whose values would go stale).
 */
export function removeCredentials(request: AuthRequest, where: RuleSource, mask: u32, all: bool, kept: ArrayBuffer[]): void {
  const source = where.source;
  if (source.kind == LocationKind.Header) {
    request.removeHeader(source.name);
    for (let i = 0, n = kept.length; i < n; i++) request.addHeaderBytes(source.name, unchecked(kept[i]));
  } else if (source.kind == LocationKind.Param) {
    request.replaceHeader(PATH, removeQueryParam(request.path(), source.name.name, all ? u32.MAX_VALUE : mask));
  } else {
    const rest = removeCookies(request, source.name, all ? u32.MAX_VALUE : mask);
    if (rest.length == 0) request.removeHeader(COOKIE);
    else request.replaceHeader(COOKIE, rest);
  }
}

/** Every cookie of every `cookie` field joined with "; ", without the `name` cookies whose occurrence is in `mask`. */
function removeCookies(request: AuthRequest, name: FieldName, mask: u32): string {
  const field = new HeaderBytes();
  let kept = "";
  let occurrence = 0;
  for (let k = 0; request.headerValue(COOKIE, k, field); k++) {
    const pairs = new CookiePairs(field.bytes, field.start, field.end);
    while (pairs.next()) {
      if (pairs.named(name) && ((mask >> <u32>(occurrence++)) & 1) != 0) continue;
      const part = String.UTF8.decodeUnsafe(field.bytes.dataStart + <usize>pairs.from, <usize>(pairs.end - pairs.from));
      kept = kept.length > 0 ? kept + "; " + part : part;
    }
  }
  return kept;
}
