/**
 * SHA-256, SHA-384 and SHA-512 (FIPS 180-4): one-shot functions and streaming hashers
 * that allocate nothing after construction. Used by HMAC (RFC 2104), RSA (RFC 8017),
 * ECDSA and Ed25519 verification.
 *
 * The compression functions keep the working variables in locals and rotate them by
 * renaming instead of by moves. SHA-256 spells out its 64 rounds with the constants as
 * immediates, computes its message schedule four words at a time with Wasm SIMD when
 * the build has it, and uses the shorter forms of Σ and Maj below (about 15% faster on
 * V8 than eight rounds per loop step); SHA-512 unrolls eight rounds per loop step. The
 * message schedules live in module-wide scratch areas, which is safe because Wasm runs
 * one call at a time.
 */

/** Hash functions by JOSE name (JWS RS256/PS256/HS256/ES256 use SHA256, and so on). */
export enum HashAlg {
  SHA256 = 1,
  SHA384 = 2,
  SHA512 = 3,
}

/** Digest length in bytes of `alg` (32, 48 or 64), or 0 for an unknown value. */
export function hashLength(alg: HashAlg): i32 {
  if (alg == HashAlg.SHA256) return 32;
  if (alg == HashAlg.SHA384) return 48;
  if (alg == HashAlg.SHA512) return 64;
  return 0;
}

/** Message block length in bytes of `alg` (64 or 128; HMAC pads keys to it), or 0. */
export function blockLength(alg: HashAlg): i32 {
  if (alg == HashAlg.SHA256) return 64;
  if (alg == HashAlg.SHA384 || alg == HashAlg.SHA512) return 128;
  return 0;
}

// FIPS 180-4 §4.2.3: first 64 bits of the fractional parts of the cube roots of the
// first 80 primes.
const K512: usize = memory.data<u64>([
  0x428a2f98d728ae22, 0x7137449123ef65cd, 0xb5c0fbcfec4d3b2f, 0xe9b5dba58189dbbc,
  0x3956c25bf348b538, 0x59f111f1b605d019, 0x923f82a4af194f9b, 0xab1c5ed5da6d8118,
  0xd807aa98a3030242, 0x12835b0145706fbe, 0x243185be4ee4b28c, 0x550c7dc3d5ffb4e2,
  0x72be5d74f27b896f, 0x80deb1fe3b1696b1, 0x9bdc06a725c71235, 0xc19bf174cf692694,
  0xe49b69c19ef14ad2, 0xefbe4786384f25e3, 0x0fc19dc68b8cd5b5, 0x240ca1cc77ac9c65,
  0x2de92c6f592b0275, 0x4a7484aa6ea6e483, 0x5cb0a9dcbd41fbd4, 0x76f988da831153b5,
  0x983e5152ee66dfab, 0xa831c66d2db43210, 0xb00327c898fb213f, 0xbf597fc7beef0ee4,
  0xc6e00bf33da88fc2, 0xd5a79147930aa725, 0x06ca6351e003826f, 0x142929670a0e6e70,
  0x27b70a8546d22ffc, 0x2e1b21385c26c926, 0x4d2c6dfc5ac42aed, 0x53380d139d95b3df,
  0x650a73548baf63de, 0x766a0abb3c77b2a8, 0x81c2c92e47edaee6, 0x92722c851482353b,
  0xa2bfe8a14cf10364, 0xa81a664bbc423001, 0xc24b8b70d0f89791, 0xc76c51a30654be30,
  0xd192e819d6ef5218, 0xd69906245565a910, 0xf40e35855771202a, 0x106aa07032bbd1b8,
  0x19a4c116b8d2d0c8, 0x1e376c085141ab53, 0x2748774cdf8eeb99, 0x34b0bcb5e19b48a8,
  0x391c0cb3c5c95a63, 0x4ed8aa4ae3418acb, 0x5b9cca4f7763e373, 0x682e6ff3d6b2b8a3,
  0x748f82ee5defb2fc, 0x78a5636f43172f60, 0x84c87814a1f0ab72, 0x8cc702081a6439ec,
  0x90befffa23631e28, 0xa4506cebde82bde9, 0xbef9a3f7b2c67915, 0xc67178f2e372532b,
  0xca273eceea26619c, 0xd186b8c721c0c207, 0xeada7dd6cde0eb1e, 0xf57d4f7fee6ed178,
  0x06f067aa72176fba, 0x0a637dc5a2c898a6, 0x113f9804bef90dae, 0x1b710b35131c471b,
  0x28db77f523047d84, 0x32caab7b40c72493, 0x3c9ebe0a15c9bebc, 0x431d67c49c100d4c,
  0x4cc5d4becb3e42b6, 0x597f299cfc657e2a, 0x5fcb6fab3ad6faec, 0x6c44198c4a475817
]);

// Message schedules W_t (FIPS 180-4 §6.2.2 step 1, §6.4.2 step 1).
const W256: usize = memory.data(64 * 4, 16);
const W512: usize = memory.data(80 * 8, 16);

// SHA-256 functions (FIPS 180-4 §4.1.2) in the forms that take fewest x86 instructions
// once V8 has compiled them: Σ as nested rotations (rotr(rotr(rotr(x, 14) ^ x, 5) ^ x, 6)
// = rotr(x, 6) ^ rotr(x, 11) ^ rotr(x, 25), one register copy instead of three), and
// Maj(a, b, c) = ((a ^ b) & (b ^ c)) ^ b, whose b ^ c is the previous round's a ^ b.

