// Differential test: the same tokens judged by jwt-auth (on Envoy, --concurrency 1) and by
// the `jose` npm package as the oracle. Each run generates JWT_DIFF_CASES
// (default 2400) cases from a seed (JWT_DIFF_SEED, random by default, printed with every
// disagreement): valid tokens of every algorithm, tampered signatures, payloads and
// headers, wrong keys, unknown kids, expired and not-yet-valid tokens, wrong issuers and
// audiences, algorithm confusion and "none"; every decision (allow, 401, 403) must agree.
// Cases of two credentials (the token in `authorization` and in `?access_token=` too)
// follow the rule that every credential is verified and one provider names one identity:
// the same token twice is judged as one, a second, different token (valid or not) is 401.
//
// The oracle is jose's `jwtVerify` (signature, `iss`, `aud`, `exp`/`nbf` with the same 60 s
// tolerance); key selection follows filters.md (a `kid` selects, else every key of a
// fitting type is tried), since jose's JWKS helper refuses `oct` keys and more than one
// candidate. Cases stay clear of the exact time boundaries (Envoy runs on the real clock).
// Reported as skipped, with the reason, where there is no Envoy.
import { createHmac } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Pool } from 'undici';
import { decodeProtectedHeader, exportJWK, importJWK, jwtVerify, type JWK, type JWTPayload } from 'jose';
import { envoyAvailable, envoySuiteTitle, startEnvoy, type EnvoyProcess } from '../../harness/envoy/runner.ts';
import { testModule } from '../../harness/host/testing.ts';
import { type Alg, type SigningKey, b64json, makeKey, sign, wasmFilter } from '../filters/jwt-auth/harness.ts';
import { bootstrap } from './bootstrap.ts';

const CASES = Number(process.env.JWT_DIFF_CASES ?? 2400);
const SEED = Number(process.env.JWT_DIFF_SEED ?? Math.floor(Math.random() * 2 ** 31));
const ISS = 'https://idp.diff.test';
const AUD = 'diff-api';
const SKEW = 60;

/** A JWKS entry with its signing half; `algs` are the algorithms it may sign (its `alg`, or every fitting one). */
interface Entry {
  key: SigningKey;
  jwk: JWK;
  algs: Alg[];
  /** The private JWK of an asymmetric key (a CryptoKey serves one algorithm only). */
  priv?: JWK;
}

const signers = new Map<string, CryptoKey | Uint8Array>();

/** A signing key for `alg` from entry `x` (imported once per algorithm). */
async function signer(x: Entry, alg: Alg): Promise<CryptoKey | Uint8Array> {
  if (!x.priv) return x.key.key;
  const id = `${x.jwk.kid ?? x.jwk.x}|${alg}|${x === published.find((p) => p === x) ? 'p' : 'o'}`;
  let k = signers.get(id);
  if (!k) signers.set(id, (k = (await importJWK(x.priv, alg)) as CryptoKey));
  return k;
}

let proxy: EnvoyProcess;
let pool: Pool;
let published: Entry[];
let outsiders: Entry[];

/** mulberry32: a small seeded generator. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

const HASH_BYTES: Record<string, number> = { '256': 32, '384': 48, '512': 64 };

/** Whether JWK `jwk` may check a token with `alg` (filters.md: key type, curve, the key's own alg, HMAC key length). */
function fits(jwk: JWK, alg: string): boolean {
  if (jwk.alg !== undefined && jwk.alg !== alg) return false;
  if (/^HS(256|384|512)$/.test(alg)) return jwk.kty === 'oct' && Buffer.from(jwk.k!, 'base64url').length >= HASH_BYTES[alg.slice(2)];
  if (/^(RS|PS)(256|384|512)$/.test(alg)) return jwk.kty === 'RSA';
  if (alg === 'ES256') return jwk.kty === 'EC' && jwk.crv === 'P-256';
  if (alg === 'ES384') return jwk.kty === 'EC' && jwk.crv === 'P-384';
  if (alg === 'EdDSA') return jwk.kty === 'OKP' && jwk.crv === 'Ed25519';
  return false;
}

