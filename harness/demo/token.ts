/**
 * `mesh-filters token`: mints a JWT (RFC 7519) for the demo with `jose`, signed HS256 with
 * the demo's shared secret or RS256/ES256 with the demo's keys (keys.ts), with the claims
 * the filters read: `sub`, `permissions` (seeds), `scope` (OAuth, space separated), `tier`
 * (rate-limit tiers), `serviceId` (the calling service of a service token), `exp`.
 *
 * HS256 tokens are the demo's service-to-service tokens (the seeds sign them with a shared
 * secret): they carry `serviceId: "eva-frontend"`, the seeds' calling service and one that
 * envoy/mesh.yaml allows, unless told otherwise. RS256/ES256 tokens are user tokens.
 */
import { importJWK, SignJWT, type JWTPayload } from 'jose';
import { DEMO_AUDIENCE, DEMO_HS256_KID, DEMO_HS256_SECRET, DEMO_ISSUER, loadDemoKeys, type DemoAlg } from './keys.ts';

export interface TokenOptions {
  alg?: DemoAlg;
  sub?: string;
  /** `permissions` claim (array of strings), e.g. `credit:read`. */
  permissions?: string[];
  /** `scope` claim (space-separated string). */
  scope?: string;
  /** `tier` claim: `authenticated`, `premium`... */
  tier?: string;
  /** `serviceId` claim; default `DEMO_SERVICE_ID` for HS256 tokens, none for the others; '' for none. */
  serviceId?: string;
  /** Lifetime in seconds from now; negative mints a token that expired that long ago. Default 3600. */
  expiresInSeconds?: number;
  iss?: string;
  /** `aud`; default the demo audience. */
  aud?: string;
  /** Overrides the key id in the header (to show unknown-`kid` handling). */
  kid?: string;
  /** More claims, merged last. */
  claims?: Record<string, unknown>;
  /** Seconds since the epoch used as "now" (tests). */
  now?: number;
}

/** The calling service of demo service tokens (HS256): the seeds' `eva-frontend`. */
export const DEMO_SERVICE_ID = 'eva-frontend';

/** Signs a demo token; resolves to the compact JWS (`header.payload.signature`). */
export async function mintDemoToken(opts: TokenOptions = {}): Promise<string> {
  const alg = opts.alg ?? 'HS256';
  const now = opts.now ?? Math.floor(Date.now() / 1000);
  const exp = now + (opts.expiresInSeconds ?? 3600);
  const payload: JWTPayload = {
    iss: opts.iss ?? DEMO_ISSUER,
    aud: opts.aud ?? DEMO_AUDIENCE,
    sub: opts.sub ?? 'demo-user',
    // An expired token was issued an hour before it expired, so that only `exp` is wrong with it.
    iat: exp > now ? now : exp - 3600,
    exp,
  };
  if (opts.permissions?.length) payload.permissions = opts.permissions;
  if (opts.scope) payload.scope = opts.scope;
  if (opts.tier) payload.tier = opts.tier;
  const serviceId = opts.serviceId ?? (alg === 'HS256' ? DEMO_SERVICE_ID : '');
  if (serviceId) payload.serviceId = serviceId;
  Object.assign(payload, opts.claims);

  let key: CryptoKey | Uint8Array;
  let kid: string;
  if (alg === 'HS256') {
    key = new TextEncoder().encode(DEMO_HS256_SECRET);
    kid = DEMO_HS256_KID;
  } else {
    const jwk = (await loadDemoKeys())[alg];
    key = (await importJWK(jwk, alg)) as CryptoKey;
    kid = String(jwk.kid);
  }
  return new SignJWT(payload).setProtectedHeader({ alg, typ: 'JWT', kid: opts.kid ?? kid }).sign(key);
}

/** Parses `"3600"`, `"90s"`, `"15m"`, `"1h"`, `"2d"` (optionally negative) into seconds; null when malformed. */
export function parseLifetime(text: string): number | null {
  const m = /^(-?\d+)([smhd]?)$/.exec(text.trim());
  if (!m) return null;
  return Number(m[1]) * { '': 1, s: 1, m: 60, h: 3600, d: 86400 }[m[2] as '' | 's' | 'm' | 'h' | 'd'];
}
