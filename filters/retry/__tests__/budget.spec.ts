import { BUDGET_NEWEST, BUDGET_SIZE, BUDGET_SLOT_COUNT, BUDGET_VERSION, HEADER_VERSION } from "../../../assembly/shared/layouts";
import { BUDGET_LAYOUT, BUDGET_SLOTS, BudgetConfig, BudgetWindow } from "../budget";

/** A copy of the window's record as the CAS loop writes it (header stamped). */
function written(w: BudgetWindow): ArrayBuffer {
  const record = w.encode().slice(0);
  BUDGET_LAYOUT.stamp(record);
  return record;
}

/** Loads a shared-data value as the CAS loop hands it over (header checked). */
function loadValue(w: BudgetWindow, value: ArrayBuffer | null): bool {
  return w.load(BUDGET_LAYOUT.recordOf(value));
}

const SECOND: i64 = 1000000000;
// ratio 0.2, 10 retries/s, 10 s window: slots of 1 s, 100 retries with no traffic.
const CONFIG = new BudgetConfig(0.2, 10, 10 * SECOND);
const T0: i64 = 1767225600 * SECOND; // 2026-01-01, a whole second
// ratio 0.5, no floor, 10 s: each request adds half a retry.
const HALF = new BudgetConfig(0.5, 0, 10 * SECOND);
// ratio 0, 1/s over 10 s: 10 retries whatever the traffic.
const TEN = new BudgetConfig(0, 1, 10 * SECOND);

describe("BudgetConfig: retries ≤ ratio × requests + min_retries_per_second × window", () => {
  it("computes the allowance and what remains", () => {
    expect<i64>(CONFIG.slotNanos).toBe(SECOND);
    expect<f64>(CONFIG.allowance(0)).toBe(100);
    expect<f64>(CONFIG.allowance(1000)).toBe(300);
    expect<i64>(CONFIG.remaining(1000, 0)).toBe(300);
    expect<i64>(CONFIG.remaining(1000, 299)).toBe(1);
    expect<i64>(CONFIG.remaining(1000, 300)).toBe(0);
    expect<i64>(CONFIG.remaining(1000, 450)).toBe(-150);
    // Fractions round down: 0.2 × 7 + 100 = 101.4 allows 101.
    expect<i64>(CONFIG.remaining(7, 0)).toBe(101);
    expect<i64>(CONFIG.remaining(7, 101)).toBe(0);
  });

  it("never overflows on extreme counts", () => {
    const huge = new BudgetConfig(100, 1000000, 3600 * SECOND);
    expect<i64>(huge.remaining(u64.MAX_VALUE, 0)).toBe(i64.MAX_VALUE);
    const none = new BudgetConfig(0, 0, SECOND);
    expect<i64>(none.remaining(0, u64.MAX_VALUE)).toBe(i64.MIN_VALUE);
  });
});

describe("BudgetWindow: slots sliding with time", () => {
  it("counts into the slot of now and sums the window", () => {
    const w = new BudgetWindow(CONFIG.slotNanos);
    w.advance(T0);
    w.add(3, 1);
    w.advance(T0 + 2 * SECOND + 500000000);
    w.add(2, 4);
    expect<u64>(w.totalRequests()).toBe(5);
    expect<u64>(w.totalRetries()).toBe(5);
  });

  it("forgets slots that left the window, and everything after a long gap", () => {
    const w = new BudgetWindow(CONFIG.slotNanos);
    w.advance(T0);
    w.add(10, 10);
    w.advance(T0 + 5 * SECOND);
    w.add(1, 0);
    w.advance(T0 + 9 * SECOND); // slot of T0 is still the oldest of ten
    expect<u64>(w.totalRequests()).toBe(11);
    w.advance(T0 + 10 * SECOND); // T0's slot leaves
    expect<u64>(w.totalRequests()).toBe(1);
    expect<u64>(w.totalRetries()).toBe(0);
    w.add(4, 4);
    w.advance(T0 + 100 * SECOND);
    expect<u64>(w.totalRequests()).toBe(0);
    expect<u64>(w.totalRetries()).toBe(0);
  });

  it("stays in the newest slot when the clock goes back", () => {
    const w = new BudgetWindow(CONFIG.slotNanos);
    w.advance(T0 + 5 * SECOND);
    w.add(1, 1);
    w.advance(T0);
    w.add(1, 1);
    expect<i64>(w.newest).toBe((T0 + 5 * SECOND) / SECOND);
    expect<u64>(w.totalRequests()).toBe(2);
  });

  it("saturates instead of wrapping", () => {
    const w = new BudgetWindow(CONFIG.slotNanos);
    w.advance(T0);
    w.add(u32.MAX_VALUE, u32.MAX_VALUE);
    w.add(5, 5);
    expect<u64>(w.totalRequests()).toBe(<u64>u32.MAX_VALUE);
    expect<u64>(w.totalRetries()).toBe(<u64>u32.MAX_VALUE);
  });
});

