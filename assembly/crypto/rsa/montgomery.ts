/**
 * Montgomery arithmetic modulo an odd RSA modulus n of 2048 to 4096 bits, for RSAVP1
 * (RFC 8017 §5.2.2): s^e mod n with public exponents.
 *
 * Representation: little-endian limbs of w bits, one per u32, with w = 28 for moduli
 * up to 3554 bits and 27 above. A column of the schoolbook product has at most 2L
 * products of 2w bits, and w is the largest width for which 2L·2^(2w) stays below
 * 2^64: a column adds up in a u64 without carry handling, which turns the inner loops
 * into plain multiply-accumulate that Wasm SIMD does two lanes at a time
 * (`i64x2.extmul_*_i32x4_u`).
 *
 * Multiplication is Montgomery's product scanning with the reduction interleaved
 * column by column (Koç, Acar, Kaliski, "Analyzing and Comparing Montgomery
 * Multiplication Algorithms", 1996: the FIPS method). R = 2^(w·L) with L chosen so
 * that R > 4n: results of inputs below 2n stay below 2n (Walter, 1999), so no
 * conditional subtraction is needed until the very end.
 *
 * Every inner loop sums products a_i·b_(k−i). To read both operands forward, the
 * second operand is also kept in reversed limb order, and every buffer carries zero
 * limbs around its value, so a SIMD loop may start at a multiple of 4 and run a few
 * limbs past the end: the extra terms multiply a zero.
 *
 * With `--enable simd` the dot products use v128; without it, a scalar loop over the
 * same layout runs (`ASC_FEATURE_SIMD` selects at compile time).
 */

/** Zero limbs before a reversed value and after any value. */
const PAD: i32 = 4;
/** Most limbs of 28 bits whose 2L column products fit in a u64. */
const MAX_LIMBS_28: i32 = 127;

/** Limb width w for a modulus of `bits` bits: 28, or 27 when 28 would overflow a column. */
export function limbBitsFor(bits: i32): i32 {
  return (bits + 2 + 27) / 28 <= MAX_LIMBS_28 ? 28 : 27;
}

/** Number of limbs L for a modulus of `bits` bits (R = 2^(w·L) > 4n). */
export function limbsFor(bits: i32): i32 {
  const w = limbBitsFor(bits);
  return (bits + 2 + w - 1) / w;
}

/**
 * A value modulo n, in both limb orders. `limbs()` is the address of limb 0 followed
 * by PAD zero limbs; `reversed()` the address of limb L−1 of the reversed copy, which
 * has PAD zero limbs on each side.
 */
export class Residue {
  private readonly words: StaticArray<u32>;
  private readonly rev: StaticArray<u32>;

  constructor(readonly count: i32) {
    this.words = new StaticArray<u32>(count + PAD);
    this.rev = new StaticArray<u32>(count + 2 * PAD);
  }

  @inline limbs(): usize {
    return changetype<usize>(this.words);
  }

  @inline reversed(): usize {
    return changetype<usize>(this.rev) + (<usize>PAD << 2);
  }

  /** Fills the reversed copy from the limbs. */
  mirror(): void {
    const src = this.limbs();
    const dst = this.reversed();
    const last = this.count - 1;
    for (let i = 0; i <= last; i++) {
      store<u32>(dst + (<usize>(last - i) << 2), load<u32>(src + (<usize>i << 2)));
    }
  }
}

// Lane masks that keep the first 0..4 u32 lanes of a v128 (squaring's last groups).
const KEEP_LANES: usize = memory.data<u32>([
  0, 0, 0, 0,
  0xffffffff, 0, 0, 0,
  0xffffffff, 0xffffffff, 0, 0,
  0xffffffff, 0xffffffff, 0xffffffff, 0,
  0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff,
], 16);

/**
 * Σ x_i·y_i for i in [i0, i1], x and y at addresses of index 0. The SIMD path starts
 * at i0 rounded down to a multiple of 4 and ends up to 3 past i1: callers guarantee
 * that those extra terms are zero.
 */
