/**
 * The headers a decision adds to the response: on denials `x-envoy-ratelimited: true`
 * (Envoy's `Http::Headers::EnvoyRateLimited`, as its rate limit filters send it) and
 * `retry-after` (RFC 9110 §10.2.3, delay-seconds), and with `response_headers` the
 * draft-03 `x-ratelimit-limit`, `x-ratelimit-remaining`, `x-ratelimit-reset` (names as
 * Envoy's source/extensions/filters/http/common/ratelimit_headers.h; values: decision.ts
 * for the local buckets, `ServiceQuota` for a rate limit service's answer).
 *
 * Names are `HeaderName`s, encoded once; numbers are written into one preallocated buffer per length,
 * so adding the headers to an upstream response allocates nothing.
 */
import { formatInteger, HeaderName, HeaderPair } from "../../assembly/proxy-wasm";
import { RateLimitConfig } from "./config";
import { Decision } from "./decision";
import { CODE_OVER_LIMIT, RateLimitResponse, unitSeconds } from "./rls";

export const X_RATELIMIT_LIMIT = "x-ratelimit-limit";
export const X_RATELIMIT_REMAINING = "x-ratelimit-remaining";
export const X_RATELIMIT_RESET = "x-ratelimit-reset";
export const X_ENVOY_RATELIMITED = "x-envoy-ratelimited";
export const RETRY_AFTER = "retry-after";

/** Decimal digits of `x` (non-negative) as UTF-8, in a buffer reused for every number of that length. */
export class DecimalBytes {
  private readonly byLength: StaticArray<ArrayBuffer> = new StaticArray<ArrayBuffer>(20);

  constructor() {
    for (let n = 0; n < 20; n++) unchecked((this.byLength[n] = new ArrayBuffer(n + 1)));
  }

  /** The digits of `x`; valid until the next call. */
  of(x: i64): ArrayBuffer {
    let v = <u64>(x < 0 ? 0 : x);
    let digits = 1;
    for (let t = v; t >= 10; t /= 10) digits++;
    const out = unchecked(this.byLength[digits - 1]);
    const p = changetype<usize>(out);
    for (let i = digits - 1; i >= 0; i--) {
      store<u8>(p + <usize>i, <u8>(0x30 + v % 10));
      v /= 10;
    }
    return out;
  }
}

/** Header names (`HeaderName`) and the local reply's header list, made once per plugin. */
export class ResponseHeaders {
  readonly limitName: HeaderName = HeaderName.of(X_RATELIMIT_LIMIT);
  readonly remainingName: HeaderName = HeaderName.of(X_RATELIMIT_REMAINING);
  readonly resetName: HeaderName = HeaderName.of(X_RATELIMIT_RESET);
  readonly digits: DecimalBytes = new DecimalBytes();
  private readonly retryAfter: HeaderPair = new HeaderPair(RETRY_AFTER, "");
  private readonly limit: HeaderPair = new HeaderPair(X_RATELIMIT_LIMIT, "");
  private readonly remaining: HeaderPair = new HeaderPair(X_RATELIMIT_REMAINING, "");
  private readonly reset: HeaderPair = new HeaderPair(X_RATELIMIT_RESET, "");
  private readonly denial: HeaderPair[] = [];
  /** `x-envoy-ratelimited` and `retry-after` only. */
  private readonly bareDenial: HeaderPair[] = [];
  private readonly limitValues: StaticArray<StaticArray<string>>;

  constructor(readonly config: RateLimitConfig) {
    this.limitValues = limitValueStrings(config);
    const denial = this.denial;
    denial.push(new HeaderPair(X_ENVOY_RATELIMITED, "true"));
    denial.push(this.retryAfter);
    this.bareDenial.push(unchecked(denial[0]));
    this.bareDenial.push(this.retryAfter);
    if (config.responseHeaders) {
      denial.push(this.limit);
      denial.push(this.remaining);
      denial.push(this.reset);
    }
  }