// @ts-ignore: decorator
@inline function bigSigma0(x: u32): u32 {
  return rotr<u32>(rotr<u32>(rotr<u32>(x, 9) ^ x, 11) ^ x, 2);
}

// @ts-ignore: decorator
@inline function bigSigma1(x: u32): u32 {
  return rotr<u32>(rotr<u32>(rotr<u32>(x, 14) ^ x, 5) ^ x, 6);
}

// @ts-ignore: decorator
@inline function ch(x: u32, y: u32, z: u32): u32 {
  return z ^ (x & (y ^ z));
}

/** T1 of a round (FIPS 180-4 §6.2.2 step 3) with round constant `k` and schedule word `w`. */
// @ts-ignore: decorator
@inline function t1(e: u32, f: u32, g: u32, h: u32, k: u32, w: u32): u32 {
  return h + bigSigma1(e) + ch(e, f, g) + k + w;
}

/** T2 of a round given ab = a ^ b and bc = b ^ c. */
// @ts-ignore: decorator
@inline function t2(a: u32, b: u32, ab: u32, bc: u32): u32 {
  return bigSigma0(a) + ((ab & bc) ^ b);
}

// @ts-ignore: decorator
@inline function smallSigma0(x: u32): u32 {
  return rotr<u32>(x, 7) ^ rotr<u32>(x, 18) ^ (x >>> 3);
}

// @ts-ignore: decorator
@inline function smallSigma1(x: u32): u32 {
  return rotr<u32>(x, 17) ^ rotr<u32>(x, 19) ^ (x >>> 10);
}

// σ0 and σ1 on four words (Wasm SIMD has no rotation: shifts, the two halves xored).
// @ts-ignore: decorator
@inline function smallSigma0x4(x: v128): v128 {
  return v128.xor(
    v128.xor(v128.xor(i32x4.shr_u(x, 7), i32x4.shl(x, 25)), v128.xor(i32x4.shr_u(x, 18), i32x4.shl(x, 14))),
    i32x4.shr_u(x, 3),
  );
}

// @ts-ignore: decorator
@inline function smallSigma1x4(x: v128): v128 {
  return v128.xor(
    v128.xor(v128.xor(i32x4.shr_u(x, 17), i32x4.shl(x, 15)), v128.xor(i32x4.shr_u(x, 19), i32x4.shl(x, 13))),
    i32x4.shr_u(x, 10),
  );
}

// @ts-ignore: decorator
@inline function bswap32x4(x: v128): v128 {
  return i8x16.shuffle(x, x, 3, 2, 1, 0, 7, 6, 5, 4, 11, 10, 9, 8, 15, 14, 13, 12);
}

/**
 * The 64 words of the SHA-256 message schedule (FIPS 180-4 §6.2.2 step 1) of the
 * 64-byte block at `block`, into W256.
 */
function schedule256(block: usize): void {
  const W = W256;
  if (ASC_FEATURE_SIMD) {
    // Four words per step, the last sixteen in registers: W[t−15..t−12] and W[t−7..t−4]
    // are shifts across two of them, and W[t+2..t+3] need the W[t..t+1] of the same step.
    let v0 = bswap32x4(v128.load(block));
    let v1 = bswap32x4(v128.load(block, 16));
    let v2 = bswap32x4(v128.load(block, 32));
    let v3 = bswap32x4(v128.load(block, 48));
    v128.store(W, v0);
    v128.store(W, v1, 16);
    v128.store(W, v2, 32);
    v128.store(W, v3, 48);
    for (let t: usize = 16; t < 64; t += 4) {
      const s = i32x4.add(i32x4.add(v0, i32x4.shuffle(v2, v3, 1, 2, 3, 4)), smallSigma0x4(i32x4.shuffle(v0, v1, 1, 2, 3, 4)));
      const lo = i32x4.add(s, smallSigma1x4(i32x4.shuffle(v3, v3, 2, 3, 2, 3)));
      const hi = i32x4.add(s, smallSigma1x4(i32x4.shuffle(lo, lo, 0, 1, 0, 1)));
      v0 = v1;
      v1 = v2;
      v2 = v3;
      v3 = i32x4.shuffle(lo, hi, 0, 1, 6, 7);
      v128.store(W + (t << 2), v3);
    }
  } else {
    for (let i: usize = 0; i < 64; i += 4) {
      store<u32>(W + i, bswap<u32>(load<u32>(block + i)));
    }
    for (let i: usize = 64; i < 256; i += 4) {
      const w15 = load<u32>(W + i - 60);
      const w2 = load<u32>(W + i - 8);
      store<u32>(W + i, load<u32>(W + i - 64) + smallSigma0(w15) + load<u32>(W + i - 28) + smallSigma1(w2));
    }
  }
}

/**
 * SHA-256 compression of the 64-byte block at `block` into the 8 words at `state`. The
 * round constants K (FIPS 180-4 §4.2.2: the first 32 bits of the fractional parts of the
 * cube roots of the first 64 primes) are the immediates of the 64 rounds.
 */
