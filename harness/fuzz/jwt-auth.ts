/**
 * Fuzz target `jwt-auth` (build/jwt-auth.wasm): tokens of every algorithm signed with the
 * run's keys (jwt-keys.ts) and then cut, spliced and re-encoded (standard base64,
 * padding, whitespace, percent escapes, case), headers and payloads with odd JSON
 * (duplicate names, lone surrogates, depth, wrong claim types, `crit`, `none`), wrong
 * `kid`s and algorithm confusion; one to five credentials per request in repeated
 * headers, parameters and cookies, with odd prefixes and forged claim headers;
 * configurations of one to three providers (local JWKS, garbled ones too, and at most
 * one remote provider whose JWKS fetches are answered with good, rotated and garbled
 * documents, odd statuses, resets and timeouts), requirement trees of every kind; the
 * fake clock crossing expiries, skews and fetch timeouts.
 *
 * The oracle is jwt-auth-model.ts (jose for every token, a model of the filter's rules
 * for the request). Checked per request: allow, deny or wait; the denial's status,
 * `www-authenticate`, `x-jwt-auth-reason`, body and details; for an allowed request
 * every header as it goes upstream (claim headers, credentials taken out, forged copies
 * gone). Per session: the `allowed` and `denied.<reason>` counters.
 */
import { createHmac } from 'node:crypto';
import path from 'node:path';
import { FilterHeadersStatus } from '../host/filter.ts';
import type { WasmEmulator } from '../host/emulator.ts';
import { chooseConfig, setField, unknownField, type Breaker } from './configs.ts';
import { Rng } from './json-gen.ts';
import { type FuzzKey, makeKeys } from './jwt-keys.ts';
import {
  type Decision, denial, DENIALS, joseCounts, type JwtAuthConfig, JwtAuthModel, type ModelJwk, parseJwksModel, type ProviderConfig, type RemoteKeys,
  type RequirementConfig,
} from './jwt-auth-model.ts';
import { genMatch, genPath, METHODS, RequestView } from './match.ts';
import { MAX_HEADER_BYTES, oddHeaders, oddValue, type Pair, utf8Bytes } from './odd.ts';
import { expectMetric, PROJECT_ROOT, type FilterTarget, type FuzzCase, localReplyProblem, memberPath, metricValue, START_MS, type SessionRun, tagged } from './session.ts';

export type JwtStep =
  | { t: 'req'; headers: Pair[]; response?: Pair[] }
  | { t: 'clock'; ms: number }
  /** Answers the oldest JWKS fetch the filter has in flight (none: nothing happens). */
  | { t: 'answer'; status: string; body: string }
  | { t: 'reset' };

const ISS = 'https://auth.mesh.test';
const OTHER_ISS = 'https://other.test';
const AUD = 'mesh-api';
const OTHER_AUD = 'other-api';
const NOW = START_MS / 1000;
const JWKS_URI = 'http://idp.internal/.well-known/jwks.json';

// ---- keys and tokens (made once per run, from its seed) ------------------------------------

interface Pool {
  keys: FuzzKey[];
  rsa1024: FuzzKey;
  hs16: FuzzKey;
  /** Well-formed tokens with claims most configurations accept. */
  valid: string[];
  /** Every token: odd claims, odd headers, other keys too. */
  tokens: string[];
}

let pool: Pool | null = null;
let poolSeed = -1;

const b64 = (text: string | Buffer): string => Buffer.from(text).toString('base64url');

/** A compact JWS of header and payload texts, signed by `key` with `alg`. */
function signText(key: FuzzKey, alg: string, header: string, payload: string): string {
  const input = `${b64(header)}.${b64(payload)}`;
  return `${input}.${key.sign(alg, Buffer.from(input)).toString('base64url')}`;
}

/** Claims of a token, with odd variants. */
function claimsText(rng: Rng, variant: number): string {
  const c: Record<string, unknown> = {
    iss: ISS,
    aud: rng.chance(0.7) ? AUD : [OTHER_AUD, AUD],
    sub: rng.pick(['user-1', 'user-2', 'alice', 'svc-a']),
    iat: NOW - 10,
    exp: NOW + rng.pick([3600, 86400, 30, 90, 600]),
  };
  if (rng.chance(0.5)) c.permissions = rng.pick([['read'], ['read', 'write'], ['admin'], []]);
  if (rng.chance(0.5)) c.scope = rng.pick(['read write', 'read', 'admin  write', '']);
  if (rng.chance(0.4)) c.tier = rng.pick(['premium', 'free', 'caf\u00e9', 'line\nbreak', 'tab\there', 7, true, { a: 'b' }]);
  if (rng.chance(0.3)) c.realm_access = { roles: rng.pick([['r1', 'r2'], ['r1'], [], ['r1', 3]]) };
  if (rng.chance(0.2)) c.email = 'e@x.test';
  switch (variant) {
    case 1: c.exp = NOW - rng.pick([61, 60, 59, 3600, 0]); break;
    case 2: c.nbf = NOW + rng.pick([59, 60, 61, 3600]); break;
    case 3: if (rng.chance(0.5)) c.iss = OTHER_ISS; else delete c.iss; break;
    case 4: if (rng.chance(0.5)) c.aud = [OTHER_AUD]; else delete c.aud; break;
    case 5: {
      const k = rng.pick(['sub', 'aud', 'exp', 'nbf', 'iat', 'iss']);
      c[k] = rng.pick([7, 'x', null, [1], { a: 1 }, ['a', 2], 1.5, -1]);
      break;
    }
    case 6:
      if (rng.chance(0.5)) delete c.exp;
      else c.exp = NOW + 10_000_000;
      if (rng.chance(0.5)) delete c.iat;
      break;
    case 7: {
      // JSON jose reads but assembly/json refuses (or both refuse)
      const text = JSON.stringify(c);
      return rng.pick([
        text.slice(0, -1) + ',"sub":"dup"}',
        text.slice(0, -1) + ',"x":"\\ud800"}',
        '[' + text + ']',
        text + ' x',
        text.slice(0, -1) + ',"deep":' + '['.repeat(33) + ']'.repeat(33) + '}',
        text.slice(0, -1) + ',"n":1e400}',
        text.slice(0, -1) + ',"s":"\xff"}',
        ' ' + text + '\n',
      ]);
    }
  }
  return JSON.stringify(c);
}

