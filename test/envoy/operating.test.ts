/**
 * The filters' metrics as operators get them (README "Operating"): envoy/mesh.yaml on Envoy
 * with the demo services, traffic that takes every filter down its outcomes, and
 * /stats/prometheus scraped before and after it. Checked: every filter metric comes out
 * tag-extracted, with the labels of its family (the bootstrap's stats_config), and the
 * labelled series move by what the traffic did; the Grafana dashboard's PromQL
 * (envoy/grafana/mesh-filters.json), evaluated over the two scrapes (promql.ts), returns
 * series for every query; and the same labels come out of Istio's stats configuration
 * (envoy/istio/stats.yaml's extraStatTags, in Istio's bootstrap rendering, with its stats
 * inclusion list). The shipped bootstraps, the Istio file and the scrape example are read
 * as files.
 *
 * Why a small evaluator rather than Prometheus: the project installs nothing but Envoy, an
 * evaluator needs no scrape interval to wait for, and it refuses any PromQL beyond the
 * subset it checks, so the dashboard cannot grow a query no test evaluates.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { startDemo, startDemoServices, type RunningDemo } from '../../harness/demo/index.ts';
import { mintDemoToken } from '../../harness/demo/token.ts';
import { readConfigFile } from '../../harness/envoy/config-file.ts';
import { envoyAvailable, envoySuiteTitle, startEnvoy, type EnvoyProcess } from '../../harness/envoy/runner.ts';
import { METRIC_LABELS, STATS_CONFIG, metric, prometheus, samples, type Sample } from '../integration/envoy-stats.ts';
import { evaluate, type Series } from './promql.ts';

const root = path.resolve(import.meta.dirname, '../..');
const envoy = envoyAvailable();
type Msg = Record<string, any>;

/** Every family the filters define, with its labels (in the order Prometheus shows them). */
const FAMILIES: Record<string, string[]> = {
  jwt_auth_allowed_total: [],
  jwt_auth_denied_total: ['reason'],
  jwt_auth_cors_preflight_bypassed_total: [],
  jwt_auth_provider_allowed_total: ['provider'],
  jwt_auth_provider_denied_total: ['provider', 'reason'],
  jwt_auth_provider_cache_lookups_total: ['provider', 'outcome'],
  jwt_auth_provider_jwks_fetches_total: ['provider', 'outcome'],
  jwt_auth_provider_jwks_unavailable_allowed_total: ['provider'],
  rate_limit_requests_total: ['rule', 'outcome'],
  rate_limit_overflow_requests_total: ['rule'],
  edge_rate_limit_requests_total: ['rule', 'outcome'],
  edge_rate_limit_overflow_requests_total: ['rule'],
  circuit_breaker_state: ['service', 'state'],
  circuit_breaker_requests_total: ['service', 'outcome'],
  circuit_breaker_transitions_total: ['service', 'state'],
  retry_policy_requests_total: ['policy'],
  retry_policy_retried_requests_total: ['policy'],
  retry_policy_retries_total: ['policy'],
  retry_retried_requests_total: [],
  retry_retries_total: [],
  retry_idempotency_guarded_total: [],
  retry_budget_exhausted_total: [],
};
const FILTER_METRIC = /^(edge_rate_limit|rate_limit|jwt_auth|circuit_breaker|retry)_/;
/** Prometheus shows an unextracted `<label>=.=<value>;.;` as `<label>___<value>___`. */
const UNEXTRACTED = new RegExp(`(^|_)(${METRIC_LABELS.join('|')})___`);

/** The filters' families in `text`, each with the label names of its series; and names left with an encoded label. */
function families(text: string): { found: Record<string, string[][]>; unextracted: string[] } {
  const found: Record<string, string[][]> = {};
  const unextracted: string[] = [];
  for (const s of samples(text)) {
    if (UNEXTRACTED.test(s.name)) unextracted.push(s.name);
    else if (FILTER_METRIC.test(s.name)) {
      const names = Object.keys(s.labels);
      const seen = (found[s.name] ??= []);
      if (!seen.some((n) => n.join() === names.join())) seen.push(names);
    }
  }
  return { found, unextracted };
}

