/**
 * The circuit-breaker configuration (shared/spec/filters.md "circuit-breaker"), parsed
 * once in `proxy_on_configure` into immutable objects the request path only reads.
 *
 * ```json
 * { "stat_prefix": "circuit_breaker",
 *   "services": [
 *     { "name": "credit-bureau", "match": { "prefix": "/api/credit-bureau" },
 *       "failure_threshold": 3, "open_duration": "60s", "half_open_requests": 3, "timeout": "10s" },
 *     { "name": "banking", "cluster": "banking", "failure_threshold": 5, "open_duration": "30s",
 *       "failure_rate_threshold": 50, "slow_call_rate_threshold": 80, "slow_call_duration": "2s",
 *       "open_action": { "fallback_filter_state": { "key": "wasm.circuit_breaker.fallback", "value": "banking" } } } ],
 *   "open_response": { "status": 503, "body": "{\"error\":\"circuit_open\"}",
 *                      "headers": { "content-type": "application/json" } } }
 * ```
 *
 * Choices where filters.md leaves room (an Envoy user's expectations, after resilience4j's
 * CircuitBreakerConfig defaults where it has one):
 * - `match` and `cluster` are both conditions of a service: all present must hold, none
 *   matches every request; the first service that holds applies (as `rules` elsewhere).
 * - Defaults: failure_threshold 5, failure_rate_threshold 0 (off), slow_call_rate_threshold
 *   0 (off), slow_call_duration 60s, minimum_requests 10, window 10s, open_duration 60s,
 *   half_open_requests 3, success_threshold = half_open_requests, max_concurrent_requests
 *   0 (off), failure_status [500, 502, 503, 504], timeout none.
 * - `open_response` and `open_action` may be set at the top level (every service) and
 *   per service (that service's own wins).
 * - `open_response` defaults to 503 with body `{"error":"circuit_open"}` and
 *   `content-type: application/json`; a configured body without `headers` gets Envoy's
 *   local-reply `content-type: text/plain`. `retry-after` and `x-circuit-breaker` are the
 *   filter's own and may not be configured.
 * - A service must enable something: one trigger or the bulkhead.
 * - `open_action.fallback_filter_state` `{ "key": "wasm.<name>", "value": "<v>" }`: an open
 *   circuit sets that Envoy filter state (`proxy_set_property("<name>")`, which Envoy stores
 *   under `wasm.<name>`) instead of replying, so that a route matching it (RouteMatch
 *   `filter_state`) fails the request over. It replaces `open_action.fallback_header`, now
 *   an error: a client can send any header itself, and a filter cannot see the route
 *   Envoy picks after it changes a header (Envoy 1.40 re-resolves the route only in the
 *   router), so a header-matched fail-over route let forged headers past an open circuit.
 *
 * Errors are one line, `<json.path>: <reason>`; plugin.ts prefixes `circuit-breaker: `.
 */
import { ConfigObject, ConfigReader, ConfigResult, Duration } from "../../assembly/config";
import { RequestMatch, isToken, readMatch } from "../../assembly/match";
import { asciiLowerCase, formatInteger } from "../../assembly/proxy-wasm";
import { CIRCUIT_BUCKET_COUNT } from "../../assembly/shared/layouts";

/** The filter's name: root_id, log prefix, default vm_id. */
export const FILTER_NAME = "circuit-breaker";

/** Buckets of the sliding window (Hystrix's metrics.rollingStats.numBuckets default): the record's. */
export const WINDOW_BUCKETS: i32 = CIRCUIT_BUCKET_COUNT;

const NANOS_PER_MS: i64 = 1_000_000;
const MAX_COUNT: i64 = 1_000_000;
const DAY_NANOS: i64 = 86_400_000 * NANOS_PER_MS;

const ROOT_FIELDS: string[] = ["stat_prefix", "services", "open_response", "open_action"];
const SERVICE_FIELDS: string[] = [
  "name", "match", "cluster",
  "failure_threshold", "failure_rate_threshold", "slow_call_rate_threshold", "slow_call_duration",
  "minimum_requests", "window", "open_duration", "half_open_requests", "success_threshold",
  "max_concurrent_requests", "failure_status", "timeout", "open_response", "open_action",
];
const OPEN_RESPONSE_FIELDS: string[] = ["status", "body", "headers"];
// `fallback_header` is known only to say what replaced it.
const OPEN_ACTION_FIELDS: string[] = ["fallback_filter_state", "fallback_header"];
const FALLBACK_FIELDS: string[] = ["key", "value"];
/** Envoy's prefix of filter state a wasm plugin sets (context.cc `CelStateKeyPrefix`). */
const WASM_STATE_PREFIX = "wasm.";