/** A JOSE header for `key` and `alg`, with odd variants. */
function headerText(rng: Rng, key: FuzzKey, alg: string, variant: number): string {
  const h: Record<string, unknown> = { alg };
  if (rng.chance(0.85)) h.kid = key.name;
  if (rng.chance(0.3)) h.typ = 'JWT';
  if (variant === 8) {
    switch (rng.int(7)) {
      case 0: h.kid = rng.pick(['nope', 7, null, '']); break;
      case 1: h.crit = ['exp']; break;
      case 2: h.alg = rng.pick(['none', 'hs256', 'RS1', 7]); break;
      case 3: return `{"alg":"${alg}","alg":"${alg}"}`;
      case 4: return rng.pick(['', '{}', '[]', 'null', `{"alg":"${alg}"`]);
      case 5: if (alg === 'EdDSA') h.alg = 'Ed25519'; break;
      default: h.kid = 'rsa-a';
    }
  }
  return JSON.stringify(h);
}

/** The run's keys and tokens (deterministic in `seed`). */
function makePool(seed: number): Pool {
  const rng = new Rng((seed ^ 0x6a77746b) >>> 0);
  const { usable, rsa1024, hs16 } = makeKeys(rng);
  const tokens: string[] = [];
  const valid: string[] = [];
  for (const key of [...usable, rsa1024, hs16]) {
    const algs = key.algs.length > 3 ? [key.algs[0], key.algs[3], rng.pick(key.algs), rng.pick(key.algs)] : key.algs;
    for (const alg of algs) {
      for (let variant = 0; variant <= 8; variant++) {
        // More of the valid ones, and of odd claim types and headers (one oddity each).
        for (let copies = variant === 0 ? 3 : variant === 5 || variant === 8 ? 4 : 1; copies > 0; copies--) {
          const token = signText(key, alg, headerText(rng, key, alg, variant), claimsText(rng, variant));
          tokens.push(token);
          if (variant === 0 && usable.includes(key)) valid.push(token);
        }
      }
    }
  }
  return { keys: usable, rsa1024, hs16, valid, tokens };
}

// ---- token mutations -----------------------------------------------------------------------------

/** A token for a request: from the pool, or cut, spliced, re-encoded, forged. */
function genToken(rng: Rng, p: Pool, recent: string[]): string {
  const base = recent.length > 0 && rng.chance(0.3) ? rng.pick(recent) : rng.pick(rng.chance(0.6) ? p.valid : p.tokens);
  if (rng.chance(0.65)) return base;
  const [h, pl, s] = base.split('.');
  switch (rng.int(12)) {
    case 0:
      return base.slice(0, rng.int(base.length));
    case 1: {
      const other = rng.pick(p.tokens).split('.');
      return rng.pick([`${h}.${other[1]}.${s}`, `${other[0]}.${pl}.${s}`, `${h}.${pl}.${other[2]}`]);
    }
    case 2: {
      const i = rng.int(base.length);
      const c = base.charCodeAt(i);
      return base.slice(0, i) + String.fromCharCode(rng.chance(0.5) ? c ^ 1 : 0x41 + rng.int(26)) + base.slice(i + 1);
    }
    case 3:
      return Buffer.from(s ?? '', 'base64url').toString('base64') !== s ? `${h}.${pl}.${Buffer.from(s ?? '', 'base64url').toString('base64')}` : `${h}=.${pl}.${s}`;
    case 4:
      return rng.pick([`${h}.${pl}.${s}=`, `${h}==.${pl}.${s}`, `${h}.${pl}=.${s}`]);
    case 5: {
      const i = rng.int(base.length + 1);
      return base.slice(0, i) + rng.pick([' ', '\t', '\x0b', '.', '..', '%2E', '%0A', '\xff', '=']) + base.slice(i);
    }
    case 6:
      return rng.pick([`${h}.${pl}`, `${h}.${pl}.${s}.x`, `.${pl}.${s}`, `${h}..${s}`, '...', '', 'x', 'null']);
    case 7: {
      // alg confusion: HS256 keyed with an RSA or EC public key's bytes, under its kid
      const target = rng.pick(p.keys.filter((k) => k.jwk.kty !== 'oct'));
      const hs = rng.pick(['HS256', 'HS384', 'HS512']);
      const secret = rng.chance(0.5) ? JSON.stringify(target.jwk) : Buffer.from((target.jwk.n ?? target.jwk.x) as string, 'base64url');
      const input = `${b64(JSON.stringify({ alg: hs, kid: target.name }))}.${pl}`;
      return `${input}.${createHmac(`sha${hs.slice(2)}`, secret).update(input).digest('base64url')}`;
    }
    case 8:
      return `${b64('{"alg":"none"}')}.${pl}.`;
    case 9:
      return base.repeat(1 + rng.int(40));
    case 10: {
      // re-signed with another key (right kid, wrong key)
      const key = rng.pick([...p.keys, p.rsa1024, p.hs16]);
      const alg = rng.pick(key.algs);
      const kid = rng.pick(p.keys).name;
      return signText(key, alg, JSON.stringify({ alg, kid }), Buffer.from(pl ?? '', 'base64url').toString('latin1'));
    }
    default:
      return base.toUpperCase() === base ? base.toLowerCase() : base.slice(0, -2) + base.slice(-2).toUpperCase();
  }
}

