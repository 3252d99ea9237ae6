/**
 * RS256 and PS256 cases of the crypto benchmark: verification of a JWS-sized message
 * (a 300-byte signing input) under a 2048-bit key with e = 65537, the common JWKS key,
 * built once (assembly/crypto/rsa `RsaPublicKey`, test exports `rsa_verify_pkcs1` and
 * `rsa_verify_pss`), against node:crypto's `crypto.verify` with a prebuilt KeyObject.
 */
import { constants, generateKeyPairSync, randomBytes, sign, verify } from 'node:crypto';
import { HashAlg, VerifyResult, type CryptoModule } from '../../crypto/wasm.ts';
import type { CryptoBenchCase } from './case.ts';

function rsaCase(alg: string, pss: boolean, bits = 2048): CryptoBenchCase {
  return {
    alg,
    setup(wasm: CryptoModule) {
      const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: bits });
      const jwk = publicKey.export({ format: 'jwk' });
      const handle = wasm.call('rsa_key_new', Buffer.from(jwk.n!, 'base64url'), Buffer.from(jwk.e!, 'base64url'));
      if (wasm.call('rsa_key_status', handle) !== VerifyResult.Valid) throw new Error(`${alg}: key rejected`);
      const message = Buffer.from(randomBytes(225).toString('base64url'));
      const padding = pss
        ? { padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_DIGEST }
        : {};
      const signature = sign('sha256', message, { key: privateKey, ...padding });
      const nodeKey = { key: publicKey, ...padding };
      const exportName = pss ? 'rsa_verify_pss' : 'rsa_verify_pkcs1';
      return {
        wasm: () => wasm.call(exportName, handle, HashAlg.SHA256, message, signature) === VerifyResult.Valid,
        node: () => verify('sha256', message, nodeKey, signature),
      };
    },
  };
}

export const cases: CryptoBenchCase[] = [rsaCase('RS256', false), rsaCase('PS256', true)];
