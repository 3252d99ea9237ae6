/**
 * The rate-limit configuration of filters.md ("rate-limit"), parsed once in
 * `proxy_on_configure` into immutable objects the request path only reads:
 *
 *   { "stat_prefix": "rate_limit",
 *     "rules": [{ "name": "premium", "match": {...}, "key": [{ "header": "x-user-id" }],
 *                 "limits": [{ "max_tokens": 100, "tokens_per_fill": 100, "fill_interval": "60s" }] }],
 *     "enforce": true, "response_headers": true, "status": 429,
 *     "xff_num_trusted_hops": 0, "max_keys": 100000 }
 *
 * Choices where filters.md leaves room (an Envoy user's expectations):
 * - `tokens_per_fill` defaults to 1 and `response_headers` to false, as in Envoy's
 *   `local_ratelimit` (`token_bucket`, `enable_x_ratelimit_headers`); `stat_prefix`
 *   defaults to "rate_limit", `max_keys` to 100000, `enforce` to true, `status` to 429.
 * - `name` is required and unique: it names the rule's metrics, so it is restricted to
 *   Prometheus-safe `[A-Za-z0-9_]`, as is `stat_prefix`.
 * - `key` may be absent or empty: the rule then has one bucket for every request it
 *   matches (Envoy's filter-wide token bucket).
 * - `{ "claim": "x-user-id" }` names the request header jwt-auth's `claim_to_headers`
 *   writes the claim to. It reads like `header`; it says that the value is trustworthy
 *   only behind jwt-auth, which removes client copies of that header first.
 * - `{ "path": {} }` keys on `:path` without query string and fragment (as `match` does),
 *   so that `?x=1` cannot open a fresh bucket.
 *
 * - `global` (per rule) adds a limit across every replica, decided by a rate limit
 *   service (`envoy.service.ratelimit.v3.RateLimitService`, e.g. envoyproxy/ratelimit) after
 *   the local buckets allowed the request (plugin.ts); its fields are named after Envoy's
 *   `ratelimit` filter: `cluster` (the service's cluster, HTTP/2; required, non-empty),
 *   `domain` (required, non-empty), `timeout` (default 20 ms, as Envoy's),
 *   `failure_mode_deny` (default false: a call without a decision lets the request through). The rule's key parts are the
 *   descriptor's entries, so a rule with `global` needs at least one; each entry's key is
 *   fixed by its part: `header` and `claim` the header name, `remote_address`
 *   "remote_address", `path` "path", `generic` "generic_key" (Envoy's action names).
 *
 * Bounds: at most 256 rules, 8 key parts and 8 limits per rule; `max_tokens` and
 * `tokens_per_fill` 1..4294967295 (Envoy's uint32); `fill_interval` 1 ms..366 days;
 * `max_keys` 1..1000000; `xff_num_trusted_hops` 0..64; `status` 400..599; `global.timeout`
 * 1 ms..60 s.
 */
import { ConfigObject, ConfigReader, ConfigResult, Duration } from "../../assembly/config";
import { RequestMatch, isToken, readMatch } from "../../assembly/match";
import { asciiLowerCase, formatInteger } from "../../assembly/proxy-wasm";

export const FILTER_NAME = "rate-limit";

const ROOT_FIELDS: string[] = ["stat_prefix", "rules", "enforce", "response_headers", "status", "xff_num_trusted_hops", "max_keys"];
const RULE_FIELDS: string[] = ["name", "match", "key", "limits", "global"];
const GLOBAL_FIELDS: string[] = ["cluster", "domain", "timeout", "failure_mode_deny"];
const LIMIT_FIELDS: string[] = ["max_tokens", "tokens_per_fill", "fill_interval"];
const KEY_FIELDS: string[] = ["header", "remote_address", "path", "claim", "generic"];
const NO_FIELDS: string[] = [];

export const MAX_RULES: i32 = 256;
export const MAX_LIMITS_PER_RULE: i32 = 8;
export const MAX_KEY_PARTS: i32 = 8;
export const MAX_KEYS_LIMIT: i64 = 1000000;
const NANOS_PER_SECOND: i64 = 1000000000;
const MIN_FILL_INTERVAL_NS: i64 = 1000000; // 1 ms
const MAX_FILL_INTERVAL_NS: i64 = 366 * 86400 * NANOS_PER_SECOND;
const NANOS_PER_MILLISECOND: i64 = 1000000;
/** Envoy's `ratelimit` filter's default `timeout`. */
export const DEFAULT_GLOBAL_TIMEOUT_MS: i64 = 20;
const MAX_GLOBAL_TIMEOUT_MS: i64 = 60000;
/** Bucket contents stay below 2^62 fixed-point units, so that refill sums cannot overflow i64. */
const MAX_UNITS: i64 = 1 << 62;

