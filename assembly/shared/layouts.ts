/**
 * The layout table of every record the filters keep in proxy-wasm shared data: one
 * numeric constant per field, its byte offset (little endian; the type is in the
 * comment). Written in the subset of TypeScript that AssemblyScript also compiles, so the
 * filters (AssemblyScript) and the harness's codec (harness/shared-record.ts) read the
 * same numbers; test/filters/shared-records.test.ts fails if the codec's fields do not
 * tile these records exactly, and each filter's spec checks its code against them.
 *
 * Every record starts with the common header (`HEADER_*`, index.ts): its kind (`*_MAGIC`,
 * four ASCII bytes), its layout version (`*_VERSION`) and its size. A change of a
 * record's layout bumps its version here; index.ts says what a worker running one
 * version does with a record of another (reads it as reset).
 */

// ---- Header, common to every record -------------------------------------------------
/** u32: the record's kind, four ASCII bytes read as a little-endian u32. */
export const HEADER_MAGIC = 0;
/** u32: the layout version of that kind. */
export const HEADER_VERSION = 4;
/** u32: bytes of the whole record, header included (the value's length). */
export const HEADER_SIZE = 8;
/** Bytes of the header; the fields of each record follow it. */
export const HEADER_BYTES = 12;

// ---- circuit-breaker: one service's circuit (filters/circuit-breaker/record.ts) -----
/** "CBRK". */
export const CIRCUIT_MAGIC = 0x4b524243;
export const CIRCUIT_VERSION = 1;
/** u32: 0 CLOSED, 1 OPEN, 2 HALF_OPEN. */
export const CIRCUIT_STATE = 12;
/** u32: +1 at every transition. */
export const CIRCUIT_GENERATION = 16;
/** u32: consecutive failures (CLOSED). */
export const CIRCUIT_CONSECUTIVE_FAILURES = 20;
/** u32: probes in flight (HALF_OPEN). */
export const CIRCUIT_PROBES_IN_FLIGHT = 24;
/** u32: successful probes (HALF_OPEN). */
export const CIRCUIT_PROBE_SUCCESSES = 28;
/** u32: requests in flight (bulkhead). */
export const CIRCUIT_IN_FLIGHT = 32;
/** u32: width of a window bucket, ms (the window is cleared when it changes). */
export const CIRCUIT_BUCKET_WIDTH_MS = 36;
/** i64: OPEN until, ms since the epoch. */
export const CIRCUIT_OPEN_UNTIL_MS = 40;
/** i64: when the current state was entered, ms. */
export const CIRCUIT_STATE_SINCE_MS = 48;
/** i64: last probe admitted or completed, ms (HALF_OPEN lease). */
export const CIRCUIT_PROBE_ACTIVITY_MS = 56;
/** CIRCUIT_BUCKET_COUNT window buckets of CIRCUIT_BUCKET_BYTES from here. */
export const CIRCUIT_BUCKETS = 64;
export const CIRCUIT_BUCKET_COUNT = 10;
export const CIRCUIT_BUCKET_BYTES = 20;
/** In a bucket: i64 bucket number (time / width), u32 calls, u32 failures, u32 slow calls. */
export const CIRCUIT_BUCKET_NUMBER = 0;
export const CIRCUIT_BUCKET_CALLS = 8;
export const CIRCUIT_BUCKET_FAILURES = 12;
export const CIRCUIT_BUCKET_SLOW = 16;
export const CIRCUIT_SIZE = CIRCUIT_BUCKETS + CIRCUIT_BUCKET_COUNT * CIRCUIT_BUCKET_BYTES;

// ---- circuit-breaker: a circuit without a window (filters/circuit-breaker/record.ts) -
// A service with no rate trigger never reads the window, so its record stops where the
// buckets would start: the CIRCUIT_* fields at the same offsets, 64 bytes instead of
// 264 (each request copies it twice). Its own kind: a service that gains or loses a
// rate trigger reads the other kind's record as reset.
/** "CBRC". */
export const CIRCUIT_COMPACT_MAGIC = 0x43524243;
export const CIRCUIT_COMPACT_VERSION = 1;
export const CIRCUIT_COMPACT_SIZE = CIRCUIT_BUCKETS;

