/**
 * The `match` object of filters.md ("Common rules"), which every filter uses to select
 * requests:
 *
 *   { "prefix": "/api", "path": "/exact", "suffix": ".json",
 *     "methods": ["GET", "HEAD"],
 *     "headers": [{ "name": "x-user-tier", "exact": "premium" },
 *                 { "name": "authorization", "absent": true }] }
 *
 * All present conditions must hold; an empty or missing `match` matches every request.
 * Path conditions apply to `:path` without its query string and fragment, as Envoy's
 * route matching does (Http::PathUtil::removeQueryAndFragment,
 * source/common/http/path_utility.cc); comparisons are case-sensitive (Envoy's default).
 *
 * Parsed once at configure time into an immutable `RequestMatch`; `matches()` allocates
 * nothing and asks the request only for what a condition needs (cheapest first: method,
 * path, then headers).
 */
import { ConfigObject, indexPath } from "../config";
import { asciiLowerCase } from "../proxy-wasm";
import { RequestHeaders, isSet } from "./request";

/** The fields of a `match` object. */
export const MATCH_FIELDS: string[] = ["prefix", "path", "suffix", "methods", "headers"];
// @ts-ignore: decorator
@lazy const HEADER_FIELDS: string[] = ["name", "exact", "prefix", "present", "absent"];
// @ts-ignore: decorator
@lazy const HEADER_CONDITIONS: string[] = ["exact", "prefix", "present", "absent"];

/** How a header condition compares (filters.md: one of exact | prefix | present | absent). */
export enum HeaderMatchKind {
  Exact = 0,
  Prefix = 1,
  Present = 2,
  Absent = 3,
}

/** One entry of `headers`. */
export class HeaderMatch {
  constructor(
    /** Lower-case header name. */
    readonly name: string,
    readonly kind: HeaderMatchKind,
    /** The value or prefix compared against ("" for Present/Absent). */
    readonly value: string,
  ) {}

  matches(request: RequestHeaders): bool {
    const actual = request.header(this.name);
    if (!isSet(actual)) return this.kind == HeaderMatchKind.Absent;
    const value = changetype<string>(actual);
    switch (this.kind) {
      case HeaderMatchKind.Absent:
        return false;
      case HeaderMatchKind.Present:
        return true;
      case HeaderMatchKind.Exact:
        return value == this.value;
      default:
        return startsWithAt(value, this.value, value.length);
    }
  }
}

/** An immutable request matcher. */
export class RequestMatch {
  constructor(
    readonly prefix: string | null,
    /** The `path` condition: the whole path must equal it. */
    readonly exactPath: string | null,
    readonly suffix: string | null,
    /** Accepted `:method` values (empty: any). */
    readonly methods: StaticArray<string>,
    readonly headers: StaticArray<HeaderMatch>,
  ) {}

  /** The matcher of an empty or missing `match`. */
  static all(): RequestMatch {
    return MATCH_ALL;
  }

  /** True when there is no condition at all. */
  get matchesAll(): bool {
    return !isSet(this.prefix) && !isSet(this.exactPath) && !isSet(this.suffix) &&
      this.methods.length == 0 && this.headers.length == 0;
  }

  /** Whether every condition holds for `request`. */
  matches(request: RequestHeaders): bool {
    const methods = this.methods;
    if (methods.length > 0) {
      const method = request.method();
      let found = false;
      for (let i = 0, n = methods.length; i < n; i++) {
        if (unchecked(methods[i]) == method) {
          found = true;
          break;
        }
      }
      if (!found) return false;
    }
    const prefix = this.prefix;
    const exactPath = this.exactPath;
    const suffix = this.suffix;
    if (isSet(prefix) || isSet(exactPath) || isSet(suffix)) {
      const path = request.path();
      const length = pathLength(path);
      const exact = changetype<string>(exactPath);
      if (isSet(exact) && (length != exact.length || !startsWithAt(path, exact, length))) return false;
      if (isSet(prefix) && !startsWithAt(path, changetype<string>(prefix), length)) return false;
      if (isSet(suffix) && !endsWithAt(path, changetype<string>(suffix), length)) return false;
    }
    const headers = this.headers;
    for (let i = 0, n = headers.length; i < n; i++) {
      if (!unchecked(headers[i]).matches(request)) return false;
    }
    return true;
  }
}

// @ts-ignore: decorator
@lazy const MATCH_ALL = new RequestMatch(null, null, null, new StaticArray<string>(0), new StaticArray<HeaderMatch>(0));

/** Length of `path` without its query string and fragment (the first '?' or '#' ends it). */
export function pathLength(path: string): i32 {
  const p = changetype<usize>(path);
  for (let i = 0, n = path.length; i < n; i++) {
    const c = load<u16>(p + (<usize>i << 1));
    if (c == 0x3f || c == 0x23) return i;
  }
  return path.length;
}

