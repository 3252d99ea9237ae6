/**
 * The Istio manifests under envoy/istio as a set: they pin the images `mesh-filters package`
 * makes from the current build, keep one documented chain order (README "Loading a filter
 * into Istio"), select the traffic each filter belongs on, and their EnvoyFilters do what
 * the filters rely on: the edge settings on the connection manager, and the route settings
 * without which the retry budget counts nothing — shown on Envoy with envoy/retry.yaml's
 * route configuration, patched as Istio merges it.
 */
import { readdirSync, readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments, parse as parseYaml } from 'yaml';
import { buildAll } from '../../harness/build.ts';
import { envoyAvailable, envoySuiteTitle } from '../../harness/envoy/binary.ts';
import { FILTER_NAMES } from '../../harness/envoy/istio.ts';
import { startEnvoy } from '../../harness/envoy/runner.ts';
import { edgeWarnings } from '../../harness/envoy/validate.ts';
import { wasmImage } from '../../harness/package/oci.ts';
import { metric, prometheus } from '../integration/envoy-stats.ts';
import { applyEnvoyFilter } from './istio-merge.ts';

const root = path.resolve(import.meta.dirname, '../..');
const envoy = envoyAvailable();
type Msg = Record<string, any>;

/** Every document under envoy/istio, with its file. */
const manifests: { file: string; doc: Msg }[] = readdirSync(path.join(root, 'envoy/istio'), { recursive: true, encoding: 'utf8' })
  .filter((f) => f.endsWith('.yaml'))
  .sort()
  .flatMap((f) => parseAllDocuments(readFileSync(path.join(root, 'envoy/istio', f), 'utf8')).map((d) => ({ file: `envoy/istio/${f}`, doc: d.toJS() as Msg })));
const plugins = manifests.filter((m) => m.doc.kind === 'WasmPlugin');
/** global-rate-limit*.yaml: the rate-limit plugins again, under their names, with limits across replicas (applied instead). */
const isGlobalVariant = (m: { file: string }) => /\/global-rate-limit[^/]*\.yaml$/.test(m.file);
const globalVariants = plugins.filter(isGlobalVariant);
const onGateway = plugins.filter((m) => !isGlobalVariant(m) && m.doc.spec.selector?.matchLabels?.istio === 'ingressgateway');
const onSidecars = plugins.filter((m) => !isGlobalVariant(m) && !onGateway.includes(m));
const envoyFilter = (file: string, i: number) => manifests.filter((m) => m.file === file)[i].doc;

/** Istio's chain: phases in this order, then higher priority first; UNSPECIFIED_PHASE last, before the router. */
const PHASES = ['AUTHN', 'AUTHZ', 'STATS', 'UNSPECIFIED_PHASE'];
const chain = (set: typeof plugins) =>
  [...set].sort((a, b) => PHASES.indexOf(a.doc.spec.phase) - PHASES.indexOf(b.doc.spec.phase) || b.doc.spec.priority - a.doc.spec.priority).map((m) => m.doc.metadata.name);

