/**
 * The configurations of the Envoy bench (harness/bench/envoy.ts) and of the hostcall count
 * (harness/bench/hostcalls.ts): for each, the HTTP filters (our modules, or Envoy's own for
 * the same policy), the route (a `direct_response`, so that only Envoy and the filters are
 * measured, or the bench upstream), the requests the load generator sends, what every
 * response must be, and the stats that prove the configuration did what it claims.
 *
 * Groups (`--only <group|name>`):
 * - floor: no filters; a no-op filter and the small filter (request and response header
 *   added, a counter) with our SDK and with proxy-wasm-rust-sdk 0.2.5;
 * - jwt: jwt-auth vs `jwt_authn` for one provider (issuer, audience, the JWKS inline, `sub`
 *   to `x-user-id`, the token removed), a verified-token cache of 1000 on both: a cached
 *   token (one token over and over), uncached tokens (a pool of 2000 distinct tokens in
 *   turn, twice the cache, so that every lookup misses in an LRU or FIFO cache), a missing
 *   token, a bad signature;
 * - rate-limit: rate-limit vs `local_ratelimit` with one bucket per client address or per
 *   `x-client-id` header (4 clients; Envoy: `rate_limits` descriptors with a wildcard
 *   entry and `max_dynamic_descriptors`), never empty, or refilling at half the paced rate;
 * - retry (upstream): retry (a GET policy and a budget) vs the route's `retry_policy` (and
 *   the cluster's `retry_budget`), with 0 % and 10 % upstream 503s;
 * - circuit-breaker: CLOSED and OPEN with a `direct_response` (our filter alone), and on the
 *   upstream vs Envoy's nearest equivalent, outlier detection (`consecutive_5xx`, the host
 *   ejected: 503 `no healthy upstream`); Envoy's `circuit_breakers` are concurrency limits
 *   (our `max_concurrent_requests`), with no OPEN state to compare;
 * - chain: the four filters (cached HS256 token, per-address bucket, a CLOSED circuit, a GET
 *   retry policy) vs `jwt_authn` + `local_ratelimit` (+ the route's retry policy);
 * - mesh (upstream): envoy/mesh.yaml as it is (edge settings, routes, the four filters with
 *   their configurations) with the limits raised so no bucket empties, vs the same
 *   bootstrap with `jwt_authn` + `local_ratelimit` + the routes' retry policies;
 * - global (upstream): limits across replicas, per `x-client-id` (4 clients), never over:
 *   rate-limit with a `global` part (local bucket, then envoyproxy/ratelimit asked over
 *   gRPC) vs the same rule local-only vs Envoy's `ratelimit` filter asking the same service
 *   (route `rate_limits`: Envoy's filter skips routes without a route entry, hence the
 *   upstream). The service and its Redis run on the load generator's core
 *   (harness/bench/envoy/global.ts); their CPU is not in Envoy's figures. Timeout 1 s on
 *   both, and no call may fail: a failure-mode answer would measure no service at all.
 *   Paced at `GLOBAL_PACED_RPS` against a baseline of its own (`global-none`): the
 *   service (~250 µs of CPU a call) beside wrk and the upstream on one core does not hold
 *   `PACED_RPS`, and latency would then measure that core's queue.
 */
import { meshConfiguration } from '../../envoy/combine.ts';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { projectRoot } from '../../build.ts';
import { httpListener, loopbackAdmin, staticCluster } from '../../envoy/bootstrap.ts';
import { nativeRateLimitFilter, nativeRateLimitsFor, rateLimitServiceCluster } from '../../ratelimit/envoy.ts';
import type { WrkRequest } from './load.ts';
import { AUDIENCE, ISSUER, badSignature, type Alg, type BenchKeys } from './tokens.ts';

export type Side = 'none' | 'ours' | 'rust' | 'native';
export type Group = 'floor' | 'hostcall' | 'jwt' | 'rate-limit' | 'retry' | 'circuit-breaker' | 'chain' | 'mesh' | 'global';

/** One of our (or the Rust SDK's) modules in the chain. */
export interface WasmFilterSpec {
  rootId: string;
  /** Plugin name and vm_id (default `rootId`). */
  name?: string;
  wasm: string;
  /** The plugin configuration: JSON (an object) or text as it is. */
  config: unknown;
}

/** A request sent before the load (to put the configuration in its state: a circuit opened). */
export interface PrepareRequest {
  path: string;
  /** What the route answers it (for the hostcall count's emulated response). */
  status: number;
}

/**
 * Envoy's stats over a run (wasm metrics also named without `wasmcustom.`): `get` is how
 * much a counter rose, `gauge` a gauge's value at the end; NaN when there is no such stat.
 */
export interface Stats {
  get(name: MetricName): number;
  gauge(name: MetricName): number;
}

/** A stat's name, or its names in turn (the first Envoy has counts). */
export type MetricName = string | readonly string[];

/**
 * Our filters' metric `family` with `labels` as the SDK's `metricName` folds them into the
 * name for Envoy's tag extraction (`provider=.=bench;.;outcome=.=hit;.;<family>`), then
 * `old`, the same metric's name before labels (modules built before that change).
 */
export function labelled(family: string, labels: Record<string, string>, old: string): readonly string[] {
  return [Object.entries(labels).map(([k, v]) => `${k}=.=${v};.;`).join('') + family, old];
}

