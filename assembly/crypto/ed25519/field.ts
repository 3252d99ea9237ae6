/**
 * Arithmetic in GF(p), p = 2^255 - 19, the field of edwards25519 (RFC 8032 §5.1).
 *
 * An element (`Fe`) is the address of 10 signed 32-bit limbs in radix 2^25.5:
 * value = Σ f[i]·2^⌈25.5·i⌉, limb i holding 26 bits when i is even and 25 when odd.
 * Products of limbs are i64, Wasm's native multiply; since 2^255 ≡ 19 (mod p), the part of
 * a product at or above 2^255 folds back multiplied by 19. Values are kept reduced only
 * as far as the arithmetic needs; `toBytes` gives the canonical encoding.
 *
 * Limb bounds (why nothing overflows):
 * - "tight" values come out of `mul`, `sq`, `carry` and `fromBytes`: |even limb| ≤ 2^25,
 *   |odd limb| ≤ 2^24, plus at most 2^16 on limbs 1 and 6.
 * - `add` and `sub` do not carry: their output is the sum or difference of the inputs.
 * - `mul` and `sq` accept limbs up to 4 times tight (a sum or difference of at most four
 *   tight values): the largest column is then below 498·2^52 < 2^61.
 *
 * Every function takes output first; outputs may alias inputs. Nothing allocates, and
 * the module-wide temporaries are safe because Wasm runs one call at a time.
 */

/** Address of a field element: 10 i32 limbs, `FE_SIZE` bytes. */
export type Fe = usize;

/** Bytes taken by one field element. */
export const FE_SIZE: usize = 40;

// Limb accessors: limb i sits at byte offset 4·i.
// @ts-ignore: decorator
@inline function ld(f: Fe, offset: usize): i64 {
  return <i64>load<i32>(f + offset);
}

// @ts-ignore: decorator
@inline function st(f: Fe, offset: usize, v: i64): void {
  store<i32>(f + offset, <i32>v);
}

/** h = 0. */
export function zero(h: Fe): void {
  memory.fill(h, 0, FE_SIZE);
}

/** h = 1. */
export function one(h: Fe): void {
  memory.fill(h, 0, FE_SIZE);
  store<i32>(h, 1);
}

/** h = f. */
export function copy(h: Fe, f: Fe): void {
  memory.copy(h, f, FE_SIZE);
}

/** h = f + g, limb by limb, without carrying. */
export function add(h: Fe, f: Fe, g: Fe): void {
  for (let i: usize = 0; i < FE_SIZE; i += 4) {
    store<i32>(h + i, load<i32>(f + i) + load<i32>(g + i));
  }
}

/** h = f - g, limb by limb, without carrying. */
export function sub(h: Fe, f: Fe, g: Fe): void {
  for (let i: usize = 0; i < FE_SIZE; i += 4) {
    store<i32>(h + i, load<i32>(f + i) - load<i32>(g + i));
  }
}

/** h = -f. */
export function neg(h: Fe, f: Fe): void {
  for (let i: usize = 0; i < FE_SIZE; i += 4) {
    store<i32>(h + i, -load<i32>(f + i));
  }
}

/**
 * Stores columns h0..h9 (each below 2^62 in magnitude) into `out` as a tight value.
 * Carries round to nearest (limbs end in [-2^25, 2^25) or [-2^24, 2^24)); two chains
 * run interleaved, h0→h1→…→h5→h6 and h5→h6→…→h9→h0 (the wrap multiplied by 19),
 * so that the CPU can overlap them.
 */
