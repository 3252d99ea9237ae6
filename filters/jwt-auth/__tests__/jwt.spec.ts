import { Alg } from "../algorithms";
import { Jwt, lastSignatureLength, parseJwt } from "../jwt";
import { Reason } from "../reasons";
import { b64, signHs, utf8Bytes } from "./helpers";

const HEADER = "{\"alg\":\"HS256\",\"kid\":\"k1\"}";
const PAYLOAD = "{\"iss\":\"https://issuer\",\"sub\":\"alice\",\"aud\":[\"a\",\"b\"],\"exp\":2000000000,\"nbf\":1000,\"iat\":1500.5}";

function parse(token: string, max: i32 = 8192): Reason {
  const bytes = utf8Bytes(token);
  return parseJwt(bytes, 0, bytes.length, max, new Jwt());
}

function unsigned(header: string, payload: string): string {
  return b64(header) + "." + b64(payload) + ".c2ln";
}

describe("parseJwt: JOSE headers kept by segment", () => {
  it("gives each header its own alg and kid, however often headers repeat or alternate", () => {
    for (let round = 0; round < 3; round++) {
      for (let k = 0; k < 40; k++) {
        const jwt = new Jwt();
        const bytes = utf8Bytes(signHs("{\"alg\":\"HS256\",\"kid\":\"key-" + k.toString() + "\"}", PAYLOAD));
        expect(parseJwt(bytes, 0, bytes.length, 8192, jwt)).toBe(Reason.Ok);
        expect(jwt.kid!.asString()).toBe("key-" + k.toString());
      }
    }
  });

  it("refuses a bad header every time (refusals are not kept), and a good one after it still parses", () => {
    const bad = utf8Bytes(unsigned("{\"alg\":\"HS256\",\"crit\":[\"x\"]}", "{}"));
    expect(parseJwt(bad, 0, bad.length, 8192, new Jwt())).toBe(Reason.JwtHeaderCritNotSupported);
    expect(parseJwt(bad, 0, bad.length, 8192, new Jwt())).toBe(Reason.JwtHeaderCritNotSupported);
    const good = utf8Bytes(unsigned("{\"alg\":\"ES256\"}", "{}"));
    const jwt = new Jwt();
    expect(parseJwt(good, 0, good.length, 8192, jwt)).toBe(Reason.Ok);
    expect(jwt.alg).toBe(Alg.ES256);
    expect(jwt.kid).toBeNull();
  });
});

describe("parseJwt: well-formed tokens", () => {
  it("reads alg, kid and the registered claims", () => {
    const token = signHs(HEADER, PAYLOAD);
    const bytes = utf8Bytes("Bearer " + token);
    const jwt = new Jwt();
    expect(parseJwt(bytes, 7, bytes.length, 8192, jwt)).toBe(Reason.Ok);
    expect(jwt.alg).toBe(Alg.HS256);
    expect(jwt.kid!.asString()).toBe("k1");
    expect(jwt.iss!.asString()).toBe("https://issuer");
    expect(jwt.sub!.asString()).toBe("alice");
    expect(jwt.aud!.length).toBe(2);
    expect(jwt.hasExp).toBe(true);
    expect(jwt.exp).toBe(2000000000);
    expect(jwt.nbf).toBe(1000);
    expect(jwt.iat).toBe(1500.5);
    expect(lastSignatureLength()).toBe(32);
    expect(String.UTF8.decode(jwt.payloadBase64url())).toBe(b64(PAYLOAD));
  });

  it("accepts EdDSA and its fully-specified name Ed25519", () => {
    const jwt = new Jwt();
    let bytes = utf8Bytes(unsigned("{\"alg\":\"Ed25519\"}", "{}"));
    expect(parseJwt(bytes, 0, bytes.length, 8192, jwt)).toBe(Reason.Ok);
    expect(jwt.alg).toBe(Alg.EdDSA);
    bytes = utf8Bytes(unsigned("{\"alg\":\"EdDSA\"}", "{}"));
    expect(parseJwt(bytes, 0, bytes.length, 8192, jwt)).toBe(Reason.Ok);
    expect(jwt.alg).toBe(Alg.EdDSA);
  });
});

