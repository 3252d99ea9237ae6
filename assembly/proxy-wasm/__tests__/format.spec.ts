import { asciiLowerCase, formatHex, formatInteger, formatUnsigned } from "../format";

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