// ---- configuration ------------------------------------------------------------------------------

const PROVIDER_NAMES = ['users', 'svc', 'p_3'];
const CLAIM_HEADERS: Array<{ claim_name: string; header_name: string }> = [
  { claim_name: 'sub', header_name: 'x-user-id' },
  { claim_name: 'tier', header_name: 'x-user-tier' },
  { claim_name: 'realm_access.roles', header_name: 'x-roles' },
  { claim_name: 'permissions', header_name: 'X-Perm' },
  { claim_name: 'email', header_name: 'x-user-id' },
  { claim_name: 'nope', header_name: 'x-user-tier' },
];

/** A JWKS entry for `key`: its public JWK with or without `kid`, a pinned `alg`, `use`. */
function jwkEntry(rng: Rng, key: FuzzKey): Record<string, unknown> {
  const e: Record<string, unknown> = { ...key.jwk };
  if (rng.chance(0.9)) e.kid = key.name;
  if (rng.chance(0.25)) e.alg = rng.pick(key.algs);
  if (rng.chance(0.15)) e.use = 'sig';
  if (rng.chance(0.05)) e.key_ops = ['verify'];
  return e;
}

/** A JWKS document of `keys`, sometimes with entries for other uses, duplicates, or garbled. */
function jwksText(rng: Rng, p: Pool, keys: FuzzKey[], garble: boolean): string {
  const entries: unknown[] = keys.map((k) => jwkEntry(rng, k));
  if (rng.chance(0.1)) entries.push({ ...rng.pick(p.keys).jwk, kid: 'enc', use: 'enc' });
  if (rng.chance(0.05)) entries.push({ ...rng.pick(p.keys).jwk, key_ops: ['sign'] });
  if (garble) {
    switch (rng.int(10)) {
      case 0: entries.push({ kty: 'RSA', n: p.rsa1024.jwk.n, e: p.rsa1024.jwk.e, kid: 'rsa-1024' }); break;
      case 1: entries.push({ kty: 'oct', k: p.hs16.jwk.k, kid: 'hs16' }); break;
      case 2: {
        const ec = p.keys.find((k) => k.jwk.kty === 'EC')!.jwk;
        const y = Buffer.from(ec.y as string, 'base64url');
        y[y.length - 1] ^= 1;
        entries.push({ ...ec, y: y.toString('base64url'), kid: 'off-curve' });
        break;
      }
      case 3: entries.push({ kty: 'EC', crv: 'P-521', x: 'AA', y: 'AA' }); break;
      case 4: entries.push(rng.pick([{}, { kty: 7 }, { kty: 'RSA' }, { kty: 'oct', k: 'a+b/' }, { kty: 'OKP', crv: 'Ed25519', x: 'AAAA' }, 'str', null, { kty: 'RSA', n: 'AQAB', e: 'AQAB' }])); break;
      case 5: entries.push({ ...rng.pick(p.keys).jwk, alg: rng.pick(['none', 'HS256', 'ES384', 'RS1']) }); break;
      case 6: return rng.pick(['', 'x', '[]', '{}', '{"keys":{}}', '{"keys":[]}', '{"keys":null}']);
      case 7: return JSON.stringify({ keys: entries }).slice(0, -2);
      case 8: entries.push({ ...rng.pick(p.keys).jwk, kid: 5 });
        break;
      default: entries.push({ ...rng.pick(p.keys).jwk, key_ops: 'verify' });
    }
  }
  return JSON.stringify({ keys: entries });
}