describe("parseJwt: every malformed token is a reason", () => {
  it("refuses tokens over max_token_bytes before decoding anything", () => {
    const token = signHs(HEADER, PAYLOAD);
    expect(parse(token, token.length)).toBe(Reason.Ok);
    expect(parse(token, token.length - 1)).toBe(Reason.JwtTooLarge);
  });

  it("needs exactly two dots", () => {
    expect(parse("")).toBe(Reason.JwtBadFormat);
    expect(parse("abc")).toBe(Reason.JwtBadFormat);
    expect(parse("a.b")).toBe(Reason.JwtBadFormat);
    expect(parse("a.b.c.d")).toBe(Reason.JwtBadFormat);
  });

  it("finds the dots wherever they fall: several in one 16-byte block, across blocks, in the tail", () => {
    const token = signHs(HEADER, PAYLOAD);
    const dot1 = token.indexOf(".");
    const dot2 = token.lastIndexOf(".");
    expect(parse(token)).toBe(Reason.Ok);
    // A third dot in the first block (beside dot1 in the header), in a later block, in the last bytes.
    expect(parse(token.substring(0, 3) + "." + token.substring(4))).toBe(Reason.JwtBadFormat);
    expect(parse(token.substring(0, dot2 + 17) + "." + token.substring(dot2 + 18))).toBe(Reason.JwtBadFormat);
    expect(parse(token.substring(0, token.length - 1) + ".")).toBe(Reason.JwtBadFormat);
    // Three dots in one block, none elsewhere; two dots alone in the tail.
    expect(parse("a.b.c." + "d".repeat(20))).toBe(Reason.JwtBadFormat);
    expect(parse("a.b..")).toBe(Reason.JwtBadFormat);
    expect(dot1).toBeGreaterThan(16);
  });

  it("refuses bad base64url in each segment (padding, foreign characters, 4k+1 lengths, non-zero spare bits)", () => {
    const h = b64(HEADER);
    const p = b64("{}");
    expect(parse(h + "=." + p + ".c2ln")).toBe(Reason.JwtHeaderBadBase64);
    expect(parse("ey+J." + p + ".c2ln")).toBe(Reason.JwtHeaderBadBase64);
    expect(parse(h + ".a.c2ln")).toBe(Reason.JwtPayloadBadBase64);
    expect(parse(h + "." + p + ".c2l/")).toBe(Reason.JwtSignatureBadBase64);
    // A 2-character tail decodes 1 byte and leaves 4 spare bits, which must be zero.
    expect(parse(h + "." + p + ".Zg")).toBe(Reason.Ok);
    expect(parse(h + "." + p + ".Zh")).toBe(Reason.JwtSignatureBadBase64);
  });

  it("refuses a header or payload that is not a JSON object, or has duplicate member names", () => {
    expect(parse(unsigned("[1]", "{}"))).toBe(Reason.JwtHeaderBadJson);
    expect(parse(unsigned("{\"alg\":\"HS256\"", "{}"))).toBe(Reason.JwtHeaderBadJson);
    expect(parse(unsigned("{\"alg\":\"HS256\",\"alg\":\"none\"}", "{}"))).toBe(Reason.JwtHeaderBadJson);
    expect(parse(unsigned(HEADER, "\"text\""))).toBe(Reason.JwtPayloadBadJson);
    expect(parse(unsigned(HEADER, "{\"sub\":\"a\",\"sub\":\"b\"}"))).toBe(Reason.JwtPayloadBadJson);
    expect(parse(unsigned(HEADER, "{\"sub\":\"\\ud800\"}"))).toBe(Reason.JwtPayloadBadJson);
  });

  it("refuses a missing or non-string alg, none, unknown algorithms and crit", () => {
    expect(parse(unsigned("{}", "{}"))).toBe(Reason.JwtHeaderBadAlg);
    expect(parse(unsigned("{\"alg\":256}", "{}"))).toBe(Reason.JwtHeaderBadAlg);
    expect(parse(unsigned("{\"alg\":\"none\"}", "{}"))).toBe(Reason.JwtAlgNotSupported);
    expect(parse(unsigned("{\"alg\":\"NONE\"}", "{}"))).toBe(Reason.JwtAlgNotSupported);
    expect(parse(unsigned("{\"alg\":\"HS1\"}", "{}"))).toBe(Reason.JwtAlgNotSupported);
    expect(parse(unsigned("{\"alg\":\"HS256\",\"kid\":7}", "{}"))).toBe(Reason.JwtHeaderBadKid);
    expect(parse(unsigned("{\"alg\":\"HS256\",\"crit\":[\"exp\"]}", "{}"))).toBe(Reason.JwtHeaderCritNotSupported);
  });

  it("type-checks the registered claims", () => {
    expect(parse(unsigned(HEADER, "{\"iss\":1}"))).toBe(Reason.JwtIssNotString);
    expect(parse(unsigned(HEADER, "{\"sub\":[\"a\"]}"))).toBe(Reason.JwtSubNotString);
    expect(parse(unsigned(HEADER, "{\"aud\":[\"a\",1]}"))).toBe(Reason.JwtAudNotString);
    expect(parse(unsigned(HEADER, "{\"aud\":{}}"))).toBe(Reason.JwtAudNotString);
    expect(parse(unsigned(HEADER, "{\"exp\":\"soon\"}"))).toBe(Reason.JwtExpNotNumber);
    expect(parse(unsigned(HEADER, "{\"exp\":null}"))).toBe(Reason.JwtExpNotNumber);
    expect(parse(unsigned(HEADER, "{\"nbf\":true}"))).toBe(Reason.JwtNbfNotNumber);
    expect(parse(unsigned(HEADER, "{\"iat\":\"1\"}"))).toBe(Reason.JwtIatNotNumber);
  });

  it("survives garbage bytes of every kind", () => {
    // Not a property test: a spread of shapes that once broke other parsers.
    expect(parse("..")).toBe(Reason.JwtHeaderBadJson);
    expect(parse("\u0000.\u0000.\u0000")).toBe(Reason.JwtHeaderBadBase64);
    expect(parse(b64("{\"alg\":\"HS256\"}") + ".." )).toBe(Reason.JwtPayloadBadJson);
    expect(parse(unsigned(HEADER, "{\"a\":" + "[".repeat(200) + "]".repeat(200) + "}"))).toBe(Reason.JwtPayloadBadJson);
  });
});
