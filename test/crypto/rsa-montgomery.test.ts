/**
 * RSAVP1 (s^e mod n, RFC 8017 §5.2.2) of build/test/crypto.wasm against BigInt, on moduli
 * chosen for the shape of the Montgomery arithmetic (assembly/crypto/rsa/montgomery.ts)
 * rather than for being RSA moduli (the public operation needs only an odd n):
 *
 * - limb counts L ≡ 0, 1, 2, 3 (mod 4) for both limb widths (28 bits up to 3554 bits,
 *   27 above): the SIMD product works in blocks of four columns, and the block that
 *   straddles L takes its own path;
 * - n = 2^b − 1, whose limbs are all at their maximum, so that with s near n the column
 *   sums come close to the u64 bound the limb widths are chosen for (b = 3554 is the
 *   largest 28-bit case, 4096 the largest 27-bit one);
 * - e = 65537 (16 squarings and 2 products), e = 3, and a 64-bit odd e (many products);
 * - and, through RSASSA-PKCS1-v1_5 with node's signatures, the path of keys with
 *   e = 2^t + 1 that compares residues instead of bytes.
 *
 * Samples come from a seed printed with any failure (CRYPTO_SEED replays them).
 */
import crypto, { sign, type KeyObject } from 'node:crypto';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { VerifyResult, loadCryptoModule, type CryptoModule } from '../../harness/crypto/wasm.ts';
import { seed, seededBytes } from './seed.ts';


const big = (b: Uint8Array) => BigInt('0x' + (Buffer.from(b).toString('hex') || '0'));
const bytesOf = (x: bigint, len: number) => Buffer.from(x.toString(16).padStart(len * 2, '0'), 'hex');
const bitLength = (x: bigint) => x.toString(2).length;

function modpow(b: bigint, e: bigint, m: bigint): bigint {
  let r = 1n;
  for (b %= m; e > 0n; e >>= 1n, b = (b * b) % m) if (e & 1n) r = (r * b) % m;
  return r;
}

/** Limb width and count of montgomery.ts `limbBitsFor` / `limbsFor`. */
function limbShape(bits: number): { w: number; limbs: number } {
  const w = Math.ceil((bits + 2) / 28) <= 127 ? 28 : 27;
  return { w, limbs: Math.ceil((bits + 2) / w) };
}

/** A random odd number of exactly `bits` bits. */
function randomOdd(label: string, bits: number): bigint {
  const x = big(seededBytes(label, Math.ceil(bits / 8))) & ((1n << BigInt(bits)) - 1n);
  return x | (1n << BigInt(bits - 1)) | 1n;
}

interface Modulus {
  label: string;
  n: bigint;
}

// Sizes whose limb count covers every residue mod 4, for both widths.
const SIZES = [2048, 2090, 2110, 2140, 3554, 3555, 3580, 3600, 3630, 4096];

const MODULI: Modulus[] = [
  ...SIZES.map((bits) => ({ label: `random ${bits}-bit`, n: randomOdd(`n${bits}`, bits) })),
  ...[2048, 2090, 3554, 3555, 4096].map((bits) => ({ label: `2^${bits} − 1`, n: (1n << BigInt(bits)) - 1n })),
];

const EXPONENTS = [65537n, 3n, big(seededBytes('e', 8)) | 1n | (1n << 63n)];

const generateKeyPair = promisify(crypto.generateKeyPair);

let wasm: CryptoModule;
beforeAll(() => {
  wasm = loadCryptoModule();
});

