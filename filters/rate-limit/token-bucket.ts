/**
 * Continuous-refill token buckets in exact integer arithmetic (the semantics of Envoy's
 * `AtomicTokenBucketImpl`, source/common/common/token_bucket_impl.cc, without its
 * floating point): a bucket starts full at `max_tokens`, gains `tokens_per_fill` every
 * `fill_interval` continuously, never above `max_tokens`; a request takes one token.
 *
 * A bucket's state is 16 bytes in a bucket-table slot (bucket-page.ts), little endian:
 *   [0, 8)  i64 tokens, in the limit's fixed-point units (`Limit.unitsPerToken` per token)
 *   [8, 16) i64 time of the last refill, monotonic nanoseconds
 * Refill adds `elapsed ns × Limit.unitsPerNs` units: an integer, so a bucket refilled
 * once after an hour holds exactly what one refilled every microsecond holds.
 *
 * Time going backward (a clock step, or state written under another clock) adds
 * nothing: the refill time is moved back to now and refill resumes from there. Garbage
 * state (tokens outside 0..max) is clamped into range, so it can never mint more than
 * a full bucket.
 */
import { Limit } from "./config";

export const BUCKET_BYTES: i32 = 16;
const NANOS_PER_SECOND: i64 = 1000000000;

/** Writes a full bucket refilled at `now`. */
export function fillBucket(state: usize, limit: Limit, now: i64): void {
  store<i64>(state, limit.maxUnits);
  store<i64>(state, now, 8);
}

/** Refills the bucket at `state` up to `now`. */
export function refillBucket(state: usize, limit: Limit, now: i64): void {
  const max = limit.maxUnits;
  let tokens = load<i64>(state);
  const last = load<i64>(state, 8);
  if (tokens < 0) tokens = 0;
  if (tokens > max) tokens = max;
  if (now > last) {
    const need = max - tokens;
    // Either enough time passed to fill it (this test keeps elapsed × rate below 2^63),
    // or the exact product is added.
    const elapsed = <u64>now - <u64>last;
    const rate = <u64>limit.unitsPerNs;
    if (elapsed >= (<u64>need + rate - 1) / rate) tokens = max;
    else tokens += <i64>(elapsed * rate);
  }
  store<i64>(state, tokens);
  store<i64>(state, now, 8);
}

/** Whole tokens in the (refilled) bucket. */
export function bucketTokens(state: usize, limit: Limit): i64 {
  return load<i64>(state) / limit.unitsPerToken;
}

/** Whether the (refilled) bucket holds a whole token. */
export function bucketHasToken(state: usize, limit: Limit): bool {
  return load<i64>(state) >= limit.unitsPerToken;
}

/** Takes one token from the (refilled) bucket, which must hold one. */
export function takeToken(state: usize, limit: Limit): void {
  store<i64>(state, load<i64>(state) - limit.unitsPerToken);
}

/** Nanoseconds until the (refilled) bucket holds `units` units (0 if it already does), rounded up. */
export function nanosUntilUnits(state: usize, limit: Limit, units: i64): i64 {
  const missing = units - load<i64>(state);
  if (missing <= 0) return 0;
  return (missing + limit.unitsPerNs - 1) / limit.unitsPerNs;
}

/** Nanoseconds until the (refilled) bucket holds one more whole token. */
export function nanosUntilToken(state: usize, limit: Limit): i64 {
  return nanosUntilUnits(state, limit, limit.unitsPerToken);
}

/** Nanoseconds until the (refilled) bucket is full again. */
export function nanosUntilFull(state: usize, limit: Limit): i64 {
  return nanosUntilUnits(state, limit, limit.maxUnits);
}

/** Whole seconds covering `nanos`, rounded up (`retry-after`, `x-ratelimit-reset`). */
export function secondsCeil(nanos: i64): i64 {
  return nanos <= 0 ? 0 : (nanos + NANOS_PER_SECOND - 1) / NANOS_PER_SECOND;
}
