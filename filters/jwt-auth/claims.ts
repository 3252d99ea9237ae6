/**
 * Claim checks and claim reading, for verified tokens (fresh or cached: a cached token
 * goes through all of these again on every request).
 *
 * - Time (RFC 7519 §4.1.4-4.1.6), with `clock_skew_seconds` of leeway: a token is
 *   expired when now ≥ exp + skew, not yet valid when now + skew < nbf, as `jose` and
 *   the RFC's "MUST be before" read; `max_lifetime_seconds` bounds exp − iat.
 * - Audience (RFC 7519 §4.1.3): `aud`, a string or an array, shares an entry with the
 *   provider's `audiences`.
 * - `subjects`: a prefix or an exact `sub`.
 * - Claim paths (`realm_access.roles`): the literal member name first (claim names such
 *   as "https://example.com/roles" hold dots), then the dot path.
 * - `claims` requirements (filters.md): a claim that is a string is read as the values
 *   it holds separated by spaces (OAuth `scope`, RFC 8693 §4.2) and as itself; an array
 *   holds its string items; `all_of` needs every value, `any_of` one.
 * - `claim_to_headers` values: strings as they are, numbers and booleans as JSON, arrays
 *   comma-joined (string items raw, others as JSON), objects as JSON.
 */
import { JsonKind, JsonValue, JsonWriter } from "../../assembly/json";
import { Jwt } from "./jwt";
import { Reason } from "./reasons";

/** Time checks of a token at `now` (seconds since the epoch). */
export function checkTimes(jwt: Jwt, now: f64, skew: f64, requireExpiration: bool, maxLifetime: f64): Reason {
  if (requireExpiration && !jwt.hasExp) return Reason.JwtExpRequired;
  if (jwt.hasNbf && now + skew < jwt.nbf) return Reason.JwtNotYetValid;
  if (jwt.hasExp && now >= jwt.exp + skew) return Reason.JwtExpired;
  if (maxLifetime > 0) {
    if (!jwt.hasExp) return Reason.JwtExpRequired;
    if (!jwt.hasIat) return Reason.JwtIatRequired;
    if (jwt.exp - jwt.iat > maxLifetime) return Reason.JwtLifetimeTooLong;
  }
  return Reason.Ok;
}

/** Whether `aud` (string, array of strings, or null) shares an entry with `audiences` (non-empty). */
export function audienceAllowed(aud: JsonValue | null, audiences: string[]): bool {
  if (aud === null) return false;
  for (let i = 0, n = audiences.length; i < n; i++) {
    const want = unchecked(audiences[i]);
    if (aud.isString()) {
      if (aud.equalsString(want)) return true;
    } else {
      for (let j = 0, m = aud.length; j < m; j++) if (aud.at(j)!.equalsString(want)) return true;
    }
  }
  return false;
}

/** The `subjects` restriction of a provider: `sub` has a prefix, or equals a value. */
export class SubjectMatcher {
  constructor(readonly value: string, readonly isPrefix: bool) {}

  matches(sub: JsonValue | null): bool {
    if (sub === null) return false;
    if (!this.isPrefix) return sub.equalsString(this.value);
    return sub.asString().startsWith(this.value);
  }
}

/** A claim name, read as a literal member name first and then as a dot path. */
export class ClaimPath {
  /** The dot-separated parts, or null when the name has no dot. */
  readonly segments: string[] | null;

  constructor(readonly name: string) {
    this.segments = name.includes(".") ? name.split(".") : null;
  }

  /** The claim's value in `payload`, or null when absent (a JSON null counts as absent). */
  lookup(payload: JsonValue): JsonValue | null {
    let v = payload.get(this.name);
    if (v === null) {
      const segments = this.segments;
      if (segments === null) return null;
      v = payload;
      for (let i = 0, n = segments.length; i < n && v !== null; i++) v = v.get(unchecked(segments[i]));
    }
    return v === null || v.isNull() ? null : v;
  }
}

/** One `claims` entry of a requirement: `{ "name", "all_of": [...] }` or `{ "name", "any_of": [...] }`. */
export class ClaimRequirement {
  constructor(
    readonly path: ClaimPath,
    readonly values: string[],
    /** true: `all_of`; false: `any_of`. */
    readonly allOf: bool,
    /** Number in the configuration (`JwtAuthConfig.claimRequirementCount`), for per-token memos. */
    readonly index: i32 = -1,
  ) {}

