/**
 * HMAC (RFC 2104) over SHA-256, SHA-384 and SHA-512 (FIPS 198-1), as JWS HS256/384/512
 * use it (RFC 7518 §3.2).
 *
 * An `HmacKey` hashes the padded key blocks K ⊕ ipad and K ⊕ opad once, at
 * construction, and keeps the two hash states: a MAC then costs the message's blocks
 * plus two, and nothing is allocated per call. For SHA-256 (HS256, the common JWS
 * case) the states are raw chaining values run straight through the compression
 * function (sha2.ts `sha256FinishRaw`), the message read where it lies.
 *
 * Tag length: `verify` demands the full hash length, because JWS HS* tags are never
 * truncated (RFC 7518 §3.2) and jwt-auth must not accept a shortened tag, which would
 * cut the forgery work. `verifyTruncated` exists for the protocols that truncate
 * (RFC 2104 §5: the leftmost t bytes, t at least half the hash length and at least
 * 80 bits); nothing in JWS calls it.
 */
import { VerifyResult } from "./result";
import { HashAlg, Sha256, Sha512, blockLength, hashLength, sha256BlocksRaw, sha256FinishRaw, sha256InitRaw } from "./sha2";
import { constantTimeEqualRaw } from "./ct";

const IPAD: u8 = 0x36;
const OPAD: u8 = 0x5c;

/** The chaining value an HMAC-SHA-256 works on (keys share it: Wasm calls never overlap). */
const WORK256: usize = memory.data(32, 16);

/** A MAC key with its precomputed inner and outer hash states. */
export class HmacKey {
  /** The hash function; `status` is BadInput when it is not one of HashAlg. */
  readonly alg: HashAlg;
  /** Full tag length in bytes (the hash length: 32, 48 or 64; 0 for an unknown alg). */
  readonly tagLength: i32;
  /** Valid, or BadInput for an unknown `alg`. Every method of an unusable key fails. */
  readonly status: VerifyResult;

  /** SHA-256 chaining values after K ⊕ ipad and after K ⊕ opad (8 words each). */
  private readonly inner256: StaticArray<u32> = new StaticArray<u32>(8);
  private readonly outer256: StaticArray<u32> = new StaticArray<u32>(8);
  private inner512: Sha512 | null = null;
  private outer512: Sha512 | null = null;
  private work512: Sha512 | null = null;
  /** Inner digest H((K ⊕ ipad) || m). */
  private readonly innerDigest: StaticArray<u8> = new StaticArray<u8>(64);
  /** The tag computed by `verify`. */
  private readonly expected: StaticArray<u8> = new StaticArray<u8>(64);

  /**
   * `key`: the secret, any length (JWS asks for at least the hash length, RFC 7518
   * §3.2: that policy belongs to the caller). Keys longer than the hash block are
   * first hashed (RFC 2104 §2).
   */
  constructor(alg: HashAlg, key: Uint8Array) {
    this.alg = alg;
    const hLen = hashLength(alg);
    this.tagLength = hLen;
    this.status = hLen == 0 ? VerifyResult.BadInput : VerifyResult.Valid;
    if (hLen != 0) this.precompute(key);
  }

  /** Hashes K ⊕ ipad and K ⊕ opad into the inner and outer states (RFC 2104 §2). */
  private precompute(key: Uint8Array): void {
    const alg = this.alg;
    const hLen = this.tagLength;
    const block = blockLength(alg);
    const pad = new StaticArray<u8>(128);
    const p = changetype<usize>(pad);
    if (key.length > block) {
      // K' = H(K), then zero-padded.
      if (alg == HashAlg.SHA256) new Sha256().update(key).finalRaw(p);
      else new Sha512(hLen).update(key).finalRaw(p);
    } else {
      memory.copy(p, key.dataStart, <usize>key.length);
    }
    for (let i = 0; i < block; i++) store<u8>(p + <usize>i, load<u8>(p + <usize>i) ^ IPAD);
    if (alg == HashAlg.SHA256) {
      const inner = changetype<usize>(this.inner256);
      sha256InitRaw(inner);
      sha256BlocksRaw(inner, p, <usize>block);
    } else {
      this.inner512 = new Sha512(hLen).updateRaw(p, <usize>block);
      this.work512 = new Sha512(hLen);
    }
    for (let i = 0; i < block; i++) store<u8>(p + <usize>i, load<u8>(p + <usize>i) ^ (IPAD ^ OPAD));
    if (alg == HashAlg.SHA256) {
      const outer = changetype<usize>(this.outer256);
      sha256InitRaw(outer);
      sha256BlocksRaw(outer, p, <usize>block);
    } else {
      this.outer512 = new Sha512(hLen).updateRaw(p, <usize>block);
    }
    memory.fill(p, 0, 128);
  }

