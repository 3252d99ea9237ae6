import { constantTimeEqual } from "../ct";
import { VerifyResult } from "../result";

describe("constantTimeEqual", () => {
  it("finds a difference in any byte, across the 8-byte blocks and the tail", () => {
    const a = new Uint8Array(37);
    for (let i = 0; i < a.length; i++) a[i] = <u8>(i * 31 + 7);
    expect(constantTimeEqual(a, a.slice())).toBe(true);
    for (let i = 0; i < a.length; i++) {
      const b = a.slice();
      b[i] ^= 0x80;
      expect(constantTimeEqual(a, b)).toBe(false);
    }
  });

  it("treats different lengths as different and empty arrays as equal", () => {
    expect(constantTimeEqual(new Uint8Array(3), new Uint8Array(4))).toBe(false);
    expect(constantTimeEqual(new Uint8Array(0), new Uint8Array(0))).toBe(true);
  });
});

describe("VerifyResult", () => {
  it("keeps Valid at zero, so a non-zero code is always a refusal", () => {
    expect<i32>(VerifyResult.Valid).toBe(0);
    expect<i32>(VerifyResult.Invalid).not.toBe(0);
    expect<i32>(VerifyResult.BadKey).not.toBe(0);
    expect<i32>(VerifyResult.BadSignature).not.toBe(0);
    expect<i32>(VerifyResult.BadInput).not.toBe(0);
  });
});
