/**
 * Records in proxy-wasm shared data, common to every worker VM of a `vm_id`
 * (`proxy_get_shared_data` / `proxy_set_shared_data`, proxy-wasm/spec ABI v0.2.1 "Shared
 * data"), in the role of Envoy's filters/common: the one header every record starts
 * with, checked here and nowhere else, and `update`, the compare-and-swap loop every
 * filter changes its records with. The fields of each record are in layouts.ts.
 *
 * Header (little endian, HEADER_BYTES): u32 magic (the record's kind), u32 layout
 * version, u32 size of the whole record. A value is a record of a `RecordLayout` when
 * all three are the layout's and the size is the value's length, within the layout's
 * bounds.
 *
 * Rollout rule. Two builds of a filter can share a `vm_id` (Envoy loading a new module
 * while workers still run the old one, two plugins of one vm_id at different versions).
 * A value that is not a record of the reader's layout — missing, garbage, another kind,
 * or the same magic with another layout version or size — is read as reset: the
 * caller starts from a fresh record, never decodes the value's fields, and its next
 * write (with the CAS of that read) replaces it. So neither build misreads nor traps;
 * while both write, each resets what the other wrote (a circuit closes, a bucket or
 * the retry budget refills, JWKS are fetched again), which errs toward letting traffic
 * through, as the filters do when shared data fails. Layouts are never read across
 * versions; a change of layout bumps the version (layouts.ts), never reuses one.
 *
 * Update policy (every record, every filter): read, let the caller change the record
 * (`RecordUpdate.apply`), write with the CAS of the read; on CasMismatch another worker
 * wrote first, so read and apply again at once. A missing key is created with
 * CREATE_CAS, which two creators cannot both win. MAX_ATTEMPTS bounds one update;
 * giving up is a result (`GaveUp`) that each filter handles by its own policy.
 */
import { SharedDataReader, WasmResult, setSharedDataBytes } from "../proxy-wasm";
import { HEADER_BYTES, HEADER_MAGIC, HEADER_SIZE, HEADER_VERSION } from "./layouts";

/**
 * Attempts of one `update` before it gives up. A lost attempt means another worker's
 * write landed between this read and write, so this takes that many writes by others
 * during one update: far beyond the worker counts Envoy runs, unless the host answers
 * CasMismatch to everything; it bounds the work of one callback (an attempt is a
 * read, a decision and a write: a few µs). One cap for every caller: they differ in
 * what giving up costs, not in how contended their records are.
 */
export const MAX_ATTEMPTS: i32 = 1000;

/**
 * `cas` of a write that creates a missing key. cpp-host's SharedData::set creates an
 * absent key whatever the cas and compares a non-zero cas with an existing one
 * (src/shared_data.cc), so a second creator gets CasMismatch and reads what the first
 * wrote. (A stored cas equal to this lets the write through: cas values come from a
 * counter, one chance in 2^32.)
 */
export const CREATE_CAS: u32 = 0xffff_ffff;

/** What a record's header must say: its kind, layout version and size bounds (bytes). */
export class RecordLayout {
  /**
   * Reads this layout's records for `update`: buffers reused per size (the request path
   * allocates no value), and a value longer than a record of this layout is not copied.
   */
  readonly reader: SharedDataReader;

  constructor(
    /** Four ASCII bytes as a little-endian u32 (layouts.ts `*_MAGIC`). */
    readonly magic: u32,
    readonly version: u32,
    readonly minSize: i32,
    readonly maxSize: i32 = minSize,
  ) {
    this.reader = new SharedDataReader(16, maxSize);
  }

  /**
   * `value` when it is a record of this layout (the file comment's test), else null: a
   * value to read as reset.
   */
  recordOf(value: ArrayBuffer | null): ArrayBuffer | null {
    if (value === null) return null;
    const size = value.byteLength;
    if (size < this.minSize || size > this.maxSize || size < HEADER_BYTES) return null;
    const p = changetype<usize>(value);
    if (load<u32>(p, HEADER_MAGIC) != this.magic || load<u32>(p, HEADER_VERSION) != this.version || load<u32>(p, HEADER_SIZE) != <u32>size) return null;
    return value;
  }

  /** Writes this layout's header into `record` (its size: the buffer's length). */
  stamp(record: ArrayBuffer): void {
    const p = changetype<usize>(record);
    store<u32>(p, this.magic, HEADER_MAGIC);
    store<u32>(p, this.version, HEADER_VERSION);
    store<u32>(p, <u32>record.byteLength, HEADER_SIZE);
  }
}

/** How an `update` ended. */
export enum UpdateResult {
  /** The change was written. */
  Updated = 0,
  /** `apply` wrote nothing (returned null). */
  Unchanged = 1,
  /** MAX_ATTEMPTS writes lost to other workers': nothing written. */
  GaveUp = 2,
  /** The host refused the read or the write (`lastResult()` has its status): nothing written. */
  HostError = 3,
}

/**
 * The change an `update` makes: an object rather than a closure (AssemblyScript has
 * none), holding the request's inputs in fields and its outputs after `apply`.
 */
export abstract class RecordUpdate {
  /**
   * Changes the record read: `record` is its bytes (the header checked; edit them in
   * place or not), or null when the key holds no record of the layout (start from a
   * fresh one). Returns the bytes to write (the header is stamped here, the buffer's
   * length is the size), or null to write nothing. Called again after a lost race, so
   * it starts from `record` each time. `record` is the layout's read buffer
   * (`RecordLayout.reader`): the next read of that size overwrites it.
   */
  abstract apply(record: ArrayBuffer | null): ArrayBuffer | null;
}

let casSkipped = false;

/**
 * Test-only: makes every `update` write with cas 0 (unconditionally), the control of
 * the race tests (filters/<name>/__tests__/racy-entry.ts). No shipped module calls it.
 */
export function skipCasForTests(): void {
  casSkipped = true;
}

/**
 * Writes `record` (a record of `layout`; its header is stamped here) to `key` whatever
 * the key holds (cas 0): for a value no worker changes in place, such as the JWKS
 * document of one generation, whose readers check it against a record that is changed
 * with `update`. Returns the host status.
 */
export function overwrite(key: ArrayBuffer, layout: RecordLayout, record: ArrayBuffer): WasmResult {
  layout.stamp(record);
  return setSharedDataBytes(key, record, 0);
}

/**
 * Reads `key`, applies `change`, writes the result back with CAS; again on
 * CasMismatch, at most `maxAttempts` times (file comment: the policy).
 */
export function update(key: ArrayBuffer, layout: RecordLayout, change: RecordUpdate, maxAttempts: i32 = MAX_ATTEMPTS): UpdateResult {
  for (let attempt = 0; attempt < maxAttempts; attempt++) {
    const read = layout.reader;
    if (!read.read(key) && read.status != WasmResult.NotFound) return UpdateResult.HostError;
    const next = change.apply(layout.recordOf(read.value));
    if (next === null) return UpdateResult.Unchanged;
    layout.stamp(next);
    const written = setSharedDataBytes(key, next, casSkipped ? 0 : read.found ? read.cas : CREATE_CAS);
    if (written == WasmResult.Ok) return UpdateResult.Updated;
    if (written != WasmResult.CasMismatch) return UpdateResult.HostError;
  }
  return UpdateResult.GaveUp;
}
