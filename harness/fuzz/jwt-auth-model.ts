/**
 * The oracle of the jwt-auth fuzzer: `jose` judges every token (its signature against a
 * key, and its `iss`, `aud`, `exp`/`nbf` claims), and a model of the filter's documented
 * rules (filters.md, README "jwt-auth", the file comments of filters/jwt-auth) turns
 * those judgements into the decision for a request:
 *
 * - which credentials a rule looks at (every field of a token header, every repeated
 *   parameter, every cookie; more than 4: `jwt_too_many`), which location's
 *   `value_prefix` starts a header value (else `jwt_bad_format`);
 * - the filter's strictness before any signature, where it documents being stricter than
 *   jose (canonical unpadded base64url, JSON without duplicate names, `crit`, claim
 *   types), and the order of its checks: size, syntax, issuer, `algorithms`, keys
 *   (`kid` selects, else every key of a fitting type), signature, time, audience, subject;
 * - providers (one identity each: two different verified tokens are `jwt_ambiguous`),
 *   the requirement tree (`requires_any` keeps the most telling refusal), every
 *   credential verified by some provider of the rule, claim headers written by the first
 *   satisfied provider that maps them, credentials removed, client copies of written
 *   headers removed;
 * - the denial: status, `www-authenticate`, `x-jwt-auth-reason`, body, details.
 *
 * `jose` is asynchronous and slow (0.1–0.3 ms a signature here), so signatures are
 * memoised per distinct (token, key, alg): the fuzzer repeats tokens across requests and
 * sessions, and a signature's validity never changes. Claims go through jose's own
 * claim validation (`UnsecuredJWT.decode` over the same payload segment), which costs no
 * crypto, on every evaluation.
 *
 * Remote keys: the model knows the keys the filter holds (the last JWKS it accepted) but
 * not its fetch timing, so where the filter may wait for a fetch or go without (no keys
 * yet, an unknown `kid`) the model gives both outcomes and the filter's must be one.
 */
import { createPublicKey } from 'node:crypto';
import { compactVerify, importJWK, UnsecuredJWT, type JWK } from 'jose';
import { expectationFor } from './json-oracle.ts';
import type { Match } from './match.ts';
import { matches, pathLength, RequestView } from './match.ts';
import { asDecode, asEncode, type Pair, utf8Bytes } from './odd.ts';

// ---- configuration (the JSON the fuzzer writes) ------------------------------------

export interface ProviderConfig {
  issuer?: string;
  audiences?: string[];
  local_jwks?: { inline_string: string };
  remote_jwks?: { http_uri: { uri: string; cluster: string; timeout?: string }; cache_duration?: string };
  from_headers?: Array<{ name: string; value_prefix?: string }>;
  from_params?: string[];
  from_cookies?: string[];
  forward?: boolean;
  forward_payload_header?: string;
  claim_to_headers?: Array<{ claim_name: string; header_name: string }>;
  clock_skew_seconds?: number;
  max_lifetime_seconds?: number;
  require_expiration?: boolean;
  algorithms?: string[];
  subjects?: { prefix: string } | { exact: string };
}

export interface RequirementConfig {
  provider_name?: string;
  claims?: Array<{ name: string; all_of?: string[]; any_of?: string[] }>;
  requires_any?: RequirementConfig[];
  requires_all?: RequirementConfig[];
  allow_missing?: true;
  allow_missing_or_failed?: true;
}

export interface JwtAuthConfig {
  providers: Record<string, ProviderConfig>;
  rules: Array<{ match?: Match; requires?: RequirementConfig }>;
  bypass_cors_preflight?: boolean;
  cache?: { max_entries?: number };
  on_jwks_unavailable?: 'deny' | 'allow';
  max_token_bytes?: number;
  forward_unverified?: boolean;
}

// ---- the reason table (filters/jwt-auth/reasons.ts) -----------------------------------

const INVALID = 'invalid_token';
const TABLE: Record<string, [number, string, string]> = {
  jwt_missing: [401, 'missing_token', 'Jwt is missing'],
  jwt_too_large: [401, INVALID, 'Jwt is larger than the configured max_token_bytes'],
  jwt_bad_format: [401, INVALID, 'Jwt is not in the form of Header.Payload.Signature with two dots and 3 sections'],
  jwt_header_bad_base64: [401, INVALID, 'Jwt header is an invalid Base64url encoded'],
  jwt_header_bad_json: [401, INVALID, 'Jwt header is an invalid JSON'],
  jwt_header_bad_alg: [401, INVALID, 'Jwt header [alg] field is required and must be a string'],
  jwt_alg_not_supported: [401, INVALID, 'Jwt header [alg] is not supported'],
  jwt_header_bad_kid: [401, INVALID, 'Jwt header [kid] field is not a string'],
  jwt_header_crit_not_supported: [401, INVALID, 'Jwt header [crit] field is not supported'],
  jwt_payload_bad_base64: [401, INVALID, 'Jwt payload is an invalid Base64url encoded'],
  jwt_payload_bad_json: [401, INVALID, 'Jwt payload is an invalid JSON'],
  jwt_iss_not_string: [401, INVALID, 'Jwt payload [iss] field is not a string'],
  jwt_sub_not_string: [401, INVALID, 'Jwt payload [sub] field is not a string'],
  jwt_aud_not_string: [401, INVALID, 'Jwt payload [aud] field is not a string or string list'],
  jwt_exp_not_number: [401, INVALID, 'Jwt payload [exp] field is not a number'],
  jwt_nbf_not_number: [401, INVALID, 'Jwt payload [nbf] field is not a number'],
  jwt_iat_not_number: [401, INVALID, 'Jwt payload [iat] field is not a number'],
  jwt_signature_bad_base64: [401, INVALID, 'Jwt signature is an invalid Base64url encoded'],
  jwt_unknown_issuer: [401, INVALID, 'Jwt issuer is not configured'],
  jwks_kid_alg_mismatch: [401, INVALID, "Jwks doesn't have key to match kid or alg from Jwt"],
  jwks_unavailable: [401, INVALID, 'Jwks remote fetch is failed'],
  jwt_verification_failed: [401, INVALID, 'Jwt verification fails'],
  jwt_exp_required: [401, INVALID, 'Jwt payload [exp] field is required'],
  jwt_expired: [401, INVALID, 'Jwt is expired'],
  jwt_not_yet_valid: [401, INVALID, 'Jwt not yet valid'],
  jwt_iat_required: [401, INVALID, 'Jwt payload [iat] field is required by max_lifetime_seconds'],
  jwt_lifetime_too_long: [401, INVALID, 'Jwt lifetime is longer than max_lifetime_seconds'],
  jwt_audience_not_allowed: [401, INVALID, 'Audiences in Jwt are not allowed'],
  jwt_ambiguous: [401, INVALID, 'Jwts of more than one identity for one provider'],
  jwt_too_many: [401, INVALID, 'More Jwts in the request than are checked'],
  jwt_subject_not_allowed: [403, 'insufficient_scope', 'Jwt subject is not allowed'],
  jwt_claims_not_satisfied: [403, 'insufficient_scope', 'Jwt claims do not satisfy the requirement'],
};

