/**
 * Parsing of a compact JWS carrying a JWT (RFC 7515 §7.1, RFC 7519 §7.2): the three
 * base64url segments, the JOSE header (`alg`, `kid`, `crit`) and the claims jwt-auth
 * reads (`iss`, `sub`, `aud`, `exp`, `nbf`, `iat`), each type-checked once here so that
 * later checks only compare.
 *
 * Strictness (each a `Reason`, never a trap): base64url must be canonical and unpadded
 * (RFC 7515 §2), header and payload must be JSON objects without duplicate member names
 * (RFC 7515 §4, RFC 7519 §4; assembly/json rejects duplicates), `alg` "none" is never
 * accepted, `crit` is rejected (no extension is understood, RFC 7515 §4.1.11). NumericDate
 * claims may be any JSON number (RFC 7519 §2), as `jose` accepts.
 *
 * Costs: a JOSE header is decoded and parsed once and kept by its base64url segment
 * (`HeaderCache`: an issuer's tokens share one header); the payload is parsed into a
 * document the `Jwt` keeps (it may be cached, see token-cache.ts); the signature is
 * decoded into scratch memory that stays valid until the next parse.
 */
import { BASE64URL_INVALID, base64urlDecodeRaw, base64urlDecodedLength } from "../../assembly/crypto";
import { JsonOptions, JsonValue, emptyJsonObject, parseJsonAt } from "../../assembly/json";
import { Alg, algFromJson } from "./algorithms";
import { bytesHash, sameBytes } from "./bytes";
import { Reason } from "./reasons";

// @ts-ignore: decorator
@lazy const HEADER_JSON = new JsonOptions(8, 16 << 10);
// @ts-ignore: decorator
@lazy const PAYLOAD_JSON = new JsonOptions(32, 1 << 20);

const NO_BYTES = new Uint8Array(0);

/** A parsed (not yet verified) JWT. Claims are JSON values of the payload document. */
export class Jwt {
  /** The bytes the token lies in (a header value, typically) and its range in them. */
  token: Uint8Array = NO_BYTES;
  start: i32 = 0;
  end: i32 = 0;
  /** Offset (in `token`) of the second dot: the JWS signing input is `start..signingEnd`. */
  signingEnd: i32 = 0;
  /** Range of the payload segment (base64url), for `forward_payload_header`. */
  payloadStart: i32 = 0;
  alg: Alg = Alg.Unknown;
  /** Header `kid` (a JSON string), or null. */
  kid: JsonValue | null = null;
  /** The payload, a JSON object. */
  payload: JsonValue = emptyJsonObject();
  iss: JsonValue | null = null;
  sub: JsonValue | null = null;
  /** `aud`: a string or an array of strings. */
  aud: JsonValue | null = null;
  hasExp: bool = false;
  exp: f64 = 0;
  hasNbf: bool = false;
  nbf: f64 = 0;
  hasIat: bool = false;
  iat: f64 = 0;
  /** The payload segment as bytes, made on first use (`forward_payload_header`). */
  private payloadSegment: ArrayBuffer | null = null;
  /** Its provider's `claim_to_headers` values as bytes, made on first use (authenticator.ts). */
  claimHeaders: StaticArray<ArrayBuffer | null> | null = null;
  /**
   * Outcome of the checks that depend on the token and its provider only (audience,
   * subject: authenticator.ts), once made: a `Jwt` belongs to one provider, so a cached
   * token is not checked again. -1 until then.
   */
  providerChecks: i32 = -1;
  /**
   * Claim requirements (by `ClaimRequirement.index` < 64) already evaluated on this
   * token, and those it satisfies: they read the payload only (requirements.ts).
   */
  claimsChecked: u64 = 0;
  claimsHeld: u64 = 0;

  /** Length of the token in bytes. */
  get length(): i32 {
    return this.end - this.start;
  }

  /** Address of the token's first byte. */
  get tokenPtr(): usize {
    return this.token.dataStart + <usize>this.start;
  }

  /** Points the token at `copy`, which holds the same bytes as `token[start..end)`. */
  rebase(copy: Uint8Array): void {
    const shift = this.start;
    this.token = copy;
    this.start = 0;
    this.end -= shift;
    this.signingEnd -= shift;
    this.payloadStart -= shift;
  }

  /** The base64url payload segment exactly as in the token (what Envoy's `forward_payload_header` writes). */
  payloadBase64url(): ArrayBuffer {
    let segment = this.payloadSegment;
    if (segment === null) {
      const len = this.signingEnd - this.payloadStart;
      segment = new ArrayBuffer(len);
      memory.copy(changetype<usize>(segment), this.token.dataStart + <usize>this.payloadStart, <usize>len);
      this.payloadSegment = segment;
    }
    return segment;
  }
}