// ---- retry: the retry budget's sliding window (filters/retry/budget.ts) -------------
/** "RTBG". */
export const BUDGET_MAGIC = 0x47425452;
export const BUDGET_VERSION = 1;
/** i64: width of a slot, ns (window / BUDGET_SLOT_COUNT): another window reads as empty. */
export const BUDGET_SLOT_NANOS = 12;
/** i64: index of the newest slot (time / slot width), -1 when empty. */
export const BUDGET_NEWEST = 20;
/** BUDGET_SLOT_COUNT slots of BUDGET_SLOT_BYTES from here; slot i holds index ≡ i (mod count). */
export const BUDGET_SLOTS = 28;
export const BUDGET_SLOT_COUNT = 10;
export const BUDGET_SLOT_BYTES = 8;
/** In a slot: u32 requests admitted, u32 retries reserved (less those given back). */
export const BUDGET_SLOT_REQUESTS = 0;
export const BUDGET_SLOT_RETRIES = 4;
export const BUDGET_SIZE = BUDGET_SLOTS + BUDGET_SLOT_COUNT * BUDGET_SLOT_BYTES;

// ---- rate-limit: a page of the bucket table (filters/rate-limit/bucket-page.ts) -----
// Variable size: PAGE_SLOTS + in-use × slot bytes, a slot being
// PAGE_SLOT_BUCKETS + limits × PAGE_BUCKET_BYTES.
/** "RLPG". */
export const PAGE_MAGIC = 0x47504c52;
export const PAGE_VERSION = 1;
/** u8: slots a page has (its ways, ≤ 8). */
export const PAGE_WAYS = 12;
/** u8: slots in use. */
export const PAGE_IN_USE = 13;
/** u8: buckets (limits) per slot. */
export const PAGE_LIMITS = 14;
/** u8: 0. */
export const PAGE_RESERVED = 15;
/** The slots in use, from here. */
export const PAGE_SLOTS = 16;
/** In a slot: u16 rule index, u16 rule fingerprint, u8 key form (length 0..40, or 0xFF: SHA-256 of a longer key), 3 bytes 0. */
export const PAGE_SLOT_RULE = 0;
export const PAGE_SLOT_FINGERPRINT = 2;
export const PAGE_SLOT_KEY_FORM = 4;
export const PAGE_SLOT_RESERVED = 5;
/** PAGE_SLOT_KEY_BYTES bytes: the key, zero padded. */
export const PAGE_SLOT_KEY = 8;
export const PAGE_SLOT_KEY_BYTES = 40;
/** i64: monotonic ns at which every bucket of the slot is full again. */
export const PAGE_SLOT_FULL_AT = 48;
/** One bucket of PAGE_BUCKET_BYTES per limit from here (filters/rate-limit/token-bucket.ts). */
export const PAGE_SLOT_BUCKETS = 56;
/** In a bucket: i64 tokens in the limit's fixed-point units, i64 monotonic ns of the last refill. */
export const PAGE_BUCKET_TOKENS = 0;
export const PAGE_BUCKET_REFILLED_AT = 8;
export const PAGE_BUCKET_BYTES = 16;

// ---- jwt-auth: a remote provider's fetch state (filters/jwt-auth/jwks-state.ts) -----
/** "JWKS" (version 1 had no size field). */
export const JWKS_STATE_MAGIC = 0x534b574a;
export const JWKS_STATE_VERSION = 2;
/** u32: failed attempts since the last success. */
export const JWKS_STATE_FAILURES = 12;
/** u32: fetches finished (successful or not). */
export const JWKS_STATE_ATTEMPTS = 16;
/** u32: the lease holder's number. */
export const JWKS_STATE_LEASE_OWNER = 20;
/** u64: +1 at every successful fetch; 0: no keys yet. */
export const JWKS_STATE_GENERATION = 24;
/** i64 times, ms since the epoch: last success, refresh due, lease end (0: none), last attempt, last refetch for an unknown kid. */
export const JWKS_STATE_FETCHED_AT = 32;
export const JWKS_STATE_REFRESH_AT = 40;
export const JWKS_STATE_FETCHING_UNTIL = 48;
export const JWKS_STATE_LAST_ATTEMPT_AT = 56;
export const JWKS_STATE_LAST_KID_REFETCH_AT = 64;
export const JWKS_STATE_SIZE = 72;

// ---- jwt-auth: a remote provider's keys (filters/jwt-auth/jwks-state.ts) ------------
/** "JWKD" (version 1 had no size field). Variable size: JWKS_KEYS_DOCUMENT + the document's bytes. */
export const JWKS_KEYS_MAGIC = 0x444b574a;
export const JWKS_KEYS_VERSION = 2;
/** u64: the generation of the state record that announced these keys. */
export const JWKS_KEYS_GENERATION = 12;
/** The JWKS document as fetched, to the end of the record. */
export const JWKS_KEYS_DOCUMENT = 20;
