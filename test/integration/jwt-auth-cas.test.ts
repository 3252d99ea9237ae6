// The JWKS fetch lease needs compare-and-swap: 4 worker threads racing for the refetch of
// each remote JWKS (a token names a kid the keys lack, on every worker at once), with the
// race window widened to 4 ms (a test build of jwt-auth whose lease write waits,
// filters/jwt-auth/__tests__/racy-entry.ts). Written with the CAS it read, one worker wins
// and every JWKS is refetched once; written without (cas 0), workers that read "nobody is
// fetching" all fetch — the failure the real filter's CAS prevents.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { startProxy } from '../../harness/proxy/index.ts';
import { startUpstream, status, type Upstream } from '../../harness/upstream/index.ts';
import { buildRacy, jwksOf, makeKey, sign, type SigningKey, wasmFilter } from '../filters/jwt-auth/harness.ts';
import { bootstrap } from './bootstrap.ts';

const PROVIDERS = 6;

let wasm: string;
let key: SigningKey;
let other: SigningKey;
let jwks: Upstream;
/** Keys each mode's JWKS serves now. */
const served: Record<string, SigningKey[]> = {};

function proxyBootstrap(mode: string): Record<string, unknown> {
  const config = {
    providers: Object.fromEntries(Array.from({ length: PROVIDERS }, (_, i) => [`p${i}`, {
      remote_jwks: { http_uri: { uri: `http://jwks.internal/${mode}/${i}`, cluster: 'jwks', timeout: '2s' } },
    }])),
    rules: [{ requires: { requires_all: Array.from({ length: PROVIDERS }, (_, i) => ({ provider_name: `p${i}` })) } }],
  };
  return bootstrap({
    filters: [wasmFilter(wasm, config, `${mode} 4000`)],
    virtualHosts: [{ routes: [{ match: { prefix: '/' }, direct_response: { status: 200, body: { inline_string: 'ok' } } }] }],
    clusters: { jwks: { endpoints: [jwks.address] } },
  });
}

const counts = (mode: string) => Array.from({ length: PROVIDERS }, (_, i) => jwks.count(`/${mode}/${i}`));

/** Refetches per JWKS when 32 concurrent requests through 4 workers name a new kid, in `mode`. */
async function refetchesPerJwks(mode: 'cas' | 'naive'): Promise<number[]> {
  served[mode] = [other];
  const proxy = await startProxy({ portOverride: 0, concurrency: 4, logLevel: 'error', bootstrap: proxyBootstrap(mode) });
  try {
    // the first fetches (on the workers' first ticks), then time for every worker to load them
    const deadline = Date.now() + 10_000;
    while (counts(mode).some((n) => n === 0) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    await new Promise((r) => setTimeout(r, 300));
    const before = counts(mode);
    served[mode] = [other, key]; // the identity provider adds a key; tokens name it at once
    const token = await sign(key, { sub: 'racer' });
    const statuses = await Promise.all(Array.from({ length: 32 }, async () => {
      const res = await request(`http://${proxy.listeners[0].address}/x`, { headers: { authorization: `Bearer ${token}` } });
      await res.body.dump();
      return res.statusCode;
    }));
    expect(statuses).toEqual(Array(32).fill(200));
    return counts(mode).map((n, i) => n - before[i]);
  } finally {
    await proxy.stop();
  }
}

beforeAll(async () => {
  [wasm, key, other] = await Promise.all([buildRacy(), makeKey('ES256', 'k'), makeKey('ES256', 'old')]);
  jwks = await startUpstream({ name: 'jwks', fallback: status(404) });
  for (const mode of ['cas', 'naive']) {
    for (let i = 0; i < PROVIDERS; i++) jwks.route(`/${mode}/${i}`, () => ({ kind: 'respond', status: 200, body: JSON.stringify(jwksOf(served[mode])) }));
  }
}, 300_000);

afterAll(async () => {
  await jwks?.close();
});

describe('JWKS refetch lease across 4 worker threads (race window widened to 4 ms)', () => {
  it('with CAS: every JWKS is refetched exactly once', async () => {
    expect(await refetchesPerJwks('cas')).toEqual(Array(PROVIDERS).fill(1));
  });

  it('without CAS (the control): workers refetch the same JWKS several times', async () => {
    const refetches = await refetchesPerJwks('naive');
    expect(refetches.reduce((a, b) => a + b, 0)).toBeGreaterThan(PROVIDERS);
  });
});