function compress256(state: usize, block: usize): void {
  schedule256(block);
  const W = W256;
  let a = load<u32>(state, 0);
  let b = load<u32>(state, 4);
  let c = load<u32>(state, 8);
  let d = load<u32>(state, 12);
  let e = load<u32>(state, 16);
  let f = load<u32>(state, 20);
  let g = load<u32>(state, 24);
  let h = load<u32>(state, 28);
  let t: u32;
  let ab: u32;
  let bc = b ^ c;
  t = t1(e, f, g, h, 0x428a2f98, load<u32>(W, 0)); d += t; ab = a ^ b; h = t + t2(a, b, ab, bc); bc = ab;
  t = t1(d, e, f, g, 0x71374491, load<u32>(W, 4)); c += t; ab = h ^ a; g = t + t2(h, a, ab, bc); bc = ab;
  t = t1(c, d, e, f, 0xb5c0fbcf, load<u32>(W, 8)); b += t; ab = g ^ h; f = t + t2(g, h, ab, bc); bc = ab;
  t = t1(b, c, d, e, 0xe9b5dba5, load<u32>(W, 12)); a += t; ab = f ^ g; e = t + t2(f, g, ab, bc); bc = ab;
  t = t1(a, b, c, d, 0x3956c25b, load<u32>(W, 16)); h += t; ab = e ^ f; d = t + t2(e, f, ab, bc); bc = ab;
  t = t1(h, a, b, c, 0x59f111f1, load<u32>(W, 20)); g += t; ab = d ^ e; c = t + t2(d, e, ab, bc); bc = ab;
  t = t1(g, h, a, b, 0x923f82a4, load<u32>(W, 24)); f += t; ab = c ^ d; b = t + t2(c, d, ab, bc); bc = ab;
  t = t1(f, g, h, a, 0xab1c5ed5, load<u32>(W, 28)); e += t; ab = b ^ c; a = t + t2(b, c, ab, bc); bc = ab;
  t = t1(e, f, g, h, 0xd807aa98, load<u32>(W, 32)); d += t; ab = a ^ b; h = t + t2(a, b, ab, bc); bc = ab;
  t = t1(d, e, f, g, 0x12835b01, load<u32>(W, 36)); c += t; ab = h ^ a; g = t + t2(h, a, ab, bc); bc = ab;
  t = t1(c, d, e, f, 0x243185be, load<u32>(W, 40)); b += t; ab = g ^ h; f = t + t2(g, h, ab, bc); bc = ab;
  t = t1(b, c, d, e, 0x550c7dc3, load<u32>(W, 44)); a += t; ab = f ^ g; e = t + t2(f, g, ab, bc); bc = ab;
  t = t1(a, b, c, d, 0x72be5d74, load<u32>(W, 48)); h += t; ab = e ^ f; d = t + t2(e, f, ab, bc); bc = ab;
  t = t1(h, a, b, c, 0x80deb1fe, load<u32>(W, 52)); g += t; ab = d ^ e; c = t + t2(d, e, ab, bc); bc = ab;
  t = t1(g, h, a, b, 0x9bdc06a7, load<u32>(W, 56)); f += t; ab = c ^ d; b = t + t2(c, d, ab, bc); bc = ab;
  t = t1(f, g, h, a, 0xc19bf174, load<u32>(W, 60)); e += t; ab = b ^ c; a = t + t2(b, c, ab, bc); bc = ab;
  t = t1(e, f, g, h, 0xe49b69c1, load<u32>(W, 64)); d += t; ab = a ^ b; h = t + t2(a, b, ab, bc); bc = ab;
  t = t1(d, e, f, g, 0xefbe4786, load<u32>(W, 68)); c += t; ab = h ^ a; g = t + t2(h, a, ab, bc); bc = ab;
  t = t1(c, d, e, f, 0x0fc19dc6, load<u32>(W, 72)); b += t; ab = g ^ h; f = t + t2(g, h, ab, bc); bc = ab;
  t = t1(b, c, d, e, 0x240ca1cc, load<u32>(W, 76)); a += t; ab = f ^ g; e = t + t2(f, g, ab, bc); bc = ab;
  t = t1(a, b, c, d, 0x2de92c6f, load<u32>(W, 80)); h += t; ab = e ^ f; d = t + t2(e, f, ab, bc); bc = ab;
  t = t1(h, a, b, c, 0x4a7484aa, load<u32>(W, 84)); g += t; ab = d ^ e; c = t + t2(d, e, ab, bc); bc = ab;
  t = t1(g, h, a, b, 0x5cb0a9dc, load<u32>(W, 88)); f += t; ab = c ^ d; b = t + t2(c, d, ab, bc); bc = ab;
  t = t1(f, g, h, a, 0x76f988da, load<u32>(W, 92)); e += t; ab = b ^ c; a = t + t2(b, c, ab, bc); bc = ab;
  t = t1(e, f, g, h, 0x983e5152, load<u32>(W, 96)); d += t; ab = a ^ b; h = t + t2(a, b, ab, bc); bc = ab;
  t = t1(d, e, f, g, 0xa831c66d, load<u32>(W, 100)); c += t; ab = h ^ a; g = t + t2(h, a, ab, bc); bc = ab;
  t = t1(c, d, e, f, 0xb00327c8, load<u32>(W, 104)); b += t; ab = g ^ h; f = t + t2(g, h, ab, bc); bc = ab;
  t = t1(b, c, d, e, 0xbf597fc7, load<u32>(W, 108)); a += t; ab = f ^ g; e = t + t2(f, g, ab, bc); bc = ab;
  t = t1(a, b, c, d, 0xc6e00bf3, load<u32>(W, 112)); h += t; ab = e ^ f; d = t + t2(e, f, ab, bc); bc = ab;
  t = t1(h, a, b, c, 0xd5a79147, load<u32>(W, 116)); g += t; ab = d ^ e; c = t + t2(d, e, ab, bc); bc = ab;
  t = t1(g, h, a, b, 0x06ca6351, load<u32>(W, 120)); f += t; ab = c ^ d; b = t + t2(c, d, ab, bc); bc = ab;
  t = t1(f, g, h, a, 0x14292967, load<u32>(W, 124)); e += t; ab = b ^ c; a = t + t2(b, c, ab, bc); bc = ab;
  t = t1(e, f, g, h, 0x27b70a85, load<u32>(W, 128)); d += t; ab = a ^ b; h = t + t2(a, b, ab, bc); bc = ab;
  t = t1(d, e, f, g, 0x2e1b2138, load<u32>(W, 132)); c += t; ab = h ^ a; g = t + t2(h, a, ab, bc); bc = ab;
  t = t1(c, d, e, f, 0x4d2c6dfc, load<u32>(W, 136)); b += t; ab = g ^ h; f = t + t2(g, h, ab, bc); bc = ab;
  t = t1(b, c, d, e, 0x53380d13, load<u32>(W, 140)); a += t; ab = f ^ g; e = t + t2(f, g, ab, bc); bc = ab;
  t = t1(a, b, c, d, 0x650a7354, load<u32>(W, 144)); h += t; ab = e ^ f; d = t + t2(e, f, ab, bc); bc = ab;
  t = t1(h, a, b, c, 0x766a0abb, load<u32>(W, 148)); g += t; ab = d ^ e; c = t + t2(d, e, ab, bc); bc = ab;
  t = t1(g, h, a, b, 0x81c2c92e, load<u32>(W, 152)); f += t; ab = c ^ d; b = t + t2(c, d, ab, bc); bc = ab;
  t = t1(f, g, h, a, 0x92722c85, load<u32>(W, 156)); e += t; ab = b ^ c; a = t + t2(b, c, ab, bc); bc = ab;
  t = t1(e, f, g, h, 0xa2bfe8a1, load<u32>(W, 160)); d += t; ab = a ^ b; h = t + t2(a, b, ab, bc); bc = ab;
  t = t1(d, e, f, g, 0xa81a664b, load<u32>(W, 164)); c += t; ab = h ^ a; g = t + t2(h, a, ab, bc); bc = ab;
  t = t1(c, d, e, f, 0xc24b8b70, load<u32>(W, 168)); b += t; ab = g ^ h; f = t + t2(g, h, ab, bc); bc = ab;
  t = t1(b, c, d, e, 0xc76c51a3, load<u32>(W, 172)); a += t; ab = f ^ g; e = t + t2(f, g, ab, bc); bc = ab;
  t = t1(a, b, c, d, 0xd192e819, load<u32>(W, 176)); h += t; ab = e ^ f; d = t + t2(e, f, ab, bc); bc = ab;
  t = t1(h, a, b, c, 0xd6990624, load<u32>(W, 180)); g += t; ab = d ^ e; c = t + t2(d, e, ab, bc); bc = ab;
  t = t1(g, h, a, b, 0xf40e3585, load<u32>(W, 184)); f += t; ab = c ^ d; b = t + t2(c, d, ab, bc); bc = ab;
  t = t1(f, g, h, a, 0x106aa070, load<u32>(W, 188)); e += t; ab = b ^ c; a = t + t2(b, c, ab, bc); bc = ab;
  t = t1(e, f, g, h, 0x19a4c116, load<u32>(W, 192)); d += t; ab = a ^ b; h = t + t2(a, b, ab, bc); bc = ab;
  t = t1(d, e, f, g, 0x1e376c08, load<u32>(W, 196)); c += t; ab = h ^ a; g = t + t2(h, a, ab, bc); bc = ab;
  t = t1(c, d, e, f, 0x2748774c, load<u32>(W, 200)); b += t; ab = g ^ h; f = t + t2(g, h, ab, bc); bc = ab;
  t = t1(b, c, d, e, 0x34b0bcb5, load<u32>(W, 204)); a += t; ab = f ^ g; e = t + t2(f, g, ab, bc); bc = ab;
  t = t1(a, b, c, d, 0x391c0cb3, load<u32>(W, 208)); h += t; ab = e ^ f; d = t + t2(e, f, ab, bc); bc = ab;
  t = t1(h, a, b, c, 0x4ed8aa4a, load<u32>(W, 212)); g += t; ab = d ^ e; c = t + t2(d, e, ab, bc); bc = ab;
  t = t1(g, h, a, b, 0x5b9cca4f, load<u32>(W, 216)); f += t; ab = c ^ d; b = t + t2(c, d, ab, bc); bc = ab;
  t = t1(f, g, h, a, 0x682e6ff3, load<u32>(W, 220)); e += t; ab = b ^ c; a = t + t2(b, c, ab, bc); bc = ab;
  t = t1(e, f, g, h, 0x748f82ee, load<u32>(W, 224)); d += t; ab = a ^ b; h = t + t2(a, b, ab, bc); bc = ab;
  t = t1(d, e, f, g, 0x78a5636f, load<u32>(W, 228)); c += t; ab = h ^ a; g = t + t2(h, a, ab, bc); bc = ab;
  t = t1(c, d, e, f, 0x84c87814, load<u32>(W, 232)); b += t; ab = g ^ h; f = t + t2(g, h, ab, bc); bc = ab;
  t = t1(b, c, d, e, 0x8cc70208, load<u32>(W, 236)); a += t; ab = f ^ g; e = t + t2(f, g, ab, bc); bc = ab;
  t = t1(a, b, c, d, 0x90befffa, load<u32>(W, 240)); h += t; ab = e ^ f; d = t + t2(e, f, ab, bc); bc = ab;
  t = t1(h, a, b, c, 0xa4506ceb, load<u32>(W, 244)); g += t; ab = d ^ e; c = t + t2(d, e, ab, bc); bc = ab;
  t = t1(g, h, a, b, 0xbef9a3f7, load<u32>(W, 248)); f += t; ab = c ^ d; b = t + t2(c, d, ab, bc); bc = ab;
  t = t1(f, g, h, a, 0xc67178f2, load<u32>(W, 252)); e += t; ab = b ^ c; a = t + t2(b, c, ab, bc); bc = ab;
  store<u32>(state, load<u32>(state, 0) + a, 0);
  store<u32>(state, load<u32>(state, 4) + b, 4);
  store<u32>(state, load<u32>(state, 8) + c, 8);
  store<u32>(state, load<u32>(state, 12) + d, 12);
  store<u32>(state, load<u32>(state, 16) + e, 16);
  store<u32>(state, load<u32>(state, 20) + f, 20);
  store<u32>(state, load<u32>(state, 24) + g, 24);
  store<u32>(state, load<u32>(state, 28) + h, 28);
}

