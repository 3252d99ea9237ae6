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
 * Every column sums products a_i·b_(k−i). To read both operands forward, the second
 * operand is also kept in reversed limb order, and every buffer carries PAD zero limbs
 * around its value, so a loop may start at a multiple of 4 and run a few limbs past
 * the end: the extra terms multiply a zero.
 *
 * SIMD builds (`ASC_FEATURE_SIMD`) compute the columns four at a time ("blocks"): one
 * load of four limbs of the first operand serves the four columns, whose sums stay in
 * four i64x2 registers until the block ends. The block's four quotient limbs are then
 * solved in scalar code, two limbs (2w bits) per multiplication by −n⁻¹ mod 2^(2w);
 * the products of the previous block's quotients with n_1..n_7 are added there too,
 * so that the vector loop never waits for the quotients just computed. Blocks cut the
 * per-column work (horizontal sums, loop set-up, the serial quotient chain) to a
 * quarter; on V8 the vector loop runs at the speed of the extended multiplies (V8
 * wraps each in two lane shuffles, which bound it). Measured and not kept, for the next
 * attempt: i32x4.dot_i16x8_s on 13- or 14-bit limbs (twice the columns, and lane
 * widening), f64x2 on 24-bit limbs, 8-column blocks (register spills, or shuffles in
 * place of loads), two-group unrolling: none beat this kernel on V8.
 * Builds without SIMD run the same product one column at a time in scalar code.
 */

/** Zero limbs before and after every limb array (block loops read up to 6 past a value). */
const PAD: i32 = 8;
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
    const end = this.reversed() + (<usize>this.count << 2);
    let i = 0;
    if (ASC_FEATURE_SIMD) {
      for (; i + 4 <= this.count; i += 4) {
        const v = v128.load(src + (<usize>i << 2));
        v128.store(end - (<usize>(i + 4) << 2), i32x4.shuffle(v, v, 3, 2, 1, 0));
      }
    }
    for (; i < this.count; i++) store<u32>(end - (<usize>(i + 1) << 2), load<u32>(src + (<usize>i << 2)));
  }
}

// Lane masks keeping the first 0..4 u32 lanes: the last group of a squaring block.
const KEEP_LANES: usize = memory.data<u32>([
  0, 0, 0, 0,
  0xffffffff, 0, 0, 0,
  0xffffffff, 0xffffffff, 0, 0,
  0xffffffff, 0xffffffff, 0xffffffff, 0,
  0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff,
], 16);

/** acc + x·y over the four u32 lanes (two i64x2 products). */
// @ts-ignore: decorator
@inline
function mac(acc: v128, x: v128, y: v128): v128 {
  return i64x2.add(i64x2.add(acc, i64x2.extmul_low_i32x4_u(x, y)), i64x2.extmul_high_i32x4_u(x, y));
}

// @ts-ignore: decorator
@inline
function hsum(v: v128): u64 {
  return <u64>i64x2.extract_lane(v, 0) + <u64>i64x2.extract_lane(v, 1);
}

/** Σ x_i·y_i for i in [i0, i1] (scalar path). */
// @ts-ignore: decorator
@inline
function dot(x: usize, y: usize, i0: i32, i1: i32): u64 {
  let s: u64 = 0;
  for (let i = i0; i <= i1; i++) {
    const o = <usize>i << 2;
    s += <u64>load<u32>(x + o) * <u64>load<u32>(y + o);
  }
  return s;
}

