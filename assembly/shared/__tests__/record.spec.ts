import { RecordLayout, RecordUpdate, UpdateResult, update } from "..";
import {
  BUDGET_MAGIC, CIRCUIT_MAGIC, HEADER_BYTES, HEADER_MAGIC, HEADER_SIZE, HEADER_VERSION, JWKS_KEYS_MAGIC, JWKS_STATE_MAGIC,
  PAGE_MAGIC,
} from "../layouts";

/** The four ASCII bytes of `magic` (little endian), as layouts.ts names them. */
function magicText(magic: u32): string {
  return String.fromCharCodes([magic & 0xff, (magic >> 8) & 0xff, (magic >> 16) & 0xff, magic >> 24]);
}

const FIXED = new RecordLayout(0x54534554, 3, 24); // "TEST"
const VARIABLE = new RecordLayout(0x54534554, 3, 16, 40);

function stamped(layout: RecordLayout, size: i32): ArrayBuffer {
  const b = new ArrayBuffer(size);
  layout.stamp(b);
  return b;
}

/** Records what `update` hands to `apply`; writes `answer`. */
class Probe extends RecordUpdate {
  calls: i32 = 0;
  sawNull: bool = false;
  constructor(readonly answer: ArrayBuffer | null) {
    super();
  }
  apply(record: ArrayBuffer | null): ArrayBuffer | null {
    this.calls++;
    this.sawNull = record === null;
    return this.answer;
  }
}

describe("record header", () => {
  it("names each record kind with four distinct ASCII bytes", () => {
    expect<string>(magicText(CIRCUIT_MAGIC)).toBe("CBRK");
    expect<string>(magicText(BUDGET_MAGIC)).toBe("RTBG");
    expect<string>(magicText(PAGE_MAGIC)).toBe("RLPG");
    expect<string>(magicText(JWKS_STATE_MAGIC)).toBe("JWKS");
    expect<string>(magicText(JWKS_KEYS_MAGIC)).toBe("JWKD");
    expect<i32>(HEADER_MAGIC).toBe(0);
    expect<i32>(HEADER_VERSION).toBe(4);
    expect<i32>(HEADER_SIZE).toBe(8);
    expect<i32>(HEADER_BYTES).toBe(12);
  });

  it("stamps magic, version and size, and accepts what it stamped", () => {
    const b = stamped(FIXED, 24);
    const p = changetype<usize>(b);
    expect<u32>(load<u32>(p, HEADER_MAGIC)).toBe(0x54534554);
    expect<u32>(load<u32>(p, HEADER_VERSION)).toBe(3);
    expect<u32>(load<u32>(p, HEADER_SIZE)).toBe(24);
    expect<bool>(FIXED.recordOf(b) === b).toBe(true);
    expect<bool>(VARIABLE.recordOf(stamped(VARIABLE, 16)) !== null).toBe(true);
    expect<bool>(VARIABLE.recordOf(stamped(VARIABLE, 40)) !== null).toBe(true);
  });

  it("reads anything else as no record: missing, short, another kind, version or size", () => {
    expect<bool>(FIXED.recordOf(null) === null).toBe(true);
    expect<bool>(FIXED.recordOf(new ArrayBuffer(0)) === null).toBe(true);
    expect<bool>(FIXED.recordOf(new ArrayBuffer(24)) === null).toBe(true);
    expect<bool>(FIXED.recordOf(stamped(FIXED, 24).slice(0, 23)) === null).toBe(true);
    expect<bool>(FIXED.recordOf(stamped(new RecordLayout(0x54534554, 2, 24), 24)) === null).toBe(true);
    expect<bool>(FIXED.recordOf(stamped(new RecordLayout(0x54534554, 4, 24), 24)) === null).toBe(true);
    expect<bool>(FIXED.recordOf(stamped(new RecordLayout(CIRCUIT_MAGIC, 3, 24), 24)) === null).toBe(true);
    expect<bool>(FIXED.recordOf(stamped(new RecordLayout(0x54534554, 3, 28), 28)) === null).toBe(true);
    // The size field must be the value's length.
    const lying = stamped(FIXED, 24);
    store<u32>(changetype<usize>(lying), 20, HEADER_SIZE);
    expect<bool>(FIXED.recordOf(lying) === null).toBe(true);
    expect<bool>(VARIABLE.recordOf(stamped(VARIABLE, 41)) === null).toBe(true);
    expect<bool>(VARIABLE.recordOf(stamped(VARIABLE, 15)) === null).toBe(true);
    // Shorter than a header: never read past the value.
    expect<bool>(new RecordLayout(0x54534554, 3, 4, 40).recordOf(new ArrayBuffer(8)) === null).toBe(true);
  });
});

describe("update (as-pect's host stub answers NOT_FOUND to every hostcall)", () => {
  it("hands a missing key to apply as no record, and writes nothing when apply returns null", () => {
    const probe = new Probe(null);
    expect<UpdateResult>(update(String.UTF8.encode("k"), FIXED, probe)).toBe(UpdateResult.Unchanged);
    expect<i32>(probe.calls).toBe(1);
    expect<bool>(probe.sawNull).toBe(true);
  });

  it("stamps the record written, and reports a refused write as HostError without retrying", () => {
    const record = new ArrayBuffer(24);
    const probe = new Probe(record);
    expect<UpdateResult>(update(String.UTF8.encode("k"), FIXED, probe)).toBe(UpdateResult.HostError);
    expect<i32>(probe.calls).toBe(1);
    expect<bool>(FIXED.recordOf(record) === record).toBe(true);
  });
});
