// mesh (build/mesh.wasm) on the project's host: what the chain itself does
// (assembly/proxy-wasm/chain.ts). Each filter's own behaviour inside the module is proved by
// every filter suite run again as a member (the vitest project `as-member`), and the
// envoy/mesh.yaml suites on Envoy run it with `--one-module` (test/envoy/real-envoy.test.ts,
// operating.test.ts).
import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { WasmPluginError } from '../../harness/host/index.ts';
import type { WasmEmulator } from '../../harness/host/emulator.ts';
import { counter, exchange, filterEmulator, hostcallLog, request, testModule } from '../../harness/host/testing.ts';

const START = Date.UTC(2026, 0, 1);
const SECRET = Buffer.from('mesh-test-secret-of-at-least-32-bytes!!');
const URI = 'http://idp.internal/.well-known/jwks.json';

const b64url = (b: Buffer | string) => Buffer.from(b).toString('base64url');
/** An HS256 token for `sub`, valid for an hour from START. */
function hs256(sub: string): string {
  const head = b64url(JSON.stringify({ alg: 'HS256', typ: 'JWT', kid: 'k' }));
  const body = b64url(JSON.stringify({ sub, iss: 'idp', exp: START / 1000 + 3600 }));
  return `${head}.${body}.${createHmac('sha256', SECRET).update(`${head}.${body}`).digest('base64url')}`;
}
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
const JWKS = JSON.stringify({ keys: [{ kty: 'oct', kid: 'k', alg: 'HS256', k: b64url(SECRET) }] });

const jwt = (remote: boolean) => ({
  name: 'jwt-auth',
  config: {
    providers: {
      idp: {
        issuer: 'idp',
        ...(remote ? { remote_jwks: { http_uri: { uri: URI, cluster: 'jwks', timeout: '1s' }, cache_duration: '600s' } } : { local_jwks: { inline_string: JWKS } }),
        claim_to_headers: [{ claim_name: 'sub', header_name: 'x-user-id' }],
      },
    },
    rules: [{ match: { prefix: '/' }, requires: { provider_name: 'idp' } }],
  },
});
/** A bucket per x-user-id (written by jwt-auth before it): `max` requests, no refill in the test. */
const rateLimit = (max: number) => ({
  name: 'rate-limit',
  config: { response_headers: true, rules: [{ name: 'users', key: [{ header: 'x-user-id' }], limits: [{ max_tokens: max, tokens_per_fill: 1, fill_interval: '3600s' }] }] },
});
const breaker = { name: 'circuit-breaker', config: { services: [{ name: 'api', match: { prefix: '/' }, failure_threshold: 2 }] } };
const retry = { name: 'retry', config: { policies: [{ name: 'reads', match: { methods: ['GET'] }, max_retries: 2, retry_on: ['5xx'] }] } };

let wasm = '';
/** Each filter's own module (the separate-entries side of the comparisons). */
const own: Record<string, string> = {};
const mesh = (filters: unknown[], options: Parameters<typeof filterEmulator>[3] = {}): Promise<WasmEmulator> =>
  filterEmulator(wasm, 'mesh', { filters }, { startTimeMs: START, clusters: ['jwks'], ...options });

const allowed = (emu: WasmEmulator) => counter(emu, 'rate_limit_requests_total', { rule: 'users', outcome: 'allowed' });
const breakerAllowed = (emu: WasmEmulator) => counter(emu, 'circuit_breaker_requests_total', { service: 'api', outcome: 'admitted' });

beforeAll(async () => {
  wasm = await testModule('mesh');
  for (const name of ['jwt-auth', 'rate-limit', 'circuit-breaker', 'retry']) own[name] = await testModule(name);
}, 300_000);

