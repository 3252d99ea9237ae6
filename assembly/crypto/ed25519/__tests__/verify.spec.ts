import { ED25519_SIGNATURE_LENGTH, Ed25519PublicKey, ed25519Verify } from "..";
import { VerifyResult } from "../../result";
import { fromHex } from "../../__tests__/util";

// RFC 8032 §7.1 TEST 2 and TEST 3; test/crypto/eddsa*.test.ts run the rest (Wycheproof,
// node:crypto differential) through the test module.
const PK2 = "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c";
const MSG2 = "72";
const SIG2 =
  "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00";
const PK3 = "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025";
const MSG3 = "af82";
const SIG3 =
  "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a";

describe("Ed25519PublicKey (RFC 8032 §5.1.7)", () => {
  it("verifies RFC 8032 TEST 2 and TEST 3, many times with one key object", () => {
    const key = Ed25519PublicKey.fromBytes(fromHex(PK2))!;
    for (let i = 0; i < 3; i++) expect(key.verify(fromHex(MSG2), fromHex(SIG2))).toBe(VerifyResult.Valid);
    expect(ed25519Verify(fromHex(PK3), fromHex(MSG3), fromHex(SIG3))).toBe(VerifyResult.Valid);
  });

  it("verifies a message range of a larger buffer", () => {
    const key = Ed25519PublicKey.fromBytes(fromHex(PK3))!;
    const buffer = fromHex("00ffaf8211");
    expect(key.verify(buffer, fromHex(SIG3), 2, 4)).toBe(VerifyResult.Valid);
    expect(key.verify(buffer, fromHex(SIG3), 1, 4)).toBe(VerifyResult.Invalid);
    expect(key.verify(buffer, fromHex(SIG3), 3, 2)).toBe(VerifyResult.BadInput);
    expect(key.verify(buffer, fromHex(SIG3), 2, 9)).toBe(VerifyResult.BadInput);
  });

  it("rejects another key's signature, and a changed message", () => {
    const key = Ed25519PublicKey.fromBytes(fromHex(PK2))!;
    expect(key.verify(fromHex(MSG3), fromHex(SIG3))).toBe(VerifyResult.Invalid);
    expect(key.verify(fromHex("73"), fromHex(SIG2))).toBe(VerifyResult.Invalid);
  });

  it("answers BadSignature for a wrong length, S ≥ L or R with y ≥ p", () => {
    const key = Ed25519PublicKey.fromBytes(fromHex(PK2))!;
    const sig = fromHex(SIG2);
    expect(key.verify(fromHex(MSG2), sig.subarray(0, 63))).toBe(VerifyResult.BadSignature);
    expect(key.verify(fromHex(MSG2), new Uint8Array(0))).toBe(VerifyResult.BadSignature);
    const longer = new Uint8Array(ED25519_SIGNATURE_LENGTH + 1);
    longer.set(sig);
    expect(key.verify(fromHex(MSG2), longer)).toBe(VerifyResult.BadSignature);
    const highS = sig.slice();
    highS[63] = 0x10; // S ≥ 2^252 + (S's low bytes, here ≥ L's)
    highS.fill(0xff, 32, 63);
    expect(key.verify(fromHex(MSG2), highS)).toBe(VerifyResult.BadSignature);
    const highR = sig.slice();
    highR.fill(0xff, 0, 31);
    highR[31] = 0x7f;
    expect(key.verify(fromHex(MSG2), highR)).toBe(VerifyResult.BadSignature);
  });

  it("refuses keys that are not 32 bytes, not canonical, off the curve or of small order", () => {
    expect(Ed25519PublicKey.fromBytes(fromHex(PK2).subarray(0, 31))).toBeNull();
    // y = p (non-canonical 0)
    expect(Ed25519PublicKey.fromBytes(fromHex("edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"))).toBeNull();
    // y = 2 is not on the curve
    expect(Ed25519PublicKey.fromBytes(fromHex("0200000000000000000000000000000000000000000000000000000000000000"))).toBeNull();
    // the neutral element (0, 1) and the point of order 2 (0, -1)
    expect(Ed25519PublicKey.fromBytes(fromHex("0100000000000000000000000000000000000000000000000000000000000000"))).toBeNull();
    expect(Ed25519PublicKey.fromBytes(fromHex("ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"))).toBeNull();
    expect(ed25519Verify(fromHex("0100000000000000000000000000000000000000000000000000000000000000"), fromHex(MSG2), fromHex(SIG2)))
      .toBe(VerifyResult.BadKey);
  });
});
