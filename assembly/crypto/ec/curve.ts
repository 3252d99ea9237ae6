// Short Weierstrass curves y² = x³ - 3x + b over GF(p) (both NIST curves have a = -3):
// Jacobian point arithmetic, fixed-base tables, the double-scalar multiplication
// u1·G + u2·Q and ECDSA verification (FIPS 186-4 §6.4.2, SEC 1 v2 §4.1.4).
// Written once for any field class with FieldP256's shape (fields.ts); compiled per field.
// Variable time on purpose: verification only ever sees public values.
import { VerifyResult } from "../result";
import { ScalarField } from "./scalar";
import { wordsAdd, wordsCompare, wordsEqual, wordsFromBytes, wordsIsZero, wordsSub, wordsToBytes } from "./words";

/** Domain parameters: addresses of big-endian bytes, 4·words each (FIPS 186-4 App. D.1.2 / SEC 2 v2 §2.4.2, §2.5.1). */
export class CurveParams {
  constructor(
    public p: usize,
    public n: usize,
    public b: usize,
    public gx: usize,
    public gy: usize,
    /** Signed window width w of a public key's digits (its table rows hold 2^(w-1) points). */
    public window: i32,
    /** Window width of G's digits: G's one global table can afford wider rows. */
    public gWindow: i32,
    /** Bits S spanned by one table, a multiple of both windows; verification doubles < S times. */
    public span: i32,
    /** Tables per point B; B·S must cover the 32·words bits of a scalar. */
    public tables: i32,
  ) {}
}

/**
 * The part of a curve that does not depend on its field class: constants, the layout of
 * the scratch memory, and the scalar side of verification. Kept out of the generic
 * Curve<F> so that it is compiled once, not once per field. Field elements are `words`
 * little-endian 32-bit words; a Jacobian point is X, Y, Z consecutive (x = X/Z²,
 * y = Y/Z³); an affine table entry is x, y consecutive.
 */
export class CurveCore {
  readonly words: i32;
  /** Bytes of one field element or scalar (32 or 48). */
  readonly bytes: i32;
  readonly scalar: ScalarField;
  readonly window: i32;
  readonly gWindow: i32;
  readonly span: i32;
  readonly tables: i32;
  /** Words of a public key's affine table (tables·2^(window-1) points). */
  readonly tableWords: i32;

  protected readonly mem: StaticArray<u32>;
  // Constants: p (plain), p - 2 (plain), 1 (plain), R mod p (Montgomery 1), R² mod p, b·R,
  // zero, and one spare element.
  protected readonly p: usize;
  protected readonly pMinus2: usize;
  protected readonly plainOne: usize;
  readonly one: usize;
  protected readonly r2: usize;
  protected readonly b: usize;
  protected readonly zero: usize;
  /** Generator G, affine, Montgomery form (x then y). */
  protected readonly g: usize;
  // The accumulator (Jacobian) of the double-scalar multiplication.
  protected readonly acc: usize;
  protected accInfinity: bool = true;
  // Field temporaries.
  protected readonly t0: usize;
  protected readonly t1: usize;
  protected readonly t2: usize;
  protected readonly t3: usize;
  protected readonly t4: usize;
  protected readonly t5: usize;
  protected readonly t6: usize;
  protected readonly t7: usize;
  // Scalars mod n (e is the digest as an integer).
  protected readonly e: usize;
  protected readonly r: usize;
  protected readonly sInv: usize;
  protected readonly u1: usize;
  protected readonly u2: usize;
  protected readonly digitsG: StaticArray<i32>;
  protected readonly digitsQ: StaticArray<i32>;
  protected gTable: StaticArray<u32> | null = null;
  protected gScratch: StaticArray<u32> | null = null;
  protected gPrefix: StaticArray<u32> | null = null;
  // Table precomputation: the imported point, the base point of the current table, the
  // table in Jacobian coordinates and the running products of its Z coordinates.
  protected readonly point: usize;
  protected readonly base: usize;
  protected readonly jacobianScratch: StaticArray<u32>;
  protected readonly prefixScratch: StaticArray<u32>;