/** What a key part reads from the request. */
export enum KeyPartKind {
  Header = 0,
  RemoteAddress = 1,
  Path = 2,
  Claim = 3,
  Generic = 4,
}

/** One entry of a rule's `key`. */
export class KeyPart {
  constructor(
    readonly kind: KeyPartKind,
    /** Lower-case header name (Header, Claim), or the constant (Generic); "" otherwise. */
    readonly text: string,
  ) {}
}

/**
 * One token bucket of a rule, in exact fixed-point arithmetic: with
 * g = gcd(tokens_per_fill, fill_interval in ns), one token is `unitsPerToken` =
 * fill_interval/g units and every nanosecond adds `unitsPerNs` = tokens_per_fill/g
 * units, so refill is an integer product with no rounding and no drift.
 */
export class Limit {
  constructor(
    readonly maxTokens: i64,
    readonly tokensPerFill: i64,
    readonly fillIntervalNs: i64,
    readonly unitsPerToken: i64,
    readonly unitsPerNs: i64,
    /** maxTokens × unitsPerToken: a full bucket. */
    readonly maxUnits: i64,
  ) {}

  /** The limit for `max_tokens`, `tokens_per_fill` per `fill_interval` ns; null when the units would not fit (see MAX_UNITS). */
  static of(maxTokens: i64, tokensPerFill: i64, fillIntervalNs: i64): Limit | null {
    const g = gcd(tokensPerFill, fillIntervalNs);
    const unitsPerToken = fillIntervalNs / g;
    const unitsPerNs = tokensPerFill / g;
    if (maxTokens > MAX_UNITS / unitsPerToken) return null;
    return new Limit(maxTokens, tokensPerFill, fillIntervalNs, unitsPerToken, unitsPerNs, maxTokens * unitsPerToken);
  }

  /** The IETF draft-03 quota policy of this limit (`100;w=60`), or "" when the interval is not whole seconds. */
  quotaPolicy(): string {
    if (this.fillIntervalNs % NANOS_PER_SECOND != 0) return "";
    return formatInteger(this.tokensPerFill) + ";w=" + formatInteger(this.fillIntervalNs / NANOS_PER_SECOND);
  }
}

/** A rule's `global` part: where and how to ask the rate limit service. */
export class GlobalLimit {
  constructor(
    /** The cluster of the rate limit service (`proxy_grpc_call`'s target). */
    readonly cluster: string,
    readonly domain: string,
    /** The call's timeout, whole milliseconds (rounded up). */
    readonly timeoutMs: u32,
    /** Refuse the request (500) when the call fails, instead of letting it through. */
    readonly failureModeDeny: bool,
    /** The descriptor entry key of each key part, in order. */
    readonly entryKeys: StaticArray<string>,
  ) {}
}

/** One entry of `rules`. */
export class Rule {
  constructor(
    /** Position in `rules`: stored in the bucket table with each key. */
    readonly index: i32,
    readonly name: string,
    readonly match: RequestMatch,
    readonly key: StaticArray<KeyPart>,
    readonly limits: StaticArray<Limit>,
    /** Hash of the name and the limits; buckets written under another configuration of this rule are stale. */
    readonly fingerprint: u16,
    /** `x-ratelimit-limit` values (UTF-8), one per limit: that limit's max_tokens, then every limit's quota policy. */
    readonly limitHeaderValues: StaticArray<ArrayBuffer>,
    /** The limit across replicas, or null for local buckets only. */
    readonly global: GlobalLimit | null = null,
  ) {}
}

/** The whole configuration. */
export class RateLimitConfig {
  constructor(
    readonly statPrefix: string,
    readonly rules: StaticArray<Rule>,
    readonly enforce: bool,
    readonly responseHeaders: bool,
    readonly status: u32,
    readonly xffNumTrustedHops: i32,
    readonly maxKeys: i32,
    /** The largest number of limits of any rule: the size of a bucket-table slot. */
    readonly maxLimitsPerRule: i32,
    /** FNV-1a 64 of the configuration text: seeds key hashing the same way in every VM. */
    readonly seed: u64,
  ) {}
}

/**
 * Reads rate-limit's configuration (file comment); the error is the first one
 * (`<json.path>: <reason>`). The seed is FNV-1a 64 of the configuration text.
 */
export function parseConfig(reader: ConfigReader): ConfigResult<RateLimitConfig> {
  const text = reader.document.documentSource;
  return ConfigResult.of<RateLimitConfig>(reader, readConfig(reader, fnv1a64(changetype<usize>(text), text.byteLength)));
}