const DEFAULT_BODY = "{\"error\":\"circuit_open\"}";

/** The local reply of an open circuit or a full bulkhead (`open_response`). */
export class OpenResponse {
  constructor(
    /** HTTP status, 200..599. */
    readonly status: u32,
    /** Body bytes (UTF-8), encoded once. */
    readonly body: ArrayBuffer,
    /** Extra headers: lower-case names, in configuration order. */
    readonly headerNames: StaticArray<string>,
    readonly headerValues: StaticArray<string>,
  ) {}
}

/**
 * `open_action.fallback_filter_state`: the filter state an open circuit sets on a request
 * it sends on to a fail-over route (one that matches `key` with `value`).
 */
export class FallbackFilterState {
  /** `proxy_set_property` path: `key` without `wasm.` (Envoy adds it back). */
  readonly path: string[];
  readonly valueBytes: ArrayBuffer;

  constructor(readonly key: string, readonly value: string) {
    this.path = [key.substring(WASM_STATE_PREFIX.length)];
    this.valueBytes = String.UTF8.encode(value);
  }
}

/** One protected service (`services[i]`): selection, triggers and limits. */
export class ServiceConfig {
  constructor(
    readonly name: string,
    readonly match: RequestMatch,
    /** Envoy cluster the route must have picked (`cluster_name` property), or null. */
    readonly cluster: string | null,
    /** Consecutive failures that open the circuit; 0: off. */
    readonly failureThreshold: u32,
    /** Percent (0..100] of failed calls in the window that opens it; 0: off. */
    readonly failureRateThreshold: f64,
    /** Percent (0..100] of slow calls in the window that opens it; 0: off. */
    readonly slowCallRateThreshold: f64,
    /** A call is slow when its response headers come later than this (ms). */
    readonly slowCallDurationMs: i64,
    /** Calls the window must hold before a rate is judged. */
    readonly minimumRequests: u32,
    /** Sliding window length (ms); it moves in WINDOW_BUCKETS steps. */
    readonly windowMs: i64,
    /** How long the circuit stays OPEN (ms). */
    readonly openDurationMs: i64,
    /** Probes HALF_OPEN admits at a time, across all workers. */
    readonly halfOpenRequests: u32,
    /** Successful probes that close the circuit. */
    readonly successThreshold: u32,
    /** Bulkhead: requests in flight at most, across all workers; 0: off. */
    readonly maxConcurrentRequests: u32,
    /** Statuses that are failures: bit s of a 600-bit set. */
    readonly failureStatus: StaticArray<u64>,
    /** `x-envoy-upstream-rq-timeout-ms` value to set, as UTF-8, or null. */
    readonly timeoutMs: ArrayBuffer | null,
    readonly openResponse: OpenResponse,
    readonly fallback: FallbackFilterState | null,
  ) {}

  /** Whether `status` counts as a failure. */
  isFailureStatus(status: u32): bool {
    if (status >= 600) return false;
    return (unchecked(this.failureStatus[status >> 6]) & (<u64>1 << (<u64>status & 63))) != 0;
  }

  /** Whether either rate trigger is on (then outcomes go into the sliding window). */
  get usesWindow(): bool {
    return this.failureRateThreshold > 0 || this.slowCallRateThreshold > 0;
  }

  /** Whether slow calls matter (the slow-call trigger is on). */
  get detectsSlowCalls(): bool {
    return this.slowCallRateThreshold > 0;
  }

  /** Width of one window bucket (ms), at least 1. */
  get bucketWidthMs(): i64 {
    const w = this.windowMs / WINDOW_BUCKETS;
    return w > 0 ? w : 1;
  }
}

/** The whole configuration. */
export class CircuitBreakerConfig {
  constructor(
    /** Metric names start with it: `<stat_prefix>_state{service,state}`. */
    readonly statPrefix: string,
    readonly services: StaticArray<ServiceConfig>,
    /** Whether some service selects by `cluster` (then the filter reads `xds.cluster_name`). */
    readonly needsCluster: bool,
    /** Whether some service has the slow-call trigger (then each request's start time is read). */
    readonly detectsSlowCalls: bool = false,
  ) {}
}