  constructor(words: i32, params: CurveParams) {
    // Managed fields first: AssemblyScript wants them set before `this` is read.
    this.digitsG = new StaticArray<i32>((params.span / params.gWindow) * params.tables);
    this.digitsQ = new StaticArray<i32>((params.span / params.window) * params.tables);
    // 8 constants + G (2) + accumulator (3) + 8 temporaries + 5 scalars + an imported
    // point (2) + the table base point (3), each `words` words.
    this.mem = new StaticArray<u32>((8 + 2 + 3 + 8 + 5 + 2 + 3) * words);
    const count = params.tables * (1 << (params.window - 1));
    this.jacobianScratch = new StaticArray<u32>(count * 3 * words);
    this.prefixScratch = new StaticArray<u32>(count * words);
    this.words = words;
    const bytes = words << 2;
    this.bytes = bytes;
    this.scalar = new ScalarField(words, params.n);
    this.window = params.window;
    this.gWindow = params.gWindow;
    this.span = params.span;
    this.tables = params.tables;
    this.tableWords = params.tables * (1 << (params.window - 1)) * 2 * words;
    assert(
      params.span % params.window == 0 && params.span % params.gWindow == 0 && params.span * params.tables >= 32 * words,
      "bad window parameters",
    );

    let at = changetype<usize>(this.mem);
    const el = <usize>bytes;
    this.p = at; at += el;
    this.pMinus2 = at; at += el;
    this.plainOne = at; at += el;
    this.one = at; at += el;
    this.r2 = at; at += el;
    this.b = at; at += el;
    this.zero = at; at += el;
    at += el; // spare
    this.g = at; at += 2 * el;
    this.acc = at; at += 3 * el;
    this.t0 = at; at += el;
    this.t1 = at; at += el;
    this.t2 = at; at += el;
    this.t3 = at; at += el;
    this.t4 = at; at += el;
    this.t5 = at; at += el;
    this.t6 = at; at += el;
    this.t7 = at; at += el;
    this.e = at; at += el;
    this.r = at; at += el;
    this.sInv = at; at += el;
    this.u1 = at; at += el;
    this.u2 = at; at += el;
    this.point = at; at += 2 * el;
    this.base = at; at += 3 * el;

    wordsFromBytes(this.p, words, params.p, bytes);
    store<u32>(this.plainOne, 1);
    wordsSub(this.pMinus2, this.p, this.plainOne, words);
    wordsSub(this.pMinus2, this.pMinus2, this.plainOne, words);
    // R mod p = R - p (p > R/2): 1 in Montgomery form.
    wordsSub(this.one, this.zero, this.p, words);
    // Plain values; Curve<F> turns b and G into Montgomery form.
    wordsFromBytes(this.b, words, params.b, bytes);
    wordsFromBytes(this.g, words, params.gx, bytes);
    wordsFromBytes(this.g + el, words, params.gy, bytes);
  }

  /** Reads a big-endian field element of `bytes` bytes; false if it is ≥ p. Plain form. */
  parseFieldElement(out: usize, src: usize): bool {
    wordsFromBytes(out, this.words, src, this.bytes);
    return wordsCompare(out, this.p, this.words) < 0;
  }

  /** Recodes u1 (for G) and u2 (for Q) into their digits; a zero scalar gives zero digits. */
  protected recodeBoth(): void {
    const N = this.words;
    const tables = this.tables;
    if (wordsIsZero(this.u1, N)) this.digitsG.fill(0);
    else this.scalar.recode(this.digitsG, this.u1, this.gWindow, (this.span / this.gWindow) * tables);
    if (wordsIsZero(this.u2, N)) this.digitsQ.fill(0);
    else this.scalar.recode(this.digitsQ, this.u2, this.window, (this.span / this.window) * tables);
  }

  /**
   * The scalar steps of verification (FIPS 186-4 §6.4.2 steps 1 and 4-5): r and s in
   * [1, n-1] from the signature (2·bytes bytes), e = the digest (`bytes` bytes: SHA-256
   * for P-256, SHA-384 for P-384, so no truncation applies; it may exceed n, which the
   * Montgomery product accepts), u1 = e·s^-1 and u2 = r·s^-1 mod n, recoded into digits.
   * False when r or s is out of range. Leaves r in `this.r` for the final comparison.
   */
  protected prepareScalars(digest: usize, sig: usize): bool {
    const sc = this.scalar;
    const r = this.r, sInv = this.sInv;
    if (!sc.parseNonZero(r, sig) || !sc.parseNonZero(sInv, sig + <usize>this.bytes)) return false;
    wordsFromBytes(this.e, this.words, digest, this.bytes);
    sc.invertMont(sInv, sInv); // s^-1·R
    sc.montMul(this.u1, this.e, sInv); // u1 = e·s^-1 mod n
    sc.montMul(this.u2, r, sInv); // u2 = r·s^-1 mod n
    this.recodeBoth();
    return true;
  }

