/**
 * ES256 and ES384 cases of the crypto benchmark: one verification of a JWS-sized message
 * (a 300-byte signing input) in the Wasm module with a key object imported once
 * (assembly/crypto/ec, test export `ecdsa_key_verify`), against node:crypto's
 * `crypto.verify` with a prebuilt KeyObject and `dsaEncoding: 'ieee-p1363'`.
 */
import { generateKeyPairSync, randomBytes, sign, verify } from 'node:crypto';
import type { CryptoModule } from '../../crypto/wasm.ts';
import type { CryptoBenchCase } from './case.ts';

const VALID = 0;

function ecdsaCase(alg: string, crv: number, namedCurve: string, hash: string): CryptoBenchCase {
  return {
    alg,
    setup(wasm: CryptoModule) {
      const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve });
      const jwk = publicKey.export({ format: 'jwk' });
      const handle = wasm.call('ecdsa_key_import', crv, Buffer.from(jwk.x!, 'base64url'), Buffer.from(jwk.y!, 'base64url'));
      if (handle < 0) throw new Error(`${alg}: key import failed`);
      const message = Buffer.from(randomBytes(225).toString('base64url'));
      const signature = sign(hash, message, { key: privateKey, dsaEncoding: 'ieee-p1363' });
      const nodeKey = { key: publicKey, dsaEncoding: 'ieee-p1363' as const };
      return {
        wasm: () => wasm.call('ecdsa_key_verify', handle, message, signature) === VALID,
        node: () => verify(hash, message, nodeKey, signature),
      };
    },
  };
}

export const cases: CryptoBenchCase[] = [
  ecdsaCase('ES256', 1, 'P-256', 'sha256'),
  ecdsaCase('ES384', 2, 'P-384', 'sha384'),
];
