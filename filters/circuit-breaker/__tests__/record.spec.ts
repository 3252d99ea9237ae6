import { CIRCUIT_BUCKETS, CIRCUIT_BUCKET_COUNT, CIRCUIT_COMPACT_SIZE, CIRCUIT_IN_FLIGHT, CIRCUIT_SIZE, CIRCUIT_STATE, CIRCUIT_VERSION, HEADER_VERSION } from "../../../assembly/shared/layouts";
import { WINDOW_BUCKETS } from "../config";
import { CIRCUIT_COMPACT_LAYOUT, CIRCUIT_LAYOUT, CircuitRecord, CircuitState, WindowTotals, circuitLayout, stateName } from "../record";

function sample(): CircuitRecord {
  const rec = new CircuitRecord();
  rec.reset(1000);
  rec.state = CircuitState.HalfOpen;
  rec.generation = 7;
  rec.consecutiveFailures = 2;
  rec.probesInFlight = 1;
  rec.probeSuccesses = 3;
  rec.inFlight = 4;
  rec.openUntilMs = 1_767_225_660_000;
  rec.stateSinceMs = 1_767_225_600_000;
  rec.probeActivityMs = 1_767_225_600_500;
  rec.recordCall(1_767_225_600_000, true, false);
  rec.recordCall(1_767_225_601_000, false, true);
  return rec;
}

/** The record as the CAS loop writes it: fields, then the header stamped. */
function encoded(rec: CircuitRecord): ArrayBuffer {
  const buf = rec.encode(new ArrayBuffer(CIRCUIT_SIZE));
  CIRCUIT_LAYOUT.stamp(buf);
  return buf;
}

/** Decodes a shared-data value as the CAS loop hands it over (header checked). */
function decodeValue(rec: CircuitRecord, value: ArrayBuffer, width: u32): bool {
  return rec.decode(CIRCUIT_LAYOUT.recordOf(value), width);
}

function decode(buf: ArrayBuffer, width: u32): CircuitRecord {
  const rec = new CircuitRecord();
  decodeValue(rec, buf, width);
  return rec;
}