/** Reads circuit-breaker's configuration (file comment); the error is the first one (`path: reason`). */
export function parseConfig(reader: ConfigReader): ConfigResult<CircuitBreakerConfig> {
  const root = reader.root(ROOT_FIELDS);
  const statPrefix = root.optionalString("stat_prefix", "circuit_breaker", true);
  if (reader.ok && !isStatPrefix(statPrefix)) root.fail("stat_prefix", "expected letters, digits and '_' (not starting with a digit)");
  const defaultResponse = readOpenResponse(root, defaultOpenResponse());
  const defaultFallback = readOpenAction(root, null);

  const list = root.requiredArray("services", 1);
  const services = new StaticArray<ServiceConfig>(list.length);
  let needsCluster = false;
  let detectsSlowCalls = false;
  for (let i = 0; i < list.length; i++) {
    const obj = list.objectAt(i, SERVICE_FIELDS);
    const service = readService(obj, defaultResponse, defaultFallback);
    for (let j = 0; j < i && reader.ok; j++) {
      if (unchecked(services[j]).name == service.name) obj.fail("name", "duplicate service name \"" + service.name + "\"");
    }
    unchecked((services[i] = service));
    if (service.cluster !== null) needsCluster = true;
    if (service.detectsSlowCalls) detectsSlowCalls = true;
  }
  return ConfigResult.of<CircuitBreakerConfig>(reader, new CircuitBreakerConfig(statPrefix, services, needsCluster, detectsSlowCalls));
}

function readService(obj: ConfigObject, defaultResponse: OpenResponse, defaultFallback: FallbackFilterState | null): ServiceConfig {
  const name = obj.requiredString("name");
  if (name.length > 0 && !isServiceName(name)) obj.fail("name", "expected letters, digits, '_' and '-' (it names metrics)");
  const match = readMatch(obj);
  const cluster = obj.has("cluster") ? obj.requiredString("cluster") : null;

  const failureThreshold = <u32>obj.optionalInteger("failure_threshold", 5, 0, MAX_COUNT);
  const failureRate = obj.optionalNumber("failure_rate_threshold", 0, 0, 100);
  const slowRate = obj.optionalNumber("slow_call_rate_threshold", 0, 0, 100);
  const slowDuration = obj.optionalDuration("slow_call_duration", durationOfSeconds(60), NANOS_PER_MS, DAY_NANOS);
  const minimumRequests = <u32>obj.optionalInteger("minimum_requests", 10, 1, MAX_COUNT);
  const window = obj.optionalDuration("window", durationOfSeconds(10), 100 * NANOS_PER_MS, DAY_NANOS);
  const openDuration = obj.optionalDuration("open_duration", durationOfSeconds(60), NANOS_PER_MS, DAY_NANOS);
  const halfOpen = <u32>obj.optionalInteger("half_open_requests", 3, 1, 10_000);
  const successThreshold = <u32>obj.optionalInteger("success_threshold", halfOpen, 1, MAX_COUNT);
  const maxConcurrent = <u32>obj.optionalInteger("max_concurrent_requests", 0, 0, MAX_COUNT);

  const statuses = obj.has("failure_status") ? obj.integerList("failure_status", 100, 599) : [500, 502, 503, 504];
  const failureStatus = new StaticArray<u64>(10);
  for (let i = 0; i < statuses.length; i++) {
    const s = <u32>unchecked(statuses[i]);
    unchecked((failureStatus[s >> 6] |= <u64>1 << (<u64>s & 63)));
  }

  let timeoutMs: ArrayBuffer | null = null;
  if (obj.has("timeout")) {
    const timeout = obj.requiredDuration("timeout", NANOS_PER_MS, DAY_NANOS);
    timeoutMs = String.UTF8.encode(formatInteger(timeout.totalMilliseconds));
  }

  if (obj.reader.ok && failureThreshold == 0 && failureRate == 0 && slowRate == 0 && maxConcurrent == 0) {
    obj.failHere("nothing to do: set failure_threshold, failure_rate_threshold, slow_call_rate_threshold or max_concurrent_requests above 0");
  }

  const openResponse = readOpenResponse(obj, defaultResponse);
  const fallback = readOpenAction(obj, defaultFallback);
  return new ServiceConfig(
    name, match, cluster, failureThreshold, failureRate, slowRate, slowDuration.totalMilliseconds,
    minimumRequests, window.totalMilliseconds, openDuration.totalMilliseconds, halfOpen, successThreshold,
    maxConcurrent, failureStatus, timeoutMs, openResponse, fallback,
  );
}

