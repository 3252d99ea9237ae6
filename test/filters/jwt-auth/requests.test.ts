// jwt-auth on the emulator (fake clock), local JWKS: what a request sees — verification of
// every algorithm, the 401/403 answers, header writes and removals, the verified-token cache
// and the metrics — and that hostile input never traps the VM.
import { createHmac, createPublicKey } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { LogLevel } from '../../../harness/host/abi.ts';
import type { WasmEmulator } from '../../../harness/host/emulator.ts';
import type { LocalReply } from '../../../harness/host/filter.ts';
import { type Exchange, counter, filterEmulator, header, request, testModule } from '../../../harness/host/testing.ts';
import { ALGORITHMS, AUDIENCE, ISSUER, type SigningKey, b64json, claims, jwksOf, makeKey, makeKeys, sign } from './harness.ts';

let wasm: string;

/** A local reply's body as JSON. */
const bodyOf = (reply: LocalReply | undefined): unknown => JSON.parse(Buffer.from(reply!.body).toString());
let keys: Awaited<ReturnType<typeof makeKeys>>;
let service: SigningKey;

const START = Date.UTC(2026, 0, 1);
const NOW = START / 1000;

/** Two providers after the seeds: user tokens of an identity provider, HS256 service tokens. */
function config(extra: Record<string, unknown> = {}, eva: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    providers: {
      eva: {
        issuer: ISSUER,
        audiences: [AUDIENCE],
        local_jwks: { inline_string: JSON.stringify(jwksOf(Object.values(keys))) },
        claim_to_headers: [
          { claim_name: 'sub', header_name: 'x-user-id' },
          { claim_name: 'permissions', header_name: 'x-user-permissions' },
          { claim_name: 'realm_access.roles', header_name: 'x-user-roles' },
          { claim_name: 'org', header_name: 'x-user-org' },
        ],
        forward_payload_header: 'x-jwt-payload',
        ...eva,
      },
      service: {
        issuer: 'https://services.mesh.test',
        local_jwks: { inline_string: JSON.stringify(jwksOf([service])) },
        from_headers: [{ name: 'x-service-token' }],
        forward: true,
        claim_to_headers: [{ claim_name: 'serviceId', header_name: 'x-service-id' }],
        algorithms: ['HS256'],
      },
    },
    rules: [
      { match: { prefix: '/health' } },
      { match: { prefix: '/api/credit' }, requires: { provider_name: 'eva', claims: [{ name: 'permissions', all_of: ['credit:read'] }] } },
      { match: { path: '/zoptal.project.v1.ProjectService/CreateProject' }, requires: { requires_any: [
        { provider_name: 'eva', claims: [{ name: 'permissions', all_of: ['project:create'] }] },
        { provider_name: 'service', claims: [{ name: 'permissions', all_of: ['project:create'] }] },
      ] } },
      { match: { prefix: '/internal' }, requires: { provider_name: 'service', claims: [{ name: 'serviceId', any_of: ['auth-service', 'eva-frontend'] }] } },
      { match: { prefix: '/public' }, requires: { requires_any: [{ provider_name: 'eva' }, { allow_missing: true }] } },
      { match: { prefix: '/' }, requires: { provider_name: 'eva' } },
    ],
    bypass_cors_preflight: true,
    ...extra,
  };
}

async function create(extra: Record<string, unknown> = {}, eva: Record<string, unknown> = {}): Promise<WasmEmulator> {
  return filterEmulator(wasm, 'jwt-auth', config(extra, eva), { startTimeMs: START });
}

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

beforeAll(async () => {
  wasm = await testModule('jwt-auth');
  keys = await makeKeys();
  service = await makeKey('HS256', 'svc');
}, 300_000);

