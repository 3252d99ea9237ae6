/**
 * `CircuitRecord`: the state of one service's circuit as every worker VM shares it, one
 * shared-data value per service (proxy_get/set_shared_data with CAS, see shared.ts).
 *
 * Layout, little endian, RECORD_SIZE bytes:
 *
 * | offset | type     | field                                                      |
 * | ------ | -------- | ---------------------------------------------------------- |
 * | 0      | u32      | magic "CB01" (0x31304243)                                  |
 * | 4      | u32      | state: 0 CLOSED, 1 OPEN, 2 HALF_OPEN                       |
 * | 8      | u32      | generation: +1 at every transition                        |
 * | 12     | u32      | consecutive failures (CLOSED)                              |
 * | 16     | u32      | probes in flight (HALF_OPEN)                               |
 * | 20     | u32      | successful probes (HALF_OPEN)                              |
 * | 24     | u32      | requests in flight (bulkhead)                              |
 * | 28     | u32      | window bucket width, ms (buckets are cleared when it changes) |
 * | 32     | i64      | OPEN until, ms since the epoch                             |
 * | 40     | i64      | state entered at, ms                                       |
 * | 48     | i64      | last probe admitted or completed at, ms (HALF_OPEN lease)  |
 * | 56     | 10 × 20  | window buckets: i64 bucket number, u32 calls, failures, slow |
 *
 * A value that is not such a record (another size, magic or state, or counts no worker
 * could have written) reads as a fresh CLOSED circuit: garbage never traps and never
 * sticks.
 */
import { WINDOW_BUCKETS } from "./config";

/** Circuit states, as the `state` gauge reports them. */
export enum CircuitState {
  Closed = 0,
  Open = 1,
  HalfOpen = 2,
}

/** The state's name in logs (resilience4j's spelling). */
export function stateName(state: CircuitState): string {
  return state == CircuitState.Closed ? "CLOSED" : state == CircuitState.Open ? "OPEN" : "HALF_OPEN";
}

const MAGIC: u32 = 0x31304243;
const HEADER_SIZE: i32 = 56;
const BUCKET_SIZE: i32 = 20;
/** Bytes of a record. */
export const RECORD_SIZE: i32 = HEADER_SIZE + WINDOW_BUCKETS * BUCKET_SIZE;
/** Counts above this are not something a worker wrote: the record is garbage. */
const SANE_COUNT: u32 = 1 << 24;

/** Totals of the window's live buckets. */
export class WindowTotals {
  calls: u32 = 0;
  failures: u32 = 0;
  slow: u32 = 0;
}

/** One service's shared state, decoded; mutable scratch reused for every request. */
export class CircuitRecord {
  state: CircuitState = CircuitState.Closed;
  generation: u32 = 0;
  consecutiveFailures: u32 = 0;
  probesInFlight: u32 = 0;
  probeSuccesses: u32 = 0;
  inFlight: u32 = 0;
  bucketWidthMs: u32 = 0;
  openUntilMs: i64 = 0;
  stateSinceMs: i64 = 0;
  probeActivityMs: i64 = 0;
  readonly bucketNumbers: StaticArray<i64> = new StaticArray<i64>(WINDOW_BUCKETS);
  readonly bucketCalls: StaticArray<u32> = new StaticArray<u32>(WINDOW_BUCKETS);
  readonly bucketFailures: StaticArray<u32> = new StaticArray<u32>(WINDOW_BUCKETS);
  readonly bucketSlow: StaticArray<u32> = new StaticArray<u32>(WINDOW_BUCKETS);

  /** A fresh CLOSED circuit whose window has buckets of `bucketWidthMs`. */
  reset(bucketWidthMs: u32): void {
    this.state = CircuitState.Closed;
    this.generation = 0;
    this.consecutiveFailures = 0;
    this.probesInFlight = 0;
    this.probeSuccesses = 0;
    this.inFlight = 0;
    this.openUntilMs = 0;
    this.stateSinceMs = 0;
    this.probeActivityMs = 0;
    this.bucketWidthMs = bucketWidthMs;
    this.clearWindow();
  }

  /** Forgets every call in the window. */
  clearWindow(): void {
    for (let i = 0; i < WINDOW_BUCKETS; i++) {
      unchecked((this.bucketNumbers[i] = -1));
      unchecked((this.bucketCalls[i] = 0));
      unchecked((this.bucketFailures[i] = 0));
      unchecked((this.bucketSlow[i] = 0));
    }
  }

