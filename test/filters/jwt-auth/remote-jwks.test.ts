// jwt-auth's remote JWKS on the emulator: requests pause until the first fetch answers and
// are resumed (or answered) from the root context; failures in every form Envoy reports
// them (a status, a 504 for a timeout, zero headers for a reset); backoff, refresh before
// cache_duration ends, refetch on an unknown kid at most once per 10 s; and two VMs sharing
// one set of keys through shared data, fetched once.
import { beforeAll, describe, expect, it } from 'vitest';
import { LogLevel } from '../../../harness/host/abi.ts';
import type { WasmEmulator } from '../../../harness/host/emulator.ts';
import { SharedState } from '../../../harness/host/shared/shared-state.ts';
import { type Exchange, counter, filterEmulator, filterWorkers, header, request, testModule } from '../../../harness/host/testing.ts';
import { JWKS_KEYS, JWKS_STATE, encodeRecord, mustDecode } from '../../../harness/shared-record.ts';
import { AUDIENCE, ISSUER, type SigningKey, claims, jwksOf, makeKey, sign } from './harness.ts';

let wasm: string;
let k1: SigningKey;
let k2: SigningKey;

const START = Date.UTC(2026, 0, 1);
const NOW = START / 1000;
const URI = 'http://idp.internal:8080/.well-known/jwks.json';
const STATE_KEY = `jwt-auth/idp/${URI}/state`;

function config(extra: Record<string, unknown> = {}, remote: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    providers: {
      idp: {
        issuer: ISSUER,
        audiences: [AUDIENCE],
        remote_jwks: { http_uri: { uri: URI, cluster: 'jwks', timeout: '2s' }, cache_duration: '600s', ...remote },
        claim_to_headers: [{ claim_name: 'sub', header_name: 'x-user-id' }],
      },
    },
    rules: [{ match: { prefix: '/' }, requires: { provider_name: 'idp' } }],
    ...extra,
  };
}

const create = (extra: Record<string, unknown> = {}, remote: Record<string, unknown> = {}, shared?: SharedState, worker?: string): Promise<WasmEmulator> =>
  filterEmulator(wasm, 'jwt-auth', config(extra, remote), { startTimeMs: START, shared, clusters: ['jwks'], vmConfiguration: worker });

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
const jwks = (...keys: SigningKey[]) => JSON.stringify(jwksOf(keys));
const reason = (ex: Exchange) => header(ex.reply?.headers, 'x-jwt-auth-reason');

beforeAll(async () => {
  wasm = await testModule('jwt-auth');
  [k1, k2] = await Promise.all([makeKey('ES256', 'k1'), makeKey('RS256', 'k2')]);
}, 300_000);