/**
 * The arithmetic of one modulus: n with its Montgomery constants, built once per public
 * key. Methods are not reentrant (they share the quotient scratch), as Wasm calls never are.
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
  /** What the block kernels read of n (`Const` offsets). */
  private readonly consts: StaticArray<u64> = new StaticArray<u64>(Const.Size >> 3);
  /** The quotient limbs m_k of the running reduction, with PAD zero limbs on each side. */
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
    this.m = new StaticArray<u32>(count + 2 * PAD);
    this.r2 = new Residue(count);
    const p = modulus.limbs();
    const c = changetype<usize>(this.consts);
    for (let i = 0; i < 8; i++) store<u64>(c + Const.N + (<usize>i << 3), load<u32>(p + (<usize>i << 2)));
    // Newton's iteration doubles the correct low bits of n⁻¹ each step, from 3 (n·n ≡ 1
    // mod 8): 5 steps give 96 bits, enough for 2^(2w).
    const n0 = load<u32>(p);
    let inv: u32 = n0;
    for (let i = 0; i < 5; i++) inv *= 2 - n0 * inv;
    this.n0inv = <u64>(0 - inv) & MASK;
    const n01: u64 = <u64>n0 | (<u64>load<u32>(p, 4) << <u64>limbBits);
    let inv2: u64 = n01;
    for (let i = 0; i < 5; i++) inv2 *= 2 - n01 * inv2;
    store<u64>(c + Const.Inv, this.n0inv);
    store<u64>(c + Const.Inv2, (0 - inv2) & ((<u64>1 << <u64>(2 * limbBits)) - 1));
    store<u64>(c + Const.W, <u64>limbBits);
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
    if (ASC_FEATURE_SIMD) {
      mulBlocks(out.limbs(), a.limbs(), b.reversed(), this.n.reversed(), this.quotients(), this.count, changetype<usize>(this.consts));
    } else {
      this.mulColumns(out, a, b);
    }
    out.mirror();
  }

  /** out = a²·R⁻¹ mod n (as `mul(out, a, a)`, with the symmetric products counted once). */
  sqr(out: Residue, a: Residue): void {
    if (ASC_FEATURE_SIMD) {
      sqrBlocks(out.limbs(), a.limbs(), a.reversed(), this.n.reversed(), this.quotients(), this.count, changetype<usize>(this.consts));
    } else {
      this.sqrColumns(out, a);
    }
    out.mirror();
  }

  /** x mod n for normalized limbs at `x` with x < 2n. */
  reduce(x: usize): void {
    if (this.compareToModulus(x) >= 0) this.subtractModulus(x);
  }

  /**
   * out = a + b mod n for a < 2n and b < 2n, normalized and below n (limbs only: the
   * reversed copy of `out` is not written).
   */
  addReduced(out: Residue, a: Residue, b: Residue): void {
    const W = <u64>this.bits;
    const MASK = this.mask;
    const pa = a.limbs();
    const pb = b.limbs();
    const po = out.limbs();
    let carry: u64 = 0;
    for (let i = 0; i < this.count; i++) {
      const o = <usize>i << 2;
      carry += <u64>load<u32>(pa + o) + <u64>load<u32>(pb + o);
      store<u32>(po + o, <u32>(carry & MASK));
      carry >>= W;
    }
    // a + b < 4n < R fits in L limbs; up to three subtractions leave it below n.
    this.reduce(po);
    this.reduce(po);
    this.reduce(po);
  }

  /**
   * out = x·d·2^(−w·j) mod n, below 2n, for x of j ≤ L limbs at `x` and d < n: a
   * Montgomery product by a short operand, with j reduction steps instead of L (about
   * 2jL limb products). Limbs only: the reversed copy of `out` is not written.
   */
  mulShort(out: Residue, x: usize, j: i32, d: Residue): void {
    const L = this.count;
    const W = <u64>this.bits;
    const MASK = this.mask;
    const n0inv = this.n0inv;
    const pn = this.n.limbs();
    const pd = d.limbs();
    const po = out.limbs();
    const q = this.quotients();
    const n0 = <u64>load<u32>(pn);
    let acc: u64 = 0;
    for (let c = 0; c < L + j; c++) {
      const i0 = max<i32>(0, c - L + 1);
      const i1 = min<i32>(c, j - 1);
      for (let i = i0; i <= i1; i++) {
        acc += <u64>load<u32>(x + (<usize>i << 2)) * <u64>load<u32>(pd + (<usize>(c - i) << 2));
      }
      const k1 = min<i32>(c - 1, j - 1);
      for (let i = i0; i <= k1; i++) {
        acc += <u64>load<u32>(q + (<usize>i << 2)) * <u64>load<u32>(pn + (<usize>(c - i) << 2));
      }
      if (c < j) {
        const qc = ((acc & MASK) * n0inv) & MASK;
        store<u32>(q + (<usize>c << 2), <u32>qc);
        acc = (acc + qc * n0) >> W;
      } else {
        store<u32>(po + (<usize>(c - j) << 2), <u32>(acc & MASK));
        acc >>= W;
      }
    }
  }

  /** Whether the normalized limbs at `a` and `b` are equal. */
  equal(a: usize, b: usize): bool {
    for (let i = 0; i < this.count; i++) {
      if (load<u32>(a + (<usize>i << 2)) != load<u32>(b + (<usize>i << 2))) return false;
    }
    return true;
  }

  /** Address of quotient limb 0 (PAD zero limbs lie before it, for the first block). */
  @inline private quotients(): usize {
    return changetype<usize>(this.m) + (<usize>PAD << 2);
  }

  // Scalar: one column at a time.

  private mulColumns(out: Residue, a: Residue, b: Residue): void {
    const count = this.count;
    const last = count - 1;
    const m = this.quotients();
    memory.fill(m, 0, <usize>count << 2);
    const pa = a.limbs();
    const brev = b.reversed();
    const nrev = this.n.reversed();
    const n0 = <u64>load<u32>(this.n.limbs());
    const n0inv = this.n0inv;
    const MASK = this.mask;
    const W = <u64>this.bits;
    let acc: u64 = 0;
    // Columns 0..L−1 fix the quotient limbs m_k so that the column sum ends in w zero bits.
    for (let k = 0; k < count; k++) {
      const off = <usize>(last - k) << 2; // b_(k−i) sits at reversed index L−1−k+i
      acc += dot(pa, brev + off, 0, k) + dot(m, nrev + off, 0, k);
      const mk = ((acc & MASK) * n0inv) & MASK;
      store<u32>(m + (<usize>k << 2), <u32>mk);
      acc = (acc + mk * n0) >> W;
    }
    // Columns L..2L−2 each give one limb of the result.
    const pout = out.limbs();
    for (let k = count; k < 2 * count - 1; k++) {
      const off = <usize>(last - k) << 2;
      acc += dot(pa, brev + off, k - last, last) + dot(m, nrev + off, k - last, last);
      store<u32>(pout + (<usize>(k - count) << 2), <u32>(acc & MASK));
      acc >>= W;
    }
    store<u32>(pout + (<usize>last << 2), <u32>acc);
  }

  private sqrColumns(out: Residue, a: Residue): void {
    const count = this.count;
    const last = count - 1;
    const m = this.quotients();
    memory.fill(m, 0, <usize>count << 2);
    const pa = a.limbs();
    const arev = a.reversed();
    const nrev = this.n.reversed();
    const n0 = <u64>load<u32>(this.n.limbs());
    const n0inv = this.n0inv;
    const MASK = this.mask;
    const W = <u64>this.bits;
    const pout = out.limbs();
    let acc: u64 = 0;
    for (let k = 0; k < 2 * count - 1; k++) {
      const off = <usize>(last - k) << 2;
      const lo = k < count ? 0 : k - last;
      // Σ_(i=0..k) a_i·a_(k−i) = 2·Σ_(i<k−i) a_i·a_(k−i) + a_(k/2)² when k is even.
      acc += (dot(pa, arev + off, lo, (k - 1) >> 1) << 1) + dot(m, nrev + off, lo, min<i32>(k, last));
      if ((k & 1) == 0) {
        const h = <u64>load<u32>(pa + (<usize>(k >> 1) << 2));
        acc += h * h;
      }
      if (k < count) {
        const mk = ((acc & MASK) * n0inv) & MASK;
        store<u32>(m + (<usize>k << 2), <u32>mk);
        acc = (acc + mk * n0) >> W;
      } else {
        store<u32>(pout + (<usize>(k - count) << 2), <u32>(acc & MASK));
        acc >>= W;
      }
    }
    store<u32>(pout + (<usize>last << 2), <u32>acc);
  }
}

