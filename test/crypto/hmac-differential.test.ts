/**
 * HS256/HS384/HS512 (RFC 7518 §3.2) in build/test/crypto.wasm against node:crypto: fresh
 * random keys and messages each run, from a seed printed with any failure (set
 * CRYPTO_SEED to replay). Verification uses a prebuilt key object, as jwt-auth does.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HashAlg, VerifyResult, loadCryptoModule, type CryptoModule } from '../../harness/crypto/wasm.ts';
import { seed, seededStream } from './seed.ts';


let wasm: CryptoModule;
beforeAll(() => {
  wasm = loadCryptoModule();
});

const cases = [
  ['HS256', 'sha256', HashAlg.SHA256, 32],
  ['HS384', 'sha384', HashAlg.SHA384, 48],
  ['HS512', 'sha512', HashAlg.SHA512, 64],
] as const;

describe(`HMAC differential against node:crypto (seed ${seed})`, () => {
  const handles: number[] = [];
  afterAll(() => handles.forEach((h) => wasm.call('hmac_key_free', h)));

  it.each(cases)('%s: wasm and node agree on 200 tags and their tamperings', (alg, nodeHash, hashAlg, tagLen) => {
    const rand = seededStream(alg);
    const nodeVerify = (key: Buffer, msg: Uint8Array, tag: Uint8Array) => {
      const mac = createHmac(nodeHash, key).update(msg).digest();
      return tag.length === mac.length && timingSafeEqual(mac, tag);
    };
    let compared = 0;
    let valid = 0;
    for (let i = 0; i < 200; i++) {
      // Keys from empty to longer than the block (hashed first, RFC 2104 §2).
      const key = rand(rand(1)[0] % 3 === 0 ? 129 + (i % 60) : i % 130);
      const msg = rand(rand(2).readUInt16LE() % 1500);
      const tag = createHmac(nodeHash, key).update(msg).digest();
      // A key one bit away (a one-byte key when the key is empty). Keys are zero-padded
      // to the block, so [0] and the empty key share their MACs: node decides.
      const otherKey = key.length ? Buffer.from(key) : Buffer.from([0]);
      if (key.length) otherKey[i % otherKey.length] ^= 0x01;
      const tamperedMsg = Buffer.concat([msg, Buffer.from([i & 0xff])]);
      const flipped = Buffer.from(tag);
      flipped[i % tagLen] ^= 1 << (i % 8);
      const handle = wasm.call('hmac_key_new', hashAlg, key);
      handles.push(handle);
      const otherHandle = wasm.call('hmac_key_new', hashAlg, otherKey);
      handles.push(otherHandle);
      const trials: Array<[string, number, Uint8Array, Uint8Array]> = [
        ['genuine', handle, msg, tag],
        ['tampered message', handle, tamperedMsg, tag],
        ['tampered tag', handle, msg, flipped],
        ['wrong key', otherHandle, msg, tag],
        ['truncated tag', handle, msg, tag.subarray(0, tagLen - 1 - (i % tagLen))],
        ['oversized tag', handle, msg, Buffer.concat([tag, Buffer.from([0])])],
        ['empty tag', handle, msg, new Uint8Array(0)],
      ];
      for (const [what, h, m, t] of trials) {
        const nodeKey = h === handle ? key : otherKey;
        const expected = nodeVerify(nodeKey, m, t);
        const got = wasm.call('hmac_key_verify', h, m, t);
        const detail = `seed ${seed}, ${alg} #${i} ${what}: key ${nodeKey.toString('hex')}, msg ${Buffer.from(m).toString('hex').slice(0, 64)}…, tag ${Buffer.from(t).toString('hex')}`;
        expect(got === VerifyResult.Valid, detail).toBe(expected);
        compared++;
        if (what === 'genuine' && got === VerifyResult.Valid) valid++;
      }
      // The one-shot MAC matches node's bytes.
      expect(Buffer.from(wasm.callBytes('hmac_compute', hashAlg, key, msg)).equals(tag)).toBe(true);
    }
    expect(valid).toBe(200);
    expect(compared).toBe(1400);
  });

  // HS256 pads its last block itself (sha2.ts sha256FinishRaw): every tail length 0..63,
  // with one and two final blocks, and inputs of several whole blocks.
  it('HS256 tags match node for every message length 0..200', () => {
    const rand = seededStream('HS256 lengths');
    const key = rand(32);
    const handle = wasm.call('hmac_key_new', HashAlg.SHA256, key);
    handles.push(handle);
    const data = rand(200);
    for (let len = 0; len <= 200; len++) {
      const msg = data.subarray(0, len);
      const tag = createHmac('sha256', key).update(msg).digest();
      expect(Buffer.from(wasm.callBytes('hmac_compute', HashAlg.SHA256, key, msg)).toString('hex'), `length ${len}`).toBe(tag.toString('hex'));
      expect(wasm.call('hmac_key_verify', handle, msg, tag), `length ${len}`).toBe(VerifyResult.Valid);
    }
  });

  it('rejects an unknown algorithm as BadInput', () => {
    expect(wasm.call('hmac_verify', 0, Buffer.from('k'), Buffer.from('m'), Buffer.alloc(32))).toBe(VerifyResult.BadInput);
    expect(wasm.call('hmac_compute', 7, Buffer.from('k'), Buffer.from('m'))).toBe(-1);
  });
});