// @ts-ignore: decorator
@inline function carryStore(
  out: Fe, h0: i64, h1: i64, h2: i64, h3: i64, h4: i64, h5: i64, h6: i64, h7: i64, h8: i64, h9: i64,
): void {
  const R26: i64 = 1 << 25; // rounding offsets for 26- and 25-bit limbs
  const R25: i64 = 1 << 24;
  let c0 = (h0 + R26) >> 26; h1 += c0; h0 -= c0 << 26;
  let c5 = (h5 + R25) >> 25; h6 += c5; h5 -= c5 << 25;
  let c1 = (h1 + R25) >> 25; h2 += c1; h1 -= c1 << 25;
  let c6 = (h6 + R26) >> 26; h7 += c6; h6 -= c6 << 26;
  let c2 = (h2 + R26) >> 26; h3 += c2; h2 -= c2 << 26;
  let c7 = (h7 + R25) >> 25; h8 += c7; h7 -= c7 << 25;
  let c3 = (h3 + R25) >> 25; h4 += c3; h3 -= c3 << 25;
  let c8 = (h8 + R26) >> 26; h9 += c8; h8 -= c8 << 26;
  let c4 = (h4 + R26) >> 26; h5 += c4; h4 -= c4 << 26;
  let c9 = (h9 + R25) >> 25; h0 += c9 * 19; h9 -= c9 << 25;
  c5 = (h5 + R25) >> 25; h6 += c5; h5 -= c5 << 25;
  c0 = (h0 + R26) >> 26; h1 += c0; h0 -= c0 << 26;
  st(out, 0, h0); st(out, 4, h1); st(out, 8, h2); st(out, 12, h3); st(out, 16, h4);
  st(out, 20, h5); st(out, 24, h6); st(out, 28, h7); st(out, 32, h8); st(out, 36, h9);
}

/** h = f reduced to a tight value (same residue). Inputs up to 2^31 per limb. */
export function carry(h: Fe, f: Fe): void {
  carryStore(h, ld(f, 0), ld(f, 4), ld(f, 8), ld(f, 12), ld(f, 16), ld(f, 20), ld(f, 24), ld(f, 28), ld(f, 32), ld(f, 36));
}

/**
 * h = f·g mod p (tight). Schoolbook product of the limbs: column k collects f[i]·g[j]
 * with i + j ≡ k (mod 10), doubled when i and j are both odd (the half bits of radix
 * 2^25.5 add up) and multiplied by 19 when i + j ≥ 10 (the wrap 2^255 ≡ 19).
 */
export function mul(h: Fe, f: Fe, g: Fe): void {
  const f0 = ld(f, 0), f1 = ld(f, 4), f2 = ld(f, 8), f3 = ld(f, 12), f4 = ld(f, 16);
  const f5 = ld(f, 20), f6 = ld(f, 24), f7 = ld(f, 28), f8 = ld(f, 32), f9 = ld(f, 36);
  const g0 = ld(g, 0), g1 = ld(g, 4), g2 = ld(g, 8), g3 = ld(g, 12), g4 = ld(g, 16);
  const g5 = ld(g, 20), g6 = ld(g, 24), g7 = ld(g, 28), g8 = ld(g, 32), g9 = ld(g, 36);
  const f1_2 = f1 << 1, f3_2 = f3 << 1, f5_2 = f5 << 1, f7_2 = f7 << 1, f9_2 = f9 << 1;
  const g1_19 = g1 * 19, g2_19 = g2 * 19, g3_19 = g3 * 19, g4_19 = g4 * 19, g5_19 = g5 * 19;
  const g6_19 = g6 * 19, g7_19 = g7 * 19, g8_19 = g8 * 19, g9_19 = g9 * 19;
  const h0 = f0 * g0 + f1_2 * g9_19 + f2 * g8_19 + f3_2 * g7_19 + f4 * g6_19
    + f5_2 * g5_19 + f6 * g4_19 + f7_2 * g3_19 + f8 * g2_19 + f9_2 * g1_19;
  const h1 = f0 * g1 + f1 * g0 + f2 * g9_19 + f3 * g8_19 + f4 * g7_19
    + f5 * g6_19 + f6 * g5_19 + f7 * g4_19 + f8 * g3_19 + f9 * g2_19;
  const h2 = f0 * g2 + f1_2 * g1 + f2 * g0 + f3_2 * g9_19 + f4 * g8_19
    + f5_2 * g7_19 + f6 * g6_19 + f7_2 * g5_19 + f8 * g4_19 + f9_2 * g3_19;
  const h3 = f0 * g3 + f1 * g2 + f2 * g1 + f3 * g0 + f4 * g9_19
    + f5 * g8_19 + f6 * g7_19 + f7 * g6_19 + f8 * g5_19 + f9 * g4_19;
  const h4 = f0 * g4 + f1_2 * g3 + f2 * g2 + f3_2 * g1 + f4 * g0
    + f5_2 * g9_19 + f6 * g8_19 + f7_2 * g7_19 + f8 * g6_19 + f9_2 * g5_19;
  const h5 = f0 * g5 + f1 * g4 + f2 * g3 + f3 * g2 + f4 * g1
    + f5 * g0 + f6 * g9_19 + f7 * g8_19 + f8 * g7_19 + f9 * g6_19;
  const h6 = f0 * g6 + f1_2 * g5 + f2 * g4 + f3_2 * g3 + f4 * g2
    + f5_2 * g1 + f6 * g0 + f7_2 * g9_19 + f8 * g8_19 + f9_2 * g7_19;
  const h7 = f0 * g7 + f1 * g6 + f2 * g5 + f3 * g4 + f4 * g3
    + f5 * g2 + f6 * g1 + f7 * g0 + f8 * g9_19 + f9 * g8_19;
  const h8 = f0 * g8 + f1_2 * g7 + f2 * g6 + f3_2 * g5 + f4 * g4
    + f5_2 * g3 + f6 * g2 + f7_2 * g1 + f8 * g0 + f9_2 * g9_19;
  const h9 = f0 * g9 + f1 * g8 + f2 * g7 + f3 * g6 + f4 * g5
    + f5 * g4 + f6 * g3 + f7 * g2 + f8 * g1 + f9 * g0;
  carryStore(h, h0, h1, h2, h3, h4, h5, h6, h7, h8, h9);
}