interface Reply {
  status: number;
  headers: Headers;
}

describe('the filters\' metric labels in the shipped files', () => {
  it('every bootstrap under envoy/ carries the stats_config that extracts them', () => {
    const files = readdirSync(path.join(root, 'envoy')).filter((f) => f.endsWith('.yaml'));
    expect(files.length).toBeGreaterThanOrEqual(5);
    for (const f of files) expect((readConfigFile(path.join(root, 'envoy', f)) as Msg).stats_config, f).toEqual(STATS_CONFIG);
  });

  it('envoy/istio/stats.yaml asks Istio for the same tags (extraStatTags), and keeps wasmcustom stats', () => {
    const doc = parseYaml(readFileSync(path.join(root, 'envoy/istio/stats.yaml'), 'utf8')) as Msg;
    expect(doc.kind).toBe('IstioOperator');
    expect(doc.spec.meshConfig.defaultConfig.extraStatTags).toEqual([...METRIC_LABELS]);
    expect(doc.spec.meshConfig.defaultConfig.proxyStatsMatcher.inclusionPrefixes).toEqual(['wasmcustom.']);
  });

  it('envoy/grafana/prometheus.yaml scrapes the demo admin\'s /stats/prometheus', () => {
    const prom = parseYaml(readFileSync(path.join(root, 'envoy/grafana/prometheus.yaml'), 'utf8')) as Msg;
    const admin = (readConfigFile(path.join(root, 'envoy/mesh.yaml')) as Msg).admin.address.socket_address;
    const job = prom.scrape_configs.find((j: Msg) => j.job_name === 'envoy');
    expect([job.metrics_path, job.static_configs[0].targets]).toEqual(['/stats/prometheus', [`${admin.address}:${admin.port_value}`]]);
    expect(prom.scrape_configs.every((j: Msg) => j.metrics_path === '/stats/prometheus')).toBe(true);
  });
});

