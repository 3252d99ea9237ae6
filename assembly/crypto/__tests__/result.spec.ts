import { VerifyResult } from "../result";

describe("VerifyResult", () => {
  it("keeps Valid at zero so that callers can test for it", () => {
    expect<i32>(VerifyResult.Valid).toBe(0);
    expect<i32>(VerifyResult.BadInput).toBeGreaterThan(VerifyResult.Valid);
  });
});