export interface BenchConfig {
  name: string;
  group: Group;
  /** What it measures, one line. */
  what: string;
  side: Side;
  /** Routes to the bench upstream (else a `direct_response` 200 `ok`). */
  upstream: boolean;
  /** The configuration whose cost is subtracted (`none` or `none-up`). */
  baseline?: string;
  /** Envoy's own filters for the same policy. */
  native?: string;
  /** Measured only at the fixed rate (half-denied buckets). */
  pacedOnly?: boolean;
  /** The paced run's rate, when not `PACED_RPS` (the global group: the service shares the load generator's core). */
  pacedRps?: number;
  wasm: WasmFilterSpec[];
  nativeFilters: Record<string, unknown>[];
  /** More fields on the main route's `route` action (`retry_policy`). */
  routeAction?: Record<string, unknown>;
  /** More fields on the upstream cluster. */
  cluster?: Record<string, unknown>;
  /** More fields on the virtual host. */
  virtualHost?: Record<string, unknown>;
  /** The whole bootstrap, for configurations that bring their own (mesh). */
  bootstrap?: (upstream: string) => Record<string, unknown>;
  /** The requests the generator sends, in turn (the check and the warm-up). */
  requests: WrkRequest[];
  /**
   * Requests none of the run's earlier ones sent, for the saturated and the paced run
   * (uncached tokens: a run must not find the previous run's last tokens in the cache).
   */
  fresh?: { measure: WrkRequest[]; paced: WrkRequest[] };
  prepare: PrepareRequest[];
  /** The status every response has; `half-429`: about half 429, the rest 200. */
  expect: 200 | 401 | 503 | 'half-429';
  /** A response header the first request's response must carry (`[name, value]`, value `''` for any). */
  expectHeader?: [string, string];
  /** Checks Envoy's stats after the load of `served` requests; returns what is wrong, or null. */
  verify?: (stats: Stats, served: number) => string | null;
}

export interface ConfigContext {
  keys: BenchKeys;
  /** One token per algorithm (the cached-token configurations). */
  tokens: Record<Alg, string>;
  /** Pools of distinct tokens per algorithm (uncached): 3 × `POOL_SIZE`, one part per run. */
  pools: Record<Alg, string[]>;
  /** The demo's service token for envoy/mesh.yaml (HS256, serviceId eva-frontend, banking:read). */
  meshToken: string;
  /** The demo's JWKS, served by the bench upstream for envoy/mesh.yaml's `remote_jwks`. */
  meshJwksUri: (upstream: string) => string;
  /** `host:port` of the rate limit service's gRPC listener (the global group; global.ts starts it). */
  rateLimitService?: string;
}

const BUILD = path.join(projectRoot, 'build');
export const WASM = {
  jwtAuth: path.join(BUILD, 'jwt-auth.wasm'),
  rateLimit: path.join(BUILD, 'rate-limit.wasm'),
  circuitBreaker: path.join(BUILD, 'circuit-breaker.wasm'),
  retry: path.join(BUILD, 'retry.wasm'),
  mesh: path.join(BUILD, 'mesh.wasm'),
  noop: path.join(BUILD, 'test', 'noop.wasm'),
  cost: path.join(BUILD, 'test', 'cost.wasm'),
  example: path.join(BUILD, 'test', 'example.wasm'),
};
/** Where the Rust SDK modules are built (harness/bench/envoy/rust-sdk.ts). */
export const RUST_OUT = path.join(projectRoot, '.cache', 'bench', 'rust-sdk', 'wasm32-wasip1', 'release');
export const RUST_WASM = { noop: path.join(RUST_OUT, 'bench_noop.wasm'), small: path.join(RUST_OUT, 'bench_small.wasm') };

/** Calls a request of each `hostcall` configuration. */
export const COST_CALLS = 20;
/** test/wasm/cost's kinds of call, as the `hostcall` configurations name them. */
const COST_KINDS: Record<string, string> = {
  header: 'proxy_get_header_map_value (`:path`, found: the value is copied into memory the module allocates)',
  'header-missing': 'proxy_get_header_map_value of an absent header (nothing allocated)',
  pairs: 'proxy_get_header_map_pairs (the request headers)',
  replace: 'proxy_replace_header_map_value (one request header: the first call adds it, the others overwrite it)',
  insert: 'proxy_replace_header_map_value of a request header not there yet (each call adds an entry)',
  'shared-get': 'proxy_get_shared_data (64 bytes)',
  'shared-set': 'proxy_set_shared_data (64 bytes, no cas)',
  metric: 'proxy_increment_metric',
  time: 'proxy_get_current_time_nanoseconds',
  property: 'proxy_get_property source.address',
};

/** The fixed rate of the paced runs (latency, half-denied buckets), requests per second. */
export const PACED_RPS = 2000;
/** Distinct tokens in an uncached run's pool: twice the verified-token cache. */
export const POOL_SIZE = 2000;
const CACHE_ENTRIES = 1000;
/** Clients of the per-header rate-limit configurations (`x-client-id: client-<i>`). */
const HEADER_CLIENTS = 4;
/** The global group: the service's cluster, its domain (global.ts's configuration) and the call's timeout on both sides. */
export const RATE_LIMIT_CLUSTER = 'ratelimit';
export const GLOBAL_DOMAIN = 'bench';
const GLOBAL_TIMEOUT = '1s';
export const GLOBAL_PACED_RPS = 500;

const get = (path: string, headers: Record<string, string> = {}): WrkRequest => ({ method: 'GET', path, headers });
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

const STRING_VALUE = 'type.googleapis.com/google.protobuf.StringValue';