describe('mesh: the filters as one chain', () => {
  it('runs the members in order: jwt-auth writes x-user-id, the rate-limit member after it keys its bucket on it', async () => {
    const emu = await mesh([jwt(false), rateLimit(1), breaker, retry]);
    const first = exchange(emu, { headers: bearer(hs256('alice')) });
    expect(first.status).toBe(200);
    expect(first.requestHeader('x-user-id')).toBe('alice');
    expect(first.requestHeader('x-envoy-max-retries')).toBe('2');
    expect(exchange(emu, { headers: bearer(hs256('bob')) }).status).toBe(200); // bob's own bucket
    expect(exchange(emu, { headers: bearer(hs256('alice')) }).status).toBe(429);
    expect(allowed(emu)).toBe(2);
  });

  it('a local reply stops the chain: the members after it never see the request, nor its response', async () => {
    const emu = await mesh([jwt(false), rateLimit(1), breaker, retry]);
    const ok = exchange(emu, { headers: bearer(hs256('alice')) });
    expect(ok.responseHeader('x-ratelimit-remaining')).toBe('0'); // the response went back through rate-limit
    const before = breakerAllowed(emu);
    const denied = exchange(emu, { headers: bearer(hs256('alice')) });
    expect(denied.status).toBe(429);
    expect(denied.requestHeader('x-envoy-max-retries')).toBeUndefined(); // retry did not run
    expect(breakerAllowed(emu)).toBe(before); // nor circuit-breaker
    const missing = exchange(emu, {});
    expect(missing.status).toBe(401);
    expect(missing.responseHeader('x-ratelimit-limit')).toBeUndefined(); // rate-limit never saw it
    expect(allowed(emu)).toBe(1);
  });

  it('a member that pauses holds the rest: after the keys arrive the members after jwt-auth run, then the stream continues', async () => {
    const emu = await mesh([jwt(true), rateLimit(5), retry]);
    const a = request(emu, { headers: bearer(hs256('alice')) });
    const forged = request(emu, { headers: bearer(`${hs256('eve').slice(0, -4)}AAAA`) });
    expect(a.filterStatus).toBe(4); // StopAllIterationAndWatermark
    expect(allowed(emu)).toBe(0);
    expect(a.requestHeader('x-envoy-max-retries')).toBeUndefined();
    emu.respondHttpCall({ status: 200, body: JWKS });
    expect(allowed(emu)).toBe(1); // the rate-limit member ran for alice, not for the forged token
    expect(a.requestHeader('x-user-id')).toBe('alice');
    expect(a.requestHeader('x-envoy-max-retries')).toBe('2');
    expect(emu.getContinueCalls(a.id).request).toBe(1);
    expect(forged.reply?.status).toBe(401);
    expect(emu.getContinueCalls(forged.id).request).toBe(0);
    expect(a.respond(200).status).toBe(200);
  });

  it('a member that pauses and is then denied by the next member: the stream gets the reply and is not continued', async () => {
    const emu = await mesh([jwt(true), rateLimit(1)]);
    const first = request(emu, { headers: bearer(hs256('carol')) }); // paused: the fetch is pending
    emu.respondHttpCall({ status: 200, body: JWKS });
    expect(first.respond(200).status).toBe(200);
    const second = request(emu, { headers: bearer(hs256('carol')) });
    expect(second.reply?.status).toBe(429);
    expect(emu.getContinueCalls(second.id).request).toBe(0);
  });

  it('ticks reach the member that asked for them (jwt-auth refetches its keys on its tick)', async () => {
    const emu = await mesh([rateLimit(5), jwt(true)]);
    expect(emu.getPendingHttpCalls()).toHaveLength(0);
    emu.advanceClock(1_000);
    emu.tick();
    const calls = emu.getPendingHttpCalls();
    expect(calls).toHaveLength(1);
    expect(calls[0].cluster).toBe('jwks');
  });

  it('makes the hostcalls of the four filters, less the header reads the first one\'s copy of the map answers', async () => {
    const chain = [jwt(false), rateLimit(100), breaker, retry];
    const one = hostcallLog();
    const emu = await mesh(chain, { onHostcall: one.onHostcall });
    const separate = hostcallLog();
    const plugins = await Promise.all(chain.map((f) => filterEmulator(own[f.name], f.name, f.config, { startTimeMs: START, onHostcall: separate.onHostcall })));
    for (let i = 0; i < 2; i++) exchange(emu, { headers: bearer(hs256('dave')) });
    one.clear();
    exchange(emu, { headers: bearer(hs256('dave')) });
    // The same request through the four plugins one after another, as Envoy's chain would.
    for (let i = 0; i < 3; i++) {
      separate.clear();
      let headers: Record<string, string> = bearer(hs256('dave'));
      const streams = plugins.map((p) => {
        const ex = request(p, { headers });
        headers = Object.fromEntries(ex.requestHeaders.filter(([k]) => !k.startsWith(':')));
        return ex;
      });
      for (const ex of streams.reverse()) ex.respond(200);
    }
    const HEADER_READ = 'proxy_get_header_map_value';
    const kinds = (calls: { name: string }[]) => calls.map((c) => c.name).filter((n) => n !== 'proxy_set_effective_context' && n !== HEADER_READ).sort();
    const reads = (calls: { name: string }[]) => calls.filter((c) => c.name === HEADER_READ).length;
    expect(kinds(one.calls)).toEqual(kinds(separate.calls));
    // jwt-auth copies the request headers whole (proxy_get_header_map_pairs); circuit-breaker's
    // and retry's lookups after it are answered from that copy (headers.ts MapSnapshot). On
    // the response, retry's lookup reads the map whole and circuit-breaker's read copies that.
    expect(reads(separate.calls)).toBe(5);
    expect(reads(one.calls)).toBe(0);
  });
});