function genRequirement(rng: Rng, names: string[], depth: number): RequirementConfig {
  const r = rng.int(depth > 1 ? 3 : 9);
  if (r <= 2 || r >= 7 || depth > 2) {
    const n: RequirementConfig = { provider_name: rng.pick(names) };
    if (rng.chance(0.3)) {
      n.claims = [rng.pick([
        { name: 'permissions', all_of: ['read'] },
        { name: 'scope', any_of: ['write', 'admin'] },
        { name: 'realm_access.roles', all_of: ['r1'] },
        { name: 'tier', any_of: ['premium'] },
        { name: 'missing', any_of: ['x'] },
      ])];
    }
    return n;
  }
  if (r === 3) return { allow_missing: true };
  if (r === 4) return { allow_missing_or_failed: true };
  const list: RequirementConfig[] = [];
  for (let i = 1 + rng.int(3); i > 0; i--) list.push(genRequirement(rng, names, depth + 1));
  return r === 5 ? { requires_any: list } : { requires_all: list };
}

interface Plan {
  config: JwtAuthConfig;
  /** The remote provider's JWKS server keys (null: no remote provider). */
  server: FuzzKey[] | null;
  /** Local JWKS texts the filter must refuse (garbled), by provider. */
  badLocal: string | null;
}

function genConfig(rng: Rng, p: Pool): Plan {
  const providers: Record<string, ProviderConfig> = {};
  const count = 1 + rng.int(3);
  let server: FuzzKey[] | null = null;
  let badLocal: string | null = null;
  for (let i = 0; i < count; i++) {
    const name = PROVIDER_NAMES[i];
    const c: ProviderConfig = {};
    if (rng.chance(0.7)) c.issuer = rng.chance(0.95) ? ISS : OTHER_ISS;
    if (rng.chance(0.5)) c.audiences = rng.chance(0.9) ? rng.pick([[AUD], [AUD, OTHER_AUD]]) : [OTHER_AUD];
    const keys = p.keys.filter(() => rng.chance(0.6));
    if (keys.length === 0) keys.push(rng.pick(p.keys));
    if (server === null && rng.chance(0.3)) {
      server = keys;
      c.remote_jwks = { http_uri: { uri: JWKS_URI, cluster: 'jwks', timeout: rng.pick(['1s', '0.5s', '2s']) } };
      if (rng.chance(0.4)) c.remote_jwks.cache_duration = rng.pick(['1s', '5s', '600s']);
    } else {
      const garble = rng.chance(0.04);
      const text = jwksText(rng, p, keys, garble);
      const model = parseJwksModel(utf8Bytes(text));
      if (!model.keys || model.rejected > 0) badLocal ??= `${memberPath('providers', name)}.local_jwks.inline_string`;
      c.local_jwks = { inline_string: text };
    }
    if (rng.chance(0.6)) {
      const headers = [{ name: 'authorization', value_prefix: 'Bearer ' }, { name: 'x-token' }, { name: 'X-Jwt', value_prefix: 'JWT ' }, { name: 'authorization', value_prefix: 'bearer' }];
      c.from_headers = headers.filter(() => rng.chance(0.4));
      if (rng.chance(0.5)) c.from_params = ['access_token', 'token'].filter(() => rng.chance(0.6));
      if (rng.chance(0.4)) c.from_cookies = ['jwt', 'session'].filter(() => rng.chance(0.6));
    }
    if (rng.chance(0.2)) c.forward = true;
    if (rng.chance(0.15)) c.forward_payload_header = 'x-jwt-payload';
    if (rng.chance(0.6)) c.claim_to_headers = CLAIM_HEADERS.filter(() => rng.chance(0.35));
    if (rng.chance(0.3)) c.clock_skew_seconds = rng.pick([0, 5, 60, 300]);
    if (rng.chance(0.15)) c.max_lifetime_seconds = rng.pick([3600, 7200, 100_000]);
    if (rng.chance(0.15)) c.require_expiration = rng.chance(0.7);
    if (rng.chance(0.2)) c.algorithms = (['HS256', 'RS256', 'PS256', 'ES256', 'ES384', 'EdDSA', 'HS512', 'Ed25519'] as const).filter(() => rng.chance(0.4));
    if (c.algorithms?.length === 0) delete c.algorithms;
    if (rng.chance(0.1)) c.subjects = rng.chance(0.5) ? { prefix: 'user-' } : { exact: 'alice' };
    providers[name] = c;
  }
  const names = Object.keys(providers);
  const rules: JwtAuthConfig['rules'] = [];
  for (let i = rng.int(4); i >= 0; i--) {
    const rule: JwtAuthConfig['rules'][number] = {};
    const m = (i === 0 && rng.chance(0.8)) || rng.chance(0.2) ? undefined : genMatch(rng);
    if (m) rule.match = m;
    // A rule without `requires` lets everything through: only behind a match.
    if (!m || rng.chance(0.85)) rule.requires = genRequirement(rng, names, 0);
    rules.push(rule);
  }
  const config: JwtAuthConfig = { providers, rules };
  if (rng.chance(0.2)) config.bypass_cors_preflight = true;
  if (rng.chance(0.4)) config.cache = { max_entries: rng.pick([0, 1, 4, 64]) };
  if (rng.chance(0.3)) config.on_jwks_unavailable = rng.pick(['deny', 'allow']);
  if (rng.chance(0.15)) config.max_token_bytes = rng.pick([256, 1024, 4096]);
  if (rng.chance(0.15)) config.forward_unverified = true;
  // A header that is written for upstream may not be where tokens are read.
  const tokenHeaders = new Set(placesOf(config).flatMap((p) => (p.kind === 'header' ? [p.name.toLowerCase()] : [])));
  for (const prov of Object.values(providers)) {
    prov.claim_to_headers = prov.claim_to_headers?.filter((c) => !tokenHeaders.has(c.header_name.toLowerCase()));
    if (prov.claim_to_headers?.length === 0) delete prov.claim_to_headers;
  }
  return { config, server, badLocal };
}

