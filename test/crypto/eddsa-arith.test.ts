// The arithmetic under Ed25519 (assembly/crypto/ed25519) against the BigInt model of
// eddsa-reference.ts: field operations at the limb bounds field.ts promises, reduction
// mod L, wNAF recoding, point decoding and the double-scalar multiplication.
import { randomBytes } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadCryptoModule, type CryptoModule } from '../../harness/crypto/wasm.ts';
import {
  B, IDENTITY, L, P, add, decode, encode, fromLe, inv, le, mod, mul, negate, pow, torsionGenerator,
} from './eddsa-reference.ts';

let m: CryptoModule;
beforeAll(() => {
  m = loadCryptoModule();
});

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const randomBig = (bytes: number) => fromLe(randomBytes(bytes));

// Radix 2^25.5: limb i starts at bit ⌈25.5·i⌉ and holds 26 bits (even i) or 25 (odd i).
const OFFSETS = [0, 26, 51, 77, 102, 128, 153, 179, 204, 230];
const limbsValue = (limbs: number[]) => limbs.reduce((v, l, i) => v + (BigInt(l) << BigInt(OFFSETS[i])), 0n);
const limbBytes = (limbs: number[]) => new Uint8Array(Int32Array.from(limbs).buffer);
/** Largest limbs `mul` and `sq` accept: four times the tight bounds 2^25 / 2^24. */
const MAX = (i: number) => (i % 2 === 0 ? 2 ** 27 : 2 ** 26);

function limbCases(): number[][] {
  const cases: number[][] = [];
  const pattern = (f: (i: number) => number) => cases.push(Array.from({ length: 10 }, (_, i) => f(i)));
  pattern((i) => MAX(i));
  pattern((i) => -MAX(i));
  pattern((i) => (i % 2 ? -MAX(i) : MAX(i)));
  pattern((i) => (i % 3 ? MAX(i) : -MAX(i)));
  pattern(() => 0);
  pattern((i) => (i === 0 ? 1 : 0));
  for (let n = 0; n < 60; n++) {
    const scale = n % 3 === 0 ? 1 : 0.25; // some at the bounds' full width, some tight
    pattern((i) => Math.round((Math.random() * 2 - 1) * MAX(i) * scale));
  }
  return cases;
}

describe('field GF(2^255 - 19)', () => {
  it('multiplies and squares limbs up to four times tight, as BigInt does', () => {
    const cases = limbCases();
    for (const a of cases) {
      for (const b of cases.slice(0, 12)) {
        const want = mod(limbsValue(a) * limbsValue(b));
        expect(fromLe(m.callBytes('ed25519_fe_mul_limbs', limbBytes(a), limbBytes(b))), `${a} × ${b}`).toBe(want);
      }
      expect(fromLe(m.callBytes('ed25519_fe_sq_limbs', limbBytes(a))), `${a}²`).toBe(mod(limbsValue(a) ** 2n));
    }
  });

  it('encodes canonically whatever the limbs (toBytes reduces fully)', () => {
    for (const a of limbCases()) {
      expect(fromLe(m.callBytes('ed25519_fe_encode_limbs', limbBytes(a)))).toBe(mod(limbsValue(a)));
    }
    // values just below and above p, and p itself, given as limbs of their bytes
    for (const v of [P - 1n, P, P + 1n, P + 18n, (1n << 255n) - 1n, 0n, 18n, 19n]) {
      const bytes = le(v);
      expect(fromLe(m.callBytes('ed25519_fe_op', 0, bytes, bytes)), `${v}`).toBe(mod(v));
    }
  });

  it('tells canonical encodings (y < p) from the 19 non-canonical ones', () => {
    const is = (v: bigint, top = 0) => {
      const b = le(v);
      b[31] |= top;
      return m.call('ed25519_fe_is_canonical', b);
    };
    for (const v of [0n, 1n, P - 1n, P - 2n, 1n << 254n]) expect(is(v)).toBe(1);
    for (let t = 0n; t < 19n; t++) expect(is(P + t), `p + ${t}`).toBe(0);
    expect(is(P - 1n, 0x80)).toBe(1); // the sign bit is not part of y
    expect(is(P, 0x80)).toBe(0);
  });

  it('adds, subtracts, negates, inverts and raises to (p-5)/8 like BigInt', () => {
    const values = [0n, 1n, 2n, P - 1n, P - 2n, 19n, (1n << 255n) - 20n];
    for (let i = 0; i < 40; i++) values.push(randomBig(32) & ((1n << 255n) - 1n));
    for (const a of values) {
      const b = values[(values.indexOf(a) * 7 + 3) % values.length];
      const call = (op: number) => fromLe(m.callBytes('ed25519_fe_op', op, le(a), le(b)));
      const am = mod(a);
      expect(call(3)).toBe(mod(a + b));
      expect(call(4)).toBe(mod(a - b));
      expect(call(5)).toBe(mod(-a));
      expect(call(1), `1/${a}`).toBe(am === 0n ? 0n : inv(am));
      expect(call(2)).toBe(pow(am, (P - 5n) / 8n));
    }
  });
});

