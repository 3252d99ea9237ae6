// Ed25519 verification (assembly/crypto/ed25519) through build/test/crypto.wasm: the
// RFC 8032 §7.1 vectors, every Wycheproof ed25519_test.json vector, the key checks and
// the result codes of malformed input.
import { randomBytes } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadCryptoModule, type CryptoModule } from '../../harness/crypto/wasm.ts';
import { B, IDENTITY, L, P, add, encode, fromLe, le, mul, torsionGenerator } from './eddsa-reference.ts';
import { hex as hexBuffer, loadVectors } from './wycheproof.ts';

/** Bytes of hex, as a plain Uint8Array (Buffer's slice would share memory). */
const hex = (s: string) => new Uint8Array(hexBuffer(s));

// VerifyResult (assembly/crypto/result.ts)
const Valid = 0;
const Invalid = 1;
const BadKey = 2;
const BadSignature = 3;

let m: CryptoModule;
beforeAll(() => {
  m = loadCryptoModule();
});

/** Imports `pk` and verifies with the handle; also checks the one-shot export agrees. */
function verify(pk: Uint8Array, msg: Uint8Array, sig: Uint8Array): number {
  const handle = m.call('ed25519_key_import', pk);
  const oneShot = m.call('ed25519_verify', pk, msg, sig);
  if (handle < 0) {
    expect(oneShot).toBe(-handle);
    return -handle;
  }
  const result = m.call('ed25519_key_verify', handle, msg, sig);
  m.call('ed25519_key_free', handle);
  expect(oneShot).toBe(result);
  return result;
}

// RFC 8032 §7.1 TEST 1, 2, 3 and SHA(abc) (the message of the last is SHA-512("abc")).
const RFC8032 = [
  {
    name: 'TEST 1',
    pk: 'd75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a',
    msg: '',
    sig: 'e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b',
  },
  {
    name: 'TEST 2',
    pk: '3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c',
    msg: '72',
    sig: '92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00',
  },
  {
    name: 'TEST 3',
    pk: 'fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025',
    msg: 'af82',
    sig: '6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a',
  },
  {
    name: 'TEST SHA(abc)',
    pk: 'ec172b93ad5e563bf4932c70e1245034c35467ef2efd4d64ebf819683467e2bf',
    msg:
      'ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f',
    sig: 'dc2a4459e7369633a52b1bf277839a00201009a3efbf3ecb69bea2186c26b58909351fc9ac90b3ecfdfbc7c66431e0303dca179c138ac17ad9bef1177331a704',
  },
];

describe('RFC 8032 §7.1 test vectors', () => {
  for (const v of RFC8032) {
    it(`${v.name} verifies, and no longer does with any one bit changed`, () => {
      const pk = hex(v.pk);
      const msg = hex(v.msg);
      const sig = hex(v.sig);
      expect(verify(pk, msg, sig)).toBe(Valid);
      for (let bit = 0; bit < 512; bit += 7) {
        const bad = sig.slice();
        bad[bit >> 3] ^= 1 << (bit & 7);
        expect(verify(pk, msg, bad), `signature bit ${bit}`).not.toBe(Valid);
      }
      if (msg.length) {
        const bad = msg.slice();
        bad[0] ^= 0x80;
        expect(verify(pk, bad, sig)).toBe(Invalid);
      }
      expect(verify(pk, new Uint8Array([...msg, 0]), sig)).toBe(Invalid);
    });
  }
});

describe('Wycheproof ed25519_test.json', () => {
  const file = loadVectors('ed25519_test.json');

  // `acceptable` results and how we decide them: the current file has none. A new file
  // that brings some fails the last test until each is listed here with its reason.
  const ACCEPTABLE: Record<number, { accept: boolean; why: string }> = {};

  it('has every vector valid or invalid (no acceptable cases to decide)', () => {
    const acceptable = file.groups.flatMap((g) => g.tests.filter((t) => t.result === 'acceptable').map((t) => t.tcId));
    expect(acceptable.sort()).toEqual(Object.keys(ACCEPTABLE).map(Number).sort());
    expect(file.numberOfTests).toBe(151);
  });

  it('verifies every valid vector and rejects every invalid one', () => {
    let checked = 0;
    for (const group of file.groups) {
      const pk = hex(group.raw.publicKey.pk);
      // the JWK form carries the same bytes (RFC 8037 §2: x is the public key)
      expect(Buffer.from(group.raw.publicKeyJwk.x, 'base64url')).toEqual(Buffer.from(pk));
      for (const t of group.tests) {
        const got = verify(pk, t.msg, t.sig);
        const label = `tcId ${t.tcId} (${t.comment}; ${t.flags.join(',')})`;
        const wantValid = t.result === 'valid' || (t.result === 'acceptable' && ACCEPTABLE[t.tcId]?.accept);
        if (wantValid) expect(got, label).toBe(Valid);
        else expect(got, label).not.toBe(Valid);
        // malformed signatures are reported as such
        if (t.sig.length !== 64) expect(got, label).toBe(BadSignature);
        if (t.sig.length === 64 && fromLe(t.sig.subarray(32)) >= L) expect(got, label).toBe(BadSignature);
        checked++;
      }
    }
    expect(checked).toBe(file.numberOfTests);
  });
});