// SIMD kernels: blocks of four columns k..k+3 (see the file comment), on raw addresses
// so that no managed reference lives across their calls. Column k+r reads the reversed
// operand at index L−1−(k+r)+i, i.e. 4·(3−r) bytes past index L−4−k+i.

/** Byte offsets in a modulus's constants for the kernels (u64 each). */
const enum Const {
  /** n_0..n_7. */
  N = 0,
  /** −n⁻¹ mod 2^w. */
  Inv = 64,
  /** −n⁻¹ mod 2^(2w): two quotient limbs per multiplication. */
  Inv2 = 72,
  /** w. */
  W = 80,
  Size = 88,
}

/**
 * Limbs of a·b·R⁻¹ at `pout` (L limbs), from `pa` (a, forward) and `rb` (b, reversed);
 * `rn`: n reversed; `m`: the quotient scratch; `c`: the modulus's `Const` area.
 */
function mulBlocks(pout: usize, pa: usize, rb: usize, rn: usize, m: usize, L: i32, c: usize): void {
  let carry: u64 = 0;
  for (let k = 0; k < 2 * L; k += 4) {
    const lo = max<i32>(0, k - L + 1) & ~3;
    const hi = min<i32>(k + 3, L - 1);
    // Wraps below the array for upper blocks: only indices ≥ −6 are read.
    const shift = <usize>(L - 4 - k) << 2;
    const pb = rb + shift;
    const pn = rn + shift;
    if (k < L) v128.store(m + (<usize>k << 2), i64x2.splat(0));
    let v0 = i64x2.splat(0);
    let v1 = v0;
    let v2 = v0;
    let v3 = v0;
    for (let i = lo; i <= hi; i += 4) {
      const o = <usize>i << 2;
      const x = v128.load(pa + o);
      const p = pb + o;
      v0 = mac(v0, x, v128.load(p, 12));
      v1 = mac(v1, x, v128.load(p, 8));
      v2 = mac(v2, x, v128.load(p, 4));
      v3 = mac(v3, x, v128.load(p));
    }
    // A block below L leaves its predecessor's quotients (and its own) to `solveBlock`.
    const mhi = k + 4 <= L ? k - 5 : hi;
    for (let i = lo; i <= mhi; i += 4) {
      const o = <usize>i << 2;
      const x = v128.load(m + o);
      const p = pn + o;
      v0 = mac(v0, x, v128.load(p, 12));
      v1 = mac(v1, x, v128.load(p, 8));
      v2 = mac(v2, x, v128.load(p, 4));
      v3 = mac(v3, x, v128.load(p));
    }
    carry = endBlock(k, L, m, pout, carry, hsum(v0), hsum(v1), hsum(v2), hsum(v3), c);
  }
}