describe('Istio manifests: pins, order, traffic', () => {
  beforeAll(async () => {
    await buildAll({ only: [...FILTER_NAMES] });
  }, 300_000);

  it('hold one WasmPlugin per filter on the gateway (and the edge limit) and one per filter on the sidecars', () => {
    expect(onGateway.map((m) => m.doc.metadata.name).sort()).toEqual(['circuit-breaker', 'jwt-auth', 'rate-limit', 'rate-limit-edge', 'retry']);
    expect(onSidecars.map((m) => m.doc.spec.pluginName).sort()).toEqual([...FILTER_NAMES].sort());
  });

  it('pin the image `mesh-filters package` makes from the current build (sha256 = manifest digest), by tag of the package version', async () => {
    const version = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')).version;
    const digests = new Map<string, string>();
    for (const f of FILTER_NAMES) digests.set(f, (await wasmImage(readFileSync(path.join(root, 'build', `${f}.wasm`)), f)).manifest.digest.slice(7));
    for (const { file, doc } of plugins) {
      const name = doc.spec.pluginName;
      expect(doc.spec.url, file).toMatch(new RegExp(`^oci://[^@]+/${name}:${version.replace(/\./g, '\\.')}$`));
      expect(doc.spec.sha256, `${file} pins another build: run \`node bin/mesh-filters.js package --pin\``).toBe(digests.get(name));
    }
  });

  it('keep the documented order: README\'s table, and gateway and sidecar chains in that order', () => {
    const readme = readFileSync(path.join(root, 'README.md'), 'utf8');
    const section = readme.slice(readme.indexOf('## Loading a filter into Istio'), readme.indexOf('\n## ', readme.indexOf('## Loading a filter into Istio') + 1));
    const rows = [...section.matchAll(/^\| `([a-z-]+)` \| [^|]+ \| `([A-Z_]+)` \| (\d+) \| `([A-Z_]+)` \|$/gm)].map((m) => ({ name: m[1], phase: m[2], priority: Number(m[3]), failStrategy: m[4] }));
    expect(rows.map((r) => r.name)).toEqual(['rate-limit-edge', 'jwt-auth', 'rate-limit', 'circuit-breaker', 'retry']);
    for (const { file, doc } of plugins) {
      const row = rows.find((r) => r.name === doc.metadata.name);
      expect([doc.spec.phase, doc.spec.priority, doc.spec.failStrategy], file).toEqual([row?.phase, row?.priority, row?.failStrategy]);
    }
    expect(chain(onGateway)).toEqual(['rate-limit-edge', 'jwt-auth', 'rate-limit', 'circuit-breaker', 'retry']);
    expect(chain(onSidecars)).toEqual(['jwt-auth', 'rate-limit', 'circuit-breaker', 'retry']);
  });

  it('select their traffic: the gateway as a client; on sidecars, authentication and limits inbound, breaker and retries outbound, on the services\' port', () => {
    for (const { file, doc } of onGateway) expect(doc.spec.match, file).toEqual([{ mode: 'CLIENT' }]);
    const mode = (name: string) => onSidecars.find((m) => m.doc.metadata.name === name)?.doc.spec.match;
    expect(mode('jwt-auth')).toEqual([{ mode: 'SERVER', ports: [{ number: 8080 }] }]);
    expect(mode('rate-limit')).toEqual([{ mode: 'SERVER', ports: [{ number: 8080 }] }]);
    expect(mode('circuit-breaker')).toEqual([{ mode: 'CLIENT', ports: [{ number: 8080 }] }]);
    expect(mode('retry')).toEqual([{ mode: 'CLIENT', ports: [{ number: 8080 }] }]);
    // The EnvoyFilters' sidecar parts select the pods the sidecar plugins run on.
    const labels = (name: string) => onSidecars.find((m) => m.doc.metadata.name === name)?.doc.spec.selector.matchLabels;
    expect(envoyFilter('envoy/istio/retry-routes.yaml', 1).spec.workloadSelector.labels).toEqual(labels('retry'));
    expect(envoyFilter('envoy/istio/edge-hardening.yaml', 1).spec.workloadSelector.labels).toEqual(labels('jwt-auth'));
  });

  it('global-rate-limit.yaml replaces the gateway\'s rate-limit plugins by name with the same placement and local buckets, every rule asking the service', () => {
    expect(globalVariants.map((m) => m.doc.metadata.name).sort()).toEqual(['rate-limit', 'rate-limit-edge']);
    for (const { file, doc } of globalVariants) {
      const local = onGateway.find((m) => m.doc.metadata.name === doc.metadata.name)!.doc;
      const { pluginConfig, ...placement } = doc.spec;
      const { pluginConfig: localConfig, ...localPlacement } = local.spec;
      expect([doc.metadata, placement], file).toEqual([local.metadata, localPlacement]);
      expect(pluginConfig.rules.map((r: Msg) => r.name), file).toEqual(localConfig.rules.map((r: Msg) => r.name));
      for (const [i, rule] of (pluginConfig.rules as Msg[]).entries()) {
        const localRule = localConfig.rules[i];
        expect([rule.match, rule.limits], `${file} ${rule.name}`).toEqual([localRule.match, localRule.limits]);
        expect(rule.global, `${file} ${rule.name}`).toEqual({ cluster: 'outbound|8081||ratelimit.ratelimit.svc.cluster.local', domain: 'mesh', timeout: '0.1s', failure_mode_deny: false });
        // The tiers' keys gain the tier's name first, so that the service counts a user apart in each.
        expect(rule.key, `${file} ${rule.name}`).toEqual(doc.metadata.name === 'rate-limit' ? [{ generic: rule.name }, ...localRule.key] : localRule.key);
      }
    }
  });

  it('apply the gateway\'s policy again on the sidecars: jwt-auth and retry configured alike, the gateway forwarding tokens', () => {
    const config = (set: typeof plugins, name: string) => set.find((m) => m.doc.metadata.name === name)?.doc.spec.pluginConfig;
    expect(config(onSidecars, 'jwt-auth')).toEqual(config(onGateway, 'jwt-auth'));
    expect(config(onSidecars, 'retry')).toEqual(config(onGateway, 'retry'));
    for (const p of Object.values<Msg>(config(onGateway, 'jwt-auth').providers)) expect(p.forward).toBe(true);
  });

  it("edge-hardening.yaml gives Istio's connection manager the edge settings jwt-auth and rate-limit rely on", () => {
    // envoy/mesh.yaml's listener without what Istio does not set: the guide's warnings come back.
    const doc = parseYaml(readFileSync(path.join(root, 'envoy/mesh.yaml'), 'utf8'));
    const hcm = doc.static_resources.listeners[0].filter_chains[0].filters[0].typed_config;
    for (const k of ['normalize_path', 'merge_slashes', 'path_with_escaped_slashes_action']) delete hcm[k];
    delete hcm.common_http_protocol_options.headers_with_underscores_action;
    const relied = /normalize_path|merge_slashes|path_with_escaped_slashes_action|headers_with_underscores_action/;
    expect(edgeWarnings(doc).filter((w) => relied.test(w.message))).toHaveLength(4);
    expect(applyEnvoyFilter(doc, envoyFilter('envoy/istio/edge-hardening.yaml', 0).spec, 'GATEWAY')).toEqual([1]);
    expect(edgeWarnings(doc).filter((w) => relied.test(w.message))).toEqual([]);
    expect(hcm.common_http_protocol_options.max_headers_count).toBe(64); // merged, not replaced
  });
});

