/**
 * Every vector of Wycheproof's ECDSA P1363 files for JWS ES256 and ES384 through
 * build/test/crypto.wasm: each key imported once from its JWK, `valid` must verify,
 * `invalid` must not, and `acceptable` cases follow the table below.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { loadCryptoModule, type CryptoModule } from '../../harness/crypto/wasm.ts';
import { loadVectors } from './wycheproof.ts';

const VALID = 0;

const FILES = [
  { file: 'ecdsa_secp256r1_sha256_p1363_test.json', crv: 1, jwkCrv: 'P-256', len: 32 },
  { file: 'ecdsa_secp384r1_sha384_p1363_test.json', crv: 2, jwkCrv: 'P-384', len: 48 },
];

/**
 * The group's key as JWK x/y bytes: from `publicKeyJwk`, or, for the few groups without
 * one, from `publicKey.wx`/`wy` (hex integers, sometimes with a leading 00) padded to size.
 */
function coordinates(group: Record<string, any>, jwkCrv: string, len: number): { x: Buffer; y: Buffer } {
  const jwk = group.publicKeyJwk;
  if (jwk) {
    expect(jwk.crv).toBe(jwkCrv);
    return { x: Buffer.from(jwk.x, 'base64url'), y: Buffer.from(jwk.y, 'base64url') };
  }
  const fixed = (h: string) => Buffer.from(BigInt('0x' + h).toString(16).padStart(2 * len, '0'), 'hex');
  return { x: fixed(group.publicKey.wx), y: fixed(group.publicKey.wy) };
}

/**
 * Choices for `acceptable` vectors, by file and tcId: true = we accept, with the reason.
 * These files have none today; a new one must be listed here or the test fails.
 */
const ACCEPTABLE: Record<string, Record<number, { accept: boolean; why: string }>> = {
  'ecdsa_secp256r1_sha256_p1363_test.json': {},
  'ecdsa_secp384r1_sha384_p1363_test.json': {},
};

let wasm: CryptoModule;
beforeAll(() => {
  wasm = loadCryptoModule();
});

describe.each(FILES)('Wycheproof $file', ({ file, crv, jwkCrv, len }) => {
  const vectors = loadVectors(file);

  it('runs every vector: valid verifies, invalid does not, acceptable as listed', () => {
    const failures: string[] = [];
    let run = 0;
    let validCount = 0;
    for (const group of vectors.groups) {
      const { x, y } = coordinates(group.raw, jwkCrv, len);
      const handle = wasm.call('ecdsa_key_import', crv, x, y);
      expect(handle, `key of group with ${group.tests.length} tests`).toBeGreaterThanOrEqual(0);
      for (const t of group.tests) {
        run++;
        const result = wasm.call('ecdsa_key_verify', handle, t.msg, t.sig);
        let expected: boolean;
        if (t.result === 'acceptable') {
          const choice = ACCEPTABLE[file][t.tcId];
          if (!choice) {
            failures.push(`tcId ${t.tcId} is acceptable (${t.flags.join(',')}) but has no entry in ACCEPTABLE`);
            continue;
          }
          expected = choice.accept;
        } else {
          expected = t.result === 'valid';
        }
        if (expected) validCount++;
        if ((result === VALID) !== expected) {
          failures.push(`tcId ${t.tcId} (${t.comment}; ${t.flags.join(',')}): expected ${t.result}, got code ${result}`);
        }
      }
    }
    wasm.call('ecdsa_keys_clear');
    expect(failures).toEqual([]);
    expect(run).toBe(vectors.numberOfTests);
    // Both outcomes are exercised (the files mix valid and invalid vectors).
    expect(validCount).toBeGreaterThan(0);
    expect(validCount).toBeLessThan(run);
  });

  it('lists only acceptable vectors that exist in the file', () => {
    const acceptable = new Set(vectors.groups.flatMap((g) => g.tests.filter((t) => t.result === 'acceptable').map((t) => t.tcId)));
    for (const id of Object.keys(ACCEPTABLE[file])) expect(acceptable.has(Number(id)), `tcId ${id}`).toBe(true);
  });
});
