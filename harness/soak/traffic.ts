/**
 * The soak's traffic: a mix of request classes that takes every filter of envoy/mesh.yaml
 * down its hot path and its denial paths, as raw HTTP/1.1 requests for wrk, and the wrk
 * Lua script (wrk's SCRIPTING: `request`, `response`, `done`) that sends them.
 *
 * Tokens are minted with the demo's keys (harness/demo/token.ts), so they are valid for
 * about an hour: a soak runs well within that.
 */
import { mintDemoToken, type TokenOptions } from '../demo/token.ts';

/** One kind of request of the mix. */
export interface TrafficClass {
  name: string;
  /** Its share of the requests, per mille (the weights add up to 1000). */
  weight: number;
  /** What it exercises, and the answers it should get. */
  expect: string;
  /** Raw HTTP/1.1 requests, sent in turn (different tokens, users or paths). */
  requests: string[];
}

/** A raw HTTP/1.1 request (RFC 9112) with `headers` and, when given, a body with its Content-Length. */
export function rawRequest(method: string, path: string, headers: Record<string, string> = {}, body?: string): string {
  const lines = [`${method} ${path} HTTP/1.1`, 'Host: mesh.test', ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`)];
  if (body !== undefined) lines.push(`Content-Length: ${Buffer.byteLength(body)}`);
  return `${lines.join('\r\n')}\r\n\r\n${body ?? ''}`;
}

const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i);
const mint = (n: number, opts: (i: number) => TokenOptions): Promise<string[]> => Promise.all(range(n).map((i) => mintDemoToken(opts(i))));
const bearer = (token: string): Record<string, string> => ({ authorization: `Bearer ${token}` });

/**
 * The mix. Pools are sized against the mesh's limits: premium users get 100 requests a
 * minute each, so the 500 HS256 users are allowed about 830 requests a second together
 * and answered 429 past that (about half of theirs at 9,000 a second); the 3,000 tokens
 * of the uncached class
 * outnumber jwt-auth's cache (1,000 entries per worker, the oldest evicted), so most of
 * them are verified afresh (and evict some of the cached class's). No request with a body
 * is denied: wrk's connections then stay open, each on the worker that accepted it.
 */
export async function soakTraffic(): Promise<TrafficClass[]> {
  const allPermissions = ['banking:read', 'credit:read', 'documents:write', 'transactions:write'];
  const hs256 = await mint(500, (i) => ({ sub: `soak-hs-${i}`, tier: 'premium', permissions: allPermissions }));
  const rs256 = await mint(200, (i) => ({ alg: 'RS256', sub: `soak-rs-${i}`, tier: 'premium', permissions: allPermissions }));
  const fresh = await mint(3000, (i) => ({ sub: `soak-fresh-${i}`, permissions: allPermissions }));
  const expired = await mint(20, (i) => ({ sub: `soak-expired-${i}`, expiresInSeconds: -600 }));
  // A valid header and payload under another token's signature.
  const forged = hs256.slice(0, 50).map((t, i) => `${t.slice(0, t.lastIndexOf('.'))}${hs256[i + 1].slice(hs256[i + 1].lastIndexOf('.'))}`);
  const weak = await mint(20, (i) => ({ alg: 'RS256', sub: `soak-weak-${i}`, permissions: ['documents:write'] }));
  const credit = rs256.slice(0, 20);

  return [
    { name: 'hs256-cached', weight: 300, expect: 'HS256 service tokens of 500 premium users, mostly cached: 200, or 429 past 100/min per user',
      requests: hs256.map((t, i) => rawRequest('GET', `/api/documents/${i % 50}`, bearer(t))) },
    { name: 'rs256', weight: 100, expect: 'RS256 user tokens (JWKS from the jwks service) of 200 premium users on banking (circuit closed): 200 or 429',
      requests: rs256.map((t, i) => rawRequest('GET', `/api/banking/accounts/${i % 20}`, bearer(t))) },
    { name: 'hs256-uncached', weight: 60, expect: '3,000 HS256 tokens in x-service-token, more than the token cache: verified afresh; 200',
      requests: fresh.map((t) => rawRequest('GET', '/api/documents/list', { 'x-service-token': t })) },
    // Envoy closes an HTTP/1.1 connection whose request body it did not read when a filter
    // answers at the headers; these users stay under their limit, so the connections stay.
    { name: 'post-keyed', weight: 30, expect: 'transaction POSTs with an idempotency-key (financial-transactions policy) by the 3,000 users of hs256-uncached: 200',
      requests: fresh.map((t, i) => rawRequest('POST', '/api/transactions/soak', { ...bearer(t), 'content-type': 'application/json', 'idempotency-key': `soak-${i}` }, '{"amount":100}')) },
    { name: 'health', weight: 30, expect: '/health, no token needed: 200 (a direct response)', requests: [rawRequest('GET', '/health')] },
    { name: 'missing-token', weight: 80, expect: 'banking without a token: 401', requests: [rawRequest('GET', '/api/banking/accounts/1')] },
    { name: 'expired-token', weight: 50, expect: 'expired HS256 tokens: 401 jwt_expired', requests: expired.map((t) => rawRequest('GET', '/api/banking/accounts/1', bearer(t))) },
    { name: 'forged-token', weight: 50, expect: 'HS256 tokens with another token\u2019s signature: 401', requests: forged.map((t) => rawRequest('GET', '/api/documents/1', bearer(t))) },
    { name: 'malformed-token', weight: 30, expect: 'tokens that are not JWTs: 401', requests: range(100).map((i) => rawRequest('GET', '/api/documents/1', bearer(`not.a.token-${i}`))) },
    { name: 'forbidden', weight: 50, expect: 'RS256 tokens without credit:read on the credit bureau: 403', requests: weak.map((t) => rawRequest('GET', '/api/credit-bureau/report', bearer(t))) },
    { name: 'anonymous', weight: 150, expect: 'no token on /api/ (allowed, anonymous tier: 5/min per client address): mostly 429', requests: range(20).map((i) => rawRequest('GET', `/api/public/${i}`)) },
    { name: 'circuit-fail', weight: 20, expect: 'credit bureau /fail-test (always 503): the circuit opens, half-opens after 60 s, opens again: 503', requests: credit.map((t) => rawRequest('GET', '/api/credit-bureau/fail-test', bearer(t))) },
    { name: 'circuit-flap', weight: 30, expect: 'credit bureau /flap (5 s up, 5 s down): the circuit opens and closes again: 200 or 503', requests: credit.map((t) => rawRequest('GET', '/api/credit-bureau/flap', bearer(t))) },
    { name: 'flaky-read', weight: 20, expect: 'a read whose first attempt fails (503): retried, 200', requests: hs256.slice(100, 200).map((t) => rawRequest('GET', '/api/documents/flaky?failures=1', bearer(t))) },
  ];
}

/** `s` as a Lua string literal; the requests are printable ASCII with CR and LF. */
function luaString(s: string): string {
  if (/[^\x20-\x7e\r\n]/.test(s)) throw new Error(`not printable ASCII: ${JSON.stringify(s.slice(0, 80))}`);
  return `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\r/g, '\\r').replace(/\n/g, '\\n')}"`;
}