// Raw SHA-256 on a chaining value at an address: for callers that keep precomputed
// states (HMAC's key blocks) and want no hasher bookkeeping (buffer, counters) per message.

/** The last block(s) of a message: bytes of the tail, then the padding (FIPS 180-4 §5.1.1). */
const TAIL256: usize = memory.data(64, 16);

/** Writes SHA-256's initial hash value H(0) (FIPS 180-4 §5.3.3) as 8 words at `state`. */
export function sha256InitRaw(state: usize): void {
  store<u32>(state, 0x6a09e667, 0);
  store<u32>(state, 0xbb67ae85, 4);
  store<u32>(state, 0x3c6ef372, 8);
  store<u32>(state, 0xa54ff53a, 12);
  store<u32>(state, 0x510e527f, 16);
  store<u32>(state, 0x9b05688c, 20);
  store<u32>(state, 0x1f83d9ab, 24);
  store<u32>(state, 0x5be0cd19, 28);
}

/** Absorbs the whole 64-byte blocks of `len` bytes at `ptr` into the chaining value at `state`. */
export function sha256BlocksRaw(state: usize, ptr: usize, len: usize): void {
  for (; len >= 64; len -= 64, ptr += 64) compress256(state, ptr);
}

/**
 * Ends a SHA-256 message: absorbs `len` bytes at `ptr` into the chaining value at `state`
 * (8 words, native order), which has already absorbed `absorbed` bytes (a multiple of
 * 64), pads (FIPS 180-4 §5.1.1) and writes the 32-byte digest to `out`. `state` is left
 * holding the final hash value.
 */
