/**
 * The retry budget of filters.md "retry": the retries granted to requests admitted in the
 * sliding `window` may not exceed `ratio` × those requests + `min_retries_per_second` ×
 * window seconds.
 *
 * Retries are reserved when a request is admitted, not counted when its attempts finish:
 * `admit` counts the request and grants g = min(wanted, what the window has left after
 * counting it, reservations included), reserving g in the slot of now; `giveBack` returns,
 * to that same slot, the part of g the request did not use. So however many requests
 * are in flight at once, the retries granted in a window never exceed its allowance
 * (a burst cannot be granted its full `max_retries` before any retry is recorded).
 * A reservation leaves the window with its slot, together with the request it was made
 * for; a give-back for a slot that has left the window returns nothing (returning it to a
 * newer slot would free retries of requests still in the window).
 *
 * The window is `BUDGET_SLOTS` slots of `window / BUDGET_SLOTS` each; a slot holds the
 * requests admitted and the retries reserved (less those given back) during it. The
 * window sums the slot of now and the slots before it, so it covers between 9/10 and all
 * of `window`. It is one record in proxy-wasm shared data (`BUDGET_LAYOUT`, fields in
 * assembly/shared/layouts.ts `BUDGET_*`), common to every worker's VM; budget-store.ts
 * changes it with the shared CAS loop. This file is pure: the record codec and the
 * arithmetic.
 *
 * A key holding no record of this layout (garbage, another filter's data, another
 * layout version) reads as an empty window (assembly/shared's rollout rule), and so does
 * a record of another configuration (a changed `window`); the next write replaces it.
 */
import { RecordLayout } from "../../assembly/shared";
import {
  BUDGET_MAGIC, BUDGET_NEWEST, BUDGET_SIZE, BUDGET_SLOTS as SLOTS_AT, BUDGET_SLOT_BYTES, BUDGET_SLOT_COUNT, BUDGET_SLOT_NANOS,
  BUDGET_SLOT_REQUESTS, BUDGET_SLOT_RETRIES, BUDGET_VERSION,
} from "../../assembly/shared/layouts";

/** Slots per window. */
export const BUDGET_SLOTS: i32 = BUDGET_SLOT_COUNT;
/** The shared-data record of the budget. */
export const BUDGET_LAYOUT = new RecordLayout(BUDGET_MAGIC, BUDGET_VERSION, BUDGET_SIZE);

/** `budget` of the configuration (immutable). */
export class BudgetConfig {
  /** Width of one slot, ns (window / BUDGET_SLOTS, at least 1). */
  readonly slotNanos: i64;
  /** `min_retries_per_second` × window seconds: the allowance with no traffic. */
  readonly minRetries: f64;

  constructor(
    /** `ratio`: retries allowed per request in the window (default 0.2, as Envoy's `budget_percent` 20%). */
    readonly ratio: f64,
    /** `min_retries_per_second` (default 3). */
    readonly minRetriesPerSecond: f64,
    /** `window` in ns (default 10 s). */
    readonly windowNanos: i64,
  ) {
    const slot = windowNanos / <i64>BUDGET_SLOTS;
    this.slotNanos = slot > 0 ? slot : 1;
    this.minRetries = minRetriesPerSecond * (<f64>windowNanos / 1e9);
  }

  /** Retries the window allows after `requests` requests. */
  allowance(requests: u64): f64 {
    return this.ratio * <f64>requests + this.minRetries;
  }

  /** Retries still allowed: floor(allowance − retries reserved); ≤ 0 when the budget is exhausted. */
  remaining(requests: u64, retries: u64): i64 {
    const left = Math.floor(this.allowance(requests) - <f64>retries);
    // Clamp before converting: an f64 beyond the i64 range does not convert.
    if (left >= 9.0e18) return i64.MAX_VALUE;
    if (left <= -9.0e18) return i64.MIN_VALUE;
    return <i64>left;
  }
}

/** The sliding window: decoded from, changed in, and encoded back to one record. */
export class BudgetWindow {
  /** Index of the newest slot (time / slot width); -1 when empty. */
  newest: i64 = -1;
  private readonly requests: StaticArray<u32> = new StaticArray<u32>(BUDGET_SLOTS);
  private readonly retries: StaticArray<u32> = new StaticArray<u32>(BUDGET_SLOTS);
  /** Reused for `encode()`: the request path allocates no record. */
  private readonly record: ArrayBuffer = new ArrayBuffer(BUDGET_SIZE);

  constructor(readonly slotNanos: i64) {}

  /** Forgets everything. */
  reset(): void {
    this.newest = -1;
    for (let i = 0; i < BUDGET_SLOTS; i++) {
      unchecked((this.requests[i] = 0));
      unchecked((this.retries[i] = 0));
    }
  }