describe('verification', () => {
  it('accepts a valid token of every algorithm, and refuses it with one signature bit flipped', async () => {
    const emu = await create();
    for (const alg of ALGORITHMS) {
      const token = await sign(keys[alg], claims(NOW));
      expect(request(emu, { path: '/orders', headers: bearer(token) }).reply, alg).toBeUndefined();
      const [h, p, s] = token.split('.');
      const sig = Buffer.from(s, 'base64url');
      sig[sig.length >> 1] ^= 0x10;
      const tampered = request(emu, { path: '/orders', headers: bearer(`${h}.${p}.${sig.toString('base64url')}`) });
      expect(tampered.reply?.status, alg).toBe(401);
      expect(header(tampered.reply?.headers, 'x-jwt-auth-reason'), alg).toBe('jwt_verification_failed');
    }
    expect(emu.vmFailed).toBe(false);
  });

  it('refuses alg "none", an HS256 token keyed with a public key (alg confusion), and unknown kids', async () => {
    const emu = await create();
    const payload = b64json(claims(NOW));
    const none = `${b64json({ alg: 'none', typ: 'JWT' })}.${payload}.`;
    expect(header(request(emu, { path: '/orders', headers: bearer(none) }).reply?.headers, 'x-jwt-auth-reason')).toBe('jwt_alg_not_supported');
    // The classic attack: HMAC with the RSA public key (PEM and JWK forms) under the RSA key's kid.
    const rsaPem = createPublicKey({ key: keys.RS256.jwk as never, format: 'jwk' }).export({ type: 'spki', format: 'pem' });
    for (const secret of [rsaPem, JSON.stringify(keys.RS256.jwk), Buffer.from(keys.RS256.jwk.n!, 'base64url')]) {
      const input = `${b64json({ alg: 'HS256', kid: keys.RS256.kid })}.${payload}`;
      const forged = `${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`;
      const ex = request(emu, { path: '/orders', headers: bearer(forged) });
      expect(ex.reply?.status).toBe(401);
      expect(header(ex.reply?.headers, 'x-jwt-auth-reason')).toBe('jwks_kid_alg_mismatch');
    }
    const unknownKid = await sign(keys.ES256, claims(NOW), { kid: 'nobody' });
    expect(bodyOf(request(emu, { path: '/orders', headers: bearer(unknownKid) }).reply)).toEqual({ error: 'invalid_token', message: "Jwks doesn't have key to match kid or alg from Jwt" });
    // A provider's `algorithms` narrows what it takes: service accepts HS256 only.
    const hs512 = await sign({ ...keys.HS512, kid: 'svc' }, { iss: 'https://services.mesh.test', serviceId: 'auth-service' });
    expect(header(request(emu, { path: '/internal/x', headers: { 'x-service-token': hs512 } }).reply?.headers, 'x-jwt-auth-reason')).toBe('jwks_kid_alg_mismatch');
  });

  it('checks issuer, audience and times (clock skew 60 s by default) on the fake clock', async () => {
    const emu = await create();
    const reason = async (extra: Record<string, unknown>) =>
      header(request(emu, { path: '/orders', headers: bearer(await sign(keys.ES256, claims(NOW, extra))) }).reply?.headers, 'x-jwt-auth-reason') ?? 'allowed';
    expect(await reason({})).toBe('allowed');
    expect(await reason({ iss: 'https://evil.test' })).toBe('jwt_unknown_issuer');
    expect(await reason({ aud: ['other', AUDIENCE] })).toBe('allowed');
    expect(await reason({ aud: 'other' })).toBe('jwt_audience_not_allowed');
    expect(await reason({ exp: NOW - 59 })).toBe('allowed');
    expect(await reason({ exp: NOW - 60 })).toBe('jwt_expired');
    expect(await reason({ nbf: NOW + 60 })).toBe('allowed');
    expect(await reason({ nbf: NOW + 61 })).toBe('jwt_not_yet_valid');
    expect(await reason({ exp: 'tomorrow' })).toBe('jwt_exp_not_number');
    const token = await sign(keys.EdDSA, claims(NOW, { exp: NOW + 120 }));
    expect(request(emu, { path: '/orders', headers: bearer(token) }).reply).toBeUndefined();
    emu.advanceClock(181_000); // exp + 60 s skew has passed: the cached token is refused too
    expect(header(request(emu, { path: '/orders', headers: bearer(token) }).reply?.headers, 'x-jwt-auth-reason')).toBe('jwt_expired');
  });

  it('applies require_expiration, max_lifetime_seconds, clock_skew_seconds and subjects', async () => {
    const emu = await create({}, { require_expiration: true, max_lifetime_seconds: 3600, clock_skew_seconds: 0, subjects: { prefix: 'user:' } });
    const reason = async (payload: Record<string, unknown>) =>
      header(request(emu, { path: '/orders', headers: bearer(await sign(keys.ES384, payload)) }).reply?.headers, 'x-jwt-auth-reason') ?? 'allowed';
    const base = { iss: ISSUER, aud: AUDIENCE, sub: 'user:alice', iat: NOW };
    expect(await reason({ ...base, exp: NOW + 3600 })).toBe('allowed');
    expect(await reason({ ...base })).toBe('jwt_exp_required');
    expect(await reason({ ...base, exp: NOW + 3601 })).toBe('jwt_lifetime_too_long');
    expect(await reason({ ...base, iat: undefined, exp: NOW + 60 })).toBe('jwt_iat_required');
    expect(await reason({ ...base, exp: NOW })).toBe('jwt_expired'); // no skew
    const denied = request(emu, { path: '/orders', headers: bearer(await sign(keys.ES384, { ...base, sub: 'svc:x', exp: NOW + 60 })) });
    expect(denied.reply?.status).toBe(403);
    expect(header(denied.reply?.headers, 'x-jwt-auth-reason')).toBe('jwt_subject_not_allowed');
  });
});