describe('first fetch', () => {
  it('pauses requests until the keys arrive, then resumes them from the root context', async () => {
    const emu = await create();
    const token = await sign(k1, claims(NOW));
    const a = request(emu, { path: '/a', headers: bearer(token) });
    const b = request(emu, { path: '/b', headers: bearer(token) });
    const forged = request(emu, { path: '/c', headers: bearer(`${token.slice(0, -4)}AAAA`) });
    for (const ex of [a, b, forged]) {
      expect(ex.filterStatus).toBe(4); // StopAllIterationAndWatermark
      expect(ex.reply).toBeUndefined();
    }
    const calls = emu.getPendingHttpCalls();
    expect(calls).toHaveLength(1); // one fetch for all of them
    expect(calls[0].cluster).toBe('jwks');
    expect(Object.fromEntries(calls[0].headers)).toMatchObject({ ':method': 'GET', ':path': '/.well-known/jwks.json', ':authority': 'idp.internal:8080' });
    expect(calls[0].timeoutMs).toBe(2000);
    emu.respondHttpCall({ status: 200, body: jwks(k1) });
    expect(emu.getContinueCalls(a.id).request).toBe(1);
    expect(emu.getContinueCalls(b.id).request).toBe(1);
    expect(a.requestHeader('x-user-id')).toBe('alice');
    expect(reason(forged)).toBe('jwt_verification_failed');
    expect(emu.getContinueCalls(forged.id).request).toBe(0);
    expect(counter(emu, 'jwt_auth_provider_jwks_fetches_total', { provider: 'idp', outcome: 'ok' })).toBe(1);
    // later requests need no wait
    const c = request(emu, { path: '/d', headers: bearer(token) });
    expect(c.filterStatus).toBe(0);
    expect(emu.getPendingHttpCalls()).toHaveLength(0);
  });

  it('fetches on the first tick when no request comes first', async () => {
    const emu = await create();
    expect(emu.getPendingHttpCalls()).toHaveLength(0);
    emu.advanceClock(50);
    expect(emu.getPendingHttpCalls()).toHaveLength(1);
    emu.respondHttpCall({ status: 200, body: jwks(k1) });
    expect(request(emu, { path: '/a', headers: bearer(await sign(k1, claims(NOW))) }).filterStatus).toBe(0);
  });

  it('denies paused requests when the fetch fails: any non-200 status, a 504 timeout reply, zero headers, a body without keys', async () => {
    for (const fail of [
      (emu: WasmEmulator) => emu.respondHttpCall({ status: 503, body: 'down' }),
      (emu: WasmEmulator) => emu.respondHttpCall({ status: 504, body: 'upstream request timeout' }),
      (emu: WasmEmulator) => emu.failHttpCall(),
      (emu: WasmEmulator) => emu.advanceClock(2000), // the emulator's own timeout: zero headers
      (emu: WasmEmulator) => emu.respondHttpCall({ status: 200, body: '{"keys":[{"kty":"EC"}]}' }),
      (emu: WasmEmulator) => emu.respondHttpCall({ status: 200, body: '<html>' }),
    ]) {
      const emu = await create();
      const ex = request(emu, { path: '/a', headers: bearer(await sign(k1, claims(NOW))) });
      expect(ex.filterStatus).toBe(4);
      fail(emu);
      expect(reason(ex)).toBe('jwks_unavailable');
      expect(ex.reply?.status).toBe(401);
      expect(counter(emu, 'jwt_auth_provider_jwks_fetches_total', { provider: 'idp', outcome: 'failed' })).toBe(1);
      expect(emu.getLogs(LogLevel.Warn).some((l) => l.startsWith('jwt-auth: provider idp: JWKS'))).toBe(true);
      expect(emu.vmFailed).toBe(false);
    }
  });

  it('backs off after a failure: requests are refused at once (no pause) until the retry delay passes', async () => {
    const emu = await create();
    const token = await sign(k1, claims(NOW));
    request(emu, { path: '/a', headers: bearer(token) });
    emu.failHttpCall();
    const quick = request(emu, { path: '/b', headers: bearer(token) });
    expect(quick.filterStatus).toBe(4);
    expect(header(quick.reply?.headers, 'x-jwt-auth-reason')).toBe('jwks_unavailable');
    expect(emu.getPendingHttpCalls()).toHaveLength(0);
    emu.advanceClock(1000); // 1 s after one failure: the tick retries
    expect(emu.getPendingHttpCalls()).toHaveLength(1);
    emu.respondHttpCall({ status: 200, body: jwks(k1) });
    expect(request(emu, { path: '/c', headers: bearer(token) }).filterStatus).toBe(0);
  });

  it('lets requests through while keys are unavailable with on_jwks_unavailable: allow (logged once, counted)', async () => {
    const emu = await create({ on_jwks_unavailable: 'allow' });
    const token = await sign(k1, claims(NOW));
    const ex = request(emu, { path: '/a', headers: bearer(token) });
    emu.respondHttpCall({ status: 500 });
    expect(emu.getContinueCalls(ex.id).request).toBe(1);
    expect(ex.requestHeader('x-user-id')).toBeUndefined(); // nothing verified, nothing written
    expect(request(emu, { path: '/b', headers: bearer(token) }).filterStatus).toBe(0);
    expect(request(emu, { path: '/c' }).reply?.status).toBe(401); // a missing token is still missing
    expect(request(emu, { path: '/d', headers: bearer('x.y') }).reply?.status).toBe(401); // and a malformed one still refused
    expect(counter(emu, 'jwt_auth_provider_jwks_unavailable_allowed_total', { provider: 'idp' })).toBe(2);
    expect(emu.getLogs(LogLevel.Warn).filter((l) => l.includes('letting requests through'))).toHaveLength(1);
  });

  it('denies at once when the fetch cannot be sent (unknown cluster)', async () => {
    const emu = await filterEmulator(wasm, 'jwt-auth', config({}, { http_uri: { uri: URI, cluster: 'nowhere' } }), { startTimeMs: START, clusters: ['jwks'] });
    const ex = request(emu, { path: '/a', headers: bearer(await sign(k1, claims(NOW))) });
    expect(header(ex.reply?.headers, 'x-jwt-auth-reason')).toBe('jwks_unavailable');
    expect(emu.getLogs(LogLevel.Warn).join('\n')).toContain('cannot fetch JWKS from cluster "nowhere"');
  });
});