/** As `mulBlocks` for a² (`pa` forward, `ra` reversed), the symmetric products once. */
function sqrBlocks(pout: usize, pa: usize, ra: usize, rn: usize, m: usize, L: i32, c: usize): void {
  let carry: u64 = 0;
  for (let k = 0; k < 2 * L; k += 4) {
    const lo = max<i32>(0, k - L + 1) & ~3;
    const hi = min<i32>(k + 3, L - 1);
    const shift = <usize>(L - 4 - k) << 2;
    const pr = ra + shift;
    const pn = rn + shift;
    if (k < L) v128.store(m + (<usize>k << 2), i64x2.splat(0));
    let v0 = i64x2.splat(0);
    let v1 = v0;
    let v2 = v0;
    let v3 = v0;
    // Σ_(i<c−i) a_i·a_(c−i): whole groups below t0, then the group at t0, where column
    // k+r keeps the limbs i ≤ (k+r−1)/2: (0,1,1,2) of them when k/2 ≡ 0 mod 4, else (2,3,3,4).
    const half = k >> 1;
    const t0 = half & ~3;
    for (let i = lo; i < t0; i += 4) {
      const o = <usize>i << 2;
      const x = v128.load(pa + o);
      const p = pr + o;
      v0 = mac(v0, x, v128.load(p, 12));
      v1 = mac(v1, x, v128.load(p, 8));
      v2 = mac(v2, x, v128.load(p, 4));
      v3 = mac(v3, x, v128.load(p));
    }
    {
      const o = <usize>t0 << 2;
      const x = v128.load(pa + o);
      const p = pr + o;
      const keep = KEEP_LANES + (half == t0 ? 0 : 32);
      const x12 = v128.and(x, v128.load(keep, 16));
      v0 = mac(v0, v128.and(x, v128.load(keep)), v128.load(p, 12));
      v1 = mac(v1, x12, v128.load(p, 8));
      v2 = mac(v2, x12, v128.load(p, 4));
      v3 = mac(v3, v128.and(x, v128.load(keep, 32)), v128.load(p));
    }
    v0 = i64x2.shl(v0, 1);
    v1 = i64x2.shl(v1, 1);
    v2 = i64x2.shl(v2, 1);
    v3 = i64x2.shl(v3, 1);
    const mhi = k + 4 <= L ? k - 5 : hi;
    for (let i = lo; i <= mhi; i += 4) {
      const o = <usize>i << 2;
      const x = v128.load(m + o);
      const p = pn + o;
      v0 = mac(v0, x, v128.load(p, 12));
      v1 = mac(v1, x, v128.load(p, 8));
      v2 = mac(v2, x, v128.load(p, 4));
      v3 = mac(v3, x, v128.load(p));
    }
    // The squares a_(k/2)² and a_(k/2+1)² of the even columns (zero past L).
    const d = pa + (<usize>half << 2);
    const d0 = <u64>load<u32>(d);
    const d1 = <u64>load<u32>(d, 4);
    carry = endBlock(k, L, m, pout, carry, hsum(v0) + d0 * d0, hsum(v1), hsum(v2) + d1 * d1, hsum(v3), c);
  }
}