describe('responses', () => {
  it('answers 401 without error for a missing token, 401 invalid_token for a bad one, 403 insufficient_scope for claims', async () => {
    const emu = await create();
    const missing = request(emu, { path: '/orders?access_token=' }).reply; // an empty parameter is a (bad) token, see below
    expect(missing?.status).toBe(401);
    const none = request(emu, { path: '/orders?q=1' }).reply!;
    expect(none.status).toBe(401);
    expect(header(none.headers, 'www-authenticate')).toBe('Bearer realm="https://api.mesh.test/orders"');
    expect(header(none.headers, 'x-jwt-auth-reason')).toBe('jwt_missing');
    expect(header(none.headers, 'content-type')).toBe('application/json');
    expect(bodyOf(none)).toEqual({ error: 'missing_token', message: 'Jwt is missing' });
    expect(none.details).toBe('jwt_auth_access_denied{jwt_missing}');

    const bad = request(emu, { path: '/orders', headers: bearer('abc.def') }).reply!;
    expect(bad.status).toBe(401);
    expect(header(bad.headers, 'www-authenticate')).toBe('Bearer realm="https://api.mesh.test/orders", error="invalid_token"');
    expect(bodyOf(bad)).toEqual({ error: 'invalid_token', message: 'Jwt is not in the form of Header.Payload.Signature with two dots and 3 sections' });

    const weak = request(emu, { path: '/api/credit/report', headers: bearer(await sign(keys.RS256, claims(NOW, { permissions: ['documents:write'] }))) }).reply!;
    expect(weak.status).toBe(403);
    expect(header(weak.headers, 'www-authenticate')).toBe('Bearer realm="https://api.mesh.test/api/credit/report", error="insufficient_scope"');
    expect(bodyOf(weak)).toEqual({ error: 'insufficient_scope', message: 'Jwt claims do not satisfy the requirement' });
    expect(counter(emu, 'jwt_auth_denied_total', { reason: 'jwt_claims_not_satisfied' })).toBe(1);
    expect(counter(emu, 'jwt_auth_provider_denied_total', { provider: 'eva', reason: 'jwt_claims_not_satisfied' })).toBe(1);
  });

  it('applies the first matching rule: health needs nothing, per-route and per-gRPC-method permissions, allow_missing', async () => {
    const emu = await create();
    expect(request(emu, { path: '/health' }).reply).toBeUndefined();
    expect(request(emu, { path: '/public/x' }).reply).toBeUndefined();
    expect(request(emu, { path: '/public/x', headers: bearer('bad') }).reply?.status).toBe(401);
    const reader = await sign(keys.PS256, claims(NOW, { permissions: ['credit:read'] }));
    expect(request(emu, { path: '/api/credit/report', headers: bearer(reader) }).reply).toBeUndefined();
    const grpc = { 'content-type': 'application/grpc' };
    const creator = await sign(keys.ES256, claims(NOW, { permissions: ['project:create'] }));
    const path = '/zoptal.project.v1.ProjectService/CreateProject';
    expect(request(emu, { method: 'POST', path, headers: { ...grpc, ...bearer(creator) } }).reply).toBeUndefined();
    expect(request(emu, { method: 'POST', path, headers: { ...grpc, ...bearer(reader) } }).reply?.status).toBe(403);
    const svc = await sign(service, { iss: 'https://services.mesh.test', serviceId: 'auth-service', permissions: ['project:create'] });
    expect(request(emu, { method: 'POST', path, headers: { ...grpc, 'x-service-token': svc } }).reply).toBeUndefined();
    // GetProject falls to the catch-all rule: any eva token
    expect(request(emu, { method: 'POST', path: '/zoptal.project.v1.ProjectService/GetProject', headers: { ...grpc, ...bearer(reader) } }).reply).toBeUndefined();
    // allowed calling services (claim requirement on serviceId)
    const other = await sign(service, { iss: 'https://services.mesh.test', serviceId: 'billing' });
    expect(request(emu, { path: '/internal/x', headers: { 'x-service-token': svc } }).reply).toBeUndefined();
    expect(request(emu, { path: '/internal/x', headers: { 'x-service-token': other } }).reply?.status).toBe(403);
  });

  it('lets CORS preflights through unchecked when bypass_cors_preflight is set, and only those', async () => {
    const emu = await create();
    const preflight = { origin: 'https://app.test', 'access-control-request-method': 'POST' };
    expect(request(emu, { method: 'OPTIONS', path: '/orders', headers: preflight }).reply).toBeUndefined();
    expect(request(emu, { method: 'OPTIONS', path: '/orders', headers: { origin: 'https://app.test' } }).reply?.status).toBe(401);
    expect(counter(emu, 'jwt_auth_cors_preflight_bypassed_total')).toBe(1);
    const strict = await create({ bypass_cors_preflight: false });
    expect(request(strict, { method: 'OPTIONS', path: '/orders', headers: preflight }).reply?.status).toBe(401);
  });
});