describe('keys over time', () => {
  it('refreshes before cache_duration ends, without pausing requests', async () => {
    const emu = await create({}, { cache_duration: '10s' });
    emu.advanceClock(50);
    emu.respondHttpCall({ status: 200, body: jwks(k1) });
    const token = await sign(k1, claims(NOW));
    emu.advanceClock(8000);
    expect(emu.getPendingHttpCalls()).toHaveLength(0);
    emu.advanceClock(1000); // 90 % of 10 s
    expect(emu.getPendingHttpCalls()).toHaveLength(1);
    expect(request(emu, { path: '/a', headers: bearer(token) }).filterStatus).toBe(0); // old keys serve meanwhile
    emu.respondHttpCall({ status: 200, body: jwks(k2) }); // rotated: k1 is gone
    const gone = request(emu, { path: '/b', headers: bearer(token) }); // an unknown kid now: one refetch, then refused
    expect(gone.filterStatus).toBe(4);
    emu.respondHttpCall({ status: 200, body: jwks(k2) });
    expect(reason(gone)).toBe('jwks_kid_alg_mismatch');
    expect(request(emu, { path: '/c', headers: bearer(await sign(k2, claims(NOW))) }).filterStatus).toBe(0);
  });

  it('keeps the old keys when a refresh fails, and retries', async () => {
    const emu = await create({}, { cache_duration: '10s' });
    emu.advanceClock(50);
    emu.respondHttpCall({ status: 200, body: jwks(k1) });
    emu.advanceClock(9000);
    emu.respondHttpCall({ status: 503 });
    expect(request(emu, { path: '/a', headers: bearer(await sign(k1, claims(NOW))) }).filterStatus).toBe(0);
    emu.advanceClock(1000);
    expect(emu.getPendingHttpCalls()).toHaveLength(1);
  });

  it('refetches for an unknown kid (pausing the request), at most once per 10 s', async () => {
    const emu = await create();
    emu.advanceClock(50);
    emu.respondHttpCall({ status: 200, body: jwks(k1) });
    const rotated = request(emu, { path: '/a', headers: bearer(await sign(k2, claims(NOW))) });
    expect(rotated.filterStatus).toBe(4);
    expect(emu.getPendingHttpCalls()).toHaveLength(1);
    emu.respondHttpCall({ status: 200, body: jwks(k1, k2) });
    expect(emu.getContinueCalls(rotated.id).request).toBe(1);
    const stranger = await sign({ ...k1, kid: 'k3' }, claims(NOW));
    const soon = request(emu, { path: '/b', headers: bearer(stranger) });
    expect(header(soon.reply?.headers, 'x-jwt-auth-reason')).toBe('jwks_kid_alg_mismatch'); // within 10 s of the last: no fetch
    expect(emu.getPendingHttpCalls()).toHaveLength(0);
    emu.advanceClock(10_000);
    const later = request(emu, { path: '/c', headers: bearer(stranger) });
    expect(later.filterStatus).toBe(4);
    expect(emu.getPendingHttpCalls()).toHaveLength(1);
    emu.respondHttpCall({ status: 200, body: jwks(k1, k2) });
    expect(reason(later)).toBe('jwks_kid_alg_mismatch'); // still unknown after the refetch
  });
});

