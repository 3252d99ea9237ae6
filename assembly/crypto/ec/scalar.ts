// Arithmetic modulo the group order n, for the few scalar operations of ECDSA
// verification (FIPS 186-4 §6.4.2 steps 4-5: w = s^-1, u1 = e·w, u2 = r·w) and the
// signed-window recoding of u1 and u2. Variable time: every input here is public.
import { wordsAdd, wordsCompare, wordsFromBytes, wordsIsZero, wordsSub } from "./words";

/** Z/nZ for an n whose top bit is set (both NIST orders), on `words` 32-bit words. */
export class ScalarField {
  readonly words: i32;
  /** n, `words` words. */
  readonly n: usize;
  /** -n^-1 mod 2^32, the Montgomery factor. */
  private readonly n0inv: u32;
  /** R mod n with R = 2^(32·words). */
  private readonly rModN: usize;
  // Scratch: CIOS accumulator (words + 2) and the four registers of the inversion.
  private readonly t: usize;
  private readonly u: usize;
  private readonly v: usize;
  private readonly r: usize;
  private readonly s: usize;
  private readonly pow: usize;
  private readonly mem: StaticArray<u32>;

  /** `order`: the address of n as big-endian bytes, 4·words of them, top bit set. */
  constructor(words: i32, order: usize) {
    this.words = words;
    const stride = <usize>(words + 2) << 2;
    this.mem = new StaticArray<u32>((words + 2) * 8);
    const base = changetype<usize>(this.mem);
    this.n = base;
    this.rModN = base + stride;
    this.t = base + 2 * stride;
    this.u = base + 3 * stride;
    this.v = base + 4 * stride;
    this.r = base + 5 * stride;
    this.s = base + 6 * stride;
    this.pow = base + 7 * stride;
    wordsFromBytes(this.n, words, order, words << 2);
    // R mod n = R - n, since n > R/2.
    wordsSub(this.rModN, this.t, this.n, words); // t is zero here
    // n^-1 mod 2^32 by Newton's iteration (each step doubles the correct low bits).
    const n0 = load<u32>(this.n);
    let inv: u32 = n0;
    for (let i = 0; i < 5; i++) inv *= 2 - n0 * inv;
    this.n0inv = -inv;
  }

  /** Reads a big-endian scalar of 4·words bytes; false unless 1 ≤ value < n. */
  parseNonZero(out: usize, src: usize): bool {
    wordsFromBytes(out, this.words, src, this.words << 2);
    return !wordsIsZero(out, this.words) && wordsCompare(out, this.n, this.words) < 0;
  }

  /**
   * Montgomery product out = a·b·R^-1 mod n (CIOS, Koç–Acar–Kaliski 1996). Needs
   * a·b < n·R (for instance a < R and b < n); out < n and may alias a or b.
   */
  montMul(out: usize, a: usize, b: usize): void {
    const N = this.words;
    const t = this.t;
    const n = this.n;
    memory.fill(t, 0, <usize>(N + 2) << 2);
    for (let i = 0; i < N; i++) {
      const bi = <u64>load<u32>(b + (<usize>i << 2));
      let c: u64 = 0;
      for (let j = 0; j < N; j++) {
        const at = t + (<usize>j << 2);
        c += <u64>load<u32>(at) + <u64>load<u32>(a + (<usize>j << 2)) * bi;
        store<u32>(at, <u32>c);
        c >>= 32;
      }
      c += <u64>load<u32>(t + (<usize>N << 2));
      store<u32>(t + (<usize>N << 2), <u32>c);
      store<u32>(t + (<usize>(N + 1) << 2), <u32>(c >> 32));
      // Masked: the optimizer may widen a u32 product into an i64 one.
      const m = (<u64>load<u32>(t) * <u64>this.n0inv) & 0xffffffff;
      c = (<u64>load<u32>(t) + m * <u64>load<u32>(n)) >> 32;
      for (let j = 1; j < N; j++) {
        c += <u64>load<u32>(t + (<usize>j << 2)) + m * <u64>load<u32>(n + (<usize>j << 2));
        store<u32>(t + (<usize>(j - 1) << 2), <u32>c);
        c >>= 32;
      }
      c += <u64>load<u32>(t + (<usize>N << 2));
      store<u32>(t + (<usize>(N - 1) << 2), <u32>c);
      store<u32>(t + (<usize>N << 2), load<u32>(t + (<usize>(N + 1) << 2)) + <u32>(c >> 32));
    }
    if (load<u32>(t + (<usize>N << 2)) != 0 || wordsCompare(t, n, N) >= 0) wordsSub(t, t, n, N);
    memory.copy(out, t, <usize>N << 2);
  }

