/**
 * The router's retry decisions, after Envoy's source/common/router/retry_state_impl.cc
 * (RetryStateImpl) and source/common/common/backoff_strategy.cc
 * (JitteredExponentialBackOffStrategy):
 *
 * - the route's `retry_policy` is merged with the request headers `x-envoy-retry-on`,
 *   `x-envoy-retry-grpc-on` (OR-ed in), `x-envoy-max-retries` (replaces `num_retries`,
 *   only when some retry condition is on), `x-envoy-retriable-status-codes` and
 *   `x-envoy-retriable-header-names` (added); numbers are read as absl::SimpleAtoi does
 *   (surrounding whitespace and a '+' allowed, anything else or an overflow ignores the
 *   value); all retry headers are then removed from the request (they never reach upstream);
 * - a response is retried on `5xx`, `gateway-error` (502/503/504), `retriable-4xx`
 *   (409 only), `retriable-status-codes`, `retriable-headers` (a named header is present),
 *   or its `grpc-status` (cancelled 1, deadline-exceeded 4, resource-exhausted 8,
 *   unavailable 14, internal 13); never when it carries `x-envoy-ratelimited` (unless
 *   `envoy-ratelimited`);
 * - a reset is retried on `reset`, `5xx`/`gateway-error`, `connect-failure` (connection
 *   failures and timeouts only), `refused-stream` (REFUSED_STREAM only);
 * - backoff is fully jittered exponential: attempt n waits uniform [0, b·2^(n-1)) with
 *   the interval capped at `max_interval` (default 10 × base, base 25 ms).
 */
import type { HeaderMap } from '../host/header-map.ts';

export const RETRY_ON_5XX = 1 << 0;
export const RETRY_ON_GATEWAY_ERROR = 1 << 1;
export const RETRY_ON_CONNECT_FAILURE = 1 << 2;
export const RETRY_ON_RETRIABLE_4XX = 1 << 3;
export const RETRY_ON_REFUSED_STREAM = 1 << 4;
export const RETRY_ON_RETRIABLE_STATUS_CODES = 1 << 5;
export const RETRY_ON_RESET = 1 << 6;
export const RETRY_ON_ENVOY_RATE_LIMITED = 1 << 7;
export const RETRY_ON_RESET_BEFORE_REQUEST = 1 << 8;
export const RETRY_ON_RETRIABLE_HEADERS = 1 << 9;
export const RETRY_ON_GRPC_CANCELLED = 1 << 16;
export const RETRY_ON_GRPC_DEADLINE_EXCEEDED = 1 << 17;
export const RETRY_ON_GRPC_RESOURCE_EXHAUSTED = 1 << 18;
export const RETRY_ON_GRPC_UNAVAILABLE = 1 << 19;
export const RETRY_ON_GRPC_INTERNAL = 1 << 20;
const RETRY_ON_GRPC_ANY = RETRY_ON_GRPC_CANCELLED | RETRY_ON_GRPC_DEADLINE_EXCEEDED | RETRY_ON_GRPC_RESOURCE_EXHAUSTED | RETRY_ON_GRPC_UNAVAILABLE | RETRY_ON_GRPC_INTERNAL;

const HTTP_CONDITIONS: Record<string, number> = {
  '5xx': RETRY_ON_5XX,
  'gateway-error': RETRY_ON_GATEWAY_ERROR,
  'connect-failure': RETRY_ON_CONNECT_FAILURE,
  'envoy-ratelimited': RETRY_ON_ENVOY_RATE_LIMITED,
  'retriable-4xx': RETRY_ON_RETRIABLE_4XX,
  'refused-stream': RETRY_ON_REFUSED_STREAM,
  'retriable-status-codes': RETRY_ON_RETRIABLE_STATUS_CODES,
  'retriable-headers': RETRY_ON_RETRIABLE_HEADERS,
  reset: RETRY_ON_RESET,
  'reset-before-request': RETRY_ON_RESET_BEFORE_REQUEST,
};
const GRPC_CONDITIONS: Record<string, number> = {
  cancelled: RETRY_ON_GRPC_CANCELLED,
  'deadline-exceeded': RETRY_ON_GRPC_DEADLINE_EXCEEDED,
  'resource-exhausted': RETRY_ON_GRPC_RESOURCE_EXHAUSTED,
  unavailable: RETRY_ON_GRPC_UNAVAILABLE,
  internal: RETRY_ON_GRPC_INTERNAL,
};

function parseConditions(value: string, table: Record<string, number>): { bits: number; known: Set<string> } {
  let bits = 0;
  const known = new Set<string>();
  for (const raw of value.split(',')) {
    const c = raw.trim();
    if (c && table[c] !== undefined) {
      bits |= table[c];
      known.add(c);
    }
  }
  return { bits, known };
}

