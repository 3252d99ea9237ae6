/**
 * RSA public keys (RFC 8017 §3.1) for signature verification, built once from the JWK
 * members `n` and `e` (RFC 7518 §6.3.1) and then used for any number of signatures.
 */
import { VerifyResult } from "../result";
import { HashAlg, hashLength } from "../sha2";
import { pkcs1Template } from "./digest-info";
import {
  Montgomery, Residue, limbBitsFor, limbsFor, limbsFromBytes, residueFromBytes, residueToBytes,
} from "./montgomery";

/** Smallest accepted modulus, in bits (NIST SP 800-131A; RFC 7518 §3.3 asks for 2048). */
export const MIN_MODULUS_BITS: i32 = 2048;
/** Largest accepted modulus, in bits. */
export const MAX_MODULUS_BITS: i32 = 4096;

/** Index of the first non-zero byte of `len` bytes at `p` (len when all are zero). */
function skipZeros(p: usize, len: i32): i32 {
  let i = 0;
  while (i < len && load<u8>(p + <usize>i) == 0) i++;
  return i;
}

/**
 * An RSA public key (n, e) with what verification needs precomputed: the Montgomery
 * constants of n (−n⁻¹ mod 2^w and 2^(2w), R² mod n), for e = 2^t + 1 the PKCS#1 v1.5
 * constants of `eShift`, and the work buffers, so that a verification allocates
 * nothing. Building one costs about 20 Montgomery products, and 40 more when
 * e = 2^t + 1 (65537: about 0.1 ms on V8 for 2048 bits).
 *
 * Accepted: 2048 ≤ bits(n) ≤ 4096, n odd, e odd with 3 ≤ e < n (RFC 8017 §3.1).
 * Anything else gives a key whose `status` is BadKey; every verification with it
 * returns BadKey. Leading zero bytes of `n` and `e` are ignored.
 */
export class RsaPublicKey {
  /** Valid, or BadKey when (n, e) is outside what is accepted. */
  readonly status: VerifyResult;
  /** Bits of n (0 for a rejected key). */
  readonly modulusBits: i32;
  /** k: bytes of n, and so of every signature (RFC 8017 §8.2.2 step 1). */
  readonly modulusBytes: i32;

  /** n as k big-endian bytes, to check s < n on the signature's bytes. */
  private nBytes: StaticArray<u8> = new StaticArray<u8>(0);
  /** e as big-endian bytes without leading zeros. */
  private eBytes: StaticArray<u8> = new StaticArray<u8>(0);
  private mont: Montgomery | null = null;
  // Work residues of one exponentiation.
  private s: Residue = new Residue(0);
  private base: Residue = new Residue(0);
  private x: Residue = new Residue(0);
  private y: Residue = new Residue(0);
  /** The encoded message EM = s^e mod n as k bytes, for the padding checks. */
  private em: StaticArray<u8> = new StaticArray<u8>(0);
  /**
   * t when e = 2^t + 1 (3, 5, 17, 257, 65537…), else 0. Such keys check RSASSA-PKCS1-v1_5
   * as s^e·R^(−2^t) ≡ EM·R^(−2^t) (mod n): t squarings of s itself and one product,
   * without entering the Montgomery domain, against an EM whose fixed part is moved
   * by R^(−2^t) once per key (`shiftedPublicOperation`, `expectedPkcs1`).
   */
  get eShift(): i32 {
    return this.shift;
  }
  private shift: i32 = 0;
  /** Per hash: the EM template without digest, times R^(−2^t), mod n. */
  private fixed256: Residue = new Residue(0);
  private fixed384: Residue = new Residue(0);
  private fixed512: Residue = new Residue(0);
  /** Per hash: R^(−2^t)·2^(w·j) mod n, j = limbs of the digest (see `expectedPkcs1`). */
  private factor256: Residue = new Residue(0);
  private factor384: Residue = new Residue(0);
  private factor512: Residue = new Residue(0);
  /** The digest's limbs, and the expected residue of one verification. */
  private digestLimbs: StaticArray<u32> = new StaticArray<u32>(0);
  private expected: Residue = new Residue(0);

  /**
   * Builds a key from the big-endian magnitudes of the modulus `n` and the public
   * exponent `e` (JWK `n` and `e` after base64url decoding).
   */
  static fromJwk(n: Uint8Array, e: Uint8Array): RsaPublicKey {
    return new RsaPublicKey(n.dataStart, n.length, e.dataStart, e.length);
  }

