import { HEADER_VERSION, JWKS_KEYS_VERSION, JWKS_STATE_SIZE, JWKS_STATE_VERSION } from "../../../assembly/shared/layouts";
import {
  JWKS_KEYS, JWKS_STATE, JwksState, KID_REFETCH_INTERVAL_MS, encodeKeysRecord, keysRecordDocumentLength, keysRecordGeneration,
} from "../jwks-state";

/** The state record as the CAS loop writes it (header stamped). */
function stateRecord(s: JwksState): ArrayBuffer {
  const b = s.encode();
  JWKS_STATE.stamp(b);
  return b;
}

/** The keys record as `overwrite` writes it (header stamped). */
function keysRecord(generation: u64, doc: ArrayBuffer): ArrayBuffer {
  const b = encodeKeysRecord(generation, doc);
  JWKS_KEYS.stamp(b);
  return b;
}

describe("JwksState records in shared data", () => {
  it("round-trips every field", () => {
    const s = new JwksState();
    s.generation = 7;
    s.fetchedAt = 1_000;
    s.refreshAt = 541_000;
    s.fetchingUntil = 3_000;
    s.lastAttemptAt = 2_000;
    s.lastKidRefetchAt = 1_500;
    s.failures = 3;
    s.attempts = 9;
    s.leaseOwner = 0xdeadbeef;
    const record = stateRecord(s);
    expect<i32>(record.byteLength).toBe(JWKS_STATE_SIZE);
    const back = JwksState.decode(JWKS_STATE.recordOf(record));
    expect(back.generation).toBe(7);
    expect(back.fetchedAt).toBe(1_000);
    expect(back.refreshAt).toBe(541_000);
    expect(back.fetchingUntil).toBe(3_000);
    expect(back.lastAttemptAt).toBe(2_000);
    expect(back.lastKidRefetchAt).toBe(1_500);
    expect(back.failures).toBe(3);
    expect(back.attempts).toBe(9);
    expect(back.leaseOwner).toBe(0xdeadbeef);
  });

  it("reads garbage, truncated records, foreign magic numbers and other layout versions as no record", () => {
    expect(JWKS_STATE.recordOf(null)).toBeNull();
    expect(JWKS_STATE.recordOf(new ArrayBuffer(JWKS_STATE_SIZE))).toBeNull();
    expect(JWKS_STATE.recordOf(new ArrayBuffer(3))).toBeNull();
    const good = stateRecord(new JwksState());
    expect(JWKS_STATE.recordOf(good)).not.toBeNull();
    expect(JWKS_STATE.recordOf(good.slice(0, JWKS_STATE_SIZE - 1))).toBeNull();
    const older = good.slice(0);
    store<u32>(changetype<usize>(older), JWKS_STATE_VERSION - 1, HEADER_VERSION);
    expect(JWKS_STATE.recordOf(older)).toBeNull();
    expect(JWKS_KEYS.recordOf(good)).toBeNull(); // a state record is not a keys record
    // No record: a fresh state, nothing fetched.
    const fresh = JwksState.decode(null);
    expect(fresh.generation).toBe(0);
    expect(fresh.fetchingUntil).toBe(0);
    expect(keysRecordGeneration(String.UTF8.encode("{\"keys\":[]}"))).toBe(0);
    expect(keysRecordGeneration(null)).toBe(0);
  });

  it("frames the JWKS document with its generation", () => {
    const doc = String.UTF8.encode("{\"keys\":[]}");
    const record = keysRecord(42, doc);
    expect(keysRecordGeneration(record)).toBe(42);
    expect(keysRecordDocumentLength(record)).toBe(doc.byteLength);
    expect(keysRecordGeneration(encodeKeysRecord(42, doc))).toBe(0); // no header yet: not a record
    const older = record.slice(0);
    store<u32>(changetype<usize>(older), JWKS_KEYS_VERSION - 1, HEADER_VERSION);
    expect(keysRecordGeneration(older)).toBe(0);
  });
});

describe("JwksState.mayFetch: one fetch at a time, refresh, kid refetch, backoff", () => {
  it("fetches at once when nothing was ever fetched, but not while a lease runs", () => {
    const s = new JwksState();
    expect(s.mayFetch(1000, false, false)).toBe(true);
    s.fetchingUntil = 5000;
    expect(s.mayFetch(4999, false, false)).toBe(false);
    expect(s.mayFetch(5000, false, false)).toBe(true); // an expired lease frees the fetch
  });

  it("refreshes when refreshAt passes, and refetches for a kid at most once per interval", () => {
    const s = new JwksState();
    s.generation = 1;
    s.refreshAt = 10_000;
    s.lastKidRefetchAt = 2_000;
    expect(s.mayFetch(9_999, false, true)).toBe(false);
    expect(s.mayFetch(10_000, false, true)).toBe(true);
    expect(s.mayFetch(2_000 + KID_REFETCH_INTERVAL_MS - 1, true, true)).toBe(false);
    expect(s.mayFetch(2_000 + KID_REFETCH_INTERVAL_MS, true, true)).toBe(true);
    expect(s.mayFetch(3_000, false, false)).toBe(true); // this worker lacks keys: fetch
  });

  it("backs off 1 s, 2 s, 4 s... up to 30 s after failures", () => {
    const s = new JwksState();
    s.lastAttemptAt = 100_000;
    s.failures = 1;
    expect(s.mayFetch(100_999, false, false)).toBe(false);
    expect(s.mayFetch(101_000, false, false)).toBe(true);
    s.failures = 3;
    expect(s.mayFetch(103_999, false, false)).toBe(false);
    expect(s.mayFetch(104_000, false, false)).toBe(true);
    s.failures = 40;
    expect(s.mayFetch(129_999, false, false)).toBe(false);
    expect(s.mayFetch(130_000, false, false)).toBe(true);
  });
});