describe('headers for upstream', () => {
  it('writes claims (dot paths, arrays comma-joined, objects as JSON, missing claims nothing) and the payload; removes the token', async () => {
    const emu = await create();
    const token = await sign(keys.RS384, claims(NOW, { permissions: ['credit:read', 'documents:write'], realm_access: { roles: ['admin', 'user'] } }));
    const ex = request(emu, { path: '/orders', headers: bearer(token) });
    expect(ex.reply).toBeUndefined();
    expect(ex.requestHeader('x-user-id')).toBe('alice');
    expect(ex.requestHeader('x-user-permissions')).toBe('credit:read,documents:write');
    expect(ex.requestHeader('x-user-roles')).toBe('admin,user');
    expect(ex.requestHeader('x-user-org')).toBeUndefined();
    expect(ex.requestHeader('x-jwt-payload')).toBe(token.split('.')[1]);
    expect(ex.requestHeader('authorization')).toBeUndefined(); // forward: false
    const org = request(emu, { path: '/orders', headers: bearer(await sign(keys.RS384, claims(NOW, { org: { id: 7, name: 'Zoptal' } }))) });
    expect(org.requestHeader('x-user-org')).toBe('{"id":7,"name":"Zoptal"}');
  });

  it('removes incoming copies of every header it writes, on every request, even unauthenticated ones', async () => {
    const emu = await create();
    const forged: [string, string][] = [['x-user-id', 'root'], ['x-user-id', 'root2'], ['x-service-id', 'billing'], ['x-jwt-payload', 'e30'], ['x-user-permissions', 'admin']];
    const health = request(emu, { path: '/health', headers: forged });
    expect(health.reply).toBeUndefined();
    for (const [name] of forged) expect(health.requestHeader(name), name).toBeUndefined();
    const ex = request(emu, { path: '/orders', headers: [...forged, ['authorization', `Bearer ${await sign(keys.HS384, claims(NOW))}`]] });
    expect(ex.requestHeader('x-user-id')).toBe('alice');
    expect(ex.requestHeader('x-service-id')).toBeUndefined();
  });

  it('removes a forged copy of a header whose claim the token lacks, and writes a present one over its copies', async () => {
    const emu = await create();
    const forged: [string, string][] = [['x-user-org', 'forged-org'], ['x-user-id', 'root'], ['x-user-id', 'root2'], ['x-jwt-payload', 'e30']];
    const token = await sign(keys.ES256, claims(NOW)); // no org claim
    const ex = request(emu, { path: '/orders', headers: [...forged, ['authorization', `Bearer ${token}`]] });
    expect(ex.reply).toBeUndefined();
    expect(ex.requestHeader('x-user-org')).toBeUndefined();
    expect(ex.requestHeader('x-user-id')).toBe('alice');
    expect(ex.requestHeader('x-jwt-payload')).toBe(token.split('.')[1]);
    const denied = request(emu, { path: '/orders', headers: [...forged, ['authorization', 'Bearer not.a.token']] });
    expect(denied.reply?.status).toBe(401);
    for (const [name] of forged) expect(denied.requestHeader(name), name).toBeUndefined();
  });

  it('a rule matching on a header jwt-auth writes never sees a forged copy of it', async () => {
    const emu = await create({ rules: [{ match: { headers: [{ name: 'x-user-id', present: true }] } }, { match: { prefix: '/' }, requires: { provider_name: 'eva' } }] });
    const ex = request(emu, { path: '/orders', headers: [['x-user-id', 'root']] });
    expect(ex.reply?.status).toBe(401); // the first rule would have let it through unchecked
    expect(ex.requestHeader('x-user-id')).toBeUndefined();
  });

  it('keeps the token with forward: true, and removes it from the query or cookie it came from otherwise', async () => {
    const emu = await create({}, { from_params: ['access_token'], from_cookies: ['session'], from_headers: [] });
    const token = await sign(keys.ES256, claims(NOW));
    const id = emu.initializeHttpContext();
    emu.callOnRequestHeaders(id, { ':method': 'GET', ':path': `/orders?a=1&access_token=${token}&b=2`, ':authority': 'h', ':scheme': 'http' }, true);
    expect(emu.getSentLocalResponse(id)).toBeUndefined();
    expect(Object.fromEntries(emu.getCurrentRequestHeaders(id))[':path']).toBe('/orders?a=1&b=2');
    const cookie = request(emu, { path: '/orders', headers: { cookie: `theme=dark; session=${token}; lang=en` } });
    expect(cookie.reply).toBeUndefined();
    expect(cookie.requestHeader('cookie')).toBe('theme=dark; lang=en');
    const svc = await sign(service, { iss: 'https://services.mesh.test', serviceId: 'auth-service' });
    expect(request(emu, { path: '/internal/x', headers: { 'x-service-token': svc } }).requestHeader('x-service-token')).toBe(svc); // service: forward true
  });
});