const providersOf = (c: JwtAuthConfig): Array<[string, any]> => Object.entries(c.providers).map(([n, p]) => [memberPath('providers', n), p]);
const rulesOf = (c: JwtAuthConfig): Array<[string, any]> => c.rules.map((r, i) => [`rules[${i}]`, r]);

const BREAKERS: Breaker[] = [
  unknownField((c) => [['', c], ...providersOf(c), ...rulesOf(c)]),
  setField(providersOf, 'clock_skew_seconds', (rng) => rng.pick([-1, 86401, 1.5])),
  setField(providersOf, 'algorithms', (rng) => rng.pick([['none'], ['hs256'], 'RS256'])),
  setField(providersOf, 'from_headers', (rng) => rng.pick([[{ name: 'bad name' }], [{ value_prefix: 'x' }], {}])),
  setField(providersOf, 'audiences', (rng) => rng.pick(['mesh-api', [1]])),
  setField(providersOf, 'subjects', (rng) => rng.pick([{ prefix: 'a', exact: 'b' }, {}, 'user-'])),
  (rng, c: JwtAuthConfig) => {
    const [name, p] = rng.pick(Object.entries(c.providers));
    delete p.local_jwks;
    p.remote_jwks = rng.pick([
      { http_uri: { uri: 'ftp://x/jwks', cluster: 'jwks' } },
      { http_uri: { uri: 'http://', cluster: 'jwks' } },
      { http_uri: { uri: 'http://a/b', cluster: 'jwks', timeout: '61s' } },
      { http_uri: { uri: 'http://a/b' } as never },
    ]);
    return `${memberPath('providers', name)}.remote_jwks`;
  },
  setField(rulesOf, 'requires', (rng) => rng.pick([
    { provider_name: 'nobody' },
    { allow_missing: false },
    { requires_any: [] },
    { provider_name: 'users', requires_all: [{ allow_missing: true }] },
    { requires_any: [{ allow_missing: true }], claims: [] },
    JSON.parse('{"requires_all":'.repeat(9) + '[{"allow_missing":true}]' + '}'.repeat(9)),
  ])),
  setField((c) => [['', c]], 'max_token_bytes', (rng) => rng.pick([255, 1048577, 'x'])),
  setField((c) => [['', c]], 'on_jwks_unavailable', (rng) => rng.pick(['maybe', true])),
  setField((c) => [['', c]], 'rules', (rng) => rng.pick([[], {}])),
  setField((c) => [['', c]], 'providers', (rng) => rng.pick([{}, [], { 'a-b': { local_jwks: { inline_string: '{"keys":[]}' } } }])),
  (rng, c: JwtAuthConfig) => {
    // a header written for upstream that is also where tokens are read
    const [name, p] = rng.pick(Object.entries(c.providers));
    let header = tokenHeader(p);
    if (header === null) {
      // Tokens only in params or cookies: give the provider a header to read them from too.
      header = 'x-token';
      p.from_headers = [...(p.from_headers ?? []), { name: header }];
    }
    p.claim_to_headers = [{ claim_name: 'sub', header_name: header }];
    return `${memberPath('providers', name)}.claim_to_headers[0].header_name`;
  },
  (rng, c: JwtAuthConfig) => {
    const [name, p] = rng.pick(Object.entries(c.providers));
    if (!p.local_jwks) return null;
    p.local_jwks.inline_string = rng.pick(['', 'x', '{"keys":[]}', '{"keys":[{"kty":"RSA"}]}']);
    return `${memberPath('providers', name)}.local_jwks.inline_string`;
  },
];

// ---- requests --------------------------------------------------------------------------------------

const PREFIXES = ['Bearer ', 'Bearer ', 'Bearer ', 'Bearer ', 'Bearer ', 'Bearer ', 'bearer ', 'BEARER\t', 'Bearer  ', 'Bearer', 'Basic ', '', 'JWT ', 'Bearer x '];

/** Where the configuration's providers read tokens (for requests that put them there). */
interface Place {
  kind: 'header' | 'param' | 'cookie';
  name: string;
  prefix: string;
}

function placesOf(config: JwtAuthConfig): Place[] {
  return Object.values(config.providers).flatMap(providerPlaces);
}

