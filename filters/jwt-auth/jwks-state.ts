/**
 * The records a remote provider's keys live in, in shared data (one copy for all the
 * worker VMs of a `vm_id`, proxy-wasm ABI `proxy_get/set_shared_data`), and the rules
 * that decide when a worker fetches. Pure code: jwks-cache.ts does the hostcalls.
 *
 * Two keys per provider, both shared-data records (assembly/shared; fields in its
 * layouts.ts `JWKS_STATE_*`, `JWKS_KEYS_*`): a small state record, read on every tick by
 * every worker and changed with the shared CAS loop, and the keys record (the JWKS
 * document), read only when the state's generation moves. Anything else found under a
 * key (garbage, another layout version) reads as "no record" (the rollout rule), never
 * a trap.
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
import { RecordLayout } from "../../assembly/shared";
import {
  JWKS_KEYS_DOCUMENT, JWKS_KEYS_GENERATION, JWKS_KEYS_MAGIC, JWKS_KEYS_VERSION, JWKS_STATE_ATTEMPTS, JWKS_STATE_FAILURES,
  JWKS_STATE_FETCHED_AT, JWKS_STATE_FETCHING_UNTIL, JWKS_STATE_GENERATION, JWKS_STATE_LAST_ATTEMPT_AT,
  JWKS_STATE_LAST_KID_REFETCH_AT, JWKS_STATE_LEASE_OWNER, JWKS_STATE_MAGIC, JWKS_STATE_REFRESH_AT, JWKS_STATE_SIZE,
  JWKS_STATE_VERSION,
} from "../../assembly/shared/layouts";

/** Largest JWKS document accepted from a remote. */
export const MAX_JWKS_BYTES: i32 = 1 << 20;
/** The state record. */
export const JWKS_STATE = new RecordLayout(JWKS_STATE_MAGIC, JWKS_STATE_VERSION, JWKS_STATE_SIZE);
/** The keys record: its header, the generation, then a document of at most MAX_JWKS_BYTES. */
export const JWKS_KEYS = new RecordLayout(JWKS_KEYS_MAGIC, JWKS_KEYS_VERSION, JWKS_KEYS_DOCUMENT, JWKS_KEYS_DOCUMENT + MAX_JWKS_BYTES);

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

  /** The record's fields in a new buffer (the header is the CAS loop's). */
  encode(): ArrayBuffer {
    const b = new ArrayBuffer(JWKS_STATE_SIZE);
    const p = changetype<usize>(b);
    store<u32>(p, this.failures, JWKS_STATE_FAILURES);
    store<u32>(p, this.attempts, JWKS_STATE_ATTEMPTS);
    store<u32>(p, this.leaseOwner, JWKS_STATE_LEASE_OWNER);
    store<u64>(p, this.generation, JWKS_STATE_GENERATION);
    store<i64>(p, this.fetchedAt, JWKS_STATE_FETCHED_AT);
    store<i64>(p, this.refreshAt, JWKS_STATE_REFRESH_AT);
    store<i64>(p, this.fetchingUntil, JWKS_STATE_FETCHING_UNTIL);
    store<i64>(p, this.lastAttemptAt, JWKS_STATE_LAST_ATTEMPT_AT);
    store<i64>(p, this.lastKidRefetchAt, JWKS_STATE_LAST_KID_REFETCH_AT);
    return b;
  }

  /** The state in `record`, a record of JWKS_STATE (header checked), or a fresh one when it is null. */
  static decode(record: ArrayBuffer | null): JwksState {
    const s = new JwksState();
    if (record === null) return s;
    const p = changetype<usize>(record);
    s.failures = load<u32>(p, JWKS_STATE_FAILURES);
    s.attempts = load<u32>(p, JWKS_STATE_ATTEMPTS);
    s.leaseOwner = load<u32>(p, JWKS_STATE_LEASE_OWNER);
    s.generation = load<u64>(p, JWKS_STATE_GENERATION);
    s.fetchedAt = load<i64>(p, JWKS_STATE_FETCHED_AT);
    s.refreshAt = load<i64>(p, JWKS_STATE_REFRESH_AT);
    s.fetchingUntil = load<i64>(p, JWKS_STATE_FETCHING_UNTIL);
    s.lastAttemptAt = load<i64>(p, JWKS_STATE_LAST_ATTEMPT_AT);
    s.lastKidRefetchAt = load<i64>(p, JWKS_STATE_LAST_KID_REFETCH_AT);
    return s;
  }
}

/**
 * The keys record of `generation` framing `jwks` (at most MAX_JWKS_BYTES), in a new
 * buffer (the header is the writer's: assembly/shared `overwrite`).
 */
export function encodeKeysRecord(generation: u64, jwks: ArrayBuffer): ArrayBuffer {
  const n = jwks.byteLength;
  const b = new ArrayBuffer(JWKS_KEYS_DOCUMENT + n);
  const p = changetype<usize>(b);
  store<u64>(p, generation, JWKS_KEYS_GENERATION);
  memory.copy(p + <usize>JWKS_KEYS_DOCUMENT, changetype<usize>(jwks), <usize>n);
  return b;
}

/** Generation of a keys record, or 0 when `value` is not one. */
export function keysRecordGeneration(value: ArrayBuffer | null): u64 {
  const record = JWKS_KEYS.recordOf(value);
  return record === null ? 0 : load<u64>(changetype<usize>(record), JWKS_KEYS_GENERATION);
}

/** Address of the JWKS document inside a keys record (check the generation first). */
export function keysRecordDocument(record: ArrayBuffer): usize {
  return changetype<usize>(record) + <usize>JWKS_KEYS_DOCUMENT;
}

/** Length of the JWKS document inside a keys record. */
export function keysRecordDocumentLength(record: ArrayBuffer): i32 {
  return record.byteLength - JWKS_KEYS_DOCUMENT;
}
