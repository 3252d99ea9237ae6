/**
 * RS256/384/512 and PS256/384/512 (RFC 7518 §3.3, §3.5) in build/test/crypto.wasm against
 * node:crypto. Keys are fresh each run (2048 to 4096 bits, limb-width boundaries, e = 3
 * and a large odd e); messages and tamperings come from a seed printed with any failure
 * (CRYPTO_SEED replays them; a failure message also carries the key and signature).
 * Verification uses keys built once, as jwt-auth does with JWKS keys.
 */
import crypto, { type KeyObject } from 'node:crypto';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HashAlg, VerifyResult, loadCryptoModule, verifyResultName, type CryptoModule } from '../../harness/crypto/wasm.ts';
import { seed, seededStream } from './seed.ts';


interface TestKey {
  label: string;
  bits: number;
  publicKey: KeyObject;
  privateKey: KeyObject;
  n: Buffer;
  e: Buffer;
  handle: number;
}

const generateKeyPair = promisify(crypto.generateKeyPair);
// 3554 bits is the largest modulus with 28-bit limbs, 3555 the smallest with 27-bit ones.
const KEY_SPECS = [
  { label: '2048', bits: 2048, publicExponent: 65537 },
  { label: '2048 (second)', bits: 2048, publicExponent: 65537 },
  { label: '3072', bits: 3072, publicExponent: 65537 },
  { label: '4096', bits: 4096, publicExponent: 65537 },
  { label: '2049, e = 3', bits: 2049, publicExponent: 3 },
  { label: '3554', bits: 3554, publicExponent: 65537 },
  { label: '3555, e = 2^31 - 1', bits: 3555, publicExponent: 0x7fffffff },
];

let wasm: CryptoModule;
const keys: TestKey[] = [];

beforeAll(async () => {
  wasm = loadCryptoModule();
  const pairs = await Promise.all(
    KEY_SPECS.map((s) => generateKeyPair('rsa', { modulusLength: s.bits, publicExponent: s.publicExponent })),
  );
  KEY_SPECS.forEach((spec, i) => {
    const { publicKey, privateKey } = pairs[i];
    const jwk = publicKey.export({ format: 'jwk' });
    const n = Buffer.from(jwk.n!, 'base64url');
    const e = Buffer.from(jwk.e!, 'base64url');
    const handle = wasm.call('rsa_key_new', n, e);
    keys.push({ label: spec.label, bits: spec.bits, publicKey, privateKey, n, e, handle });
  });
}, 240_000);

afterAll(() => keys.forEach((k) => wasm?.call('rsa_key_free', k.handle)));

const ALGS = [
  { alg: 'RS256', hash: 'sha256', hashAlg: HashAlg.SHA256, pss: false },
  { alg: 'RS384', hash: 'sha384', hashAlg: HashAlg.SHA384, pss: false },
  { alg: 'RS512', hash: 'sha512', hashAlg: HashAlg.SHA512, pss: false },
  { alg: 'PS256', hash: 'sha256', hashAlg: HashAlg.SHA256, pss: true },
  { alg: 'PS384', hash: 'sha384', hashAlg: HashAlg.SHA384, pss: true },
  { alg: 'PS512', hash: 'sha512', hashAlg: HashAlg.SHA512, pss: true },
] as const;
type Alg = (typeof ALGS)[number];

const nodeKey = (key: KeyObject, a: Alg) =>
  a.pss ? { key, padding: crypto.constants.RSA_PKCS1_PSS_PADDING, saltLength: crypto.constants.RSA_PSS_SALTLEN_DIGEST } : key;

function nodeVerify(a: Alg, key: TestKey, msg: Uint8Array, sig: Uint8Array): boolean {
  try {
    return crypto.verify(a.hash, msg, nodeKey(key.publicKey, a), sig);
  } catch {
    return false;
  }
}

const wasmVerify = (a: Alg, key: TestKey, msg: Uint8Array, sig: Uint8Array): number =>
  wasm.call(a.pss ? 'rsa_verify_pss' : 'rsa_verify_pkcs1', key.handle, a.hashAlg, msg, sig);