describe('mesh: the callbacks it exports', () => {
  const callbacks = async (file: string): Promise<Set<string>> =>
    new Set(WebAssembly.Module.exports(await WebAssembly.compile(readFileSync(file))).filter((e) => e.kind === 'function' && e.name.startsWith('proxy_on_')).map((e) => e.name));

  it("are the union of the members' own modules': a member callback it lacked would never run, one none needs costs a VM entry", async () => {
    const union = new Set<string>();
    for (const file of Object.values(own)) for (const name of await callbacks(file)) union.add(name);
    expect([...(await callbacks(wasm))].sort()).toEqual([...union].sort());
  });
});

describe('mesh: configuration', () => {
  it('rejects a bad chain with one line naming the JSON path', async () => {
    for (const [config, line] of [
      [{}, 'mesh: filters: missing required field'],
      [{ filters: [] }, 'mesh: filters: expected a non-empty array'],
      [{ filters: [{ name: 'ext-authz', config: {} }] }, 'mesh: filters[0].name: expected one of "jwt-auth", "rate-limit", "circuit-breaker", "retry"'],
      [{ filters: [{ name: 'retry' }] }, 'mesh: filters[0].config: missing required field'],
      [{ filters: [{ name: 'retry', config: null }] }, 'mesh: filters[0].config: missing required field'],
      [{ filters: [{ name: 'retry', config: [] }] }, 'mesh: filters[0].config: expected a JSON object'],
      [{ filters: [{ name: 'retry', config: '{}' }] }, 'mesh: filters[0].config: expected a JSON object'],
      [{ filters: [{ name: 'retry', config: 7 }] }, 'mesh: filters[0].config: expected a JSON object'],
      [{ filters: [{ name: 'retry', config: {} }], extra: 1 }, 'mesh: extra: unknown field'],
    ] as const) {
      const error = await filterEmulator(wasm, 'mesh', config).catch((e) => e);
      expect(error, JSON.stringify(config)).toBeInstanceOf(WasmPluginError);
      expect(error.message).toBe(line);
    }
  });

  it('takes a member configuration with blanks before it (the object is its text from the brace on)', async () => {
    const text = `{ "filters" : [ { "name" : "retry", "config" :\n\t ${JSON.stringify(retry.config)} } ] }`;
    const emu = await filterEmulator(wasm, 'mesh', text);
    // The member got its policy: a GET gets its retries.
    expect(request(emu, {}).requestHeader('x-envoy-max-retries')).toBe('2');
    emu.close();
  });

  it("reports a member's own error line, as the filter alone does", async () => {
    const error = await filterEmulator(wasm, 'mesh', { filters: [retry, { name: 'rate-limit', config: { rules: [] } }] }).catch((e) => e);
    const alone = await filterEmulator(own['rate-limit'], 'rate-limit', { rules: [] }).catch((e) => e);
    expect(error).toBeInstanceOf(WasmPluginError);
    expect(alone).toBeInstanceOf(WasmPluginError);
    expect(error.message).toBe(alone.message);
    expect(error.message).toMatch(/^rate-limit: rules: /);
  });
});