/** Where provider `p` reads tokens, in order, as the filter does (config.ts `readLocations`): Envoy's defaults when it names none. */
function providerPlaces(p: ProviderConfig): Place[] {
  const out: Place[] = [];
  for (const h of p.from_headers ?? []) out.push({ kind: 'header', name: h.name, prefix: h.value_prefix ?? '' });
  for (const q of p.from_params ?? []) out.push({ kind: 'param', name: q, prefix: '' });
  for (const c of p.from_cookies ?? []) out.push({ kind: 'cookie', name: c, prefix: '' });
  if (out.length === 0) out.push({ kind: 'header', name: 'authorization', prefix: 'Bearer ' }, { kind: 'param', name: 'access_token', prefix: '' });
  return out;
}

function genRequest(rng: Rng, p: Pool, recent: string[], places: Place[]): JwtStep {
  let target = genPath(rng);
  const headers: Pair[] = [[':method', rng.pick(METHODS)], [':path', target], [':authority', rng.pick(['api.mesh.test', 'a"b', ''])], [':scheme', rng.pick(['https', 'http', ''])]];
  if (rng.chance(0.03)) headers.splice(1 + rng.int(3), 1);
  const n = rng.chance(0.15) ? 0 : rng.chance(0.7) ? 1 : 2 + rng.int(4);
  let query = '';
  // Envoy refuses requests whose headers (`:path` included) pass max_request_headers_kb.
  let room = MAX_HEADER_BYTES - 4096 - target.length;
  for (let i = 0; i < n; i++) {
    let token = i > 0 && rng.chance(0.3) ? recent[recent.length - 1] ?? genToken(rng, p, recent) : genToken(rng, p, recent);
    token = token.slice(0, Math.max(0, Math.floor(room / (n - i))));
    room -= token.length + 32;
    if (!recent.includes(token)) recent.push(token);
    if (recent.length > 16) recent.shift();
    const place = rng.chance(0.6) ? rng.pick(places) : undefined;
    const kind = place ? { header: 0, param: 4, cookie: 7 }[place.kind] : rng.int(8);
    switch (kind) {
      case 0: case 1: case 2:
        headers.push(place ? [place.name, (rng.chance(0.9) ? place.prefix : rng.pick(PREFIXES)) + token] : ['authorization', rng.pick(PREFIXES) + token]);
        break;
      case 3:
        headers.push([rng.pick(['x-token', 'X-Token', 'x-jwt']), (rng.chance(0.3) ? 'JWT ' : '') + token]);
        break;
      case 4: case 5:
        query += `${query ? '&' : '?'}${place?.name ?? rng.pick(['access_token', 'token', 'access%5Ftoken', 'other'])}=${rng.chance(0.1) ? encodeURIComponent(token).replace(/-/g, '%2D') : token}`;
        break;
      default:
        headers.push(['cookie', `${rng.chance(0.5) ? 'a=1; ' : ''}${place?.name ?? rng.pick(['jwt', 'session', 'jwt2'])}=${rng.chance(0.1) ? `"${token}"` : token}${rng.chance(0.3) ? '; b=2' : ''}`]);
    }
  }
  if (query) {
    target = target.includes('?') ? target.replace('?', query + '&') : target.replace(/(#.*)?$/, (m) => query + m);
    headers[1] = [':path', target];
  }
  if (rng.chance(0.2)) headers.push([rng.pick(['x-user-id', 'x-user-tier', 'x-roles', 'x-perm', 'x-jwt-payload']), rng.pick(['admin', 'forged', ''])]);
  if (rng.chance(0.05)) headers.push(['origin', 'https://a.test'], ['access-control-request-method', 'GET']);
  if (rng.chance(0.1)) headers.push(['x-tier', rng.pick(['premium', 'free'])]);
  const used = headers.reduce((n, [k, v]) => n + k.length + v.length, 0);
  headers.push(...oddHeaders(rng, ['authorization', 'cookie', 'x-user-id'], used, headers.length));
  const step: JwtStep = { t: 'req', headers };
  if (rng.chance(0.1)) step.response = [[':status', '200'], ...oddHeaders(rng, [], 0, 1)];
  return step;
}

function genAnswer(rng: Rng, p: Pool, server: FuzzKey[]): JwtStep {
  if (rng.chance(0.08)) return { t: 'reset' };
  const status = rng.chance(0.85) ? '200' : rng.pick(['503', '404', '', 'abc', '200 ', '2000']);
  const keys = rng.chance(0.85) ? server : p.keys.filter(() => rng.chance(0.5));
  let body = jwksText(rng, p, keys, rng.chance(0.15));
  // Usable keys in a document over 1 MiB: refused for its size.
  if (rng.chance(0.01)) body = JSON.stringify({ keys: server.map((k) => ({ ...k.jwk, kid: k.name })), pad: 'x'.repeat(1 << 20) });
  return { t: 'answer', status, body };
}

function generate(rng: Rng, streams: number): FuzzCase<JwtStep> {
  const p = pool!;
  const plan = genConfig(rng, p);
  // A garbled local JWKS is the configuration's one error: no other is added.
  const choice = plan.badLocal ? { config: JSON.stringify(plan.config), expect: 'reject' as const, rejectPath: plan.badLocal } : chooseConfig(rng, plan.config, BREAKERS);
  const steps: JwtStep[] = [];
  const recent: string[] = [];
  const places = placesOf(plan.config);
  for (let i = 0; i < streams; i++) {
    if (rng.chance(0.1)) steps.push({ t: 'clock', ms: rng.chance(0.03) ? 600_000 : rng.pick([1, 50, 500, 999, 1000, 1001, 5000, 30_000, 61_000]) });
    if (plan.server && rng.chance(0.15)) steps.push(genAnswer(rng, p, plan.server));
    steps.push(genRequest(rng, p, recent, places));
  }
  return { ...choice, workers: 1, steps };
}

// ---- execution ------------------------------------------------------------------------------------------

interface Waiting {
  id: number;
  headers: Pair[];
}

/** The option of `options` the stream's observed outcome is, or why it is none of them. */
function observed(emu: WasmEmulator, id: number, view: RequestView, options: Decision[], waiting: boolean): Decision | string {
  const reply = emu.getSentLocalResponse(id);
  const resumed = emu.getContinueCalls(id).request > 0;
  const problems: string[] = [];
  for (const d of options) {
    if (d.kind === 'pending') {
      if (waiting && !reply && !resumed) return d;
      problems.push(`the model waits, the filter ${reply ? `denied ${reply.headers?.find(([k]) => k === 'x-jwt-auth-reason')?.[1]}` : 'let it through'}`);
      continue;
    }
    if (d.kind === 'deny') {
      if (!reply) {
        problems.push(`the model denies ${d.reason}, the filter ${waiting && !resumed ? 'waits' : 'let it through'}`);
        continue;
      }
      const want = denial(d.reason, view.header(':scheme'), view.header(':authority'), view.path);
      const got = (reply.headers ?? []).map(([k, v]) => `${k}: ${v}`).join('\n');
      const body = Buffer.from(reply.body as string | Uint8Array).toString('utf8');
      if (reply.status !== want.status || got !== want.headers.map(([k, v]) => `${k}: ${v}`).join('\n') || body !== want.body || reply.details !== want.details) {
        problems.push(`the model denies ${d.reason} (${want.status}), the filter sent ${reply.status} ${JSON.stringify(got)} ${body} ${reply.details}`);
        continue;
      }
      return d;
    }
    if (reply || (waiting && !resumed)) {
      problems.push(`the model allows, the filter ${reply ? `denied ${reply.headers?.find(([k]) => k === 'x-jwt-auth-reason')?.[1]}` : 'waits'}`);
      continue;
    }
    const got = new Map<string, string>();
    for (const [k, v] of emu.getCurrentRequestHeaders(id)) got.set(k, got.has(k) ? `${got.get(k)},${v}` : v);
    const diff: string[] = [];
    for (const name of new Set([...got.keys(), ...d.forwarded!.keys()])) {
      if (got.get(name) !== d.forwarded!.get(name)) diff.push(`${name}: ${JSON.stringify(got.get(name) ?? null)}, expected ${JSON.stringify(d.forwarded!.get(name) ?? null)}`);
    }
    if (diff.length === 0) return d;
    problems.push(`allowed, but upstream gets ${diff.join('; ')}`);
  }
  return problems.join(' | ');
}

async function execute(c: FuzzCase<JwtStep>, run: SessionRun): Promise<void> {
  const emu = run.emus[0];
  const config = JSON.parse(c.config) as JwtAuthConfig;
  const model = new JwtAuthModel(config);
  const remoteName = Object.entries(config.providers).find(([, p]) => p.remote_jwks)?.[0];
  const jose = { ...joseCounts };
  let remote: RemoteKeys = null;
  let mono = 0;
  const waiting: Waiting[] = [];
  const counts: Record<string, number> = {};
  const add = (name: string) => void (counts[name] = (counts[name] ?? 0) + 1);
  const fetchOk = () =>
    remoteName ? (metricValue(emu, [`jwt_auth.provider.${remoteName}.jwks_fetch_ok`, tagged('jwt_auth_provider_jwks_fetches_total', ['provider', remoteName, 'outcome', 'ok'])]) ?? 0) : 0;

  /** The decisions the model allows for a request now (both ways a wait for keys can end). */
  const decide = async (headers: Pair[]): Promise<Decision[]> => {
    try {
      const wait = await model.decide(headers, START_MS + mono, remote, 'wait');
      return wait.keysMattered ? [wait, await model.decide(headers, START_MS + mono, remote, 'without')] : [wait];
    } catch (e) {
      return run.fail(`oracle: ${(e as Error).message}`);
    }
  };
  /** Counts a decided stream (`d`: the model's decision it matched). */
  const settle = (d: Decision) => {
    if (d.via === 'rule') add(d.kind === 'allow' ? 'allowed' : d.reason);
    if (d.via === 'cors') add('cors');
    run.count(d.kind === 'allow' ? (d.via === 'rule' ? 'allowed' : `passed (${d.via === 'cors' ? 'cors' : 'no rule'})`) : `denied ${d.reason}`);
  };
  /** Streams the filter decided since they were paused: checked against the model now. */
  const checkWaiting = async () => {
    for (let i = 0; i < waiting.length; i++) {
      const w = waiting[i];
      if (!emu.getSentLocalResponse(w.id) && emu.getContinueCalls(w.id).request === 0) continue;
      waiting.splice(i--, 1);
      const options = (await decide(w.headers)).filter((d) => d.kind !== 'pending');
      const d = observed(emu, w.id, new RequestView(w.headers), options, false);
      if (typeof d === 'string') run.fail(`a request paused for keys, decided later: ${d}`);
      settle(d);
      emu.completeHttpContext(w.id);
    }
  };
  const advance = async (ms: number) => {
    // While requests wait for keys, step 1 ms at a time (for at most 10 s: the fetch times
    // out before), so that each is decided at the time the model uses.
    const before = fetchOk();
    for (let left = ms, fine = 10_000; left > 0; ) {
      const stepMs = waiting.length > 0 && fine > 0 ? 1 : left;
      emu.advanceClock(stepMs);
      mono += stepMs;
      left -= stepMs;
      fine -= stepMs;
      await checkWaiting();
    }
    if (fetchOk() !== before) run.fail('a JWKS fetch succeeded without an answer');
  };
  for (const step of c.steps) {
    if (step.t === 'clock') {
      await advance(step.ms);
      run.afterStep('none');
      continue;
    }
    if (step.t === 'answer' || step.t === 'reset') {
      if (emu.getPendingHttpCalls().length === 0) {
        run.afterStep('none');
        continue;
      }
      const before = fetchOk();
      if (step.t === 'reset') emu.failHttpCall();
      else emu.respondHttpCall({ headers: [[':status', step.status]], body: Buffer.from(step.body, 'latin1') });
      const accepted = fetchOk() > before;
      const parsed = step.t === 'answer' ? parseJwksModel(step.body) : { keys: null };
      const good = step.t === 'answer' && step.status === '200' && step.body.length <= 1 << 20 && parsed.keys !== null;
      if (accepted !== good) run.fail(`JWKS answer ${step.t === 'answer' ? `${JSON.stringify(step.status)} ${step.body.slice(0, 300)}` : 'reset'}: the filter ${accepted ? 'took' : 'refused'} it, the model ${good ? 'takes' : 'refuses'} it`);
      if (accepted) remote = parsed.keys as ModelJwk[];
      run.count(accepted ? 'jwks accepted' : 'jwks refused');
      await checkWaiting();
      run.afterStep('input');
      continue;
    }
    const options = await decide(step.headers);
    const id = emu.initializeHttpContext();
    const status = emu.callOnRequestHeaders(id, step.headers, true);
    const paused = status === FilterHeadersStatus.StopAllIterationAndWatermark && !emu.getSentLocalResponse(id);
    const d = observed(emu, id, new RequestView(step.headers), options, paused);
    if (typeof d === 'string') run.fail(d);
    const reply = emu.getSentLocalResponse(id);
    if (reply) {
      const bad = localReplyProblem(reply);
      if (bad) run.fail(bad);
    }
    if (paused) {
      waiting.push({ id, headers: step.headers });
      run.count('waits for keys');
    } else {
      if (!reply && status !== FilterHeadersStatus.Continue) run.fail(`allowed with status ${status}`);
      settle(d);
      if (!reply && step.response) emu.callOnResponseHeaders(id, step.response, true);
      emu.completeHttpContext(id);
    }
    run.afterStep('stream');
  }
  for (const w of waiting) emu.completeHttpContext(w.id);
  run.result.outcomes['jose signature checks'] = joseCounts.verified - jose.verified;
  run.result.outcomes['jose signature checks memoised'] = joseCounts.memoised - jose.memoised;
  // The counters, in either spelling (session.ts `metricValue`).
  expectMetric(run, emu, ['jwt_auth.allowed', 'jwt_auth_allowed_total'], counts.allowed ?? 0);
  expectMetric(run, emu, ['jwt_auth.cors_preflight_bypassed', 'jwt_auth_cors_preflight_bypassed_total'], counts.cors ?? 0);
  for (const reason of DENIALS) expectMetric(run, emu, [`jwt_auth.denied.${reason}`, tagged('jwt_auth_denied_total', ['reason', reason])], counts[reason] ?? 0);
}

export const jwtAuthTarget: FilterTarget<JwtStep> = {
  name: 'jwt-auth',
  rootId: 'jwt-auth',
  wasm: path.join(PROJECT_ROOT, 'build', 'jwt-auth.wasm'),
  buildTargets: ['jwt-auth'],
  async prepare(seed) {
    if (poolSeed !== seed) {
      pool = makePool(seed);
      poolSeed = seed;
    }
  },
  generate,
  execute,
  emulatorOptions: () => ({ clusters: ['jwks'] }),
};


/** The first header `p` reads tokens from (`providerPlaces`), null when it reads none. */
function tokenHeader(p: ProviderConfig): string | null {
  return providerPlaces(p).find((place) => place.kind === 'header')?.name ?? null;
}