  /**
   * out = a^-1·R mod n (the inverse in Montgomery form), for 1 ≤ a < n: the almost
   * Montgomery inverse (Kaliski, IEEE Trans. Computers 44(8), 1995) gives a^-1·2^k, then
   * one Montgomery product by 2^(2·32·words - k) sets the power of two to R.
   * Invariants: n = u·s + v·r, a·r ≡ -u·2^k and a·s ≡ v·2^k (mod n).
   */
  invertMont(out: usize, a: usize): void {
    const N = this.words;
    const L = N >> 1; // 64-bit limbs: the same memory read two words at a time
    const u = this.u, v = this.v, r = this.r, s = this.s;
    const bytes = <usize>N << 2;
    memory.copy(u, this.n, bytes);
    memory.copy(v, a, bytes);
    memory.fill(r, 0, bytes);
    memory.fill(s, 0, bytes);
    store<u32>(s, 1);
    let k: i32 = 0;
    // r and s stay ≤ n (from n = u·s + v·r), so `words` words hold them.
    while (!wordsIsZero(v, N)) {
      const u0 = load<u64>(u);
      const v0 = load<u64>(v);
      if ((u0 & 1) == 0) {
        const z = u0 == 0 ? 63 : <i32>ctz(u0);
        limbsShiftRight(u, L, z);
        limbsShiftLeft(s, L, z);
        k += z;
      } else if ((v0 & 1) == 0) {
        const z = v0 == 0 ? 63 : <i32>ctz(v0);
        limbsShiftRight(v, L, z);
        limbsShiftLeft(r, L, z);
        k += z;
      } else if (wordsCompare(u, v, N) > 0) {
        limbsSub(u, v, L);
        limbsAdd(r, s, L);
      } else {
        limbsSub(v, u, L);
        limbsAdd(s, r, L);
      }
    }
    // u = gcd = 1 (n prime), so a·r ≡ -2^k: a^-1·2^k = n - r.
    wordsSub(r, this.n, r, N);
    this.powerOfTwo(this.pow, 2 * 32 * N - k);
    this.montMul(out, r, this.pow);
  }

  /** out = 2^e mod n for 0 ≤ e: a set bit below R, else R mod n doubled (e - 32·words) times. */
  private powerOfTwo(out: usize, e: i32): void {
    const N = this.words;
    memory.fill(out, 0, <usize>N << 2);
    if (e < 32 * N) {
      store<u32>(out + (<usize>(e >> 5) << 2), 1 << (e & 31));
      return;
    }
    memory.copy(out, this.rModN, <usize>N << 2);
    for (let i = 32 * N; i < e; i++) {
      const carry = wordsAdd(out, out, out, N);
      if (carry != 0 || wordsCompare(out, this.n, N) >= 0) wordsSub(out, out, this.n, N);
    }
  }

  /**
   * Signed fixed-window recoding of k (1 ≤ k < n): `count` digits d_i of `width` bits with
   * k = ±Σ d_i·2^(width·i), |d_i| ≤ 2^(width-1). When k ≥ 2^(32·words - 1) it recodes
   * n - k instead and negates every digit (k·P = -(n-k)·P), so the top digit never carries.
   * k is overwritten; needs width·count ≥ 32·words.
   */
  recode(digits: StaticArray<i32>, k: usize, width: i32, count: i32): void {
    const N = this.words;
    let sign: i32 = 1;
    if ((load<u32>(k + (<usize>(N - 1) << 2)) >>> 31) != 0) {
      wordsSub(k, this.n, k, N);
      sign = -1;
    }
    const half: i32 = 1 << (width - 1);
    const mask: u64 = (<u64>1 << width) - 1;
    let carry: i32 = 0;
    for (let i = 0; i < count; i++) {
      const bit = i * width;
      const word = bit >> 5;
      let chunk: u64 = 0;
      if (word < N) {
        chunk = <u64>load<u32>(k + (<usize>word << 2));
        if (word + 1 < N) chunk |= <u64>load<u32>(k + (<usize>(word + 1) << 2)) << 32;
        chunk >>= <u64>(bit & 31);
      }
      let d = <i32>(chunk & mask) + carry;
      carry = 0;
      if (d > half) {
        d -= 1 << width;
        carry = 1;
      }
      unchecked(digits[i] = d * sign);
    }
  }
}

// 64-bit limb helpers for the inversion's inner loop (little-endian u64 limbs, the same
// bytes as the 32-bit words elsewhere).

/** a >>= z for 0 < z < 64. */
function limbsShiftRight(a: usize, limbs: i32, z: i32): void {
  const zz = <u64>z;
  let low = load<u64>(a);
  for (let i = 1; i < limbs; i++) {
    const high = load<u64>(a + (<usize>i << 3));
    store<u64>(a + (<usize>(i - 1) << 3), (low >>> zz) | (high << (64 - zz)));
    low = high;
  }
  store<u64>(a + (<usize>(limbs - 1) << 3), low >>> zz);
}

/** a <<= z for 0 < z < 64 (the caller's invariant keeps the result in range). */
function limbsShiftLeft(a: usize, limbs: i32, z: i32): void {
  const zz = <u64>z;
  for (let i = limbs - 1; i > 0; i--) {
    const at = a + (<usize>i << 3);
    store<u64>(at, (load<u64>(at) << zz) | (load<u64>(at - 8) >>> (64 - zz)));
  }
  store<u64>(a, load<u64>(a) << zz);
}

/** a -= b (a ≥ b). */
function limbsSub(a: usize, b: usize, limbs: i32): void {
  let borrow: u64 = 0;
  for (let i = 0; i < limbs; i++) {
    const at = <usize>i << 3;
    const x = load<u64>(a + at);
    const y = load<u64>(b + at);
    const d = x - y - borrow;
    borrow = <u64>(x < y) | (<u64>(x == y) & borrow);
    store<u64>(a + at, d);
  }
}

/** a += b (no overflow by the caller's invariant). */
function limbsAdd(a: usize, b: usize, limbs: i32): void {
  let carry: u64 = 0;
  for (let i = 0; i < limbs; i++) {
    const at = <usize>i << 3;
    const x = load<u64>(a + at);
    const t = x + load<u64>(b + at);
    const sum = t + carry;
    carry = <u64>(t < x) | <u64>(sum < t);
    store<u64>(a + at, sum);
  }
}