describe('credentials', () => {
  const svc = (serviceId = 'auth-service') => sign(service, { iss: 'https://services.mesh.test', serviceId });
  const reason = (ex: Exchange) => header(ex.reply?.headers, 'x-jwt-auth-reason');

  it('checks every field of a repeated header: a bad second one denies, the same token twice is one identity', async () => {
    const emu = await create();
    const good = await svc();
    const bad = `${good.slice(0, -10)}${good.at(-10) === 'A' ? 'B' : 'A'}${good.slice(-9)}`;
    expect(reason(request(emu, { path: '/internal/x', headers: [['x-service-token', good], ['x-service-token', bad]] }))).toBe('jwt_verification_failed');
    expect(reason(request(emu, { path: '/internal/x', headers: [['x-service-token', bad], ['x-service-token', good]] }))).toBe('jwt_verification_failed');
    const twice = request(emu, { path: '/internal/x', headers: [['x-service-token', good], ['x-service-token', good]] });
    expect(twice.reply).toBeUndefined();
    expect(twice.requestHeader('x-service-id')).toBe('auth-service');
    expect(twice.requestHeader('x-service-token')).toBe(`${good},${good}`); // service: forward true
    const two = request(emu, { path: '/internal/x', headers: [['x-service-token', good], ['x-service-token', await svc('eva-frontend')]] });
    expect([two.reply?.status, reason(two)]).toEqual([401, 'jwt_ambiguous']);
    expect(counter(emu, 'jwt_auth_denied_total', { reason: 'jwt_ambiguous' })).toBe(1);
    expect(counter(emu, 'jwt_auth_provider_denied_total', { provider: 'service', reason: 'jwt_ambiguous' })).toBe(1);
  });

  it('checks every parameter and cookie of a name, and takes a token out of every place it was in', async () => {
    const emu = await create({}, { from_params: ['access_token'], from_cookies: ['session'], from_headers: [{ name: 'authorization', value_prefix: 'Bearer ' }] });
    const alice = await sign(keys.ES256, claims(NOW));
    const bob = await sign(keys.ES256, claims(NOW, { sub: 'bob' }));
    expect(reason(request(emu, { path: `/orders?access_token=${alice}&access_token=x.y.z` }))).toBe('jwt_header_bad_base64');
    expect(reason(request(emu, { path: `/orders?access_token=${alice}`, headers: [['authorization', `Bearer ${bob}`]] }))).toBe('jwt_ambiguous');
    expect(reason(request(emu, { path: '/orders', headers: [['cookie', `session=${alice}`], ['cookie', `session=${bob}`]] }))).toBe('jwt_ambiguous');
    const everywhere = request(emu, { path: `/orders?a=1&access_token=${alice}`, headers: [['authorization', `Bearer ${alice}`], ['cookie', `theme=dark; session=${alice}`], ['cookie', 'lang=en']] });
    expect(everywhere.reply).toBeUndefined();
    expect(everywhere.requestHeader('x-user-id')).toBe('alice');
    expect(everywhere.requestHeader(':path')).toBe('/orders?a=1');
    expect(everywhere.requestHeader('authorization')).toBeUndefined();
    expect(everywhere.requestHeader('cookie')).toBe('theme=dark; lang=en');
  });

  it('denies more credentials than it checks, and a header of another scheme where a token is optional', async () => {
    const emu = await create();
    const good = await svc();
    const many = request(emu, { path: '/internal/x', headers: Array.from({ length: 5 }, (): [string, string] => ['x-service-token', good]) });
    expect([many.reply?.status, reason(many)]).toEqual([401, 'jwt_too_many']);
    expect(counter(emu, 'jwt_auth_denied_total', { reason: 'jwt_too_many' })).toBe(1);
    expect(request(emu, { path: '/public/x' }).reply).toBeUndefined();
    for (const value of ['Basic dXNlcjpwYXNz', `Bearer\t${await sign(keys.ES256, claims(NOW))}`]) {
      const ex = request(emu, { path: '/public/x', headers: { authorization: value } });
      expect([ex.reply?.status, reason(ex)], value).toEqual([401, 'jwt_bad_format']);
    }
  });

  it('under allow_missing_or_failed removes what failed before the request goes on, or keeps it with forward_unverified', async () => {
    const rules = [{ match: { prefix: '/' }, requires: { requires_any: [{ provider_name: 'eva' }, { allow_missing_or_failed: true }] } }];
    const bad = { authorization: 'Bearer not.a.token', 'x-user-id': 'forged' };
    const removed = request(await create({ rules }), { path: '/x', headers: bad });
    expect(removed.reply).toBeUndefined();
    expect([removed.requestHeader('authorization'), removed.requestHeader('x-user-id')]).toEqual([undefined, undefined]);
    const kept = request(await create({ rules, forward_unverified: true }), { path: '/x', headers: bad });
    expect(kept.reply).toBeUndefined();
    expect([kept.requestHeader('authorization'), kept.requestHeader('x-user-id')]).toEqual(['Bearer not.a.token', undefined]);
  });

  it('fills each claim header from one credential: the first provider, in requirement order, that satisfied the rule and maps it', async () => {
    // both providers map x-user-id; requires_all lists service first
    const both = { service: { claim_to_headers: [{ claim_name: 'serviceId', header_name: 'x-service-id' }, { claim_name: 'sub', header_name: 'x-user-id' }] } };
    const rules = [
      { match: { prefix: '/service-first' }, requires: { requires_all: [{ provider_name: 'service' }, { provider_name: 'eva' }] } },
      { match: { prefix: '/' }, requires: { requires_all: [{ provider_name: 'eva' }, { provider_name: 'service' }] } },
    ];
    const base = config({ rules });
    const providers = base.providers as Record<string, Record<string, unknown>>;
    providers.service = { ...providers.service, ...both.service };
    const emu = await filterEmulator(wasm, 'jwt-auth', base, { startTimeMs: START });
    const headers = { ...bearer(await sign(keys.ES256, claims(NOW, { sub: 'alice' }))), 'x-service-token': await sign(service, { iss: 'https://services.mesh.test', serviceId: 'auth-service', sub: 'svc-1' }) };
    const userFirst = request(emu, { path: '/x', headers });
    expect([userFirst.requestHeader('x-user-id'), userFirst.requestHeader('x-service-id')]).toEqual(['alice', 'auth-service']);
    const serviceFirst = request(emu, { path: '/service-first', headers });
    expect([serviceFirst.requestHeader('x-user-id'), serviceFirst.requestHeader('x-service-id')]).toEqual(['svc-1', 'auth-service']);
  });
});

