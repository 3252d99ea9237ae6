/**
 * The retry budget's window (budget.ts) kept in proxy-wasm shared data, so that every
 * worker's VM reserves from one budget: each change reads the record
 * (`proxy_get_shared_data`), applies it, and writes it back with the CAS it read
 * (`proxy_set_shared_data`), starting over on `CasMismatch` — the read-modify-write that
 * proxy-wasm-cpp-host's SharedData (src/shared_data.cc `set`) makes atomic. A reservation
 * is thus decided on the record as it is when it is written: two workers never both
 * take the same last retries.
 *
 * Cost: `reserve` is one read and one write per admitted request (more only on
 * `CasMismatch`); `giveBack` one read and, when something is returned, one write.
 */
import { WasmResult, getSharedDataBytes, setSharedDataBytes } from "../../assembly/proxy-wasm";
import { BudgetConfig, BudgetWindow } from "./budget";

/** CAS attempts before giving up on one update: bounds the work of one request. */
const MAX_CAS_ATTEMPTS: i32 = 64;

export class SharedRetryBudget {
  private readonly key: ArrayBuffer;
  private readonly window: BudgetWindow;
  /** The slot of the last successful `reserve` (for its `giveBack`); -1 when it recorded nothing. */
  reservedSlot: i64 = -1;

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
   * Admits one request wanting `wanted` retries at `nowNanos` and returns the retries
   * reserved for it (budget.ts `BudgetWindow.admit`), its slot in `reservedSlot`. 0, with
   * nothing recorded, when the record could not be written (CAS lost `MAX_CAS_ATTEMPTS`
   * times, or another host error): an unrecorded grant could exceed the budget.
   */
  reserve(wanted: i32, nowNanos: i64): i32 {
    const window = this.window;
    for (let attempt = 0; attempt < MAX_CAS_ATTEMPTS; attempt++) {
      const current = getSharedDataBytes(this.key);
      // Not found, garbage or another window size: start from an empty window (load resets).
      window.load(current.value);
      const granted = window.admit(this.config, wanted, nowNanos);
      const r = setSharedDataBytes(this.key, window.encode(), current.cas);
      if (r == WasmResult.Ok) {
        this.reservedSlot = window.newest;
        return granted;
      }
      if (r != WasmResult.CasMismatch) break;
    }
    this.reservedSlot = -1;
    return 0;
  }

  /**
   * Returns `retries` unused retries of a reservation made in slot `slot` (budget.ts
   * `BudgetWindow.giveBack`). Writes nothing when that slot has left the window or the
   * record is not ours (then the reservation is gone already). On lasting CAS failure
   * the retries stay reserved: that errs on the side of the budget.
   */
  giveBack(slot: i64, retries: u32, nowNanos: i64): void {
    const window = this.window;
    for (let attempt = 0; attempt < MAX_CAS_ATTEMPTS; attempt++) {
      const current = getSharedDataBytes(this.key);
      if (!window.load(current.value) || !window.giveBack(slot, retries, nowNanos)) return;
      if (setSharedDataBytes(this.key, window.encode(), current.cas) != WasmResult.CasMismatch) return;
    }
  }
}