describe("BudgetWindow: reservations at admission and give-backs", () => {
  it("counts the request, then grants min(wanted, what is left counting reservations)", () => {
    const w = new BudgetWindow(TEN.slotNanos);
    expect<i32>(w.admit(TEN, 4, T0)).toBe(4);
    expect<i32>(w.admit(TEN, 4, T0)).toBe(4);
    expect<i32>(w.admit(TEN, 4, T0)).toBe(2); // only 2 of 10 left
    expect<i32>(w.admit(TEN, 4, T0)).toBe(0);
    expect<u64>(w.totalRequests()).toBe(4);
    expect<u64>(w.totalRetries()).toBe(10);
    // The request itself raises the allowance before the grant: 0.5, 1.0, 1.5, 2.0.
    const h = new BudgetWindow(HALF.slotNanos);
    const granted = new Array<i32>(0);
    for (let i = 0; i < 4; i++) granted.push(h.admit(HALF, 5, T0));
    expect<i32[]>(granted).toStrictEqual([0, 1, 0, 1]);
    expect<u64>(h.totalRetries()).toBe(2);
  });

  it("grants nothing to a request that wants nothing, and never a negative count", () => {
    const w = new BudgetWindow(TEN.slotNanos);
    expect<i32>(w.admit(TEN, 0, T0)).toBe(0);
    expect<i32>(w.admit(TEN, -3, T0)).toBe(0);
    expect<u64>(w.totalRequests()).toBe(2);
    expect<u64>(w.totalRetries()).toBe(0);
  });

  it("gives back to the slot of the reservation, never below 0", () => {
    const w = new BudgetWindow(TEN.slotNanos);
    expect<i32>(w.admit(TEN, 5, T0)).toBe(5);
    const early = w.newest;
    expect<i32>(w.admit(TEN, 5, T0 + 3 * SECOND)).toBe(5);
    expect<bool>(w.giveBack(early, 3, T0 + 4 * SECOND)).toBe(true);
    expect<u64>(w.totalRetries()).toBe(7);
    expect<bool>(w.giveBack(early, 9, T0 + 4 * SECOND)).toBe(true); // only 2 left in that slot
    expect<u64>(w.totalRetries()).toBe(5);
    expect<bool>(w.giveBack(early, 1, T0 + 4 * SECOND)).toBe(false); // nothing held there
    // When T0's slot leaves, the later reservation stays whole.
    w.advance(T0 + 10 * SECOND);
    expect<u64>(w.totalRetries()).toBe(5);
  });

  it("gives nothing back once the reservation's slot has left the window", () => {
    const w = new BudgetWindow(TEN.slotNanos);
    w.admit(TEN, 5, T0);
    const slot = w.newest;
    expect<i32>(w.admit(TEN, 5, T0 + 10 * SECOND)).toBe(5); // T0's slot left: 10 again, 5 reserved now
    expect<bool>(w.giveBack(slot, 5, T0 + 10 * SECOND)).toBe(false);
    expect<u64>(w.totalRetries()).toBe(5);
    expect<bool>(w.giveBack(slot + 11, 5, T0 + 10 * SECOND)).toBe(false); // a slot not yet reached
    expect<bool>(w.giveBack(-1, 5, T0 + 10 * SECOND)).toBe(false);
    expect<bool>(w.giveBack(w.newest, 0, T0 + 10 * SECOND)).toBe(false);
    expect<u64>(w.totalRetries()).toBe(5);
  });

  it("reserves in the newest slot when the clock went back", () => {
    const w = new BudgetWindow(TEN.slotNanos);
    w.admit(TEN, 1, T0 + 5 * SECOND);
    expect<i32>(w.admit(TEN, 2, T0)).toBe(2);
    expect<i64>(w.newest).toBe((T0 + 5 * SECOND) / SECOND);
    expect<bool>(w.giveBack(w.newest, 2, T0)).toBe(true);
    expect<u64>(w.totalRetries()).toBe(1);
  });
});

describe("BudgetWindow: the shared-data record", () => {
  it("round-trips through encode and load", () => {
    const a = new BudgetWindow(CONFIG.slotNanos);
    a.advance(T0);
    a.add(7, 2);
    a.advance(T0 + 3 * SECOND);
    a.add(1, 1);
    const copy = written(a);
    expect<i32>(copy.byteLength).toBe(BUDGET_SIZE);
    const b = new BudgetWindow(CONFIG.slotNanos);
    expect<bool>(loadValue(b, copy)).toBe(true);
    expect<i64>(b.newest).toBe(a.newest);
    expect<u64>(b.totalRequests()).toBe(8);
    expect<u64>(b.totalRetries()).toBe(3);
  });

  it("reads garbage, another size, another layout version or another window as empty, without trapping", () => {
    const w = new BudgetWindow(CONFIG.slotNanos);
    w.advance(T0);
    w.add(5, 5);
    expect<bool>(loadValue(w, null)).toBe(false);
    expect<u64>(w.totalRequests()).toBe(0);
    expect<bool>(loadValue(w, new ArrayBuffer(0))).toBe(false);
    expect<bool>(loadValue(w, String.UTF8.encode("not a budget record"))).toBe(false);
    const junk = new ArrayBuffer(BUDGET_SIZE);
    for (let i = 0; i < BUDGET_SIZE; i++) store<u8>(changetype<usize>(junk) + i, <u8>(i * 37 + 11));
    expect<bool>(loadValue(w, junk)).toBe(false);
    expect<i64>(w.newest).toBe(-1);

    w.advance(T0);
    w.add(5, 5);
    const older = written(w);
    store<u32>(changetype<usize>(older), BUDGET_VERSION - 1, HEADER_VERSION);
    expect<bool>(loadValue(w, older)).toBe(false);
    expect<u64>(w.totalRequests()).toBe(0);

    const other = new BudgetWindow(2 * SECOND);
    other.advance(T0);
    other.add(1, 1);
    expect<bool>(loadValue(w, written(other))).toBe(false);

    // A well-formed record with a negative slot index is not ours either.
    const bad = written(w);
    store<i64>(changetype<usize>(bad), -5, BUDGET_NEWEST);
    expect<bool>(loadValue(w, bad)).toBe(false);
    expect<i32>(BUDGET_SLOTS).toBe(10);
    expect<i32>(BUDGET_SLOT_COUNT).toBe(BUDGET_SLOTS);
  });
});