/** The `envoy.filters.http.wasm` entry of `spec` (V8, one VM per plugin). */
export function wasmFilter(spec: WasmFilterSpec): Record<string, unknown> {
  const name = spec.name ?? spec.rootId;
  return {
    name: 'envoy.filters.http.wasm',
    typed_config: {
      '@type': 'type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm',
      config: {
        name,
        root_id: spec.rootId,
        vm_config: { vm_id: name, runtime: 'envoy.wasm.runtime.v8', code: { local: { filename: spec.wasm } } },
        configuration: { '@type': STRING_VALUE, value: typeof spec.config === 'string' ? spec.config : JSON.stringify(spec.config) },
      },
    },
  };
}

const ALL = { default_value: { numerator: 100, denominator: 'HUNDRED' } };

/**
 * The bootstrap of `c` with the upstream at `upstream` (`host:port`): one listener (ports 0:
 * `startEnvoy` binds ephemeral ones), `/fail` answered 503 (directly, or by the upstream),
 * everything else 200 `ok` or routed to the upstream.
 */
export function bootstrapOf(c: BenchConfig, upstream: string): Record<string, unknown> {
  if (c.bootstrap) return c.bootstrap(upstream);
  const routes = c.upstream
    ? [{ match: { prefix: '/' }, route: { cluster: 'upstream', timeout: '5s', ...c.routeAction } }]
    : [
        { match: { prefix: '/fail' }, direct_response: { status: 503, body: { inline_string: 'failed' } } },
        { match: { prefix: '/' }, direct_response: { status: 200, body: { inline_string: 'ok' } }, ...(c.routeAction ? { name: 'direct' } : {}) },
      ];
  const filters = c.side === 'native' ? c.nativeFilters : c.wasm.map(wasmFilter);
  return {
    node: { id: 'bench', cluster: 'bench' },
    admin: loopbackAdmin(),
    static_resources: {
      listeners: [
        httpListener({
          name: 'ingress',
          statPrefix: 'ingress_http',
          routeConfigName: 'bench',
          virtualHosts: [{ name: 'bench', domains: ['*'], routes, ...c.virtualHost }],
          httpFilters: filters,
        }),
      ],
      clusters: [staticCluster('upstream', { endpoints: [upstream], extra: c.cluster })],
    },
  };
}

// --- checks ------------------------------------------------------------------------

/** `name` rose to at least `fraction` of `served`. */
const shown = (name: MetricName) => (typeof name === 'string' ? name : name[0]);

function atLeast(s: Stats, name: MetricName, served: number, fraction = 0.99): string | null {
  const v = s.get(name);
  return v >= served * fraction ? null : `${shown(name)} is ${v}, expected at least ${Math.ceil(served * fraction)} (${served} requests served)`;
}

function atMost(s: Stats, name: MetricName, limit: number): string | null {
  const v = s.get(name);
  return v <= limit ? null : `${shown(name)} is ${v}, expected at most ${limit}`;
}

/** `name` did not rise, or does not exist (counters Envoy creates on their first increment). */
function never(s: Stats, name: MetricName): string | null {
  const v = s.get(name);
  return Number.isNaN(v) || v === 0 ? null : `${shown(name)} is ${v}, expected 0`;
}

const all = (...checks: Array<string | null>): string | null => checks.find((c) => c !== null) ?? null;

// --- the configurations ------------------------------------------------------------------

