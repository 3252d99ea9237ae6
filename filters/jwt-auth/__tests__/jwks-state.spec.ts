import {
  JwksState, KID_REFETCH_INTERVAL_MS, STATE_BYTES, encodeKeysRecord, keysRecordDocumentLength, keysRecordGeneration,
} from "../jwks-state";

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
    const back = JwksState.decode(s.encode())!;
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

  it("reads garbage, truncated records and foreign magic numbers as no record", () => {
    expect(JwksState.decode(null)).toBeNull();
    expect(JwksState.decode(new ArrayBuffer(STATE_BYTES))).toBeNull();
    expect(JwksState.decode(new ArrayBuffer(3))).toBeNull();
    const good = new JwksState().encode();
    expect(JwksState.decode(good.slice(0, STATE_BYTES - 1))).toBeNull();
    expect(keysRecordGeneration(String.UTF8.encode("{\"keys\":[]}"))).toBe(0);
    expect(keysRecordGeneration(null)).toBe(0);
  });

  it("frames the JWKS document with its generation", () => {
    const doc = String.UTF8.encode("{\"keys\":[]}");
    const record = encodeKeysRecord(42, doc);
    expect(keysRecordGeneration(record)).toBe(42);
    expect(keysRecordDocumentLength(record)).toBe(doc.byteLength);
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
