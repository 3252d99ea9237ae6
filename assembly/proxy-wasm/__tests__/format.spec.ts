import { asciiLowerCase, formatHex, formatInteger, formatNumber, formatUnsigned } from "../format";

describe("formatInteger / formatUnsigned", () => {
  it("write what toString() writes, at the extremes too", () => {
    const values: i64[] = [0, 7, -7, 10, 99, -100, 1234567890, i32.MIN_VALUE, i64.MAX_VALUE, i64.MIN_VALUE];
    for (let i = 0; i < values.length; i++) expect<string>(formatInteger(values[i])).toBe(values[i].toString());
    const unsigned: u64[] = [0, 9, 10, u32.MAX_VALUE, u64.MAX_VALUE];
    for (let i = 0; i < unsigned.length; i++) expect<string>(formatUnsigned(unsigned[i])).toBe(unsigned[i].toString());
  });
});

describe("formatHex", () => {
  it("writes lower-case digits, padded to the minimum", () => {
    expect<string>(formatHex(0)).toBe("0");
    expect<string>(formatHex(0x1f)).toBe("1f");
    expect<string>(formatHex(5, 2)).toBe("05");
    expect<string>(formatHex(0xabc, 2)).toBe("abc");
    expect<string>(formatHex(u64.MAX_VALUE)).toBe("ffffffffffffffff");
  });
});

describe("asciiLowerCase", () => {
  it("lowers A-Z only and returns the same string when nothing changes", () => {
    expect<string>(asciiLowerCase("X-User-ID")).toBe("x-user-id");
    expect<string>(asciiLowerCase("@[Z]`{")).toBe("@[z]`{");
    expect<string>(asciiLowerCase("ÄBC")).toBe("Äbc"); // not ASCII: kept
    const lower = "already-lower";
    expect<bool>(changetype<usize>(asciiLowerCase(lower)) == changetype<usize>(lower)).toBe(true);
    expect<string>(asciiLowerCase("")).toBe("");
  });
});

describe("formatNumber", () => {
  it("writes numbers as JavaScript does, for integers and up to 9 decimals", () => {
    const values: f64[] = [0, 50, -7, 12.5, 33.3, 0.5, 0.05, 1.005, 99.99, 0.000001, 0.123456789, 1e-7, 2.5e-9, 1e21, -0.25];
    const written = ["0", "50", "-7", "12.5", "33.3", "0.5", "0.05", "1.005", "99.99", "0.000001", "0.123456789", "1e-7", "2.5e-9", "1e+21", "-0.25"];
    for (let i = 0; i < values.length; i++) expect<string>(formatNumber(values[i])).toBe(written[i]);
    expect<string>(formatNumber(NaN)).toBe("NaN");
    expect<string>(formatNumber(-Infinity)).toBe("-Infinity");
  });

  it("rounds what needs more than 9 decimals to 9", () => {
    expect<string>(formatNumber(1.0 / 3)).toBe("0.333333333");
    expect<string>(formatNumber(200.0 / 3)).toBe("66.666666667");
  });
});