/** Whether the first `length` code units of `s` start with `prefix`, without a substring. */
// @ts-ignore: decorator
@inline function startsWithAt(s: string, prefix: string, length: i32): bool {
  const n = prefix.length;
  return n <= length && memory.compare(changetype<usize>(s), changetype<usize>(prefix), <usize>n << 1) == 0;
}

/** Whether the first `length` code units of `s` end with `suffix`, without a substring. */
// @ts-ignore: decorator
@inline function endsWithAt(s: string, suffix: string, length: i32): bool {
  const n = suffix.length;
  return n <= length &&
    memory.compare(changetype<usize>(s) + (<usize>(length - n) << 1), changetype<usize>(suffix), <usize>n << 1) == 0;
}

// RFC 9110 §5.6.2 `tchar` as a bitmap of the 128 ASCII code points (bit c of the pair):
// DIGIT, ALPHA and !#$%&'*+-.^_`|~.
const TCHAR_LOW: u64 = 0x03ff6cfa00000000;
const TCHAR_HIGH: u64 = 0x57ffffffc7fffffe;

/** Whether the code units of `s` from `start` on are all RFC 9110 `tchar`. */
function tcharsFrom(s: string, start: i32): bool {
  for (let i = start, n = s.length; i < n; i++) {
    const c = <u32>s.charCodeAt(i);
    if (c >= 128 || ((c < 64 ? TCHAR_LOW >> c : TCHAR_HIGH >> (c - 64)) & 1) == 0) return false;
  }
  return true;
}

/**
 * Whether `s` is an RFC 9110 §5.6.2 `token` (one or more `tchar`): a header field name
 * (§5.1) or a method (§9.1). Pseudo-header names (`:authority`) are not tokens.
 */
export function isToken(s: string): bool {
  return s.length > 0 && tcharsFrom(s, 0);
}

/** A `token`, or `:` and a token: a header name as Envoy's header map holds it (pseudo-headers included). */
function isHeaderMapName(s: string): bool {
  return s.length > 1 && s.charCodeAt(0) == 0x3a ? tcharsFrom(s, 1) : isToken(s);
}

/**
 * Reads member `field` (default "match") of `parent` as a `match` object; absent or
 * `{}` gives `RequestMatch.all()`. Errors go to the reader with their path, e.g.
 * `rules[1].match.headers[0]: expected exactly one of "exact", "prefix", "present", "absent"`.
 */
export function readMatch(parent: ConfigObject, field: string = "match"): RequestMatch {
  const obj = parent.optionalObject(field, MATCH_FIELDS);
  return obj === null ? RequestMatch.all() : readMatchObject(obj);
}

/** Reads a `match` object already opened with `MATCH_FIELDS`. */
export function readMatchObject(obj: ConfigObject): RequestMatch {
  const prefix = obj.has("prefix") ? obj.requiredString("prefix", false) : null;
  const exactPath = obj.has("path") ? obj.requiredString("path", false) : null;
  const suffix = obj.has("suffix") ? obj.requiredString("suffix", false) : null;

  const methodList = obj.stringList("methods");
  for (let i = 0; i < methodList.length; i++) {
    if (!isToken(unchecked(methodList[i]))) {
      obj.reader.fail(indexPath(obj.pathOf("methods"), i), "expected an HTTP method");
    }
  }

  const entries = obj.optionalArray("headers");
  const headers = new StaticArray<HeaderMatch>(entries.length);
  for (let i = 0; i < entries.length; i++) {
    const entry = entries.objectAt(i, HEADER_FIELDS);
    const name = entry.requiredString("name");
    if (name.length > 0 && !isHeaderMapName(name)) entry.fail("name", "expected a header name");
    const which = entry.exactlyOneOf(HEADER_CONDITIONS);
    let kind = HeaderMatchKind.Present;
    let value = "";
    if (which == 0) {
      kind = HeaderMatchKind.Exact;
      value = entry.requiredString("exact", false);
    } else if (which == 1) {
      kind = HeaderMatchKind.Prefix;
      value = entry.requiredString("prefix");
    } else if (which == 2) {
      kind = HeaderMatchKind.Present;
      if (!entry.requiredBool("present")) entry.fail("present", "expected true (use \"absent\": true to match a missing header)");
    } else if (which == 3) {
      kind = HeaderMatchKind.Absent;
      if (!entry.requiredBool("absent")) entry.fail("absent", "expected true (use \"present\": true to match any value)");
    }
    unchecked((headers[i] = new HeaderMatch(asciiLowerCase(name), kind, value)));
  }

  const methods = new StaticArray<string>(methodList.length);
  for (let i = 0; i < methodList.length; i++) unchecked((methods[i] = unchecked(methodList[i])));
  if (!isSet(prefix) && !isSet(exactPath) && !isSet(suffix) && methods.length == 0 && headers.length == 0) {
    return RequestMatch.all();
  }
  return new RequestMatch(prefix, exactPath, suffix, methods, headers);
}