/**
 * h = f² mod p (tight): `mul` with the symmetric products f[i]·f[j] = f[j]·f[i] taken
 * once and doubled (55 multiplications instead of 100).
 */
export function sq(h: Fe, f: Fe): void {
  const f0 = ld(f, 0), f1 = ld(f, 4), f2 = ld(f, 8), f3 = ld(f, 12), f4 = ld(f, 16);
  const f5 = ld(f, 20), f6 = ld(f, 24), f7 = ld(f, 28), f8 = ld(f, 32), f9 = ld(f, 36);
  const f0_2 = f0 << 1, f1_2 = f1 << 1, f2_2 = f2 << 1, f3_2 = f3 << 1, f4_2 = f4 << 1;
  const f5_2 = f5 << 1, f6_2 = f6 << 1, f7_2 = f7 << 1, f8_2 = f8 << 1, f9_2 = f9 << 1;
  const f5_19 = f5 * 19, f6_19 = f6 * 19, f7_19 = f7 * 19, f8_19 = f8 * 19, f9_19 = f9 * 19;
  const f7_38 = f7 * 38, f9_38 = f9 * 38;
  const h0 = f0 * f0 + f1_2 * f9_38 + f2_2 * f8_19 + f3_2 * f7_38 + f4_2 * f6_19 + f5_2 * f5_19;
  const h1 = f0_2 * f1 + f2_2 * f9_19 + f3_2 * f8_19 + f4_2 * f7_19 + f5_2 * f6_19;
  const h2 = f0_2 * f2 + f1_2 * f1 + f3_2 * f9_38 + f4_2 * f8_19 + f5_2 * f7_38 + f6 * f6_19;
  const h3 = f0_2 * f3 + f1_2 * f2 + f4_2 * f9_19 + f5_2 * f8_19 + f6_2 * f7_19;
  const h4 = f0_2 * f4 + f1_2 * f3_2 + f2 * f2 + f5_2 * f9_38 + f6_2 * f8_19 + f7_2 * f7_19;
  const h5 = f0_2 * f5 + f1_2 * f4 + f2_2 * f3 + f6_2 * f9_19 + f7_2 * f8_19;
  const h6 = f0_2 * f6 + f1_2 * f5_2 + f2_2 * f4 + f3_2 * f3 + f7_2 * f9_38 + f8 * f8_19;
  const h7 = f0_2 * f7 + f1_2 * f6 + f2_2 * f5 + f3_2 * f4 + f8_2 * f9_19;
  const h8 = f0_2 * f8 + f1_2 * f7_2 + f2_2 * f6 + f3_2 * f5_2 + f4 * f4 + f9_2 * f9_19;
  const h9 = f0_2 * f9 + f1_2 * f8 + f2_2 * f7 + f3_2 * f6 + f4_2 * f5;
  carryStore(h, h0, h1, h2, h3, h4, h5, h6, h7, h8, h9);
}