  /**
   * HMAC(K, message) into `out[outOffset..]` (`tagLength` bytes). Returns the number of
   * bytes written, or 0 when the key is unusable or `out` has no room.
   */
  computeInto(message: Uint8Array, out: Uint8Array, outOffset: i32 = 0): i32 {
    if (this.status != VerifyResult.Valid) return 0;
    if (outOffset < 0 || outOffset > out.length - this.tagLength) return 0;
    this.computeRaw(message.dataStart, <usize>message.length, out.dataStart + <usize>outOffset);
    return this.tagLength;
  }

  /** HMAC of `len` bytes at `ptr` into `tagLength` bytes at `dst` (key must be valid). */
  computeRaw(ptr: usize, len: usize, dst: usize): void {
    const inner = changetype<usize>(this.innerDigest);
    const hLen = <usize>this.tagLength;
    if (this.alg == HashAlg.SHA256) {
      // H((K ⊕ opad) || H((K ⊕ ipad) || m)), each from its precomputed first block.
      const w = WORK256;
      copy32(w, changetype<usize>(this.inner256));
      sha256FinishRaw(w, 64, ptr, len, inner);
      copy32(w, changetype<usize>(this.outer256));
      sha256FinishRaw(w, 64, inner, 32, dst);
    } else {
      const w = this.work512!;
      w.copyFrom(this.inner512!).updateRaw(ptr, len).finalRaw(inner);
      w.copyFrom(this.outer512!).updateRaw(inner, hLen).finalRaw(dst);
    }
  }

  /**
   * Checks a full-length tag (JWS HS*, RFC 7518 §3.2) in constant time. Valid or
   * Invalid; BadSignature when `tag` is not `tagLength` bytes long; BadInput for an
   * unusable key.
   */
  verify(message: Uint8Array, tag: Uint8Array): VerifyResult {
    return this.verifyRaw(message.dataStart, <usize>message.length, tag.dataStart, <usize>tag.length);
  }

  /** As `verify`, for `msgLen` bytes at `msg` and `tagLen` bytes at `tag`. */
  verifyRaw(msg: usize, msgLen: usize, tag: usize, tagLen: usize): VerifyResult {
    if (this.status != VerifyResult.Valid) return this.status;
    if (tagLen != <usize>this.tagLength) return VerifyResult.BadSignature;
    return this.check(msg, msgLen, tag, tagLen);
  }

  /**
   * Checks a tag truncated to its leftmost `tag.length` bytes (RFC 2104 §5), which must
   * be at least half the hash length and at least 10 bytes (80 bits), and at most the
   * full length; BadSignature otherwise. Not for JWS.
   */
  verifyTruncated(message: Uint8Array, tag: Uint8Array): VerifyResult {
    if (this.status != VerifyResult.Valid) return this.status;
    const t = tag.length;
    if (t > this.tagLength || t < 10 || t * 2 < this.tagLength) return VerifyResult.BadSignature;
    return this.check(message.dataStart, <usize>message.length, tag.dataStart, <usize>t);
  }

  private check(msg: usize, msgLen: usize, tag: usize, tagLen: usize): VerifyResult {
    const mac = changetype<usize>(this.expected);
    this.computeRaw(msg, msgLen, mac);
    return constantTimeEqualRaw(mac, tag, tagLen) ? VerifyResult.Valid : VerifyResult.Invalid;
  }
}

// @ts-ignore: decorator
@inline function copy32(dst: usize, src: usize): void {
  store<u64>(dst, load<u64>(src), 0);
  store<u64>(dst, load<u64>(src, 8), 8);
  store<u64>(dst, load<u64>(src, 16), 16);
  store<u64>(dst, load<u64>(src, 24), 24);
}

/**
 * One-shot HMAC(key, message) with `alg` (RFC 2104): a new array of the hash length,
 * or null for an unknown `alg`. Prefer an `HmacKey` when one key signs many messages.
 */
export function hmac(alg: HashAlg, key: Uint8Array, message: Uint8Array): Uint8Array | null {
  const k = new HmacKey(alg, key);
  if (k.status != VerifyResult.Valid) return null;
  const out = new Uint8Array(k.tagLength);
  k.computeInto(message, out);
  return out;
}