  /**
   * Loads `record`, a record of BUDGET_LAYOUT (header checked); false, leaving the
   * window empty, when it is null or of another slot width (see the file comment).
   */
  load(record: ArrayBuffer | null): bool {
    this.reset();
    if (record === null) return false;
    const p = changetype<usize>(record);
    if (load<i64>(p, BUDGET_SLOT_NANOS) != this.slotNanos) return false;
    const newest = load<i64>(p, BUDGET_NEWEST);
    if (newest < -1) return false;
    this.newest = newest;
    for (let i = 0; i < BUDGET_SLOTS; i++) {
      const at = p + <usize>(SLOTS_AT + i * BUDGET_SLOT_BYTES);
      unchecked((this.requests[i] = load<u32>(at, BUDGET_SLOT_REQUESTS)));
      unchecked((this.retries[i] = load<u32>(at, BUDGET_SLOT_RETRIES)));
    }
    return true;
  }

  /** The record's fields as they stand, in a buffer reused by the next call (the header is the CAS loop's). */
  encode(): ArrayBuffer {
    const p = changetype<usize>(this.record);
    store<i64>(p, this.slotNanos, BUDGET_SLOT_NANOS);
    store<i64>(p, this.newest, BUDGET_NEWEST);
    for (let i = 0; i < BUDGET_SLOTS; i++) {
      const at = p + <usize>(SLOTS_AT + i * BUDGET_SLOT_BYTES);
      store<u32>(at, unchecked(this.requests[i]), BUDGET_SLOT_REQUESTS);
      store<u32>(at, unchecked(this.retries[i]), BUDGET_SLOT_RETRIES);
    }
    return this.record;
  }

  /** Slot index of `nowNanos` (0 for times before the epoch). */
  slotOf(nowNanos: i64): i64 {
    return nowNanos > 0 ? nowNanos / this.slotNanos : 0;
  }

  /**
   * Moves the window to the slot of `nowNanos`, clearing the slots that left it. A clock
   * that went back stays in the newest slot (counts are never rewound).
   */
  advance(nowNanos: i64): void {
    const slot = this.slotOf(nowNanos);
    const newest = this.newest;
    if (newest >= 0 && slot <= newest) return;
    const gap = newest < 0 ? <i64>BUDGET_SLOTS : slot - newest;
    if (gap >= <i64>BUDGET_SLOTS) {
      this.reset();
    } else {
      for (let s = newest + 1; s <= slot; s++) {
        const i = <i32>(s % <i64>BUDGET_SLOTS);
        unchecked((this.requests[i] = 0));
        unchecked((this.retries[i] = 0));
      }
    }
    this.newest = slot;
  }

  /** Adds to the newest slot's counts (saturating); call `advance` first. */
  add(requests: u32, retries: u32): void {
    if (this.newest < 0) return;
    const i = <i32>(this.newest % <i64>BUDGET_SLOTS);
    unchecked((this.requests[i] = saturatingAdd(unchecked(this.requests[i]), requests)));
    unchecked((this.retries[i] = saturatingAdd(unchecked(this.retries[i]), retries)));
  }

  /**
   * Admits one request that wants `wanted` (≥ 0) retries at `nowNanos`: moves the window
   * to now, counts the request, and reserves and returns g = min(wanted, remaining after
   * counting it), 0 when the budget is exhausted. The reservation is in slot `newest`
   * (the slot of now, or the newest slot if the clock went back): the slot `giveBack` needs.
   */
  admit(config: BudgetConfig, wanted: i32, nowNanos: i64): i32 {
    this.advance(nowNanos);
    this.add(1, 0);
    const remaining = config.remaining(this.totalRequests(), this.totalRetries());
    const granted = remaining <= 0 ? 0 : remaining < <i64>wanted ? <i32>remaining : max(wanted, 0);
    this.add(0, <u32>granted);
    return granted;
  }

  /**
   * Gives back `retries` of a reservation made in slot `slot`, after moving the window to
   * `nowNanos`. Returns false, changing no count, when that slot has left the window (the
   * reservation went with it) or holds nothing to give back; never below 0.
   */
  giveBack(slot: i64, retries: u32, nowNanos: i64): bool {
    this.advance(nowNanos);
    const newest = this.newest;
    if (retries == 0 || slot < 0 || slot > newest || newest - slot >= <i64>BUDGET_SLOTS) return false;
    const i = <i32>(slot % <i64>BUDGET_SLOTS);
    const held = unchecked(this.retries[i]);
    if (held == 0) return false;
    unchecked((this.retries[i] = held > retries ? held - retries : 0));
    return true;
  }

  /** Requests in the window. */
  totalRequests(): u64 {
    let sum: u64 = 0;
    for (let i = 0; i < BUDGET_SLOTS; i++) sum += <u64>unchecked(this.requests[i]);
    return sum;
  }

  /** Retries reserved (less those given back) in the window. */
  totalRetries(): u64 {
    let sum: u64 = 0;
    for (let i = 0; i < BUDGET_SLOTS; i++) sum += <u64>unchecked(this.retries[i]);
    return sum;
  }
}

// @ts-ignore: decorator
@inline function saturatingAdd(a: u32, b: u32): u32 {
  const sum = a + b;
  return sum < a ? u32.MAX_VALUE : sum;
}
