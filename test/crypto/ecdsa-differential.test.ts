/**
 * Differential test of ES256 / ES384 verification against node:crypto (OpenSSL), with
 * fresh random keys each run: genuine signatures, tampered messages and signatures,
 * wrong keys, truncated and oversized signatures, r or s = 0 / n / n+1, and keys off the
 * curve or with coordinates ≥ p. The wasm verdict (Valid or not) and node's must agree
 * on every case; a failure prints the key and signature to replay it.
 */
import { createPublicKey, generateKeyPairSync, randomBytes, sign, verify, type KeyObject } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadCryptoModule, type CryptoModule } from '../../harness/crypto/wasm.ts';

const VALID = 0;
const INVALID = 1;
const BAD_KEY = 2;
const BAD_SIGNATURE = 3;

const CURVES = [
  {
    alg: 'ES256', crv: 1, namedCurve: 'P-256', hash: 'sha256', len: 32,
    p: 0xffffffff00000001000000000000000000000000ffffffffffffffffffffffffn,
    n: 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n,
  },
  {
    alg: 'ES384', crv: 2, namedCurve: 'P-384', hash: 'sha384', len: 48,
    p: 0xfffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffeffffffff0000000000000000ffffffffn,
    n: 0xffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973n,
  },
];

const KEYS = 10;
const SIGNATURES_PER_KEY = 25;

const toBytes = (x: bigint, len: number) => Buffer.from(x.toString(16).padStart(2 * len, '0'), 'hex');
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

let wasm: CryptoModule;
beforeAll(() => {
  wasm = loadCryptoModule();
});