describe(`RSAVP1 against BigInt on chosen moduli (seed ${seed})`, () => {
  it('the chosen sizes cover limb counts 0..3 mod 4 with 28-bit and 27-bit limbs', () => {
    const seen = new Set(SIZES.map((bits) => { const { w, limbs } = limbShape(bits); return `${w}/${limbs % 4}`; }));
    expect([...seen].sort()).toEqual(['27/0', '27/1', '27/2', '27/3', '28/0', '28/1', '28/2', '28/3']);
  });

  it.each(MODULI)('$label', ({ label, n }) => {
    const len = Math.ceil(bitLength(n) / 8);
    const nBytes = bytesOf(n, len);
    const samples = [0n, 1n, 2n, n - 1n, n - 2n, 1n << BigInt(bitLength(n) - 1), (n - 1n) >> 1n];
    for (let i = 0; i < 4; i++) samples.push(big(seededBytes(`${label}/s${i}`, len)) % n);
    for (const e of EXPONENTS) {
      const handle = wasm.call('rsa_key_new', nBytes, bytesOf(e, 8));
      try {
        expect(wasm.call('rsa_key_status', handle), `${label}, e ${e}`).toBe(VerifyResult.Valid);
        for (const s of samples) {
          const got = Buffer.from(wasm.callBytes('rsa_public_op', handle, bytesOf(s, len))).toString('hex');
          const detail = `seed ${seed}, n ${label} (${n.toString(16)}), e ${e.toString(16)}, s ${s.toString(16)}`;
          expect(got, detail).toBe(bytesOf(modpow(s, e, n), len).toString('hex'));
        }
      } finally {
        wasm.call('rsa_key_free', handle);
      }
    }
  });
});

// RSASSA-PKCS1-v1_5 with e = 2^t + 1 compares s^e and the expected EM as residues moved by
// R^(−2^t) (assembly/crypto/rsa/key.ts `eShift`): every t node can generate, limb counts
// of both widths, each hash (its own precomputed template and digest factor).
describe(`RS256/384/512 with e = 2^t + 1 against node (seed ${seed})`, () => {
  const SPECS = [
    { bits: 2048, publicExponent: 5 },
    { bits: 2090, publicExponent: 17 },
    { bits: 2110, publicExponent: 257 },
    { bits: 3555, publicExponent: 65537 },
  ];
  const HASHES = [
    { name: 'sha256', alg: 1 },
    { name: 'sha384', alg: 2 },
    { name: 'sha512', alg: 3 },
  ];
  const pairs: Array<{ bits: number; e: number; privateKey: KeyObject; handle: number }> = [];

  beforeAll(async () => {
    const made = await Promise.all(SPECS.map((s) => generateKeyPair('rsa', { modulusLength: s.bits, publicExponent: s.publicExponent })));
    made.forEach(({ publicKey, privateKey }, i) => {
      const jwk = publicKey.export({ format: 'jwk' });
      const handle = wasm.call('rsa_key_new', Buffer.from(jwk.n!, 'base64url'), Buffer.from(jwk.e!, 'base64url'));
      pairs.push({ bits: SPECS[i].bits, e: SPECS[i].publicExponent, privateKey, handle });
    });
  }, 240_000);

  it('verifies genuine signatures and rejects tampered ones and the other hashes', () => {
    for (const p of pairs) {
      for (const h of HASHES) {
        for (let i = 0; i < 4; i++) {
          const msg = seededBytes(`${p.bits}/${h.name}/${i}`, 50 + i * 97);
          const sig = sign(h.name, msg, p.privateKey);
          const detail = `seed ${seed}, ${p.bits} bits, e ${p.e}, ${h.name} #${i}`;
          expect(wasm.call('rsa_verify_pkcs1', p.handle, h.alg, msg, sig), detail).toBe(VerifyResult.Valid);
          const flipped = Buffer.from(sig);
          flipped[(i * 31) % flipped.length] ^= 0x10;
          // A flip near the top may take s past n: BadSignature then, never Valid.
          expect(wasm.call('rsa_verify_pkcs1', p.handle, h.alg, msg, flipped), `${detail} tampered signature`).not.toBe(VerifyResult.Valid);
          const otherMsg = Buffer.concat([msg, Buffer.from([i])]);
          expect(wasm.call('rsa_verify_pkcs1', p.handle, h.alg, otherMsg, sig), `${detail} tampered message`).toBe(VerifyResult.Invalid);
          const other = HASHES[(h.alg) % 3];
          expect(wasm.call('rsa_verify_pkcs1', p.handle, other.alg, msg, sig), `${detail} as ${other.name}`).toBe(VerifyResult.Invalid);
        }
      }
    }
  });
});
