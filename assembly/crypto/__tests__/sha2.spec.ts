import {
  HashAlg, Sha256, Sha384, Sha512, blockLength, hashInto, hashLength, sha256, sha384, sha512,
} from "../sha2";
import { ascii, toHex } from "./util";

// Known answers of FIPS 180-4's examples (NIST CSRC "Examples with Intermediate Values").
const ABC = "abc";
const M448 = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
const M896 =
  "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu";

describe("sha256 (FIPS 180-4 §6.2)", () => {
  it("hashes the FIPS examples", () => {
    expect(toHex(sha256(ascii(ABC)))).toBe("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    expect(toHex(sha256(ascii("")))).toBe("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    expect(toHex(sha256(ascii(M448)))).toBe("248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    expect(toHex(sha256(ascii(M896)))).toBe("cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1");
  });

  it("hashes one million 'a' fed in uneven pieces", () => {
    const chunk = new Uint8Array(997);
    chunk.fill(0x61);
    const h = new Sha256();
    let left = 1000000;
    while (left > 0) {
      const n = min<i32>(left, 997);
      h.update(chunk, 0, n);
      left -= n;
    }
    const out = new Uint8Array(32);
    expect(h.finalInto(out)).toBe(true);
    expect(toHex(out)).toBe("cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
  });
});

describe("sha384 (FIPS 180-4 §6.5)", () => {
  it("hashes the FIPS examples", () => {
    expect(toHex(sha384(ascii(ABC)))).toBe(
      "cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed8086072ba1e7cc2358baeca134c825a7",
    );
    expect(toHex(sha384(ascii("")))).toBe(
      "38b060a751ac96384cd9327eb1b1e36a21fdb71114be07434c0cc7bf63f6e1da274edebfe76f65fbd51ad2f14898b95b",
    );
    expect(toHex(sha384(ascii(M896)))).toBe(
      "09330c33f71147e83d192fc782cd1b4753111b173b3b05d22fa08086e3b0f712fcc7c71a557e2db966c3e9fa91746039",
    );
  });

  it("is a Sha512 with a 48-byte digest", () => {
    const h = new Sha384();
    expect(h.digestLength).toBe(48);
    const out = new Uint8Array(48);
    h.update(ascii(M448)).finalInto(out);
    expect(toHex(out)).toBe(
      "3391fdddfc8dc7393707a65b1b4709397cf8b1d162af05abfe8f450de5f36bc6b0455a8520bc4e6f5fe95b1fe3c8452b",
    );
  });
});

describe("sha512 (FIPS 180-4 §6.4)", () => {
  it("hashes the FIPS examples", () => {
    expect(toHex(sha512(ascii(ABC)))).toBe(
      "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f",
    );
    expect(toHex(sha512(ascii("")))).toBe(
      "cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e",
    );
    expect(toHex(sha512(ascii(M896)))).toBe(
      "8e959b75dae313da8cf4f72814fc143f8f7779c6eb9f7fa17299aeadb6889018501d289e4900f7e4331b99dec4b5433ac7d329eeb6dd26545e96e55b874be909",
    );
  });

  it("hashes one million 'a' fed in uneven pieces", () => {
    const chunk = new Uint8Array(1013);
    chunk.fill(0x61);
    const h = new Sha512();
    let left = 1000000;
    while (left > 0) {
      const n = min<i32>(left, 1013);
      h.update(chunk, 0, n);
      left -= n;
    }
    const out = new Uint8Array(64);
    h.finalInto(out);
    expect(toHex(out)).toBe(
      "e718483d0ce769644e2e42c7bc15b4638e1f98b13b2044285632a803afa973ebde0ff244877ea60a4cb0432ce577c31beb009c5c2c49aa2e4eadb217ad8cc09b",
    );
  });
});

describe("streaming", () => {
  it("gives the one-shot digest for every split point around the padding boundaries", () => {
    // Lengths 0..260 cover messages that end right before, on and after the 55/56 and
    // 111/112 byte limits where padding spills into an extra block.
    const msg = new Uint8Array(260);
    for (let i = 0; i < msg.length; i++) msg[i] = <u8>(i * 7 + 3);
    const a = new Sha256();
    const b = new Sha512();
    const outA = new Uint8Array(32);
    const outB = new Uint8Array(64);
    for (let len = 0; len <= 260; len += 1) {
      const whole = msg.subarray(0, len);
      const ref256 = toHex(sha256(whole));
      const ref512 = toHex(sha512(whole));
      const split = (len * 5) / 7;
      a.update(msg, 0, split).update(msg, split, len).finalInto(outA);
      b.update(msg, 0, split).update(msg, split, len).finalInto(outB);
      expect(toHex(outA)).toBe(ref256);
      expect(toHex(outB)).toBe(ref512);
    }
  });

  it("is reset by finalInto and by reset()", () => {
    const h = new Sha256();
    const out = new Uint8Array(32);
    h.update(ascii("junk")).finalInto(out);
    h.update(ascii(ABC)).finalInto(out);
    expect(toHex(out)).toBe("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    h.update(ascii("junk")).reset().update(ascii(ABC)).finalInto(out);
    expect(toHex(out)).toBe("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  });

  it("copies state with copyFrom", () => {
    const a = new Sha512(48);
    const b = new Sha512(48);
    a.update(ascii("ab"));
    b.copyFrom(a).update(ascii("c"));
    const out = new Uint8Array(48);
    b.finalInto(out);
    expect(toHex(out)).toBe(toHex(sha384(ascii(ABC))));
  });

  it("clamps bad ranges and refuses short outputs instead of trapping", () => {
    const h = new Sha256();
    const data = ascii(ABC);
    h.update(data, -5, 99);
    const small = new Uint8Array(40);
    expect(h.finalInto(small, 9)).toBe(false);
    h.update(data, 2, 1); // empty range
    h.update(data, -1, 100);
    expect(h.finalInto(small, 8)).toBe(true);
    expect(toHex(small.subarray(8))).toBe("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    expect(h.finalInto(small, -1)).toBe(false);
  });
});

describe("HashAlg", () => {
  it("knows each digest and block length", () => {
    expect(hashLength(HashAlg.SHA256)).toBe(32);
    expect(hashLength(HashAlg.SHA384)).toBe(48);
    expect(hashLength(HashAlg.SHA512)).toBe(64);
    expect(hashLength(<HashAlg>0)).toBe(0);
    expect(blockLength(HashAlg.SHA256)).toBe(64);
    expect(blockLength(HashAlg.SHA384)).toBe(128);
    expect(blockLength(<HashAlg>9)).toBe(0);
  });

  it("hashInto writes at an offset and reports unknown algorithms and short outputs", () => {
    const out = new Uint8Array(70);
    expect(hashInto(HashAlg.SHA384, ascii(ABC), out, 2)).toBe(48);
    expect(toHex(out.subarray(2, 50))).toBe(toHex(sha384(ascii(ABC))));
    expect(hashInto(HashAlg.SHA512, ascii(ABC), out, 7)).toBe(0);
    expect(hashInto(<HashAlg>4, ascii(ABC), out)).toBe(0);
    expect(hashInto(HashAlg.SHA256, ascii(ABC), out, 38)).toBe(32);
  });
});
