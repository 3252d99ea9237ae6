/**
 * Signing keys for the jwt-auth fuzzer, made from the run's seed so that a seed makes
 * the same tokens again (the reproducer of a failure then needs only seed and session):
 * HMAC secrets, RSA 2048 (and a 1024-bit one no JWKS may use), P-256, P-384 and
 * Ed25519 keys, each with its public JWK, and signatures that are deterministic too:
 * RSASSA-PSS with a salt derived from the message (EMSA-PSS, RFC 8017 §9.1.1, then the raw RSA
 * operation), ECDSA with a nonce derived from key and message (the point k·G from
 * `ECDH.setPrivateKey`), RS*, HS* and Ed25519 as node:crypto makes them.
 */
import crypto, { type KeyObject } from 'node:crypto';
import type { JWK } from 'jose';
import type { Rng } from './json-gen.ts';

export type Alg = 'HS256' | 'HS384' | 'HS512' | 'RS256' | 'RS384' | 'RS512' | 'PS256' | 'PS384' | 'PS512' | 'ES256' | 'ES384' | 'EdDSA';

/** A key the fuzzer signs with. */
export interface FuzzKey {
  /** Also its `kid` in JWKS documents. */
  name: string;
  /** The public JWK (no `kid`, no `alg`). */
  jwk: JWK;
  /** What it can sign. */
  algs: Alg[];
  /** The JWS signature of `input` with `alg` (`alg` one of `algs`). */
  sign(alg: string, input: Buffer): Buffer;
}

const HASH: Record<string, string> = { '256': 'sha256', '384': 'sha384', '512': 'sha512' };

function bytes(rng: Rng, n: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = rng.int(256);
  return b;
}

const toBig = (b: Buffer): bigint => (b.length === 0 ? 0n : BigInt('0x' + b.toString('hex')));

function toBytes(n: bigint, len?: number): Buffer {
  let h = n.toString(16);
  if (h.length % 2) h = '0' + h;
  const b = Buffer.from(h, 'hex');
  return len !== undefined && b.length < len ? Buffer.concat([Buffer.alloc(len - b.length), b]) : b;
}

const b64 = (n: bigint, len?: number): string => toBytes(n, len).toString('base64url');

function modPow(b: bigint, e: bigint, m: bigint): bigint {
  let r = 1n;
  b %= m;
  for (; e > 0n; e >>= 1n) {
    if (e & 1n) r = (r * b) % m;
    b = (b * b) % m;
  }
  return r;
}

function modInv(a: bigint, m: bigint): bigint {
  let [r0, r1, s0, s1] = [((a % m) + m) % m, m, 1n, 0n];
  while (r1 !== 0n) {
    const q = r0 / r1;
    [r0, r1] = [r1, r0 - q * r1];
    [s0, s1] = [s1, s0 - q * s1];
  }
  return ((s0 % m) + m) % m;
}

const SMALL_PRIMES: bigint[] = [];
for (let p = 3; SMALL_PRIMES.length < 200; p += 2) if (SMALL_PRIMES.every((q) => p % Number(q) !== 0)) SMALL_PRIMES.push(BigInt(p));

/** Miller–Rabin with fixed bases after trial division (enough for test keys). */
function probablePrime(n: bigint): boolean {
  for (const p of SMALL_PRIMES) if (n % p === 0n) return n === p;
  let d = n - 1n;
  let s = 0;
  while (!(d & 1n)) {
    d >>= 1n;
    s++;
  }
  next: for (const a of [2n, 3n, 5n, 7n, 11n, 13n, 17n, 19n]) {
    let x = modPow(a, d, n);
    if (x === 1n || x === n - 1n) continue;
    for (let r = 1; r < s; r++) {
      x = (x * x) % n;
      if (x === n - 1n) continue next;
    }
    return false;
  }
  return true;
}

function prime(rng: Rng, bits: number): bigint {
  const b = bytes(rng, bits / 8);
  b[0] |= 0xc0; // two top bits: p·q has exactly 2·bits bits
  b[b.length - 1] |= 1;
  for (let p = toBig(b); ; p += 2n) if (probablePrime(p)) return p;
}

/** An RSA key of `bits` (e = 65537) from `rng`. */
function rsaKey(rng: Rng, bits: number): { jwk: JWK; key: KeyObject } {
  const e = 65537n;
  for (;;) {
    const p = prime(rng, bits / 2);
    const q = prime(rng, bits / 2);
    if (p === q || (p - 1n) % e === 0n || (q - 1n) % e === 0n) continue;
    const n = p * q;
    const d = modInv(e, (p - 1n) * (q - 1n));
    const jwk: JWK = { kty: 'RSA', n: b64(n), e: b64(e) };
    const priv = { ...jwk, d: b64(d), p: b64(p), q: b64(q), dp: b64(d % (p - 1n)), dq: b64(d % (q - 1n)), qi: b64(modInv(q, p)) };
    return { jwk, key: crypto.createPrivateKey({ key: priv as crypto.JsonWebKey, format: 'jwk' }) };
  }
}

/** MGF1 (RFC 8017 §B.2.1). */
function mgf1(seed: Buffer, length: number, hash: string): Buffer {
  const out: Buffer[] = [];
  let size = 0;
  for (let c = 0; size < length; c++) {
    const counter = Buffer.alloc(4);
    counter.writeUInt32BE(c);
    const h = crypto.createHash(hash).update(seed).update(counter).digest();
    out.push(h);
    size += h.length;
  }
  return Buffer.concat(out).subarray(0, length);
}

