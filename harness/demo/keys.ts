/**
 * The demo's signing keys, shared by `mesh-filters token` (which signs) and the demo's
 * JWKS endpoint (which publishes the public halves for jwt-auth's `remote_jwks`).
 *
 * - HS256: a fixed shared secret, as in the seeds' service-to-service tokens; jwt-auth
 *   gets it as an `oct` key in `local_jwks` (filters.md). Demo only: it is public.
 * - RS256 (RSA 2048) and ES256 (P-256): generated on first use into `build/demo/keys.json`
 *   (not committed), so no private key lives in the repository.
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { exportJWK, generateKeyPair, type JWK } from 'jose';

const projectRoot = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');

/** `iss` of demo tokens and jwt-auth's provider `issuer`. */
export const DEMO_ISSUER = 'https://auth.mesh-filters.local';
/** `aud` of demo tokens and jwt-auth's provider `audiences`. */
export const DEMO_AUDIENCE = 'mesh-demo';
/** The HS256 shared secret (UTF-8). Public: for the demo only. */
export const DEMO_HS256_SECRET = 'mesh-filters-demo-shared-secret-0123456789';
export const DEMO_HS256_KID = 'demo-hs256';

export type DemoAlg = 'HS256' | 'RS256' | 'ES256';

export interface DemoKeys {
  /** Private JWKs by algorithm, each with `kid` and `alg`. */
  RS256: JWK;
  ES256: JWK;
}

/** Where the generated key pairs are kept. */
export const DEMO_KEYS_FILE = path.join(projectRoot, 'build', 'demo', 'keys.json');

let memo: DemoKeys | undefined;

/** Loads the demo's RSA and EC key pairs, generating them the first time. */
export async function loadDemoKeys(file = DEMO_KEYS_FILE): Promise<DemoKeys> {
  if (memo && file === DEMO_KEYS_FILE) return memo;
  let keys: DemoKeys;
  try {
    keys = JSON.parse(readFileSync(file, 'utf8')) as DemoKeys;
  } catch {
    keys = { RS256: await generate('RS256'), ES256: await generate('ES256') };
    mkdirSync(path.dirname(file), { recursive: true });
    // Two first runs at once (demo + token) must not leave a torn file.
    const tmp = `${file}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify(keys, null, 2), { mode: 0o600 });
    renameSync(tmp, file);
    keys = JSON.parse(readFileSync(file, 'utf8')) as DemoKeys;
  }
  if (file === DEMO_KEYS_FILE) memo = keys;
  return keys;
}

async function generate(alg: 'RS256' | 'ES256'): Promise<JWK> {
  const { privateKey } = await generateKeyPair(alg, { extractable: true, ...(alg === 'RS256' ? { modulusLength: 2048 } : {}) });
  return { ...(await exportJWK(privateKey)), kid: `demo-${alg.toLowerCase()}`, alg, use: 'sig' };
}

/** The public JWK Set the demo's JWKS endpoint serves (RFC 7517 §5): the RSA and EC public keys. */
export async function demoJwks(file = DEMO_KEYS_FILE): Promise<{ keys: JWK[] }> {
  const keys = await loadDemoKeys(file);
  const pub = ({ d, p, q, dp, dq, qi, ...rest }: JWK): JWK => rest;
  return { keys: [pub(keys.RS256), pub(keys.ES256)] };
}

/** The HS256 secret as an `oct` JWK Set (RFC 7518 §6.4), for jwt-auth's `local_jwks.inline_string`. */
export function demoOctJwks(): { keys: JWK[] } {
  return {
    keys: [{ kty: 'oct', kid: DEMO_HS256_KID, alg: 'HS256', k: Buffer.from(DEMO_HS256_SECRET).toString('base64url') }],
  };
}
