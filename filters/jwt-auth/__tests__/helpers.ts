// Shared by the jwt-auth specs: tokens signed with HS256 in AssemblyScript (assembly/crypto
// HMAC, checked against RFC 4231 elsewhere), and a request made of a header list.
import { HashAlg, base64urlEncode, hmac } from "../../../assembly/crypto";
import { AuthRequest, HeaderBytes, FieldName } from "../request";

export const SECRET = "a-shared-secret-of-at-least-32-bytes!";

export function utf8Bytes(s: string): Uint8Array {
  return Uint8Array.wrap(String.UTF8.encode(s));
}

export function b64(s: string): string {
  return base64urlEncode(utf8Bytes(s));
}

/** A compact JWS over `header` and `payload` (JSON texts) with HMAC `alg` and `secret`. */
export function signHs(header: string, payload: string, secret: string = SECRET, alg: HashAlg = HashAlg.SHA256): string {
  const input = b64(header) + "." + b64(payload);
  const tag = hmac(alg, utf8Bytes(secret), utf8Bytes(input))!;
  return input + "." + base64urlEncode(tag);
}

/** An `oct` JWKS holding `secret` (kid "k1", no alg unless given). */
export function octJwks(secret: string = SECRET, kid: string = "k1", alg: string = ""): string {
  const algPart = alg.length > 0 ? ",\"alg\":\"" + alg + "\"" : "";
  return "{\"keys\":[{\"kty\":\"oct\",\"kid\":\"" + kid + "\"" + algPart + ",\"k\":\"" + b64(secret) + "\"}]}";
}

/** A request as a list of headers; edits change the list. */
export class FakeRequest extends AuthRequest {
  names: string[] = [];
  values: string[] = [];
  /** Names of the headers edited, in order, as "-name" (removed), "+name" (added), "=name" (replaced). */
  edits: string[] = [];

  constructor(public pathValue: string = "/", public methodValue: string = "GET") {
    super();
  }

  with(name: string, value: string): FakeRequest {
    this.names.push(name);
    this.values.push(value);
    return this;
  }

  path(): string {
    return this.pathValue;
  }

  method(): string {
    return this.methodValue;
  }

  header(name: string): string | null {
    if (name == ":path") return this.pathValue;
    for (let i = 0; i < this.names.length; i++) if (this.names[i] == name) return this.values[i];
    return null;
  }

  /** Every value of `name`, joined with "|" ("" when none). */
  all(name: string): string {
    let out = "";
    for (let i = 0; i < this.names.length; i++) {
      if (this.names[i] == name) out = out.length > 0 ? out + "|" + this.values[i] : this.values[i];
    }
    return out;
  }

  headerValue(name: FieldName, nth: i32, out: HeaderBytes): bool {
    for (let i = 0; i < this.names.length; i++) {
      if (this.names[i] != name.name || nth-- > 0) continue;
      out.bytes = utf8Bytes(this.values[i]);
      out.start = 0;
      out.end = out.bytes.length;
      return true;
    }
    return false;
  }

  hadHeader(name: FieldName): bool {
    return this.header(name.name) !== null;
  }

  removeHeader(name: FieldName): void {
    this.edits.push("-" + name.name);
    const names = new Array<string>();
    const values = new Array<string>();
    for (let i = 0; i < this.names.length; i++) {
      if (this.names[i] != name.name) {
        names.push(this.names[i]);
        values.push(this.values[i]);
      }
    }
    this.names = names;
    this.values = values;
  }

  addHeaderBytes(name: FieldName, value: ArrayBuffer): void {
    this.edits.push("+" + name.name);
    this.with(name.name, String.UTF8.decode(value));
  }

  replaceHeaderBytes(name: FieldName, value: ArrayBuffer): void {
    this.replaceHeader(name, String.UTF8.decode(value));
  }

  replaceHeader(name: FieldName, value: string): void {
    this.edits.push("=" + name.name);
    if (name.name == ":path") {
      this.pathValue = value;
      return;
    }
    this.removeHeader(name);
    this.edits.pop(); // the replace was recorded, not the removal it is made of
    this.with(name.name, value);
  }
}
