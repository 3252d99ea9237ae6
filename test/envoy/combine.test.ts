// harness/envoy/combine.ts: a bootstrap's chain of our filters as one entry of the mesh
// module (`mesh-filters combine`, `run|demo --one-module`). The combined envoy/mesh.yaml
// runs on Envoy in test/envoy/real-envoy.test.ts and operating.test.ts.
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { combineBootstrap, combineHttpFilters, combineWasmPlugins } from '../../harness/envoy/combine.ts';
import { parseAllDocuments } from 'yaml';
import { readFileSync } from 'node:fs';
import { readConfigFile } from '../../harness/envoy/config-file.ts';

const root = path.resolve(import.meta.dirname, '../..');
type Doc = Record<string, any>;

/** An `envoy.filters.http.wasm` entry of `module` (build/<module>.wasm) under `rootId`. */
function wasm(rootId: string, config: unknown, plugin: Doc = {}, module = rootId): Doc {
  return {
    name: 'envoy.filters.http.wasm',
    typed_config: {
      '@type': 'type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm',
      config: {
        name: `${rootId}-plugin`,
        root_id: rootId,
        vm_config: { vm_id: rootId, runtime: 'envoy.wasm.runtime.v8', code: { local: { filename: `build/${module}.wasm` } } },
        configuration: { '@type': 'type.googleapis.com/google.protobuf.StringValue', value: JSON.stringify(config) },
        ...plugin,
      },
    },
  };
}
const router = { name: 'envoy.filters.http.router' };
const pluginOf = (entry: Doc) => entry.typed_config.config;
const chainOf = (entry: Doc) => JSON.parse(pluginOf(entry).configuration.value).filters;

describe('combine: a chain of our filters as one mesh module entry', () => {
  it('replaces each run of two or more, in order, and leaves the rest where they are', () => {
    const other = { name: 'envoy.filters.http.cors' };
    const { filters, runs } = combineHttpFilters([
      wasm('rate-limit', { rules: ['edge'] }), wasm('jwt-auth', { rules: ['j'] }), other,
      wasm('circuit-breaker', { services: [] }), wasm('retry', { policies: [] }), wasm('rate-limit', { rules: ['late'] }), router,
    ]);
    expect(runs).toBe(2);
    expect(filters).toHaveLength(4);
    expect(filters[1]).toBe(other);
    expect(filters[3]).toBe(router);
    expect(chainOf(filters[0])).toEqual([{ name: 'rate-limit', config: { rules: ['edge'] } }, { name: 'jwt-auth', config: { rules: ['j'] } }]);
    expect(chainOf(filters[2]).map((m: Doc) => m.name)).toEqual(['circuit-breaker', 'retry', 'rate-limit']);
    expect(pluginOf(filters[0])).toMatchObject({ name: 'mesh', root_id: 'mesh', vm_config: { vm_id: 'mesh', code: { local: { filename: 'build/mesh.wasm' } } } });
  });

  it('leaves a lone filter, and modules that are not ours under a member name, alone', () => {
    const lone = [wasm('jwt-auth', {}), router];
    expect(combineHttpFilters(lone)).toEqual({ filters: lone, runs: 0 });
    const foreign = [wasm('jwt-auth', {}, {}, 'someone-elses-jwt'), wasm('retry', {}), router];
    expect(combineHttpFilters(foreign).runs).toBe(0);
  });

  it('takes the strictest failure policy of the members: one fail-closed member closes the module', () => {
    const policy = (...plugins: Doc[]) => pluginOf(combineHttpFilters(plugins.map((p, i) => wasm(i % 2 ? 'jwt-auth' : 'rate-limit', {}, p))).filters[0]);
    expect(policy({ fail_open: true }, {})).toMatchObject({ failure_policy: 'FAIL_CLOSED' });
    expect(policy({ fail_open: true }, {}).fail_open).toBeUndefined();
    expect(policy({ failure_policy: 'FAIL_OPEN' }, { fail_open: true })).toMatchObject({ failure_policy: 'FAIL_OPEN' });
    expect(policy({ failure_policy: 'FAIL_OPEN' }, { failure_policy: 'FAIL_RELOAD' })).toMatchObject({ failure_policy: 'FAIL_RELOAD' });
  });

  it('combines envoy/mesh.yaml into one entry holding its five filters, their configurations unchanged', () => {
    const doc = readConfigFile(path.join(root, 'envoy/mesh.yaml')) as Doc;
    const { bootstrap, combined } = combineBootstrap(doc);
    expect(combined).toBe(1);
    const before = doc.static_resources.listeners[0].filter_chains[0].filters[0].typed_config.http_filters as Doc[];
    const after = bootstrap.static_resources.listeners[0].filter_chains[0].filters[0].typed_config.http_filters as Doc[];
    expect(after.map((f) => f.name)).toEqual(['envoy.filters.http.wasm', 'envoy.filters.http.router']);
    const members = before.filter((f) => f.name === 'envoy.filters.http.wasm').map((f) => ({ name: pluginOf(f).root_id, config: JSON.parse(pluginOf(f).configuration.value) }));
    expect(members.map((m) => m.name)).toEqual(['rate-limit', 'jwt-auth', 'rate-limit', 'circuit-breaker', 'retry']);
    expect(chainOf(after[0])).toEqual(members);
    expect(doc.static_resources.listeners[0].filter_chains[0].filters[0].typed_config.http_filters).toHaveLength(6); // the input is untouched
  });
});