/** jose's verdict: 200, or 401 (not verified), or 403 (verified, but /scoped's permission missing). */
async function oracle(token: string, path: string, now: number): Promise<number> {
  let header: Record<string, unknown>;
  try {
    header = decodeProtectedHeader(token) as Record<string, unknown>;
  } catch {
    return 401;
  }
  const alg = header.alg;
  if (typeof alg !== 'string' || alg === 'none') return 401;
  if ('crit' in header) return 401;
  const kid = header.kid;
  const candidates = published.filter((e) => (kid === undefined || e.jwk.kid === kid) && fits(e.jwk, alg));
  for (const c of candidates) {
    try {
      const key = await importJWK({ ...c.jwk, alg }, alg);
      const { payload } = await jwtVerify(token, key, { algorithms: [alg], issuer: ISS, audience: AUD, clockTolerance: SKEW, currentDate: new Date(now * 1000) });
      if (path !== '/scoped') return 200;
      const perms = payload.permissions;
      return Array.isArray(perms) && perms.includes('diff:read') ? 200 : 403;
    } catch {
      // next candidate
    }
  }
  return 401;
}

async function entry(alg: Alg, kid: string | undefined, pinned: boolean): Promise<Entry> {
  const key = await makeKey(alg, kid ?? 'none');
  const jwk: JWK = { ...key.jwk };
  if (kid === undefined) delete jwk.kid;
  if (!pinned) delete jwk.alg;
  const all: Alg[] = ['HS256', 'HS384', 'HS512', 'RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'EdDSA'];
  const algs = all.filter((a) => fits(jwk, a));
  const priv = alg.startsWith('HS') ? undefined : await exportJWK(key.key as CryptoKey);
  if (!pinned && alg.startsWith('HS')) {
    // a 64-byte secret serves every HS algorithm
    const secret = Buffer.alloc(64, 0);
    for (let i = 0; i < 64; i++) secret[i] = (i * 37 + kid!.length) & 0xff;
    jwk.k = secret.toString('base64url');
    key.key = secret;
    return { key, jwk, algs: all.filter((a) => fits(jwk, a)) };
  }
  return { key, jwk, algs, priv };
}

const envoy = envoyAvailable();

interface Case {
  kind: string;
  token: string;
  path: string;
  /** A second credential, sent as `?access_token=`. */
  param?: string;
}

/** One generated case (see the kinds below); `now` is the oracle's and the tokens' clock. */
async function generate(rnd: () => number, now: number): Promise<Case> {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)];
  const e = pick(published);
  const alg = pick(e.algs);
  const claims: JWTPayload = { iss: ISS, aud: rnd() < 0.5 ? AUD : ['other', AUD], sub: `user-${Math.floor(rnd() * 1e6)}`, iat: now - 10, exp: now + 300 + Math.floor(rnd() * 3600) };
  if (rnd() < 0.3) claims.nbf = now - Math.floor(rnd() * 1000);
  if (rnd() < 0.5) claims.permissions = rnd() < 0.6 ? ['diff:read'] : ['diff:write'];
  const path = rnd() < 0.3 ? '/scoped' : '/resource';
  const kidOf = (x: Entry) => (x.jwk.kid === undefined || rnd() < 0.15 ? null : x.jwk.kid);
  const signWith = async (x: Entry, a: Alg, payload: JWTPayload, kid: string | null = kidOf(x)) => sign({ ...x.key, alg: a, key: await signer(x, a) }, payload, { kid });
  const kinds = ['valid', 'valid', 'valid', 'sig', 'payload', 'header', 'wrong-key', 'unknown-kid', 'expired', 'not-yet', 'issuer', 'audience', 'missing', 'confusion', 'none', 'garbage', 'repeat', 'second'];
  const kind = pick(kinds);
  switch (kind) {
    case 'repeat': {
      const token = await signWith(e, alg, claims);
      return { kind, token, path, param: token };
    }
    case 'second': {
      const other = await signWith(e, alg, { ...claims, sub: rnd() < 0.5 ? claims.sub : 'someone-else', jti: String(rnd()) });
      const [h, p, sig] = other.split('.');
      return { kind, token: await signWith(e, alg, claims), path, param: rnd() < 0.5 ? other : `${h}.${p}.${sig.slice(0, -4)}` };
    }
    case 'valid':
      return { kind, token: await signWith(e, alg, claims), path };
    case 'sig': {
      const [h, p, s] = (await signWith(e, alg, claims)).split('.');
      const sig = Buffer.from(s, 'base64url');
      sig[Math.floor(rnd() * sig.length)] ^= 1 << Math.floor(rnd() * 8);
      return { kind, token: `${h}.${p}.${sig.toString('base64url')}`, path };
    }
    case 'payload': {
      const [h, , s] = (await signWith(e, alg, claims)).split('.');
      const changed = { ...claims, sub: 'admin', permissions: ['diff:read'] };
      return { kind, token: `${h}.${b64json(changed)}.${s}`, path };
    }
    case 'header': {
      const [, p, s] = (await signWith(e, alg, claims)).split('.');
      const other = pick(published.filter((x) => x !== e && x.jwk.kid !== undefined));
      const otherAlg = pick(other.algs);
      return { kind, token: `${b64json({ alg: otherAlg, kid: other.jwk.kid })}.${p}.${s}`, path };
    }
    case 'wrong-key': {
      const o = pick(outsiders);
      return { kind, token: await signWith(o, pick(o.algs), claims, o.jwk.kid ?? null), path };
    }
    case 'unknown-kid':
      return { kind, token: await signWith(e, alg, claims, `kid-${Math.floor(rnd() * 1000)}`), path };
    case 'expired':
      return { kind, token: await signWith(e, alg, { ...claims, iat: now - 100_000, exp: now - SKEW - 5 - Math.floor(rnd() * 50_000) }), path };
    case 'not-yet':
      return { kind, token: await signWith(e, alg, { ...claims, nbf: now + SKEW + 5 + Math.floor(rnd() * 50_000) }), path };
    case 'issuer':
      return { kind, token: await signWith(e, alg, { ...claims, iss: rnd() < 0.5 ? 'https://evil.test' : undefined }), path };
    case 'audience':
      return { kind, token: await signWith(e, alg, { ...claims, aud: rnd() < 0.5 ? ['other'] : undefined }), path };
    case 'missing':
      return { kind, token: '', path };
    case 'confusion': {
      // HS* keyed with a public key's bytes (JWK JSON or raw modulus/point), under its kid
      const pub = pick(published.filter((x) => x.jwk.kty !== 'oct'));
      const hs = pick(['HS256', 'HS384', 'HS512'] as const);
      const input = `${b64json({ alg: hs, ...(pub.jwk.kid ? { kid: pub.jwk.kid } : {}) })}.${b64json(claims)}`;
      const secret = rnd() < 0.5 ? JSON.stringify(pub.jwk) : Buffer.from((pub.jwk.n ?? pub.jwk.x)!, 'base64url');
      const tag = createHmac(`sha${hs.slice(2)}`, secret).update(input).digest('base64url');
      return { kind, token: `${input}.${tag}`, path };
    }
    case 'none':
      return { kind, token: `${b64json({ alg: pick(['none', 'None', 'NONE']) })}.${b64json(claims)}.`, path };
    default: {
      const parts = (await signWith(e, alg, claims)).split('.');
      const i = Math.floor(rnd() * 3);
      parts[i] = parts[i].slice(0, Math.floor(rnd() * parts[i].length));
      return { kind: 'garbage', token: rnd() < 0.5 ? parts.join('.') : parts.slice(0, 2).join('.'), path };
    }
  }
}