/** A fixed interleaving of the classes by weight (a seeded shuffle: every run sends the same mix). */
function schedule(classes: readonly TrafficClass[]): number[] {
  const slots = classes.flatMap((c, i) => Array<number>(c.weight).fill(i + 1));
  let seed = 0x50a4;
  for (let i = slots.length - 1; i > 0; i--) {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    const j = seed % (i + 1);
    [slots[i], slots[j]] = [slots[j], slots[i]];
  }
  return slots;
}

/** The line wrk's `done()` prints, followed by the run's figures as JSON (`WrkResult`). */
export const RESULT_MARK = 'SOAK_RESULT ';

/**
 * The wrk script: each thread sends the classes' requests in `schedule` order and counts
 * the answers by status; `done()` prints `RESULT_MARK` and the figures:
 * `{ requests, duration_us, bytes, errors: { connect, read, write, status, timeout },
 * latency_us: { p50, p99, max }, statuses: { "<code>": count } }`.
 */
export function wrkScript(classes: readonly TrafficClass[]): string {
  return `-- Generated by harness/soak/traffic.ts: the soak's request mix.
local pools = {
${classes.map((c) => `  { ${c.requests.map(luaString).join(',\n    ')} }, -- ${c.name}`).join('\n')}
}
local schedule = { ${schedule(classes).join(',')} }
local cursor, turn = {}, 0
statuses = {}

function request()
  turn = turn % #schedule + 1
  local c = schedule[turn]
  local pool = pools[c]
  local k = (cursor[c] or 0) % #pool + 1
  cursor[c] = k
  return pool[k]
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

local threads = {}
function setup(thread) table.insert(threads, thread) end

function done(summary, latency, requests)
  local total = {}
  for _, t in ipairs(threads) do
    for code, n in pairs(t:get("statuses")) do total[code] = (total[code] or 0) + n end
  end
  local parts = {}
  for code, n in pairs(total) do parts[#parts + 1] = string.format('"%d":%d', code, n) end
  local e = summary.errors
  io.write(string.format('${RESULT_MARK}{"requests":%d,"duration_us":%d,"bytes":%d,' ..
    '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
    '"latency_us":{"p50":%d,"p99":%d,"max":%d},"statuses":{%s}}\\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99), latency.max, table.concat(parts, ',')))
end
`;
}