// @ts-ignore: decorator
@inline
function dot(x: usize, y: usize, i0: i32, i1: i32): u64 {
  if (ASC_FEATURE_SIMD) {
    let v0 = i64x2.splat(0);
    let v1 = i64x2.splat(0);
    let i = i0 & ~3;
    // Two groups of 4 limbs per step: one address computation per operand for both.
    for (; i + 4 <= i1; i += 8) {
      const px = x + (<usize>i << 2);
      const py = y + (<usize>i << 2);
      const x0 = v128.load(px);
      const y0 = v128.load(py);
      const x1 = v128.load(px, 16);
      const y1 = v128.load(py, 16);
      v0 = i64x2.add(v0, i64x2.extmul_low_i32x4_u(x0, y0));
      v1 = i64x2.add(v1, i64x2.extmul_high_i32x4_u(x0, y0));
      v0 = i64x2.add(v0, i64x2.extmul_low_i32x4_u(x1, y1));
      v1 = i64x2.add(v1, i64x2.extmul_high_i32x4_u(x1, y1));
    }
    if (i <= i1) {
      const vx = v128.load(x + (<usize>i << 2));
      const vy = v128.load(y + (<usize>i << 2));
      v0 = i64x2.add(v0, i64x2.extmul_low_i32x4_u(vx, vy));
      v1 = i64x2.add(v1, i64x2.extmul_high_i32x4_u(vx, vy));
    }
    v0 = i64x2.add(v0, v1);
    return <u64>i64x2.extract_lane(v0, 0) + <u64>i64x2.extract_lane(v0, 1);
  } else {
    let s: u64 = 0;
    for (let i = i0; i <= i1; i++) {
      const o = <usize>i << 2;
      s += <u64>load<u32>(x + o) * <u64>load<u32>(y + o);
    }
    return s;
  }
}

/** Σ x_i·y_i + z_i·w_i for i in [i0, i1] in one pass (same rounding as `dot`). */
// @ts-ignore: decorator
@inline
function dot2(x: usize, y: usize, z: usize, w: usize, i0: i32, i1: i32): u64 {
  if (ASC_FEATURE_SIMD) {
    let v0 = i64x2.splat(0);
    let v1 = i64x2.splat(0);
    let i = i0 & ~3;
    for (; i + 4 <= i1; i += 8) {
      const o = <usize>i << 2;
      const px = x + o;
      const py = y + o;
      const pz = z + o;
      const pw = w + o;
      const x0 = v128.load(px);
      const y0 = v128.load(py);
      const z0 = v128.load(pz);
      const w0 = v128.load(pw);
      v0 = i64x2.add(v0, i64x2.extmul_low_i32x4_u(x0, y0));
      v1 = i64x2.add(v1, i64x2.extmul_high_i32x4_u(x0, y0));
      v0 = i64x2.add(v0, i64x2.extmul_low_i32x4_u(z0, w0));
      v1 = i64x2.add(v1, i64x2.extmul_high_i32x4_u(z0, w0));
      const x1 = v128.load(px, 16);
      const y1 = v128.load(py, 16);
      const z1 = v128.load(pz, 16);
      const w1 = v128.load(pw, 16);
      v0 = i64x2.add(v0, i64x2.extmul_low_i32x4_u(x1, y1));
      v1 = i64x2.add(v1, i64x2.extmul_high_i32x4_u(x1, y1));
      v0 = i64x2.add(v0, i64x2.extmul_low_i32x4_u(z1, w1));
      v1 = i64x2.add(v1, i64x2.extmul_high_i32x4_u(z1, w1));
    }
    if (i <= i1) {
      const o = <usize>i << 2;
      const vx = v128.load(x + o);
      const vy = v128.load(y + o);
      const vz = v128.load(z + o);
      const vw = v128.load(w + o);
      v0 = i64x2.add(v0, i64x2.extmul_low_i32x4_u(vx, vy));
      v1 = i64x2.add(v1, i64x2.extmul_high_i32x4_u(vx, vy));
      v0 = i64x2.add(v0, i64x2.extmul_low_i32x4_u(vz, vw));
      v1 = i64x2.add(v1, i64x2.extmul_high_i32x4_u(vz, vw));
    }
    v0 = i64x2.add(v0, v1);
    return <u64>i64x2.extract_lane(v0, 0) + <u64>i64x2.extract_lane(v0, 1);
  } else {
    let s: u64 = 0;
    for (let i = i0; i <= i1; i++) {
      const o = <usize>i << 2;
      s += <u64>load<u32>(x + o) * <u64>load<u32>(y + o) + <u64>load<u32>(z + o) * <u64>load<u32>(w + o);
    }
    return s;
  }
}