  /** The headers of a denial by the rate limit service (the list is reused). */
  serviceDenialHeaders(quota: ServiceQuota): HeaderPair[] {
    this.retryAfter.value = formatInteger(quota.retryAfterSeconds);
    // Without a limit in the answer there is nothing to report in the x-ratelimit-* headers.
    if (!this.config.responseHeaders || !quota.present) return this.bareDenial;
    this.limit.value = quota.limit;
    this.remaining.value = formatInteger(quota.remaining);
    this.reset.value = formatInteger(quota.resetSeconds);
    return this.denial;
  }

  /** The headers of a denial's local reply for `d` (the list is reused). */
  denialHeaders(d: Decision): HeaderPair[] {
    this.retryAfter.value = formatInteger(d.retryAfterSeconds);
    if (this.config.responseHeaders) {
      this.limit.value = unchecked(unchecked(this.limitValues[d.ruleIndex])[d.reported]);
      this.remaining.value = formatInteger(d.remaining);
      this.reset.value = formatInteger(d.resetSeconds);
    }
    return this.denial;
  }
}

/** Each rule's `x-ratelimit-limit` values as strings, for local replies. */
function limitValueStrings(config: RateLimitConfig): StaticArray<StaticArray<string>> {
  const rules = config.rules;
  const values = new StaticArray<StaticArray<string>>(rules.length);
  for (let r = 0; r < rules.length; r++) {
    const bytes = unchecked(rules[r]).limitHeaderValues;
    const strings = new StaticArray<string>(bytes.length);
    for (let l = 0; l < bytes.length; l++) unchecked((strings[l] = String.UTF8.decode(unchecked(bytes[l]))));
    unchecked((values[r] = strings));
  }
  return values;
}

/**
 * What a rate limit service's answer says for the response headers, as Envoy's `ratelimit`
 * filter writes them with `enable_x_ratelimit_headers: DRAFT_VERSION_03`
 * (source/extensions/filters/http/ratelimit/ratelimit_headers.cc): of the statuses with a
 * `current_limit`, the one with the least `limit_remaining` (the first on a tie) gives
 * `x-ratelimit-limit: <its requests_per_unit>`, followed for every status whose unit is known
 * by `, <requests_per_unit>;w=<unit in seconds>[;name="<name>"]`, `x-ratelimit-remaining`
 * (its `limit_remaining`) and `x-ratelimit-reset` (the whole seconds of its
 * `duration_until_reset`). `retry-after` on a denial: the longest `duration_until_reset` of
 * the statuses over the limit, rounded up, at least 1 (Envoy sends none; the local denial does).
 */
export class ServiceQuota {
  /** Some status had a `current_limit`: the x-ratelimit-* values are set. */
  present: bool = false;
  limit: string = "";
  remaining: i64 = 0;
  resetSeconds: i64 = 0;
  retryAfterSeconds: i64 = 1;

  /** Reads `response`. */
  read(response: RateLimitResponse): void {
    this.present = false;
    this.retryAfterSeconds = 1;
    let reported = -1;
    let policies = "";
    for (let i = 0; i < response.count; i++) {
      const s = unchecked(response.statuses[i]);
      if (s.code == CODE_OVER_LIMIT) {
        const wait = s.resetSeconds + (s.resetNanos > 0 ? 1 : 0);
        if (wait > this.retryAfterSeconds) this.retryAfterSeconds = wait;
      }
      if (!s.hasLimit) continue;
      if (reported < 0 || s.remaining < unchecked(response.statuses[reported]).remaining) reported = i;
      const window = unitSeconds(s.unit);
      if (window == 0) continue;
      policies += ", " + formatInteger(s.requestsPerUnit) + ";w=" + formatInteger(window);
      if (s.name.length > 0 && isQuotable(s.name)) policies += ";name=\"" + s.name + "\"";
    }
    if (reported < 0) return;
    const s = unchecked(response.statuses[reported]);
    this.present = true;
    this.limit = formatInteger(s.requestsPerUnit) + policies;
    this.remaining = s.remaining;
    this.resetSeconds = s.resetSeconds;
  }
}

/** Whether `s` can stand in a header's quoted-string as it is (visible ASCII and space, no `"` or `\\`). */
function isQuotable(s: string): bool {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c > 0x7e || c == 0x22 || c == 0x5c) return false;
  }
  return true;
}
