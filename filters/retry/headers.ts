/**
 * The request and response headers the retry filter reads and writes (`HeaderName`
 * constants, static data), and the pure helpers that interpret them.
 *
 * Stripped from the request (`strip_downstream_retry_headers`): every header through
 * which Envoy's router takes retry or timeout instructions — the `x-envoy-retry-*`,
 * `x-envoy-retriable-*`, `x-envoy-max-retries`, `x-envoy-hedge-on-per-try-timeout` and
 * `x-envoy-upstream-rq-*timeout-ms` headers that router.cc (`FilterUtility::finalTimeout`,
 * `finalHedgingParams`) and retry_state_impl.cc read. Other names have no effect on
 * Envoy and are left alone (finding them would cost reading the whole header map).
 *
 * Only requests Envoy took as internal (`x-envoy-internal: true`) can still carry a
 * client's copy: from every other request Envoy's connection manager has removed these
 * very headers before any filter runs (conn_manager_utility.cc `cleanInternalHeaders`).
 * On those the filter strips nothing, and leaves alone what an earlier filter of the
 * chain set (circuit-breaker's `x-envoy-upstream-rq-timeout-ms`).
 */

import { HeaderName, ascii } from "../../assembly/proxy-wasm";

/** Bit of each entry of `CONTROL_HEADERS` in a "written" mask. */
export const MAX_RETRIES_BIT: u32 = 1 << 0;
export const RETRY_ON_BIT: u32 = 1 << 1;
export const RETRY_GRPC_ON_BIT: u32 = 1 << 2;
export const RETRIABLE_STATUS_CODES_BIT: u32 = 1 << 3;
export const TIMEOUT_BIT: u32 = 1 << 4;
export const PER_TRY_TIMEOUT_BIT: u32 = 1 << 5;

/** The router's control headers, in the order of the bits above. */
export const CONTROL_HEADERS: StaticArray<HeaderName> = [
  changetype<HeaderName>(ascii.bytes("x-envoy-max-retries")),
  changetype<HeaderName>(ascii.bytes("x-envoy-retry-on")),
  changetype<HeaderName>(ascii.bytes("x-envoy-retry-grpc-on")),
  changetype<HeaderName>(ascii.bytes("x-envoy-retriable-status-codes")),
  changetype<HeaderName>(ascii.bytes("x-envoy-upstream-rq-timeout-ms")),
  changetype<HeaderName>(ascii.bytes("x-envoy-upstream-rq-per-try-timeout-ms")),
  changetype<HeaderName>(ascii.bytes("x-envoy-retriable-header-names")),
  changetype<HeaderName>(ascii.bytes("x-envoy-hedge-on-per-try-timeout")),
];

export const X_ENVOY_MAX_RETRIES: HeaderName = unchecked(CONTROL_HEADERS[0]);
export const X_ENVOY_RETRY_ON: HeaderName = unchecked(CONTROL_HEADERS[1]);
export const X_ENVOY_RETRY_GRPC_ON: HeaderName = unchecked(CONTROL_HEADERS[2]);
export const X_ENVOY_RETRIABLE_STATUS_CODES: HeaderName = unchecked(CONTROL_HEADERS[3]);
export const X_ENVOY_UPSTREAM_RQ_TIMEOUT_MS: HeaderName = unchecked(CONTROL_HEADERS[4]);
export const X_ENVOY_UPSTREAM_RQ_PER_TRY_TIMEOUT_MS: HeaderName = unchecked(CONTROL_HEADERS[5]);

/** Set by Envoy's connection manager on internal requests only (and removed from all others). */
export const X_ENVOY_INTERNAL: HeaderName = changetype<HeaderName>(ascii.bytes("x-envoy-internal"));
/** Response header with the number of attempts (router.cc, `include_attempt_count_in_response`). */
export const X_ENVOY_ATTEMPT_COUNT: HeaderName = changetype<HeaderName>(ascii.bytes("x-envoy-attempt-count"));
export const CONTENT_TYPE: HeaderName = changetype<HeaderName>(ascii.bytes("content-type"));

// gRPC requests as the router sees them (shared with circuit-breaker).
export { isGrpcContentType } from "../../assembly/match/request";

/**
 * The value of `x-envoy-attempt-count` (decimal digits, as the router writes it), or 0
 * when absent, empty, not all digits or above 10^6 (never a count Envoy sends).
 */
export function parseAttemptCount(value: ArrayBuffer | null): u32 {
  if (value === null) return 0;
  const n = value.byteLength;
  if (n == 0 || n > 7) return 0;
  const p = changetype<usize>(value);
  let count: u32 = 0;
  for (let i = 0; i < n; i++) {
    const c = <u32>load<u8>(p + <usize>i);
    if (c < 0x30 || c > 0x39) return 0;
    count = count * 10 + (c - 0x30);
  }
  return count <= 1000000 ? count : 0;
}
