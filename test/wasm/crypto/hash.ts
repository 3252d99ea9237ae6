// SHA-2, HMAC, base64url and constant-time compare of assembly/crypto/ with raw
// pointers, for the vitest suites (test/crypto/hash*, hmac*) and the crypto bench.
// Byte results go to the output area (io.ts); verifications return VerifyResult codes.
import { HashAlg, hashRawInto } from "../../../assembly/crypto/sha2";
import { HmacKey } from "../../../assembly/crypto/hmac";
import { base64urlDecodeRaw, base64urlDecodedLength, base64urlEncodeInto } from "../../../assembly/crypto/base64url";
import { constantTimeEqualRaw } from "../../../assembly/crypto/ct";
import { VerifyResult } from "../../../assembly/crypto/result";
import { bytesAt, outputArray } from "./io";

/** Digest of `len` bytes at `ptr` with HashAlg `alg` into the output area: its length, or -1. */
export function sha2_digest(alg: i32, ptr: usize, len: usize): i32 {
  const n = hashRawInto(<HashAlg>alg, ptr, len, outputArray());
  return n == 0 ? -1 : n;
}

/** HMAC with HashAlg `alg` into the output area: the tag length, or -1 for an unknown alg. */
export function hmac_compute(alg: i32, key: usize, keyLen: usize, msg: usize, msgLen: usize): i32 {
  const k = new HmacKey(<HashAlg>alg, bytesAt(key, keyLen));
  if (k.status != VerifyResult.Valid) return -1;
  k.computeRaw(msg, msgLen, outputArray().dataStart);
  return k.tagLength;
}

/** `HmacKey.verify` (full-length tags, as JWS) with a key built for this call. */
export function hmac_verify(alg: i32, key: usize, keyLen: usize, msg: usize, msgLen: usize, tag: usize, tagLen: usize): i32 {
  return new HmacKey(<HashAlg>alg, bytesAt(key, keyLen)).verifyRaw(msg, msgLen, tag, tagLen);
}

/** `HmacKey.verifyTruncated` (RFC 2104 §5 truncated tags). */
export function hmac_verify_truncated(alg: i32, key: usize, keyLen: usize, msg: usize, msgLen: usize, tag: usize, tagLen: usize): i32 {
  return new HmacKey(<HashAlg>alg, bytesAt(key, keyLen)).verifyTruncated(bytesAt(msg, msgLen), bytesAt(tag, tagLen));
}

// Keys kept between calls (differential test, bench), by handle.
const hmacKeys = new Array<HmacKey | null>();

/** Builds an HmacKey and keeps it: its handle (≥ 0). */
export function hmac_key_new(alg: i32, key: usize, keyLen: usize): i32 {
  hmacKeys.push(new HmacKey(<HashAlg>alg, bytesAt(key, keyLen)));
  return hmacKeys.length - 1;
}

/** `verify` with a kept key; BadInput for an unknown handle. */
export function hmac_key_verify(handle: i32, msg: usize, msgLen: usize, tag: usize, tagLen: usize): i32 {
  if (handle < 0 || handle >= hmacKeys.length) return VerifyResult.BadInput;
  const k = hmacKeys[handle];
  if (k === null) return VerifyResult.BadInput;
  return k.verifyRaw(msg, msgLen, tag, tagLen);
}

export function hmac_key_free(handle: i32): void {
  if (handle >= 0 && handle < hmacKeys.length) hmacKeys[handle] = null;
}

/** Decodes base64url text into the output area: the byte count, or -1 when rejected. */
export function base64url_decode(ptr: usize, len: usize): i32 {
  const out = outputArray();
  if (base64urlDecodedLength(<i32>len) > out.length) return -1;
  return base64urlDecodeRaw(ptr, len, out.dataStart);
}

/** Encodes bytes as unpadded base64url into the output area: the character count, or -1. */
export function base64url_encode(ptr: usize, len: usize): i32 {
  return base64urlEncodeInto(bytesAt(ptr, len), 0, <i32>len, outputArray());
}

/** 1 when the two byte strings are equal (constantTimeEqual), else 0. */
export function ct_equal(a: usize, aLen: usize, b: usize, bLen: usize): i32 {
  if (aLen != bLen) return 0;
  return constantTimeEqualRaw(a, b, aLen) ? 1 : 0;
}