/** Finishes columns k..k+3 from their vector sums: quotients below L, result limbs above. */
// @ts-ignore: decorator
@inline
function endBlock(k: i32, L: i32, m: usize, pout: usize, carry: u64, s0: u64, s1: u64, s2: u64, s3: u64, c: usize): u64 {
  if (k + 4 <= L) return solveBlock(m + (<usize>k << 2), carry, s0, s1, s2, s3, c);
  if (k >= L) return emitBlock(pout + (<usize>(k - L) << 2), carry, s0, s1, s2, s3, c);
  return straddleBlock(k, L, m, pout, carry, s0, s1, s2, s3, c);
}

/**
 * Quotient limbs m_k..m_(k+3) (at `mk`) of a block below L. Its column sums lack the
 * products of these quotients and of the previous block's, m_(k−4)..m_(k−1); returns
 * the carry into column k+4.
 */
function solveBlock(mk: usize, carry: u64, s0: u64, s1: u64, s2: u64, s3: u64, c: usize): u64 {
  const W = load<u64>(c + Const.W);
  const MASK: u64 = (<u64>1 << W) - 1;
  const M2: u64 = (<u64>1 << (2 * W)) - 1;
  const inv2 = load<u64>(c + Const.Inv2);
  const n0 = load<u64>(c, 0), n1 = load<u64>(c, 8), n2 = load<u64>(c, 16), n3 = load<u64>(c, 24);
  const n4 = load<u64>(c, 32), n5 = load<u64>(c, 40), n6 = load<u64>(c, 48), n7 = load<u64>(c, 56);
  const p0 = <u64>load<u32>(mk - 16), p1 = <u64>load<u32>(mk - 12);
  const p2 = <u64>load<u32>(mk - 8), p3 = <u64>load<u32>(mk - 4);
  s0 += p0 * n4 + p1 * n3 + p2 * n2 + p3 * n1;
  s1 += p0 * n5 + p1 * n4 + p2 * n3 + p3 * n2;
  s2 += p0 * n6 + p1 * n5 + p2 * n4 + p3 * n3;
  s3 += p0 * n7 + p1 * n6 + p2 * n5 + p3 * n4;
  // Columns k, k+1: q = q0 + q1·2^w makes (column k + 2^w·column k+1 + q·n) ≡ 0 mod 2^(2w).
  let t = carry + s0;
  let q = (((t + (s1 << W)) & M2) * inv2) & M2;
  const q0 = q & MASK;
  const q1 = q >> W;
  t = ((t + q0 * n0) >> W) + s1 + q0 * n1 + q1 * n0;
  t = (t >> W) + s2 + q0 * n2 + q1 * n1;
  s3 += q0 * n3 + q1 * n2;
  // Columns k+2, k+3 likewise.
  q = (((t + (s3 << W)) & M2) * inv2) & M2;
  const q2 = q & MASK;
  const q3 = q >> W;
  t = ((t + q2 * n0) >> W) + s3 + q2 * n1 + q3 * n0;
  let v = i32x4.splat(<i32>q0);
  v = i32x4.replace_lane(v, 1, <i32>q1);
  v = i32x4.replace_lane(v, 2, <i32>q2);
  v = i32x4.replace_lane(v, 3, <i32>q3);
  v128.store(mk, v); // one store, so that later vector loads forward from it
  return t >> W;
}

/** Result limbs k−L..k−L+3 (at `p`) of a block above L; returns the carry. */
function emitBlock(p: usize, carry: u64, s0: u64, s1: u64, s2: u64, s3: u64, c: usize): u64 {
  const W = load<u64>(c + Const.W);
  const MASK: u64 = (<u64>1 << W) - 1;
  let t = carry + s0;
  let v = i32x4.splat(<i32>(t & MASK));
  t = (t >> W) + s1;
  v = i32x4.replace_lane(v, 1, <i32>(t & MASK));
  t = (t >> W) + s2;
  v = i32x4.replace_lane(v, 2, <i32>(t & MASK));
  t = (t >> W) + s3;
  v = i32x4.replace_lane(v, 3, <i32>(t & MASK));
  v128.store(p, v);
  return t >> W;
}

