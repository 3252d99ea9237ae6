/**
 * RSASSA-PSS verification (RFC 8017 §8.1.2) with EMSA-PSS (§9.1.2) and MGF1 (§B.2.1)
 * over the same hash, salt length = hash length: JWS PS256/PS384/PS512 (RFC 7518 §3.5).
 */
import { VerifyResult } from "../result";
import { HashAlg, Sha256, Sha512, hashLength, hashRawInto, sharedSha256, sharedSha512 } from "../sha2";
import { constantTimeEqualRaw } from "../ct";
import { RsaPublicKey } from "./key";

const digestScratch = new Uint8Array(64);
const hashScratch = new Uint8Array(64);
// M' starts with 8 zero bytes (§9.1.2 step 12); the MGF1 counter is 4 bytes.
const ZEROS: usize = memory.data(8);
const COUNTER: usize = memory.data(4);

/** Hashes `len` bytes at `a`, then `bLen` at `b`, then `cLen` at `c`, into `out`. */
function hash3(alg: HashAlg, a: usize, aLen: usize, b: usize, bLen: usize, c: usize, cLen: usize, out: usize): void {
  if (alg == HashAlg.SHA256) {
    const h: Sha256 = sharedSha256();
    h.updateRaw(a, aLen).updateRaw(b, bLen).updateRaw(c, cLen).finalRaw(out);
  } else {
    const h: Sha512 = sharedSha512(hashLength(alg));
    h.updateRaw(a, aLen).updateRaw(b, bLen).updateRaw(c, cLen).finalRaw(out);
  }
}

/** db ^= MGF1(seed, dbLen) (RFC 8017 §B.2.1), the seed being hLen bytes at `seed`. */
function mgf1Xor(alg: HashAlg, seed: usize, hLen: i32, db: usize, dbLen: i32): void {
  const t = hashScratch.dataStart;
  let done = 0;
  for (let counter: u32 = 0; done < dbLen; counter++) {
    store<u32>(COUNTER, bswap<u32>(counter));
    hash3(alg, seed, <usize>hLen, COUNTER, 4, 0, 0, t);
    const n = min<i32>(hLen, dbLen - done);
    for (let i = 0; i < n; i++) {
      const p = db + <usize>(done + i);
      store<u8>(p, load<u8>(p) ^ load<u8>(t + <usize>i));
    }
    done += n;
  }
}

/**
 * Verifies an RSASSA-PSS signature of `msgLen` bytes at `msg` (hashed with `alg`,
 * MGF1 with `alg`, salt of hash length). `sigLen` must be the modulus length k.
 * Valid or Invalid; BadSignature for a signature of the wrong length or ≥ n; BadKey
 * for an unusable key; BadInput for an unknown `alg`.
 */
export function verifyPssRaw(key: RsaPublicKey, alg: HashAlg, msg: usize, msgLen: usize, sig: usize, sigLen: i32): VerifyResult {
  if (key.status != VerifyResult.Valid) return key.status;
  const hLen = hashRawInto(alg, msg, msgLen, digestScratch);
  if (hLen == 0) return VerifyResult.BadInput;
  return verifyPssDigestRaw(key, alg, digestScratch.dataStart, sig, sigLen);
}

/** As `verifyPssRaw`, given mHash (hash length bytes at `mHash`). */
export function verifyPssDigestRaw(key: RsaPublicKey, alg: HashAlg, mHash: usize, sig: usize, sigLen: i32): VerifyResult {
  if (key.status != VerifyResult.Valid) return key.status;
  const hLen = hashLength(alg);
  if (hLen == 0) return VerifyResult.BadInput;
  const k = key.modulusBytes;
  if (sigLen != k) return VerifyResult.BadSignature;
  const m = key.publicOperation(sig);
  if (m == 0) return VerifyResult.BadSignature;
  const sLen = hLen;
  // §8.1.2 step 2c: EM = I2OSP(m, emLen) with emBits = modBits − 1; when emLen < k
  // the leading byte of m must be zero or I2OSP fails.
  const emBits = key.modulusBits - 1;
  const emLen = (emBits + 7) >> 3;
  let em = m;
  if (emLen < k) {
    if (load<u8>(m) != 0) return VerifyResult.Invalid;
    em = m + 1;
  }
  // §9.1.2 steps 3–5.
  if (emLen < hLen + sLen + 2) return VerifyResult.Invalid;
  if (load<u8>(em + <usize>(emLen - 1)) != 0xbc) return VerifyResult.Invalid;
  const dbLen = emLen - hLen - 1;
  const h = em + <usize>dbLen;
  // Step 6: the 8·emLen − emBits leftmost bits of maskedDB must be zero.
  const keep = <u8>(0xff >> <u8>(8 * emLen - emBits));
  if (load<u8>(em) & ~keep) return VerifyResult.Invalid;
  // Steps 7–9, in place: DB = maskedDB ⊕ MGF1(H), leftmost bits cleared.
  mgf1Xor(alg, h, hLen, em, dbLen);
  store<u8>(em, load<u8>(em) & keep);
  // Step 10: DB = PS (zeros) || 0x01 || salt.
  const psLen = emLen - hLen - sLen - 2;
  let diff: u32 = load<u8>(em + <usize>psLen) ^ 0x01;
  for (let i = 0; i < psLen; i++) diff |= load<u8>(em + <usize>i);
  if (diff != 0) return VerifyResult.Invalid;
  // Steps 11–14: H' = Hash(0x00×8 || mHash || salt) must equal H.
  const salt = em + <usize>(psLen + 1);
  const expected = hashScratch.dataStart;
  hash3(alg, ZEROS, 8, mHash, <usize>hLen, salt, <usize>sLen, expected);
  return constantTimeEqualRaw(expected, h, <usize>hLen) ? VerifyResult.Valid : VerifyResult.Invalid;
}