for (const oneModule of [false, true]) {
describe.skipIf(!envoy.ok)(envoySuiteTitle(`the filters' metrics on Envoy: envoy/mesh.yaml${oneModule ? ' in one module (--one-module)' : ''}, labelled, and the Grafana dashboard's queries`, envoy), () => {
  let demo: RunningDemo;
  let t0: Sample[];
  let t1: Sample[];
  let before: string;
  let after: string;
  let seconds: number;
  let requests = 0;
  const statuses: Record<string, number[]> = {};

  const send = async (what: string, p: string, opts: { method?: string; token?: string; headers?: Record<string, string> } = {}): Promise<Reply> => {
    const headers: Record<string, string> = { ...opts.headers };
    if (opts.token) headers.authorization = `Bearer ${opts.token}`;
    requests++;
    const res = await fetch(`http://${demo.listenerAddress}${p}`, { method: opts.method ?? 'GET', headers, body: opts.method === 'POST' ? '{}' : undefined });
    await res.arrayBuffer();
    (statuses[what] ??= []).push(res.status);
    return { status: res.status, headers: res.headers };
  };
  const token = (sub: string, permissions: string[], more: Parameters<typeof mintDemoToken>[0] = {}) => mintDemoToken({ sub, permissions, ...more });

  beforeAll(async () => {
    demo = await startDemo({ cwd: root, build: false, portOverride: 0, concurrency: 2, logLevel: 'error', oneModule });
    before = await prometheus(demo.adminAddress);
    const started = performance.now();

    // jwt-auth: a missing, an expired and an insufficient token; then a valid one, twice.
    await send('missing', '/api/credit-bureau/report');
    await send('expired', '/api/credit-bureau/report', { token: await token('ops-expired', ['credit:read'], { expiresInSeconds: -3600 }) });
    await send('scope', '/api/credit-bureau/report', { token: await token('ops-scope', ['documents:write']) });
    const reader = await token('ops-reader', ['credit:read']);
    for (let i = 0; i < 2; i++) await send('reader', '/api/credit-bureau/report', { token: reader });
    // rate-limit: the anonymous tier, 5 a minute.
    for (let i = 0; i < 6; i++) await send('anonymous', '/api/test');
    // circuit-breaker: the credit bureau opens after 3 failures, then answers open.
    const breaker = await token('ops-breaker', ['credit:read']);
    for (let i = 0; i < 4; i++) await send('breaker', '/api/credit-bureau/fail-test', { method: 'POST', token: breaker });
    // retry: a flaky read retried once; a transaction without idempotency-key tried once.
    const bank = await token('ops-bank', ['banking:read', 'transactions:write']);
    await send('flaky', '/api/banking/flaky', { token: bank });
    await send('guarded', '/api/transactions/flaky?mode=reset', { method: 'POST', token: bank });
    // retry budget: 40 reads at once, each wanting 5 retries (reserved when admitted) against
    // an allowance of 20 % of requests + 100 in the 10 s window; each user its own bucket.
    const burst = await Promise.all(Array.from({ length: 40 }, (_, i) => token(`ops-burst-${i}`, [])));
    await Promise.all(burst.map((t) => send('burst', '/api/documents/flaky?failures=2', { token: t })));

    after = await prometheus(demo.adminAddress);
    seconds = (performance.now() - started) / 1000;
    t0 = samples(before);
    t1 = samples(after);
  }, 120_000);
  afterAll(async () => {
    await demo?.stop();
  });

  /** How much the series `name{labels}` moved during the traffic. */
  const moved = (name: string, labels: Record<string, string> = {}) => (metric(after, name, labels) ?? NaN) - (metric(before, name, labels) ?? NaN);

  it('the traffic got what the mesh answers', () => {
    expect(statuses).toMatchObject({ missing: [401], expired: [401], scope: [403], reader: [200, 200], anonymous: [200, 200, 200, 200, 200, 429], breaker: [503, 503, 503, 503], flaky: [200], guarded: [503] });
    expect(statuses.burst.filter((s) => s === 503).length, 'reads left without enough retries').toBeGreaterThan(0);
  });

  it('shows every filter metric with the labels of its family, none left folded into a name', () => {
    const { found, unextracted } = families(after);
    expect(unextracted).toEqual([]);
    expect(Object.keys(found).sort()).toEqual(Object.keys(FAMILIES).sort());
    for (const [name, labels] of Object.entries(found)) expect([name, labels]).toEqual([name, [FAMILIES[name]]]);
  });

  it('jwt-auth: allowed, and denied by reason and by provider', () => {
    expect(moved('jwt_auth_allowed_total')).toBe(2 + 6 + 4 + 2 + 40);
    expect(moved('jwt_auth_denied_total', { reason: 'jwt_missing' })).toBe(1);
    expect(moved('jwt_auth_denied_total', { reason: 'jwt_expired' })).toBe(1);
    expect(moved('jwt_auth_denied_total', { reason: 'jwt_claims_not_satisfied' })).toBe(1);
    expect(samples(after).filter((s) => s.name === 'jwt_auth_denied_total').reduce((n, s) => n + s.value, 0)).toBe(3);
    expect(moved('jwt_auth_provider_denied_total', { provider: 'services', reason: 'jwt_claims_not_satisfied' })).toBe(1);
    expect(moved('jwt_auth_provider_allowed_total', { provider: 'services' })).toBe(2 + 4 + 2 + 40);
    expect(moved('jwt_auth_provider_allowed_total', { provider: 'users' })).toBe(0);
    const lookups = moved('jwt_auth_provider_cache_lookups_total', { provider: 'services', outcome: 'hit' }) + moved('jwt_auth_provider_cache_lookups_total', { provider: 'services', outcome: 'miss' });
    expect(lookups).toBeGreaterThanOrEqual(2 + 4 + 2 + 40);
    expect(metric(after, 'jwt_auth_provider_jwks_fetches_total', { provider: 'users', outcome: 'ok' })).toBeGreaterThanOrEqual(1);
    expect(metric(after, 'jwt_auth_provider_jwks_fetches_total', { provider: 'users', outcome: 'failed' })).toBe(0);
  });

  it('rate-limit: requests by rule and outcome, at the edge and per tier', () => {
    expect(moved('edge_rate_limit_requests_total', { rule: 'all', outcome: 'allowed' })).toBe(requests);
    expect(moved('rate_limit_requests_total', { rule: 'anonymous', outcome: 'allowed' })).toBe(5);
    expect(moved('rate_limit_requests_total', { rule: 'anonymous', outcome: 'denied' })).toBe(1);
    expect(moved('rate_limit_requests_total', { rule: 'authenticated', outcome: 'allowed' })).toBe(2 + 4 + 2 + 40);
    for (const rule of ['premium', 'authenticated', 'anonymous']) {
      expect(metric(after, 'rate_limit_requests_total', { rule, outcome: 'fail_open' }), rule).toBe(0);
      expect(metric(after, 'rate_limit_overflow_requests_total', { rule }), rule).toBe(0);
    }
  });

  it('circuit-breaker: requests by service and outcome, the state set, transitions into open', () => {
    expect(moved('circuit_breaker_requests_total', { service: 'credit-bureau', outcome: 'admitted' })).toBe(2 + 3);
    expect(moved('circuit_breaker_requests_total', { service: 'credit-bureau', outcome: 'rejected_open' })).toBe(1);
    expect(moved('circuit_breaker_requests_total', { service: 'banking', outcome: 'admitted' })).toBe(2);
    expect(moved('circuit_breaker_transitions_total', { service: 'credit-bureau', state: 'open' })).toBe(1);
    const state = (service: string) => ['closed', 'open', 'half_open'].map((s) => metric(after, 'circuit_breaker_state', { service, state: s }));
    expect(state('credit-bureau')).toEqual([0, 1, 0]);
    expect(state('banking')).toEqual([1, 0, 0]);
  });

  it('retry: requests, retried requests and retries by policy; the idempotency guard and the budget', () => {
    expect(moved('retry_policy_requests_total', { policy: 'reads' })).toBe(2 + 5 + 1 + 40);
    expect(moved('retry_policy_requests_total', { policy: 'financial-transactions' })).toBe(1);
    expect(moved('retry_idempotency_guarded_total')).toBe(1);
    // Cut by the budget: some of the 40 (Envoy's own cluster limit of 3 concurrent retries
    // fails others, which the filter does not count).
    expect(moved('retry_budget_exhausted_total')).toBeGreaterThan(0);
    expect(moved('retry_budget_exhausted_total')).toBeLessThan(40);
    const retries = moved('retry_policy_retries_total', { policy: 'reads' });
    expect(retries).toBeGreaterThanOrEqual(1 + 2 * statuses.burst.filter((s) => s === 200).length);
    expect(moved('retry_retries_total')).toBe(retries);
    expect(moved('retry_policy_retried_requests_total', { policy: 'reads' })).toBe(moved('retry_retried_requests_total'));
  });

  it('every query of the Grafana dashboard returns series, labelled as its legend says; all but the listed ones moved', () => {
    const dashboard = JSON.parse(readFileSync(path.join(root, 'envoy/grafana/mesh-filters.json'), 'utf8')) as Msg;
    // What the demo traffic cannot move: envoy/mesh.yaml does not bypass CORS preflights, its
    // JWKS never fails, the edge limit (1,000/s) never denies, the key table never fills.
    const still = ['CORS preflight bypassed', '{{provider}} JWKS fetch failed', 'edge {{rule}}', '{{rule}} overflow (key table full)'];
    const targets = (dashboard.panels as Msg[]).flatMap((p) => (p.targets ?? []).map((t: Msg) => ({ panel: p.title as string, ...t })));
    expect(targets.length).toBeGreaterThanOrEqual(15);
    for (const t of targets) {
      const where = `${t.panel}: ${t.expr}`;
      const result = evaluate(t.expr, { t0, t1, seconds });
      expect(Array.isArray(result), where).toBe(true);
      const series = result as Series[];
      expect(series.length, where).toBeGreaterThan(0);
      for (const [, label] of (t.legendFormat as string).matchAll(/\{\{\s*(\w+)\s*\}\}/g)) {
        for (const s of series) expect(s.labels[label], `${where}: legend {{${label}}}`).toBeDefined();
      }
      if (!still.includes(t.legendFormat)) expect(series.some((s) => s.value > 0), `${where}: nothing moved`).toBe(true);
    }
    const circuit = evaluate(targets.find((t) => t.panel === 'circuit-breaker: state per service')!.expr, { t0, t1, seconds }) as Series[];
    expect(Object.fromEntries(circuit.map((s) => [s.labels.service, s.value]))).toEqual({ 'credit-bureau': 2, banking: 0 });
  });
});
}

