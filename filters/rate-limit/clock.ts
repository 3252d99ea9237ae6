/**
 * Monotonic time for the buckets: WASI `clock_time_get(CLOCK_MONOTONIC)`, which Envoy
 * answers with its process-wide monotonic time source (proxy-wasm-cpp-host
 * src/exports.cc `wasi_unstable_clock_time_get`, clock id 1 → `getMonotonicTimeNanoseconds`),
 * as Envoy's own token buckets use `TimeSource::monotonicTime()`. Every worker VM reads
 * the same clock, and wall-clock steps (NTP) do not refill or freeze buckets. A host
 * without it (an error answer) falls back to `proxy_get_current_time_nanoseconds`.
 */
import { getCurrentTimeNanoseconds } from "../../assembly/proxy-wasm";

// @ts-ignore: decorator
@external("wasi_snapshot_preview1", "clock_time_get")
declare function clock_time_get(clockId: u32, precision: u64, time: usize): u32;

const CLOCK_MONOTONIC: u32 = 1;
// @ts-ignore: decorator
@lazy const TIME: usize = memory.data(8);

/** Monotonic nanoseconds (or wall-clock nanoseconds on a host without a monotonic clock). */
export function monotonicNanos(): i64 {
  if (clock_time_get(CLOCK_MONOTONIC, 1, TIME) == 0) return load<i64>(TIME);
  return <i64>getCurrentTimeNanoseconds();
}