/** `x-envoy-retry-on` / route `retry_on` HTTP conditions (RetryStateImpl::parseRetryOn); unknown tokens are skipped. */
export const parseRetryOn = (value: string) => parseConditions(value, HTTP_CONDITIONS);
/** `x-envoy-retry-grpc-on` conditions (RetryStateImpl::parseRetryGrpcOn). */
export const parseRetryGrpcOn = (value: string) => parseConditions(value, GRPC_CONDITIONS);

/** Envoy's `Http::StreamResetReason`, with Utility::resetReasonToString's text. */
export type StreamResetReason =
  | 'local connection failure'
  | 'remote connection failure'
  | 'connection timeout'
  | 'connection termination'
  | 'local reset'
  | 'local refused stream reset'
  | 'overflow'
  | 'remote reset'
  | 'remote refused stream reset'
  | 'protocol error';

const isConnectFailure = (r: StreamResetReason): boolean => r === 'local connection failure' || r === 'remote connection failure' || r === 'connection timeout';

/** What the route asks for; see bootstrap.ts `RetryPolicyConfig`. */
export interface RoutePolicy {
  retryOn: number;
  numRetries: number;
  retriableStatusCodes: readonly number[];
  baseIntervalMs?: number;
  maxIntervalMs?: number;
}

export const NO_RETRY_POLICY: RoutePolicy = { retryOn: 0, numRetries: 1, retriableStatusCodes: [] };

export type RetryStatus = 'yes' | 'no' | 'limit-exceeded' | 'overflow';

/** Cluster-side hooks: the `max_retries` circuit breaker and the retry counters. */
export interface RetryClusterHooks {
  /** True when another concurrent retry fits under `max_retries`; then counts it as open. */
  tryOpenRetry(): boolean;
  closeRetry(): void;
  onRetry(): void;
  onRetrySuccess(): void;
  onRetryLimitExceeded(): void;
  onRetryOverflow(): void;
}

/** Retry headers the router consumes (RetryStateImpl::create removes them all). */
const CONSUMED_HEADERS = [
  'x-envoy-retry-on',
  'x-envoy-retry-grpc-on',
  'x-envoy-max-retries',
  'x-envoy-hedge-on-per-try-timeout',
  'x-envoy-retriable-header-names',
  'x-envoy-retriable-status-codes',
  'x-envoy-upstream-rq-per-try-timeout-ms',
];

const UINT32_MAX = 0xffff_ffff;
const UINT64_MAX = 2n ** 64n - 1n;

/**
 * absl::SimpleAtoi into an unsigned integer of at most `max` (as Envoy parses its numeric
 * headers): ASCII whitespace around, an optional '+', decimal digits; undefined for
 * anything else or a value above `max`. Values beyond 2^53 come back rounded.
 */
export function simpleAtoi(text: string, max: bigint = UINT64_MAX): number | undefined {
  const m = /^[ \t\n\v\f\r]*\+?([0-9]+)[ \t\n\v\f\r]*$/.exec(text);
  if (!m) return undefined;
  const value = BigInt(m[1]);
  return value <= max ? Number(value) : undefined;
}

/** One request's retry state (RetryStateImpl). */
export class RetryState {
  retryOn: number;
  retriesRemaining: number;
  readonly retriableStatusCodes: number[];
  /** `x-envoy-retriable-header-names` (name-only matchers: the header is present). */
  readonly retriableHeaderNames: string[] = [];
  private readonly baseIntervalMs: number;
  private readonly maxIntervalMs: number;
  private nextIntervalMs: number;
  /** A retry is scheduled (the `max_retries` slot is held until the next decision). */
  private armed = false;

  private constructor(
    policy: RoutePolicy,
    headers: HeaderMap,
    private readonly hooks: RetryClusterHooks,
    private readonly random: () => number,
  ) {
    this.retryOn = policy.retryOn;
    this.retriesRemaining = policy.numRetries;
    this.retriableStatusCodes = [...policy.retriableStatusCodes];
    this.baseIntervalMs = policy.baseIntervalMs ?? 25;
    this.maxIntervalMs = policy.maxIntervalMs ?? this.baseIntervalMs * 10;
    this.nextIntervalMs = this.baseIntervalMs;
    const on = headers.get('x-envoy-retry-on');
    if (on !== undefined) this.retryOn |= parseRetryOn(on).bits;
    const grpcOn = headers.get('x-envoy-retry-grpc-on');
    if (grpcOn !== undefined) this.retryOn |= parseRetryGrpcOn(grpcOn).bits;
    const max = headers.get('x-envoy-max-retries');
    const maxValue = max !== undefined && this.retryOn !== 0 ? simpleAtoi(max) : undefined;
    if (maxValue !== undefined) this.retriesRemaining = maxValue;
    const codes = headers.get('x-envoy-retriable-status-codes');
    if (codes !== undefined) {
      for (const c of codes.split(',')) {
        const code = c ? simpleAtoi(c, BigInt(UINT32_MAX)) : undefined;
        if (code !== undefined) this.retriableStatusCodes.push(code);
      }
    }
    const names = headers.get('x-envoy-retriable-header-names');
    if (names !== undefined) {
      for (const n of names.split(',')) if (n.trim()) this.retriableHeaderNames.push(n.trim().toLowerCase());
    }
  }