/**
 * One column of a Montgomery squaring: 2·Σ a_i·a′_i for i in [lo, h2] (each symmetric
 * product once, then doubled) plus Σ m_i·n′_i for i in [lo, hi], where a′ and n′ are the
 * reversed operands offset for the column. Like `dot`, the SIMD path may start below
 * lo (those terms are zero); the a·a′ terms past h2 are not zero, so its last group is
 * masked. Both sums share one horizontal reduction.
 */
// @ts-ignore: decorator
@inline
function squareColumn(a: usize, ar: usize, m: usize, nr: usize, lo: i32, h2: i32, hi: i32): u64 {
  if (ASC_FEATURE_SIMD) {
    let v0 = i64x2.splat(0);
    let v1 = i64x2.splat(0);
    let i = lo & ~3;
    for (; i + 7 <= h2; i += 8) {
      const pa = a + (<usize>i << 2);
      const pr = ar + (<usize>i << 2);
      const x0 = v128.load(pa);
      const y0 = v128.load(pr);
      const x1 = v128.load(pa, 16);
      const y1 = v128.load(pr, 16);
      v0 = i64x2.add(v0, i64x2.extmul_low_i32x4_u(x0, y0));
      v1 = i64x2.add(v1, i64x2.extmul_high_i32x4_u(x0, y0));
      v0 = i64x2.add(v0, i64x2.extmul_low_i32x4_u(x1, y1));
      v1 = i64x2.add(v1, i64x2.extmul_high_i32x4_u(x1, y1));
    }
    for (; i <= h2; i += 4) {
      const o = <usize>i << 2;
      const keep = min<i32>(h2 - i + 1, 4);
      const vx = v128.and(v128.load(a + o), v128.load(KEEP_LANES + (<usize>keep << 4)));
      const vy = v128.load(ar + o);
      v0 = i64x2.add(v0, i64x2.extmul_low_i32x4_u(vx, vy));
      v1 = i64x2.add(v1, i64x2.extmul_high_i32x4_u(vx, vy));
    }
    // Double the a·a′ half, then add the m·n′ products.
    v0 = i64x2.shl(i64x2.add(v0, v1), 1);
    v1 = i64x2.splat(0);
    i = lo & ~3;
    for (; i + 4 <= hi; i += 8) {
      const pm = m + (<usize>i << 2);
      const pn = nr + (<usize>i << 2);
      const x0 = v128.load(pm);
      const y0 = v128.load(pn);
      const x1 = v128.load(pm, 16);
      const y1 = v128.load(pn, 16);
      v0 = i64x2.add(v0, i64x2.extmul_low_i32x4_u(x0, y0));
      v1 = i64x2.add(v1, i64x2.extmul_high_i32x4_u(x0, y0));
      v0 = i64x2.add(v0, i64x2.extmul_low_i32x4_u(x1, y1));
      v1 = i64x2.add(v1, i64x2.extmul_high_i32x4_u(x1, y1));
    }
    if (i <= hi) {
      const o = <usize>i << 2;
      const vx = v128.load(m + o);
      const vy = v128.load(nr + o);
      v0 = i64x2.add(v0, i64x2.extmul_low_i32x4_u(vx, vy));
      v1 = i64x2.add(v1, i64x2.extmul_high_i32x4_u(vx, vy));
    }
    v0 = i64x2.add(v0, v1);
    return <u64>i64x2.extract_lane(v0, 0) + <u64>i64x2.extract_lane(v0, 1);
  } else {
    let s: u64 = 0;
    for (let i = lo; i <= h2; i++) {
      const o = <usize>i << 2;
      s += <u64>load<u32>(a + o) * <u64>load<u32>(ar + o);
    }
    return (s << 1) + dot(m, nr, lo, hi);
  }
}

