/**
 * Where a provider's tokens are found and how `forward: false` takes them out again,
 * after Envoy's jwt_authn extractor (source/extensions/filters/http/jwt_authn/
 * extractor.cc): `from_headers` (with `value_prefix`), `from_params`, `from_cookies`;
 * with none of them, `authorization: Bearer <token>` and the `access_token` parameter.
 *
 * Differences from Envoy, all stricter: a `value_prefix` must start the header value
 * (compared ignoring ASCII case, since RFC 9110 §11.1 auth schemes are
 * case-insensitive), where Envoy finds it anywhere; a parameter's value is
 * percent-decoded only (no `+` to space); `forward: false` also removes a token found
 * in a cookie (Envoy leaves cookies alone).
 */
import { hexValue } from "../../assembly/json/tape";
import { AuthRequest, HeaderBytes, HeaderName } from "./request";

/** Kinds of token locations. */
export enum LocationKind {
  Header = 0,
  Param = 1,
  Cookie = 2,
}

/** One configured token location. */
export class TokenLocation {
  /** `value_prefix` as UTF-8 (empty: the whole value is the token). */
  readonly prefix: Uint8Array;

  constructor(
    readonly kind: LocationKind,
    /** Header name, parameter name or cookie name. */
    readonly name: HeaderName,
    prefix: string = "",
  ) {
    this.prefix = Uint8Array.wrap(String.UTF8.encode(prefix));
  }
}

/** A token found in a request: `bytes[start..end)`, and where it was. */
export class FoundToken {
  constructor(
    public bytes: Uint8Array,
    public start: i32,
    public end: i32,
    public location: TokenLocation,
  ) {}
}

/** The tokens found in one request, in records reused from request to request. */
export class TokenList {
  private readonly pool: FoundToken[] = [];
  /** Tokens found. */
  length: i32 = 0;

  clear(): void {
    this.length = 0;
  }

  /** Token `i` (< length). */
  at(i: i32): FoundToken {
    return unchecked(this.pool[i]);
  }

  add(bytes: Uint8Array, start: i32, end: i32, location: TokenLocation): void {
    const pool = this.pool;
    const i = this.length++;
    if (i < pool.length) {
      const t = unchecked(pool[i]);
      t.bytes = bytes;
      t.start = start;
      t.end = end;
      t.location = location;
    } else pool.push(new FoundToken(bytes, start, end, location));
  }
}

const COOKIE = new HeaderName("cookie");

/** Most tokens looked at per provider per request (a request stuffed with tokens costs no more). */
export const MAX_TOKENS: i32 = 4;

/**
 * Appends the tokens of `locations` present in `request` to `out` (at most MAX_TOKENS).
 * A header whose value does not start with the location's prefix holds no token for it.
 */
export function extractTokens(locations: TokenLocation[], request: AuthRequest, out: TokenList): void {
  for (let i = 0, n = locations.length; i < n && out.length < MAX_TOKENS; i++) {
    const location = unchecked(locations[i]);
    if (location.kind == LocationKind.Header) {
      const value = request.headerBytes(location.name);
      if (value !== null) extractFromHeader(location, value, out);
    } else if (location.kind == LocationKind.Param) {
      const value = queryParam(request.path(), location.name.name);
      if (value !== null) addString(out, value, location);
    } else {
      const header = request.header("cookie");
      const value: string | null = header !== null ? cookieValue(header, location.name.name) : null;
      if (value !== null) addString(out, value, location);
    }
  }
}

function addString(out: TokenList, value: string, location: TokenLocation): void {
  const bytes = Uint8Array.wrap(String.UTF8.encode(value));
  out.add(bytes, 0, bytes.length, location);
}

function isSpace(c: u32): bool {
  return c == 0x20 || c == 0x09;
}

function extractFromHeader(location: TokenLocation, header: HeaderBytes, out: TokenList): void {
  const value = header.bytes;
  const prefix = location.prefix;
  const p = prefix.length;
  let start = 0;
  let end = header.length;
  if (p > 0) {
    if (end < p) return;
    for (let i = 0; i < p; i++) {
      // ASCII case folding: letters only differ in bit 0x20.
      const a = <u32>unchecked(value[i]);
      const b = <u32>unchecked(prefix[i]);
      if (a != b && !((a | 0x20) == (b | 0x20) && (b | 0x20) >= 0x61 && (b | 0x20) <= 0x7a)) return;
    }
    start = p;
  }
  while (start < end && isSpace(unchecked(value[start]))) start++;
  while (end > start && isSpace(unchecked(value[end - 1]))) end--;
  out.add(value, start, end, location);
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

  /** The current part's name, percent-decoded. */
  name(): string {
    return percentDecode(this.path.substring(this.from, this.nameEnd));
  }
}

/** The percent-decoded value of the first `name` parameter in `path`'s query string, or null. */
export function queryParam(path: string, name: string): string | null {
  if (path.indexOf("?") < 0) return null; // most paths: no walker to allocate
  const parts = new QueryParts(path);
  while (parts.next()) {
    if (parts.name() == name) return parts.nameEnd < parts.end ? percentDecode(path.substring(parts.nameEnd + 1, parts.end)) : "";
  }
  return null;
}

/** `path` without any `name` parameter (the query's other parts are kept as they were). */
export function removeQueryParam(path: string, name: string): string {
  const parts = new QueryParts(path);
  if (parts.query < 0) return path;
  let kept = "";
  while (parts.next()) {
    if (parts.end == parts.from || parts.name() == name) continue;
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

/** The value of cookie `name` in a `cookie` header (RFC 6265 §5.4), quotes removed, or null. */
export function cookieValue(header: string, name: string): string | null {
  const parts = header.split(";");
  for (let i = 0, n = parts.length; i < n; i++) {
    const part = unchecked(parts[i]).trim();
    const eq = part.indexOf("=");
    if (eq <= 0 || part.substring(0, eq).trim() != name) continue;
    let v = part.substring(eq + 1).trim();
    if (v.length >= 2 && v.charCodeAt(0) == 0x22 && v.charCodeAt(v.length - 1) == 0x22) v = v.substring(1, v.length - 1);
    return v;
  }
  return null;
}

/** The `cookie` header without cookie `name` ("" when nothing is left). */
export function removeCookie(header: string, name: string): string {
  const parts = header.split(";");
  let kept = "";
  for (let i = 0, n = parts.length; i < n; i++) {
    const part = unchecked(parts[i]).trim();
    if (part.length == 0) continue;
    const eq = part.indexOf("=");
    if (eq > 0 && part.substring(0, eq).trim() == name) continue;
    kept = kept.length > 0 ? kept + "; " + part : part;
  }
  return kept;
}

/** Takes `token` out of the request where it was found (`forward: false`). */
export function removeToken(request: AuthRequest, token: FoundToken): void {
  const location = token.location;
  if (location.kind == LocationKind.Header) {
    request.removeHeader(location.name);
  } else if (location.kind == LocationKind.Param) {
    request.replaceHeader(PATH, removeQueryParam(request.path(), location.name.name));
  } else {
    const header = request.header("cookie");
    if (header === null) return;
    const rest = removeCookie(header, location.name.name);
    if (rest.length == 0) request.removeHeader(COOKIE);
    else request.replaceHeader(COOKIE, rest);
  }
}

const PATH = new HeaderName(":path");
