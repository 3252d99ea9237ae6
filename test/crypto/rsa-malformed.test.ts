/**
 * Malformed RSA keys and inputs give VerifyResult codes, never a trap
 * (build/test/crypto.wasm): key bounds of RFC 8017 §3.1 and the 2048–4096-bit policy,
 * signature length and range checks of §8.1.2/§8.2.2, unknown hashes.
 */
import crypto from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { HashAlg, VerifyResult, loadCryptoModule, verifyResultName, type CryptoModule } from '../../harness/crypto/wasm.ts';

let wasm: CryptoModule;
let real: { n: Buffer; e: Buffer; privateKey: crypto.KeyObject };

beforeAll(() => {
  wasm = loadCryptoModule();
  const { publicKey, privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwk = publicKey.export({ format: 'jwk' });
  real = { n: Buffer.from(jwk.n!, 'base64url'), e: Buffer.from(jwk.e!, 'base64url'), privateKey };
});

/** An odd number of exactly `bits` bits (not a real RSA modulus: size checks only). */
const oddOfBits = (bits: number) => {
  const b = crypto.randomBytes(Math.ceil(bits / 8));
  const top = bits % 8 || 8;
  b[0] = (b[0] & ((1 << top) - 1)) | (1 << (top - 1));
  b[b.length - 1] |= 1;
  return b;
};

const keyStatus = (n: Uint8Array, e: Uint8Array) => {
  const h = wasm.call('rsa_key_new', n, e);
  try {
    return verifyResultName(wasm.call('rsa_key_status', h));
  } finally {
    wasm.call('rsa_key_free', h);
  }
};

const E65537 = Buffer.from([1, 0, 1]);

describe('RSA key checks', () => {
  it.each([
    ['an empty modulus', () => Buffer.alloc(0), () => E65537],
    ['a modulus of zeros', () => Buffer.alloc(256), () => E65537],
    ['an even modulus', () => { const n = Buffer.from(real.n); n[n.length - 1] &= 0xfe; return n; }, () => E65537],
    ['a 2047-bit modulus', () => oddOfBits(2047), () => E65537],
    ['a 1024-bit modulus', () => oddOfBits(1024), () => E65537],
    ['a 4097-bit modulus', () => oddOfBits(4097), () => E65537],
    ['a 8192-bit modulus', () => oddOfBits(8192), () => E65537],
    ['e = 1', () => real.n, () => Buffer.from([1])],
    ['e = 1 with leading zeros', () => real.n, () => Buffer.from([0, 0, 1])],
    ['e = 0', () => real.n, () => Buffer.from([0])],
    ['an empty e', () => real.n, () => Buffer.alloc(0)],
    ['an even e', () => real.n, () => Buffer.from([1, 0, 0])],
    ['e = 2', () => real.n, () => Buffer.from([2])],
    ['e = n', () => real.n, () => real.n],
    ['e > n', () => real.n, () => Buffer.concat([Buffer.from([1]), real.n])],
  ])('rejects %s as BadKey', (_what, n, e) => {
    expect(keyStatus(n(), e())).toBe('BadKey');
  });

  it.each([
    ['2048 bits', () => oddOfBits(2048), () => E65537],
    ['4096 bits', () => oddOfBits(4096), () => E65537],
    ['e = 3', () => oddOfBits(3000), () => Buffer.from([3])],
    ['e = n − 2 (odd, below n)', () => real.n, () => { const e = Buffer.from(real.n); e[e.length - 1] -= 2; return e; }],
    ['leading zero bytes in n and e (JWK magnitudes are minimal, DER ones are not)', () => Buffer.concat([Buffer.alloc(3), real.n]), () => Buffer.from([0, 1, 0, 1])],
  ])('accepts %s', (_what, n, e) => {
    expect(keyStatus(n(), e())).toBe('Valid');
  });

  it('answers BadKey, not a trap, when a rejected key is used', () => {
    const h = wasm.call('rsa_key_new', real.n, Buffer.from([1]));
    const msg = Buffer.from('payload');
    const sig = crypto.sign('sha256', msg, real.privateKey);
    expect(verifyResultName(wasm.call('rsa_verify_pkcs1', h, HashAlg.SHA256, msg, sig))).toBe('BadKey');
    expect(verifyResultName(wasm.call('rsa_verify_pss', h, HashAlg.SHA256, msg, sig))).toBe('BadKey');
    expect(wasm.call('rsa_public_op', h, sig)).toBe(-1);
    wasm.call('rsa_key_free', h);
  });
});

describe('RSA signature checks', () => {
  let h: number;
  let msg: Buffer;
  let sig: Buffer;
  beforeAll(() => {
    h = wasm.call('rsa_key_new', real.n, real.e);
    msg = Buffer.from('header.payload');
    sig = crypto.sign('sha256', msg, real.privateKey);
  });

  const both = (m: Uint8Array, s: Uint8Array, alg: number = HashAlg.SHA256) => [
    verifyResultName(wasm.call('rsa_verify_pkcs1', h, alg, m, s)),
    verifyResultName(wasm.call('rsa_verify_pss', h, alg, m, s)),
  ];

  it('verifies the genuine signature (the checks below are not vacuous)', () => {
    expect(both(msg, sig)[0]).toBe('Valid');
  });

  it.each([
    ['zero-length', () => Buffer.alloc(0)],
    ['one byte short', () => sig.subarray(1)],
    ['one byte long', () => Buffer.concat([Buffer.alloc(1), sig])],
    ['twice the modulus length', () => Buffer.concat([sig, sig])],
    ['equal to n', () => real.n],
    ['above n', () => Buffer.alloc(256, 0xff)],
  ])('rejects a signature %s as BadSignature', (_what, s) => {
    expect(both(msg, s())).toEqual(['BadSignature', 'BadSignature']);
  });

  it.each([
    ['all zeros (s = 0)', () => Buffer.alloc(256)],
    ['s = 1', () => { const s = Buffer.alloc(256); s[255] = 1; return s; }],
    ['s = n − 1', () => { const s = Buffer.from(real.n); s[255] -= 1; return s; }],
    ['modulus-sized garbage below n', () => { const s = crypto.randomBytes(256); s[0] = 0; return s; }],
  ])('rejects a signature %s as Invalid', (_what, s) => {
    expect(both(msg, s())).toEqual(['Invalid', 'Invalid']);
  });

  it('rejects an empty message with a real signature of another message as Invalid', () => {
    expect(both(Buffer.alloc(0), sig)).toEqual(['Invalid', 'Invalid']);
  });

  it.each([0, 4, -1, 255])('rejects hash algorithm %i as BadInput', (alg) => {
    expect(both(msg, sig, alg)).toEqual(['BadInput', 'BadInput']);
  });

  it('rejects unknown key handles as BadInput', () => {
    expect(wasm.call('rsa_verify_pkcs1', 9999, HashAlg.SHA256, msg, sig)).toBe(VerifyResult.BadInput);
    expect(wasm.call('rsa_key_status', -1)).toBe(VerifyResult.BadInput);
  });
});