describe('combine: Istio WasmPlugins of our filters as one WasmPlugin of the mesh image', () => {
  const manifests = (...files: string[]) => files.flatMap((f) => parseAllDocuments(readFileSync(path.join(root, 'envoy/istio', f), 'utf8')).map((d) => d.toJS() as Doc).filter((d) => d?.kind === 'WasmPlugin'));

  it("the gateway's five, in Istio's order (phase, then priority), failing closed because jwt-auth does", () => {
    const gateway = manifests('retry.yaml', 'circuit-breaker.yaml', 'jwt-auth.yaml', 'rate-limit.yaml', 'rate-limit-edge.yaml');
    const { docs, combined } = combineWasmPlugins(gateway, 'ab'.repeat(32));
    expect(combined).toBe(1);
    expect(docs).toHaveLength(1);
    const { metadata, spec } = docs[0];
    expect(metadata).toEqual({ name: 'mesh', namespace: 'istio-system' });
    expect(spec).toMatchObject({ pluginName: 'mesh', url: 'oci://ghcr.io/your-org/mesh-filters/mesh:0.1.0', sha256: 'ab'.repeat(32), phase: 'AUTHN', priority: 1000, failStrategy: 'FAIL_CLOSE', selector: gateway[0].spec.selector });
    const byName = (name: string) => gateway.find((d) => d.metadata.name === name)!.spec.pluginConfig;
    expect(spec.pluginConfig.filters).toEqual(['rate-limit-edge', 'jwt-auth', 'rate-limit', 'circuit-breaker', 'retry'].map((n) => ({ name: n === 'rate-limit-edge' ? 'rate-limit' : n, config: byName(n) })));
  });

  it("the sidecars': one per traffic direction (inbound authentication and limits, outbound breaker and retries), each named after its first", () => {
    const sidecars = manifests('sidecar/jwt-auth.yaml', 'sidecar/rate-limit.yaml', 'sidecar/circuit-breaker.yaml', 'sidecar/retry.yaml');
    const { docs, combined } = combineWasmPlugins(sidecars);
    expect(combined).toBe(2);
    expect(docs.map((d) => [d.metadata.name, d.spec.pluginConfig.filters.map((f: Doc) => f.name)])).toEqual([
      ['mesh-jwt-auth', ['jwt-auth', 'rate-limit']],
      ['mesh-circuit-breaker', ['circuit-breaker', 'retry']],
    ]);
    expect(docs.every((d) => d.spec.sha256 === undefined)).toBe(true); // no digest given: none pinned
  });

  it('fails open only when every member does, and leaves a lone plugin alone', () => {
    const [a, b] = manifests('circuit-breaker.yaml', 'retry.yaml');
    expect(combineWasmPlugins([a, b]).docs[0].spec.failStrategy).toBe('FAIL_OPEN');
    expect(combineWasmPlugins([a])).toEqual({ docs: [a], combined: 0 });
  });
});