export function sha256FinishRaw(state: usize, absorbed: u64, ptr: usize, len: usize, out: usize): void {
  const whole = len & ~(<usize>63);
  sha256BlocksRaw(state, ptr, whole);
  const tail = len - whole;
  const block = TAIL256;
  zero64(block);
  // The tail (under 64 bytes) eight bytes at a time, then byte by byte: no runtime call.
  const src = ptr + whole;
  let i: usize = 0;
  for (; i + 8 <= tail; i += 8) store<u64>(block + i, load<u64>(src + i));
  for (; i < tail; i++) store<u8>(block + i, load<u8>(src + i));
  store<u8>(block + tail, 0x80);
  if (tail >= 56) {
    compress256(state, block);
    zero64(block);
  }
  store<u64>(block, bswap<u64>((absorbed + <u64>len) << 3), 56);
  compress256(state, block);
  for (let j: usize = 0; j < 32; j += 4) store<u32>(out + j, bswap<u32>(load<u32>(state + j)));
}

// @ts-ignore: decorator
@inline function zero64(p: usize): void {
  for (let i: usize = 0; i < 64; i += 8) store<u64>(p + i, 0);
}

/** SHA-512 compression of the 128-byte block at `block` into the 8 words at `state`. */
function compress512(state: usize, block: usize): void {
  const W = W512;
  for (let i: usize = 0; i < 128; i += 8) {
    store<u64>(W + i, bswap<u64>(load<u64>(block + i)));
  }
  for (let i: usize = 128; i < 640; i += 8) {
    const w15 = load<u64>(W + i - 120);
    const w2 = load<u64>(W + i - 16);
    const s0 = rotr<u64>(w15, 1) ^ rotr<u64>(w15, 8) ^ (w15 >>> 7);
    const s1 = rotr<u64>(w2, 19) ^ rotr<u64>(w2, 61) ^ (w2 >>> 6);
    store<u64>(W + i, load<u64>(W + i - 128) + s0 + load<u64>(W + i - 56) + s1);
  }
  let a = load<u64>(state, 0);
  let b = load<u64>(state, 8);
  let c = load<u64>(state, 16);
  let d = load<u64>(state, 24);
  let e = load<u64>(state, 32);
  let f = load<u64>(state, 40);
  let g = load<u64>(state, 48);
  let h = load<u64>(state, 56);
  let t: u64;
  for (let i: usize = 0; i < 640; i += 64) {
    const k = K512 + i;
    const w = W + i;
      t = h + (rotr<u64>(e, 14) ^ rotr<u64>(e, 18) ^ rotr<u64>(e, 41)) + (g ^ (e & (f ^ g))) + load<u64>(k, 0) + load<u64>(w, 0);
      d += t; h = t + (rotr<u64>(a, 28) ^ rotr<u64>(a, 34) ^ rotr<u64>(a, 39)) + ((a & b) | (c & (a | b)));
      t = g + (rotr<u64>(d, 14) ^ rotr<u64>(d, 18) ^ rotr<u64>(d, 41)) + (f ^ (d & (e ^ f))) + load<u64>(k, 8) + load<u64>(w, 8);
      c += t; g = t + (rotr<u64>(h, 28) ^ rotr<u64>(h, 34) ^ rotr<u64>(h, 39)) + ((h & a) | (b & (h | a)));
      t = f + (rotr<u64>(c, 14) ^ rotr<u64>(c, 18) ^ rotr<u64>(c, 41)) + (e ^ (c & (d ^ e))) + load<u64>(k, 16) + load<u64>(w, 16);
      b += t; f = t + (rotr<u64>(g, 28) ^ rotr<u64>(g, 34) ^ rotr<u64>(g, 39)) + ((g & h) | (a & (g | h)));
      t = e + (rotr<u64>(b, 14) ^ rotr<u64>(b, 18) ^ rotr<u64>(b, 41)) + (d ^ (b & (c ^ d))) + load<u64>(k, 24) + load<u64>(w, 24);
      a += t; e = t + (rotr<u64>(f, 28) ^ rotr<u64>(f, 34) ^ rotr<u64>(f, 39)) + ((f & g) | (h & (f | g)));
      t = d + (rotr<u64>(a, 14) ^ rotr<u64>(a, 18) ^ rotr<u64>(a, 41)) + (c ^ (a & (b ^ c))) + load<u64>(k, 32) + load<u64>(w, 32);
      h += t; d = t + (rotr<u64>(e, 28) ^ rotr<u64>(e, 34) ^ rotr<u64>(e, 39)) + ((e & f) | (g & (e | f)));
      t = c + (rotr<u64>(h, 14) ^ rotr<u64>(h, 18) ^ rotr<u64>(h, 41)) + (b ^ (h & (a ^ b))) + load<u64>(k, 40) + load<u64>(w, 40);
      g += t; c = t + (rotr<u64>(d, 28) ^ rotr<u64>(d, 34) ^ rotr<u64>(d, 39)) + ((d & e) | (f & (d | e)));
      t = b + (rotr<u64>(g, 14) ^ rotr<u64>(g, 18) ^ rotr<u64>(g, 41)) + (a ^ (g & (h ^ a))) + load<u64>(k, 48) + load<u64>(w, 48);
      f += t; b = t + (rotr<u64>(c, 28) ^ rotr<u64>(c, 34) ^ rotr<u64>(c, 39)) + ((c & d) | (e & (c | d)));
      t = a + (rotr<u64>(f, 14) ^ rotr<u64>(f, 18) ^ rotr<u64>(f, 41)) + (h ^ (f & (g ^ h))) + load<u64>(k, 56) + load<u64>(w, 56);
      e += t; a = t + (rotr<u64>(b, 28) ^ rotr<u64>(b, 34) ^ rotr<u64>(b, 39)) + ((b & c) | (d & (b | c)));
  }
  store<u64>(state, load<u64>(state, 0) + a, 0);
  store<u64>(state, load<u64>(state, 8) + b, 8);
  store<u64>(state, load<u64>(state, 16) + c, 16);
  store<u64>(state, load<u64>(state, 24) + d, 24);
  store<u64>(state, load<u64>(state, 32) + e, 32);
  store<u64>(state, load<u64>(state, 40) + f, 40);
  store<u64>(state, load<u64>(state, 48) + g, 48);
  store<u64>(state, load<u64>(state, 56) + h, 56);
}