describe('scalars mod L', () => {
  it('reduces 512-bit integers mod L, edge values included', () => {
    const values = [0n, 1n, L - 1n, L, L + 1n, 2n * L, (1n << 252n), (1n << 253n) - 1n, (1n << 512n) - 1n];
    values.push(L * ((1n << 259n) - 1n), L * ((1n << 259n) - 1n) - 1n, (1n << 511n));
    for (let i = 0; i < 200; i++) values.push(randomBig(64));
    for (const v of values) {
      expect(fromLe(m.callBytes('ed25519_sc_reduce', le(v, 64))), `${v} mod L`).toBe(v % L);
    }
  });

  it('recodes scalars in width-w NAF: odd digits below 2^(w-1), w-1 zeros after each, same value', () => {
    const scalars = [0n, 1n, L - 1n, (1n << 64n) - 1n, (1n << 128n) - 1n, (1n << 192n) - 1n, (1n << 253n) - 1n];
    for (let i = 0; i < 60; i++) scalars.push(randomBig(32) % L);
    for (const w of [2, 5, 6, 8]) {
      for (const s of scalars) {
        const digits = Int8Array.from(m.callBytes('ed25519_sc_wnaf', le(s), w));
        let value = 0n;
        let lastNonZero = -w;
        digits.forEach((d, i) => {
          value += BigInt(d) << BigInt(i);
          if (d === 0) return;
          expect(Math.abs(d) % 2, `digit ${i} of ${s}`).toBe(1);
          expect(Math.abs(d)).toBeLessThan(2 ** (w - 1));
          expect(i - lastNonZero, `gap before digit ${i}`).toBeGreaterThanOrEqual(w);
          lastNonZero = i;
        });
        expect(value, `wNAF(${w}) of ${s}`).toBe(s);
      }
    }
  });
});

describe('points of edwards25519', () => {
  it('decodes (RFC 8032 §5.1.3) exactly the encodings the strict model decodes', () => {
    const encodings: Uint8Array[] = [encode(B), encode(IDENTITY), le(P - 1n), le(0n), le(1n | (1n << 255n))];
    for (let i = 0; i < 120; i++) encodings.push(new Uint8Array(randomBytes(32)));
    for (let t = 0n; t < 19n; t++) encodings.push(le(P + t), le(P + t + (1n << 255n)));
    let decodable = 0;
    for (const e of encodings) {
      const want = decode(e);
      const got = m.callBytes('ed25519_point_decode', e);
      if (want) decodable++;
      expect(got.length ? hex(got) : null, hex(e)).toBe(want ? hex(encode(want)) : null);
    }
    expect(decodable).toBeGreaterThan(40); // about half of random strings are points
  });

  it('computes [s]B - [k]A like the model, for prime-order and mixed-order A', () => {
    const t8 = torsionGenerator();
    // chunk boundaries of msm.ts (multiples of 32 bits) and long runs of ones, which carry across them
    const edgeScalars = [
      0n, 1n, 2n, L - 1n, (1n << 32n) - 1n, (1n << 64n) - 1n, 1n << 64n, (1n << 128n) + 1n, (1n << 224n) - 1n,
      (1n << 252n) - 1n, (1n << 253n) - 1n,
    ];
    const cases: [bigint, bigint, bigint][] = [];
    for (const s of edgeScalars) cases.push([s, edgeScalars[(edgeScalars.indexOf(s) + 4) % edgeScalars.length], randomBig(32) % L]);
    for (let i = 0; i < 16; i++) cases.push([randomBig(32) % L, randomBig(32) % L, randomBig(32) % L]);
    cases.forEach(([s, k, a], i) => {
      // every third A carries a torsion component
      const A = i % 3 === 2 ? add(mul(a, B), mul(BigInt(i % 8), t8)) : mul(a, B);
      const want = encode(add(mul(s, B), negate(mul(k, A))));
      const got = m.callBytes('ed25519_double_scalar_mul', encode(A), le(s), le(k));
      expect(hex(got), `s=${s} k=${k} a=${a}`).toBe(hex(want));
    });
  });
});
