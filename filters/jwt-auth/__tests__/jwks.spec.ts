import { base64urlEncode } from "../../../assembly/crypto";
import { fromHex } from "../../../assembly/crypto/__tests__/util";
import { Alg, KeyType } from "../algorithms";
import { Jwk, parseJwksString } from "../jwks";
import { Jwt, parseJwt } from "../jwt";
import { Reason } from "../reasons";
import { KeyMatch, verifySignature } from "../signature";
import { b64, octJwks, signHs, utf8Bytes } from "./helpers";

// RFC 7515 Appendix A.3: the ES256 example key and JWS.
const A3_X = b16("7fcdce2770f6c45d4183cbee6fdb4b7b580733357be9ef13bacf6e3c7bd15445");
const A3_Y = b16("c7f144cd1bbd9b7e872cdfedb9eeb9f4b3695d6ea90b24ad8a4623288588e5ad");
const A3_TOKEN =
  "eyJhbGciOiJFUzI1NiJ9.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ." +
  b16("0ed1215379636c483c2f7f155807d402a3b228033af97c7e17819ac3169ea665c50a07d38c3c70e5d8f12daf084a5480a66590c5f293509a8f3f7f8a83a354d5");
// RFC 8037 Appendix A.2: the Ed25519 public key.
const ED_X = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo";
// A structurally valid 2048-bit modulus (odd, top bit set): enough to build a key object.
const RSA_N = base64urlEncode(modulus());

function b16(hex: string): string {
  return base64urlEncode(fromHex(hex));
}

function modulus(): Uint8Array {
  const n = new Uint8Array(256);
  n.fill(0x5b);
  n[0] = 0xc1;
  n[255] = 0x2b;
  return n;
}

function ecJwks(extra: string = ""): string {
  return "{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"" + A3_X + "\",\"y\":\"" + A3_Y + "\"" + extra + "}]}";
}

function oneKey(jwk: string): string {
  return "{\"keys\":[" + jwk + "]}";
}

function keyError(jwk: string): string {
  return parseJwksString(oneKey(jwk)).error;
}

function firstKey(jwks: string): Jwk {
  return parseJwksString(jwks).set!.keys[0];
}

describe("parseJwks: documents", () => {
  it("refuses documents without a keys array or without a usable key", () => {
    expect(parseJwksString("not json").error).toBe("Jwks is an invalid JSON");
    expect(parseJwksString("[]").error).toBe("Jwks is an invalid JSON");
    expect(parseJwksString("{}").error).toBe("Jwks does not have [keys] field");
    expect(parseJwksString("{\"keys\":{}}").error).toBe("[keys] in Jwks is not an array");
    expect(parseJwksString("{\"keys\":[]}").error).toBe("Jwks doesn't have any valid public key");
    expect(parseJwksString("{\"keys\":[],\"keys\":[]}").set).toBeNull(); // duplicate member names
  });

  it("leaves out keys for other uses silently, and bad keys with their reason", () => {
    const enc = "{\"kty\":\"oct\",\"use\":\"enc\",\"k\":\"" + b64("x".repeat(32)) + "\"}";
    const wrap = "{\"kty\":\"oct\",\"key_ops\":[\"wrapKey\"],\"k\":\"" + b64("x".repeat(32)) + "\"}";
    const bad = "{\"kty\":\"RSA\",\"e\":\"AQAB\"}";
    const good = "{\"kty\":\"oct\",\"kid\":\"g\",\"key_ops\":[\"sign\",\"verify\"],\"k\":\"" + b64("x".repeat(32)) + "\"}";
    const parsed = parseJwksString("{\"keys\":[" + enc + "," + wrap + "," + bad + "," + good + "]}");
    expect(parsed.set!.keys.length).toBe(1);
    expect(parsed.set!.keys[0].kid!).toBe("g");
    expect(parsed.rejected).toBe(1);
    expect(parsed.error).toBe("keys[2]: [n] field is missing for a RSA key");
  });

  it("names the problem of each malformed key (jwt_verify_lib's texts where it has one)", () => {
    expect(keyError("7")).toBe("keys[0]: [kty] is missing in [keys]");
    expect(keyError("{}")).toBe("keys[0]: [kty] is missing in [keys]");
    expect(keyError("{\"kty\":1}")).toBe("keys[0]: [kty] is bad in [keys]");
    expect(keyError("{\"kty\":\"XYZ\"}")).toBe("keys[0]: [kty] is not supported in [keys]");
    expect(keyError("{\"kty\":\"oct\",\"kid\":5,\"k\":\"AA\"}")).toBe("keys[0]: [kid] field is not a string");
    expect(keyError("{\"kty\":\"RSA\",\"alg\":\"ES256\",\"n\":\"AQ\",\"e\":\"AQAB\"}")).toBe("keys[0]: [alg] is not started with [RS] or [PS] for an RSA key");
    expect(keyError("{\"kty\":\"RSA\",\"n\":\"" + RSA_N + "\"}")).toBe("keys[0]: [e] field is missing for a RSA key");
    expect(keyError("{\"kty\":\"RSA\",\"n\":\"" + RSA_N + "\",\"e\":\"AQ=\"}")).toBe("keys[0]: Jwks RSA [n] or [e] field is missing or has a parse error");
    expect(keyError("{\"kty\":\"RSA\",\"n\":\"AQAB\",\"e\":\"AQAB\"}")).toBe(
      "keys[0]: RSA key is not usable: the modulus must have 2048 to 4096 bits, the exponent be odd, at least 3 and below it");
    expect(keyError("{\"kty\":\"EC\",\"crv\":\"P-521\",\"x\":\"AA\",\"y\":\"AA\"}")).toBe("keys[0]: [crv] or [alg] field is not supported for an EC key");
    expect(keyError("{\"kty\":\"EC\",\"crv\":\"P-256\",\"alg\":\"ES384\",\"x\":\"AA\",\"y\":\"AA\"}")).toBe(
      "keys[0]: [crv] field specified is not compatible with [alg] for an EC key");
    expect(keyError("{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"" + A3_X + "\",\"y\":\"" + A3_X + "\"}")).toBe(
      "keys[0]: Jwks EC [x] and [y] fields have a parse error."); // not on the curve
    expect(keyError("{\"kty\":\"OKP\",\"crv\":\"X25519\",\"x\":\"" + ED_X + "\"}")).toBe("keys[0]: [crv] field is not supported for an OKP key");
    expect(keyError("{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"AAAA\"}")).toBe("keys[0]: Jwks OKP [x] field is wrong length.");
    expect(keyError("{\"kty\":\"oct\",\"k\":\"" + b64("short") + "\"}")).toBe("keys[0]: [k] is shorter than 32 bytes, the least HS256 accepts");
    expect(keyError("{\"kty\":\"oct\",\"alg\":\"HS512\",\"k\":\"" + b64("x".repeat(48)) + "\"}")).toBe("keys[0]: [k] is shorter than the hash of its [alg]");
    expect(keyError("{\"kty\":\"oct\",\"alg\":\"RS256\",\"k\":\"" + b64("x".repeat(48)) + "\"}")).toBe("keys[0]: [alg] does not start with [HS] for an HMAC key");
  });
});

