/**
 * Keys and tokens of the Envoy bench's jwt-auth configurations: one key per algorithm
 * (HS256 shared secret, RSA 2048, P-256, Ed25519), made fresh each run, published in one
 * JWK Set that our filter and Envoy's `jwt_authn` both get inline; and pools of distinct
 * tokens (different `sub`, same claims otherwise), minted before the load starts.
 */
import { randomBytes } from 'node:crypto';
import { SignJWT, exportJWK, generateKeyPair, type JWK } from 'jose';

export type Alg = 'HS256' | 'RS256' | 'ES256' | 'EdDSA';
export const ALGS: readonly Alg[] = ['HS256', 'RS256', 'ES256', 'EdDSA'];

export const ISSUER = 'https://auth.bench.test';
export const AUDIENCE = 'bench-api';
/** Tokens live this long: longer than any bench run. */
const LIFETIME_S = 12 * 3600;

export interface BenchKeys {
  /** The public JWK Set (the `oct` key included: it is the verifier's secret too). */
  jwks: { keys: JWK[] };
  /** Mints a token of `alg` for subject `sub`. */
  mint(alg: Alg, sub: string): Promise<string>;
}

export async function makeKeys(): Promise<BenchKeys> {
  const secret = randomBytes(32);
  const signing: Partial<Record<Alg, CryptoKey | Uint8Array>> = { HS256: secret };
  const keys: JWK[] = [{ kty: 'oct', kid: 'hs256', alg: 'HS256', k: secret.toString('base64url') }];
  for (const alg of ['RS256', 'ES256', 'EdDSA'] as const) {
    const pair = await generateKeyPair(alg, { extractable: true, ...(alg === 'RS256' ? { modulusLength: 2048 } : {}), ...(alg === 'EdDSA' ? { crv: 'Ed25519' } : {}) });
    signing[alg] = pair.privateKey;
    keys.push({ ...(await exportJWK(pair.publicKey)), kid: alg.toLowerCase(), alg, use: 'sig' });
  }
  const now = Math.floor(Date.now() / 1000);
  return {
    jwks: { keys },
    mint: (alg, sub) =>
      new SignJWT({ sub, scope: 'bench:read' })
        .setProtectedHeader({ alg, kid: alg.toLowerCase(), typ: 'JWT' })
        .setIssuer(ISSUER)
        .setAudience(AUDIENCE)
        .setIssuedAt(now)
        .setExpirationTime(now + LIFETIME_S)
        .sign(signing[alg]!),
  };
}

/** `count` distinct tokens of `alg` (subjects `user-0`, `user-1`, ...). */
export function tokenPool(keys: BenchKeys, alg: Alg, count: number): Promise<string[]> {
  return Promise.all(Array.from({ length: count }, (_, i) => keys.mint(alg, `user-${i}`)));
}

/** `token` with its signature changed (still base64url of the right length). */
export function badSignature(token: string): string {
  const [h, p, s] = token.split('.');
  const sig = Buffer.from(s, 'base64url');
  sig[sig.length >> 1] ^= 0x5a;
  return `${h}.${p}.${sig.toString('base64url')}`;
}
