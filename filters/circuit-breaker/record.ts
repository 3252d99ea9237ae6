/**
 * `CircuitRecord`: the state of one service's circuit as every worker VM shares it, one
 * shared-data record per service, changed with the shared CAS loop (shared.ts). Two
 * layouts (assembly/shared/layouts.ts): `CIRCUIT_LAYOUT` with the sliding window, for a
 * service with a rate trigger, and `CIRCUIT_COMPACT_LAYOUT` (the same fields, no window:
 * 64 bytes instead of 264) for the others; `circuitLayout` picks the service's.
 *
 * A key holding no record of the service's layout (missing, garbage, another layout
 * version, the other of the two layouts) reads as a fresh CLOSED circuit (assembly/shared's rollout rule), and so does a record
 * whose counts no worker could have written: garbage never traps and never sticks.
 */
import { RecordLayout } from "../../assembly/shared";
import {
  CIRCUIT_BUCKETS, CIRCUIT_BUCKET_BYTES, CIRCUIT_COMPACT_MAGIC, CIRCUIT_COMPACT_SIZE, CIRCUIT_COMPACT_VERSION, CIRCUIT_BUCKET_CALLS, CIRCUIT_BUCKET_FAILURES, CIRCUIT_BUCKET_NUMBER,
  CIRCUIT_BUCKET_SLOW, CIRCUIT_BUCKET_WIDTH_MS, CIRCUIT_CONSECUTIVE_FAILURES, CIRCUIT_GENERATION, CIRCUIT_IN_FLIGHT,
  CIRCUIT_MAGIC, CIRCUIT_OPEN_UNTIL_MS, CIRCUIT_PROBES_IN_FLIGHT, CIRCUIT_PROBE_ACTIVITY_MS, CIRCUIT_PROBE_SUCCESSES,
  CIRCUIT_SIZE, CIRCUIT_STATE, CIRCUIT_STATE_SINCE_MS, CIRCUIT_VERSION,
} from "../../assembly/shared/layouts";
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

/** The shared-data record of a circuit (a window of WINDOW_BUCKETS buckets: layouts.ts has CIRCUIT_BUCKET_COUNT, the spec checks they agree). */
export const CIRCUIT_LAYOUT = new RecordLayout(CIRCUIT_MAGIC, CIRCUIT_VERSION, CIRCUIT_SIZE);
/** The shared-data record of a circuit without a window (a service with no rate trigger). */
export const CIRCUIT_COMPACT_LAYOUT = new RecordLayout(CIRCUIT_COMPACT_MAGIC, CIRCUIT_COMPACT_VERSION, CIRCUIT_COMPACT_SIZE);

