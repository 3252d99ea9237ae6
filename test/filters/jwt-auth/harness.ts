/**
 * Shared by the jwt-auth suites (and the Envoy ones in test/integration): key pairs of every
 * JWS algorithm (made with `jose`, the oracle of the differential suite), tokens signed with
 * them, and the filter's entry in an Envoy bootstrap. Modules and requests: harness/host/testing.ts.
 */
import { exportJWK, generateKeyPair, SignJWT, type JWK, type JWTPayload } from 'jose';
import { randomBytes } from 'node:crypto';
import { wasmHttpFilter } from '../../integration/wasm-filter.ts';

export const ROOT_ID = 'jwt-auth';
export const ISSUER = 'https://auth.mesh.test';
export const AUDIENCE = 'mesh-api';

/** The `envoy.filters.http.wasm` entry of a bootstrap running `wasm` as jwt-auth with `config`. */
export const wasmFilter = (wasm: string, config: unknown): Record<string, unknown> => wasmHttpFilter(ROOT_ID, wasm, config);

export const ASYMMETRIC = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'EdDSA'] as const;
export const SYMMETRIC = ['HS256', 'HS384', 'HS512'] as const;
export const ALGORITHMS = [...SYMMETRIC, ...ASYMMETRIC] as const;
export type Alg = (typeof ALGORITHMS)[number];

/** A signing key with its public JWK (`kid` = the key's name). */
export interface SigningKey {
  alg: Alg;
  kid: string;
  /** What `SignJWT.sign` takes. */
  key: CryptoKey | Uint8Array;
  /** The JWK a JWKS publishes (public half, or the `oct` secret). */
  jwk: JWK;
}

/** A fresh key for `alg` (RSA 2048; EC P-256 / P-384; Ed25519; HMAC secrets of the hash length). */
export async function makeKey(alg: Alg, kid: string = `${alg.toLowerCase()}-key`): Promise<SigningKey> {
  if (alg.startsWith('HS')) {
    const secret = randomBytes(Number(alg.slice(2)) / 8);
    return { alg, kid, key: secret, jwk: { kty: 'oct', kid, alg, k: Buffer.from(secret).toString('base64url') } };
  }
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true, ...(alg.startsWith('RS') || alg.startsWith('PS') ? { modulusLength: 2048 } : {}) });
  return { alg, kid, key: privateKey, jwk: { ...(await exportJWK(publicKey)), kid, alg } };
}

/** One key per algorithm. */
export async function makeKeys(prefix = ''): Promise<Record<Alg, SigningKey>> {
  const out = {} as Record<Alg, SigningKey>;
  await Promise.all(ALGORITHMS.map(async (alg) => (out[alg] = await makeKey(alg, `${prefix}${alg.toLowerCase()}`))));
  return out;
}

export function jwksOf(keys: SigningKey[]): { keys: JWK[] } {
  return { keys: keys.map((k) => k.jwk) };
}

/** Signs `payload` with `key` (header `alg`, `kid` unless `kid` is null). */
export function sign(key: SigningKey, payload: JWTPayload, header: { kid?: string | null; typ?: string } = {}): Promise<string> {
  const kid = header.kid === undefined ? key.kid : header.kid;
  return new SignJWT(payload).setProtectedHeader({ alg: key.alg, ...(kid !== null ? { kid } : {}), ...(header.typ ? { typ: header.typ } : {}) }).sign(key.key);
}

/** Claims of a token valid at `nowSeconds` for an hour. */
export function claims(nowSeconds: number, extra: JWTPayload = {}): JWTPayload {
  return { iss: ISSUER, aud: AUDIENCE, sub: 'alice', iat: nowSeconds, exp: nowSeconds + 3600, ...extra };
}

/** base64url of a JSON value (for hand-made tokens). */
export const b64json = (v: unknown): string => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');