describe(`RSA differential against node:crypto (seed ${seed})`, () => {
  it('accepts every generated key', () => {
    for (const k of keys) expect(verifyResultName(wasm.call('rsa_key_status', k.handle)), k.label).toBe('Valid');
  });

  it('computes s^e mod n like BigInt, for random s and the edges 0, 1, n − 1', () => {
    const rand = seededStream('modexp');
    const big = (b: Uint8Array) => BigInt('0x' + (Buffer.from(b).toString('hex') || '0'));
    const modpow = (b: bigint, e: bigint, m: bigint) => {
      let r = 1n;
      for (b %= m; e > 0n; e >>= 1n, b = (b * b) % m) if (e & 1n) r = (r * b) % m;
      return r;
    };
    for (const k of keys) {
      const n = big(k.n);
      const e = big(k.e);
      const len = k.n.length;
      const toBytes = (x: bigint) => Buffer.from(x.toString(16).padStart(len * 2, '0'), 'hex');
      const samples = [0n, 1n, n - 1n, n - 2n];
      for (let i = 0; i < 12; i++) samples.push(big(rand(len)) % n);
      for (const s of samples) {
        const got = Buffer.from(wasm.callBytes('rsa_public_op', k.handle, toBytes(s))).toString('hex');
        expect(got, `seed ${seed}, key ${k.label}, n ${k.n.toString('hex')}, s ${s.toString(16)}`).toBe(toBytes(modpow(s, e, n)).toString('hex'));
      }
      // s = n and s > n are out of range (RFC 8017 §5.2.2 step 1).
      expect(wasm.call('rsa_public_op', k.handle, toBytes(n))).toBe(-1);
      expect(wasm.call('rsa_public_op', k.handle, Buffer.alloc(len, 0xff))).toBe(-1);
    }
  });

  describe.each(ALGS)('$alg', (a) => {
    it('agrees with node on 200 signatures, their tamperings, wrong keys and malformed signatures', () => {
      const rand = seededStream(a.alg);
      let compared = 0;
      let genuine = 0;
      for (let i = 0; i < 200; i++) {
        const key = keys[i % keys.length];
        const other = keys[(i + 1) % keys.length];
        const msg = rand(rand(2).readUInt16LE() % 700);
        const sig = crypto.sign(a.hash, msg, nodeKey(key.privateKey, a));
        const k = sig.length;
        const flipped = Buffer.from(sig);
        flipped[rand(2).readUInt16LE() % k] ^= 1 << (i % 8);
        const tamperedMsg = Buffer.from(msg.length ? msg : Buffer.alloc(1));
        tamperedMsg[i % tamperedMsg.length] ^= 0x80;
        const garbage = rand(k);
        const trials: Array<[string, TestKey, Uint8Array, Uint8Array]> = [
          ['genuine', key, msg, sig],
          ['tampered message', key, tamperedMsg, sig],
          ['tampered signature', key, msg, flipped],
          ['wrong key', other, msg, sig],
          ['truncated signature', key, msg, sig.subarray(0, k - 1 - (i % 8))],
          ['oversized signature (zero byte first)', key, msg, Buffer.concat([Buffer.alloc(1), sig])],
          ['oversized signature (byte appended)', key, msg, Buffer.concat([sig, Buffer.alloc(1)])],
          ['empty signature', key, msg, new Uint8Array(0)],
          ['modulus-sized garbage', key, msg, garbage],
          ['signature = n', key, msg, key.n],
        ];
        for (const [what, k2, m, s] of trials) {
          const expected = nodeVerify(a, k2, m, s);
          const got = wasmVerify(a, k2, m, s);
          const detail = `seed ${seed}, ${a.alg} #${i} ${what}, key ${k2.label} (n ${k2.n.toString('hex')}, e ${k2.e.toString('hex')}), msg ${Buffer.from(m).toString('hex')}, sig ${Buffer.from(s).toString('hex')}: wasm ${verifyResultName(got)}, node ${expected}`;
          expect(got === VerifyResult.Valid, detail).toBe(expected);
          if (!expected) expect(got, detail).not.toBe(VerifyResult.BadInput);
          compared++;
          if (what === 'genuine' && got === VerifyResult.Valid) genuine++;
        }
        // The other padding, and the other hashes, never verify.
        const crossPadding = wasm.call(a.pss ? 'rsa_verify_pkcs1' : 'rsa_verify_pss', key.handle, a.hashAlg, msg, sig);
        expect(verifyResultName(crossPadding), `${a.alg} #${i} verified with the other padding`).toBe('Invalid');
        const otherHash = a.hashAlg === HashAlg.SHA256 ? HashAlg.SHA384 : HashAlg.SHA256;
        const crossHash = wasm.call(a.pss ? 'rsa_verify_pss' : 'rsa_verify_pkcs1', key.handle, otherHash, msg, sig);
        expect(verifyResultName(crossHash), `${a.alg} #${i} verified with another hash`).toBe('Invalid');
      }
      expect(genuine).toBe(200);
      expect(compared).toBe(2000);
    });
  });
});