function readConfig(reader: ConfigReader, seed: u64): RateLimitConfig {
  const root = reader.root(ROOT_FIELDS);
  const statPrefix = root.optionalString("stat_prefix", "rate_limit");
  if (!isMetricName(statPrefix)) root.fail("stat_prefix", "expected letters, digits and '_' (it starts every metric name)");
  const enforce = root.optionalBool("enforce", true);
  const responseHeaders = root.optionalBool("response_headers", false);
  const status = <u32>root.optionalInteger("status", 429, 400, 599);
  const hops = <i32>root.optionalInteger("xff_num_trusted_hops", 0, 0, 64);
  const maxKeys = <i32>root.optionalInteger("max_keys", 100000, 1, MAX_KEYS_LIMIT);

  const list = root.requiredArray("rules", 1);
  if (list.length > MAX_RULES) reader.fail(list.path, "expected at most " + formatInteger(MAX_RULES) + " rules");
  const count = min(list.length, MAX_RULES);
  const rules = new StaticArray<Rule>(count);
  let maxLimits = 1;
  for (let i = 0; i < count; i++) {
    const rule = readRule(list.objectAt(i, RULE_FIELDS), i);
    for (let j = 0; j < i; j++) {
      if (unchecked(rules[j]).name == rule.name) {
        reader.fail(list.pathAt(i) + ".name", "duplicate rule name \"" + rule.name + "\"");
        break;
      }
    }
    unchecked((rules[i] = rule));
    maxLimits = max(maxLimits, rule.limits.length);
  }
  return new RateLimitConfig(statPrefix, rules, enforce, responseHeaders, status, hops, maxKeys, maxLimits, seed);
}

function readRule(obj: ConfigObject, index: i32): Rule {
  const name = obj.requiredString("name");
  if (name.length > 0 && !isMetricName(name)) obj.fail("name", "expected letters, digits and '_' (it names the rule's metrics)");
  const match = readMatch(obj);

  const parts = obj.optionalArray("key");
  if (parts.length > MAX_KEY_PARTS) obj.reader.fail(parts.path, "expected at most " + formatInteger(MAX_KEY_PARTS) + " parts");
  const key = new StaticArray<KeyPart>(min(parts.length, MAX_KEY_PARTS));
  for (let i = 0; i < key.length; i++) unchecked((key[i] = readKeyPart(parts.objectAt(i, KEY_FIELDS))));

  const entries = obj.requiredArray("limits", 1);
  if (entries.length > MAX_LIMITS_PER_RULE) obj.reader.fail(entries.path, "expected at most " + formatInteger(MAX_LIMITS_PER_RULE) + " limits");
  const n = min(entries.length, MAX_LIMITS_PER_RULE);
  const limits = new StaticArray<Limit>(n);
  let fingerprint = fnv1aString(FNV_OFFSET, name);
  for (let i = 0; i < n; i++) {
    const limit = readLimit(entries.objectAt(i, LIMIT_FIELDS));
    unchecked((limits[i] = limit));
    fingerprint = fnv1aU64(fingerprint, <u64>limit.maxTokens);
    fingerprint = fnv1aU64(fingerprint, <u64>limit.tokensPerFill);
    fingerprint = fnv1aU64(fingerprint, <u64>limit.fillIntervalNs);
  }
  const globalPart = obj.optionalObject("global", GLOBAL_FIELDS);
  let global: GlobalLimit | null = null;
  if (globalPart !== null) {
    if (key.length == 0) obj.fail("key", "expected at least one key part with \"global\" (the parts are the rate limit descriptor's entries)");
    global = readGlobal(globalPart, key);
  }
  return new Rule(index, name, match, key, limits, <u16>(fingerprint ^ (fingerprint >> 16) ^ (fingerprint >> 32) ^ (fingerprint >> 48)), limitHeaderValues(limits), global);
}

function readGlobal(obj: ConfigObject, key: StaticArray<KeyPart>): GlobalLimit {
  const cluster = obj.requiredString("cluster");
  const domain = obj.requiredString("domain");
  const timeout = obj.optionalDuration("timeout", Duration.fromMilliseconds(DEFAULT_GLOBAL_TIMEOUT_MS), NANOS_PER_MILLISECOND, MAX_GLOBAL_TIMEOUT_MS * NANOS_PER_MILLISECOND);
  const timeoutMs = <u32>((timeout.totalNanoseconds + NANOS_PER_MILLISECOND - 1) / NANOS_PER_MILLISECOND);
  const failureModeDeny = obj.optionalBool("failure_mode_deny", false);
  const entryKeys = new StaticArray<string>(key.length);
  for (let i = 0; i < key.length; i++) unchecked((entryKeys[i] = entryKey(unchecked(key[i]))));
  return new GlobalLimit(cluster, domain, timeoutMs, failureModeDeny, entryKeys);
}

