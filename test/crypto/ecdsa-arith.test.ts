/**
 * The arithmetic under ECDSA (assembly/crypto/ec/) against references outside it:
 * field operations modulo the P-256 and P-384 primes and inversion modulo n against
 * JavaScript BigInt, and k1·G + k2·Q against node:crypto's ECDH (OpenSSL's point
 * multiplication), on fresh random values each run.
 */
import { createECDH, randomBytes } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadCryptoModule, type CryptoModule } from '../../harness/crypto/wasm.ts';

const CURVES = [
  {
    name: 'P-256',
    crv: 1,
    ecdh: 'prime256v1',
    len: 32,
    p: 0xffffffff00000001000000000000000000000000ffffffffffffffffffffffffn,
    n: 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n,
  },
  {
    name: 'P-384',
    crv: 2,
    ecdh: 'secp384r1',
    len: 48,
    p: 0xfffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffeffffffff0000000000000000ffffffffn,
    n: 0xffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973n,
  },
];

const toBytes = (x: bigint, len: number) => Buffer.from(x.toString(16).padStart(2 * len, '0'), 'hex');
const toBig = (b: Uint8Array) => BigInt('0x' + (Buffer.from(b).toString('hex') || '0'));
const mod = (a: bigint, m: bigint) => ((a % m) + m) % m;
function modPow(b: bigint, e: bigint, m: bigint): bigint {
  let r = 1n;
  for (b = mod(b, m); e > 0n; e >>= 1n, b = (b * b) % m) if (e & 1n) r = (r * b) % m;
  return r;
}
const randomBelow = (m: bigint, len: number) => mod(toBig(randomBytes(len + 8)), m);

let wasm: CryptoModule;
beforeAll(() => {
  wasm = loadCryptoModule();
});

describe.each(CURVES)('$name field arithmetic', ({ crv, len, p, n }) => {
  const R = 1n << BigInt(8 * len);
  const Rinv = modPow(R, p - 2n, p);
  const field = (op: number, a: bigint, b: bigint) => toBig(wasm.callBytes('ec_field', crv, op, toBytes(a, len), toBytes(b, len)));
  // Edge values first: 0, 1, 2, p-1, p-2, values near 2^k boundaries of the limbs.
  const edges = [0n, 1n, 2n, p - 1n, p - 2n, (1n << 255n) % p, 0xffffffffn, 1n << 32n, p >> 1n, R - p];
  const samples = (count: number) => [...edges, ...Array.from({ length: count }, () => randomBelow(p, len))];

  it('Montgomery product and square match a·b·R^-1 mod p', () => {
    const xs = samples(150);
    for (let i = 0; i < xs.length; i++) {
      const a = xs[i];
      const b = xs[(i * 7 + 3) % xs.length];
      expect(field(0, a, b), `mul ${a} ${b}`).toBe(mod(a * b * Rinv, p));
      expect(field(1, a, 0n), `sqr ${a}`).toBe(mod(a * a * Rinv, p));
    }
  });

  it('addition and subtraction match mod p', () => {
    const xs = samples(150);
    for (let i = 0; i < xs.length; i++) {
      const a = xs[i];
      const b = xs[(i * 5 + 1) % xs.length];
      expect(field(2, a, b), `add ${a} ${b}`).toBe(mod(a + b, p));
      expect(field(3, a, b), `sub ${a} ${b}`).toBe(mod(a - b, p));
      expect(field(3, b, a), `sub ${b} ${a}`).toBe(mod(b - a, p));
    }
  });

  it('conversion into Montgomery form and inversion match', () => {
    for (const a of samples(10)) {
      expect(field(5, a, 0n)).toBe(mod(a * R, p));
      if (a !== 0n) expect(field(4, a, 0n), `inv ${a}`).toBe(modPow(a, p - 2n, p));
    }
  });

  it('inverts scalars modulo n', () => {
    const xs = [1n, 2n, 3n, n - 1n, n - 2n, (n >> 1n) + 1n, ...Array.from({ length: 40 }, () => randomBelow(n - 1n, len) + 1n)];
    for (const a of xs) {
      expect(toBig(wasm.callBytes('ec_scalar_inverse', crv, toBytes(a, len))), `inv ${a}`).toBe(modPow(a, n - 2n, n));
    }
    expect(wasm.call('ec_scalar_inverse', crv, toBytes(0n, len))).toBe(-1);
    expect(wasm.call('ec_scalar_inverse', crv, toBytes(n, len))).toBe(-1);
  });
});

describe.each(CURVES)('$name point multiplication', ({ crv, ecdh, len, n }) => {
  /** k·G through OpenSSL: the public key of private key k, as x || y. */
  const mulG = (k: bigint) => {
    const e = createECDH(ecdh);
    e.setPrivateKey(toBytes(k, len));
    return e.getPublicKey().subarray(1);
  };

  it('k1·G + k2·Q agrees with OpenSSL, edge scalars included', () => {
    const q = randomBelow(n - 1n, len) + 1n;
    const Q = mulG(q);
    const handle = wasm.call('ecdsa_key_import', crv, Q.subarray(0, len), Q.subarray(len));
    expect(handle).toBeGreaterThanOrEqual(0);
    const mul = (k1: bigint, k2: bigint) => wasm.callBytes('ec_point_mul', handle, toBytes(k1, len), toBytes(k2, len));
    const edges = [1n, 2n, 3n, 31n, 32n, 33n, 63n, 64n, n - 1n, n - 2n, n - 32n, (n >> 1n), (n >> 1n) + 1n, 1n << BigInt(8 * len - 2)];
    const ks = [...edges, ...Array.from({ length: 40 }, () => randomBelow(n - 1n, len) + 1n)];
    for (const k of ks) {
      // k·G alone, k·Q alone (= (k·q)·G) and the sum (= (k + k·q... ) checked as (k1 + k2·q)·G.
      expect(Buffer.from(mul(k, 0n)).toString('hex'), `k·G k=${k}`).toBe(mulG(k).toString('hex'));
      expect(Buffer.from(mul(0n, k)).toString('hex'), `k·Q k=${k}`).toBe(mulG(mod(k * q, n)).toString('hex'));
      const k2 = randomBelow(n - 1n, len) + 1n;
      const sum = mod(k + k2 * q, n);
      if (sum !== 0n) expect(Buffer.from(mul(k, k2)).toString('hex'), `k1·G + k2·Q`).toBe(mulG(sum).toString('hex'));
    }
    // Sums that meet the exceptional cases of the addition: P + P and P + (-P).
    const k = randomBelow(n - 1n, len) + 1n;
    const kq = mod(k * modInverse(q, n), n); // kq·Q = k·G
    expect(Buffer.from(mul(k, kq)).toString('hex'), 'G-part equals Q-part').toBe(mulG(mod(2n * k, n)).toString('hex'));
    expect(wasm.call('ec_point_mul', handle, toBytes(k, len), toBytes(mod(-kq, n), len)), 'G-part cancels Q-part').toBe(0);
  });
});

function modInverse(a: bigint, m: bigint): bigint {
  return modPow(a, m - 2n, m);
}