describe('public keys (RFC 8032 §5.1.3 decoding, small-order keys)', () => {
  const t8 = torsionGenerator();
  const smallOrder = Array.from({ length: 8 }, (_, i) => encode(mul(BigInt(i), t8)));
  const msg = new TextEncoder().encode('any message');

  it('rejects all 8 small-order points, with which anyone could forge', () => {
    expect(new Set(smallOrder.map((e) => Buffer.from(e).toString('hex'))).size).toBe(8);
    for (const pk of smallOrder) {
      // for A = 0, any R = [s]B with that s satisfies [s]B = R + [k]A
      const s = 12345n;
      const sig = new Uint8Array([...encode(mul(s, B)), ...le(s)]);
      expect(verify(pk, msg, sig), Buffer.from(pk).toString('hex')).toBe(BadKey);
    }
  });

  it('accepts a key with a small-order component but a large-order part', () => {
    const mixed = encode(add(mul(987654321n, B), t8));
    expect(m.call('ed25519_key_import', mixed)).toBeGreaterThanOrEqual(0);
  });

  it('rejects non-canonical encodings (y ≥ p, or x = 0 with the sign bit set)', () => {
    for (let t = 0n; t < 19n; t++) {
      expect(verify(le(P + t), msg, new Uint8Array(64)), `y = p + ${t}`).toBe(BadKey);
      expect(verify(le(P + t + (1n << 255n)), msg, new Uint8Array(64))).toBe(BadKey);
    }
    expect(verify(le(1n | (1n << 255n)), msg, new Uint8Array(64))).toBe(BadKey); // (−0, 1)
    expect(verify(le(P - 1n + (1n << 255n)), msg, new Uint8Array(64))).toBe(BadKey); // (−0, −1)
  });

  it('rejects encodings that are not on the curve and keys that are not 32 bytes', () => {
    let offCurve = 0;
    for (let y = 2n; offCurve < 10; y++) {
      const pk = le(y);
      if (m.callBytes('ed25519_point_decode', pk).length) continue;
      expect(verify(pk, msg, new Uint8Array(64))).toBe(BadKey);
      offCurve++;
    }
    const good = encode(mul(5n, B));
    expect(verify(good.subarray(0, 31), msg, new Uint8Array(64))).toBe(BadKey);
    expect(verify(new Uint8Array([...good, 0]), msg, new Uint8Array(64))).toBe(BadKey);
    expect(verify(new Uint8Array(0), msg, new Uint8Array(64))).toBe(BadKey);
  });
});

describe('malformed signatures and inputs never trap', () => {
  it('answers a code for signatures of every length 0..130 and random bytes', () => {
    const pk = hex(RFC8032[0].pk);
    const handle = m.call('ed25519_key_import', pk);
    for (let len = 0; len <= 130; len++) {
      const got = m.call('ed25519_key_verify', handle, randomBytes(40), randomBytes(len));
      if (len !== 64) expect(got, `length ${len}`).toBe(BadSignature);
      else expect([Invalid, BadSignature]).toContain(got);
    }
    for (let i = 0; i < 200; i++) {
      const got = m.call('ed25519_key_verify', handle, randomBytes(i), randomBytes(64));
      expect([Invalid, BadSignature]).toContain(got);
    }
    m.call('ed25519_key_free', handle);
  });

  it('rejects S ≥ L and non-canonical R as BadSignature, R that is no point as Invalid', () => {
    const v = RFC8032[1];
    const [pk, msg, sig] = [hex(v.pk), hex(v.msg), hex(v.sig)];
    const S = fromLe(sig.subarray(32));
    const withS = (s: bigint) => new Uint8Array([...sig.subarray(0, 32), ...le(s)]);
    const withR = (r: Uint8Array) => new Uint8Array([...r, ...sig.subarray(32)]);
    expect(verify(pk, msg, withS(S + L))).toBe(BadSignature);
    expect(verify(pk, msg, withS(L))).toBe(BadSignature);
    expect(verify(pk, msg, withS((1n << 256n) - 1n))).toBe(BadSignature);
    expect(verify(pk, msg, withS(L - 1n))).toBe(Invalid);
    expect(verify(pk, msg, withR(le(P + 1n)))).toBe(BadSignature);
    expect(verify(pk, msg, withR(le(1n | (1n << 255n))))).toBe(Invalid); // negative zero x
    expect(verify(pk, msg, withR(encode(IDENTITY)))).toBe(Invalid);
  });
});