/** The layout of a service's record: with the window when it has a rate trigger (`ServiceConfig.usesWindow`). */
export function circuitLayout(usesWindow: bool): RecordLayout {
  return usesWindow ? CIRCUIT_LAYOUT : CIRCUIT_COMPACT_LAYOUT;
}
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
   * Loads `record`, a record of `circuitLayout` (header checked; a compact one, shorter
   * than CIRCUIT_SIZE, has no window: it reads as empty), or a fresh circuit when it is
   * null. Returns false, leaving a fresh record, when it is null or holds counts no
   * worker could have written; a record whose bucket width differs from `bucketWidthMs`
   * (the window was reconfigured) keeps its state but not its window.
   */
  decode(record: ArrayBuffer | null, bucketWidthMs: u32): bool {
    if (record === null) {
      this.reset(bucketWidthMs);
      return false;
    }
    const ptr = changetype<usize>(record);
    const state = load<u32>(ptr, CIRCUIT_STATE);
    const consecutive = load<u32>(ptr, CIRCUIT_CONSECUTIVE_FAILURES);
    const probes = load<u32>(ptr, CIRCUIT_PROBES_IN_FLIGHT);
    const successes = load<u32>(ptr, CIRCUIT_PROBE_SUCCESSES);
    const inFlight = load<u32>(ptr, CIRCUIT_IN_FLIGHT);
    if (state > 2 || consecutive > SANE_COUNT || probes > SANE_COUNT || successes > SANE_COUNT || inFlight > SANE_COUNT) {
      this.reset(bucketWidthMs);
      return false;
    }
    this.state = <CircuitState>state;
    this.generation = load<u32>(ptr, CIRCUIT_GENERATION);
    this.consecutiveFailures = consecutive;
    this.probesInFlight = probes;
    this.probeSuccesses = successes;
    this.inFlight = inFlight;
    this.openUntilMs = load<i64>(ptr, CIRCUIT_OPEN_UNTIL_MS);
    this.stateSinceMs = load<i64>(ptr, CIRCUIT_STATE_SINCE_MS);
    this.probeActivityMs = load<i64>(ptr, CIRCUIT_PROBE_ACTIVITY_MS);
    if (load<u32>(ptr, CIRCUIT_BUCKET_WIDTH_MS) != bucketWidthMs) {
      this.bucketWidthMs = bucketWidthMs;
      this.clearWindow();
      return true;
    }
    this.bucketWidthMs = bucketWidthMs;
    if (record.byteLength < CIRCUIT_SIZE) {
      this.clearWindow();
      return true;
    }
    let p = ptr + <usize>CIRCUIT_BUCKETS;
    for (let i = 0; i < WINDOW_BUCKETS; i++) {
      unchecked((this.bucketNumbers[i] = load<i64>(p, CIRCUIT_BUCKET_NUMBER)));
      unchecked((this.bucketCalls[i] = load<u32>(p, CIRCUIT_BUCKET_CALLS)));
      unchecked((this.bucketFailures[i] = load<u32>(p, CIRCUIT_BUCKET_FAILURES)));
      unchecked((this.bucketSlow[i] = load<u32>(p, CIRCUIT_BUCKET_SLOW)));
      p += <usize>CIRCUIT_BUCKET_BYTES;
    }
    return true;
  }

  /**
   * Writes the record's fields into `record` (the header is the CAS loop's): the window
   * too when it has CIRCUIT_SIZE bytes, none when it has CIRCUIT_COMPACT_SIZE.
   */
  encode(record: ArrayBuffer): ArrayBuffer {
    const ptr = changetype<usize>(record);
    store<u32>(ptr, <u32>this.state, CIRCUIT_STATE);
    store<u32>(ptr, this.generation, CIRCUIT_GENERATION);
    store<u32>(ptr, this.consecutiveFailures, CIRCUIT_CONSECUTIVE_FAILURES);
    store<u32>(ptr, this.probesInFlight, CIRCUIT_PROBES_IN_FLIGHT);
    store<u32>(ptr, this.probeSuccesses, CIRCUIT_PROBE_SUCCESSES);
    store<u32>(ptr, this.inFlight, CIRCUIT_IN_FLIGHT);
    store<u32>(ptr, this.bucketWidthMs, CIRCUIT_BUCKET_WIDTH_MS);
    store<i64>(ptr, this.openUntilMs, CIRCUIT_OPEN_UNTIL_MS);
    store<i64>(ptr, this.stateSinceMs, CIRCUIT_STATE_SINCE_MS);
    store<i64>(ptr, this.probeActivityMs, CIRCUIT_PROBE_ACTIVITY_MS);
    if (record.byteLength < CIRCUIT_SIZE) return record;
    let p = ptr + <usize>CIRCUIT_BUCKETS;
    for (let i = 0; i < WINDOW_BUCKETS; i++) {
      store<i64>(p, unchecked(this.bucketNumbers[i]), CIRCUIT_BUCKET_NUMBER);
      store<u32>(p, unchecked(this.bucketCalls[i]), CIRCUIT_BUCKET_CALLS);
      store<u32>(p, unchecked(this.bucketFailures[i]), CIRCUIT_BUCKET_FAILURES);
      store<u32>(p, unchecked(this.bucketSlow[i]), CIRCUIT_BUCKET_SLOW);
      p += <usize>CIRCUIT_BUCKET_BYTES;
    }
    return record;
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