  /** Reads k1 and k2 (big-endian, `bytes` bytes each) into u1, u2 and recodes them (tests). */
  protected prepareTestScalars(k1: usize, k2: usize): void {
    wordsFromBytes(this.u1, this.words, k1, this.bytes);
    wordsFromBytes(this.u2, this.words, k2, this.bytes);
    this.recodeBoth();
  }
}

/**
 * One curve over the field class F: Montgomery-form constants, point formulas, tables,
 * the double-scalar multiplication and verification.
 */
export class Curve<F> extends CurveCore {
  readonly field: F;

  constructor(field: F, words: i32, params: CurveParams) {
    super(words, params);
    this.field = field;
    const el = <usize>this.bytes;
    // R² mod p by doubling R mod p 32·words times, then b and G into Montgomery form.
    memory.copy(this.r2, this.one, el);
    for (let i = 0; i < 32 * words; i++) this.field.add(this.r2, this.r2, this.r2);
    this.toMont(this.b, this.b);
    this.toMont(this.g, this.g);
    this.toMont(this.g + el, this.g + el);
  }

  // ---- field helpers -------------------------------------------------------------

  /** out = a·R mod p (into Montgomery form). */
  toMont(out: usize, a: usize): void {
    this.field.mul(out, a, this.r2);
  }

  /** out = a·R^-1 mod p (out of Montgomery form). */
  fromMont(out: usize, a: usize): void {
    this.field.mul(out, a, this.plainOne);
  }

  /** out = a^-1 = a^(p-2) (Fermat), a ≠ 0, Montgomery form. For precomputation only. */
  invert(out: usize, a: usize): void {
    const f = this.field;
    const x = this.t7;
    memory.copy(x, a, <usize>this.bytes);
    memory.copy(out, this.one, <usize>this.bytes);
    for (let i = 32 * this.words - 1; i >= 0; i--) {
      f.sqr(out, out);
      if (((load<u32>(this.pMinus2 + (<usize>(i >> 5) << 2)) >>> (i & 31)) & 1) != 0) f.mul(out, out, x);
    }
  }

  /** True if (x, y) (Montgomery form) satisfies y² = x³ - 3x + b. */
  isOnCurve(x: usize, y: usize): bool {
    const f = this.field;
    const lhs = this.t0, rhs = this.t1, t = this.t2;
    f.sqr(lhs, y);
    f.sqr(rhs, x);
    f.mul(rhs, rhs, x); // x³
    f.add(t, x, x);
    f.add(t, t, x); // 3x
    f.sub(rhs, rhs, t);
    f.add(rhs, rhs, this.b);
    return wordsEqual(lhs, rhs, this.words);
  }

  // ---- point formulas (a = -3) -----------------------------------------------------

  /**
   * out = 2·P for Jacobian P ≠ O (out may be P). Doubling for a = -3 after Bernstein 2001
   * (EFD "dbl-2001-b"), with Z3 = 2·Y1·Z1: 4M + 4S.
   */
  double(out: usize, pt: usize): void {
    const f = this.field;
    const el = <usize>this.bytes;
    const X1 = pt, Y1 = pt + el, Z1 = pt + 2 * el;
    const delta = this.t0, gamma = this.t1, beta = this.t2, alpha = this.t3, t = this.t4;
    f.sqr(delta, Z1);
    f.sqr(gamma, Y1);
    f.mul(beta, X1, gamma);
    f.sub(t, X1, delta);
    f.add(alpha, X1, delta);
    f.mul(alpha, alpha, t);
    f.add(t, alpha, alpha);
    f.add(alpha, t, alpha); // alpha = 3·(X1 - delta)·(X1 + delta)
    f.mul(t, Y1, Z1);
    f.add(out + 2 * el, t, t); // Z3 = 2·Y1·Z1
    f.add(beta, beta, beta);
    f.add(beta, beta, beta); // 4·beta
    f.sqr(t, alpha);
    f.sub(t, t, beta);
    f.sub(out, t, beta); // X3 = alpha² - 8·beta
    f.sub(beta, beta, out);
    f.mul(beta, beta, alpha); // alpha·(4·beta - X3)
    f.sqr(gamma, gamma);
    f.add(gamma, gamma, gamma);
    f.add(gamma, gamma, gamma);
    f.add(gamma, gamma, gamma); // 8·gamma²
    f.sub(out + el, beta, gamma); // Y3
  }