describe("Jwk.fits: a token's alg only meets keys of its own type", () => {
  it("pairs each key type with its algorithms, and nothing else", () => {
    const rsa = firstKey(oneKey("{\"kty\":\"RSA\",\"n\":\"" + RSA_N + "\",\"e\":\"AQAB\"}"));
    expect(rsa.keyType).toBe(KeyType.Rsa);
    expect(rsa.fits(Alg.RS256)).toBe(true);
    expect(rsa.fits(Alg.PS512)).toBe(true);
    expect(rsa.fits(Alg.HS256)).toBe(false); // the classic confusion: RSA public key as an HMAC secret
    expect(rsa.fits(Alg.ES256)).toBe(false);

    const ec = firstKey(ecJwks());
    expect(ec.fits(Alg.ES256)).toBe(true);
    expect(ec.fits(Alg.ES384)).toBe(false); // the curve fixes the algorithm
    expect(ec.fits(Alg.HS256)).toBe(false);

    const okp = firstKey(oneKey("{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"" + ED_X + "\"}"));
    expect(okp.fits(Alg.EdDSA)).toBe(true);
    expect(okp.fits(Alg.HS512)).toBe(false);

    const oct32 = firstKey(octJwks("x".repeat(32)));
    expect(oct32.fits(Alg.HS256)).toBe(true);
    expect(oct32.fits(Alg.HS384)).toBe(false); // shorter than SHA-384's output
    expect(oct32.fits(Alg.RS256)).toBe(false);
    const oct64 = firstKey(octJwks("x".repeat(64)));
    expect(oct64.fits(Alg.HS384)).toBe(true);
    expect(oct64.fits(Alg.HS512)).toBe(true);
    const pinned = firstKey(octJwks("x".repeat(64), "k1", "HS384"));
    expect(pinned.fits(Alg.HS256)).toBe(false); // the key's own alg narrows it
    expect(pinned.fits(Alg.HS384)).toBe(true);
  });
});

function verify(jwks: string, token: string): KeyMatch {
  const bytes = utf8Bytes(token);
  const jwt = new Jwt();
  expect(parseJwt(bytes, 0, bytes.length, 8192, jwt)).toBe(Reason.Ok);
  return verifySignature(parseJwksString(jwks).set!, jwt);
}

describe("verifySignature: key selection", () => {
  it("verifies RFC 7515 A.3 (ES256) and refuses it with one bit changed", () => {
    expect(verify(ecJwks(), A3_TOKEN)).toBe(KeyMatch.Valid);
    const at = A3_TOKEN.length - 10;
    const c = A3_TOKEN.charAt(at);
    const tampered = A3_TOKEN.substring(0, at) + (c == "A" ? "B" : "A") + A3_TOKEN.substring(at + 1);
    expect(verify(ecJwks(), tampered)).toBe(KeyMatch.Invalid);
  });

  it("selects by kid: an unknown kid is reported as such, a known kid with another type as no key", () => {
    const token = signHs("{\"alg\":\"HS256\",\"kid\":\"k1\"}", "{}");
    expect(verify(octJwks(), token)).toBe(KeyMatch.Valid);
    expect(verify(octJwks("a-shared-secret-of-at-least-32-bytes!", "other"), token)).toBe(KeyMatch.KidUnknown);
    expect(verify(ecJwks(",\"kid\":\"k1\""), token)).toBe(KeyMatch.NoKey);
  });

  it("without a kid tries every fitting key, and never a key of another type", () => {
    const token = signHs("{\"alg\":\"HS256\"}", "{}");
    const two = "{\"keys\":[{\"kty\":\"oct\",\"kid\":\"a\",\"k\":\"" + b64("y".repeat(40)) + "\"}," +
      "{\"kty\":\"oct\",\"kid\":\"b\",\"k\":\"" + b64("a-shared-secret-of-at-least-32-bytes!") + "\"}]}";
    expect(verify(two, token)).toBe(KeyMatch.Valid);
    expect(verify(octJwks("z".repeat(40)), token)).toBe(KeyMatch.Invalid);
    expect(verify(ecJwks(), token)).toBe(KeyMatch.NoKey);
  });
});
