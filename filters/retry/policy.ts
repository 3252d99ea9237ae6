/**
 * A retry policy of filters.md "retry": which requests it selects (`match`) and the
 * values it hands to Envoy's router through the router's request headers
 * (source/common/router/router.cc `FilterUtility::finalTimeout`,
 * source/common/router/retry_state_impl.cc `RetryStateImpl`):
 *
 * | field                    | header                                   | value                |
 * |--------------------------|------------------------------------------|----------------------|
 * | `max_retries`            | `x-envoy-max-retries`                    | `2`                  |
 * | `retry_on`               | `x-envoy-retry-on`                       | `5xx,reset`          |
 * | `retry_grpc_on`          | `x-envoy-retry-grpc-on` (gRPC requests)  | `unavailable`        |
 * | `retriable_status_codes` | `x-envoy-retriable-status-codes`         | `429,503`            |
 * | `timeout`                | `x-envoy-upstream-rq-timeout-ms`         | `20000`              |
 * | `per_try_timeout`        | `x-envoy-upstream-rq-per-try-timeout-ms` | `5000`               |
 *
 * Header values are encoded to UTF-8 once, here, so the request path only passes bytes.
 * The idempotency guard is the pure function at the end of this file (the budget's
 * arithmetic is budget.ts).
 */
import { RequestMatch } from "../../assembly/match";
import { HeaderName, ascii, formatInteger } from "../../assembly/proxy-wasm";

/**
 * `x-envoy-retry-on` values Envoy's router knows (retry_state_impl.cc `parseRetryOn`,
 * envoy/router/router.h `RETRY_ON_*`), comma-separated.
 */
export function httpRetryConditions(): string {
  // One comma-separated ASCII literal (packed by the asc transform): read at configure
  // time only, it needs no array of UTF-16 literals.
  return ascii.text(
    "5xx,gateway-error,reset,reset-before-request,connect-failure,envoy-ratelimited,retriable-4xx,refused-stream,retriable-status-codes,retriable-headers,http3-post-connect-failure",
  );
}

/** `x-envoy-retry-grpc-on` values (retry_state_impl.cc `parseRetryGrpcOn`), comma-separated. */
export function grpcRetryConditions(): string {
  return ascii.text("cancelled,deadline-exceeded,internal,resource-exhausted,unavailable");
}

/** Whether `item` is one of the comma-separated entries of `list` (whole entries only). */
export function listIncludes(list: string, item: string): bool {
  const l = changetype<usize>(list);
  const q = changetype<usize>(item);
  const n = list.length;
  const length = item.length;
  let start = 0;
  while (start <= n) {
    // Match `item` at `start`, never across a comma; then the entry must end there.
    let i = 0;
    while (i < length && start + i < n) {
      const c = load<u16>(l + (<usize>(start + i) << 1));
      if (c == 0x2c || c != load<u16>(q + (<usize>i << 1))) break;
      i++;
    }
    let end = start + i;
    if (i == length && (end == n || load<u16>(l + (<usize>end << 1)) == 0x2c)) return true;
    while (end < n && load<u16>(l + (<usize>end << 1)) != 0x2c) end++;
    start = end + 1;
  }
  return false;
}

/** Largest `max_retries` a policy may ask for (Envoy has no limit; a larger count only amplifies load). */
export const MAX_RETRIES_LIMIT: i32 = 100;

/** An immutable retry policy, built by config.ts. */
export class RetryPolicy {
  /** `x-envoy-max-retries` values 0..maxRetries as UTF-8, so a budget cap needs no formatting. */
  readonly maxRetriesValues: StaticArray<ArrayBuffer>;
  readonly retryOnValue: ArrayBuffer | null;
  readonly retryGrpcOnValue: ArrayBuffer | null;
  readonly retriableStatusCodesValue: ArrayBuffer | null;
  readonly timeoutValue: ArrayBuffer | null;
  readonly perTryTimeoutValue: ArrayBuffer | null;
  readonly idempotencyHeaderName: HeaderName | null;

  constructor(
    /** `name`: letters, digits, '-' and '_' (it is part of metric names). */
    readonly name: string,
    readonly match: RequestMatch,
    /** `max_retries`, 0..MAX_RETRIES_LIMIT (default 1, as Envoy's `num_retries`). */
    readonly maxRetries: i32,
    /** `retry_on` joined with ',' ("" when none). */
    readonly retryOn: string,
    /** `retry_grpc_on` joined with ',' ("" when none). */
    readonly retryGrpcOn: string,
    /** `retriable_status_codes` joined with ',' ("" when none). */
    readonly retriableStatusCodes: string,
    /** `timeout` in ms; -1 when absent, 0 disables the route timeout (Envoy's meaning of 0). */
    readonly timeoutMs: i64,
    /** `per_try_timeout` in ms; -1 when absent. */
    readonly perTryTimeoutMs: i64,
    /** `idempotency_header`, lower case; null when the policy has no guard. */
    readonly idempotencyHeader: string | null,
  ) {
    const values = new StaticArray<ArrayBuffer>(maxRetries + 1);
    for (let i = 0; i <= maxRetries; i++) unchecked((values[i] = String.UTF8.encode(formatInteger(i))));
    this.maxRetriesValues = values;
    this.retryOnValue = retryOn.length > 0 ? String.UTF8.encode(retryOn) : null;
    this.retryGrpcOnValue = retryGrpcOn.length > 0 ? String.UTF8.encode(retryGrpcOn) : null;
    this.retriableStatusCodesValue = retriableStatusCodes.length > 0 ? String.UTF8.encode(retriableStatusCodes) : null;
    this.timeoutValue = timeoutMs >= 0 ? String.UTF8.encode(formatInteger(timeoutMs)) : null;
    this.perTryTimeoutValue = perTryTimeoutMs >= 0 ? String.UTF8.encode(formatInteger(perTryTimeoutMs)) : null;
    this.idempotencyHeaderName = idempotencyHeader !== null ? HeaderName.of(idempotencyHeader) : null;
  }
}

/**
 * Whether `method` is not idempotent, so that sending it twice may act twice: every
 * method RFC 9110 §9.2.2 does not declare idempotent (POST, PATCH, CONNECT and
 * extension methods; GET, HEAD, OPTIONS, TRACE, PUT and DELETE are idempotent).
 * Method names are case-sensitive (RFC 9110 §9.1).
 */
export function isNonIdempotentMethod(method: string): bool {
  return !(method == "GET" || method == "HEAD" || method == "PUT" || method == "DELETE" ||
    method == "OPTIONS" || method == "TRACE");
}

/**
 * The idempotency guard: true when `policy` names an `idempotency_header`, the request
 * method is not idempotent and the request lacks a non-empty value of that header. Such a
 * request gets `x-envoy-max-retries: 0` (a payment is never sent twice).
 */
export function idempotencyGuardApplies(policy: RetryPolicy, method: string, idempotencyKeyLength: i32): bool {
  return policy.idempotencyHeader !== null && idempotencyKeyLength <= 0 && isNonIdempotentMethod(method);
}
