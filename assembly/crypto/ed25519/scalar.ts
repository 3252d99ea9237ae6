/**
 * Scalars of edwards25519: integers modulo the group order
 * L = 2^252 + 27742317777372353535851937790883648493 (RFC 8032 §5.1), as 32-byte
 * little-endian strings, and their width-w non-adjacent form for multi-scalar
 * multiplication. Verification works on public values only, so nothing here needs to
 * run in constant time.
 */

/** L in 32 little-endian bytes. */
const L_BYTES: usize = memory.data<u8>([
  0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14,
  0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10,
]);

/**
 * True when the 32 little-endian bytes at `s` encode an integer below L: the check of
 * S in RFC 8032 §5.1.7 step 1 (S ≥ L makes signatures malleable, §8.4).
 */
export function isCanonicalScalar(s: usize): bool {
  for (let i: isize = 31; i >= 0; i--) {
    const a = load<u8>(s + <usize>i);
    const b = load<u8>(L_BYTES + <usize>i);
    if (a != b) return a < b;
  }
  return false; // s == L
}

// c = L - 2^252 in 21-bit limbs (c < 2^126): 2^252 ≡ -c (mod L).
const C_LIMBS: usize = memory.data<i64>([1430509, 1626855, 1442968, 997804, 1960495, 683900]);

const LIMB_BITS: i32 = 21;
const LIMB_MASK: i64 = (1 << LIMB_BITS) - 1;
/** 25 limbs of 21 bits cover 525 ≥ 512 bits; 2^252 is limb 12 exactly. */
const LIMBS: i32 = 25;
const A: usize = memory.data(LIMBS * 8, 8);

// @ts-ignore: decorator
@inline function limb(i: i32): i64 {
  return load<i64>(A + (<usize>i << 3));
}

// @ts-ignore: decorator
@inline function setLimb(i: i32, v: i64): void {
  store<i64>(A + (<usize>i << 3), v);
}

/** Floor-carries limbs from..to-1 upward, leaving each in [0, 2^21); limb `to` takes the rest. */
function carryLimbs(from: i32, to: i32): void {
  for (let i = from; i < to; i++) {
    const v = limb(i);
    const c = v >> LIMB_BITS;
    setLimb(i, v & LIMB_MASK);
    setLimb(i + 1, limb(i + 1) + c);
  }
}

/**
 * Replaces limb i ≥ 12 (worth a·2^(21i) = a·2^(21(i-12))·2^252) by -a·c·2^(21(i-12)),
 * then carries limbs i-12..i-2 so that they stay 21-bit; limb i-1 takes the carry.
 */
function fold(i: i32): void {
  const a = limb(i);
  setLimb(i, 0);
  const base = i - 12;
  for (let j = 0; j < 6; j++) {
    setLimb(base + j, limb(base + j) - a * load<i64>(C_LIMBS + (<usize>j << 3)));
  }
  carryLimbs(base, i - 1);
}

/**
 * Writes (the 64-byte little-endian integer at `h`) mod L to the 32 bytes at `out`:
 * the reduction of SHA-512(dom2(F, C) || R || A || PH(M)) in RFC 8032 §5.1.7 step 2.
 * `out` may equal `h`.
 */
export function reduce512(out: usize, h: usize): void {
  // Split into 21-bit limbs.
  for (let i = 0; i < LIMBS; i++) {
    const bit = i * LIMB_BITS;
    const byte = bit >> 3;
    // Read up to 4 bytes without going past the 64-byte input.
    let v: u32 = 0;
    for (let k = 3; k >= 0; k--) {
      v <<= 8;
      if (byte + k < 64) v |= load<u8>(h + <usize>(byte + k));
    }
    setLimb(i, <i64>((v >> <u32>(bit & 7)) & <u32>LIMB_MASK));
  }
  // Fold limbs 24..12 into the lower ones, top first. Each fold carries what it touched,
  // so limbs stay within a few bits of 21 and no product exceeds 2^50.
  for (let i = LIMBS - 1; i >= 12; i--) fold(i);
  carryLimbs(0, 12);
  // Limb 12 now holds a small carry of either sign; fold it until it is 0 or 1, which
  // leaves the value in [0, 2^253) (at most two more folds).
  while (limb(12) < 0 || limb(12) > 1) {
    fold(12);
    carryLimbs(0, 12);
  }
  // Pack limbs 0..12 (253 bits) into 32 bytes.
  let acc: u64 = 0;
  let bits = 0;
  let o: usize = 0;
  for (let i = 0; i <= 12; i++) {
    acc |= <u64>limb(i) << <u64>bits;
    bits += LIMB_BITS;
    while (bits >= 8 && o < 32) {
      store<u8>(out + o++, <u8>acc);
      acc >>= 8;
      bits -= 8;
    }
  }
  // The value is below 2^253 < 2L: one subtraction of L at most.
  if (!isCanonicalScalar(out)) {
    let borrow: i32 = 0;
    for (let i: usize = 0; i < 32; i++) {
      const d = <i32>load<u8>(out + i) - <i32>load<u8>(L_BYTES + i) - borrow;
      store<u8>(out + i, <u8>d);
      borrow = d < 0 ? 1 : 0;
    }
  }
}

/**
 * Writes the width-`w` non-adjacent form of the 256-bit little-endian scalar at `s`
 * (which must be below 2^255) to `naf`: 256 signed digits, one i8 per bit position,
 * each zero or odd with |d| < 2^(w-1), at least w-1 zeros after every non-zero digit,
 * and Σ naf[i]·2^i = s (Hankerson, Menezes, Vanstone, "Guide to Elliptic Curve
 * Cryptography", Algorithm 3.35). `w` is 2..8.
 */
export function wnaf(naf: usize, s: usize, w: i32): void {
  memory.fill(naf, 0, 256);
  const width: u32 = 1 << w;
  const mask: u64 = <u64>(width - 1);
  let carry: u32 = 0;
  let pos: i32 = 0;
  while (pos < 256) {
    // w bits starting at pos; the window may straddle two 64-bit words.
    const word = pos >> 6;
    const shift = <u64>(pos & 63);
    let bits = load<u64>(s + (<usize>word << 3)) >> shift;
    if (shift > <u64>(64 - w) && word < 3) bits |= load<u64>(s + (<usize>(word + 1) << 3)) << (64 - shift);
    const window = carry + <u32>(bits & mask);
    if ((window & 1) == 0) {
      // a zero digit; a pending carry stays pending
      pos++;
      continue;
    }
    if (window < (width >> 1)) {
      store<i8>(naf + <usize>pos, <i8>window);
      carry = 0;
    } else {
      store<i8>(naf + <usize>pos, <i8>(<i32>window - <i32>width));
      carry = 1;
    }
    pos += w;
  }
}
