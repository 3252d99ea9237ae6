// Differential test of Ed25519 verification: build/test/crypto.wasm against node:crypto
// (OpenSSL), on fresh random keys and messages each run. Every case must get the same
// verdict from both; a failure prints the key, message and signature in hex.
import crypto, { type KeyObject } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadCryptoModule, type CryptoModule } from '../../harness/crypto/wasm.ts';
import {
  B, IDENTITY, L, P, add, challenge, decode, encode, expandPrivate, fromLe, le, mod, mul, signWithNonce,
  torsionGenerator,
} from './eddsa-reference.ts';

const KEYS = 8;
const SIGNATURES_PER_KEY = 30; // 240 signatures, each also tampered in 6 ways

interface Key {
  raw: Uint8Array;
  node: KeyObject;
  privateKey: KeyObject;
  a: bigint;
  handle: number;
}

let m: CryptoModule;
const keys: Key[] = [];

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const randomInt = (n: number) => crypto.randomInt(n);
const nodeKey = (raw: Uint8Array) =>
  crypto.createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: Buffer.from(raw).toString('base64url') }, format: 'jwk' });

beforeAll(() => {
  m = loadCryptoModule();
  for (let i = 0; i < KEYS; i++) {
    const { publicKey, privateKey } = crypto.generateKeyPairSync('ed25519');
    const jwk = privateKey.export({ format: 'jwk' });
    const raw = new Uint8Array(Buffer.from(jwk.x as string, 'base64url'));
    const { a, A } = expandPrivate(new Uint8Array(Buffer.from(jwk.d as string, 'base64url')));
    expect(hex(A)).toBe(hex(raw)); // the reference derives the same public key
    const handle = m.call('ed25519_key_import', raw);
    expect(handle).toBeGreaterThanOrEqual(0);
    keys.push({ raw, node: publicKey, privateKey, a, handle });
  }
});

let compared = 0;

/** Both verdicts for one case; they must agree. Returns the shared verdict. */
function agree(what: string, key: { raw: Uint8Array; node: KeyObject; handle?: number }, msg: Uint8Array, sig: Uint8Array): boolean {
  const byNode = crypto.verify(null, msg, key.node, sig);
  const code = key.handle !== undefined
    ? m.call('ed25519_key_verify', key.handle, msg, sig)
    : m.call('ed25519_verify', key.raw, msg, sig);
  const byWasm = code === 0;
  expect(byWasm, `${what}: wasm ${code}, node ${byNode}\n pk ${hex(key.raw)}\n msg ${hex(msg)}\n sig ${hex(sig)}`).toBe(byNode);
  compared++;
  return byNode;
}

describe('Ed25519: wasm and node:crypto agree', () => {
  it(`on ${KEYS * SIGNATURES_PER_KEY} fresh signatures and their tampered, truncated, oversized and S + L forms`, () => {
    let valid = 0;
    keys.forEach((key, k) => {
      const other = keys[(k + 1) % KEYS];
      for (let i = 0; i < SIGNATURES_PER_KEY; i++) {
        const msg = new Uint8Array(crypto.randomBytes(randomInt(i % 5 === 0 ? 2048 : 400)));
        const sig = new Uint8Array(crypto.sign(null, msg, key.privateKey));
        if (agree('valid', key, msg, sig)) valid++;

        const badMsg = msg.length ? msg.slice() : new Uint8Array(1);
        if (msg.length) badMsg[randomInt(msg.length)] ^= 1 << randomInt(8);
        expect(agree('tampered message', key, badMsg, sig)).toBe(false);

        const badSig = sig.slice();
        badSig[randomInt(64)] ^= 1 << randomInt(8);
        expect(agree('tampered signature', key, msg, badSig)).toBe(false);

        expect(agree('wrong key', other, msg, sig)).toBe(false);
        expect(agree('truncated', key, msg, sig.slice(0, randomInt(64)))).toBe(false);
        const extra = new Uint8Array(crypto.randomBytes(1 + randomInt(8)));
        expect(agree('oversized', key, msg, new Uint8Array([...sig, ...extra]))).toBe(false);

        const S = fromLe(sig.subarray(32));
        const sPlusL = new Uint8Array([...sig.subarray(0, 32), ...le(S + L)]);
        expect(agree('S + L', key, msg, sPlusL)).toBe(false);
      }
    });
    expect(valid).toBe(KEYS * SIGNATURES_PER_KEY);
    expect(compared).toBeGreaterThanOrEqual(7 * KEYS * SIGNATURES_PER_KEY);
  });

  it('on signatures crafted by the BigInt reference: chosen nonces, small-order and non-canonical R', () => {
    const msg = new TextEncoder().encode('eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJhbGljZSJ9');
    for (const key of keys) {
      // any nonce gives a valid signature; the reference signs like RFC 8032 §5.1.6
      const r = fromLe(crypto.randomBytes(32)) % L;
      expect(agree('reference signature', key, msg, signWithNonce(key.a, key.raw, msg, r))).toBe(true);
      // R = the neutral element (nonce 0): small-order R, valid for both
      expect(agree('R = 0', key, msg, signWithNonce(key.a, key.raw, msg, 0n))).toBe(true);
      // the same R encoded non-canonically (y = p + 1), S recomputed for those bytes
      const nonCanonical = () => le(P + 1n);
      expect(agree('R = 0 as y = p + 1', key, msg, signWithNonce(key.a, key.raw, msg, 0n, nonCanonical))).toBe(false);
      // ... and as x = -0 (sign bit set)
      const negativeZero = () => le(1n | (1n << 255n));
      expect(agree('R = 0 as x = -0', key, msg, signWithNonce(key.a, key.raw, msg, 0n, negativeZero))).toBe(false);
      // R with the sign of x flipped (-R), S kept
      const good = signWithNonce(key.a, key.raw, msg, r);
      const flipped = good.slice();
      flipped[31] ^= 0x80;
      expect(agree('-R', key, msg, flipped)).toBe(false);
      // S = 0 and S = L - 1
      expect(agree('S = 0', key, msg, new Uint8Array([...good.subarray(0, 32), ...le(0n)]))).toBe(false);
      expect(agree('S = L - 1', key, msg, new Uint8Array([...good.subarray(0, 32), ...le(L - 1n)]))).toBe(false);
    }
  });

  it('on non-canonical public key encodings that no signature matches', () => {
    // y = p + t decodes (modulo p) for OpenSSL when y = t is on the curve; we reject the key.
    let tried = 0;
    for (let t = 2n; t < 19n; t++) {
      const raw = le(P + t);
      if (!decode(raw, true)) continue;
      const key = { raw, node: nodeKey(raw) };
      for (const sig of [new Uint8Array(64), new Uint8Array(crypto.sign(null, Buffer.from('x'), keys[0].privateKey))]) {
        expect(agree(`A = p + ${t}`, key, new TextEncoder().encode('x'), sig)).toBe(false);
        tried++;
      }
    }
    expect(tried).toBeGreaterThan(0);
  });
});

