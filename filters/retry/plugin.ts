/**
 * retry's root and stream contexts: per request, the first policy whose `match` holds,
 * handed to Envoy's router through the router's own request headers (policy.ts lists
 * them), with an idempotency guard and a retry budget shared by all workers:
 *
 * - request headers: pick the policy; when it wants retries (past the idempotency guard),
 *   reserve them in the budget (budget-store.ts: one shared-data read and one CAS write)
 *   and write what was granted, 0 when the budget is exhausted; write the policy's other
 *   headers; strip the router's control headers an internal client sent (headers.ts).
 *   Requests no policy matches, and those whose policy wants no retry, touch no shared
 *   data: they are not in the budget (the route's own retry policy is Envoy's to bound,
 *   e.g. with the cluster's `retry_budget`);
 * - response headers: read `x-envoy-attempt-count` (attempts, set by the router when the
 *   virtual host has `include_attempt_count_in_response`; on its local replies too),
 *   count the retries in the metrics (stats.ts), and give back to the budget the
 *   reserved retries the request did not use.
 *
 * A reservation is kept, as if every reserved retry had been used, whenever the retries
 * used are not known — so that nothing can let a burst exceed the budget:
 * - no response reaches the filter (reset, client cancel): the router may have retried
 *   before the stream ended (so nothing is given back at `proxy_on_log` either);
 * - the response has no (or no readable) `x-envoy-attempt-count`: a route without
 *   `include_attempt_count_in_response` (a warning, once per VM), or a local reply of a
 *   filter after this one.
 * A kept reservation leaves the budget with its window slot, as the request's count does.
 * The attempt count is the router's only where the virtual host asks for it (the router
 * then replaces an upstream's own); elsewhere an upstream's header would be believed.
 *
 * It runs before `envoy.filters.http.router` (and after Envoy removed an external
 * client's `x-envoy-*` headers, conn_manager_utility.cc `cleanInternalHeaders`).
 */
import {
  FilterHeadersStatus,
  getCurrentTimeNanoseconds,
  getPropertyString,
  HeaderMap,
  HttpContext,
  logError,
  logWarn,
  requestHeadersMap,
  RootContext,
} from "../../assembly/proxy-wasm";
import { ConfigReader } from "../../assembly/config";
import { HostRequestHeaders } from "../../assembly/match/host";
import { SharedRetryBudget } from "./budget-store";
import { RetryConfig, parseConfig } from "./config";
import {
  CONTENT_TYPE,
  CONTROL_HEADERS,
  MAX_RETRIES_BIT,
  PER_TRY_TIMEOUT_BIT,
  RETRIABLE_STATUS_CODES_BIT,
  RETRY_GRPC_ON_BIT,
  RETRY_ON_BIT,
  TIMEOUT_BIT,
  X_ENVOY_ATTEMPT_COUNT,
  X_ENVOY_INTERNAL,
  X_ENVOY_MAX_RETRIES,
  X_ENVOY_RETRIABLE_STATUS_CODES,
  X_ENVOY_RETRY_GRPC_ON,
  X_ENVOY_RETRY_ON,
  X_ENVOY_UPSTREAM_RQ_PER_TRY_TIMEOUT_MS,
  X_ENVOY_UPSTREAM_RQ_TIMEOUT_MS,
  isGrpcContentType,
  parseAttemptCount,
} from "./headers";
import { MAX_RETRIES_LIMIT, RetryPolicy, idempotencyGuardApplies } from "./policy";
import { RetryStats } from "./stats";

/** Envoy's `response.code_details` property: "via_upstream" for a response from upstream. */
const RESPONSE_CODE_DETAILS: string[] = ["response", "code_details"];

/** What the streams of one configured plugin share (immutable config, metrics, budget). */
class RetryFilter {
  readonly stats: RetryStats;
  readonly budget: SharedRetryBudget | null;
  /** Reused by every stream of this VM: streams run one callback at a time. */
  readonly request: HostRequestHeaders = new HostRequestHeaders(requestHeadersMap);
  /** The missing `x-envoy-attempt-count` warning is logged once per VM. */
  warnedNoAttemptCount: bool = false;