  /**
   * The accumulator += (x2, ±y2) for an affine point: mixed Jacobian-affine addition
   * (Hankerson–Menezes–Vanstone, Guide to ECC Alg. 3.22; EFD "madd-2004-hmv"): 8M + 3S.
   * Handles the accumulator at infinity, equal points (doubles) and opposite points.
   */
  private accAddAffine(x2: usize, y2: usize, negate: bool): void {
    const f = this.field;
    const el = <usize>this.bytes;
    const acc = this.acc;
    if (negate) {
      f.sub(this.t6, this.zero, y2);
      y2 = this.t6;
    }
    if (this.accInfinity) {
      memory.copy(acc, x2, el);
      memory.copy(acc + el, y2, el);
      memory.copy(acc + 2 * el, this.one, el);
      this.accInfinity = false;
      return;
    }
    const X1 = acc, Y1 = acc + el, Z1 = acc + 2 * el;
    const u2 = this.t0, s2 = this.t1, h = this.t2, r = this.t3, t = this.t4, h3 = this.t5;
    f.sqr(u2, Z1);
    f.mul(s2, u2, Z1);
    f.mul(u2, u2, x2);
    f.mul(s2, s2, y2);
    f.sub(h, u2, X1);
    f.sub(r, s2, Y1);
    if (wordsIsZero(h, this.words)) {
      if (wordsIsZero(r, this.words)) this.double(acc, acc);
      else this.accInfinity = true;
      return;
    }
    f.mul(Z1, Z1, h); // Z3 = Z1·H
    f.sqr(t, h);
    f.mul(h3, t, h); // H³
    f.mul(t, t, X1); // X1·H²
    f.sqr(X1, r);
    f.sub(X1, X1, h3);
    f.sub(X1, X1, t);
    f.sub(X1, X1, t); // X3 = R² - H³ - 2·X1·H²
    f.sub(t, t, X1);
    f.mul(t, t, r);
    f.mul(h3, h3, Y1);
    f.sub(Y1, t, h3); // Y3 = R·(X1·H² - X3) - Y1·H³
  }

  /**
   * out = P1 + P2, both Jacobian and ≠ O, P1 ≠ -P2 (out may be P1): EFD "add-1998-cmo-2",
   * 12M + 4S. Table precomputation only, where neither exception can occur but equality
   * is still handled.
   */
  private addJacobian(out: usize, p1: usize, p2: usize): void {
    const f = this.field;
    const el = <usize>this.bytes;
    const z1z1 = this.t0, z2z2 = this.t1, u1 = this.t2, u2 = this.t3, s1 = this.t4, s2 = this.t5, t = this.t6;
    f.sqr(z1z1, p1 + 2 * el);
    f.sqr(z2z2, p2 + 2 * el);
    f.mul(u1, p1, z2z2);
    f.mul(u2, p2, z1z1);
    f.mul(s1, p2 + 2 * el, z2z2);
    f.mul(s1, s1, p1 + el); // S1 = Y1·Z2³
    f.mul(s2, p1 + 2 * el, z1z1);
    f.mul(s2, s2, p2 + el); // S2 = Y2·Z1³
    f.sub(u2, u2, u1); // H
    f.sub(s2, s2, s1); // R
    if (wordsIsZero(u2, this.words)) {
      this.double(out, p1);
      return;
    }
    f.mul(t, p1 + 2 * el, p2 + 2 * el);
    f.mul(out + 2 * el, t, u2); // Z3 = Z1·Z2·H
    f.sqr(z1z1, u2); // H²
    f.mul(z2z2, z1z1, u2); // H³
    f.mul(u1, u1, z1z1); // U1·H²
    f.sqr(t, s2);
    f.sub(t, t, z2z2);
    f.sub(t, t, u1);
    f.sub(out, t, u1); // X3 = R² - H³ - 2·U1·H²
    f.sub(u1, u1, out);
    f.mul(u1, u1, s2);
    f.mul(s1, s1, z2z2);
    f.sub(out + el, u1, s1); // Y3 = R·(U1·H² - X3) - S1·H³
  }

  // ---- tables ----------------------------------------------------------------------

