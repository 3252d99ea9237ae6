/**
 * One algorithm of the crypto benchmark (harness/bench/crypto.ts): verification of one
 * fresh signature inside the Wasm module and through node:crypto, timed in the same run.
 * Each area (hmac, rsa, ecdsa, eddsa) exports `cases: CryptoBenchCase[]` from its own
 * file in this folder.
 */
import type { CryptoModule } from '../../crypto/wasm.ts';

export interface CryptoBenchCase {
  /** JWS algorithm name: RS256, PS256, ES256, ES384, EdDSA, HS256... */
  alg: string;
  /** Makes a key and a signature; returns one verification each way, both must return true. */
  setup(wasm: CryptoModule): { wasm: () => boolean; node: () => boolean };
}
