/**
 * The records a remote provider's keys live in, in shared data (one copy for all the
 * worker VMs of a `vm_id`, proxy-wasm ABI `proxy_get/set_shared_data`), and the rules
 * that decide when a worker fetches. Pure code: jwks-cache.ts does the hostcalls.
 *
 * Two keys per provider: a small state record, read on every tick by every worker and
 * changed with compare-and-swap, and the keys record (the JWKS document), read only
 * when the state's generation moves. Both start with a magic number: anything else
 * found under the key (garbage, an older layout) reads as "no record", never a trap.
 *
 * Fetch rules (filters.md jwt-auth, `remote_jwks`):
 * - one fetch at a time across workers: a worker fetches only after writing a lease
 *   (`fetchingUntil`) with CAS; a lease outlives the call's timeout by a second, so a
 *   worker that disappears mid-fetch blocks the others no longer than that;
 * - refresh when `refreshAt` (90 % of `cache_duration` after the last success) passes;
 * - an unknown `kid` refetches at most once per KID_REFETCH_INTERVAL_MS;
 * - after failures, wait 1 s, 2 s, 4 s... up to 30 s before the next attempt; keys
 *   already held stay in use meanwhile (stale but better than none).
 */

/** State record: magic "JWKS" v1, then the fields below (little endian), 72 bytes. */
const STATE_MAGIC: u32 = 0x534b574a;
const KEYS_MAGIC: u32 = 0x444b574a;
const VERSION: u32 = 1;
export const STATE_BYTES: i32 = 72;
const KEYS_HEADER_BYTES: i32 = 16;

/** At most one refetch for an unknown `kid` in this many milliseconds (across workers). */
export const KID_REFETCH_INTERVAL_MS: i64 = 10_000;
/** Longest wait between failed attempts. */
export const MAX_RETRY_DELAY_MS: i64 = 30_000;
/** A lease lasts the call's timeout plus this. */
export const LEASE_GRACE_MS: i64 = 1_000;

/** The shared state of one remote provider. Times are ms since the epoch. */
export class JwksState {
  /** Increments with every successful fetch; 0: no keys yet. */
  generation: u64 = 0;
  fetchedAt: i64 = 0;
  refreshAt: i64 = 0;
  /** A worker is fetching until then (0: nobody). */
  fetchingUntil: i64 = 0;
  lastAttemptAt: i64 = 0;
  lastKidRefetchAt: i64 = i64.MIN_VALUE / 2;
  /** Failed attempts since the last success. */
  failures: u32 = 0;
  /** Fetches finished so far (successful or not): a paused request waits for one. */
  attempts: u32 = 0;
  /** Who holds the lease (a number the fetching worker drew), so that a fetch which
   * outlived its lease does not release the lease of the worker that took over. */
  leaseOwner: u32 = 0;

  /** Whether a lease is held at `now`. */
  fetching(now: i64): bool {
    return this.fetchingUntil > now;
  }

  /** Earliest time of the next attempt after failures. */
  retryAt(): i64 {
    if (this.failures == 0) return i64.MIN_VALUE;
    const shift = this.failures > 6 ? 5 : this.failures - 1;
    const delay = <i64>1000 << <i64>shift;
    return this.lastAttemptAt + (delay < MAX_RETRY_DELAY_MS ? delay : MAX_RETRY_DELAY_MS);
  }

  /**
   * Whether a worker may start a fetch at `now`: nobody is fetching, failures have
   * waited their delay, and either keys are missing (`haveKeys` false, or no fetch ever
   * succeeded), due for refresh, or (`forKid`) an unknown kid asks and the last such
   * refetch is old enough.
   */
  mayFetch(now: i64, forKid: bool, haveKeys: bool): bool {
    if (this.fetching(now) || now < this.retryAt()) return false;
    if (this.generation == 0 || !haveKeys) return true;
    if (forKid) return now - this.lastKidRefetchAt >= KID_REFETCH_INTERVAL_MS;
    return now >= this.refreshAt;
  }

  /** Serialized form (STATE_BYTES). */
  encode(): ArrayBuffer {
    const b = new ArrayBuffer(STATE_BYTES);
    const p = changetype<usize>(b);
    store<u32>(p, STATE_MAGIC);
    store<u32>(p, VERSION, 4);
    store<u64>(p, this.generation, 8);
    store<i64>(p, this.fetchedAt, 16);
    store<i64>(p, this.refreshAt, 24);
    store<i64>(p, this.fetchingUntil, 32);
    store<i64>(p, this.lastAttemptAt, 40);
    store<i64>(p, this.lastKidRefetchAt, 48);
    store<u32>(p, this.failures, 56);
    store<u32>(p, this.attempts, 60);
    store<u32>(p, this.leaseOwner, 64);
    return b;
  }

  /** The record in `bytes`, or null when they are not one (absent, garbage, other version). */
  static decode(bytes: ArrayBuffer | null): JwksState | null {
    if (bytes === null || bytes.byteLength != STATE_BYTES) return null;
    const p = changetype<usize>(bytes);
    if (load<u32>(p) != STATE_MAGIC || load<u32>(p, 4) != VERSION) return null;
    const s = new JwksState();
    s.generation = load<u64>(p, 8);
    s.fetchedAt = load<i64>(p, 16);
    s.refreshAt = load<i64>(p, 24);
    s.fetchingUntil = load<i64>(p, 32);
    s.lastAttemptAt = load<i64>(p, 40);
    s.lastKidRefetchAt = load<i64>(p, 48);
    s.failures = load<u32>(p, 56);
    s.attempts = load<u32>(p, 60);
    s.leaseOwner = load<u32>(p, 64);
    return s;
  }
}

/** The keys record: magic, version, generation, then the JWKS document as fetched. */
export function encodeKeysRecord(generation: u64, jwks: ArrayBuffer): ArrayBuffer {
  const n = jwks.byteLength;
  const b = new ArrayBuffer(KEYS_HEADER_BYTES + n);
  const p = changetype<usize>(b);
  store<u32>(p, KEYS_MAGIC);
  store<u32>(p, VERSION, 4);
  store<u64>(p, generation, 8);
  memory.copy(p + <usize>KEYS_HEADER_BYTES, changetype<usize>(jwks), <usize>n);
  return b;
}

/** Generation of a keys record, or 0 when `record` is not one. */
export function keysRecordGeneration(record: ArrayBuffer | null): u64 {
  if (record === null || record.byteLength < KEYS_HEADER_BYTES) return 0;
  const p = changetype<usize>(record);
  if (load<u32>(p) != KEYS_MAGIC || load<u32>(p, 4) != VERSION) return 0;
  return load<u64>(p, 8);
}

/** Address of the JWKS document inside a keys record (check the generation first). */
export function keysRecordDocument(record: ArrayBuffer): usize {
  return changetype<usize>(record) + <usize>KEYS_HEADER_BYTES;
}

/** Length of the JWKS document inside a keys record. */
export function keysRecordDocumentLength(record: ArrayBuffer): i32 {
  return record.byteLength - KEYS_HEADER_BYTES;
}