  constructor(readonly config: RetryConfig) {
    this.stats = new RetryStats(config);
    const budget = config.budget;
    let shared: SharedRetryBudget | null = null;
    if (budget !== null) {
      shared = new SharedRetryBudget(budget, config.statPrefix + ".budget");
      shared.ensureRecord();
    }
    this.budget = shared;
  }
}

export class RetryRoot extends RootContext {
  filter: RetryFilter | null = null;

  onConfigure(pluginConfigurationSize: usize): bool {
    const parsed = parseConfig(ConfigReader.fromBuffer(this.getPluginConfiguration()));
    const config = parsed.config;
    if (config === null) {
      logError("retry: " + parsed.error);
      return false;
    }
    this.filter = new RetryFilter(config);
    return true;
  }

  createHttpContext(contextId: u32): HttpContext | null {
    const filter = this.filter;
    return filter !== null ? new RetryStream(contextId, this, filter) : null;
  }
}

class RetryStream extends HttpContext {
  /** Index of the chosen policy, -1 for none. */
  private policyIndex: i32 = -1;
  /** The `x-envoy-max-retries` this filter wrote, -1 when it wrote none. */
  private retriesSet: i32 = -1;
  /** Retries reserved in the budget and not given back (0: none, or settled). */
  private reserved: u32 = 0;
  /** The budget slot of the reservation (`SharedRetryBudget.reservedSlot`). */
  private reservedSlot: i64 = -1;
  /** When the reservation was made (ns): the give-back's time too (`onResponseHeaders` says why). */
  private reservedAt: i64 = 0;

  constructor(contextId: u32, root: RetryRoot, readonly filter: RetryFilter) {
    super(contextId, root);
  }

  onRequestHeaders(numHeaders: u32, endOfStream: bool): FilterHeadersStatus {
    const filter = this.filter;
    const headers = this.requestHeaders;
    const request = filter.request;
    request.forget();

    const policies = filter.config.policies;
    let index = -1;
    for (let i = 0, n = policies.length; i < n; i++) {
      if (unchecked(policies[i]).match.matches(request)) {
        index = i;
        break;
      }
    }
    this.policyIndex = index;

    const written: u32 = index >= 0 ? this.applyPolicy(headers, request, unchecked(policies[index]), index) : 0;
    // Envoy already removed them from external requests (headers.ts).
    if (filter.config.stripDownstreamRetryHeaders && headers.has(X_ENVOY_INTERNAL)) stripControlHeaders(headers, written);
    return FilterHeadersStatus.Continue;
  }