/**
 * The arithmetic of one modulus: n with its Montgomery constants, built once per public
 * key. Methods are not reentrant (they share the scratch `m`), as Wasm calls never are.
 */
export class Montgomery {
  /** Limb count L. */
  readonly count: i32;
  /** Limb width w in bits. */
  readonly bits: i32;
  private readonly mask: u64;
  /** n, both orders. */
  readonly n: Residue;
  /** R² mod n, for entering the Montgomery domain. */
  readonly r2: Residue;
  /** −n⁻¹ mod 2^w. */
  private readonly n0inv: u64;
  /** The quotient limbs m_k of the running reduction (L limbs + PAD zeros). */
  private readonly m: StaticArray<u32>;

  /**
   * `modulus`: the L limbs of w bits (`limbBits`) of an odd n with bits(n) ≤ w·L − 2
   * (see `limbsFor`; `RsaPublicKey` checks the range).
   */
  constructor(modulus: Residue, limbBits: i32) {
    const count = modulus.count;
    this.count = count;
    this.bits = limbBits;
    const MASK: u64 = (<u64>1 << <u64>limbBits) - 1;
    this.mask = MASK;
    this.n = modulus;
    this.m = new StaticArray<u32>(count + PAD);
    // Newton's iteration doubles the correct low bits of n0⁻¹ each step: 5 steps give 32.
    const n0 = load<u32>(modulus.limbs());
    let inv: u32 = n0;
    for (let i = 0; i < 5; i++) inv *= 2 - n0 * inv;
    this.n0inv = <u64>(0 - inv) & MASK;
    this.r2 = new Residue(count);
    this.computeR2();
  }

  /**
   * R² mod n, once per key. Doublings of 2^(bits(n)−1) (below n) reach 2R mod n, the
   * Montgomery form of 2; raising it to the power w·L in the Montgomery domain gives the
   * Montgomery form of 2^(w·L) = R, which is R·R mod n. About 30 doublings and 16
   * products, instead of 2·w·L doublings.
   */
  private computeR2(): void {
    const count = this.count;
    const n = this.n.limbs();
    let top = count - 1;
    while (top > 0 && load<u32>(n + (<usize>top << 2)) == 0) top--;
    const nBits = top * this.bits + 32 - <i32>clz<u32>(load<u32>(n + (<usize>top << 2)));
    const two = new Residue(count);
    const x = two.limbs();
    const topBit = nBits - 1;
    store<u32>(x + (<usize>(topBit / this.bits) << 2), <u32>1 << <u32>(topBit % this.bits));
    const wl = this.bits * count;
    for (let i = topBit; i < wl + 1; i++) this.double(x);
    two.mirror();
    // Left-to-right binary powering of 2R to the exponent w·L.
    let cur = new Residue(count);
    let next = new Residue(count);
    memory.copy(cur.limbs(), x, <usize>count << 2);
    cur.mirror();
    for (let bit = 30 - <i32>clz<u32>(<u32>wl); bit >= 0; bit--) {
      this.sqr(next, cur);
      let t = cur;
      cur = next;
      next = t;
      if ((wl >> bit) & 1) {
        this.mul(next, cur, two);
        t = cur;
        cur = next;
        next = t;
      }
    }
    const r2 = this.r2.limbs();
    memory.copy(r2, cur.limbs(), <usize>count << 2);
    if (this.compareToModulus(r2) >= 0) this.subtractModulus(r2);
    this.r2.mirror();
  }