  /** As `fromJwk`, for `nLen` bytes at `nPtr` and `eLen` bytes at `ePtr`. */
  constructor(nPtr: usize, nLen: i32, ePtr: usize, eLen: i32) {
    const n0 = skipZeros(nPtr, nLen);
    const e0 = skipZeros(ePtr, eLen);
    const k = nLen - n0;
    const eSize = eLen - e0;
    const bits = k == 0 ? 0 : k * 8 - clz<u32>(<u32>load<u8>(nPtr + <usize>n0)) + 24;
    const nOdd = k != 0 && (load<u8>(nPtr + <usize>(nLen - 1)) & 1) != 0;
    const eOdd = eSize != 0 && (load<u8>(ePtr + <usize>(eLen - 1)) & 1) != 0;
    const eIsOne = eSize == 1 && load<u8>(ePtr + <usize>e0) == 1;
    const ok = bits >= MIN_MODULUS_BITS && bits <= MAX_MODULUS_BITS && nOdd && eOdd && !eIsOne
      && lessThan(ePtr + <usize>e0, eSize, nPtr + <usize>n0, k);
    this.status = ok ? VerifyResult.Valid : VerifyResult.BadKey;
    this.modulusBits = ok ? bits : 0;
    this.modulusBytes = ok ? k : 0;
    if (ok) this.precompute(nPtr + <usize>n0, k, ePtr + <usize>e0, eSize);
  }

  private precompute(n: usize, k: i32, e: usize, eSize: i32): void {
    this.nBytes = new StaticArray<u8>(k);
    memory.copy(changetype<usize>(this.nBytes), n, <usize>k);
    this.eBytes = new StaticArray<u8>(eSize);
    memory.copy(changetype<usize>(this.eBytes), e, <usize>eSize);
    const count = limbsFor(this.modulusBits);
    const w = limbBitsFor(this.modulusBits);
    const modulus = new Residue(count);
    residueFromBytes(modulus, w, n, k);
    this.mont = new Montgomery(modulus, w);
    this.s = new Residue(count);
    this.base = new Residue(count);
    this.x = new Residue(count);
    this.y = new Residue(count);
    this.em = new StaticArray<u8>(k);
    const shift = fermatShift(e, eSize);
    if (shift > 0) {
      this.shift = shift;
      this.precomputePkcs1(shift, count, w, k);
    }
  }

  /** The per-hash constants of `expectedPkcs1` (3·2 products, t squarings). */
  private precomputePkcs1(shift: i32, count: i32, w: i32, k: i32): void {
    const mont = this.mont!;
    // The plain 1 is the Montgomery form of R⁻¹: t squarings give the form of R^(−2^t).
    let g = this.x;
    let spare = this.y;
    memory.fill(g.limbs(), 0, <usize>count << 2);
    store<u32>(g.limbs(), 1);
    g.mirror();
    for (let i = 0; i < shift; i++) {
      mont.sqr(spare, g);
      const t = g;
      g = spare;
      spare = t;
    }
    const template = new StaticArray<u8>(k);
    const value = new Residue(count);
    let maxDigestLimbs = 0;
    for (let alg = HashAlg.SHA256; alg <= HashAlg.SHA512; alg++) {
      pkcs1Template(changetype<usize>(template), k, alg);
      residueFromBytes(value, w, changetype<usize>(template), k);
      const fixed = new Residue(count);
      mont.mul(fixed, value, g); // template·R^(−2^t)
      mont.reduce(fixed.limbs());
      if (alg == HashAlg.SHA256) this.fixed256 = fixed;
      else if (alg == HashAlg.SHA384) this.fixed384 = fixed;
      else this.fixed512 = fixed;
      const j = (hashLength(alg) * 8 + w - 1) / w;
      maxDigestLimbs = max(maxDigestLimbs, j);
      memory.fill(value.limbs(), 0, <usize>count << 2);
      store<u32>(value.limbs() + (<usize>j << 2), 1); // 2^(w·j)
      value.mirror();
      const factor = new Residue(count);
      mont.mul(factor, value, g);
      mont.reduce(factor.limbs());
      if (alg == HashAlg.SHA256) this.factor256 = factor;
      else if (alg == HashAlg.SHA384) this.factor384 = factor;
      else this.factor512 = factor;
    }
    this.digestLimbs = new StaticArray<u32>(maxDigestLimbs);
    this.expected = new Residue(count);
  }

  /**
   * RSAVP1 (RFC 8017 §5.2.2) on a signature of exactly k bytes at `sig`: s^e mod n as k
   * big-endian bytes, returned as the address of the key's EM buffer (valid until the
   * next call). Returns 0 when s ≥ n ("signature representative out of range").
   * The key must be valid.
   */
  publicOperation(sig: usize): usize {
    const k = this.modulusBytes;
    if (!lessThan(sig, k, changetype<usize>(this.nBytes), k)) return 0;
    const mont = this.mont!;
    const s = this.s;
    residueFromBytes(s, mont.bits, sig, k);
    const result = this.power(mont, s);
    if (mont.compareToModulus(result.limbs()) >= 0) mont.subtractModulus(result.limbs());
    const em = changetype<usize>(this.em);
    residueToBytes(em, k, result, mont.bits);
    return em;
  }