async function filterStatus(c: Case): Promise<number> {
  const path = c.param === undefined ? c.path : `${c.path}?access_token=${encodeURIComponent(c.param)}`;
  const res = await pool.request({ path, method: 'GET', headers: c.token ? { authorization: `Bearer ${c.token}` } : {} });
  await res.body.dump();
  return res.statusCode;
}

describe.skipIf(!envoy.ok)(envoySuiteTitle(`jwt-auth on Envoy against jose (seed ${SEED}, ${CASES} cases)`, envoy), () => {
  beforeAll(async () => {
    const wasm = await testModule('jwt-auth');
    published = await Promise.all([
      entry('RS256', 'rsa-rs256', true),
      entry('PS256', 'rsa-any', false),
      entry('PS384', 'rsa-ps384', true),
      entry('ES256', 'ec256', true),
      entry('ES384', 'ec384', true),
      entry('ES256', undefined, false),
      entry('EdDSA', 'ed', true),
      entry('EdDSA', 'ed-any', false),
      entry('HS256', 'hs256', true),
      entry('HS384', 'hs384', true),
      entry('HS512', 'hs-any', false),
    ]);
    outsiders = await Promise.all([
      entry('RS512', 'rsa-rs256', false), // same kid as a published key, other key material
      entry('ES256', 'ec256', true),
      entry('ES384', 'ec384', true),
      entry('EdDSA', 'ed-any', false),
      entry('HS256', 'hs256', true),
    ]);
    const config = {
      providers: { p: { issuer: ISS, audiences: [AUD], clock_skew_seconds: SKEW, local_jwks: { inline_string: JSON.stringify({ keys: published.map((e) => e.jwk) }) } } },
      rules: [
        { match: { prefix: '/scoped' }, requires: { provider_name: 'p', claims: [{ name: 'permissions', all_of: ['diff:read'] }] } },
        { match: { prefix: '/' }, requires: { provider_name: 'p' } },
      ],
      cache: { max_entries: 500 },
    };
    proxy = await startEnvoy({
      portOverride: 0,
      concurrency: 1,
      availability: envoy,
      bootstrap: bootstrap({
        filters: [wasmFilter(wasm, config)],
        virtualHosts: [{ routes: [{ match: { prefix: '/' }, direct_response: { status: 200, body: { inline_string: 'ok' } } }] }],
        clusters: {},
      }),
    });
    pool = new Pool(`http://${proxy.listeners.ingress}`, { connections: 16 });
  }, 300_000);

  afterAll(async () => {
    await pool?.close();
    await proxy?.stop();
  });

  it('agrees on every decision', async () => {
    const rnd = prng(SEED);
    const now = Math.floor(Date.now() / 1000);
    const cases: Case[] = [];
    for (let i = 0; i < CASES; i++) cases.push(await generate(rnd, now));
    // Two credentials: one identity if they are the same token, else refused.
    const expected = await Promise.all(cases.map((c) => (c.param !== undefined && c.param !== c.token ? 401 : oracle(c.token, c.path, now))));
    const actual: number[] = new Array(cases.length);
    let next = 0;
    await Promise.all(Array.from({ length: 32 }, async () => {
      for (let i = next++; i < cases.length; i = next++) actual[i] = await filterStatus(cases[i]);
    }));
    const disagreements = cases.map((c, i) => ({ ...c, expected: expected[i], actual: actual[i] })).filter((d) => d.expected !== d.actual);
    const byKind: Record<string, number> = {};
    for (const c of cases) byKind[c.kind] = (byKind[c.kind] ?? 0) + 1;
    expect(disagreements.slice(0, 5), `seed ${SEED}: ${disagreements.length} disagreements (rerun with JWT_DIFF_SEED=${SEED})`).toEqual([]);
    expect(Object.keys(byKind).length, JSON.stringify(byKind)).toBe(16); // every kind of case was generated
    expect(expected.filter((s) => s === 200).length).toBeGreaterThan(CASES / 10); // the oracle allows a fair share
    expect(expected.filter((s) => s === 403).length).toBeGreaterThan(0);
  }, 120_000);
});