/** RSASSA-PSS with salt `salt` (as long as the hash): EMSA-PSS-ENCODE, then m^d mod n. */
function pssSign(key: KeyObject, modulusBits: number, hash: string, input: Buffer, salt: Buffer): Buffer {
  const hLen = salt.length;
  const emBits = modulusBits - 1;
  const emLen = Math.ceil(emBits / 8);
  const mHash = crypto.createHash(hash).update(input).digest();
  const H = crypto.createHash(hash).update(Buffer.alloc(8)).update(mHash).update(salt).digest();
  const db = Buffer.concat([Buffer.alloc(emLen - 2 * hLen - 2), Buffer.from([1]), salt]);
  const mask = mgf1(H, db.length, hash);
  for (let i = 0; i < db.length; i++) db[i] ^= mask[i];
  db[0] &= 0xff >> (8 * emLen - emBits);
  const em = Buffer.concat([db, H, Buffer.from([0xbc])]);
  const k = Math.ceil(modulusBits / 8);
  return crypto.privateDecrypt({ key, padding: crypto.constants.RSA_NO_PADDING }, Buffer.concat([Buffer.alloc(k - em.length), em]));
}

const CURVES = {
  'P-256': { ecdh: 'prime256v1', n: 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n, size: 32, hash: 'sha256', alg: 'ES256' as Alg },
  'P-384': {
    ecdh: 'secp384r1',
    n: 0xffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973n,
    size: 48,
    hash: 'sha384',
    alg: 'ES384' as Alg,
  },
};

/** An ECDSA key on `crv` whose signatures are deterministic (nonce from key and message). */
function ecKey(rng: Rng, crv: keyof typeof CURVES): FuzzKey {
  const c = CURVES[crv];
  const d = (toBig(bytes(rng, c.size + 8)) % (c.n - 1n)) + 1n;
  const ecdh = crypto.createECDH(c.ecdh);
  ecdh.setPrivateKey(toBytes(d, c.size));
  const point = ecdh.getPublicKey();
  const jwk: JWK = { kty: 'EC', crv, x: point.subarray(1, 1 + c.size).toString('base64url'), y: point.subarray(1 + c.size).toString('base64url') };
  return {
    name: '',
    jwk,
    algs: [c.alg],
    sign(_alg, input) {
      const z = toBig(crypto.createHash(c.hash).update(input).digest());
      let k = (toBig(crypto.createHmac(c.hash, toBytes(d, c.size)).update(input).digest()) % (c.n - 1n)) + 1n;
      for (;; k = (k % (c.n - 1n)) + 1n) {
        const kg = crypto.createECDH(c.ecdh);
        kg.setPrivateKey(toBytes(k, c.size));
        const r = toBig(kg.getPublicKey().subarray(1, 1 + c.size)) % c.n;
        const s = (modInv(k, c.n) * ((z + r * d) % c.n)) % c.n;
        if (r !== 0n && s !== 0n) return Buffer.concat([toBytes(r, c.size), toBytes(s, c.size)]);
      }
    },
  };
}

function hmacKey(name: string, secret: Buffer): FuzzKey {
  const algs = (['HS256', 'HS384', 'HS512'] as Alg[]).filter((a) => secret.length >= Number(a.slice(2)) / 8);
  return {
    name,
    jwk: { kty: 'oct', k: secret.toString('base64url') },
    algs: algs.length > 0 ? algs : ['HS256'],
    sign: (alg, input) => crypto.createHmac(HASH[alg.slice(2)], secret).update(input).digest(),
  };
}

function rsaFuzzKey(name: string, rng: Rng, bits: number): FuzzKey {
  const { jwk, key } = rsaKey(rng, bits);
  // EMSA-PSS needs room for the hash twice in the modulus: a 1024-bit key cannot do PS512.
  const algs = (['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512'] as Alg[]).filter((a) => a.startsWith('RS') || Math.ceil((bits - 1) / 8) >= (2 * Number(a.slice(2))) / 8 + 2);
  return {
    name,
    jwk,
    algs,
    sign(alg, input) {
      const hash = HASH[alg.slice(2)];
      if (alg.startsWith('RS')) return crypto.sign(hash, input, key);
      // The salt: a function of the message, so that a seed signs alike whatever the order.
      return pssSign(key, bits, hash, input, crypto.createHash(hash).update(name).update(input).digest());
    },
  };
}

function ed25519Key(name: string, rng: Rng): FuzzKey {
  const key = crypto.createPrivateKey({ key: Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), bytes(rng, 32)]), format: 'der', type: 'pkcs8' });
  const { x } = crypto.createPublicKey(key).export({ format: 'jwk' });
  return { name, jwk: { kty: 'OKP', crv: 'Ed25519', x }, algs: ['EdDSA'], sign: (_alg, input) => crypto.sign(null, input, key) };
}

/** The run's keys, from `rng`: `usable` may appear in JWKS; `rsa1024` and `hs16` no JWKS accepts. */
export function makeKeys(rng: Rng): { usable: FuzzKey[]; rsa1024: FuzzKey; hs16: FuzzKey } {
  const named = (name: string, k: FuzzKey): FuzzKey => ({ ...k, name });
  const usable = [
    hmacKey('hs64', bytes(rng, 64)),
    hmacKey('hs32', bytes(rng, 32)),
    rsaFuzzKey('rsa-a', rng, 2048),
    rsaFuzzKey('rsa-b', rng, 2048),
    named('ec256', ecKey(rng, 'P-256')),
    named('ec384', ecKey(rng, 'P-384')),
    ed25519Key('ed', rng),
  ];
  return { usable, rsa1024: rsaFuzzKey('rsa-1024', rng, 1024), hs16: hmacKey('hs16', bytes(rng, 16)) };
}