/** The descriptor entry key of a key part (the names of Envoy's rate limit actions). */
function entryKey(part: KeyPart): string {
  switch (part.kind) {
    case KeyPartKind.Header:
    case KeyPartKind.Claim:
      return part.text;
    case KeyPartKind.RemoteAddress:
      return "remote_address";
    case KeyPartKind.Path:
      return "path";
    default:
      return "generic_key";
  }
}

function readKeyPart(obj: ConfigObject): KeyPart {
  const which = obj.exactlyOneOf(KEY_FIELDS);
  if (which == 0 || which == 3) {
    const field = unchecked(KEY_FIELDS[which]);
    const header = obj.requiredString(field);
    if (header.length > 0 && !isToken(header)) obj.fail(field, "expected a header name");
    return new KeyPart(which == 0 ? KeyPartKind.Header : KeyPartKind.Claim, asciiLowerCase(header));
  }
  if (which == 1 || which == 2) {
    obj.requiredObject(unchecked(KEY_FIELDS[which]), NO_FIELDS);
    return new KeyPart(which == 1 ? KeyPartKind.RemoteAddress : KeyPartKind.Path, "");
  }
  if (which == 4) return new KeyPart(KeyPartKind.Generic, obj.requiredString("generic"));
  return new KeyPart(KeyPartKind.Generic, "");
}

function readLimit(obj: ConfigObject): Limit {
  const maxTokens = obj.requiredInteger("max_tokens", 1, u32.MAX_VALUE);
  const tokensPerFill = obj.optionalInteger("tokens_per_fill", 1, 1, u32.MAX_VALUE);
  const interval = obj.requiredDuration("fill_interval", MIN_FILL_INTERVAL_NS, MAX_FILL_INTERVAL_NS).totalNanoseconds;
  const limit = Limit.of(maxTokens, tokensPerFill, interval);
  if (limit !== null) return limit;
  obj.fail("max_tokens", "too large for this fill_interval and tokens_per_fill (exact refill needs max_tokens × fill_interval in ns ÷ gcd(tokens_per_fill, fill_interval in ns) below 2^62)");
  return Limit.of(1, 1, MIN_FILL_INTERVAL_NS)!;
}

/** `x-ratelimit-limit` per reported limit: `<max_tokens>, <tokens_per_fill>;w=<seconds>, ...` (IETF draft-polli-ratelimit-headers-03 §3.1, as Envoy's ratelimit filter writes it). */
function limitHeaderValues(limits: StaticArray<Limit>): StaticArray<ArrayBuffer> {
  let policies = "";
  for (let i = 0; i < limits.length; i++) {
    const policy = unchecked(limits[i]).quotaPolicy();
    if (policy.length > 0) policies += ", " + policy;
  }
  const out = new StaticArray<ArrayBuffer>(limits.length);
  for (let i = 0; i < limits.length; i++) {
    unchecked((out[i] = String.UTF8.encode(formatInteger(unchecked(limits[i]).maxTokens) + policies)));
  }
  return out;
}

function gcd(a: i64, b: i64): i64 {
  while (b != 0) {
    const t = a % b;
    a = b;
    b = t;
  }
  return a;
}

function isMetricName(s: string): bool {
  if (s.length == 0) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    const ok = (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || c == 0x5f;
    if (!ok) return false;
  }
  return true;
}

// ---- FNV-1a 64 (used for fingerprints and key hashing) ----------------------------

export const FNV_OFFSET: u64 = 0xcbf29ce484222325;
const FNV_PRIME: u64 = 0x100000001b3;

/** FNV-1a 64 of `length` bytes at `ptr`, continuing from `hash`. */
export function fnv1a64(ptr: usize, length: i32, hash: u64 = FNV_OFFSET): u64 {
  for (let i = 0; i < length; i++) hash = (hash ^ <u64>load<u8>(ptr + <usize>i)) * FNV_PRIME;
  return hash;
}

function fnv1aU64(hash: u64, x: u64): u64 {
  for (let i = 0; i < 8; i++) {
    hash = (hash ^ (x & 0xff)) * FNV_PRIME;
    x >>= 8;
  }
  return hash;
}

function fnv1aString(hash: u64, s: string): u64 {
  for (let i = 0; i < s.length; i++) hash = (hash ^ <u64>s.charCodeAt(i)) * FNV_PRIME;
  return hash;
}
