/**
 * SHA-2 (FIPS 180-4), base64url (RFC 4648 §5) and constant-time compare of
 * assembly/crypto/ through build/test/crypto.wasm, against node:crypto and Buffer.
 * Build first: `npm run build -- --tests`.
 */
import { createHash, randomBytes } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { HashAlg, loadCryptoModule, type CryptoModule } from '../../harness/crypto/wasm.ts';

let wasm: CryptoModule;
beforeAll(() => {
  wasm = loadCryptoModule();
});

const ascii = (s: string) => new Uint8Array(Buffer.from(s, 'latin1'));
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

describe('sha2_digest', () => {
  const algs = [
    ['sha256', HashAlg.SHA256],
    ['sha384', HashAlg.SHA384],
    ['sha512', HashAlg.SHA512],
  ] as const;

  it.each(algs)('%s matches node:crypto for every length 0..300 and some long inputs', (name, alg) => {
    const data = randomBytes(5000);
    const lengths = [...Array(301).keys(), 1000, 4096, 4999];
    for (const len of lengths) {
      const msg = data.subarray(0, len);
      expect(hex(wasm.callBytes('sha2_digest', alg, msg)), `length ${len}`).toBe(createHash(name).update(msg).digest('hex'));
    }
  });

  it('rejects an unknown algorithm', () => {
    expect(wasm.call('sha2_digest', 0, ascii('abc'))).toBe(-1);
    expect(wasm.call('sha2_digest', 4, ascii('abc'))).toBe(-1);
  });
});

describe('base64url', () => {
  const decode = (text: string) => {
    const n = wasm.call('base64url_decode', ascii(text));
    return n < 0 ? null : wasm.callBytes('base64url_decode', ascii(text));
  };

  it('round-trips random bytes of every length 0..200 like Buffer', () => {
    for (let len = 0; len <= 200; len++) {
      const data = randomBytes(len);
      const text = Buffer.from(data).toString('base64url');
      expect(Buffer.from(wasm.callBytes('base64url_encode', data)).toString('latin1')).toBe(text);
      expect(hex(decode(text)!)).toBe(hex(data));
    }
  });

  it.each([
    ['padding', 'YQ=='],
    ['padding after a full group', 'YWJj='],
    ['standard alphabet +', 'a+b_'],
    ['standard alphabet /', 'a/b_'],
    ['space', 'YW Jj'],
    ['line break', 'YWJj\n'],
    ['non-ASCII byte', 'YWJ\u00e9'],
    ['NUL', 'YWJ\u0000'],
    ['length 4k+1', 'YWJjZ'],
    ['single character', 'Y'],
    ['non-zero trailing bits, 2 characters (RFC 4648 §3.5)', 'YR'],
    ['non-zero trailing bits, 3 characters', 'YWK'],
  ])('rejects %s', (_why, text) => {
    expect(decode(text)).toBeNull();
  });

  it('accepts the canonical spellings next to the rejected ones', () => {
    expect(hex(decode('YQ')!)).toBe('61');
    expect(hex(decode('YWI')!)).toBe('6162');
    expect(hex(decode('')!)).toBe('');
    expect(hex(decode('-_-_')!)).toBe(hex(Buffer.from('-_-_', 'base64url')));
  });

  it('rejects every non-canonical last character that Buffer would silently accept', () => {
    // Buffer ignores trailing bits; the strict decoder must reject all 15 (or 3) variants.
    let rejected = 0;
    for (const alphabetChar of 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_') {
      const text2 = 'Y' + alphabetChar;
      const text3 = 'YW' + alphabetChar;
      const canonical2 = Buffer.from(Buffer.from(text2, 'base64url')).toString('base64url') === text2;
      const canonical3 = Buffer.from(Buffer.from(text3, 'base64url')).toString('base64url') === text3;
      expect(decode(text2) !== null, text2).toBe(canonical2);
      expect(decode(text3) !== null, text3).toBe(canonical3);
      rejected += (canonical2 ? 0 : 1) + (canonical3 ? 0 : 1);
    }
    expect(rejected).toBe(60 + 48);
  });
});

describe('ct_equal', () => {
  it('compares contents, any length', () => {
    for (const len of [0, 1, 7, 8, 9, 31, 32, 33, 64, 100]) {
      const a = randomBytes(len);
      expect(wasm.call('ct_equal', a, Uint8Array.from(a))).toBe(1);
      for (let i = 0; i < len; i++) {
        const b = Uint8Array.from(a);
        b[i] ^= 1 << (i & 7);
        expect(wasm.call('ct_equal', a, b), `length ${len}, byte ${i}`).toBe(0);
      }
    }
  });

  it('treats different lengths as different', () => {
    expect(wasm.call('ct_equal', ascii('abc'), ascii('ab'))).toBe(0);
    expect(wasm.call('ct_equal', ascii(''), ascii('a'))).toBe(0);
  });
});