  /** Writes `policy`'s headers; returns the mask of control headers written. */
  private applyPolicy(headers: HeaderMap, request: HostRequestHeaders, policy: RetryPolicy, index: i32): u32 {
    const stats = this.filter.stats;
    unchecked(stats.policies[index]).requests.increment();

    let retries = policy.maxRetries;
    const keyName = policy.idempotencyHeaderName;
    if (keyName !== null && retries > 0) {
      const key = headers.getBytes(keyName);
      if (idempotencyGuardApplies(policy, request.method(), key !== null ? key.byteLength : 0)) {
        retries = 0;
        stats.idempotencyGuarded.increment();
      }
    }
    const budget = this.filter.budget;
    if (budget !== null && retries > 0) {
      const now = <i64>getCurrentTimeNanoseconds();
      this.reservedAt = now;
      const granted = budget.reserve(retries, now);
      if (granted < retries) stats.budgetExhausted.increment();
      retries = granted;
      this.reserved = <u32>granted;
      this.reservedSlot = budget.reservedSlot;
    }
    this.retriesSet = retries;

    headers.replaceBytes(X_ENVOY_MAX_RETRIES, unchecked(policy.maxRetriesValues[retries]));
    let written = MAX_RETRIES_BIT;
    if (retries > 0) {
      const retryOn = policy.retryOnValue;
      if (retryOn !== null) {
        headers.replaceBytes(X_ENVOY_RETRY_ON, retryOn);
        written |= RETRY_ON_BIT;
      }
      const grpcOn = policy.retryGrpcOnValue;
      if (grpcOn !== null && isGrpcContentType(headers.getBytes(CONTENT_TYPE))) {
        headers.replaceBytes(X_ENVOY_RETRY_GRPC_ON, grpcOn);
        written |= RETRY_GRPC_ON_BIT;
      }
      const codes = policy.retriableStatusCodesValue;
      if (codes !== null) {
        headers.replaceBytes(X_ENVOY_RETRIABLE_STATUS_CODES, codes);
        written |= RETRIABLE_STATUS_CODES_BIT;
      }
    }
    // Timeouts apply whether or not the request may be retried.
    const timeout = policy.timeoutValue;
    if (timeout !== null) {
      headers.replaceBytes(X_ENVOY_UPSTREAM_RQ_TIMEOUT_MS, timeout);
      written |= TIMEOUT_BIT;
    }
    const perTry = policy.perTryTimeoutValue;
    if (perTry !== null) {
      headers.replaceBytes(X_ENVOY_UPSTREAM_RQ_PER_TRY_TIMEOUT_MS, perTry);
      written |= PER_TRY_TIMEOUT_BIT;
    }
    return written;
  }

  onResponseHeaders(numHeaders: u32, endOfStream: bool): FilterHeadersStatus {
    const filter = this.filter;
    const value = this.responseHeaders.getBytes(X_ENVOY_ATTEMPT_COUNT);
    let attempts = parseAttemptCount(value);
    if (attempts == 0) {
      // Unknown attempts: the reservation stays (file comment). Local replies of later
      // filters never carry the header; an upstream response without it means the
      // virtual host does not ask for it.
      if (value === null && this.reserved > 0 && !filter.warnedNoAttemptCount && getPropertyString(RESPONSE_CODE_DETAILS) == "via_upstream") {
        filter.warnedNoAttemptCount = true;
        logWarn("retry: a response carries no x-envoy-attempt-count, so the budget keeps every retry it reserved; " +
          "set include_attempt_count_in_response on the route's virtual host");
      }
      return FilterHeadersStatus.Continue;
    }
    // The router cannot have retried more than this filter allowed: an upstream's own
    // x-envoy-attempt-count (the router replaces it when the virtual host asks for it)
    // must not count more.
    const limit: u32 = this.retriesSet >= 0 ? <u32>this.retriesSet : <u32>MAX_RETRIES_LIMIT;
    if (attempts > limit + 1) attempts = limit + 1;
    filter.stats.recordAttempts(this.policyIndex, attempts);
    const reserved = this.reserved;
    const budget = filter.budget;
    if (reserved > 0 && budget !== null) {
      this.reserved = 0;
      const unused = reserved - (attempts - 1); // attempts − 1 ≤ retriesSet = reserved
      // At the reservation's time, not now: no clock read. The window only moves forward
      // (budget.ts `advance`), so this gives back to the reservation's slot unless the
      // record has moved past it; if it has not but now has, that slot is cleared by the
      // next admission's `advance` before any total is read: the same budget either way.
      if (unused > 0) budget.giveBack(this.reservedSlot, unused, this.reservedAt);
    }
    return FilterHeadersStatus.Continue;
  }
}

/** Removes the router's control headers not in `written` (those were just replaced). */
function stripControlHeaders(headers: HeaderMap, written: u32): void {
  for (let i = 0, n = CONTROL_HEADERS.length; i < n; i++) {
    if ((written & (<u32>1 << <u32>i)) == 0) headers.remove(unchecked(CONTROL_HEADERS[i]));
  }
}