  /**
   * Fills `table` for the affine point P = (x, y) (Montgomery form) and window width w:
   * entry (j, m) = m·2^(span·j)·P for j < tables, 1 ≤ m ≤ 2^(w-1), affine, computed in
   * Jacobian coordinates (in `jacobian`, 3 elements a point) and converted with one
   * inversion (Montgomery's batch trick, running products in `prefix`). The scratch
   * arrays are fields of the caller's: an address held only in a local is no GC root.
   */
  private buildTable(
    table: StaticArray<u32>, x: usize, y: usize, window: i32,
    jacobian: StaticArray<u32>, prefix: StaticArray<u32>,
  ): void {
    const f = this.field;
    const el = <usize>this.bytes;
    const rowPoints = 1 << (window - 1);
    const count = this.tables * rowPoints;
    const J = changetype<usize>(jacobian);
    const base = this.base;
    memory.copy(base, x, el);
    memory.copy(base + el, y, el);
    memory.copy(base + 2 * el, this.one, el);
    const span = this.span;
    for (let j = 0; j < this.tables; j++) {
      const row = J + <usize>(j * rowPoints) * 3 * el;
      memory.copy(row, base, 3 * el);
      this.double(row + 3 * el, base);
      for (let m = 2; m < rowPoints; m++) {
        this.addJacobian(row + <usize>m * 3 * el, row + <usize>(m - 1) * 3 * el, base);
      }
      if (j + 1 < this.tables) for (let i = 0; i < span; i++) this.double(base, base);
    }
    // Batch inversion of the Z coordinates.
    const P = changetype<usize>(prefix);
    memory.copy(P, J + 2 * el, el);
    for (let i = 1; i < count; i++) f.mul(P + <usize>i * el, P + <usize>(i - 1) * el, J + <usize>i * 3 * el + 2 * el);
    const inv = this.t5;
    const zi = this.t6;
    this.invert(inv, P + <usize>(count - 1) * el);
    const T = changetype<usize>(table);
    for (let i = count - 1; i >= 0; i--) {
      const pt = J + <usize>i * 3 * el;
      if (i > 0) {
        f.mul(zi, inv, P + <usize>(i - 1) * el);
        f.mul(inv, inv, pt + 2 * el);
      } else {
        memory.copy(zi, inv, el);
      }
      const out = T + <usize>i * 2 * el;
      f.sqr(this.t4, zi);
      f.mul(out, pt, this.t4);
      f.mul(this.t4, this.t4, zi);
      f.mul(out + el, pt + el, this.t4);
    }
  }

  /** The table of G (window gWindow), built on first use; its scratch is dropped after. */
  generatorTable(): StaticArray<u32> {
    let t = this.gTable;
    if (t === null) {
      const count = this.tables << (this.gWindow - 1);
      t = new StaticArray<u32>(count * 2 * this.words);
      const jacobian = new StaticArray<u32>(count * 3 * this.words);
      const prefix = new StaticArray<u32>(count * this.words);
      this.gScratch = jacobian;
      this.gPrefix = prefix;
      this.buildTable(t, this.g, this.g + <usize>this.bytes, this.gWindow, jacobian, prefix);
      this.gTable = t;
      this.gScratch = null;
      this.gPrefix = null;
    }
    return t;
  }

  /**
   * Validates a public key (SEC 1 v2 §3.2.2.1: coordinates < p, on the curve; the curves'
   * cofactor is 1, and the point at infinity has no affine coordinates) given as big-endian
   * x and y of `bytes` bytes each, and fills its table. False when the key is invalid.
   */
  importPublicKey(table: StaticArray<u32>, x: usize, y: usize): bool {
    const el = <usize>this.bytes;
    const px = this.t6;
    const py = this.t7;
    if (!this.parseFieldElement(px, x) || !this.parseFieldElement(py, y)) return false;
    this.toMont(px, px);
    this.toMont(py, py);
    if (!this.isOnCurve(px, py)) return false;
    // buildTable uses t4-t7 as temporaries; keep the point elsewhere.
    const point = this.point;
    memory.copy(point, px, el);
    memory.copy(point + el, py, el);
    this.buildTable(table, point, point + el, this.window, this.jacobianScratch, this.prefixScratch);
    return true;
  }

  // ---- double-scalar multiplication and ECDSA -----------------------------------------

  /** Adds sign(d)·entry (j, |d|) of a table with `rowPoints` points a row to the accumulator. */
  @inline private addEntry(table: usize, rowPoints: i32, j: i32, d: i32): void {
    const el = <usize>this.bytes;
    const m = d < 0 ? -d : d;
    const entry = table + <usize>(j * rowPoints + m - 1) * 2 * el;
    this.accAddAffine(entry, entry + el, d < 0);
  }