describe.each(CURVES)('$alg against node:crypto', ({ crv, namedCurve, hash, len, p, n }) => {
  interface Key { pub: KeyObject; priv: KeyObject; x: Buffer; y: Buffer; handle: number }
  const keys: Key[] = [];

  const nodeVerify = (key: KeyObject, msg: Uint8Array, sig: Uint8Array): boolean => {
    try {
      return verify(hash, msg, { key, dsaEncoding: 'ieee-p1363' }, sig);
    } catch {
      return false;
    }
  };
  const nodeSign = (key: KeyObject, msg: Uint8Array) => sign(hash, msg, { key, dsaEncoding: 'ieee-p1363' });
  const mismatches: string[] = [];
  let cases = 0;
  /** Runs one case both ways; records a replayable description when they disagree. */
  const check = (what: string, key: Key, msg: Uint8Array, sig: Uint8Array): number => {
    cases++;
    const code = wasm.call('ecdsa_key_verify', key.handle, msg, sig);
    const node = nodeVerify(key.pub, msg, sig);
    if ((code === VALID) !== node) {
      mismatches.push(`${what}: wasm ${code}, node ${node}; x=${hex(key.x)} y=${hex(key.y)} msg=${hex(msg)} sig=${hex(sig)}`);
    }
    return code;
  };

  beforeAll(() => {
    for (let i = 0; i < KEYS; i++) {
      const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve });
      const jwk = publicKey.export({ format: 'jwk' });
      const x = Buffer.from(jwk.x!, 'base64url');
      const y = Buffer.from(jwk.y!, 'base64url');
      const handle = wasm.call('ecdsa_key_import', crv, x, y);
      keys.push({ pub: publicKey, priv: privateKey, x, y, handle });
    }
  });

  it('imports every fresh key', () => {
    for (const k of keys) expect(k.handle, `x=${hex(k.x)} y=${hex(k.y)}`).toBeGreaterThanOrEqual(0);
  });

  it(`agrees on ${KEYS * SIGNATURES_PER_KEY} genuine signatures and their tampered variants`, () => {
    let valid = 0;
    for (let i = 0; i < keys.length; i++) {
      const key = keys[i];
      const other = keys[(i + 1) % keys.length];
      for (let j = 0; j < SIGNATURES_PER_KEY; j++) {
        const msg = randomBytes(j % 5 === 0 ? 0 : 1 + ((j * 37) % 700));
        const sig = nodeSign(key.priv, msg);
        expect(sig.length).toBe(2 * len);
        if (check('genuine', key, msg, sig) === VALID) valid++;
        // A flipped bit anywhere in the message or the signature.
        const badMsg = Buffer.concat([msg, Buffer.alloc(msg.length ? 0 : 1)]);
        badMsg[j % badMsg.length] ^= 1 << (j % 8);
        check('tampered message', key, badMsg, sig);
        const badSig = Buffer.from(sig);
        badSig[(j * 13) % sig.length] ^= 1 << ((j * 3) % 8);
        check('tampered signature', key, msg, badSig);
        check('wrong key', other, msg, sig);
        check('truncated signature', key, msg, sig.subarray(0, sig.length - 1 - (j % 3)));
        check('oversized signature', key, msg, Buffer.concat([sig, Buffer.alloc(1 + (j % 2))]));
        check('r and s swapped', key, msg, Buffer.concat([sig.subarray(len), sig.subarray(0, len)]));
      }
    }
    expect(mismatches).toEqual([]);
    expect(valid).toBe(KEYS * SIGNATURES_PER_KEY);
  });

  it('agrees on r or s = 0, n, n + 1, n - 1, p and all-ones, and rejects them as malformed', () => {
    const key = keys[0];
    const msg = randomBytes(64);
    const sig = nodeSign(key.priv, msg);
    const r = sig.subarray(0, len);
    const s = sig.subarray(len);
    const outOfRange = [0n, n, n + 1n, p, (1n << BigInt(8 * len)) - 1n];
    for (const v of outOfRange) {
      const bad = toBytes(v, len);
      expect(check(`r = ${v}`, key, msg, Buffer.concat([bad, s])), `r = ${v}`).toBe(BAD_SIGNATURE);
      expect(check(`s = ${v}`, key, msg, Buffer.concat([r, bad])), `s = ${v}`).toBe(BAD_SIGNATURE);
    }
    // n - 1 is in range: well-formed, and (almost surely) not a valid signature.
    check('r = n - 1', key, msg, Buffer.concat([toBytes(n - 1n, len), s]));
    check('s = n - 1', key, msg, Buffer.concat([r, toBytes(n - 1n, len)]));
    // s and n - s are both valid in ECDSA (no low-s rule in JWS); node agrees.
    const sNeg = toBytes(n - BigInt('0x' + hex(s)), len);
    expect(check('s -> n - s', key, msg, Buffer.concat([r, sNeg]))).toBe(VALID);
    expect(mismatches).toEqual([]);
  });

  it('rejects keys off the curve, with coordinates ≥ p or of the wrong length, as node does', () => {
    const key = keys[1];
    const xBig = BigInt('0x' + hex(key.x));
    const yBig = BigInt('0x' + hex(key.y));
    const bad: Array<[string, Buffer, Buffer]> = [
      ['y + 1 (off the curve)', key.x, toBytes((yBig + 1n) % p, len)],
      ['x + 1 (off the curve)', toBytes((xBig + 1n) % p, len), key.y],
      ['(0, 0)', Buffer.alloc(len), Buffer.alloc(len)],
      ['x + p', toBytes(xBig + p, len + 1).subarray(0, len + 1), key.y],
      ['y + p (≥ p, same residue)', key.x, toBytes(yBig + p < 1n << BigInt(8 * len) ? yBig + p : p, len)],
      ['x = p', toBytes(p, len), key.y],
    ];
    for (const [what, x, y] of bad) {
      const code = wasm.call('ecdsa_verify', crv, x, y, Buffer.from('msg'), Buffer.alloc(2 * len, 1));
      expect(code, what).toBe(BAD_KEY);
      let nodeAccepts = true;
      try {
        createPublicKey({ key: { kty: 'EC', crv: namedCurve, x: x.toString('base64url'), y: y.toString('base64url') }, format: 'jwk' });
      } catch {
        nodeAccepts = false;
      }
      expect(nodeAccepts, `node on ${what}`).toBe(false);
    }
    // RFC 7518 §6.2.1.2: a coordinate is exactly the field size. node:crypto is laxer
    // (it takes a leading zero byte), so these are checked on our side only.
    for (const [what, x, y] of [
      ['short x', key.x.subarray(1), key.y],
      ['long y', key.x, Buffer.concat([Buffer.alloc(1), key.y])],
      ['empty', Buffer.alloc(0), Buffer.alloc(0)],
    ] as Array<[string, Buffer, Buffer]>) {
      expect(wasm.call('ecdsa_verify', crv, x, y, Buffer.from('msg'), Buffer.alloc(2 * len, 1)), what).toBe(BAD_KEY);
    }
    // The genuine key still imports through the same path.
    const msg = randomBytes(10);
    expect(wasm.call('ecdsa_verify', crv, key.x, key.y, msg, nodeSign(key.priv, msg))).toBe(VALID);
  });

  it('answers random keys and signatures with a code, never a trap', () => {
    const key = keys[2];
    for (let i = 0; i < 100; i++) {
      const msg = randomBytes(i % 40);
      // Random coordinates are off the curve (or ≥ p) but for a negligible chance.
      expect(wasm.call('ecdsa_verify', crv, randomBytes(len), randomBytes(len), msg, randomBytes(2 * len))).toBe(BAD_KEY);
      const sigLen = (i * 7) % (3 * len);
      const code = check('random signature', key, msg, randomBytes(sigLen));
      if (sigLen !== 2 * len) expect(code).toBe(BAD_SIGNATURE);
      else expect([INVALID, BAD_SIGNATURE]).toContain(code);
    }
    expect(mismatches).toEqual([]);
  });

  it('ran every case', () => {
    expect(cases).toBeGreaterThanOrEqual(KEYS * SIGNATURES_PER_KEY * 7);
    wasm.call('ecdsa_keys_clear');
  });
});
