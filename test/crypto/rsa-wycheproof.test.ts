/**
 * Wycheproof RSA vectors (every rsa_signature_* and rsa_pss_* file) through
 * build/test/crypto.wasm: RSASSA-PKCS1-v1_5 and RSASSA-PSS verification (RFC 8017),
 * with keys built once per group from the modulus and exponent, as jwt-auth builds them
 * from a JWK. `valid` must verify, `invalid` must not, and each `acceptable` case is
 * decided in the table below.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { HashAlg, VerifyResult, loadCryptoModule, verifyResultName, type CryptoModule } from '../../harness/crypto/wasm.ts';
import { hex, listVectorFiles, loadVectors, type WycheproofTest } from './wycheproof.ts';

/**
 * The `acceptable` cases and what we do with them: file → tcId → [accepted, why].
 * Every acceptable case of the files must be listed here, and only those.
 */
const ACCEPTABLE: Record<string, Record<number, [boolean, string]>> = Object.fromEntries(
  ['rsa_signature_2048_sha256_test.json', 'rsa_signature_2048_sha384_test.json', 'rsa_signature_2048_sha512_test.json',
    'rsa_signature_3072_sha256_test.json', 'rsa_signature_4096_sha256_test.json'].map((file) => [
    file,
    {
      // MissingNull: DigestInfo without the NULL parameters.
      8: [false, 'rejected: EMSA-PKCS1-v1_5 has one encoding, DigestInfo with NULL parameters (RFC 8017 §9.2 note 1); the whole EM is compared, and node/OpenSSL reject it too'],
    },
  ]),
);

const hashOf: Record<string, number> = { 'SHA-256': HashAlg.SHA256, 'SHA-384': HashAlg.SHA384, 'SHA-512': HashAlg.SHA512 };
const hashBytes: Record<string, number> = { 'SHA-256': 32, 'SHA-384': 48, 'SHA-512': 64 };

let wasm: CryptoModule;
beforeAll(() => {
  wasm = loadCryptoModule();
});

const files = listVectorFiles('rsa_');

describe('Wycheproof RSA', () => {
  it('finds every RSA file', () => {
    expect(files.filter((f) => f.startsWith('rsa_signature_'))).toHaveLength(5);
    expect(files.filter((f) => f.startsWith('rsa_pss_'))).toHaveLength(3);
    expect(files).toHaveLength(8);
  });

  it('decides exactly the acceptable cases of the files', () => {
    const found: string[] = [];
    for (const file of files) {
      for (const g of loadVectors(file).groups) {
        for (const t of g.tests) if (t.result === 'acceptable') found.push(`${file}#${t.tcId}`);
      }
    }
    const listed = Object.entries(ACCEPTABLE).flatMap(([file, cases]) => Object.keys(cases).map((id) => `${file}#${id}`));
    expect(found.sort()).toEqual(listed.sort());
  });

  describe.each(files)('%s', (file) => {
    const vectors = loadVectors(file);

    it(`passes all ${vectors.numberOfTests} vectors`, () => {
      let checked = 0;
      for (const group of vectors.groups) {
        const g = group.raw;
        const pss = g.type === 'RsassaPssVerify';
        const alg = hashOf[g.sha];
        expect(alg, g.sha).toBeDefined();
        if (pss) {
          // JWS PS* fixes MGF1 with the same hash and a salt as long as the hash (RFC 7518 §3.5).
          expect([g.mgf, g.mgfSha, g.sLen]).toEqual(['MGF1', g.sha, hashBytes[g.sha]]);
        }
        const n = hex(g.publicKey.modulus);
        const e = hex(g.publicKey.publicExponent);
        // The JWK form decodes, through the strict base64url decoder, to the same modulus.
        const jwk = typeof g.publicKeyJwk === 'object' ? g.publicKeyJwk : g.keyJwk;
        const jwkN = wasm.callBytes('base64url_decode', Buffer.from(jwk.n, 'latin1'));
        expect(Buffer.from(jwkN).toString('hex')).toBe(Buffer.from(n).toString('hex').replace(/^(00)+/, ''));
        const handle = wasm.call('rsa_key_new', n, e);
        expect(verifyResultName(wasm.call('rsa_key_status', handle)), `${file} key ${g.keySize} bits`).toBe('Valid');
        try {
          for (const t of group.tests) {
            const got = wasm.call(pss ? 'rsa_verify_pss' : 'rsa_verify_pkcs1', handle, alg, t.msg, t.sig);
            const accept = expectedAcceptance(file, t);
            const what = `${file} tcId ${t.tcId} [${t.result}] ${t.comment} ${t.flags.join(',')}: got ${verifyResultName(got)}`;
            expect(got === VerifyResult.Valid, what).toBe(accept);
            checked++;
          }
        } finally {
          wasm.call('rsa_key_free', handle);
        }
      }
      expect(checked).toBe(vectors.numberOfTests);
    });
  });
});

function expectedAcceptance(file: string, t: WycheproofTest): boolean {
  if (t.result === 'valid') return true;
  if (t.result === 'invalid') return false;
  const decision = ACCEPTABLE[file]?.[t.tcId];
  if (!decision) throw new Error(`${file} tcId ${t.tcId} is acceptable but not decided in ACCEPTABLE`);
  return decision[0];
}
