import * as fe from "../field";
import { curveD, sqrtM1 } from "../point";
import { isCanonicalScalar, reduce512 } from "../scalar";
import { fromHex, toHex } from "../../__tests__/util";

// Known answers for GF(2^255 - 19) and scalars mod L; test/crypto/eddsa-arith.test.ts
// checks the same code against BigInt on random and extreme inputs.
const A: usize = memory.data(40, 8);
const B: usize = memory.data(40, 8);
const C: usize = memory.data(40, 8);
const OUT: usize = memory.data(64, 8);

function small(h: usize, v: i32): void {
  fe.zero(h);
  store<i32>(h, v);
}

function encoded(f: usize): string {
  const out = new Uint8Array(32);
  fe.toBytes(out.dataStart, f);
  return toHex(out);
}

describe("field constants (RFC 8032 §5.1)", () => {
  it("has d = -121665/121666", () => {
    curveD(A);
    small(B, 121666);
    fe.mul(A, A, B);
    small(C, 121665);
    fe.neg(C, C);
    expect(fe.equal(A, C)).toBe(true);
  });

  it("has sqrt(-1) squaring to -1", () => {
    sqrtM1(A);
    fe.sq(A, A);
    fe.one(B);
    fe.neg(B, B);
    expect(fe.equal(A, B)).toBe(true);
  });
});

describe("field arithmetic", () => {
  it("inverts: 2 · 1/2 = 1, and 1/2 = (p + 1)/2", () => {
    small(A, 2);
    fe.invert(B, A);
    expect(encoded(B)).toBe("f7ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff3f");
    fe.mul(B, B, A);
    expect(encoded(B)).toBe("0100000000000000000000000000000000000000000000000000000000000000");
  });

  it("encodes p - 1 + 1 as 0 and -1 as p - 1", () => {
    fe.one(A);
    fe.neg(A, A);
    expect(encoded(A)).toBe("ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f");
    fe.one(B);
    fe.add(A, A, B);
    expect(fe.isZero(A)).toBe(true);
  });

  it("tells canonical y (< p) from y ≥ p, ignoring the sign bit", () => {
    const p = fromHex("edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f");
    expect(fe.isCanonical(p.dataStart)).toBe(false);
    p[0] = 0xec;
    expect(fe.isCanonical(p.dataStart)).toBe(true);
    p[31] = 0xff; // sign bit set: y is still p - 1
    expect(fe.isCanonical(p.dataStart)).toBe(true);
  });
});

describe("scalars mod L", () => {
  it("checks S < L (RFC 8032 §5.1.7)", () => {
    const l = fromHex("edd3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010");
    expect(isCanonicalScalar(l.dataStart)).toBe(false);
    l[0] = 0xec;
    expect(isCanonicalScalar(l.dataStart)).toBe(true);
  });

  it("reduces 2^512 - 1 mod L", () => {
    const h = new Uint8Array(64);
    h.fill(0xff);
    reduce512(OUT, h.dataStart);
    // (2^512 - 1) mod L, little-endian
    const out = new Uint8Array(32);
    memory.copy(out.dataStart, OUT, 32);
    expect(toHex(out)).toBe("000f9c44e31106a447938568a71b0ed065bef517d273ecce3d9a307c1b419903");
  });
});
