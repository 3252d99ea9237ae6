// The JWKS fetch lease across workers: Envoy runs a VM of jwt-auth per worker thread, and
// when a token names a kid the keys lack, every worker that sees it wants the JWKS again;
// the lease in shared data, taken with compare-and-swap (jwks-cache.ts startFetch), lets
// one of them fetch. Workers here are WasmEmulator.createWorkers VMs, the race played
// deterministically: each worker's lease write first runs the next worker's whole request
// (beforeNextHostcall), so all four read "nobody is fetching" before any writes. With CAS
// the JWKS is refetched once; the control, the lease written with cas 0
// (racy-entry.ts), refetches it on every worker — which shows the test can fail.
import { beforeAll, describe, expect, it } from 'vitest';
import type { WasmEmulator } from '../../../harness/host/emulator.ts';
import { type Exchange, counter, filterWorkers, request, testModule } from '../../../harness/host/testing.ts';
import { AUDIENCE, ISSUER, type SigningKey, claims, jwksOf, makeKey, sign } from './harness.ts';

const START = Date.UTC(2026, 0, 1);
const URI = 'http://idp.internal:8080/.well-known/jwks.json';
const STATE_KEY = `jwt-auth/idp/${URI}/state`;
const CONFIG = {
  providers: {
    idp: {
      issuer: ISSUER,
      audiences: [AUDIENCE],
      remote_jwks: { http_uri: { uri: URI, cluster: 'jwks', timeout: '2s' }, cache_duration: '600s' },
      claim_to_headers: [{ claim_name: 'sub', header_name: 'x-user-id' }],
    },
  },
  rules: [{ match: { prefix: '/' }, requires: { provider_name: 'idp' } }],
};

let filter = '';
let noCas = '';
let old: SigningKey;
let rotated: SigningKey;
beforeAll(async () => {
  [filter, noCas, old, rotated] = await Promise.all([testModule('jwt-auth'), testModule('jwt-auth', { entry: 'filters/jwt-auth/__tests__/racy-entry.ts', outName: 'jwt-auth-no-cas' }), makeKey('ES256', 'old'), makeKey('ES256', 'rotated')]);
}, 300_000);

const jwks = (...keys: SigningKey[]) => JSON.stringify(jwksOf(keys));
const pending = (ws: WasmEmulator[]) => ws.map((w) => w.getPendingHttpCalls().length);

/** Four workers holding the JWKS of key `old` (one fetch, by worker 0; the others load it from shared data). */
async function fourWorkersWithKeys(wasm: string): Promise<WasmEmulator[]> {
  const ws = await filterWorkers(4, wasm, 'jwt-auth', CONFIG, { startTimeMs: START, clusters: ['jwks'] });
  ws[0].tick();
  ws[0].respondHttpCall({ status: 200, body: jwks(old) });
  for (const w of ws.slice(1)) w.tick();
  expect(pending(ws)).toEqual([0, 0, 0, 0]);
  return ws;
}

/** Worker 0's request with `token`, whose lease write first runs worker 1's, whose write runs worker 2's... */
function raceForTheLease(ws: WasmEmulator[], token: string): Exchange[] {
  const exchanges: Exchange[] = [];
  const send = (i: number) => (exchanges[i] = request(ws[i], { path: '/orders', headers: { authorization: `Bearer ${token}` } }));
  for (let i = 0; i + 1 < ws.length; i++) ws[i].beforeNextHostcall('proxy_set_shared_data', () => void send(i + 1), { key: STATE_KEY });
  send(0);
  return exchanges;
}

describe('JWKS refetch for an unknown kid, four workers racing for the lease', () => {
  it('with CAS: one worker refetches; the others wait, then pick the keys up from shared data', async () => {
    const ws = await fourWorkersWithKeys(filter);
    const token = await sign(rotated, claims(START / 1000)); // the identity provider added a key; tokens name it at once
    const exchanges = raceForTheLease(ws, token);
    expect(exchanges.map((ex) => ex.filterStatus)).toEqual([4, 4, 4, 4]); // StopAllIterationAndWatermark: waiting for keys
    expect(pending(ws)).toEqual([0, 0, 0, 1]); // the last worker wrote first; the others lost their CAS
    ws[3].respondHttpCall({ status: 200, body: jwks(old, rotated) });
    ws[0].advanceClock(50); // every worker's tick notices the new generation
    for (const [i, ex] of exchanges.entries()) {
      expect(ws[i].getContinueCalls(ex.id).request).toBe(1);
      expect(ex.requestHeader('x-user-id')).toBe('alice');
    }
    expect(counter(ws[0], 'jwt_auth_provider_jwks_fetches_total', { provider: 'idp', outcome: 'ok' })).toBe(2); // the first fetch and the refetch, process wide
  });

  it('without CAS (the control): every worker that read "nobody is fetching" refetches', async () => {
    const ws = await fourWorkersWithKeys(noCas);
    const exchanges = raceForTheLease(ws, await sign(rotated, claims(START / 1000)));
    expect(exchanges.map((ex) => ex.filterStatus)).toEqual([4, 4, 4, 4]);
    expect(pending(ws)).toEqual([1, 1, 1, 1]);
  });
});
