import {
  BASE64URL_INVALID, base64urlDecode, base64urlDecodeInto, base64urlDecodedLength, base64urlEncode,
  base64urlEncodedLength,
} from "../base64url";
import { ascii, toHex } from "./util";

describe("base64url (RFC 4648 §5, no padding)", () => {
  it("encodes and decodes RFC 4648 §10's vectors, translated to the URL alphabet, unpadded", () => {
    const plain = ["", "f", "fo", "foo", "foob", "fooba", "foobar"];
    const coded = ["", "Zg", "Zm8", "Zm9v", "Zm9vYg", "Zm9vYmE", "Zm9vYmFy"];
    for (let i = 0; i < plain.length; i++) {
      expect(base64urlEncode(ascii(plain[i]))).toBe(coded[i]);
      expect(toHex(base64urlDecode(coded[i])!)).toBe(toHex(ascii(plain[i])));
    }
  });

  it("uses - and _ for 62 and 63", () => {
    const data = new Uint8Array(3);
    data[0] = 0xfb;
    data[1] = 0xff;
    data[2] = 0xbf;
    expect(base64urlEncode(data)).toBe("-_-_");
    expect(toHex(base64urlDecode("-_-_")!)).toBe("fbffbf");
  });

  it("rejects padding, other alphabets, 4k+1 lengths and non-zero trailing bits", () => {
    expect(base64urlDecode("Zg==")).toBeNull();
    expect(base64urlDecode("Zm9v=")).toBeNull();
    expect(base64urlDecode("Zm+v")).toBeNull();
    expect(base64urlDecode("Zm/v")).toBeNull();
    expect(base64urlDecode("Zm9vY")).toBeNull();
    expect(base64urlDecode("Zh")).toBeNull(); // 'h' leaves 4 bits set
    expect(base64urlDecode("Zm9")).toBeNull(); // '9' leaves 2 bits set
    expect(base64urlDecode("Zm\u00e9v")).toBeNull();
    expect(base64urlDecode("Zm v")).toBeNull();
  });

  it("decodes into a caller buffer at an offset, refusing one with no room", () => {
    const text = ascii("..Zm9vYmFy..");
    const out = new Uint8Array(8);
    expect(base64urlDecodeInto(text, 2, 10, out, 2)).toBe(6);
    expect(toHex(out.subarray(2))).toBe(toHex(ascii("foobar")));
    expect(base64urlDecodeInto(text, 2, 10, out, 3)).toBe(BASE64URL_INVALID);
    expect(base64urlDecodeInto(text, 0, 10, out)).toBe(BASE64URL_INVALID); // '.' is outside the alphabet
    expect(base64urlDecodeInto(text, 5, 2, out)).toBe(BASE64URL_INVALID);
    expect(base64urlDecodeInto(text, 2, 99, out)).toBe(BASE64URL_INVALID);
  });

  it("computes lengths both ways", () => {
    expect(base64urlDecodedLength(0)).toBe(0);
    expect(base64urlDecodedLength(2)).toBe(1);
    expect(base64urlDecodedLength(3)).toBe(2);
    expect(base64urlDecodedLength(4)).toBe(3);
    expect(base64urlDecodedLength(5)).toBe(BASE64URL_INVALID);
    expect(base64urlDecodedLength(-4)).toBe(BASE64URL_INVALID);
    expect(base64urlEncodedLength(0)).toBe(0);
    expect(base64urlEncodedLength(1)).toBe(2);
    expect(base64urlEncodedLength(2)).toBe(3);
    expect(base64urlEncodedLength(3)).toBe(4);
    expect(base64urlEncodedLength(256)).toBe(342);
  });
});
