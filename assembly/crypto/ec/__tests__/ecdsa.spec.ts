import { VerifyResult } from "../../result";
import { EcCurve, EcPublicKey, ecCoordinateLength } from "../index";
import { curveP256, curveP384 } from "../curves";
import { p256Mul, p256Sqr } from "../p256-field";
import { wordsFromBytes, wordsToBytes } from "../words";
import { ascii, fromHex, toHex } from "../../__tests__/util";

// RFC 7515 Appendix A.3: the ES256 example (JWK x, y; JWS signing input; r || s).
const A3_X = "7fcdce2770f6c45d4183cbee6fdb4b7b580733357be9ef13bacf6e3c7bd15445";
const A3_Y = "c7f144cd1bbd9b7e872cdfedb9eeb9f4b3695d6ea90b24ad8a4623288588e5ad";
const A3_INPUT =
  "eyJhbGciOiJFUzI1NiJ9.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ";
const A3_SIG =
  "0ed1215379636c483c2f7f155807d402a3b228033af97c7e17819ac3169ea665" +
  "c50a07d38c3c70e5d8f12daf084a5480a66590c5f293509a8f3f7f8a83a354d5";

// Wycheproof ecdsa_secp384r1_sha384_p1363_test.json, group 1, tcId 1 (valid).
const W384_X = "2da57dda1089276a543f9ffdac0bff0d976cad71eb7280e7d9bfd9fee4bdb2f20f47ff888274389772d98cc5752138aa";
const W384_Y = "4b6d054d69dcf3e25ec49df870715e34883b1836197d76f8ad962e78f6571bbc7407b0d6091f9e4d88f014274406174f";
const W384_MSG = "313233343030";
const W384_SIG =
  "12b30abef6b5476fe6b612ae557c0425661e26b44b1bfe19daf2ca28e3113083ba8e4ae4cc45a0320abd3394f1c548d7" +
  "1840da9fc1d2f8f8900cf485d5413b8c2574ee3a8d4ca03995ca30240e09513805bf6209b58ac7aa9cff54eecd82b9f1";

const P256_N = "ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551";

function key256(): EcPublicKey {
  return EcPublicKey.fromJwk(EcCurve.P256, fromHex(A3_X), fromHex(A3_Y))!;
}

/** `sig` with bit `bit` of byte `i` flipped. */
function flipped(sig: Uint8Array, i: i32, bit: i32): Uint8Array {
  const out = sig.slice();
  out[i] = <u8>(<i32>out[i] ^ (<i32>1 << bit));
  return out;
}

describe("P-256 field (generated Montgomery arithmetic)", () => {
  it("round-trips through Montgomery form and squares like it multiplies", () => {
    const c = curveP256();
    const x = fromHex("0123456789abcdeffedcba98765432100f1e2d3c4b5a69788796a5b4c3d2e1f0");
    const a = new StaticArray<u32>(8);
    const b = new StaticArray<u32>(8);
    const pa = changetype<usize>(a);
    const pb = changetype<usize>(b);
    wordsFromBytes(pa, 8, x.dataStart, 32);
    c.toMont(pa, pa);
    p256Mul(pb, pa, pa);
    p256Sqr(pa, pa);
    expect(toHex(words(pa))).toBe(toHex(words(pb)));
    c.fromMont(pa, pa);
    c.fromMont(pb, pb);
    // x² mod p, computed independently with BigInt.
    expect(toHex(words(pa))).toBe("d6c38f2bbd42256c120c6d49bb7a9e18a396c02dc2371d4ea01bd2142ce25199");
  });
});

function words(p: usize): Uint8Array {
  const out = new Uint8Array(32);
  wordsToBytes(out.dataStart, 32, p);
  return out;
}

describe("ES256 (RFC 7518 §3.4)", () => {
  it("verifies RFC 7515 Appendix A.3", () => {
    expect(key256().verify(ascii(A3_INPUT), fromHex(A3_SIG))).toBe(VerifyResult.Valid);
  });

  it("rejects a changed message or signature as Invalid", () => {
    const key = key256();
    expect(key.verify(ascii(A3_INPUT + "x"), fromHex(A3_SIG))).toBe(VerifyResult.Invalid);
    expect(key.verify(ascii(A3_INPUT), flipped(fromHex(A3_SIG), 5, 3))).toBe(VerifyResult.Invalid);
    expect(key.verify(ascii(A3_INPUT), flipped(fromHex(A3_SIG), 60, 0))).toBe(VerifyResult.Invalid);
  });

  it("rejects malformed signatures as BadSignature", () => {
    const key = key256();
    const sig = fromHex(A3_SIG);
    expect(key.verify(ascii(A3_INPUT), sig.subarray(0, 63))).toBe(VerifyResult.BadSignature);
    expect(key.verify(ascii(A3_INPUT), new Uint8Array(65))).toBe(VerifyResult.BadSignature);
    expect(key.verify(ascii(A3_INPUT), new Uint8Array(0))).toBe(VerifyResult.BadSignature);
    const zeroR = sig.slice();
    zeroR.fill(0, 0, 32);
    expect(key.verify(ascii(A3_INPUT), zeroR)).toBe(VerifyResult.BadSignature);
    const nS = sig.slice();
    nS.set(fromHex(P256_N), 32);
    expect(key.verify(ascii(A3_INPUT), nS)).toBe(VerifyResult.BadSignature);
  });

  it("checks digest lengths in verifyDigest", () => {
    expect(key256().verifyDigest(new Uint8Array(31), fromHex(A3_SIG))).toBe(VerifyResult.BadInput);
  });
});

describe("EcPublicKey.fromJwk (SEC 1 v2 §3.2.2.1)", () => {
  it("rejects points off the curve, coordinates ≥ p, and wrong lengths", () => {
    const x = fromHex(A3_X);
    const y = fromHex(A3_Y);
    expect(EcPublicKey.fromJwk(EcCurve.P256, x, y)).not.toBeNull();
    expect(EcPublicKey.fromJwk(EcCurve.P256, x, flipped(y, 31, 0))).toBeNull();
    expect(EcPublicKey.fromJwk(EcCurve.P256, new Uint8Array(32), new Uint8Array(32))).toBeNull();
    const p = fromHex("ffffffff00000001000000000000000000000000ffffffffffffffffffffffff");
    expect(EcPublicKey.fromJwk(EcCurve.P256, p, y)).toBeNull();
    expect(EcPublicKey.fromJwk(EcCurve.P256, x.subarray(1), y)).toBeNull();
    expect(EcPublicKey.fromJwk(EcCurve.P384, x, y)).toBeNull();
    expect(EcPublicKey.fromJwk(<EcCurve>7, x, y)).toBeNull();
    expect(ecCoordinateLength(<EcCurve>7)).toBe(0);
  });
});

describe("ES384 (RFC 7518 §3.4)", () => {
  it("verifies a Wycheproof vector and rejects its tampered forms", () => {
    const key = EcPublicKey.fromJwk(EcCurve.P384, fromHex(W384_X), fromHex(W384_Y))!;
    expect(key.coordinateLength).toBe(48);
    const msg = fromHex(W384_MSG);
    const sig = fromHex(W384_SIG);
    expect(key.verify(msg, sig)).toBe(VerifyResult.Valid);
    expect(key.verify(flipped(msg, 0, 0), sig)).toBe(VerifyResult.Invalid);
    expect(key.verify(msg, flipped(sig, 90, 7))).toBe(VerifyResult.Invalid);
    expect(key.verify(msg, sig.subarray(0, 64))).toBe(VerifyResult.BadSignature);
    expect(curveP384().words).toBe(12);
  });
});
