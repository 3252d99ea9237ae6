/**
 * EdDSA (Ed25519) case of the crypto benchmark: one verification of a JWS-sized message
 * (a 300-byte signing input) in the Wasm module with a key object imported once
 * (assembly/crypto/ed25519 `Ed25519PublicKey`, test export `ed25519_key_verify`), against
 * node:crypto's `crypto.verify(null, …)` with a prebuilt Ed25519 KeyObject.
 */
import { generateKeyPairSync, randomBytes, sign, verify } from 'node:crypto';
import type { CryptoModule } from '../../crypto/wasm.ts';
import type { CryptoBenchCase } from './case.ts';

const VALID = 0;

export const cases: CryptoBenchCase[] = [
  {
    alg: 'EdDSA',
    setup(wasm: CryptoModule) {
      const { publicKey, privateKey } = generateKeyPairSync('ed25519');
      const x = Buffer.from(publicKey.export({ format: 'jwk' }).x!, 'base64url');
      const handle = wasm.call('ed25519_key_import', x);
      if (handle < 0) throw new Error('EdDSA: key import failed');
      const message = Buffer.from(randomBytes(225).toString('base64url'));
      const signature = sign(null, message, privateKey);
      return {
        wasm: () => wasm.call('ed25519_key_verify', handle, message, signature) === VALID,
        node: () => verify(null, message, publicKey, signature),
      };
    },
  },
];