export function configurations(ctx: ConfigContext): BenchConfig[] {
  const jwks = JSON.stringify(ctx.keys.jwks);
  const jwtAuth: WasmFilterSpec = {
    rootId: 'jwt-auth',
    wasm: WASM.jwtAuth,
    config: {
      providers: {
        bench: {
          issuer: ISSUER,
          audiences: [AUDIENCE],
          local_jwks: { inline_string: jwks },
          claim_to_headers: [{ claim_name: 'sub', header_name: 'x-user-id' }],
        },
      },
      rules: [{ match: { prefix: '/' }, requires: { provider_name: 'bench' } }],
      cache: { max_entries: CACHE_ENTRIES },
    },
  };
  const jwtAuthn = {
    name: 'envoy.filters.http.jwt_authn',
    typed_config: {
      '@type': 'type.googleapis.com/envoy.extensions.filters.http.jwt_authn.v3.JwtAuthentication',
      providers: {
        bench: {
          issuer: ISSUER,
          audiences: [AUDIENCE],
          local_jwks: { inline_string: jwks },
          from_headers: [{ name: 'authorization', value_prefix: 'Bearer ' }],
          forward: false,
          claim_to_headers: [{ claim_name: 'sub', header_name: 'x-user-id' }],
          jwt_cache_config: { jwt_cache_size: CACHE_ENTRIES },
        },
      },
      rules: [{ match: { prefix: '/' }, requires: { provider_name: 'bench' } }],
    },
  };
  const cacheLookups = (outcome: 'hit' | 'miss', provider = 'bench') =>
    labelled('jwt_auth_provider_cache_lookups_total', { provider, outcome }, `jwt_auth.provider.${provider}.cache_${outcome}`);
  const jwtDenied = (reason: string) => labelled('jwt_auth_denied_total', { reason }, `jwt_auth.denied.${reason}`);
  const rateLimited = (rule: string, outcome: 'allowed' | 'denied') => labelled('rate_limit_requests_total', { rule, outcome }, `rate_limit_${rule}_${outcome}`);
  const rejectedOpen = (service: string) => labelled('circuit_breaker_requests_total', { service, outcome: 'rejected_open' }, `circuit_breaker.${service}.rejected.open`);
  const NATIVE_JWT = 'http.ingress_http.jwt_authn.';

  const out: BenchConfig[] = [];
  const base = { wasm: [], nativeFilters: [], prepare: [], requests: [get('/bench')], expect: 200 as const };
  const add = (c: Partial<BenchConfig> & Pick<BenchConfig, 'name' | 'group' | 'what' | 'side'>) => out.push({ upstream: false, ...base, ...c } as BenchConfig);

  // floor
  add({ name: 'none', group: 'floor', what: 'no filters (direct_response)', side: 'none' });
  add({ name: 'noop-as', group: 'floor', what: 'no-op filter, this SDK', side: 'ours', baseline: 'none', wasm: [{ rootId: 'noop', wasm: WASM.noop, config: '' }] });
  add({ name: 'noop-rust', group: 'floor', what: 'no-op filter, proxy-wasm-rust-sdk 0.2.5', side: 'rust', baseline: 'none', wasm: [{ rootId: 'noop', wasm: RUST_WASM.noop, config: '' }] });
  // hostcall: what one call costs (test/wasm/cost), COST_CALLS calls a request against the same module making none
  add({ name: 'cost-none', group: 'hostcall', what: 'test/wasm/cost making no call', side: 'ours', baseline: 'none', wasm: [{ rootId: 'cost', wasm: WASM.cost, config: 'none 0' }] });
  for (const [kind, what] of Object.entries(COST_KINDS)) {
    add({ name: `cost-${kind}`, group: 'hostcall', what: `${COST_CALLS} × ${what}`, side: 'ours', baseline: 'cost-none', wasm: [{ rootId: 'cost', wasm: WASM.cost, config: `${kind} ${COST_CALLS}` }] });
  }
  // A request-header write makes Envoy clear the route cache (ABI <= 0.2.1: envoy context.cc
  // onHeadersModified), so the route is matched again once per request however many writes:
  // one write a request, against COST_CALLS inserts, tells that once-a-request cost from an
  // insert's (harness/bench/model.ts).
  add({ name: 'cost-request-write', group: 'hostcall', what: 'one proxy_replace_header_map_value adding a request header (and the route matched again after it)', side: 'ours', baseline: 'cost-none', wasm: [{ rootId: 'cost', wasm: WASM.cost, config: 'replace 1' }] });
  const smallVerify = (s: Stats, served: number) => atLeast(s, 'example_requests_total', served);
  add({
    name: 'small-as', group: 'floor', what: 'small filter (request + response header, a counter), this SDK', side: 'ours', baseline: 'none',
    wasm: [{ rootId: 'example', wasm: WASM.example, config: '' }], expectHeader: ['x-example-response', '1'], verify: smallVerify,
  });
  add({
    name: 'small-rust', group: 'floor', what: 'small filter, proxy-wasm-rust-sdk 0.2.5', side: 'rust', baseline: 'none',
    wasm: [{ rootId: 'small', wasm: RUST_WASM.small, config: '' }], expectHeader: ['x-example-response', '1'], verify: smallVerify,
  });

  // jwt
  const jwtPair = (name: string, what: string, requests: WrkRequest[], expect: 200 | 401, ours: BenchConfig['verify'], native: BenchConfig['verify'], fresh?: BenchConfig['fresh']) => {
    add({ name: `jwt-${name}`, group: 'jwt', what: `jwt-auth, ${what}`, side: 'ours', baseline: 'none', native: `native-jwt-${name}`, wasm: [jwtAuth], requests, fresh, expect, verify: ours });
    add({ name: `native-jwt-${name}`, group: 'jwt', what: `jwt_authn, ${what}`, side: 'native', baseline: 'none', nativeFilters: [jwtAuthn], requests, fresh, expect, verify: native });
  };
  for (const alg of ['HS256', 'RS256'] as const) {
    jwtPair(`cached-${alg.toLowerCase()}`, `cached ${alg} token`, [get('/bench', bearer(ctx.tokens[alg]))], 200,
      (s, n) => atLeast(s, cacheLookups('hit'), n),
      (s, n) => atLeast(s, `${NATIVE_JWT}jwt_cache_hit`, n));
  }
  for (const alg of ['RS256', 'ES256', 'EdDSA', 'HS256'] as const) {
    const part = (i: number) => ctx.pools[alg].slice(i * POOL_SIZE, (i + 1) * POOL_SIZE).map((t) => get('/bench', bearer(t)));
    jwtPair(`uncached-${alg.toLowerCase()}`, `uncached ${alg} (${POOL_SIZE} distinct tokens in turn)`, part(0), 200,
      (s, n) => all(atLeast(s, cacheLookups('miss'), n), atMost(s, cacheLookups('hit'), n * 0.01)),
      (s, n) => all(atLeast(s, `${NATIVE_JWT}jwt_cache_miss`, n), atMost(s, `${NATIVE_JWT}jwt_cache_hit`, n * 0.01)),
      { measure: part(1), paced: part(2) });
  }
  jwtPair('missing', 'no token (401)', [get('/bench')], 401,
    (s, n) => atLeast(s, jwtDenied('jwt_missing'), n),
    (s, n) => atLeast(s, `${NATIVE_JWT}denied`, n));
  jwtPair('bad-signature', 'RS256 token with a bad signature (401)', [get('/bench', bearer(badSignature(ctx.tokens.RS256)))], 401,
    (s, n) => atLeast(s, jwtDenied('jwt_verification_failed'), n),
    (s, n) => atLeast(s, `${NATIVE_JWT}denied`, n));

  // rate-limit
  const clients = Array.from({ length: HEADER_CLIENTS }, (_, i) => get('/bench', { 'x-client-id': `client-${i}` }));
  for (const keyed of ['addr', 'header'] as const) {
    for (const mode of ['open', 'half'] as const) {
      const perKeyRps = mode === 'open' ? 1_000_000 : PACED_RPS / 2 / (keyed === 'header' ? HEADER_CLIENTS : 1);
      // Refill every 100 ms (Envoy's minimum is 50 ms), a burst of one refill.
      const tokens = mode === 'open' ? perKeyRps : perKeyRps / 10;
      const interval = mode === 'open' ? '1s' : '0.1s';
      const requests = keyed === 'header' ? clients : [get('/bench')];
      const name = `rl-${keyed}-${mode}`;
      const what = `${keyed === 'addr' ? 'per client address' : `per x-client-id (${HEADER_CLIENTS} clients)`}, ${mode === 'open' ? 'bucket never empty' : `half denied at ${PACED_RPS} req/s`}`;
      const expect = mode === 'open' ? 200 : 'half-429';
      add({
        name, group: 'rate-limit', what: `rate-limit, ${what}`, side: 'ours', baseline: 'none', native: `native-${name}`, pacedOnly: mode === 'half', requests, expect,
        wasm: [{
          rootId: 'rate-limit', wasm: WASM.rateLimit,
          config: { rules: [{ name: 'bench', key: [keyed === 'addr' ? { remote_address: {} } : { header: 'x-client-id' }], limits: [{ max_tokens: tokens, tokens_per_fill: tokens, fill_interval: interval }] }] },
        }],
        verify: mode === 'open' ? (s, n) => all(atLeast(s, rateLimited('bench', 'allowed'), n), atMost(s, rateLimited('bench', 'denied'), 0)) : undefined,
      });
      const descriptorKey = keyed === 'addr' ? 'remote_address' : 'client_id';
      add({
        name: `native-${name}`, group: 'rate-limit', what: `local_ratelimit, ${what}`, side: 'native', baseline: 'none', pacedOnly: mode === 'half', requests, expect,
        nativeFilters: [{
          name: 'envoy.filters.http.local_ratelimit',
          typed_config: {
            '@type': 'type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit',
            stat_prefix: 'bench',
            // The filter-wide bucket, required beside descriptors; left out of the count.
            token_bucket: { max_tokens: 1_000_000, tokens_per_fill: 1_000_000, fill_interval: interval },
            always_consume_default_token_bucket: false,
            filter_enabled: ALL,
            filter_enforced: ALL,
            rate_limits: [{ actions: [keyed === 'addr' ? { remote_address: {} } : { request_headers: { header_name: 'x-client-id', descriptor_key: 'client_id' } }] }],
            descriptors: [{ entries: [{ key: descriptorKey }], token_bucket: { max_tokens: tokens, tokens_per_fill: tokens, fill_interval: interval } }],
            max_dynamic_descriptors: 1000,
          },
        }],
        verify: mode === 'open' ? (s, n) => all(atLeast(s, 'bench.http_local_rate_limit.ok', n), atMost(s, 'bench.http_local_rate_limit.rate_limited', 0)) : undefined,
      });
    }
  }

  // retry (upstream)
  const BACKOFF = { retry_back_off: { base_interval: '0.001s', max_interval: '0.01s' } };
  add({ name: 'none-up', group: 'retry', what: 'no filters, routed to the upstream', side: 'none', upstream: true });
  for (const pct of [0, 10] as const) {
    const requests = [get(pct ? '/r10/bench' : '/bench')];
    const retried = (s: Stats, n: number) => pct ? atLeast(s, 'cluster.upstream.upstream_rq_retry', n, 0.08) : atMost(s, 'cluster.upstream.upstream_rq_retry', 0);
    add({
      name: `retry-${pct}`, group: 'retry', what: `retry, one GET policy and a budget, ${pct} % upstream 503s`, side: 'ours', upstream: true, baseline: 'none-up', native: `native-retry-${pct}`, requests,
      routeAction: { retry_policy: BACKOFF }, virtualHost: { include_attempt_count_in_response: true },
      wasm: [{
        rootId: 'retry', wasm: WASM.retry,
        config: { policies: [{ name: 'reads', match: { methods: ['GET', 'HEAD'] }, max_retries: 3, retry_on: ['5xx'] }], budget: { ratio: 0.2, min_retries_per_second: 10, window: '10s' } },
      }],
      verify: (s, n) => all(retried(s, n), atMost(s, ['retry_budget_exhausted_total', 'retry_budget_exhausted'], 0)),
    });
    add({
      name: `native-retry-${pct}`, group: 'retry', what: `route retry_policy (5xx, 3 retries) and the cluster's retry_budget, ${pct} % upstream 503s`, side: 'native', upstream: true, baseline: 'none-up', requests,
      routeAction: { retry_policy: { retry_on: '5xx', num_retries: 3, ...BACKOFF } },
      cluster: { circuit_breakers: { thresholds: [{ priority: 'DEFAULT', retry_budget: { budget_percent: { value: 20 }, min_retry_concurrency: 10 } }] } },
      verify: retried,
    });
  }

  // circuit-breaker
  const breaker = (select: Record<string, unknown>): WasmFilterSpec => ({
    rootId: 'circuit-breaker', wasm: WASM.circuitBreaker,
    config: { services: [{ name: 'svc', ...select, failure_threshold: 3, open_duration: '3600s', half_open_requests: 3, success_threshold: 3 }] },
  });
  const trip: PrepareRequest[] = [{ path: '/fail', status: 503 }, { path: '/fail', status: 503 }, { path: '/fail', status: 503 }];
  const closedVerify = (s: Stats) => atMost(s, rejectedOpen('svc'), 0);
  const openVerify = (s: Stats, n: number) => atLeast(s, rejectedOpen('svc'), n);
  add({ name: 'cb-closed', group: 'circuit-breaker', what: 'circuit-breaker, one CLOSED service', side: 'ours', baseline: 'none', wasm: [breaker({ match: { prefix: '/' } })], verify: closedVerify });
  add({
    name: 'cb-open', group: 'circuit-breaker', what: 'circuit-breaker, OPEN (local reply 503)', side: 'ours', baseline: 'none', wasm: [breaker({ match: { prefix: '/' } })],
    prepare: trip, expect: 503, expectHeader: ['x-circuit-breaker', 'open'], verify: openVerify,
  });
  const outlier = {
    outlier_detection: { consecutive_5xx: 3, enforcing_consecutive_5xx: 100, base_ejection_time: '3600s', max_ejection_percent: 100, interval: '1s' },
    // No panic routing: with its only host ejected the cluster has none (503 no healthy upstream).
    common_lb_config: { healthy_panic_threshold: { value: 0 } },
  };
  const ejected = (s: Stats) => (s.gauge('cluster.upstream.outlier_detection.ejections_active') === 1 ? null : 'the upstream host is not ejected');
  add({ name: 'cb-closed-up', group: 'circuit-breaker', what: 'circuit-breaker, CLOSED, on the upstream', side: 'ours', upstream: true, baseline: 'none-up', native: 'native-cb-closed-up', wasm: [breaker({ cluster: 'upstream' })], verify: closedVerify });
  add({ name: 'native-cb-closed-up', group: 'circuit-breaker', what: 'outlier detection (consecutive_5xx), host healthy', side: 'native', upstream: true, baseline: 'none-up', cluster: outlier, verify: (s) => (s.gauge('cluster.upstream.outlier_detection.ejections_active') === 0 ? null : 'the upstream host was ejected') });
  add({
    name: 'cb-open-up', group: 'circuit-breaker', what: 'circuit-breaker, OPEN, on the upstream', side: 'ours', upstream: true, baseline: 'none-up', native: 'native-cb-open-up', wasm: [breaker({ cluster: 'upstream' })],
    prepare: trip, expect: 503, expectHeader: ['x-circuit-breaker', 'open'], verify: openVerify,
  });
  add({ name: 'native-cb-open-up', group: 'circuit-breaker', what: 'outlier detection, host ejected (503 no healthy upstream)', side: 'native', upstream: true, baseline: 'none-up', cluster: outlier, prepare: trip, expect: 503, verify: (s, n) => all(ejected(s), atLeast(s, 'http.ingress_http.downstream_rq_5xx', n)) });

  // chain
  const rateLimitAddr = out.find((c) => c.name === 'rl-addr-open')!.wasm[0];
  const nativeRateLimitAddr = out.find((c) => c.name === 'native-rl-addr-open')!.nativeFilters[0];
  const retryGet = out.find((c) => c.name === 'retry-0')!.wasm[0];
  add({
    name: 'chain', group: 'chain', what: 'the four filters: jwt-auth (cached HS256), rate-limit, circuit-breaker (CLOSED), retry', side: 'ours', baseline: 'none', native: 'native-chain',
    wasm: [jwtAuth, rateLimitAddr, breaker({ match: { prefix: '/' } }), retryGet], requests: [get('/bench', bearer(ctx.tokens.HS256))],
    routeAction: {}, virtualHost: { include_attempt_count_in_response: true },
    verify: (s, n) => all(atLeast(s, cacheLookups('hit'), n), atLeast(s, rateLimited('bench', 'allowed'), n), closedVerify(s)),
  });
  add({
    ...out.find((c) => c.name === 'chain')!,
    name: 'chain-one', what: 'the same four filters in one module (filters/mesh)', wasm: [oneModule([jwtAuth, rateLimitAddr, breaker({ match: { prefix: '/' } }), retryGet])],
  });
  add({
    name: 'native-chain', group: 'chain', what: 'jwt_authn (cached HS256) + local_ratelimit', side: 'native', baseline: 'none',
    nativeFilters: [jwtAuthn, nativeRateLimitAddr], requests: [get('/bench', bearer(ctx.tokens.HS256))],
    verify: (s, n) => all(atLeast(s, `${NATIVE_JWT}jwt_cache_hit`, n), atLeast(s, 'bench.http_local_rate_limit.ok', n)),
  });

  // global (upstream)
  const globalRule = (global: boolean) => ({
    name: 'bench', key: [{ header: 'x-client-id' }], limits: [{ max_tokens: 1_000_000, tokens_per_fill: 1_000_000, fill_interval: '1s' }],
    ...(global ? { global: { cluster: RATE_LIMIT_CLUSTER, domain: GLOBAL_DOMAIN, timeout: GLOBAL_TIMEOUT, failure_mode_deny: false } } : {}),
  });
  const withService = (c: () => BenchConfig) => (up: string) => {
    const doc = bootstrapOf({ ...c(), bootstrap: undefined }, up) as Doc;
    doc.static_resources.clusters.push(rateLimitServiceCluster(RATE_LIMIT_CLUSTER, ctx.rateLimitService ?? '127.0.0.1:9'));
    return doc;
  };
  const globalRequests = clients;
  const globalPaced = { pacedRps: GLOBAL_PACED_RPS, baseline: 'global-none' };
  add({ name: 'global-none', group: 'global', what: `no filters, routed to the upstream, paced at ${GLOBAL_PACED_RPS} req/s`, side: 'none', upstream: true, requests: globalRequests, pacedRps: GLOBAL_PACED_RPS });
  const globalAllowed = (s: Stats, n: number) => all(
    atLeast(s, labelled('rate_limit_global_requests_total', { rule: 'bench', outcome: 'allowed' }, 'rate_limit_global_requests_total'), n),
    atMost(s, labelled('rate_limit_global_requests_total', { rule: 'bench', outcome: 'failure_mode_allowed' }, 'rate_limit_global_requests_total'), 0),
  );
  add({
    name: 'global-ours', group: 'global', what: `rate-limit, local bucket + global (envoyproxy/ratelimit, Redis), per x-client-id (${HEADER_CLIENTS} clients), never over`,
    side: 'ours', upstream: true, ...globalPaced, native: 'global-native', requests: globalRequests,
    wasm: [{ rootId: 'rate-limit', wasm: WASM.rateLimit, config: { rules: [globalRule(true)] } }],
    bootstrap: withService(() => out.find((c) => c.name === 'global-ours')!),
    verify: globalAllowed,
  });
  add({
    name: 'global-local', group: 'global', what: 'rate-limit, the same rule local-only (no service)', side: 'ours', upstream: true, ...globalPaced, native: 'global-native', requests: globalRequests,
    wasm: [{ rootId: 'rate-limit', wasm: WASM.rateLimit, config: { rules: [globalRule(false)] } }],
    verify: (s, n) => all(atLeast(s, rateLimited('bench', 'allowed'), n), atMost(s, rateLimited('bench', 'denied'), 0)),
  });
  add({
    name: 'global-native', group: 'global', what: "Envoy's ratelimit filter, the same service and descriptor (route rate_limits)", side: 'native', upstream: true, ...globalPaced, requests: globalRequests,
    nativeFilters: [nativeRateLimitFilter({ cluster: RATE_LIMIT_CLUSTER, domain: GLOBAL_DOMAIN, timeout: GLOBAL_TIMEOUT, failureModeDeny: false })],
    routeAction: { rate_limits: [nativeRateLimitsFor([{ header: 'x-client-id' }])] },
    bootstrap: withService(() => out.find((c) => c.name === 'global-native')!),
    // Envoy creates these counters on their first increment: none yet is none.
    verify: (s, n) => all(atLeast(s, 'cluster.upstream.ratelimit.ok', n), never(s, 'cluster.upstream.ratelimit.error'), never(s, 'cluster.upstream.ratelimit.failure_mode_allowed'), never(s, 'cluster.upstream.ratelimit.over_limit')),
  });

  // mesh
  const meshRequest = [get('/api/banking/accounts', bearer(ctx.meshToken))];
  add({
    name: 'mesh', group: 'mesh', what: 'envoy/mesh.yaml (its four filters, limits raised), on the upstream', side: 'ours', upstream: true, baseline: 'none-up', native: 'native-mesh',
    wasm: meshWasmFilters(), bootstrap: (up) => meshBootstrap(up, ctx.meshJwksUri(up), 'ours'), requests: meshRequest,
    verify: (s, n) => all(atLeast(s, cacheLookups('hit', 'services'), n), atLeast(s, rateLimited('authenticated', 'allowed'), n), atMost(s, rejectedOpen('banking'), 0)),
  });
  add({
    ...out.find((c) => c.name === 'mesh')!,
    name: 'mesh-one', what: 'envoy/mesh.yaml with its filters in one module (filters/mesh)',
    wasm: [oneModule(meshWasmFilters())], bootstrap: (up) => meshBootstrap(up, ctx.meshJwksUri(up), 'one'),
  });
  add({
    name: 'native-mesh', group: 'mesh', what: 'envoy/mesh.yaml with jwt_authn + local_ratelimit + route retry policies, on the upstream', side: 'native', upstream: true, baseline: 'none-up',
    bootstrap: (up) => meshBootstrap(up, ctx.meshJwksUri(up), 'native'), requests: meshRequest,
    verify: (s, n) => all(atLeast(s, 'http.ingress_http.jwt_authn.jwt_cache_hit', n), atLeast(s, 'mesh.http_local_rate_limit.ok', n)),
  });
  return out;
}