// Scratch for the decoded header and signature, grown as needed and reused.
let headerScratch = new Uint8Array(512);
let signatureScratch = new Uint8Array(512);
let payloadScratch = new Uint8Array(1024);
let signatureLength: i32 = 0;

/** Address of the signature decoded by the last successful `parseJwt` (valid until the next parse). */
export function lastSignaturePtr(): usize {
  return signatureScratch.dataStart;
}

/** Length of the signature decoded by the last successful `parseJwt`. */
export function lastSignatureLength(): i32 {
  return signatureLength;
}

function room(buf: Uint8Array, n: i32): Uint8Array {
  if (buf.length >= n) return buf;
  let size = buf.length;
  while (size < n) size <<= 1;
  return new Uint8Array(size);
}

/** Decodes `token[from..to)` into `out`; the decoded length or BASE64URL_INVALID. */
function decodeSegment(token: Uint8Array, from: i32, to: i32, out: Uint8Array): i32 {
  return base64urlDecodeRaw(token.dataStart + <usize>from, <usize>(to - from), out.dataStart);
}

/**
 * Parses the token `token[start..end)` into `jwt`. Returns Ok, or the reason the token
 * is malformed. `maxBytes` bounds the token (filters.md: oversized tokens are refused
 * before any decoding).
 */
export function parseJwt(token: Uint8Array, start: i32, end: i32, maxBytes: i32, jwt: Jwt): Reason {
  if (start < 0 || end > token.length || start > end) return Reason.JwtBadFormat;
  if (end - start > maxBytes) return Reason.JwtTooLarge;
  const base = token.dataStart;
  let dot1 = -1;
  let dot2 = -1;
  // The dots, sixteen bytes a step (SIMD compare and bitmask), then the tail.
  const dots = i8x16.splat(0x2e);
  let i = start;
  for (; i + 16 <= end; i += 16) {
    let mask = i8x16.bitmask(i8x16.eq(v128.load(base + <usize>i), dots));
    while (mask != 0) {
      const at = i + ctz(mask);
      if (dot1 < 0) dot1 = at;
      else if (dot2 < 0) dot2 = at;
      else return Reason.JwtBadFormat;
      mask &= mask - 1;
    }
  }
  for (; i < end; i++) {
    if (load<u8>(base + <usize>i) == 0x2e) {
      if (dot1 < 0) dot1 = i;
      else if (dot2 < 0) dot2 = i;
      else return Reason.JwtBadFormat;
    }
  }
  if (dot2 < 0) return Reason.JwtBadFormat;
  jwt.token = token;
  jwt.start = start;
  jwt.end = end;
  jwt.payloadStart = dot1 + 1;
  jwt.signingEnd = dot2;

  // JOSE header
  const header = parsedHeader(token, start, dot1);
  if (header.reason != Reason.Ok) return header.reason;
  jwt.alg = header.alg;
  jwt.kid = header.kid;

  // Claims
  const payloadLength = base64urlDecodedLength(dot2 - dot1 - 1);
  if (payloadLength == BASE64URL_INVALID) return Reason.JwtPayloadBadBase64;
  payloadScratch = room(payloadScratch, payloadLength);
  if (decodeSegment(token, dot1 + 1, dot2, payloadScratch) != payloadLength) return Reason.JwtPayloadBadBase64;
  const payload = parseJsonAt(payloadScratch.dataStart, payloadLength, PAYLOAD_JSON);
  if (!payload.ok || !payload.value!.isObject()) return Reason.JwtPayloadBadJson;
  const p = payload.value!;
  jwt.payload = p;
  const claimReason = readClaims(p, jwt);
  if (claimReason != Reason.Ok) return claimReason;

  // Signature
  const sigLength = base64urlDecodedLength(end - dot2 - 1);
  if (sigLength == BASE64URL_INVALID) return Reason.JwtSignatureBadBase64;
  signatureScratch = room(signatureScratch, sigLength);
  if (decodeSegment(token, dot2 + 1, end, signatureScratch) != sigLength) return Reason.JwtSignatureBadBase64;
  signatureLength = sigLength;
  return Reason.Ok;
}

/** What a JOSE header says, or why it is refused. */
class ParsedHeader {
  reason: Reason = Reason.Ok;
  alg: Alg = Alg.Unknown;
  /** `kid` (a JSON string of the header's document), or null. */
  kid: JsonValue | null = null;
  /** The base64url segment it was parsed from (cached headers only). */
  segment: Uint8Array = NO_BYTES;
  hash: u64 = 0;
}

