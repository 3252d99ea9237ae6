import { HmacKey, hmac } from "../hmac";
import { HashAlg } from "../sha2";
import { VerifyResult } from "../result";
import { ascii, fromHex, toHex } from "./util";

// RFC 4231 §4 test cases 1, 2, 6 and 7 (6 and 7: keys longer than the block, hashed first).
const KEY1 = "0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b";
const DATA1 = "Hi There";
const KEY2 = "4a656665"; // "Jefe"
const DATA2 = "what do ya want for nothing?";
const DATA6 = "Test Using Larger Than Block-Size Key - Hash Key First";
const DATA7 =
  "This is a test using a larger than block-size key and a larger than block-size data. The key needs to be hashed before being used by the HMAC algorithm.";

function key131(): Uint8Array {
  const k = new Uint8Array(131);
  k.fill(0xaa);
  return k;
}

describe("HMAC (RFC 2104) known answers of RFC 4231", () => {
  it("HMAC-SHA-256", () => {
    expect(toHex(hmac(HashAlg.SHA256, fromHex(KEY1), ascii(DATA1))!)).toBe("b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
    expect(toHex(hmac(HashAlg.SHA256, fromHex(KEY2), ascii(DATA2))!)).toBe("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    expect(toHex(hmac(HashAlg.SHA256, key131(), ascii(DATA6))!)).toBe("60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
    expect(toHex(hmac(HashAlg.SHA256, key131(), ascii(DATA7))!)).toBe("9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2");
  });

  it("HMAC-SHA-384", () => {
    expect(toHex(hmac(HashAlg.SHA384, fromHex(KEY1), ascii(DATA1))!)).toBe(
      "afd03944d84895626b0825f4ab46907f15f9dadbe4101ec682aa034c7cebc59cfaea9ea9076ede7f4af152e8b2fa9cb6",
    );
    expect(toHex(hmac(HashAlg.SHA384, key131(), ascii(DATA7))!)).toBe(
      "6617178e941f020d351e2f254e8fd32c602420feb0b8fb9adccebb82461e99c5a678cc31e799176d3860e6110c46523e",
    );
  });

  it("HMAC-SHA-512", () => {
    expect(toHex(hmac(HashAlg.SHA512, fromHex(KEY2), ascii(DATA2))!)).toBe(
      "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea2505549758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737",
    );
    expect(toHex(hmac(HashAlg.SHA512, key131(), ascii(DATA6))!)).toBe(
      "80b24263c7c1a3ebb71493c1dd7be8b49b46d1f41b4aeec1121b013783f8f3526b56d037e05f2598bd0fd2215d6a1e5295e64f73f63f0aec8b915a985d786598",
    );
  });
});

describe("HmacKey", () => {
  it("gives the same tag on every reuse of its precomputed states", () => {
    const k = new HmacKey(HashAlg.SHA256, fromHex(KEY2));
    const out = new Uint8Array(40);
    for (let i = 0; i < 3; i++) {
      expect(k.computeInto(ascii(DATA2), out, 8)).toBe(32);
      expect(toHex(out.subarray(8))).toBe("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    }
    expect(k.computeInto(ascii(DATA2), out, 9)).toBe(0);
  });

  it("verify demands the full tag (JWS); verifyTruncated takes RFC 2104 §5 truncations", () => {
    const k = new HmacKey(HashAlg.SHA256, fromHex(KEY1));
    const tag = fromHex("b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
    expect(k.verify(ascii(DATA1), tag)).toBe(VerifyResult.Valid);
    expect(k.verify(ascii(DATA2), tag)).toBe(VerifyResult.Invalid);
    expect(k.verify(ascii(DATA1), tag.subarray(0, 16))).toBe(VerifyResult.BadSignature);
    expect(k.verify(ascii(DATA1), new Uint8Array(0))).toBe(VerifyResult.BadSignature);
    expect(k.verifyTruncated(ascii(DATA1), tag.subarray(0, 16))).toBe(VerifyResult.Valid);
    expect(k.verifyTruncated(ascii(DATA1), tag)).toBe(VerifyResult.Valid);
    // Shorter than half the hash: too weak to accept at all.
    expect(k.verifyTruncated(ascii(DATA1), tag.subarray(0, 15))).toBe(VerifyResult.BadSignature);
    const bad = tag.slice(0, 16);
    bad[15] ^= 1;
    expect(k.verifyTruncated(ascii(DATA1), bad)).toBe(VerifyResult.Invalid);
  });

  it("flags an unknown hash as BadInput instead of trapping", () => {
    const k = new HmacKey(<HashAlg>0, fromHex(KEY1));
    expect(k.status).toBe(VerifyResult.BadInput);
    expect(k.verify(ascii(DATA1), new Uint8Array(32))).toBe(VerifyResult.BadInput);
    expect(k.computeInto(ascii(DATA1), new Uint8Array(64))).toBe(0);
    expect(hmac(<HashAlg>5, fromHex(KEY1), ascii(DATA1))).toBeNull();
  });
});