// --- envoy/mesh.yaml -------------------------------------------------------------------------

const MESH_FILE = path.join(projectRoot, 'envoy', 'mesh.yaml');
const MESH_LIMIT = { max_tokens: 1_000_000, tokens_per_fill: 1_000_000, fill_interval: '1s' };

type Doc = Record<string, any>;

function meshDoc(): Doc {
  return parseYaml(readFileSync(MESH_FILE, 'utf8')) as Doc;
}

function meshHcm(doc: Doc): Doc {
  return doc.static_resources.listeners[0].filter_chains[0].filters[0].typed_config;
}

/** A wasm entry of envoy/mesh.yaml as a spec: its configuration parsed, rate limits raised, paths absolute. */
function meshSpec(entry: Doc, jwksUri?: string): WasmFilterSpec {
  const c = entry.typed_config.config;
  const config = JSON.parse(c.configuration.value);
  if (c.root_id === 'rate-limit') for (const rule of config.rules) rule.limits = rule.limits.map(() => ({ ...MESH_LIMIT }));
  if (c.root_id === 'jwt-auth' && jwksUri) for (const p of Object.values<Doc>(config.providers)) if (p.remote_jwks) p.remote_jwks.http_uri.uri = jwksUri;
  return { rootId: c.root_id, name: c.name, wasm: path.resolve(projectRoot, c.vm_config.code.local.filename), config };
}