/**
 * Streaming SHA-256 (FIPS 180-4 §6.2). `update` any number of times, then `finalInto`,
 * which also resets the hasher for the next message. No allocation after construction.
 */
export class Sha256 {
  /** H_0..H_7, native byte order. */
  private state: StaticArray<u32> = new StaticArray<u32>(8);
  /** Bytes of an incomplete block, waiting for more input. */
  private buffer: StaticArray<u8> = new StaticArray<u8>(64);
  private buffered: i32 = 0;
  /** Message length so far, in bytes. */
  private length: u64 = 0;

  constructor() {
    this.reset();
  }

  /** Digest length in bytes (32). */
  get digestLength(): i32 {
    return 32;
  }

  /** Forgets any input: back to the initial hash value (FIPS 180-4 §5.3.3). */
  reset(): this {
    const s = changetype<usize>(this.state);
    store<u32>(s, 0x6a09e667, 0);
    store<u32>(s, 0xbb67ae85, 4);
    store<u32>(s, 0x3c6ef372, 8);
    store<u32>(s, 0xa54ff53a, 12);
    store<u32>(s, 0x510e527f, 16);
    store<u32>(s, 0x9b05688c, 20);
    store<u32>(s, 0x1f83d9ab, 24);
    store<u32>(s, 0x5be0cd19, 28);
    this.buffered = 0;
    this.length = 0;
    return this;
  }

  /** Makes this hasher's state a copy of `other`'s (HMAC restores precomputed pad states). */
  copyFrom(other: Sha256): this {
    memory.copy(changetype<usize>(this.state), changetype<usize>(other.state), 32);
    memory.copy(changetype<usize>(this.buffer), changetype<usize>(other.buffer), <usize>other.buffered);
    this.buffered = other.buffered;
    this.length = other.length;
    return this;
  }

