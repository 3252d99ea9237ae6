/**
 * A slow, plain BigInt model of edwards25519 and Ed25519 (RFC 8032 §5.1), written
 * straight from the RFC's definitions, to check the Wasm arithmetic against: field and
 * scalar values as bigint, points in extended coordinates with the one unified addition
 * formula (no separate doubling, unlike the Wasm code), and signing for crafting vectors.
 */
import { createHash } from 'node:crypto';

export const P = (1n << 255n) - 19n;
export const L = (1n << 252n) + 27742317777372353535851937790883648493n;

export const mod = (a: bigint, m = P): bigint => ((a % m) + m) % m;

export function pow(b: bigint, e: bigint, m = P): bigint {
  let r = 1n;
  b = mod(b, m);
  while (e > 0n) {
    if (e & 1n) r = (r * b) % m;
    b = (b * b) % m;
    e >>= 1n;
  }
  return r;
}

export const inv = (a: bigint): bigint => pow(a, P - 2n);
export const D = mod(-121665n * inv(121666n));
export const SQRT_M1 = pow(2n, (P - 1n) / 4n);

/** Little-endian bytes of `x` (n bytes). */
export function le(x: bigint, n = 32): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    b[i] = Number(x & 255n);
    x >>= 8n;
  }
  return b;
}

/** The integer of little-endian bytes. */
export function fromLe(b: Uint8Array): bigint {
  let x = 0n;
  for (let i = b.length - 1; i >= 0; i--) x = (x << 8n) | BigInt(b[i]);
  return x;
}

/** Extended coordinates (X:Y:Z:T), x = X/Z, y = Y/Z, xy = T/Z. */
export interface Point {
  X: bigint;
  Y: bigint;
  Z: bigint;
  T: bigint;
}

export const IDENTITY: Point = { X: 0n, Y: 1n, Z: 1n, T: 0n };

export function affine(x: bigint, y: bigint): Point {
  return { X: mod(x), Y: mod(y), Z: 1n, T: mod(x * y) };
}

/** p + q by the unified formula for a = -1 (complete on edwards25519: d is not a square). */
export function add(p: Point, q: Point): Point {
  const A = mod((p.Y - p.X) * (q.Y - q.X));
  const B = mod((p.Y + p.X) * (q.Y + q.X));
  const C = mod(2n * D * p.T * q.T);
  const E = mod(2n * p.Z * q.Z);
  const [e, f, g, h] = [B - A, E - C, E + C, B + A];
  return { X: mod(e * f), Y: mod(g * h), Z: mod(f * g), T: mod(e * h) };
}

export const negate = (p: Point): Point => ({ X: mod(-p.X), Y: p.Y, Z: p.Z, T: mod(-p.T) });

/** [k]p by double-and-add (k ≥ 0). */
export function mul(k: bigint, p: Point): Point {
  let r = IDENTITY;
  let q = p;
  while (k > 0n) {
    if (k & 1n) r = add(r, q);
    q = add(q, q);
    k >>= 1n;
  }
  return r;
}

export function equal(p: Point, q: Point): boolean {
  return mod(p.X * q.Z - q.X * p.Z) === 0n && mod(p.Y * q.Z - q.Y * p.Z) === 0n;
}

/** RFC 8032 §5.1.2: y with x's low bit in bit 255. */
export function encode(p: Point): Uint8Array {
  const zi = inv(p.Z);
  const x = mod(p.X * zi);
  const y = mod(p.Y * zi);
  return le(y | ((x & 1n) << 255n));
}

/**
 * RFC 8032 §5.1.3 decoding; null when it fails. `lenient` takes y modulo p and allows
 * x = 0 with the sign bit set (what OpenSSL 3.0 does with public keys).
 */
export function decode(bytes: Uint8Array, lenient = false): Point | null {
  const n = fromLe(bytes);
  const sign = n >> 255n;
  let y = n & ((1n << 255n) - 1n);
  if (y >= P) {
    if (!lenient) return null;
    y -= P;
  }
  const u = mod(y * y - 1n);
  const v = mod(D * y * y + 1n);
  let x = mod(u * pow(v, 3n) * pow(u * pow(v, 7n), (P - 5n) / 8n));
  const vxx = mod(v * x * x);
  if (vxx === mod(-u)) x = mod(x * SQRT_M1);
  else if (vxx !== u) return null;
  if (x === 0n && sign === 1n && !lenient) return null;
  if ((x & 1n) !== sign) x = mod(-x);
  return affine(x, y);
}

export const B = decode(le((4n * inv(5n)) % P)) as Point;

/** The point of order 8 generating the torsion subgroup: [L]Q for some Q outside ⟨B⟩. */
export function torsionGenerator(): Point {
  for (let y = 2n; ; y++) {
    const q = decode(le(y));
    if (!q) continue;
    const t = mul(L, q);
    // order exactly 8: [4]t is not the identity
    if (!equal(mul(4n, t), IDENTITY)) return t;
  }
}

const sha512 = (...parts: Uint8Array[]): Uint8Array => {
  const h = createHash('sha512');
  for (const p of parts) h.update(p);
  return new Uint8Array(h.digest());
};

/** The secret scalar a and prefix of a 32-byte private key (RFC 8032 §5.1.5). */
export function expandPrivate(seed: Uint8Array): { a: bigint; prefix: Uint8Array; A: Uint8Array } {
  const h = sha512(seed);
  const s = h.slice(0, 32);
  s[0] &= 248;
  s[31] &= 127;
  s[31] |= 64;
  const a = fromLe(s);
  return { a, prefix: h.slice(32), A: encode(mul(a, B)) };
}

/** k = SHA-512(R || A || M) mod L (RFC 8032 §5.1.7 step 2). */
export function challenge(R: Uint8Array, A: Uint8Array, msg: Uint8Array): bigint {
  return fromLe(sha512(R, A, msg)) % L;
}

/**
 * A signature with a chosen nonce r (RFC 8032 §5.1.6 with r given instead of derived):
 * R = [r]B encoded as `encodeR` says (to craft non-canonical R), S = r + k·a mod L.
 */
export function signWithNonce(
  a: bigint, A: Uint8Array, msg: Uint8Array, r: bigint, encodeR: (R: Point) => Uint8Array = encode,
): Uint8Array {
  const R = encodeR(mul(r, B));
  const S = mod(r + challenge(R, A, msg) * a, L);
  const sig = new Uint8Array(64);
  sig.set(R, 0);
  sig.set(le(S), 32);
  return sig;
}