/** The denial reasons, as the filter names them. */
export const DENIALS = Object.keys(TABLE);

/** `ok`, `pending`, `jwks_unavailable_allowed` (not denials), or a row of the table. */
export type Reason = 'ok' | 'pending' | 'jwks_unavailable_allowed' | keyof typeof TABLE;

export const isDenial = (r: Reason): boolean => r in TABLE;
const status = (r: Reason): number => TABLE[r]?.[0] ?? 200;
/** extractor.ts `telling`: missing 0, another provider's token 1, anything else 2. */
const telling = (r: Reason): number => (r === 'jwt_missing' ? 0 : r === 'jwt_unknown_issuer' || r === 'jwks_kid_alg_mismatch' ? 1 : 2);

/** The denial the filter sends for `reason` on a request whose `:scheme`, `:authority`, `:path` read as given. */
export function denial(reason: Reason, scheme: string | null, authority: string | null, path: string): { status: number; headers: Pair[]; body: string; details: string } {
  const [code, error, message] = TABLE[reason];
  const realm = `${scheme ? scheme : 'http'}://${authority ?? ''}${path.slice(0, Math.min(pathLength(path), 256))}`.replace(/["\\]/g, '\\$&');
  const challenge = `Bearer realm="${realm}"` + (error !== 'missing_token' ? `, error="${error}"` : '');
  return {
    status: code,
    headers: [['www-authenticate', asEncode(challenge)], ['x-jwt-auth-reason', reason], ['content-type', 'application/json']],
    body: JSON.stringify({ error, message }),
    details: `jwt_auth_access_denied{${reason}}`,
  };
}

// ---- tokens -------------------------------------------------------------------------------

const B64URL = /^[A-Za-z0-9_-]*$/;

/** The bytes of canonical unpadded base64url `s`, or null (assembly/crypto/base64url.ts). */
export function strictBase64url(s: string): Buffer | null {
  if (!B64URL.test(s) || s.length % 4 === 1) return null;
  const b = Buffer.from(s, 'base64url');
  return b.toString('base64url') === s ? b : null;
}

/** The document in `bytes` when assembly/json accepts it as an object within the limits. */
function strictObject(bytes: Buffer, maxDepth: number, maxBytes: number): Record<string, unknown> | null {
  if (!expectationFor(bytes, { maxDepth, maxBytes }).accept) return null;
  const v = JSON.parse(bytes.toString('utf8')) as unknown;
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : null;
}

export interface ParsedToken {
  token: string;
  /** `alg` of the header as written ("Ed25519" stays), and the algorithm it names. */
  algText: string;
  alg: string;
  kid?: string;
  payloadSegment: string;
  payload: Record<string, unknown>;
}

const ALG_NAMES = new Set(['HS256', 'HS384', 'HS512', 'RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'EdDSA']);

/** jwt.ts `parseJwt` on token bytes (latin1): the parsed token, or the reason it is refused. */
export function parseToken(token: string): ParsedToken | Reason {
  const parts = token.split('.');
  if (parts.length !== 3) return 'jwt_bad_format';
  const headerBytes = strictBase64url(parts[0]);
  if (!headerBytes) return 'jwt_header_bad_base64';
  const header = strictObject(headerBytes, 8, 16 << 10);
  if (!header) return 'jwt_header_bad_json';
  const alg = header.alg;
  if (typeof alg !== 'string') return 'jwt_header_bad_alg';
  const named = alg === 'Ed25519' ? 'EdDSA' : alg;
  if (!ALG_NAMES.has(named)) return 'jwt_alg_not_supported';
  if ('kid' in header && typeof header.kid !== 'string') return 'jwt_header_bad_kid';
  if ('crit' in header) return 'jwt_header_crit_not_supported';
  const payloadBytes = strictBase64url(parts[1]);
  if (!payloadBytes) return 'jwt_payload_bad_base64';
  const payload = strictObject(payloadBytes, 32, 1 << 20);
  if (!payload) return 'jwt_payload_bad_json';
  if ('iss' in payload && typeof payload.iss !== 'string') return 'jwt_iss_not_string';
  if ('sub' in payload && typeof payload.sub !== 'string') return 'jwt_sub_not_string';
  const aud = payload.aud;
  if ('aud' in payload && typeof aud !== 'string' && !(Array.isArray(aud) && aud.every((a) => typeof a === 'string'))) return 'jwt_aud_not_string';
  for (const [claim, reason] of [['exp', 'jwt_exp_not_number'], ['nbf', 'jwt_nbf_not_number'], ['iat', 'jwt_iat_not_number']] as const) {
    if (claim in payload && typeof payload[claim] !== 'number') return reason;
  }
  if (!strictBase64url(parts[2])) return 'jwt_signature_bad_base64';
  return { token, algText: alg, alg: named, kid: header.kid as string | undefined, payloadSegment: parts[1], payload };
}

// ---- JWKS (filters/jwt-auth/jwks.ts rules) ---------------------------------------------------

export interface ModelJwk {
  kid?: string;
  /** The key's own `alg`, when it pins one. */
  alg?: string;
  kty: 'RSA' | 'EC' | 'OKP' | 'oct';
  crv?: string;
  /** Secret length of an `oct` key. */
  octLength?: number;
  /** What jose imports. */
  jwk: JWK;
  id: string;
}

const KTY_OF: Record<string, string> = { HS: 'oct', RS: 'RSA', PS: 'RSA', ES: 'EC', Ed: 'OKP' };
const ktyOf = (alg: string): string => KTY_OF[alg.slice(0, 2)] ?? '';

function bits(b: Buffer): number {
  let i = 0;
  while (i < b.length && b[i] === 0) i++;
  if (i === b.length) return 0;
  return (b.length - i - 1) * 8 + (32 - Math.clz32(b[i]));
}

/** One JWK: the usable key, 'skip' (another use), or why it is rejected. */
function readJwk(k: unknown): ModelJwk | 'skip' | string {
  if (k === null || typeof k !== 'object' || Array.isArray(k)) return 'not an object';
  const o = k as Record<string, unknown>;
  if ('use' in o && o.use !== 'sig') return 'skip';
  if ('key_ops' in o) {
    if (!Array.isArray(o.key_ops)) return 'key_ops';
    if (!o.key_ops.includes('verify')) return 'skip';
  }
  if (!('kty' in o)) return 'kty missing';
  if (typeof o.kty !== 'string') return 'kty';
  if ('kid' in o && typeof o.kid !== 'string') return 'kid';
  if ('alg' in o && typeof o.alg !== 'string') return 'alg';
  const algText = o.alg as string | undefined;
  const alg = algText === undefined ? undefined : algText === 'Ed25519' ? 'EdDSA' : ALG_NAMES.has(algText) ? algText : '?';
  const base = { kid: o.kid as string | undefined, alg: alg === '?' ? undefined : alg };
  const b64 = (name: string): Buffer | null => (typeof o[name] === 'string' ? strictBase64url(o[name] as string) : null);
  switch (o.kty) {
    case 'RSA': {
      if (algText !== undefined && ktyOf(alg!) !== 'RSA') return 'alg';
      const n = b64('n');
      const e = b64('e');
      if (!n || !e) return 'n/e';
      const nBits = bits(n);
      const eBig = BigInt('0x' + (e.toString('hex') || '0'));
      const nBig = BigInt('0x' + (n.toString('hex') || '0'));
      if (nBits < 2048 || nBits > 4096 || nBig % 2n === 0n || eBig % 2n === 0n || eBig === 1n || eBig >= nBig) return 'rsa';
      return { ...base, kty: 'RSA', jwk: { kty: 'RSA', n: o.n as string, e: o.e as string }, id: `RSA:${o.n}:${o.e}` };
    }
    case 'EC': {
      if ('crv' in o && typeof o.crv !== 'string') return 'crv';
      if (algText !== undefined && alg !== 'ES256' && alg !== 'ES384') return 'alg';
      const crv = o.crv === undefined ? (alg === 'ES256' ? 'P-256' : alg === 'ES384' ? 'P-384' : undefined) : o.crv;
      if (crv !== 'P-256' && crv !== 'P-384') return 'crv';
      if (alg !== undefined && alg !== (crv === 'P-256' ? 'ES256' : 'ES384')) return 'crv/alg';
      const x = b64('x');
      const y = b64('y');
      const size = crv === 'P-256' ? 32 : 48;
      if (!x || !y || x.length !== size || y.length !== size) return 'x/y';
      const jwk: JWK = { kty: 'EC', crv, x: o.x as string, y: o.y as string };
      try {
        createPublicKey({ key: jwk as never, format: 'jwk' });
      } catch {
        return 'not on the curve';
      }
      return { ...base, kty: 'EC', crv, jwk, id: `EC:${crv}:${o.x}:${o.y}` };
    }
    case 'OKP': {
      if (algText !== undefined && alg !== 'EdDSA') return 'alg';
      if (o.crv !== 'Ed25519') return 'crv';
      const x = b64('x');
      if (!x || x.length !== 32) return 'x';
      return { ...base, kty: 'OKP', crv: 'Ed25519', jwk: { kty: 'OKP', crv: 'Ed25519', x: o.x as string }, id: `OKP:${o.x}` };
    }
    case 'oct': {
      if (algText !== undefined && ktyOf(alg!) !== 'oct') return 'alg';
      const k = b64('k');
      if (!k) return 'k';
      if (alg !== undefined && k.length < Number(alg.slice(2)) / 8) return 'short for alg';
      if (k.length < 32) return 'short';
      return { ...base, kty: 'oct', octLength: k.length, jwk: { kty: 'oct', k: o.k as string }, id: `oct:${o.k}` };
    }
    default:
      return 'kty';
  }
}

/** The usable keys of a JWKS document (bytes as latin1), null when none; `rejected` counts malformed keys. */
export function parseJwksModel(doc: string): { keys: ModelJwk[] | null; rejected: number } {
  const root = strictObject(Buffer.from(doc, 'latin1'), 16, 1 << 20);
  if (!root || !Array.isArray(root.keys)) return { keys: null, rejected: 0 };
  const keys: ModelJwk[] = [];
  let rejected = 0;
  for (const k of root.keys) {
    const r = readJwk(k);
    if (r === 'skip') continue;
    if (typeof r === 'string') rejected++;
    else keys.push(r);
  }
  return { keys: keys.length > 0 ? keys : null, rejected };
}

/** Whether `key` may check a token of `alg` (jwks.ts `Jwk.fits`). */
function fits(key: ModelJwk, alg: string): boolean {
  if (key.alg !== undefined && key.alg !== alg) return false;
  if (ktyOf(alg) !== key.kty) return false;
  if (key.kty === 'EC') return alg === (key.crv === 'P-256' ? 'ES256' : 'ES384');
  if (key.kty === 'oct') return alg === 'HS256' || key.alg === alg || (key.alg === undefined && key.octLength! >= Number(alg.slice(2)) / 8);
  return true;
}

// ---- jose --------------------------------------------------------------------------------------

const MEMO_LIMIT = 200_000;
const signatures = new Map<string, boolean>();
/** How often a signature was asked of jose, and how often the memo answered. */
export const joseCounts = { verified: 0, memoised: 0 };
const importedKeys = new Map<string, Promise<unknown>>();

/** Whether jose verifies `t` with `key` (memoised per token, key and alg). */
async function joseVerifies(t: ParsedToken, key: ModelJwk): Promise<boolean> {
  const memo = `${key.id}|${t.algText}|${t.token}`;
  const known = signatures.get(memo);
  if (known !== undefined) {
    joseCounts.memoised++;
    return known;
  }
  joseCounts.verified++;
  const keyId = `${key.id}|${t.algText}`;
  let imported = importedKeys.get(keyId);
  if (!imported) importedKeys.set(keyId, (imported = importJWK(key.jwk, t.algText).catch(() => null)));
  const k = await imported;
  let ok = false;
  if (k) ok = await compactVerify(t.token, k as never, { algorithms: [t.algText] }).then(() => true, () => false);
  if (signatures.size >= MEMO_LIMIT) signatures.clear();
  signatures.set(memo, ok);
  return ok;
}

/** jose's claim validation of `t`'s payload with `options` (no signature: an unsecured JWT over the same segment). */
function joseClaims(t: ParsedToken, options: Parameters<typeof UnsecuredJWT.decode>[1]): 'ok' | 'expired' | 'nbf' | string {
  try {
    UnsecuredJWT.decode(`eyJhbGciOiJub25lIn0.${t.payloadSegment}.`, options);
    return 'ok';
  } catch (e) {
    const err = e as { code?: string; claim?: string };
    if (err.code === 'ERR_JWT_EXPIRED') return 'expired';
    if (err.claim === 'nbf') return 'nbf';
    return err.claim ?? err.code ?? String(e);
  }
}

/** Past any time jose compares with, so that only the other claims decide. */
const NO_TIME = 1e15;

// ---- the filter's rules -------------------------------------------------------------------------

type Kind = 'header' | 'param' | 'cookie';

interface Location {
  kind: Kind;
  name: string;
  /** value_prefix as UTF-8 bytes (latin1). */
  prefix: string;
  provider: number;
}

interface Source {
  kind: Kind;
  name: string;
  readers: Location[];
  tolerated: boolean;
}

interface Provider {
  index: number;
  name: string;
  config: ProviderConfig;
  locations: Location[];
  local: ModelJwk[] | null;
  remote: boolean;
  skew: number;
  algorithms: Set<string> | null;
  claimHeaders: Array<{ claim: string; header: string }>;
  payloadHeader?: string;
}

interface Node {
  kind: 'provider' | 'any' | 'all';
  provider?: Provider;
  claims: Array<{ name: string; values: string[]; allOf: boolean }>;
  children: Node[];
  allowMissing: boolean;
  allowMissingOrFailed: boolean;
}

interface Rule {
  match?: Match;
  requires: Node | null;
  sources: Source[];
}

interface Credential {
  bytes: string;
  source: Source;
  occurrence: number;
  verified: boolean;
  remove: boolean;
  parsed: boolean;
  pending: boolean;
  unavailable: boolean;
  failure: Reason | null;
  failureProvider: number;
}

/** What the filter holds for the remote provider: its usable keys, or none yet. */
export type RemoteKeys = ModelJwk[] | null;

/** How a request the model cannot time ends where the filter may wait for keys. */
export type KeyMode = 'wait' | 'without';

export interface Decision {
  kind: 'allow' | 'deny' | 'pending';
  reason: Reason;
  /** Allowed: the request headers as they go on, name → values joined with ",". */
  forwarded?: Map<string, string>;
  /** The evaluation met the remote provider without its keys (or an unknown kid): the other mode may differ. */
  keysMattered: boolean;
  /** What the filter counts: a rule's decision, a request no rule checks, a CORS preflight. */
  via: 'rule' | 'none' | 'cors';
}

function node(c: RequirementConfig, providers: Provider[]): Node {
  const n: Node = { kind: 'provider', claims: [], children: [], allowMissing: false, allowMissingOrFailed: false };
  const all = (): Node[] => providers.map((p) => ({ kind: 'provider', provider: p, claims: [], children: [], allowMissing: false, allowMissingOrFailed: false }));
  if (c.provider_name !== undefined) {
    n.provider = providers.find((p) => p.name === c.provider_name)!;
    n.claims = (c.claims ?? []).map((x) => ({ name: x.name, values: (x.all_of ?? x.any_of)!, allOf: x.all_of !== undefined }));
  } else if (c.requires_any || c.requires_all) {
    n.kind = c.requires_any ? 'any' : 'all';
    for (const child of (c.requires_any ?? c.requires_all)!) {
      if (n.kind === 'any' && (child.allow_missing || child.allow_missing_or_failed)) {
        n.allowMissing ||= child.allow_missing === true;
        n.allowMissingOrFailed ||= child.allow_missing_or_failed === true;
      } else n.children.push(node(child, providers));
    }
    if (n.kind === 'any' && n.children.length === 0) n.children = all();
  } else {
    n.kind = 'any';
    n.allowMissing = c.allow_missing === true;
    n.allowMissingOrFailed = c.allow_missing_or_failed === true;
    n.children = all();
  }
  return n;
}

/** The rule's token sources: headers, then parameters, then cookies (config.ts `ruleSources`). */
function ruleSources(requires: Node, providers: Provider[]): Source[] {
  const use = new Array<number>(providers.length).fill(0);
  const mark = (n: Node, tolerant: boolean): void => {
    if (n.kind === 'provider') use[n.provider!.index] = Math.max(use[n.provider!.index], tolerant ? 1 : 2);
    else for (const c of n.children) mark(c, tolerant || (n.kind === 'any' && n.allowMissingOrFailed));
  };
  mark(requires, false);
  const out: Source[] = [];
  for (const kind of ['header', 'param', 'cookie'] as Kind[]) {
    for (const p of providers) {
      if (use[p.index] === 0) continue;
      for (const l of p.locations) {
        if (l.kind !== kind) continue;
        let s = out.find((x) => x.kind === kind && x.name === l.name);
        if (!s) out.push((s = { kind, name: l.name, readers: [], tolerated: true }));
        s.readers.push(l);
        if (use[p.index] === 2) s.tolerated = false;
      }
    }
  }
  return out;
}

/** `%XX` decoded over the string's UTF-8 (extractor.ts `percentDecode`). */
function percentDecode(s: string): string {
  if (!s.includes('%')) return s;
  const b = asEncode(s);
  let out = '';
  for (let i = 0; i < b.length; i++) {
    const hi = parseInt(b.charAt(i + 1), 16);
    const lo = parseInt(b.charAt(i + 2), 16);
    if (b.charCodeAt(i) === 0x25 && i + 2 < b.length && /[0-9a-fA-F]/.test(b.charAt(i + 1)) && /[0-9a-fA-F]/.test(b.charAt(i + 2))) {
      out += String.fromCharCode((hi << 4) | lo);
      i += 2;
    } else out += b.charAt(i);
  }
  return asDecode(out);
}

/** The `name=value` parts of a path's query (extractor.ts `QueryParts`). */
function queryParts(path: string): { base: string; fragment: string; parts: Array<{ text: string; name: string; value: string }> } | null {
  const q = path.indexOf('?');
  if (q < 0) return null;
  let limit = path.indexOf('#', q);
  if (limit < 0) limit = path.length;
  const parts: Array<{ text: string; name: string; value: string }> = [];
  for (let end = q; end < limit; ) {
    const from = end + 1;
    let amp = path.indexOf('&', from);
    if (amp < 0 || amp > limit) amp = limit;
    const eq = path.indexOf('=', from);
    const nameEnd = eq >= 0 && eq < amp ? eq : amp;
    parts.push({ text: path.slice(from, amp), name: path.slice(from, nameEnd), value: nameEnd < amp ? path.slice(nameEnd + 1, amp) : '' });
    end = amp;
  }
  return { base: path.slice(0, q), fragment: path.slice(limit), parts };
}

const isSpace = (c: number): boolean => c === 0x20 || c === 0x09;

/** The pairs of one `cookie` field (bytes): raw text, name (null: no `=`), value (extractor.ts `CookiePairs`). */
function cookiePairs(field: string): Array<{ text: string; name: string | null; value: string }> {
  const out: Array<{ text: string; name: string | null; value: string }> = [];
  let i = 0;
  const n = field.length;
  for (;;) {
    while (i < n && (isSpace(field.charCodeAt(i)) || field.charCodeAt(i) === 0x3b)) i++;
    if (i >= n) return out;
    const from = i;
    let semi = i;
    while (semi < n && field.charCodeAt(semi) !== 0x3b) semi++;
    let end = semi;
    while (end > from && isSpace(field.charCodeAt(end - 1))) end--;
    i = semi;
    const eq = field.indexOf('=', from);
    if (eq < 0 || eq >= end) {
      out.push({ text: field.slice(from, end), name: null, value: '' });
      continue;
    }
    let nameEnd = eq;
    while (nameEnd > from && isSpace(field.charCodeAt(nameEnd - 1))) nameEnd--;
    let v = eq + 1;
    while (v < end && isSpace(field.charCodeAt(v))) v++;
    let ve = end;
    if (ve - v >= 2 && field.charCodeAt(v) === 0x22 && field.charCodeAt(ve - 1) === 0x22) {
      v++;
      ve--;
    }
    out.push({ text: field.slice(from, end), name: field.slice(from, nameEnd), value: field.slice(v, ve) });
  }
}

/** The token a location reads from a credential (extractor.ts `tokenAt`), or null. */
function tokenAt(l: Location, c: Credential): string | null {
  if (l.kind !== 'header') return c.bytes;
  let s = c.bytes;
  if (l.prefix.length > 0) {
    if (s.length < l.prefix.length) return null;
    for (let i = 0; i < l.prefix.length; i++) {
      const a = s.charCodeAt(i);
      const b = l.prefix.charCodeAt(i);
      if (a !== b && !((a | 0x20) === (b | 0x20) && (b | 0x20) >= 0x61 && (b | 0x20) <= 0x7a)) return null;
    }
    s = s.slice(l.prefix.length);
  }
  return s.replace(/^[ \t]+|[ \t]+$/g, '');
}

/** A claim by literal name, else by dot path; JSON null is absent (claims.ts `ClaimPath`). */
function lookup(payload: Record<string, unknown>, name: string): unknown {
  let v: unknown;
  if (Object.prototype.hasOwnProperty.call(payload, name)) v = payload[name];
  else if (name.includes('.')) {
    v = payload;
    for (const seg of name.split('.')) {
      if (v === null || typeof v !== 'object' || Array.isArray(v) || !Object.prototype.hasOwnProperty.call(v, seg)) return undefined;
      v = (v as Record<string, unknown>)[seg];
    }
  } else return undefined;
  return v === null ? undefined : v;
}

/** Whether `text` is `value` or holds it between spaces (claims.ts `spaceListHas`). */
function spaceListHas(text: string, value: string): boolean {
  if (value === '') return text === '';
  for (let at = text.indexOf(value); at >= 0; at = text.indexOf(value, at + 1)) {
    const end = at + value.length;
    if ((at === 0 || text.charCodeAt(at - 1) === 0x20) && (end === text.length || text.charCodeAt(end) === 0x20)) return true;
  }
  return false;
}

function satisfies(payload: Record<string, unknown>, c: Node['claims'][number]): boolean {
  const v = lookup(payload, c.name);
  if (v === undefined || (typeof v !== 'string' && !Array.isArray(v))) return false;
  for (const want of c.values) {
    const has = typeof v === 'string' ? spaceListHas(v, want) : v.some((x) => x === want);
    if (has !== c.allOf) return has;
  }
  return c.allOf;
}

/** The `claim_to_headers` value of `v` as bytes, or null when nothing is written (claims.ts `claimHeaderBytes`). */
function claimHeader(v: unknown): string | null {
  if (v === undefined) return null;
  const text = Array.isArray(v) ? v.map((x) => (typeof x === 'string' ? x : JSON.stringify(x))).join(',') : typeof v === 'string' ? v : JSON.stringify(v);
  const bytes = utf8Bytes(text);
  return /[\x00-\x08\x0a-\x1f\x7f]/.test(bytes) ? null : bytes;
}

/** The model of one jwt-auth configuration. */
export class JwtAuthModel {
  readonly providers: Provider[];
  readonly rules: Rule[];
  readonly sanitized: string[];
  readonly sanitizeFirst: boolean;
  readonly maxTokenBytes: number;
  readonly allowUnavailable: boolean;
  readonly forwardUnverified: boolean;
  readonly bypassCors: boolean;

  constructor(readonly config: JwtAuthConfig) {
    this.providers = Object.entries(config.providers).map(([name, p], index) => {
      const locations: Location[] = [];
      for (const h of p.from_headers ?? []) locations.push({ kind: 'header', name: h.name.toLowerCase(), prefix: utf8Bytes(h.value_prefix ?? ''), provider: index });
      for (const q of p.from_params ?? []) locations.push({ kind: 'param', name: q, prefix: '', provider: index });
      for (const c of p.from_cookies ?? []) locations.push({ kind: 'cookie', name: c, prefix: '', provider: index });
      if (locations.length === 0) {
        locations.push({ kind: 'header', name: 'authorization', prefix: 'Bearer ', provider: index }, { kind: 'param', name: 'access_token', prefix: '', provider: index });
      }
      return {
        index,
        name,
        config: p,
        locations,
        local: p.local_jwks ? parseJwksModel(utf8Bytes(p.local_jwks.inline_string)).keys : null,
        remote: p.remote_jwks !== undefined,
        skew: p.clock_skew_seconds ?? 60,
        algorithms: p.algorithms?.length ? new Set(p.algorithms.map((a) => (a === 'Ed25519' ? 'EdDSA' : a))) : null,
        claimHeaders: (p.claim_to_headers ?? []).map((c) => ({ claim: c.claim_name, header: c.header_name.toLowerCase() })),
        payloadHeader: p.forward_payload_header?.toLowerCase(),
      };
    });
    this.rules = config.rules.map((r) => {
      const requires = r.requires ? node(r.requires, this.providers) : null;
      return { match: r.match, requires, sources: requires ? ruleSources(requires, this.providers) : [] };
    });
    const sanitized: string[] = [];
    for (const p of this.providers) {
      for (const h of [p.payloadHeader, ...p.claimHeaders.map((c) => c.header)]) if (h !== undefined && !sanitized.includes(h)) sanitized.push(h);
    }
    this.sanitized = sanitized;
    this.bypassCors = config.bypass_cors_preflight ?? false;
    this.sanitizeFirst =
      sanitized.length > 64 ||
      this.rules.some((r) => (r.match?.headers ?? []).some((h) => sanitized.includes(h.name.toLowerCase()))) ||
      (this.bypassCors && (sanitized.includes('origin') || sanitized.includes('access-control-request-method'))) ||
      (sanitized.includes('cookie') && this.providers.some((p) => p.locations.some((l) => l.kind === 'cookie')));
    this.maxTokenBytes = config.max_token_bytes ?? 8192;
    this.allowUnavailable = config.on_jwks_unavailable === 'allow';
    this.forwardUnverified = config.forward_unverified ?? false;
  }

  /**
   * The decision for a request with headers `pairs` at `nowMs`, the remote provider
   * holding `remote`, where waiting for keys ends as `mode` says.
   */
  async decide(pairs: readonly Pair[], nowMs: number, remote: RemoteKeys, mode: KeyMode): Promise<Decision> {
    let request = new RequestView(pairs).pairs;
    const unsanitized = (): Pair[] => request.filter(([k]) => !this.sanitized.includes(k));
    if (this.sanitizeFirst) request = unsanitized();
    const view = new RequestView(request);
    const pass = (via: Decision['via']): Decision => ({ kind: 'allow', reason: 'ok', forwarded: joined(unsanitized()), keysMattered: false, via });
    if (this.bypassCors && view.method === 'OPTIONS' && view.header('origin') !== null && view.header('access-control-request-method') !== null) return pass('cors');
    const rule = this.rules.find((r) => matches(r.match, view));
    if (!rule || !rule.requires) return pass('none');
    return new Evaluation(this, rule, request, view, nowMs, remote, mode).run();
  }
}

/** Name → values joined with "," (the host joins re-added inline headers so). */
function joined(pairs: readonly Pair[]): Map<string, string> {
  const m = new Map<string, string>();
  for (const [k, v] of pairs) m.set(k, m.has(k) ? `${m.get(k)},${v}` : v);
  return m;
}

/** One evaluation of a rule for a request (authenticator.ts, requirements.ts). */
class Evaluation {
  private readonly credentials: Credential[] = [];
  private tooMany = false;
  private readonly outcomes = new Map<number, { reason: Reason; jwt: ParsedToken | null }>();
  private satisfied: number[] = [];
  keysMattered = false;

  constructor(
    private readonly model: JwtAuthModel,
    private readonly rule: Rule,
    private readonly request: Pair[],
    private readonly view: RequestView,
    private readonly nowMs: number,
    private readonly remote: RemoteKeys,
    private readonly mode: KeyMode,
  ) {
    this.collect();
  }

  private add(bytes: string, source: Source, occurrence: number): boolean {
    if (this.credentials.length === 4) {
      this.tooMany = true;
      return false;
    }
    this.credentials.push({ bytes, source, occurrence, verified: false, remove: false, parsed: false, pending: false, unavailable: false, failure: null, failureProvider: -1 });
    return true;
  }

  /** extractor.ts `collectCredentials`. */
  private collect(): void {
    for (const s of this.rule.sources) {
      if (this.tooMany) return;
      if (s.kind === 'header') {
        this.view.all(s.name).every((v, k) => this.add(v, s, k));
      } else if (s.kind === 'param') {
        const q = queryParts(this.view.path);
        let occurrence = 0;
        for (const part of q?.parts ?? []) {
          if (part.text === '' || percentDecode(part.name) !== s.name) continue;
          if (!this.add(asEncode(percentDecode(part.value)), s, occurrence++)) break;
        }
      } else {
        let occurrence = 0;
        for (const field of this.view.all('cookie')) {
          if (this.tooMany) break;
          for (const pair of cookiePairs(field)) {
            if (pair.name !== utf8Bytes(s.name)) continue;
            if (!this.add(pair.value, s, occurrence++)) break;
          }
        }
      }
    }
  }

  async run(): Promise<Decision> {
    const model = this.model;
    let reason: Reason;
    if (this.tooMany) reason = 'jwt_too_many';
    else {
      reason = (await this.evaluate(this.rule.requires!)).reason;
      if (reason === 'ok' || (isDenial(reason) && status(reason) === 403)) reason = await this.checkCredentials(reason);
    }
    if (reason === 'pending') return { kind: 'pending', reason, keysMattered: this.keysMattered, via: 'rule' };
    if (isDenial(reason)) return { kind: 'deny', reason, keysMattered: this.keysMattered, via: 'rule' };
    // Allowed: written headers replace their copies, the other sanitized ones go, credentials come out.
    let pairs = this.request.filter(([k]) => !model.sanitized.includes(k));
    const written = new Map<string, string>();
    const owners = new Map<string, number>();
    for (const i of this.satisfied) {
      const p = model.providers[i];
      const jwt = this.outcomes.get(i)!.jwt!;
      const write = (header: string, value: string | null) => {
        const owner = owners.get(header);
        if (owner === undefined) owners.set(header, i);
        else if (owner !== i) return;
        if (value === null || written.has(header)) return;
        written.set(header, value);
      };
      if (p.payloadHeader !== undefined) write(p.payloadHeader, jwt.payloadSegment);
      for (const c of p.claimHeaders) write(c.header, claimHeader(lookup(jwt.payload, c.claim)));
    }
    for (const [k, v] of written) pairs.push([k, v]);
    for (const s of this.rule.sources) {
      const group = this.credentials.filter((c) => c.source === s);
      if (!group.some((c) => c.remove)) continue;
      if (s.kind === 'header') {
        pairs = pairs.filter(([k]) => k !== s.name);
        for (const c of group) if (!c.remove) pairs.push([s.name, c.bytes]);
      } else if (s.kind === 'param') {
        const path = new RequestView(pairs).path;
        const q = queryParts(path)!;
        let occurrence = 0;
        const kept = q.parts.filter((part) => {
          if (part.text === '' || percentDecode(part.name) !== s.name) return part.text !== '';
          const occ = occurrence++;
          return !group.find((c) => c.occurrence === occ)?.remove;
        });
        // As extractor.ts `removeQueryParam` joins them: a part is appended after "&" once something was kept.
        const query = kept.reduce((acc, p) => (acc.length > 0 ? `${acc}&${p.text}` : p.text), '');
        const text = q.base + (query.length > 0 ? '?' + query : '') + q.fragment;
        pairs = pairs.filter(([k]) => k !== ':path');
        pairs.unshift([':path', asEncode(text)]);
      } else {
        let occurrence = 0;
        const kept: string[] = [];
        for (const field of new RequestView(pairs).all('cookie')) {
          for (const pair of cookiePairs(field)) {
            if (pair.name === utf8Bytes(s.name)) {
              const occ = occurrence++;
              if (group.find((c) => c.occurrence === occ)?.remove) continue;
            }
            kept.push(asDecode(pair.text));
          }
        }
        // As extractor.ts `removeCookies` joins them: a part that decodes to "" adds nothing until something was kept.
        const rest = kept.reduce((acc, part) => (acc.length > 0 ? `${acc}; ${part}` : part), '');
        pairs = pairs.filter(([k]) => k !== 'cookie');
        if (rest.length > 0) pairs.push(['cookie', asEncode(rest)]);
      }
    }
    return { kind: 'allow', reason, forwarded: joined(pairs), keysMattered: this.keysMattered, via: 'rule' };
  }

  /** authenticator.ts `outcome`: what provider `p` makes of the credentials at its locations. */
  private async outcome(p: Provider): Promise<{ reason: Reason; jwt: ParsedToken | null }> {
    const known = this.outcomes.get(p.index);
    if (known) return known;
    let failure: Reason | null = null;
    let pending = false;
    let unavailable = false;
    let ambiguous = false;
    let jwt: ParsedToken | null = null;
    const verified = new Set<number>();
    for (const l of p.locations) {
      for (let i = 0; i < this.credentials.length; i++) {
        const c = this.credentials[i];
        if (c.source.kind !== l.kind || c.source.name !== l.name) continue;
        const token = tokenAt(l, c);
        if (token === null) continue;
        c.parsed = true;
        const r = await this.authenticate(p, token);
        if (typeof r !== 'string') {
          if (jwt === null) jwt = r;
          else if (jwt.token !== r.token) ambiguous = true;
          verified.add(i);
        } else if (r === 'pending') pending = c.pending = true;
        else if (r === 'jwks_unavailable_allowed') unavailable = c.unavailable = true;
        else {
          this.refuse(c, r, p.index);
          failure ??= r;
        }
      }
    }
    for (const i of [...verified].sort((a, b) => a - b)) {
      const c = this.credentials[i];
      if (ambiguous) this.refuse(c, 'jwt_ambiguous', p.index);
      else {
        c.verified = true;
        if (!p.config.forward) c.remove = true;
      }
    }
    const reason: Reason = ambiguous ? 'jwt_ambiguous' : pending ? 'pending' : jwt ? 'ok' : unavailable ? 'jwks_unavailable_allowed' : (failure ?? 'jwt_missing');
    const o = { reason, jwt: ambiguous ? null : jwt };
    this.outcomes.set(p.index, o);
    return o;
  }

  private refuse(c: Credential, r: Reason, p: number): void {
    if (c.failure === null || telling(r) > telling(c.failure)) {
      c.failure = r;
      c.failureProvider = p;
    }
  }

  /** One token for provider `p`: the parsed token when it is verified, else the reason. */
  private async authenticate(p: Provider, token: string): Promise<ParsedToken | Reason> {
    if (token.length > this.model.maxTokenBytes) return 'jwt_too_large';
    const t = parseToken(token);
    if (typeof t === 'string') return t;
    if (p.config.issuer && joseClaims(t, { issuer: p.config.issuer, clockTolerance: NO_TIME }) !== 'ok') return 'jwt_unknown_issuer';
    if (p.algorithms && !p.algorithms.has(t.alg)) return 'jwks_kid_alg_mismatch';
    const keys = p.remote ? this.remote : p.local;
    if (!keys) {
      this.keysMattered = true;
      if (this.mode === 'wait') return 'pending';
      return this.model.allowUnavailable ? 'jwks_unavailable_allowed' : 'jwks_unavailable';
    }
    let match: 'valid' | 'no_key' | 'kid_unknown' | 'invalid';
    if (t.kid !== undefined && !keys.some((k) => k.kid === t.kid)) match = 'kid_unknown';
    else {
      const candidates = keys.filter((k) => (t.kid === undefined || k.kid === t.kid) && fits(k, t.alg));
      match = candidates.length === 0 ? 'no_key' : 'invalid';
      for (const k of candidates) {
        if (await joseVerifies(t, k)) {
          match = 'valid';
          break;
        }
      }
    }
    if (match === 'kid_unknown' && p.remote) {
      this.keysMattered = true;
      if (this.mode === 'wait') return 'pending';
    }
    if (match === 'invalid') return 'jwt_verification_failed';
    if (match !== 'valid') return 'jwks_kid_alg_mismatch';
    return this.claims(p, t);
  }

  /** Time (jose), lifetime, audience (jose), subject (claims.ts `checkTimes`, authenticator.ts `providerChecks`). */
  private claims(p: Provider, t: ParsedToken): ParsedToken | Reason {
    const c = p.config;
    const payload = t.payload;
    if (c.require_expiration && !('exp' in payload)) return 'jwt_exp_required';
    const time = joseClaims(t, { clockTolerance: p.skew, currentDate: new Date(this.nowMs) });
    if (time === 'nbf') return 'jwt_not_yet_valid';
    if (time === 'expired') return 'jwt_expired';
    if (time !== 'ok') throw new Error(`jose refuses the claims of a token the model parsed (${time}): ${t.token}`);
    const maxLifetime = c.max_lifetime_seconds ?? 0;
    if (maxLifetime > 0) {
      if (!('exp' in payload)) return 'jwt_exp_required';
      if (!('iat' in payload)) return 'jwt_iat_required';
      if ((payload.exp as number) - (payload.iat as number) > maxLifetime) return 'jwt_lifetime_too_long';
    }
    if (c.audiences?.length && joseClaims(t, { audience: c.audiences, clockTolerance: NO_TIME }) !== 'ok') return 'jwt_audience_not_allowed';
    const s = c.subjects;
    if (s) {
      const sub = payload.sub as string | undefined;
      if (sub === undefined || ('prefix' in s ? !sub.startsWith(s.prefix) : sub !== s.exact)) return 'jwt_subject_not_allowed';
    }
    return t;
  }

  /** requirements.ts `evaluate`: the reason, and the provider it is attributed to (-1: none). */
  private async evaluate(n: Node): Promise<{ reason: Reason; provider: number }> {
    if (n.kind === 'provider') return this.evaluateProvider(n);
    return n.kind === 'all' ? this.evaluateAll(n) : this.evaluateAny(n);
  }

  private async evaluateProvider(n: Node): Promise<{ reason: Reason; provider: number }> {
    const p = n.provider!;
    const o = await this.outcome(p);
    if (o.reason === 'jwks_unavailable_allowed') return { reason: 'ok', provider: p.index };
    if (o.reason !== 'ok') return { reason: o.reason, provider: p.index };
    if (!n.claims.every((c) => satisfies(o.jwt!.payload, c))) return { reason: 'jwt_claims_not_satisfied', provider: p.index };
    if (!this.satisfied.includes(p.index)) this.satisfied.push(p.index);
    return { reason: 'ok', provider: p.index };
  }

  private async evaluateAll(n: Node): Promise<{ reason: Reason; provider: number }> {
    let pending = -2;
    for (const c of n.children) {
      const r = await this.evaluate(c);
      if (isDenial(r.reason)) return r;
      if (r.reason === 'pending') pending = r.provider;
    }
    return pending !== -2 ? { reason: 'pending', provider: pending } : { reason: 'ok', provider: -1 };
  }

  private async evaluateAny(n: Node): Promise<{ reason: Reason; provider: number }> {
    let pending = false;
    let final: Reason = 'jwt_missing';
    let finalProvider = -1;
    let last = -1;
    const mark = this.satisfied.length;
    for (const c of n.children) {
      const r = await this.evaluate(c);
      last = r.provider;
      if (r.reason === 'ok') return r;
      this.satisfied.length = mark;
      if (r.reason === 'pending') {
        pending = true;
        continue;
      }
      const rank = telling(r.reason);
      if (finalProvider < 0 || rank > telling(final) || rank === 2) {
        final = r.reason;
        finalProvider = r.provider;
      }
    }
    if (pending) return { reason: 'pending', provider: last };
    if (n.allowMissingOrFailed || (n.allowMissing && final === 'jwt_missing')) return { reason: 'ok', provider: -1 };
    return { reason: final, provider: finalProvider };
  }

  /** authenticator.ts `checkCredentials`: every credential verified by some provider of the rule. */
  private async checkCredentials(out: Reason): Promise<Reason> {
    let pending = false;
    for (const c of this.credentials) {
      for (const r of c.source.readers) {
        if (c.verified) break;
        await this.outcome(this.model.providers[r.provider]);
      }
      if (c.verified) continue;
      if (c.pending) {
        pending = true;
        continue;
      }
      if (c.unavailable || c.source.tolerated) {
        c.remove = !this.model.forwardUnverified;
        continue;
      }
      return c.parsed ? c.failure! : 'jwt_bad_format';
    }
    return pending && out === 'ok' ? 'pending' : out;
  }
}
