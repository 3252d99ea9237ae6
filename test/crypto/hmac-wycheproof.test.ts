/**
 * Wycheproof HMAC vectors (hmac_sha256/384/512_test.json) through build/test/crypto.wasm.
 *
 * Truncated tags: the groups with tagSize < hash size hold tags cut to their leftmost
 * tagSize bits (RFC 2104 §5). JWS HS* never truncates (RFC 7518 §3.2) and jwt-auth
 * must not accept a shortened tag, so `HmacKey.verify` rejects them as BadSignature;
 * `HmacKey.verifyTruncated`, which nothing in JWS calls, checks them.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { HashAlg, VerifyResult, loadCryptoModule, verifyResultName, type CryptoModule } from '../../harness/crypto/wasm.ts';
import { listVectorFiles, loadVectors } from './wycheproof.ts';

let wasm: CryptoModule;
beforeAll(() => {
  wasm = loadCryptoModule();
});

const algOf: Record<string, number> = { HMACSHA256: HashAlg.SHA256, HMACSHA384: HashAlg.SHA384, HMACSHA512: HashAlg.SHA512 };
const hashBits: Record<string, number> = { HMACSHA256: 256, HMACSHA384: 384, HMACSHA512: 512 };

const files = listVectorFiles('hmac_');

describe('Wycheproof HMAC', () => {
  it('finds the three HMAC files', () => {
    expect(files).toEqual(['hmac_sha256_test.json', 'hmac_sha384_test.json', 'hmac_sha512_test.json']);
  });

  describe.each(files)('%s', (file) => {
    const vectors = loadVectors(file);
    const alg = algOf[vectors.algorithm];

    it('has no acceptable case to decide', () => {
      const acceptable = vectors.groups.flatMap((g) => g.tests).filter((t) => t.result === 'acceptable');
      expect(acceptable).toEqual([]);
    });

    it(`passes all ${vectors.numberOfTests} vectors`, () => {
      expect(alg).toBeDefined();
      let checked = 0;
      for (const group of vectors.groups) {
        const truncated = group.raw.tagSize < hashBits[vectors.algorithm];
        for (const t of group.tests) {
          const what = `tcId ${t.tcId} (${t.comment || t.flags.join(',')}), tagSize ${group.raw.tagSize}`;
          const expected = t.result === 'valid' ? VerifyResult.Valid : VerifyResult.Invalid;
          if (truncated) {
            const got = wasm.call('hmac_verify_truncated', alg, t.key!, t.msg, t.sig);
            expect(verifyResultName(got), what).toBe(verifyResultName(expected));
            // The JWS entry point refuses a truncated tag, even a correct one.
            expect(verifyResultName(wasm.call('hmac_verify', alg, t.key!, t.msg, t.sig)), what).toBe('BadSignature');
          } else {
            const got = wasm.call('hmac_verify', alg, t.key!, t.msg, t.sig);
            expect(verifyResultName(got), what).toBe(verifyResultName(expected));
          }
          checked++;
        }
      }
      expect(checked).toBe(vectors.numberOfTests);
    });
  });
});
