/**
 * The retry budget's window (budget.ts) kept in proxy-wasm shared data, so that every
 * worker's VM reserves from one budget: each change goes through assembly/shared's CAS
 * loop (`update`: read, apply, write with the CAS read, again when another worker wrote
 * first). A reservation is thus decided on the record as it is when it is written: two
 * workers never both take the same last retries.
 *
 * Cost: `reserve` is one read and one write per admitted request (more only when
 * another worker wrote in between); `giveBack` one read and, when something is
 * returned, one write.
 */
import { RecordUpdate, UpdateResult, update } from "../../assembly/shared";
import { BUDGET_LAYOUT, BudgetConfig, BudgetWindow } from "./budget";

/** What an update does to the window: which of the three, with its inputs and result. */
enum Change {
  Create = 0,
  Reserve = 1,
  GiveBack = 2,
}

export class SharedRetryBudget extends RecordUpdate {
  private readonly key: ArrayBuffer;
  private readonly window: BudgetWindow;
  /** The slot of the last successful `reserve` (for its `giveBack`); -1 when it recorded nothing. */
  reservedSlot: i64 = -1;
  // The change `apply` makes.
  private change: Change = Change.Create;
  private nowNanos: i64 = 0;
  private wanted: i32 = 0;
  private granted: i32 = 0;
  private slot: i64 = 0;
  private retries: u32 = 0;

  constructor(readonly config: BudgetConfig, key: string) {
    super();
    this.key = String.UTF8.encode(key);
    this.window = new BudgetWindow(config.slotNanos);
  }

  /**
   * Writes an empty window unless the key holds one of this configuration (at configure
   * time, so that the request path's first writes race on CAS rather than on creation).
   */
  ensureRecord(): void {
    this.change = Change.Create;
    update(this.key, BUDGET_LAYOUT, this);
  }

  /**
   * Admits one request wanting `wanted` retries at `nowNanos` and returns the retries
   * reserved for it (budget.ts `BudgetWindow.admit`), its slot in `reservedSlot`. 0, with
   * nothing recorded, when the record could not be written (the loop gave up, or a host
   * error): an unrecorded grant could exceed the budget.
   */
  reserve(wanted: i32, nowNanos: i64): i32 {
    this.change = Change.Reserve;
    this.wanted = wanted;
    this.nowNanos = nowNanos;
    if (update(this.key, BUDGET_LAYOUT, this) == UpdateResult.Updated) {
      this.reservedSlot = this.window.newest;
      return this.granted;
    }
    this.reservedSlot = -1;
    return 0;
  }

  /**
   * Returns `retries` unused retries of a reservation made in slot `slot` (budget.ts
   * `BudgetWindow.giveBack`). Writes nothing when that slot has left the window or the
   * record is not ours (then the reservation is gone already). When the loop gives up
   * the retries stay reserved: that errs on the side of the budget.
   */
  giveBack(slot: i64, retries: u32, nowNanos: i64): void {
    this.change = Change.GiveBack;
    this.slot = slot;
    this.retries = retries;
    this.nowNanos = nowNanos;
    update(this.key, BUDGET_LAYOUT, this);
  }

  apply(record: ArrayBuffer | null): ArrayBuffer | null {
    const window = this.window;
    // Not found, garbage, another layout or window size: an empty window (load resets).
    const ours = window.load(record);
    switch (this.change) {
      case Change.Reserve:
        this.granted = window.admit(this.config, this.wanted, this.nowNanos);
        return window.encode();
      case Change.GiveBack:
        return ours && window.giveBack(this.slot, this.retries, this.nowNanos) ? window.encode() : null;
      default:
        return ours ? null : window.encode();
    }
  }
}