/** Headers longer than this (base64url bytes) are parsed every time. */
const CACHED_HEADER_MAX_BYTES = 512;
/** Slots of the header cache (a power of two): the issuers and key ids in use at once. */
const HEADER_CACHE_SLOTS = 16;
const headerCache = new StaticArray<ParsedHeader | null>(HEADER_CACHE_SLOTS);
/** The result of the last header parsed, reused (a valid one is copied into the cache). */
const uncachedHeader = new ParsedHeader();

/**
 * The JOSE header of `token[start..end)` (its base64url segment), from the cache when
 * the same segment was parsed before; refused headers are not kept, so a cached one is
 * always valid. Direct-mapped by a hash of the segment, which must be equal byte for byte.
 */
function parsedHeader(token: Uint8Array, start: i32, end: i32): ParsedHeader {
  const ptr = token.dataStart + <usize>start;
  const len = end - start;
  const cacheable = len <= CACHED_HEADER_MAX_BYTES;
  let hash: u64 = 0;
  let slot = 0;
  if (cacheable) {
    hash = bytesHash(ptr, len, 0);
    slot = <i32>hash & (HEADER_CACHE_SLOTS - 1);
    const known = unchecked(headerCache[slot]);
    if (known !== null && known.hash == hash && known.segment.length == len && sameBytes(known.segment.dataStart, ptr, len)) return known;
  }
  const parsed = uncachedHeader;
  parsed.reason = parseHeader(token, start, end, parsed);
  if (parsed.reason != Reason.Ok || !cacheable) return parsed;
  const h = new ParsedHeader();
  h.alg = parsed.alg;
  h.kid = parsed.kid;
  const segment = new Uint8Array(len);
  memory.copy(segment.dataStart, ptr, <usize>len);
  h.segment = segment;
  h.hash = hash;
  unchecked((headerCache[slot] = h));
  return h;
}

/** Decodes and checks a JOSE header segment into `h`: Ok, or the reason it is refused. */
function parseHeader(token: Uint8Array, start: i32, end: i32, h: ParsedHeader): Reason {
  h.alg = Alg.Unknown;
  h.kid = null;
  const headerLength = base64urlDecodedLength(end - start);
  if (headerLength == BASE64URL_INVALID) return Reason.JwtHeaderBadBase64;
  headerScratch = room(headerScratch, headerLength);
  if (decodeSegment(token, start, end, headerScratch) != headerLength) return Reason.JwtHeaderBadBase64;
  const header = parseJsonAt(headerScratch.dataStart, headerLength, HEADER_JSON);
  if (!header.ok || !header.value!.isObject()) return Reason.JwtHeaderBadJson;
  const v = header.value!;
  const alg = v.get("alg");
  if (alg === null || !alg.isString()) return Reason.JwtHeaderBadAlg;
  h.alg = algFromJson(alg);
  if (h.alg == Alg.Unknown || h.alg == Alg.None) return Reason.JwtAlgNotSupported;
  const kid = v.get("kid");
  if (kid !== null && !kid.isString()) return Reason.JwtHeaderBadKid;
  h.kid = kid;
  if (v.has("crit")) return Reason.JwtHeaderCritNotSupported;
  return Reason.Ok;
}

/** Type checks of the registered claims jwt-auth reads (RFC 7519 §4.1). */
function readClaims(p: JsonValue, jwt: Jwt): Reason {
  const iss = p.get("iss");
  if (iss !== null && !iss.isString()) return Reason.JwtIssNotString;
  jwt.iss = iss;
  const sub = p.get("sub");
  if (sub !== null && !sub.isString()) return Reason.JwtSubNotString;
  jwt.sub = sub;
  const aud = p.get("aud");
  if (aud !== null) {
    if (aud.isArray()) {
      for (let i = 0, n = aud.length; i < n; i++) if (!aud.at(i)!.isString()) return Reason.JwtAudNotString;
    } else if (!aud.isString()) return Reason.JwtAudNotString;
  }
  jwt.aud = aud;
  const exp = p.get("exp");
  if (exp !== null) {
    if (!exp.isNumber()) return Reason.JwtExpNotNumber;
    jwt.hasExp = true;
    jwt.exp = exp.asF64();
  }
  const nbf = p.get("nbf");
  if (nbf !== null) {
    if (!nbf.isNumber()) return Reason.JwtNbfNotNumber;
    jwt.hasNbf = true;
    jwt.nbf = nbf.asF64();
  }
  const iat = p.get("iat");
  if (iat !== null) {
    if (!iat.isNumber()) return Reason.JwtIatNotNumber;
    jwt.hasIat = true;
    jwt.iat = iat.asF64();
  }
  return Reason.Ok;
}