/** h = f^(2^n) (n ≥ 1 squarings). */
export function sqn(h: Fe, f: Fe, n: i32): void {
  sq(h, f);
  for (let i = 1; i < n; i++) sq(h, h);
}

// Bit offset and width of each limb: offset(i) = ⌈25.5·i⌉.
const LIMB_OFFSET: usize = memory.data<u8>([0, 26, 51, 77, 102, 128, 153, 179, 204, 230]);

/**
 * h = the 255-bit little-endian number at `s` (32 bytes; bit 255, the sign of x in
 * a point encoding, is ignored), tight. Values in [p, 2^255) are taken modulo p;
 * `isCanonical` lets callers reject them first (RFC 8032 §5.1.3 step 1).
 */
export function fromBytes(h: Fe, s: usize): void {
  // Every limb lies within one u32 read inside the 32 bytes: shift + width ≤ 32.
  for (let i: usize = 0; i < 10; i++) {
    const off = <u32>load<u8>(LIMB_OFFSET + i);
    const mask: u32 = (i & 1) ? 0x1ffffff : 0x3ffffff;
    store<i32>(h + (i << 2), <i32>((load<u32>(s + (off >> 3)) >> (off & 7)) & mask));
  }
  carry(h, h); // limbs in [0, 2^26) become balanced, i.e. tight
}

/** True when the 32 bytes at `s`, bit 255 ignored, encode a number below p. */
export function isCanonical(s: usize): bool {
  // p = 2^255 - 19 is 0xed, then 30 bytes 0xff, then 0x7f (little-endian).
  if ((load<u8>(s + 31) & 0x7f) != 0x7f) return true;
  for (let i: usize = 30; i >= 1; i--) {
    if (load<u8>(s + i) != 0xff) return true;
  }
  return load<u8>(s) < 0xed;
}

/**
 * Writes the canonical encoding of f (the integer in [0, p), 32 bytes little-endian,
 * bit 255 clear) to `s` (RFC 8032 §5.1.2, before the sign bit is added).
 */
export function toBytes(s: usize, f: Fe): void {
  let h0 = ld(f, 0), h1 = ld(f, 4), h2 = ld(f, 8), h3 = ld(f, 12), h4 = ld(f, 16);
  let h5 = ld(f, 20), h6 = ld(f, 24), h7 = ld(f, 28), h8 = ld(f, 32), h9 = ld(f, 36);
  // Two passes of floor carries make every limb non-negative and the value v < 2^255.
  for (let pass = 0; pass < 2; pass++) {
    h1 += h0 >> 26; h0 &= 0x3ffffff;
    h2 += h1 >> 25; h1 &= 0x1ffffff;
    h3 += h2 >> 26; h2 &= 0x3ffffff;
    h4 += h3 >> 25; h3 &= 0x1ffffff;
    h5 += h4 >> 26; h4 &= 0x3ffffff;
    h6 += h5 >> 25; h5 &= 0x1ffffff;
    h7 += h6 >> 26; h6 &= 0x3ffffff;
    h8 += h7 >> 25; h7 &= 0x1ffffff;
    h9 += h8 >> 26; h8 &= 0x3ffffff;
    h0 += (h9 >> 25) * 19; h9 &= 0x1ffffff;
  }
  // v < 2^255 = p + 19, so v ≥ p exactly when v + 19 carries out of bit 255: q is that carry.
  let q = (h0 + 19) >> 26;
  q = (h1 + q) >> 25; q = (h2 + q) >> 26; q = (h3 + q) >> 25; q = (h4 + q) >> 26;
  q = (h5 + q) >> 25; q = (h6 + q) >> 26; q = (h7 + q) >> 25; q = (h8 + q) >> 26;
  q = (h9 + q) >> 25;
  // v - q·p = v + 19q - q·2^255: add 19q, carry, and drop bit 255.
  h0 += 19 * q;
  h1 += h0 >> 26; h0 &= 0x3ffffff;
  h2 += h1 >> 25; h1 &= 0x1ffffff;
  h3 += h2 >> 26; h2 &= 0x3ffffff;
  h4 += h3 >> 25; h3 &= 0x1ffffff;
  h5 += h4 >> 26; h4 &= 0x3ffffff;
  h6 += h5 >> 25; h5 &= 0x1ffffff;
  h7 += h6 >> 26; h6 &= 0x3ffffff;
  h8 += h7 >> 25; h7 &= 0x1ffffff;
  h9 += h8 >> 26; h8 &= 0x3ffffff;
  h9 &= 0x1ffffff;
  // Pack: limbs at their bit offsets into four 64-bit words.
  store<u64>(s, <u64>h0 | (<u64>h1 << 26) | (<u64>h2 << 51));
  store<u64>(s + 8, (<u64>h2 >> 13) | (<u64>h3 << 13) | (<u64>h4 << 38));
  store<u64>(s + 16, <u64>h5 | (<u64>h6 << 25) | (<u64>h7 << 51));
  store<u64>(s + 24, (<u64>h7 >> 13) | (<u64>h8 << 12) | (<u64>h9 << 38));
}