describe.skipIf(!envoy.ok)(envoySuiteTitle('the filters\' metrics on Envoy with Istio\'s stats configuration (envoy/istio/stats.yaml)', envoy), () => {
  let proxy: EnvoyProcess;
  let stopServices: () => Promise<void>;
  let text: string;

  beforeAll(async () => {
    const defaults = (parseYaml(readFileSync(path.join(root, 'envoy/istio/stats.yaml'), 'utf8')) as Msg).spec.meshConfig.defaultConfig;
    const doc = readConfigFile(path.join(root, 'envoy/mesh.yaml')) as Msg;
    // Istio's proxy bootstrap (tools/packaging/common/envoy_bootstrap.json): no default tags;
    // its fixed tags, among them those that match anywhere in a name; one tag per
    // extraStatTags entry; and only the stats its inclusion list names (its required
    // prefixes, pkg/bootstrap/config.go, and the mesh's proxyStatsMatcher).
    doc.stats_config = {
      use_all_default_tags: false,
      stats_tags: [
        { tag_name: 'cluster_name', regex: '^cluster\\.((.+?(\\..+?\\.svc\\.cluster\\.local)?)\\.)' },
        { tag_name: 'response_code', regex: '_rq(_(\\d{3}))$' },
        ...(defaults.extraStatTags as string[]).map((tag) => ({ regex: `(${tag}=\\.=(.*?);\\.;)`, tag_name: tag })),
        { regex: '(cache\\.(.+?)\\.)', tag_name: 'cache' },
        { regex: '(component\\.(.+?)\\.)', tag_name: 'component' },
        { regex: '(tag\\.(.+?);\\.)', tag_name: 'tag' },
        { regex: '(wasm_filter\\.(.+?)\\.)', tag_name: 'wasm_filter' },
        { tag_name: 'authz_enforce_result', regex: 'rbac(\\.(allowed|denied))' },
        { tag_name: 'authz_dry_run_action', regex: '(\\.istio_dry_run_(allow|deny)_)' },
        { tag_name: 'authz_dry_run_result', regex: '(\\.shadow_(allowed|denied))' },
      ],
      stats_matcher: {
        inclusion_list: {
          patterns: ['reporter=', 'cluster_manager', 'listener_manager', 'server', 'cluster.xds-grpc', 'wasm', ...(defaults.proxyStatsMatcher.inclusionPrefixes as string[]), 'component', 'istio'].map((prefix) => ({ prefix })),
        },
      },
    };
    const services = await startDemoServices(doc, { portOverride: 0 });
    stopServices = services.stop;
    proxy = await startEnvoy({ bootstrap: doc, cwd: root, concurrency: 1, portOverride: 0, availability: envoy });
    const listener = Object.values(proxy.listeners)[0];
    const statuses: number[] = [];
    for (const p of ['/api/test', '/api/credit-bureau/report']) statuses.push((await fetch(`http://${listener}${p}`)).status);
    expect(statuses).toEqual([200, 401]);
    text = await prometheus(proxy.adminAddress);
  }, 120_000);
  afterAll(async () => {
    await proxy?.stop();
    await stopServices?.();
  });

  it('shows every filter family with the same labels', () => {
    const { found, unextracted } = families(text);
    expect(unextracted).toEqual([]);
    expect(Object.keys(found).sort()).toEqual(Object.keys(FAMILIES).sort());
    for (const [name, labels] of Object.entries(found)) expect([name, labels]).toEqual([name, [FAMILIES[name]]]);
    expect(metric(text, 'rate_limit_requests_total', { rule: 'anonymous', outcome: 'allowed' })).toBe(1);
    expect(metric(text, 'jwt_auth_denied_total', { reason: 'jwt_missing' })).toBe(1);
    expect(metric(text, 'rate_limit_requests_total', { rule: 'anonymous', outcome: 'shadow_denied' })).toBe(0);
  });
});