  /** x = 2x mod n for normalized limbs with x < n. */
  private double(x: usize): void {
    const w = <u32>this.bits;
    const mask = <u32>this.mask;
    let carry: u32 = 0;
    for (let i = 0; i < this.count; i++) {
      const p = x + (<usize>i << 2);
      const v = (load<u32>(p) << 1) | carry;
      store<u32>(p, v & mask);
      carry = v >>> w;
    }
    // 2x < 2n fits in L limbs (R > 4n) and needs one subtraction at most.
    if (this.compareToModulus(x) >= 0) this.subtractModulus(x);
  }

  /** Sign of x − n for normalized limbs at `x`. */
  compareToModulus(x: usize): i32 {
    const n = this.n.limbs();
    for (let i = this.count - 1; i >= 0; i--) {
      const a = load<u32>(x + (<usize>i << 2));
      const b = load<u32>(n + (<usize>i << 2));
      if (a != b) return a > b ? 1 : -1;
    }
    return 0;
  }

  /** x −= n, for normalized limbs with x ≥ n. */
  subtractModulus(x: usize): void {
    const n = this.n.limbs();
    const w = <i64>this.bits;
    const mask = <i64>this.mask;
    let borrow: i64 = 0;
    for (let i = 0; i < this.count; i++) {
      const p = x + (<usize>i << 2);
      const d = <i64>load<u32>(p) - <i64>load<u32>(n + (<usize>i << 2)) + borrow;
      store<u32>(p, <u32>(d & mask));
      borrow = d >> w;
    }
  }

  /**
   * out = a·b·R⁻¹ mod n, below 2n when a, b < 2n. `b` is read in reversed order.
   * `out` must be a third residue (neither a nor b); both its orders are written.
   */
  mul(out: Residue, a: Residue, b: Residue): void {
    const count = this.count;
    const last = count - 1;
    const m = changetype<usize>(this.m);
    memory.fill(m, 0, <usize>count << 2);
    const pa = a.limbs();
    const brev = b.reversed();
    const nrev = this.n.reversed();
    const n0 = <u64>load<u32>(this.n.limbs());
    const n0inv = this.n0inv;
    const MASK = this.mask;
    const W = <u64>this.bits;
    let acc: u64 = 0;
    // Columns 0..L−1 fix the quotient limbs m_k so that the column sum ends in 27 zero bits.
    for (let k = 0; k < count; k++) {
      const off = <usize>(last - k) << 2; // b_(k−i) sits at reversed index L−1−k+i
      acc += dot2(pa, brev + off, m, nrev + off, 0, k);
      const mk = ((acc & MASK) * n0inv) & MASK;
      store<u32>(m + (<usize>k << 2), <u32>mk);
      acc = (acc + mk * n0) >> W;
    }
    this.finish(out, pa, brev, acc);
  }