  /**
   * Absorbs `data[start..end)`. The range is clamped to the array, so a bad range
   * absorbs fewer bytes instead of trapping.
   */
  update(data: Uint8Array, start: i32 = 0, end: i32 = data.length): this {
    if (start < 0) start = 0;
    if (end > data.length) end = data.length;
    if (end > start) this.updateRaw(data.dataStart + <usize>start, <usize>(end - start));
    return this;
  }

  /** Absorbs `len` bytes at address `ptr` (the caller vouches for the range). */
  updateRaw(ptr: usize, len: usize): this {
    this.length += <u64>len;
    const state = changetype<usize>(this.state);
    const buffer = changetype<usize>(this.buffer);
    let buffered = <usize>this.buffered;
    if (buffered > 0) {
      const take = min<usize>(64 - buffered, len);
      memory.copy(buffer + buffered, ptr, take);
      buffered += take;
      ptr += take;
      len -= take;
      if (buffered < 64) {
        this.buffered = <i32>buffered;
        return this;
      }
      compress256(state, buffer);
      buffered = 0;
    }
    while (len >= 64) {
      compress256(state, ptr);
      ptr += 64;
      len -= 64;
    }
    if (len > 0) memory.copy(buffer, ptr, len);
    this.buffered = <i32>len;
    return this;
  }

  /**
   * Pads (FIPS 180-4 §5.1.1), writes the 32-byte digest to `out[outOffset..]` and resets.
   * Returns false, writing nothing, when `out` has no room for it.
   */
  finalInto(out: Uint8Array, outOffset: i32 = 0): bool {
    if (outOffset < 0 || outOffset > out.length - 32) {
      this.reset();
      return false;
    }
    this.finalRaw(out.dataStart + <usize>outOffset);
    return true;
  }

  /** As `finalInto`, to 32 bytes at address `ptr`. */
  finalRaw(ptr: usize): void {
    const state = changetype<usize>(this.state);
    const buffer = changetype<usize>(this.buffer);
    const bits = this.length << 3;
    let n = <usize>this.buffered;
    store<u8>(buffer + n, 0x80);
    n++;
    if (n > 56) {
      memory.fill(buffer + n, 0, 64 - n);
      compress256(state, buffer);
      n = 0;
    }
    memory.fill(buffer + n, 0, 56 - n);
    store<u64>(buffer, bswap<u64>(bits), 56);
    compress256(state, buffer);
    for (let i: usize = 0; i < 32; i += 4) {
      store<u32>(ptr + i, bswap<u32>(load<u32>(state + i)));
    }
    this.reset();
  }
}

/**
 * Streaming SHA-512 (FIPS 180-4 §6.4), and SHA-384 (§6.5) when built with
 * `digestLength` 48: the same function with another initial value, truncated.
 * No allocation after construction.
 */
export class Sha512 {
  private state: StaticArray<u64> = new StaticArray<u64>(8);
  private buffer: StaticArray<u8> = new StaticArray<u8>(128);
  private buffered: i32 = 0;
  /** Message length so far, in bytes (2^64 bytes is beyond any input here). */
  private length: u64 = 0;
  private readonly is384: bool;

  /** `digestLength`: 64 for SHA-512, 48 for SHA-384 (any other value means 64). */
  constructor(digestLength: i32 = 64) {
    this.is384 = digestLength == 48;
    this.reset();
  }

  /** Digest length in bytes (64, or 48 for SHA-384). */
  get digestLength(): i32 {
    return this.is384 ? 48 : 64;
  }

  /** Forgets any input: back to the initial hash value (FIPS 180-4 §5.3.4, §5.3.5). */
  reset(): this {
    const s = changetype<usize>(this.state);
    if (this.is384) {
      store<u64>(s, 0xcbbb9d5dc1059ed8, 0);
      store<u64>(s, 0x629a292a367cd507, 8);
      store<u64>(s, 0x9159015a3070dd17, 16);
      store<u64>(s, 0x152fecd8f70e5939, 24);
      store<u64>(s, 0x67332667ffc00b31, 32);
      store<u64>(s, 0x8eb44a8768581511, 40);
      store<u64>(s, 0xdb0c2e0d64f98fa7, 48);
      store<u64>(s, 0x47b5481dbefa4fa4, 56);
    } else {
      store<u64>(s, 0x6a09e667f3bcc908, 0);
      store<u64>(s, 0xbb67ae8584caa73b, 8);
      store<u64>(s, 0x3c6ef372fe94f82b, 16);
      store<u64>(s, 0xa54ff53a5f1d36f1, 24);
      store<u64>(s, 0x510e527fade682d1, 32);
      store<u64>(s, 0x9b05688c2b3e6c1f, 40);
      store<u64>(s, 0x1f83d9abfb41bd6b, 48);
      store<u64>(s, 0x5be0cd19137e2179, 56);
    }
    this.buffered = 0;
    this.length = 0;
    return this;
  }

  /** Makes this hasher's state a copy of `other`'s (both must have the same digest length). */
  copyFrom(other: Sha512): this {
    memory.copy(changetype<usize>(this.state), changetype<usize>(other.state), 64);
    memory.copy(changetype<usize>(this.buffer), changetype<usize>(other.buffer), <usize>other.buffered);
    this.buffered = other.buffered;
    this.length = other.length;
    return this;
  }

  /** Absorbs `data[start..end)`, the range clamped to the array (see `Sha256.update`). */
  update(data: Uint8Array, start: i32 = 0, end: i32 = data.length): this {
    if (start < 0) start = 0;
    if (end > data.length) end = data.length;
    if (end > start) this.updateRaw(data.dataStart + <usize>start, <usize>(end - start));
    return this;
  }