/** The route retry policy Istio writes when a VirtualService says nothing (istio/istio `pilot/pkg/networking/core/route/retry`). */
const ISTIO_DEFAULT_RETRY = {
  num_retries: 2,
  retry_on: 'connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes',
  host_selection_retry_max_attempts: 5,
  retry_host_predicate: [{ name: 'envoy.retry_host_predicates.previous_hosts', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.retry.host.previous_hosts.v3.PreviousHostsPredicate' } }],
};

/**
 * envoy/retry.yaml as Istio would generate it for the gateway: every cluster on `upstream`,
 * the retry filter configured from envoy/istio/retry.yaml, the virtual host without the
 * attempt-count settings and each forwarding route with Istio's default retry policy (no
 * backoff) — then, with `patched`, retry-routes.yaml's gateway EnvoyFilter merged in.
 */
function gatewayBootstrap(upstream: AddressInfo, patched: boolean): { doc: Msg; merged: number[] } {
  const doc = parseYaml(readFileSync(path.join(root, 'envoy/retry.yaml'), 'utf8'));
  for (const c of doc.static_resources.clusters) c.load_assignment.endpoints[0].lb_endpoints[0].endpoint.address.socket_address = { address: upstream.address, port_value: upstream.port };
  const hcm = doc.static_resources.listeners[0].filter_chains[0].filters[0].typed_config;
  hcm.http_filters[0].typed_config.config.configuration.value = JSON.stringify(plugins.find((m) => m.file === 'envoy/istio/retry.yaml')!.doc.spec.pluginConfig);
  const vhost = hcm.route_config.virtual_hosts[0];
  delete vhost.include_attempt_count_in_response;
  delete vhost.include_request_attempt_count;
  for (const r of vhost.routes) if (r.route) r.route.retry_policy = structuredClone(ISTIO_DEFAULT_RETRY);
  return { doc, merged: patched ? applyEnvoyFilter(doc, envoyFilter('envoy/istio/retry-routes.yaml', 0).spec, 'GATEWAY') : [] };
}

describe.skipIf(!envoy.ok)(envoySuiteTitle('retry-routes.yaml on Envoy: the retry budget sees attempt counts', envoy), () => {
  let upstream: http.Server;
  let address: AddressInfo;
  let flakyHits = 0;

  beforeAll(async () => {
    await buildAll({ only: ['retry'] });
    // `/flaky` fails its first hit (counted here: without the EnvoyFilter, requests carry no attempt count); anything else answers 200.
    upstream = http.createServer((req, res) => {
      res.statusCode = req.url?.endsWith('/flaky') && ++flakyHits === 1 ? 503 : 200;
      res.end();
    });
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    address = upstream.address() as AddressInfo;
  }, 300_000);
  afterAll(() => new Promise<void>((resolve) => (upstream ? upstream.close(() => resolve()) : resolve())));

  it('merges like Istio: attempt counts on the virtual host, backoff added to the forwarding routes\' policies', () => {
    const { doc, merged } = gatewayBootstrap(address, true);
    const vhost = doc.static_resources.listeners[0].filter_chains[0].filters[0].typed_config.route_config.virtual_hosts[0];
    expect(merged).toEqual([1, 4, 1]); // the vhost; 4 forwarding routes (not the direct response); `transactions`
    expect([vhost.include_attempt_count_in_response, vhost.include_request_attempt_count]).toEqual([true, true]);
    const policies = Object.fromEntries(vhost.routes.map((r: Msg) => [r.name, r.route?.retry_policy]));
    expect(policies['ambiguous-host']).toBeUndefined();
    expect(policies.transactions).toEqual({ ...ISTIO_DEFAULT_RETRY, retry_back_off: { base_interval: '2s', max_interval: '10s' } });
    expect(policies['credit-bureau']).toEqual({ ...ISTIO_DEFAULT_RETRY, retry_back_off: { base_interval: '0.5s', max_interval: '5s' } });
  });

  /**
   * The budget (20 % of requests + 10/s over 10 s) reserves a read's 5 retries at
   * admission. 30 reads that need none reserve 150 > 106: only their attempt counts give
   * the reservations back, so a flaky read after them is retried (200) with the
   * EnvoyFilter and finds the budget spent (503, tried once) without it.
   */
  async function flakyAfterReads(patched: boolean) {
    const proxy = await startEnvoy({ bootstrap: gatewayBootstrap(address, patched).doc, portOverride: 0, concurrency: 1, cwd: root, availability: envoy });
    flakyHits = 0;
    try {
      for (let i = 0; i < 30; i++) {
        const r = await request(`http://${proxy.listeners.ingress}/api/credit-bureau/report`);
        await r.body.dump();
        expect(r.statusCode).toBe(200);
      }
      const r = await request(`http://${proxy.listeners.ingress}/api/credit-bureau/flaky`);
      await r.body.dump();
      const exhausted = metric(await prometheus(proxy.adminAddress), 'retry_budget_exhausted_total') ?? 0;
      return { status: r.statusCode, attempts: r.headers['x-envoy-attempt-count'], exhausted };
    } finally {
      await proxy.stop();
    }
  }

  it('with the EnvoyFilter, reads give their unused retries back and a flaky read is retried', async () => {
    expect(await flakyAfterReads(true)).toEqual({ status: 200, attempts: '2', exhausted: 0 });
  }, 60_000);

  it('without it, the reservations stay and the budget runs dry on reads that never retried', async () => {
    const r = await flakyAfterReads(false);
    expect([r.status, r.attempts]).toEqual([503, undefined]);
    expect(r.exhausted).toBeGreaterThan(0);
  }, 60_000);
});
