import { HeaderName } from "../headers";
import { ascii } from "../format";

const STATIC = changetype<HeaderName>(ascii.bytes("x-envoy-retry-on"));

function byteAt(name: HeaderName, i: i32): u8 {
  return load<u8>(changetype<usize>(name) + <usize>i);
}

describe("HeaderName", () => {
  it("of() lowers A-Z only and encodes UTF-8 once", () => {
    const n = HeaderName.of("X-Request-ID");
    expect<string>(n.toString()).toBe("x-request-id");
    expect<i32>(n.byteLength).toBe(12);
    const u = HeaderName.of("X-Caf\u00c9");
    expect<string>(u.toString()).toBe("x-caf\u00c9"); // É is not ASCII: kept
    expect<i32>(u.byteLength).toBe(7);
    expect<i32>(HeaderName.of("").byteLength).toBe(0);
  });

  it("is its bytes: the pointer is the UTF-8 data, bytes is the same object", () => {
    const n = HeaderName.of(":path");
    expect<usize>(changetype<usize>(n.bytes)).toBe(changetype<usize>(n));
    expect<u8>(byteAt(n, 0)).toBe(0x3a);
    expect<u8>(byteAt(n, 4)).toBe(0x68);
  });

  it("wrap() takes bytes as they are, without a copy", () => {
    const bytes = String.UTF8.encode("Session");
    const n = HeaderName.wrap(bytes);
    expect<usize>(changetype<usize>(n)).toBe(changetype<usize>(bytes));
    expect<string>(n.toString()).toBe("Session");
  });

  it("a constant from ascii.bytes has the literal's bytes", () => {
    expect<i32>(STATIC.byteLength).toBe(16);
    expect<string>(STATIC.toString()).toBe("x-envoy-retry-on");
  });
});