describe('verified-token cache', () => {
  it('verifies a repeated token once, counts hits and misses per provider, and still checks per-rule claims', async () => {
    const emu = await create();
    const token = await sign(keys.RS512, claims(NOW, { permissions: ['credit:read'] }));
    for (let i = 0; i < 5; i++) expect(request(emu, { path: '/orders', headers: bearer(token) }).reply).toBeUndefined();
    expect(counter(emu, 'jwt_auth_provider_cache_lookups_total', { provider: 'eva', outcome: 'miss' })).toBe(1);
    expect(counter(emu, 'jwt_auth_provider_cache_lookups_total', { provider: 'eva', outcome: 'hit' })).toBe(4);
    expect(request(emu, { path: '/api/credit/x', headers: bearer(token) }).reply).toBeUndefined();
    const weak = await sign(keys.RS512, claims(NOW));
    expect(request(emu, { path: '/orders', headers: bearer(weak) }).reply).toBeUndefined();
    expect(request(emu, { path: '/api/credit/x', headers: bearer(weak) }).reply?.status).toBe(403); // cached, yet the rule's claims are checked
    expect(counter(emu, 'jwt_auth_provider_allowed_total', { provider: 'eva' })).toBe(7);
    expect(counter(emu, 'jwt_auth_allowed_total')).toBe(7);
  });

  it('costs a cached request one lookup per header it needs, one clock read, and no removal of absent headers', async () => {
    const calls: string[] = [];
    let recording = false;
    const emu = await filterEmulator(wasm, 'jwt-auth', config(), { startTimeMs: START, onHostcall: (name, args) => void (recording && calls.push(`${name.slice(10)} ${args[0]}`)) });
    const token = await sign(keys.ES256, claims(NOW, { permissions: ['credit:read'] }));
    request(emu, { path: '/orders', headers: bearer(token) });
    recording = true;
    const ex = request(emu, { path: '/orders', headers: bearer(token) });
    recording = false;
    expect(ex.reply).toBeUndefined();
    expect(calls.filter((c) => c.startsWith('get_current_time'))).toHaveLength(1);
    // One read of the whole map: :method (bypass_cors_preflight), :path, the credentials (every
    // field of a repeated header) and whether the headers written for upstream that this token
    // does not write (x-user-roles, x-user-org, x-service-id) came with the request.
    expect(calls.filter((c) => c.startsWith('get_header_map_pairs'))).toHaveLength(1);
    expect(calls.filter((c) => c.startsWith('get_header_map_value'))).toHaveLength(0);
    expect(calls.filter((c) => c.startsWith('remove_header_map_value'))).toHaveLength(1); // the token (forward: false)
    expect(calls.filter((c) => c.startsWith('replace_header_map_value'))).toHaveLength(3); // x-jwt-payload, x-user-id, x-user-permissions
    expect(calls.filter((c) => c.startsWith('increment_metric'))).toHaveLength(3); // cache hit, provider allowed, allowed
    expect(calls).toHaveLength(9);
  });

  it('with max_entries 0 verifies every time', async () => {
    const emu = await create({ cache: { max_entries: 0 } });
    const token = await sign(keys.HS256, claims(NOW));
    for (let i = 0; i < 3; i++) expect(request(emu, { path: '/orders', headers: bearer(token) }).reply).toBeUndefined();
    expect(counter(emu, 'jwt_auth_provider_cache_lookups_total', { provider: 'eva', outcome: 'miss' })).toBe(3);
    expect(counter(emu, 'jwt_auth_provider_cache_lookups_total', { provider: 'eva', outcome: 'hit' })).toBe(0);
  });
});