  /**
   * acc = u1·G + u2·Q from their digits (Shamir's trick over fixed-base tables): digit
   * (col, j) of a scalar with window w weighs 2^(w·col + span·j), so one Horner pass over
   * the bit positions of a span, doubling once per position, adds table j's entry for
   * both scalars where their windows fall: fewer than `span` doublings in all.
   */
  private mulDouble(qTable: usize): void {
    const gTable = changetype<usize>(this.generatorTable());
    const w = this.window, wG = this.gWindow;
    const columns = this.span / w, gColumns = this.span / wG;
    const rowPoints = 1 << (w - 1), gRowPoints = 1 << (wG - 1);
    this.accInfinity = true;
    for (let pos = this.span - 1; pos >= 0; pos--) {
      if (!this.accInfinity) this.double(this.acc, this.acc);
      if (pos % wG == 0) {
        const col = pos / wG;
        for (let j = 0; j < this.tables; j++) {
          const d = unchecked(this.digitsG[col + gColumns * j]);
          if (d != 0) this.addEntry(gTable, gRowPoints, j, d);
        }
      }
      if (pos % w == 0) {
        const col = pos / w;
        for (let j = 0; j < this.tables; j++) {
          const d = unchecked(this.digitsQ[col + columns * j]);
          if (d != 0) this.addEntry(qTable, rowPoints, j, d);
        }
      }
    }
  }

  /**
   * ECDSA signature verification (FIPS 186-4 §6.4.2, SEC 1 v2 §4.1.4) of a signature
   * r || s (2·bytes bytes at `sig`, big-endian, RFC 7518 §3.4) over the hash at `digest`
   * (`bytes` bytes: SHA-256 for P-256, SHA-384 for P-384, so no truncation applies),
   * with the public key whose table is `qTable`.
   * Returns Valid, Invalid, or BadSignature when r or s is not in [1, n-1].
   */
  verifyDigest(qTable: StaticArray<u32>, digest: usize, sig: usize): VerifyResult {
    const N = this.words;
    const el = <usize>this.bytes;
    const r = this.r;
    if (!this.prepareScalars(digest, sig)) return VerifyResult.BadSignature;
    this.mulDouble(changetype<usize>(qTable));
    if (this.accInfinity) return VerifyResult.Invalid;
    // x(R) ≡ r (mod n) without inverting Z: X == r·Z² or, when r + n < p, X == (r + n)·Z².
    const f = this.field;
    const z2 = this.t0, rz = this.t1;
    f.sqr(z2, this.acc + 2 * el);
    this.toMont(rz, r);
    f.mul(rz, rz, z2);
    if (wordsEqual(rz, this.acc, N)) return VerifyResult.Valid;
    const carry = wordsAdd(r, r, this.scalar.n, N);
    if (carry == 0 && wordsCompare(r, this.p, N) < 0) {
      this.toMont(rz, r);
      f.mul(rz, rz, z2);
      if (wordsEqual(rz, this.acc, N)) return VerifyResult.Valid;
    }
    return VerifyResult.Invalid;
  }

  // ---- test access -------------------------------------------------------------------

  /**
   * k1·G + k2·Q for scalars (big-endian, `bytes` bytes, 1 ≤ k < n, or 0 to skip a term)
   * into affine big-endian x || y at `out`; false when the sum is the point at infinity.
   * For tests of the point arithmetic against other implementations.
   */
  mulDoubleAffine(out: usize, k1: usize, k2: usize, qTable: StaticArray<u32>): bool {
    const N = this.words;
    const el = <usize>this.bytes;
    this.prepareTestScalars(k1, k2);
    this.mulDouble(changetype<usize>(qTable));
    if (this.accInfinity) return false;
    const f = this.field;
    const zi = this.t5, t = this.t4;
    this.invert(zi, this.acc + 2 * el);
    f.sqr(t, zi);
    f.mul(this.t0, this.acc, t);
    f.mul(t, t, zi);
    f.mul(this.t1, this.acc + el, t);
    this.fromMont(this.t0, this.t0);
    this.fromMont(this.t1, this.t1);
    wordsToBytes(out, this.bytes, this.t0);
    wordsToBytes(out + el, this.bytes, this.t1);
    return true;
  }
}