  /**
   * Loads `size` bytes at `ptr` (a shared-data value). Returns false, leaving a fresh
   * record, when they are not a record; a record whose bucket width differs from
   * `bucketWidthMs` (the window was reconfigured) keeps its state but not its window.
   */
  decode(ptr: usize, size: i32, bucketWidthMs: u32): bool {
    if (size != RECORD_SIZE || load<u32>(ptr) != MAGIC) {
      this.reset(bucketWidthMs);
      return false;
    }
    const state = load<u32>(ptr, 4);
    const consecutive = load<u32>(ptr, 12);
    const probes = load<u32>(ptr, 16);
    const successes = load<u32>(ptr, 20);
    const inFlight = load<u32>(ptr, 24);
    if (state > 2 || consecutive > SANE_COUNT || probes > SANE_COUNT || successes > SANE_COUNT || inFlight > SANE_COUNT) {
      this.reset(bucketWidthMs);
      return false;
    }
    this.state = <CircuitState>state;
    this.generation = load<u32>(ptr, 8);
    this.consecutiveFailures = consecutive;
    this.probesInFlight = probes;
    this.probeSuccesses = successes;
    this.inFlight = inFlight;
    this.openUntilMs = load<i64>(ptr, 32);
    this.stateSinceMs = load<i64>(ptr, 40);
    this.probeActivityMs = load<i64>(ptr, 48);
    if (load<u32>(ptr, 28) != bucketWidthMs) {
      this.bucketWidthMs = bucketWidthMs;
      this.clearWindow();
      return true;
    }
    this.bucketWidthMs = bucketWidthMs;
    let p = ptr + <usize>HEADER_SIZE;
    for (let i = 0; i < WINDOW_BUCKETS; i++) {
      unchecked((this.bucketNumbers[i] = load<i64>(p)));
      unchecked((this.bucketCalls[i] = load<u32>(p, 8)));
      unchecked((this.bucketFailures[i] = load<u32>(p, 12)));
      unchecked((this.bucketSlow[i] = load<u32>(p, 16)));
      p += <usize>BUCKET_SIZE;
    }
    return true;
  }

  /** Writes the record at `ptr`, which has RECORD_SIZE bytes of room. */
  encode(ptr: usize): void {
    store<u32>(ptr, MAGIC);
    store<u32>(ptr, <u32>this.state, 4);
    store<u32>(ptr, this.generation, 8);
    store<u32>(ptr, this.consecutiveFailures, 12);
    store<u32>(ptr, this.probesInFlight, 16);
    store<u32>(ptr, this.probeSuccesses, 20);
    store<u32>(ptr, this.inFlight, 24);
    store<u32>(ptr, this.bucketWidthMs, 28);
    store<i64>(ptr, this.openUntilMs, 32);
    store<i64>(ptr, this.stateSinceMs, 40);
    store<i64>(ptr, this.probeActivityMs, 48);
    let p = ptr + <usize>HEADER_SIZE;
    for (let i = 0; i < WINDOW_BUCKETS; i++) {
      store<i64>(p, unchecked(this.bucketNumbers[i]));
      store<u32>(p, unchecked(this.bucketCalls[i]), 8);
      store<u32>(p, unchecked(this.bucketFailures[i]), 12);
      store<u32>(p, unchecked(this.bucketSlow[i]), 16);
      p += <usize>BUCKET_SIZE;
    }
  }

  /** Adds one call at `nowMs` to the window (Hystrix-style rolling buckets). */
  recordCall(nowMs: i64, failed: bool, slow: bool): void {
    const width = <i64>(this.bucketWidthMs > 0 ? this.bucketWidthMs : 1);
    const number = (nowMs > 0 ? nowMs : 0) / width; // a failing host clock reads 0: never a negative slot
    const slot = <i32>(number % WINDOW_BUCKETS);
    if (unchecked(this.bucketNumbers[slot]) != number) {
      unchecked((this.bucketNumbers[slot] = number));
      unchecked((this.bucketCalls[slot] = 0));
      unchecked((this.bucketFailures[slot] = 0));
      unchecked((this.bucketSlow[slot] = 0));
    }
    unchecked((this.bucketCalls[slot] += 1));
    if (failed) unchecked((this.bucketFailures[slot] += 1));
    if (slow) unchecked((this.bucketSlow[slot] += 1));
  }

  /**
   * Sums the buckets of the window ending at `nowMs` into `out`: the current bucket and
   * the WINDOW_BUCKETS - 1 before it, so a call counts for between 9/10 of the window
   * and the whole window after it completed.
   */
  windowTotals(nowMs: i64, out: WindowTotals): WindowTotals {
    const width = <i64>(this.bucketWidthMs > 0 ? this.bucketWidthMs : 1);
    const current = nowMs / width;
    let calls: u32 = 0, failures: u32 = 0, slow: u32 = 0;
    for (let i = 0; i < WINDOW_BUCKETS; i++) {
      const n = unchecked(this.bucketNumbers[i]);
      if (n > current - WINDOW_BUCKETS && n <= current) {
        calls += unchecked(this.bucketCalls[i]);
        failures += unchecked(this.bucketFailures[i]);
        slow += unchecked(this.bucketSlow[i]);
      }
    }
    out.calls = calls;
    out.failures = failures;
    out.slow = slow;
    return out;
  }
}