describe("CircuitRecord", () => {
  it("round-trips through its shared-data encoding", () => {
    const back = decode(encoded(sample()), 1000);
    expect<i32>(back.state).toBe(CircuitState.HalfOpen);
    expect<u32>(back.generation).toBe(7);
    expect<u32>(back.consecutiveFailures).toBe(2);
    expect<u32>(back.probesInFlight).toBe(1);
    expect<u32>(back.probeSuccesses).toBe(3);
    expect<u32>(back.inFlight).toBe(4);
    expect<i64>(back.openUntilMs).toBe(1_767_225_660_000);
    expect<i64>(back.stateSinceMs).toBe(1_767_225_600_000);
    expect<i64>(back.probeActivityMs).toBe(1_767_225_600_500);
    const totals = back.windowTotals(1_767_225_601_000, new WindowTotals());
    expect<u32>(totals.calls).toBe(2);
    expect<u32>(totals.failures).toBe(1);
    expect<u32>(totals.slow).toBe(1);
  });

  it("has the window layouts.ts gives the record", () => {
    expect<i32>(CIRCUIT_BUCKET_COUNT).toBe(WINDOW_BUCKETS);
    expect<i32>(encoded(sample()).byteLength).toBe(CIRCUIT_SIZE);
  });

  it("reads garbage, another layout version and impossible counts as a fresh CLOSED circuit", () => {
    const short = new ArrayBuffer(10);
    const rec = new CircuitRecord();
    expect<bool>(decodeValue(rec, short, 1000)).toBe(false);
    expect<i32>(rec.state).toBe(CircuitState.Closed);
    expect<bool>(rec.decode(null, 1000)).toBe(false);

    const badMagic = encoded(sample());
    store<u32>(changetype<usize>(badMagic), 0xdeadbeef);
    const r1 = new CircuitRecord();
    expect<bool>(decodeValue(r1, badMagic, 1000)).toBe(false);
    expect<u32>(r1.generation).toBe(0);

    const older = encoded(sample());
    store<u32>(changetype<usize>(older), CIRCUIT_VERSION - 1, HEADER_VERSION);
    const r3 = new CircuitRecord();
    expect<bool>(decodeValue(r3, older, 1000)).toBe(false);
    expect<i32>(r3.state).toBe(CircuitState.Closed);

    const badState = encoded(sample());
    store<u32>(changetype<usize>(badState), 3, CIRCUIT_STATE);
    expect<bool>(decodeValue(new CircuitRecord(), badState, 1000)).toBe(false);

    const hugeCount = encoded(sample());
    store<u32>(changetype<usize>(hugeCount), 0xffffffff, CIRCUIT_IN_FLIGHT);
    const r2 = new CircuitRecord();
    expect<bool>(decodeValue(r2, hugeCount, 1000)).toBe(false);
    expect<u32>(r2.inFlight).toBe(0);
  });

  it("has a compact layout without the window for a service with no rate trigger", () => {
    expect<bool>(circuitLayout(true) === CIRCUIT_LAYOUT).toBe(true);
    expect<bool>(circuitLayout(false) === CIRCUIT_COMPACT_LAYOUT).toBe(true);
    expect<i32>(CIRCUIT_COMPACT_SIZE).toBe(CIRCUIT_BUCKETS);
    const compact = sample().encode(new ArrayBuffer(CIRCUIT_COMPACT_SIZE));
    CIRCUIT_COMPACT_LAYOUT.stamp(compact);
    expect<i32>(compact.byteLength).toBe(64);
    const back = new CircuitRecord();
    expect<bool>(back.decode(CIRCUIT_COMPACT_LAYOUT.recordOf(compact), 1000)).toBe(true);
    expect<i32>(back.state).toBe(CircuitState.HalfOpen);
    expect<u32>(back.consecutiveFailures).toBe(2);
    expect<u32>(back.inFlight).toBe(4);
    expect<i64>(back.probeActivityMs).toBe(1_767_225_600_500);
    expect<u32>(back.windowTotals(1_767_225_601_000, new WindowTotals()).calls).toBe(0);
    // Each layout reads the other as no record (reset).
    expect<bool>(CIRCUIT_LAYOUT.recordOf(compact) === null).toBe(true);
    expect<bool>(CIRCUIT_COMPACT_LAYOUT.recordOf(encoded(sample())) === null).toBe(true);
  });

  it("keeps the state but forgets the window when the bucket width changed", () => {
    const rec = decode(encoded(sample()), 2000);
    expect<i32>(rec.state).toBe(CircuitState.HalfOpen);
    expect<u32>(rec.inFlight).toBe(4);
    expect<u32>(rec.bucketWidthMs).toBe(2000);
    expect<u32>(rec.windowTotals(1_767_225_601_000, new WindowTotals()).calls).toBe(0);
  });

  it("counts the current bucket and the nine before it", () => {
    const rec = new CircuitRecord();
    rec.reset(1000);
    const t: i64 = 1_767_225_600_000;
    for (let i = 0; i < 15; i++) rec.recordCall(t + <i64>i * 1000, i % 2 == 0, false);
    const totals = rec.windowTotals(t + 14_000, new WindowTotals());
    expect<u32>(totals.calls).toBe(10); // buckets 5..14
    expect<u32>(totals.failures).toBe(5);
    expect<u32>(rec.windowTotals(t + 14_999, new WindowTotals()).calls).toBe(10);
    expect<u32>(rec.windowTotals(t + 15_000, new WindowTotals()).calls).toBe(9);
    expect<u32>(rec.windowTotals(t + 30_000, new WindowTotals()).calls).toBe(0);
  });

  it("never indexes a negative bucket when the host clock fails (reads 0)", () => {
    const rec = new CircuitRecord();
    rec.reset(1000);
    rec.recordCall(0, true, false);
    rec.recordCall(-5, true, false);
    expect<u32>(rec.windowTotals(0, new WindowTotals()).calls).toBe(2);
  });

  it("names states as resilience4j does", () => {
    expect<string>(stateName(CircuitState.Closed)).toBe("CLOSED");
    expect<string>(stateName(CircuitState.Open)).toBe("OPEN");
    expect<string>(stateName(CircuitState.HalfOpen)).toBe("HALF_OPEN");
  });
});