// Scratch for the functions below.
const T0: Fe = memory.data(40, 8);
const T1: Fe = memory.data(40, 8);
const T2: Fe = memory.data(40, 8);
const T3: Fe = memory.data(40, 8);
const BYTES: usize = memory.data(32, 8);

/** True when f ≡ 0 (mod p). */
export function isZero(f: Fe): bool {
  toBytes(BYTES, f);
  return (load<u64>(BYTES) | load<u64>(BYTES, 8) | load<u64>(BYTES, 16) | load<u64>(BYTES, 24)) == 0;
}

/** True when f ≡ g (mod p). */
export function equal(f: Fe, g: Fe): bool {
  sub(T3, f, g);
  return isZero(T3);
}

/** The low bit of f's canonical value: "negative" in RFC 8032 §5.1.2/§5.1.3 (x_0). */
export function isNegative(f: Fe): i32 {
  toBytes(BYTES, f);
  return load<u8>(BYTES) & 1;
}

/**
 * Computes z^(2^250 - 1) into `out` and z^11 into `z11`, the common part of the
 * addition chains for p - 2 and (p - 5)/8 (254 squarings and 11 multiplications in all).
 */
function pow2250m1(out: Fe, z11: Fe, z: Fe): void {
  const t0 = T0, t1 = T1, t2 = T2;
  sq(t0, z);            // z^2
  sqn(t1, t0, 2);       // z^8
  mul(t1, t1, z);       // z^9
  mul(z11, t1, t0);     // z^11
  sq(t0, z11);          // z^22
  mul(t0, t0, t1);      // z^31 = z^(2^5 - 1)
  sqn(t1, t0, 5);
  mul(t0, t1, t0);      // z^(2^10 - 1)
  sqn(t1, t0, 10);
  mul(t1, t1, t0);      // z^(2^20 - 1)
  sqn(t2, t1, 20);
  mul(t1, t2, t1);      // z^(2^40 - 1)
  sqn(t1, t1, 10);
  mul(t0, t1, t0);      // z^(2^50 - 1)
  sqn(t1, t0, 50);
  mul(t1, t1, t0);      // z^(2^100 - 1)
  sqn(t2, t1, 100);
  mul(t1, t2, t1);      // z^(2^200 - 1)
  sqn(t1, t1, 50);
  mul(out, t1, t0);     // z^(2^250 - 1)
}

const Z11: Fe = memory.data(40, 8);
const Z1: Fe = memory.data(40, 8);

/** h = 1/z = z^(p-2) (Fermat); 0 when z ≡ 0. */
export function invert(h: Fe, z: Fe): void {
  pow2250m1(h, Z11, z);
  sqn(h, h, 5);         // z^(2^255 - 32)
  mul(h, h, Z11);       // z^(2^255 - 21) = z^(p-2)
}

/** h = z^((p-5)/8) = z^(2^252 - 3), the exponent of RFC 8032 §5.1.3's square root. */
export function pow22523(h: Fe, z: Fe): void {
  copy(Z1, z);          // h may be z
  pow2250m1(h, Z11, Z1);
  sqn(h, h, 2);         // z^(2^252 - 4)
  mul(h, h, Z1);        // z^(2^252 - 3)
}