  /**
   * Makes the retry state for a request, or null when nothing could be retried, and
   * removes the retry headers from `headers` either way (RetryStateImpl::create).
   */
  static create(policy: RoutePolicy, headers: HeaderMap, hooks: RetryClusterHooks, random: () => number = Math.random): RetryState | null {
    const wanted = headers.has('x-envoy-retry-on') || headers.has('x-envoy-retry-grpc-on') || policy.retryOn !== 0;
    const state = wanted ? new RetryState(policy, headers, hooks, random) : null;
    for (const h of CONSUMED_HEADERS) headers.remove(h);
    return state;
  }

  /** RetryStateImpl::wouldRetryFromHeaders. `grpcStatus` is the response's `grpc-status`, if any. */
  wouldRetryFromHeaders(status: number, headers: HeaderMap): boolean {
    if (headers.has('x-envoy-ratelimited')) return (this.retryOn & RETRY_ON_ENVOY_RATE_LIMITED) !== 0;
    if (this.retryOn & RETRY_ON_5XX && status >= 500 && status < 600) return true;
    if (this.retryOn & RETRY_ON_GATEWAY_ERROR && status >= 502 && status <= 504) return true;
    if (this.retryOn & RETRY_ON_RETRIABLE_4XX && status === 409) return true;
    if (this.retryOn & RETRY_ON_RETRIABLE_STATUS_CODES && this.retriableStatusCodes.includes(status)) return true;
    if (this.retryOn & RETRY_ON_RETRIABLE_HEADERS && this.retriableHeaderNames.some((n) => headers.has(n))) return true;
    if (this.retryOn & RETRY_ON_GRPC_ANY) {
      // Grpc::Common::getGrpcStatus: the response headers only (a trailers-only response).
      const g = headers.get('grpc-status');
      const code = g !== undefined ? simpleAtoi(g) : undefined;
      if (code !== undefined) {
        if (
          (code === 1 && this.retryOn & RETRY_ON_GRPC_CANCELLED) ||
          (code === 4 && this.retryOn & RETRY_ON_GRPC_DEADLINE_EXCEEDED) ||
          (code === 8 && this.retryOn & RETRY_ON_GRPC_RESOURCE_EXHAUSTED) ||
          (code === 14 && this.retryOn & RETRY_ON_GRPC_UNAVAILABLE) ||
          (code === 13 && this.retryOn & RETRY_ON_GRPC_INTERNAL)
        ) {
          return true;
        }
      }
    }
    return false;
  }

  /** RetryStateImpl::wouldRetryFromReset; `requestStarted`: bytes were sent upstream. */
  wouldRetryFromReset(reason: StreamResetReason, requestStarted: boolean): boolean {
    if (reason === 'overflow') return false;
    if (isConnectFailure(reason) && this.retryOn & RETRY_ON_CONNECT_FAILURE) return true;
    if (this.retryOn & RETRY_ON_RESET_BEFORE_REQUEST && !requestStarted) return true;
    if (this.retryOn & RETRY_ON_RESET) return true;
    if (this.retryOn & (RETRY_ON_5XX | RETRY_ON_GATEWAY_ERROR)) return true;
    if (this.retryOn & RETRY_ON_REFUSED_STREAM && reason === 'remote refused stream reset') return true;
    return false;
  }

  /**
   * RetryStateImpl::shouldRetry: counts the decision and, on `yes`, returns the backoff
   * to wait in ms (the caller arms the timer).
   */
  shouldRetry(wouldRetry: boolean): { status: RetryStatus; backoffMs: number } {
    if (this.armed && !wouldRetry) this.hooks.onRetrySuccess();
    this.release();
    if (!wouldRetry) return { status: 'no', backoffMs: 0 };
    if (this.retriesRemaining === 0) {
      this.hooks.onRetryLimitExceeded();
      return { status: 'limit-exceeded', backoffMs: 0 };
    }
    this.retriesRemaining--;
    if (!this.hooks.tryOpenRetry()) {
      this.hooks.onRetryOverflow();
      return { status: 'overflow', backoffMs: 0 };
    }
    this.armed = true;
    this.hooks.onRetry();
    return { status: 'yes', backoffMs: this.nextBackOffMs() };
  }

  /** Releases the `max_retries` slot (RetryStateImpl::resetRetry, also on destruction). */
  release(): void {
    if (this.armed) {
      this.armed = false;
      this.hooks.closeRetry();
    }
  }

  /** JitteredExponentialBackOffStrategy::nextBackOffMs: uniform [0, interval), interval doubling up to the cap. */
  nextBackOffMs(): number {
    const interval = this.nextIntervalMs;
    this.nextIntervalMs = interval < this.maxIntervalMs / 2 ? interval * 2 : this.maxIntervalMs;
    return Math.floor(this.random() * interval);
  }
}