/** `specs` (our filters) as one plugin of the mesh module, in the same order. */
export function oneModule(specs: WasmFilterSpec[]): WasmFilterSpec {
  return { rootId: 'mesh', wasm: WASM.mesh, config: meshConfiguration(specs.map((s) => ({ name: s.rootId, config: s.config }))) };
}

/** The four filters of envoy/mesh.yaml (and rate-limit-edge), in order, limits raised. */
export function meshWasmFilters(jwksUri = 'http://127.0.0.1:9105/.well-known/jwks.json'): WasmFilterSpec[] {
  return (meshHcm(meshDoc()).http_filters as Doc[]).filter((f) => f.name === 'envoy.filters.http.wasm').map((f) => meshSpec(f, jwksUri));
}

/**
 * envoy/mesh.yaml with every cluster on the bench upstream and the JWKS fetched from it;
 * `ours`: its filters, limits raised; `native`: jwt_authn (the same two providers, the
 * rules' paths without claim checks, which jwt_authn has not) + local_ratelimit (the edge
 * bucket and one per user, as rate-limit's `authenticated` tier) + each route's retry policy as the retry filter's
 * policies would set it.
 */
export function meshBootstrap(upstream: string, jwksUri: string, side: 'ours' | 'one' | 'native'): Doc {
  const doc = meshDoc();
  const [host, port] = upstream.split(':');
  for (const cluster of doc.static_resources.clusters) {
    cluster.load_assignment.endpoints = [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: host, port_value: Number(port) } } } }] }];
  }
  const hcm = meshHcm(doc);
  const wasmEntries = (hcm.http_filters as Doc[]).filter((f) => f.name === 'envoy.filters.http.wasm');
  const router = (hcm.http_filters as Doc[]).find((f) => f.name === 'envoy.filters.http.router');
  if (side === 'ours') {
    hcm.http_filters = [...wasmEntries.map((f) => wasmFilter(meshSpec(f, jwksUri))), router];
    return doc;
  }
  if (side === 'one') {
    hcm.http_filters = [wasmFilter(oneModule(wasmEntries.map((f) => meshSpec(f, jwksUri)))), router];
    return doc;
  }
  const jwt = JSON.parse(wasmEntries.find((f) => f.typed_config.config.root_id === 'jwt-auth')!.typed_config.config.configuration.value);
  const providers: Doc = {};
  for (const [name, p] of Object.entries<Doc>(jwt.providers)) {
    providers[name] = {
      ...(p.issuer ? { issuer: p.issuer } : {}),
      ...(p.audiences ? { audiences: p.audiences } : {}),
      ...(p.remote_jwks
        ? {
            // Fetched at start, as our filter does (without async_fetch, jwt_authn fetches on
            // a request's demand, and cancels the fetch when another provider answers first).
            remote_jwks: { http_uri: { uri: jwksUri, cluster: p.remote_jwks.http_uri.cluster, timeout: p.remote_jwks.http_uri.timeout }, cache_duration: p.remote_jwks.cache_duration, async_fetch: {} },
          }
        : { local_jwks: p.local_jwks }),
      from_headers: p.from_headers ?? [{ name: 'authorization', value_prefix: 'Bearer ' }],
      forward: false,
      claim_to_headers: p.claim_to_headers,
      jwt_cache_config: { jwt_cache_size: jwt.cache?.max_entries ?? 1000 },
    };
  }
  const requirement = (r: Doc): Doc => {
    if (r.provider_name) return { provider_name: r.provider_name };
    if (r.requires_any) return { requires_any: { requirements: r.requires_any.map(requirement) } };
    if (r.requires_all) return { requires_all: { requirements: r.requires_all.map(requirement) } };
    if (r.allow_missing) return { allow_missing: {} };
    return { allow_missing_or_failed: {} };
  };
  const rules = (jwt.rules as Doc[]).map((r) => {
    const m = r.match ?? {};
    const match: Doc = m.path ? { path: m.path } : { prefix: m.prefix ?? '/' };
    if (m.methods) match.headers = [{ name: ':method', string_match: { safe_regex: { regex: m.methods.join('|') } } }];
    return r.requires ? { match, requires: requirement(r.requires) } : { match };
  });
  const limit = { ...MESH_LIMIT };
  hcm.http_filters = [
    {
      name: 'envoy.filters.http.jwt_authn',
      typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.jwt_authn.v3.JwtAuthentication', providers, rules, bypass_cors_preflight: true },
    },
    {
      name: 'envoy.filters.http.local_ratelimit',
      typed_config: {
        '@type': 'type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit',
        stat_prefix: 'mesh',
        token_bucket: limit,
        filter_enabled: ALL,
        filter_enforced: ALL,
        rate_limits: [{ actions: [{ request_headers: { header_name: 'x-user-id', descriptor_key: 'user' } }] }],
        descriptors: [{ entries: [{ key: 'user' }], token_bucket: limit }],
        max_dynamic_descriptors: 1000,
      },
    },
    router,
  ];
  // The retry filter's `reads` policy, as the route's own.
  for (const vh of hcm.route_config.virtual_hosts) {
    for (const route of vh.routes) {
      if (!route.route?.retry_policy) continue;
      route.route.retry_policy = {
        ...route.route.retry_policy,
        retry_on: '5xx,gateway-error,connect-failure,reset,retriable-status-codes',
        retriable_status_codes: [429],
        num_retries: 5,
        per_try_timeout: '2s',
      };
    }
  }
  return doc;
}