describe('shared by worker VMs', () => {
  it('fetches once for two VMs: the second waits on the lease and picks the keys up from shared data', async () => {
    // Two VMs (as two worker threads have) over one shared data store and clock.
    const [a, b] = await filterWorkers(2, wasm, 'jwt-auth', config(), { startTimeMs: START, clusters: ['jwks'] });
    const token = await sign(k1, claims(NOW));
    const exA = request(a, { path: '/a', headers: bearer(token) });
    const exB = request(b, { path: '/b', headers: bearer(token) });
    expect(exA.filterStatus).toBe(4);
    expect(exB.filterStatus).toBe(4);
    expect(a.getPendingHttpCalls()).toHaveLength(1);
    expect(b.getPendingHttpCalls()).toHaveLength(0); // b saw a's lease
    a.respondHttpCall({ status: 200, body: jwks(k1) });
    expect(a.getContinueCalls(exA.id).request).toBe(1);
    expect(b.getContinueCalls(exB.id).request).toBe(0);
    b.advanceClock(50); // b's tick notices the new generation
    expect(b.getContinueCalls(exB.id).request).toBe(1);
    expect(request(b, { path: '/c', headers: bearer(token) }).filterStatus).toBe(0);
    expect(b.getPendingHttpCalls()).toHaveLength(0);
    expect(counter(a, 'jwt_auth_provider_jwks_fetches_total', { provider: 'idp', outcome: 'ok' })).toBe(1); // metrics are process wide
  });

  it("keeps a late fetch from releasing the lease of the worker that took over after it expired", async () => {
    // Two VMs with clocks of their own (a vmConfiguration each keeps them apart on one
    // store): a's fetch outlives its lease without its own timeout firing.
    const shared = SharedState.create({ data: { bytes: 1 << 20, buckets: 256 }, queues: { bytes: 1 << 16, maxQueues: 8 }, metrics: { maxMetrics: 1024, nameBytes: 65536 } });
    const a = await create({}, {}, shared, 'worker-a');
    const b = await create({}, {}, shared, 'worker-b');
    const token = await sign(k1, claims(NOW));
    request(a, { path: '/a', headers: bearer(token) }); // a takes the lease until now + 2 s timeout + 1 s
    const lease = () => {
      const s = mustDecode(JWKS_STATE, a.getSharedData(STATE_KEY)?.value);
      return { fetchingUntil: Number(s.fetchingUntil), owner: s.leaseOwner, attempts: s.attempts };
    };
    const first = lease();
    b.advanceClock(3500); // b's clock passes a's lease: b takes over and fetches too
    expect(b.getPendingHttpCalls()).toHaveLength(1);
    const second = lease();
    expect(second.owner).not.toBe(first.owner);
    a.respondHttpCall({ status: 200, body: jwks(k1) }); // a's answer comes late
    const after = lease();
    expect(after.attempts).toBe(1);
    expect(after.owner).toBe(second.owner);
    expect(after.fetchingUntil).toBe(second.fetchingUntil); // b's lease still stands
    b.respondHttpCall({ status: 200, body: jwks(k1) });
    expect(lease().fetchingUntil).toBe(0);
  });

  it('shrugs off garbage in its shared records', async () => {
    const emu = await create();
    emu.setSharedData(STATE_KEY, 'not a state record at all');
    // A keys record whose size field lies (one byte more than its length): never parsed.
    const keys = encodeRecord(JWKS_KEYS, { generation: 9n, document: Buffer.from('{') });
    emu.setSharedData(`jwt-auth/idp/${URI}/keys`, encodeRecord(JWKS_KEYS, { generation: 9n, document: Buffer.from('{'), size: keys.length + 1 }));
    const ex = request(emu, { path: '/a', headers: bearer(await sign(k1, claims(NOW))) });
    expect(ex.filterStatus).toBe(4);
    emu.respondHttpCall({ status: 200, body: jwks(k1) });
    expect(emu.getContinueCalls(ex.id).request).toBe(1);
    expect(mustDecode(JWKS_STATE, emu.getSharedData(STATE_KEY)?.value).generation).toBe(1n); // replaced through CAS
    expect(emu.vmFailed).toBe(false);
  });
});
