import { Sha256 } from "../sha2";
import { sha256Compact } from "../sha256-compact";

function hex(ptr: usize, n: i32): string {
  let s = "";
  for (let i = 0; i < n; i++) {
    const b = load<u8>(ptr + <usize>i);
    s += String.fromCharCode(b < 0xa0 ? 0x30 + (b >> 4) : 0x57 + (b >> 4));
    s += String.fromCharCode((b & 15) < 10 ? 0x30 + (b & 15) : 0x57 + (b & 15));
  }
  return s;
}

describe("sha256Compact", () => {
  it("gives the FIPS 180-2 example digests", () => {
    const out = new ArrayBuffer(32);
    const abc = String.UTF8.encode("abc");
    sha256Compact(changetype<usize>(abc), 3, changetype<usize>(out));
    expect(hex(changetype<usize>(out), 32)).toBe("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    const two = String.UTF8.encode("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq");
    sha256Compact(changetype<usize>(two), <usize>two.byteLength, changetype<usize>(out));
    expect(hex(changetype<usize>(out), 32)).toBe("248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  });

  it("matches assembly/crypto's SHA-256 on every length 0..300", () => {
    const data = new ArrayBuffer(300);
    for (let i = 0; i < 300; i++) store<u8>(changetype<usize>(data) + <usize>i, <u8>(i * 131 + 7));
    const mine = new ArrayBuffer(32);
    const theirs = new ArrayBuffer(32);
    const hasher = new Sha256();
    let same = 0;
    for (let n = 0; n <= 300; n++) {
      sha256Compact(changetype<usize>(data), <usize>n, changetype<usize>(mine));
      hasher.reset().updateRaw(changetype<usize>(data), <usize>n).finalRaw(changetype<usize>(theirs));
      if (memory.compare(changetype<usize>(mine), changetype<usize>(theirs), 32) == 0) same++;
    }
    expect(same).toBe(301);
  });
});