  /** Absorbs `len` bytes at address `ptr` (the caller vouches for the range). */
  updateRaw(ptr: usize, len: usize): this {
    this.length += <u64>len;
    const state = changetype<usize>(this.state);
    const buffer = changetype<usize>(this.buffer);
    let buffered = <usize>this.buffered;
    if (buffered > 0) {
      const take = min<usize>(128 - buffered, len);
      memory.copy(buffer + buffered, ptr, take);
      buffered += take;
      ptr += take;
      len -= take;
      if (buffered < 128) {
        this.buffered = <i32>buffered;
        return this;
      }
      compress512(state, buffer);
      buffered = 0;
    }
    while (len >= 128) {
      compress512(state, ptr);
      ptr += 128;
      len -= 128;
    }
    if (len > 0) memory.copy(buffer, ptr, len);
    this.buffered = <i32>len;
    return this;
  }

  /**
   * Pads (FIPS 180-4 §5.1.2), writes the digest (`digestLength` bytes) to
   * `out[outOffset..]` and resets. Returns false, writing nothing, when `out` has no room.
   */
  finalInto(out: Uint8Array, outOffset: i32 = 0): bool {
    if (outOffset < 0 || outOffset > out.length - this.digestLength) {
      this.reset();
      return false;
    }
    this.finalRaw(out.dataStart + <usize>outOffset);
    return true;
  }

  /** As `finalInto`, to `digestLength` bytes at address `ptr`. */
  finalRaw(ptr: usize): void {
    const state = changetype<usize>(this.state);
    const buffer = changetype<usize>(this.buffer);
    let n = <usize>this.buffered;
    store<u8>(buffer + n, 0x80);
    n++;
    if (n > 112) {
      memory.fill(buffer + n, 0, 128 - n);
      compress512(state, buffer);
      n = 0;
    }
    // 128-bit big-endian bit length: high word is length >> 61.
    memory.fill(buffer + n, 0, 112 - n);
    store<u64>(buffer, bswap<u64>(this.length >>> 61), 112);
    store<u64>(buffer, bswap<u64>(this.length << 3), 120);
    compress512(state, buffer);
    const words: usize = this.is384 ? 6 : 8;
    for (let i: usize = 0; i < words; i++) {
      store<u64>(ptr + (i << 3), bswap<u64>(load<u64>(state + (i << 3))));
    }
    this.reset();
  }
}

/** Streaming SHA-384 (FIPS 180-4 §6.5): a `Sha512` with SHA-384's initial value, 48-byte digest. */
export class Sha384 extends Sha512 {
  constructor() {
    super(48);
  }
}

// One hasher per function for the one-shot helpers (Wasm runs one call at a time).
/** The chaining value of a one-shot SHA-256 (`hashRawInto`). */
const ONE_SHOT256: usize = memory.data(32, 16);
let shared256: Sha256 | null = null;
let shared384: Sha512 | null = null;
let shared512: Sha512 | null = null;

/** The module-wide SHA-256 hasher behind the one-shot helpers (reset before use). */
export function sharedSha256(): Sha256 {
  let h = shared256;
  if (h === null) shared256 = h = new Sha256();
  return h.reset();
}

/** The module-wide SHA-384 or SHA-512 hasher behind the one-shot helpers (reset before use). */
export function sharedSha512(digestLength: i32 = 64): Sha512 {
  let h: Sha512 | null;
  if (digestLength == 48) {
    h = shared384;
    if (h === null) shared384 = h = new Sha512(48);
  } else {
    h = shared512;
    if (h === null) shared512 = h = new Sha512(64);
  }
  return h.reset();
}

/** SHA-256 of `data` (FIPS 180-4 §6.2): a new 32-byte array. */
export function sha256(data: Uint8Array): Uint8Array {
  const out = new Uint8Array(32);
  sharedSha256().update(data).finalInto(out);
  return out;
}

/** SHA-384 of `data` (FIPS 180-4 §6.5): a new 48-byte array. */
export function sha384(data: Uint8Array): Uint8Array {
  const out = new Uint8Array(48);
  sharedSha512(48).update(data).finalInto(out);
  return out;
}

/** SHA-512 of `data` (FIPS 180-4 §6.4): a new 64-byte array. */
export function sha512(data: Uint8Array): Uint8Array {
  const out = new Uint8Array(64);
  sharedSha512(64).update(data).finalInto(out);
  return out;
}

/**
 * Hashes `data` with `alg` into `out[outOffset..]` without allocating. Returns the
 * digest length written (32, 48 or 64), or 0 when `alg` is unknown or `out` is too short.
 */
export function hashInto(alg: HashAlg, data: Uint8Array, out: Uint8Array, outOffset: i32 = 0): i32 {
  return hashRawInto(alg, data.dataStart, <usize>data.length, out, outOffset);
}

/** As `hashInto`, for `len` bytes at address `ptr` (the caller vouches for the range). */
export function hashRawInto(alg: HashAlg, ptr: usize, len: usize, out: Uint8Array, outOffset: i32 = 0): i32 {
  const n = hashLength(alg);
  if (n == 0 || outOffset < 0 || outOffset > out.length - n) return 0;
  const dst = out.dataStart + <usize>outOffset;
  if (alg == HashAlg.SHA256) {
    sha256InitRaw(ONE_SHOT256);
    sha256FinishRaw(ONE_SHOT256, 0, ptr, len, dst);
  } else {
    sharedSha512(n).updateRaw(ptr, len).finalRaw(dst);
  }
  return n;
}