  /** out = a²·R⁻¹ mod n (as `mul(out, a, a)`, with the symmetric products counted once). */
  sqr(out: Residue, a: Residue): void {
    const count = this.count;
    const last = count - 1;
    const m = changetype<usize>(this.m);
    memory.fill(m, 0, <usize>count << 2);
    const pa = a.limbs();
    const arev = a.reversed();
    const nrev = this.n.reversed();
    const n0 = <u64>load<u32>(this.n.limbs());
    const n0inv = this.n0inv;
    const MASK = this.mask;
    const W = <u64>this.bits;
    let acc: u64 = 0;
    for (let k = 0; k < count; k++) {
      const off = <usize>(last - k) << 2;
      // Σ_(i=0..k) a_i·a_(k−i) = 2·Σ_(i<k−i) a_i·a_(k−i) + a_(k/2)² when k is even.
      let col = squareColumn(pa, arev + off, m, nrev + off, 0, (k - 1) >> 1, k);
      if ((k & 1) == 0) {
        const h = <u64>load<u32>(pa + (<usize>(k >> 1) << 2));
        col += h * h;
      }
      acc += col;
      const mk = ((acc & MASK) * n0inv) & MASK;
      store<u32>(m + (<usize>k << 2), <u32>mk);
      acc = (acc + mk * n0) >> W;
    }
    // Upper columns.
    const pout = out.limbs();
    const pm = m;
    for (let k = count; k < 2 * count - 1; k++) {
      const off = <usize>(last - k) << 2;
      const lo = k - last;
      let col = squareColumn(pa, arev + off, pm, nrev + off, lo, (k - 1) >> 1, last);
      if ((k & 1) == 0) {
        const h = <u64>load<u32>(pa + (<usize>(k >> 1) << 2));
        col += h * h;
      }
      acc += col;
      store<u32>(pout + (<usize>(k - count) << 2), <u32>(acc & MASK));
      acc >>= W;
    }
    store<u32>(pout + (<usize>last << 2), <u32>acc);
    out.mirror();
  }

  /** Upper columns L..2L−2 of `mul`: each gives one limb of the result. */
  // @ts-ignore: decorator
  @inline
  private finish(out: Residue, pa: usize, brev: usize, acc: u64): void {
    const count = this.count;
    const MASK = this.mask;
    const W = <u64>this.bits;
    const last = count - 1;
    const m = changetype<usize>(this.m);
    const nrev = this.n.reversed();
    const pout = out.limbs();
    for (let k = count; k < 2 * count - 1; k++) {
      const off = <usize>(last - k) << 2;
      acc += dot2(pa, brev + off, m, nrev + off, k - last, last);
      store<u32>(pout + (<usize>(k - count) << 2), <u32>(acc & MASK));
      acc >>= W;
    }
    store<u32>(pout + (<usize>last << 2), <u32>acc);
    out.mirror();
  }
}

/**
 * Reads big-endian `len` bytes at `src` into the L limbs of w = `limbBits` bits of
 * `dst` (both orders). The value must fit in w·L bits.
 */
export function residueFromBytes(dst: Residue, limbBits: i32, src: usize, len: i32): void {
  const w = <u64>limbBits;
  const mask: u64 = (<u64>1 << w) - 1;
  const p = dst.limbs();
  let acc: u64 = 0;
  let bits: i32 = 0;
  let j = 0;
  for (let i = len - 1; i >= 0 && j < dst.count; i--) {
    acc |= <u64>load<u8>(src + <usize>i) << <u64>bits;
    bits += 8;
    if (bits >= limbBits) {
      store<u32>(p + (<usize>j << 2), <u32>(acc & mask));
      acc >>= w;
      bits -= limbBits;
      j++;
    }
  }
  for (; j < dst.count; j++) {
    store<u32>(p + (<usize>j << 2), <u32>(acc & mask));
    acc >>= w;
  }
  dst.mirror();
}

/** Writes the limbs (w = `limbBits` bits) of `src` as `len` big-endian bytes at `dst`, higher bits dropped. */
export function residueToBytes(dst: usize, len: i32, src: Residue, limbBits: i32): void {
  const w = limbBits;
  const p = src.limbs();
  let acc: u64 = 0;
  let bits: i32 = 0;
  let j = 0;
  for (let i = len - 1; i >= 0; i--) {
    if (bits < 8) {
      if (j < src.count) acc |= <u64>load<u32>(p + (<usize>j << 2)) << <u64>bits;
      j++;
      bits += w;
    }
    store<u8>(dst + <usize>i, <u8>acc);
    acc >>= 8;
    bits -= 8;
  }
}