function readOpenResponse(parent: ConfigObject, fallback: OpenResponse): OpenResponse {
  const obj = parent.optionalObject("open_response", OPEN_RESPONSE_FIELDS);
  if (obj === null) return fallback;
  const status = <u32>obj.optionalInteger("status", 503, 200, 599);
  const hasBody = obj.has("body");
  const body = hasBody ? obj.requiredString("body", false) : DEFAULT_BODY;
  const map = obj.map("headers");
  const n = map.length;
  if (!obj.has("headers") && !hasBody) return new OpenResponse(status, String.UTF8.encode(body), defaultHeaderNames(), defaultHeaderValues());
  const names = new StaticArray<string>(n);
  const values = new StaticArray<string>(n);
  for (let i = 0; i < n; i++) {
    const name = asciiLowerCase(map.keyAt(i));
    const value = map.stringAt(i);
    if (!isToken(name)) obj.reader.fail(map.pathAt(i), "expected a header name");
    else if (name == "retry-after" || name == "x-circuit-breaker") obj.reader.fail(map.pathAt(i), "set by the filter, cannot be configured");
    else if (!isHeaderValue(value)) obj.reader.fail(map.pathAt(i), "expected a header value (no control characters)");
    unchecked((names[i] = name));
    unchecked((values[i] = value));
  }
  return new OpenResponse(status, String.UTF8.encode(body), names, values);
}

function readOpenAction(parent: ConfigObject, fallback: FallbackFilterState | null): FallbackFilterState | null {
  const obj = parent.optionalObject("open_action", OPEN_ACTION_FIELDS);
  if (obj === null) return fallback;
  if (obj.has("fallback_header")) {
    obj.fail("fallback_header", "replaced by fallback_filter_state (a client can send a header itself; README \"circuit-breaker\")");
    return null;
  }
  const state = obj.requiredObject("fallback_filter_state", FALLBACK_FIELDS);
  const key = state.requiredString("key");
  const value = state.requiredString("value");
  if (!obj.reader.ok) return null;
  if (!key.startsWith(WASM_STATE_PREFIX) || key.length == WASM_STATE_PREFIX.length || !isVisibleAscii(key)) {
    state.fail("key", "expected \"wasm.<name>\" (printable ASCII, no spaces)");
  } else if (!isHeaderValue(value)) {
    state.fail("value", "expected no control characters");
  }
  return new FallbackFilterState(key, value);
}

function defaultOpenResponse(): OpenResponse {
  return new OpenResponse(503, String.UTF8.encode(DEFAULT_BODY), defaultHeaderNames(), defaultHeaderValues());
}

function defaultHeaderNames(): StaticArray<string> {
  return StaticArray.fromArray<string>(["content-type"]);
}

function defaultHeaderValues(): StaticArray<string> {
  return StaticArray.fromArray<string>(["application/json"]);
}

function durationOfSeconds(seconds: i64): Duration {
  return new Duration(seconds, 0);
}

/** `[A-Za-z_][A-Za-z0-9_]*`: survives Prometheus sanitizing unchanged. */
function isStatPrefix(s: string): bool {
  for (let i = 0, n = s.length; i < n; i++) {
    const c = s.charCodeAt(i);
    const ok = (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || c == 0x5f || (i > 0 && c >= 0x30 && c <= 0x39);
    if (!ok) return false;
  }
  return s.length > 0;
}

/** `[A-Za-z0-9_-]+`: one segment of a stat name (no '.', which would add a level). */
function isServiceName(s: string): bool {
  for (let i = 0, n = s.length; i < n; i++) {
    const c = s.charCodeAt(i);
    const ok = (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || (c >= 0x30 && c <= 0x39) || c == 0x5f || c == 0x2d;
    if (!ok) return false;
  }
  return s.length > 0;
}

/** Printable ASCII without space (a filter state key a route can spell). */
function isVisibleAscii(s: string): bool {
  for (let i = 0, n = s.length; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c <= 0x20 || c >= 0x7f) return false;
  }
  return true;
}

/** RFC 9110 §5.5 field value: visible characters, spaces and tabs (no CR, LF, NUL). */
function isHeaderValue(s: string): bool {
  for (let i = 0, n = s.length; i < n; i++) {
    const c = s.charCodeAt(i);
    if ((c < 0x20 && c != 0x09) || c == 0x7f) return false;
  }
  return true;
}