  /** Whether `payload` satisfies the requirement. */
  satisfiedBy(payload: JsonValue): bool {
    const claim = this.path.lookup(payload);
    if (claim === null) return false;
    const values = this.values;
    const text = claim.isString() ? claim.asString() : null;
    if (text === null && !claim.isArray()) return false;
    for (let i = 0, n = values.length; i < n; i++) {
      const has = text !== null ? spaceListHas(text, unchecked(values[i])) : arrayHas(claim, unchecked(values[i]));
      if (has != this.allOf) return has;
    }
    return this.allOf;
  }
}

/** Whether `text` is `value` or holds it as one of its space-separated items. */
export function spaceListHas(text: string, value: string): bool {
  const n = value.length;
  if (n == 0) return text.length == 0;
  let at = text.indexOf(value, 0);
  while (at >= 0) {
    const end = at + n;
    if ((at == 0 || text.charCodeAt(at - 1) == 0x20) && (end == text.length || text.charCodeAt(end) == 0x20)) return true;
    at = text.indexOf(value, at + 1);
  }
  return false;
}

function arrayHas(array: JsonValue, value: string): bool {
  for (let i = 0, n = array.length; i < n; i++) if (array.at(i)!.equalsString(value)) return true;
  return false;
}

// One writer for every rendering: claim headers are written one at a time.
let writer: JsonWriter | null = null;
function sharedWriter(): JsonWriter {
  let w = writer;
  if (w === null) writer = w = new JsonWriter(256);
  return w.reset();
}

// The header value being built, as UTF-8 (raw memory, grown as needed, reused).
let valuePtr: usize = 0;
let valueCapacity: usize = 0;
let valueLength: usize = 0;

function room(extra: usize): usize {
  const need = valueLength + extra;
  if (need > valueCapacity) {
    let capacity = valueCapacity < 256 ? <usize>256 : valueCapacity;
    while (capacity < need) capacity <<= 1;
    const grown = heap.alloc(capacity);
    if (valuePtr != 0) {
      memory.copy(grown, valuePtr, valueLength);
      heap.free(valuePtr);
    }
    valuePtr = grown;
    valueCapacity = capacity;
  }
  return valuePtr + valueLength;
}

function appendString(s: string): void {
  const n = <usize>String.UTF8.byteLength(s);
  valueLength += String.UTF8.encodeUnsafe(changetype<usize>(s), s.length, room(n));
}

/** Appends `v` rendered as JSON. */
function appendJson(v: JsonValue): void {
  const w = sharedWriter().value(v);
  const n = <usize>w.byteLength;
  memory.copy(room(n), w.dataStart, n);
  valueLength += n;
}

/**
 * The header value for claim `v` (see the module doc) as UTF-8, or null when it cannot
 * be one: JSON null, or text holding control characters other than tab (RFC 9110 §5.5),
 * which no proxy may forward; then the header is not written at all. Built in one
 * reused buffer: one allocation, the result.
 */
export function claimHeaderBytes(v: JsonValue): ArrayBuffer | null {
  const kind = v.kind;
  if (kind == JsonKind.Null) return null;
  valueLength = 0;
  if (kind == JsonKind.String) appendString(v.asString());
  else if (kind == JsonKind.Array) {
    for (let i = 0, n = v.length; i < n; i++) {
      const item = v.at(i)!;
      if (i > 0) {
        store<u8>(room(1), 0x2c);
        valueLength++;
      }
      if (item.isString()) appendString(item.asString());
      else appendJson(item);
    }
  } else appendJson(v);
  // UTF-8 continuation and lead bytes are >= 0x80: a byte below 0x20 or 0x7f is the control character itself.
  for (let p = valuePtr, end = valuePtr + valueLength; p < end; p++) {
    const c = load<u8>(p);
    if ((c < 0x20 && c != 0x09) || c == 0x7f) return null;
  }
  const out = new ArrayBuffer(<i32>valueLength);
  memory.copy(changetype<usize>(out), valuePtr, valueLength);
  return out;
}

/** `claimHeaderBytes` as a string. */
export function claimHeaderValue(v: JsonValue): string | null {
  const bytes = claimHeaderBytes(v);
  return bytes === null ? null : String.UTF8.decode(bytes);
}