describe('metrics', () => {
  it('are defined at configuration, labelled per provider and reason', async () => {
    const emu = await create();
    expect(counter(emu, 'jwt_auth_provider_denied_total', { provider: 'service', reason: 'jwt_expired' })).toBe(0);
    expect(counter(emu, 'jwt_auth_provider_jwks_fetches_total', { provider: 'service', outcome: 'ok' })).toBe(0);
    request(emu, { path: '/orders' });
    expect(counter(emu, 'jwt_auth_denied_total', { reason: 'jwt_missing' })).toBe(1);
    expect(counter(emu, 'jwt_auth_provider_denied_total', { provider: 'eva', reason: 'jwt_missing' })).toBe(1);
  });
});

describe('configuration', () => {
  it('refuses a bad configuration with one error line naming the JSON path', async () => {
    const bad = config();
    (bad.providers as Record<string, Record<string, unknown>>).eva.remote_jwks = { http_uri: { uri: 'http://x/', cluster: 'jwks' } };
    await expect(filterEmulator(wasm, 'jwt-auth', bad)).rejects.toThrow();
    const seen: string[] = [];
    try {
      await filterEmulator(wasm, 'jwt-auth', { providers: { eva: { local_jwks: { inline_string: '{"keys":[]}' } } }, rules: [{}] });
    } catch (e) {
      seen.push(String((e as Error).message));
    }
    expect(seen.join('\n')).toContain("jwt-auth: providers.eva.local_jwks.inline_string: Jwks doesn't have any valid public key");
  });
});

