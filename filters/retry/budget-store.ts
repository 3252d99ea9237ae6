/**
 * The retry budget's window (budget.ts) kept in proxy-wasm shared data, so that every
 * worker's VM counts into one budget: each change reads the record
 * (`proxy_get_shared_data`), applies it, and writes it back with the CAS it read
 * (`proxy_set_shared_data`), starting over on `CasMismatch` — the read-modify-write that
 * proxy-wasm-cpp-host's SharedData (src/shared_data.cc `set`) makes atomic.
 */
import { WasmResult, getSharedDataBytes, setSharedDataBytes } from "../../assembly/proxy-wasm";
import { BudgetConfig, BudgetWindow } from "./budget";

/** CAS attempts before giving up on one update (then it is not counted): bounds the work of one request. */
const MAX_CAS_ATTEMPTS: i32 = 64;

export class SharedRetryBudget {
  private readonly key: ArrayBuffer;
  private readonly window: BudgetWindow;

  constructor(readonly config: BudgetConfig, key: string) {
    this.key = String.UTF8.encode(key);
    this.window = new BudgetWindow(config.slotNanos);
  }

  /**
   * Creates the record when no VM has yet (at configure time, so that the request path's
   * first writes race on CAS rather than on creation: a write to a missing key always
   * succeeds).
   */
  ensureRecord(): void {
    const current = getSharedDataBytes(this.key);
    if (current.status == WasmResult.NotFound || !this.window.load(current.value)) {
      this.window.reset();
      setSharedDataBytes(this.key, this.window.encode(), current.cas);
    }
  }

  /**
   * Counts one request at `nowNanos` and returns the retries the budget still allows
   * (≤ 0: exhausted), after the request is counted.
   */
  admit(nowNanos: i64): i64 {
    this.update(nowNanos, 1, 0);
    return this.config.remaining(this.window.totalRequests(), this.window.totalRetries());
  }

  /** Counts `retries` performed at `nowNanos`. */
  recordRetries(retries: u32, nowNanos: i64): void {
    if (retries > 0) this.update(nowNanos, 0, retries);
  }

  /** Retries the budget allows at `nowNanos`, counting nothing (for tests and logs). */
  remaining(nowNanos: i64): i64 {
    this.window.load(getSharedDataBytes(this.key).value);
    this.window.advance(nowNanos);
    return this.config.remaining(this.window.totalRequests(), this.window.totalRetries());
  }

  /** Adds to the record with CAS; leaves the window as written (or as last read). */
  private update(nowNanos: i64, requests: u32, retries: u32): void {
    for (let attempt = 0; attempt < MAX_CAS_ATTEMPTS; attempt++) {
      const current = getSharedDataBytes(this.key);
      // Not found, garbage or another window size: start from an empty window (load resets).
      this.window.load(current.value);
      this.window.advance(nowNanos);
      this.window.add(requests, retries);
      const r = setSharedDataBytes(this.key, this.window.encode(), current.cas);
      if (r != WasmResult.CasMismatch) return;
    }
  }
}