/**
 * The block with k < L < k+4, once per product: quotient limbs below L, result limbs
 * from L on, one column at a time. Its sums lack only its own quotients' products.
 */
function straddleBlock(k: i32, L: i32, m: usize, pout: usize, carry: u64, s0: u64, s1: u64, s2: u64, s3: u64, c: usize): u64 {
  const W = load<u64>(c + Const.W);
  const MASK: u64 = (<u64>1 << W) - 1;
  const inv = load<u64>(c + Const.Inv);
  let t = carry;
  for (let r = 0; r < 4; r++) {
    const col = k + r;
    t += r == 0 ? s0 : r == 1 ? s1 : r == 2 ? s2 : s3;
    for (let j = k; j < col && j < L; j++) {
      t += <u64>load<u32>(m + (<usize>j << 2)) * load<u64>(c + Const.N + (<usize>(col - j) << 3));
    }
    if (col < L) {
      const q = ((t & MASK) * inv) & MASK;
      store<u32>(m + (<usize>col << 2), <u32>q);
      t = (t + q * load<u64>(c + Const.N)) >> W;
    } else {
      store<u32>(pout + (<usize>(col - L) << 2), <u32>(t & MASK));
      t >>= W;
    }
  }
  return t;
}

/**
 * Reads big-endian `len` bytes at `src` into the L limbs of w = `limbBits` bits of
 * `dst` (both orders). The value must fit in w·L bits.
 */
export function residueFromBytes(dst: Residue, limbBits: i32, src: usize, len: i32): void {
  limbsFromBytes(dst.limbs(), dst.count, limbBits, src, len);
  dst.mirror();
}

/** As `residueFromBytes`, into `count` limbs at `dst` (no reversed copy). */
export function limbsFromBytes(dst: usize, count: i32, limbBits: i32, src: usize, len: i32): void {
  const w = <u64>limbBits;
  const mask: u64 = (<u64>1 << w) - 1;
  let acc: u64 = 0;
  let bits: u64 = 0;
  let j = 0;
  let i = len;
  // Four bytes per step from the end (the least significant end), then the rest.
  for (; i >= 4 && j < count; i -= 4) {
    acc |= <u64>bswap<u32>(load<u32>(src + <usize>(i - 4))) << bits;
    bits += 32;
    while (bits >= w) {
      store<u32>(dst + (<usize>j << 2), <u32>(acc & mask));
      acc >>= w;
      bits -= w;
      j++;
    }
  }
  for (; i > 0 && j < count; i--) {
    acc |= <u64>load<u8>(src + <usize>(i - 1)) << bits;
    bits += 8;
    if (bits >= w) {
      store<u32>(dst + (<usize>j << 2), <u32>(acc & mask));
      acc >>= w;
      bits -= w;
      j++;
    }
  }
  for (; j < count; j++) {
    store<u32>(dst + (<usize>j << 2), <u32>(acc & mask));
    acc >>= w;
  }
}

/** Writes the limbs (w = `limbBits` bits) of `src` as `len` big-endian bytes at `dst`, higher bits dropped. */
export function residueToBytes(dst: usize, len: i32, src: Residue, limbBits: i32): void {
  const w = <u64>limbBits;
  const p = src.limbs();
  const count = src.count;
  let acc: u64 = 0;
  let bits: u64 = 0;
  let j = 0;
  let i = len;
  // Four bytes per step from the end, then the rest.
  for (; i >= 4; i -= 4) {
    while (bits < 32) {
      if (j < count) acc |= <u64>load<u32>(p + (<usize>j << 2)) << bits;
      j++;
      bits += w;
    }
    store<u32>(dst + <usize>(i - 4), bswap<u32>(<u32>acc));
    acc >>= 32;
    bits -= 32;
  }
  for (; i > 0; i--) {
    if (bits < 8) {
      if (j < count) acc |= <u64>load<u32>(p + (<usize>j << 2)) << bits;
      j++;
      bits += w;
    }
    store<u8>(dst + <usize>(i - 1), <u8>acc);
    acc >>= 8;
    bits -= 8;
  }
}