describe('hostile input', () => {
  it('never traps: random bytes, huge headers, deep JSON, odd encodings all get a 401 and the VM goes on', async () => {
    const emu = await create();
    let seed = 7;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
    const samples: string[] = [
      '', ' ', '.', '..', '...', 'a.b.c', '\u00ff\u00fe.\u0000.x', 'x'.repeat(9000), `${'a'.repeat(5000)}.${'b'.repeat(3000)}.c`,
      `${b64json({ alg: 'HS256' })}.${b64json('[' .repeat(10000))}.AA`,
      `${b64json({ alg: 'HS256' })}.${b64json({ exp: 1e309 })}.AA`,
      `${b64json({ alg: 'HS256', kid: 'x'.repeat(5000) })}.${b64json({})}.AA`,
      `${b64json({ alg: 'ES256', kid: keys.ES256.kid })}.${b64json(claims(NOW))}.${'A'.repeat(86)}`,
      `${b64json({ alg: 'RS256', kid: keys.RS256.kid })}.${b64json(claims(NOW))}.${'_'.repeat(342)}`,
      `${b64json({ alg: 'EdDSA', kid: keys.EdDSA.kid })}.${b64json(claims(NOW))}.${'_'.repeat(86)}`,
    ];
    for (let i = 0; i < 300; i++) {
      const len = Math.floor(rnd() * 600);
      let s = '';
      for (let j = 0; j < len; j++) s += String.fromCharCode(0x20 + Math.floor(rnd() * 0x5f));
      samples.push(s);
    }
    for (const token of samples) {
      const ex = request(emu, { path: '/orders', headers: bearer(token) });
      expect(ex.reply?.status, token.slice(0, 40)).toBe(401);
    }
    // Huge and many headers around a valid token
    const good = await sign(keys.ES256, claims(NOW));
    const noise: [string, string][] = Array.from({ length: 200 }, (_, i) => [`x-noise-${i}`, 'v'.repeat(500)]);
    expect(request(emu, { path: '/orders', headers: [...noise, ['authorization', `Bearer ${good}`], ['cookie', ';;=;'.repeat(1000)]] }).reply).toBeUndefined();
    expect(emu.vmFailed).toBe(false);
    expect(emu.getLogs(LogLevel.Critical)).toEqual([]);
  });

  it('refuses tokens over max_token_bytes (default 8 KiB) before decoding', async () => {
    const emu = await create({ max_token_bytes: 1024 });
    const big = await sign(keys.ES256, claims(NOW, { pad: 'x'.repeat(1000) }));
    expect(header(request(emu, { path: '/orders', headers: bearer(big) }).reply?.headers, 'x-jwt-auth-reason')).toBe('jwt_too_large');
    const dup = `${b64json({ alg: 'HS256' })}.${b64json('{"sub":"a","sub":"b"}')}.AA`;
    expect(header(request(emu, { path: '/orders', headers: bearer(dup) }).reply?.headers, 'x-jwt-auth-reason')).toBe('jwt_payload_bad_json');
    const padded = (await sign(keys.HS256, claims(NOW))) + '=';
    expect(header(request(emu, { path: '/orders', headers: bearer(padded) }).reply?.headers, 'x-jwt-auth-reason')).toBe('jwt_signature_bad_base64');
  });

  it('keeps its memory flat over 100 000 requests (cached tokens, misses and denials)', async () => {
    const emu = await create();
    const memory = emu.plugin.wasm.exports.memory as WebAssembly.Memory;
    const tokens = await Promise.all([keys.ES256, keys.HS256, keys.EdDSA].map((k) => sign(k, claims(NOW, { permissions: ['credit:read'] }))));
    const cycle = (i: number) => {
      const id = emu.initializeHttpContext();
      const headers: [string, string][] = [[':method', 'GET'], [':path', i % 2 ? '/api/credit/x' : '/orders'], [':authority', 'h'], [':scheme', 'http'], ['x-user-id', 'forged']];
      if (i % 10 !== 9) headers.push(['authorization', `Bearer ${tokens[i % 3]}`]);
      emu.callOnRequestHeaders(id, headers, true);
      emu.completeHttpContext(id);
      if (i % 5000 === 0) emu.advanceClock(1000);
    };
    for (let i = 0; i < 5_000; i++) cycle(i);
    const warm = memory.buffer.byteLength;
    for (let i = 0; i < 100_000; i++) cycle(i);
    expect(memory.buffer.byteLength).toBe(warm);
    expect(emu.vmFailed).toBe(false);
    expect(counter(emu, 'jwt_auth_denied_total', { reason: 'jwt_missing' })).toBe(10_500);
  }, 60_000);
});
