/**
 * HS256/HS384/HS512 cases of the crypto benchmark: verification of a JWS-sized message
 * (a 300-byte signing input) with a key object built once (assembly/crypto/hmac.ts
 * `HmacKey`, test export `hmac_key_verify`), against node:crypto's HMAC of the same
 * message with a prebuilt secret KeyObject and `timingSafeEqual`.
 */
import { createHmac, createSecretKey, randomBytes, timingSafeEqual } from 'node:crypto';
import { HashAlg, VerifyResult, type CryptoModule } from '../../crypto/wasm.ts';
import type { CryptoBenchCase } from './case.ts';

function hmacCase(alg: string, hash: string, hashAlg: number, keyBytes: number): CryptoBenchCase {
  return {
    alg,
    setup(wasm: CryptoModule) {
      const secret = randomBytes(keyBytes);
      const handle = wasm.call('hmac_key_new', hashAlg, secret);
      const nodeKey = createSecretKey(secret);
      const message = Buffer.from(randomBytes(225).toString('base64url'));
      const tag = createHmac(hash, nodeKey).update(message).digest();
      return {
        wasm: () => wasm.call('hmac_key_verify', handle, message, tag) === VerifyResult.Valid,
        node: () => timingSafeEqual(createHmac(hash, nodeKey).update(message).digest(), tag),
      };
    },
  };
}

export const cases: CryptoBenchCase[] = [
  hmacCase('HS256', 'sha256', HashAlg.SHA256, 32),
  hmacCase('HS384', 'sha384', HashAlg.SHA384, 48),
  hmacCase('HS512', 'sha512', HashAlg.SHA512, 64),
];