describe('Ed25519: where node:crypto (OpenSSL 3.0) is laxer, by design', () => {
  // OpenSSL decodes public keys leniently (y modulo p, x = -0 allowed) and accepts
  // small-order keys. For such keys signatures can be forged without any private key:
  // with A = 0, every R = [s]B verifies every message. We reject those keys (BadKey, see
  // assembly/crypto/ed25519/verify.ts); this test keeps that list of differences true.
  const t8 = torsionGenerator();
  const forgeries: [string, Uint8Array][] = [
    ['A = 0', encode(IDENTITY)],
    ['A = 0 as y = p + 1', le(P + 1n)],
    ['A = 0 as x = -0', le(1n | (1n << 255n))],
    ['A of order 2', encode(mul(4n, t8))],
    ['A of order 4', encode(mul(2n, t8))],
    ['A of order 8', encode(t8)],
  ];

  for (const [what, raw] of forgeries) {
    it(`${what}: node accepts a forged signature for some message, wasm rejects the key`, () => {
      const A = decode(raw, true)!;
      const s = 1234567n;
      const R = encode(mul(s, B));
      const sig = new Uint8Array([...R, ...le(s)]);
      // [s]B = R + [k]A holds when [k]A = 0, i.e. when k is a multiple of A's order
      // ([8]A = 0, so [k]A = [k mod 8]A)
      let msg = new Uint8Array(0);
      for (let n = 0; ; n++) {
        msg = new TextEncoder().encode(`forged token ${n}`);
        const kA = mul(challenge(R, raw, msg) % 8n, A);
        if (mod(kA.X) === 0n && mod(kA.Y - kA.Z) === 0n) break;
      }
      expect(crypto.verify(null, msg, nodeKey(raw), sig), 'OpenSSL accepts this forgery').toBe(true);
      expect(m.call('ed25519_verify', raw, msg, sig)).toBe(2); // BadKey
      expect(m.call('ed25519_key_import', raw)).toBe(-2);
    });
  }

  it('keys with a small-order component: both apply the same cofactorless equation', () => {
    // A' = A + T (T of order 8) and S = r + k·a with A = [a]B: [S]B - [k]A' = R - [k]T,
    // which equals R exactly when 8 divides k. Find a message of each kind.
    const key = keys[0];
    const raw = encode(add(mul(key.a, B), t8));
    const handle = m.call('ed25519_key_import', raw);
    expect(handle).toBeGreaterThanOrEqual(0);
    const mixed = { raw, node: nodeKey(raw), handle };
    const r = 99n;
    const R = encode(mul(r, B));
    const seen = new Set<boolean>();
    for (let n = 0; seen.size < 2; n++) {
      const msg = new TextEncoder().encode(`mixed-order key ${n}`);
      const k = challenge(R, raw, msg);
      const sig = new Uint8Array([...R, ...le(mod(r + k * key.a, L))]);
      const verdict = agree(`mixed-order A, k mod 8 = ${k % 8n}`, mixed, msg, sig);
      expect(verdict).toBe(k % 8n === 0n);
      seen.add(verdict);
    }
    m.call('ed25519_key_free', handle);
  });
});