  /**
   * For a key with `eShift` = t > 0: s^e·R^(−2^t) mod n (fully reduced) for a signature
   * of exactly k bytes at `sig`, as the key's scratch residue (valid until the next
   * call); null when s ≥ n. t Montgomery squarings of the plain s give s^(2^t)·R^(1−2^t),
   * and the product with s removes one more R.
   */
  shiftedPublicOperation(sig: usize): Residue | null {
    const k = this.modulusBytes;
    if (!lessThan(sig, k, changetype<usize>(this.nBytes), k)) return null;
    const mont = this.mont!;
    const s = this.s;
    residueFromBytes(s, mont.bits, sig, k);
    let cur = s;
    let next = this.x;
    for (let i = 0; i < this.shift; i++) {
      mont.sqr(next, cur);
      cur = next;
      next = cur === this.x ? this.y : this.x;
    }
    mont.mul(next, cur, s);
    mont.reduce(next.limbs());
    return next;
  }

  /**
   * For a key with `eShift` = t > 0: EM·R^(−2^t) mod n (fully reduced) for the
   * RSASSA-PKCS1-v1_5 encoding of the digest of `alg` at `digest` (RFC 8017 §9.2), as the
   * key's scratch residue. EM = template + H: the template's part was precomputed, H's
   * is a product by a short operand (H has j limbs): H·(R^(−2^t)·2^(w·j))·2^(−w·j).
   */
  expectedPkcs1(alg: HashAlg, digest: usize): Residue {
    const mont = this.mont!;
    const hLen = hashLength(alg);
    const j = (hLen * 8 + mont.bits - 1) / mont.bits;
    const h = changetype<usize>(this.digestLimbs);
    limbsFromBytes(h, j, mont.bits, digest, hLen);
    const sha256 = alg == HashAlg.SHA256;
    const sha384 = alg == HashAlg.SHA384;
    const product = this.base;
    mont.mulShort(product, h, j, sha256 ? this.factor256 : sha384 ? this.factor384 : this.factor512);
    const expected = this.expected;
    mont.addReduced(expected, product, sha256 ? this.fixed256 : sha384 ? this.fixed384 : this.fixed512);
    return expected;
  }

  /** Whether two fully reduced residues of this key are equal. */
  sameResidue(a: Residue, b: Residue): bool {
    return this.mont!.equal(a.limbs(), b.limbs());
  }

  /**
   * s^e mod n, below 2n. With e = 2q + 1: x = (s^q)·R by left-to-right square and
   * multiply in the Montgomery domain, then one squaring and a last product with the
   * plain s, which leaves the domain: (s^2q·R)·s·R⁻¹ = s^e. For e = 65537 that is
   * 1 + 16 squarings + 1 product.
   */
  private power(mont: Montgomery, s: Residue): Residue {
    const e = changetype<usize>(this.eBytes);
    const eLen = this.eBytes.length;
    const base = this.base;
    mont.mul(base, s, mont.r2); // s·R
    let cur = base;
    let next = this.x;
    // Bits of q = e >> 1 below its top bit, i.e. the bits of e from the second
    // highest down to bit 1.
    const top = eLen * 8 - clz<u32>(<u32>load<u8>(e)) + 24 - 1; // index of e's top bit
    for (let bit = top - 1; bit >= 1; bit--) {
      mont.sqr(next, cur);
      cur = next;
      next = cur === this.x ? this.y : this.x;
      const byte = load<u8>(e + <usize>(eLen - 1 - (bit >> 3)));
      if ((byte >> <u8>(bit & 7)) & 1) {
        mont.mul(next, cur, base);
        cur = next;
        next = cur === this.x ? this.y : this.x;
      }
    }
    mont.sqr(next, cur);
    cur = next;
    next = cur === this.x ? this.y : this.x;
    mont.mul(next, s, cur);
    return next;
  }
}

/**
 * t when the big-endian e (`eLen` bytes, no leading zero) is 2^t + 1 with t ≥ 1, else 0.
 */
function fermatShift(e: usize, eLen: i32): i32 {
  if (eLen > 8) return 0;
  let v: u64 = 0;
  for (let i = 0; i < eLen; i++) v = (v << 8) | <u64>load<u8>(e + <usize>i);
  const m = v - 1;
  if (v < 3 || (m & (m - 1)) != 0) return 0;
  return <i32>ctz<u64>(m);
}

/**
 * Whether the big-endian number a (aLen bytes) is below b (bLen bytes). Equal lengths
 * compare byte by byte; different lengths assume no leading zero bytes.
 */
function lessThan(a: usize, aLen: i32, b: usize, bLen: i32): bool {
  if (aLen != bLen) return aLen < bLen;
  for (let i = 0; i < aLen; i++) {
    const x = load<u8>(a + <usize>i);
    const y = load<u8>(b + <usize>i);
    if (x != y) return x < y;
  }
  return false;
}
