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

// RFC 8032 §7.1 TEST 1, 2, 3, 1024 and SHA(abc) (the message of the last is SHA-512("abc")).
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
    name: 'TEST 1024',
    pk: '278117fc144c72340f67d0f2316e8386ceffbf2b2428c9c51fef7c597f1d426e',
    msg: [
      '08b8b2b733424243760fe426a4b54908632110a66c2f6591eabd3345e3e4eb98fa6e264bf09efe12ee50f8f54e9f77b1',
      'e355f6c50544e23fb1433ddf73be84d879de7c0046dc4996d9e773f4bc9efe5738829adb26c81b37c93a1b270b20329d',
      '658675fc6ea534e0810a4432826bf58c941efb65d57a338bbd2e26640f89ffbc1a858efcb8550ee3a5e1998bd177e93a',
      '7363c344fe6b199ee5d02e82d522c4feba15452f80288a821a579116ec6dad2b3b310da903401aa62100ab5d1a36553e',
      '06203b33890cc9b832f79ef80560ccb9a39ce767967ed628c6ad573cb116dbefefd75499da96bd68a8a97b928a8bbc10',
      '3b6621fcde2beca1231d206be6cd9ec7aff6f6c94fcd7204ed3455c68c83f4a41da4af2b74ef5c53f1d8ac70bdcb7ed1',
      '85ce81bd84359d44254d95629e9855a94a7c1958d1f8ada5d0532ed8a5aa3fb2d17ba70eb6248e594e1a2297acbbb39d',
      '502f1a8c6eb6f1ce22b3de1a1f40cc24554119a831a9aad6079cad88425de6bde1a9187ebb6092cf67bf2b13fd65f270',
      '88d78b7e883c8759d2c4f5c65adb7553878ad575f9fad878e80a0c9ba63bcbcc2732e69485bbc9c90bfbd62481d9089b',
      'eccf80cfe2df16a2cf65bd92dd597b0707e0917af48bbb75fed413d238f5555a7a569d80c3414a8d0859dc65a46128ba',
      'b27af87a71314f318c782b23ebfe808b82b0ce26401d2e22f04d83d1255dc51addd3b75a2b1ae0784504df543af8969b',
      'e3ea7082ff7fc9888c144da2af58429ec96031dbcad3dad9af0dcbaaaf268cb8fcffead94f3c7ca495e056a9b47acdb7',
      '51fb73e666c6c655ade8297297d07ad1ba5e43f1bca32301651339e22904cc8c42f58c30c04aafdb038dda0847dd988d',
      'cda6f3bfd15c4b4c4525004aa06eeff8ca61783aacec57fb3d1f92b0fe2fd1a85f6724517b65e614ad6808d6f6ee34df',
      'f7310fdc82aebfd904b01e1dc54b2927094b2db68d6f903b68401adebf5a7e08d78ff4ef5d63653a65040cf9bfd4aca7',
      '984a74d37145986780fc0b16ac451649de6188a7dbdf191f64b5fc5e2ab47b57f7f7276cd419c17a3ca8e1b939ae49e4',
      '88acba6b965610b5480109c8b17b80e1b7b750dfc7598d5d5011fd2dcc5600a32ef5b52a1ecc820e308aa342721aac09',
      '43bf6686b64b2579376504ccc493d97e6aed3fb0f9cd71a43dd497f01f17c0e2cb3797aa2a2f256656168e6c496afc5f',
      'b93246f6b1116398a346f1a641f3b041e989f7914f90cc2c7fff357876e506b50d334ba77c225bc307ba537152f3f161',
      '0e4eafe595f6d9d90d11faa933a15ef1369546868a7f3a45a96768d40fd9d03412c091c6315cf4fde7cb68606937380d',
      'b2eaaa707b4c4185c32eddcdd306705e4dc1ffc872eeee475a64dfac86aba41c0618983f8741c5ef68d3a101e8a3b8ca',
      'c60c905c15fc910840b94c00a0b9d0',
    ].join(''),
    sig: '0aab4c900501b3e24d7cdf4663326a3a87df5e4843b2cbdb67cbf6e460fec350aa5371b1508f9f4528ecea23c436d94b5e8fcd4f681e30a6ac00a9704a188a03',
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
