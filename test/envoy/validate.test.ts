/**
 * `validate` against Envoy's API (the protos vendored by @grpc/grpc-js-xds) and Envoy's
 * own static-config checks: every file under envoy/ passes, and each kind of mistake is
 * reported with the path of the offending value.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { buildAll } from '../../harness/build.ts';
import { validateBootstrap, validateFile, type ValidationReport } from '../../harness/envoy/validate.ts';

const root = path.resolve(import.meta.dirname, '../..');
const HCM = 'static_resources.listeners[0].filter_chains[0].filters[0].typed_config';

function yamlFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? yamlFiles(path.join(dir, e.name)) : /\.(ya?ml|json)$/.test(e.name) ? [path.join(dir, e.name)] : [],
  );
}

/** A fresh copy of envoy/mesh.yaml to break. */
function mesh(): any {
  return YAML.parse(readFileSync(path.join(root, 'envoy/mesh.yaml'), 'utf8'));
}

function hcm(doc: any): any {
  return doc.static_resources.listeners[0].filter_chains[0].filters[0].typed_config;
}

/** Index of the router, the last http filter (envoy/mesh.yaml has the project's filters before it). */
function routerAt(doc: any): number {
  return hcm(doc).http_filters.length - 1;
}

/** A wasm http filter entry as users write it. */
function wasmFilter(overrides: { code?: unknown; config?: Record<string, unknown> } = {}): any {
  return {
    name: 'envoy.filters.http.wasm',
    typed_config: {
      '@type': 'type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm',
      config: {
        name: 'rate-limit',
        root_id: 'rate-limit',
        vm_config: {
          vm_id: 'rate-limit',
          runtime: 'envoy.wasm.runtime.v8',
          code: overrides.code ?? { local: { filename: 'build/rate-limit.wasm' } },
        },
        configuration: { '@type': 'type.googleapis.com/google.protobuf.StringValue', value: '{}' },
        ...overrides.config,
      },
    },
  };
}

async function check(doc: unknown): Promise<ValidationReport> {
  return validateBootstrap(doc, { cwd: root, plugins: false });
}

function errorAt(report: ValidationReport, at: string): string {
  const found = report.errors.find((e) => e.path === at);
  expect(found, `no error at ${at}; errors: ${JSON.stringify(report.errors)}`).toBeDefined();
  return found!.message;
}

describe('validate: the files users copy', () => {
  const files = yamlFiles(path.join(root, 'envoy'));

  it('finds the bootstrap and the Istio manifests', () => {
    expect(files.map((f) => path.relative(root, f))).toContain('envoy/mesh.yaml');
    expect(files.filter((f) => f.includes(`${path.sep}istio${path.sep}`)).length).toBeGreaterThanOrEqual(4);
  });

  for (const file of files) {
    it(`${path.relative(root, file)} passes`, async () => {
      const reports = await validateFile(file, { cwd: root });
      for (const r of reports) expect(r.errors, r.source).toEqual([]);
    });
  }
});

describe("validate: Envoy's API (proto3 JSON mapping)", () => {
  it('names the path of an unknown field, with a suggestion', async () => {
    const doc = mesh();
    const filter = wasmFilter({ code: { local: { filname: 'build/rate-limit.wasm' } } });
    hcm(doc).http_filters.unshift(filter);
    const report = await check(doc);
    const message = errorAt(report, `${HCM}.http_filters[0].typed_config.config.vm_config.code.local.filname`);
    expect(message).toMatch(/^unknown field/);
    expect(message).toContain('"filename"');
  });

  it('names the path of a wrong type', async () => {
    const doc = mesh();
    doc.admin.address.socket_address.port_value = 'abc';
    doc.static_resources.clusters[1].connect_timeout = 1;
    hcm(doc).route_config.virtual_hosts[0].include_attempt_count_in_response = 'yes';
    const report = await check(doc);
    expect(errorAt(report, 'admin.address.socket_address.port_value')).toMatch(/expected an integer \(uint32\), got "abc"/);
    expect(errorAt(report, 'static_resources.clusters[1].connect_timeout')).toMatch(/duration/);
    expect(errorAt(report, `${HCM}.route_config.virtual_hosts[0].include_attempt_count_in_response`)).toMatch(/expected a bool.*write true or false/);
  });

  it('rejects an unresolvable @type', async () => {
    const doc = mesh();
    hcm(doc).http_filters.at(-1).typed_config['@type'] = 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Rooter';
    const report = await check(doc);
    expect(errorAt(report, `${HCM}.http_filters[${routerAt(doc)}].typed_config["@type"]`)).toMatch(/unresolvable type .*Rooter/);
  });

  it('rejects a bad enum name and out-of-range numbers', async () => {
    const doc = mesh();
    doc.static_resources.clusters[0].lb_policy = 'ROUND_ROBBIN';
    doc.static_resources.clusters[0].load_assignment.endpoints[0].lb_endpoints[0].endpoint.address.socket_address.port_value = 70000;
    const report = await check(doc);
    expect(errorAt(report, 'static_resources.clusters[0].lb_policy')).toMatch(/unknown enum value "ROUND_ROBBIN".*ROUND_ROBIN/);
    expect(
      errorAt(report, 'static_resources.clusters[0].load_assignment.endpoints[0].lb_endpoints[0].endpoint.address.socket_address.port_value'),
    ).toMatch(/at most 65535/);
  });

  it('rejects two members of one oneof', async () => {
    const doc = mesh();
    hcm(doc).route_config.virtual_hosts[0].routes[1].match.path = '/exact';
    const report = await check(doc);
    expect(errorAt(report, `${HCM}.route_config.virtual_hosts[0].routes[1].match.path`)).toMatch(/oneof "path_specifier" is already set by "prefix"/);
  });

  it('applies PGV rules: required messages and oneofs, string lengths', async () => {
    const doc = mesh();
    delete hcm(doc).route_config.virtual_hosts[0].routes[1].match;
    delete hcm(doc).stat_prefix;
    const report = await check(doc);
    expect(errorAt(report, `${HCM}.route_config.virtual_hosts[0].routes[1].match`)).toBe('value is required');
    expect(errorAt(report, `${HCM}.stat_prefix`)).toBe('must not be empty');
  });

  it('accepts JSON (lowerCamel) names, durations to the nanosecond, and rejects other duration forms', async () => {
    const doc = mesh();
    const c = doc.static_resources.clusters[0];
    delete c.connect_timeout;
    c.connectTimeout = '0.000000001s';
    doc.static_resources.clusters[1].connect_timeout = '250ms';
    doc.static_resources.clusters[2].connect_timeout = '1.0000000001s';
    const report = await check(doc);
    expect(report.errors.map((e) => e.path)).toEqual([
      'static_resources.clusters[1].connect_timeout',
      'static_resources.clusters[2].connect_timeout',
    ]);
  });

  it('resolves TypedStruct to the type it names', async () => {
    const doc = mesh();
    hcm(doc).http_filters.at(-1).typed_config = {
      '@type': 'type.googleapis.com/xds.type.v3.TypedStruct',
      type_url: 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router',
      value: { suppress_envoy_headers: true, dynamic_stats: 'no' },
    };
    const report = await check(doc);
    expect(errorAt(report, `${HCM}.http_filters[${routerAt(doc)}].typed_config.value.dynamic_stats`)).toMatch(/bool/);
    expect(report.errors).toHaveLength(1);
  });

  it('warns on deprecated fields, and knows newer wasm fields (failure_policy)', async () => {
    const doc = mesh();
    doc.static_resources.clusters[0].http2_protocol_options = {};
    const report = await check(doc);
    expect(report.errors).toEqual([]);
    expect(report.warnings.map((w) => w.path)).toContain('static_resources.clusters[0].http2_protocol_options');

    const withPolicy = mesh();
    hcm(withPolicy).http_filters.unshift(wasmFilter({ config: { failure_policy: 'FAIL_RELOAD', fail_open: true } }));
    const r2 = await check(withPolicy);
    expect(r2.errors.filter((e) => !e.message.includes('cannot read wasm code'))).toEqual([]);
    expect(r2.warnings.map((w) => w.path)).toContain(`${HCM}.http_filters[0].typed_config.config.fail_open`);
    hcm(withPolicy).http_filters[0].typed_config.config.failure_policy = 'FAIL_SOMETIMES';
    expect(errorAt(await check(withPolicy), `${HCM}.http_filters[0].typed_config.config.failure_policy`)).toMatch(/unknown enum value/);
  });
});

describe("validate: Envoy's checks on static config", () => {
  it('rejects a route to an unknown cluster, naming the route', async () => {
    const doc = mesh();
    hcm(doc).route_config.virtual_hosts[0].routes[4].route.cluster = 'document';
    const report = await check(doc);
    expect(errorAt(report, `${HCM}.route_config.virtual_hosts[0].routes[4].route.cluster`)).toBe("unknown cluster 'document'");
  });

  it('rejects duplicate cluster names and duplicate domains', async () => {
    const doc = mesh();
    doc.static_resources.clusters[1].name = 'echo';
    doc.static_resources.clusters[1].load_assignment.cluster_name = 'echo';
    hcm(doc).route_config.virtual_hosts.push({ name: 'other', domains: ['*'], routes: [] });
    const report = await check(doc);
    expect(errorAt(report, 'static_resources.clusters[1].name')).toBe("duplicate cluster 'echo'");
    expect(errorAt(report, `${HCM}.route_config.virtual_hosts[1].domains[0]`)).toMatch(/duplicate domain '\*'/);
  });

  it('requires the router to be the last http filter', async () => {
    const doc = mesh();
    const router = routerAt(doc);
    hcm(doc).http_filters.push(wasmFilter());
    const report = await check(doc);
    expect(errorAt(report, `${HCM}.http_filters[${router}]`)).toMatch(/must be the last filter/);
    expect(errorAt(report, `${HCM}.http_filters[${router + 1}]`)).toMatch(/non-terminal filter/);
  });

  it('rejects a hostname in a STATIC cluster, as Envoy does', async () => {
    const doc = mesh();
    doc.static_resources.clusters[0].load_assignment.endpoints[0].lb_endpoints[0].endpoint.address.socket_address.address = 'localhost';
    const report = await check(doc);
    expect(
      errorAt(report, 'static_resources.clusters[0].load_assignment.endpoints[0].lb_endpoints[0].endpoint.address.socket_address.address'),
    ).toMatch(/^malformed IP address: localhost/);
    doc.static_resources.clusters[0].type = 'STRICT_DNS';
    expect((await check(doc)).errors).toEqual([]);
  });

  it('reports wasm code that cannot be read, and an unknown runtime', async () => {
    const doc = mesh();
    const f = wasmFilter({ code: { local: { filename: 'build/no-such-filter.wasm' } } });
    f.typed_config.config.vm_config.runtime = 'envoy.wasm.runtime.v9';
    hcm(doc).http_filters.unshift(f);
    const report = await check(doc);
    const at = `${HCM}.http_filters[0].typed_config.config.vm_config`;
    expect(errorAt(report, `${at}.code.local.filename`)).toMatch(/cannot read wasm code build\/no-such-filter\.wasm.*ENOENT.*mesh-filters build/);
    expect(errorAt(report, `${at}.runtime`)).toMatch(/unknown wasm runtime 'envoy.wasm.runtime.v9'/);
  });

  it('rejects a non-module as wasm code', async () => {
    const doc = mesh();
    hcm(doc).http_filters.unshift(wasmFilter({ code: { local: { inline_bytes: Buffer.from('not wasm').toString('base64') } } }));
    const report = await check(doc);
    expect(errorAt(report, `${HCM}.http_filters[0].typed_config.config.vm_config.code.local`)).toMatch(/not a valid WebAssembly module/);
  });
});

describe("validate: each wasm filter's own configure step", () => {
  // The SDK's example filter (test/wasm/example): `key=value` lines, unknown keys rejected.
  const example = (configuration: string) =>
    wasmFilter({
      code: { local: { filename: 'build/test/example.wasm' } },
      config: { name: 'example', root_id: 'example', configuration: { '@type': 'type.googleapis.com/google.protobuf.StringValue', value: configuration } },
    });

  beforeAll(async () => {
    if (!existsSync(path.join(root, 'build/test/example.wasm'))) await buildAll({ only: ['test-example'] });
  });

  it("reports a rejected configuration with the plugin's own error line, at the filter's path", async () => {
    const doc = mesh();
    const meshWasmFilters = routerAt(doc); // the filters envoy/mesh.yaml already has before its router
    hcm(doc).http_filters.unshift(example('request_header=x-a'), example('colour=red'));
    const report = await validateBootstrap(doc, { cwd: root });
    expect(report.errors).toEqual([
      { path: `${HCM}.http_filters[1].typed_config.config.configuration`, message: 'example: line 1: unknown key "colour"' },
    ]);
    expect(report.summary).toBe(`1 listener, 6 clusters, ${meshWasmFilters + 2} wasm filters`);
  });

  it('accepts a configuration the plugin accepts', async () => {
    const doc = mesh();
    hcm(doc).http_filters.unshift(example('request_header=x-a\nresponse_header=x-b'));
    const report = await validateBootstrap(doc, { cwd: root });
    expect(report.errors).toEqual([]);
    expect(report.warnings).toEqual([]);
  });

  it('refuses a configuration that is not a StringValue', async () => {
    const doc = mesh();
    const f = example('');
    f.typed_config.config.configuration = { '@type': 'type.googleapis.com/google.protobuf.Struct', value: { a: 1 } };
    hcm(doc).http_filters.unshift(f);
    const report = await validateBootstrap(doc, { cwd: root });
    expect(errorAt(report, `${HCM}.http_filters[0].typed_config.config.configuration["@type"]`)).toMatch(/StringValue/);
  });
});

describe('validate: Istio WasmPlugin manifests', () => {
  it('rejects unknown spec fields and bad enum values', async () => {
    const file = path.join(root, 'envoy/istio/rate-limit.yaml');
    const doc = YAML.parse(readFileSync(file, 'utf8'));
    doc.spec.failStrategy = 'FAIL_CLOSED'; // Istio spells it FAIL_CLOSE
    doc.spec.pluginconfig = {};
    const { checkIstioWasmPlugin } = await import('../../harness/envoy/istio.ts');
    const report = await checkIstioWasmPlugin(doc, 'x.yaml', { cwd: root, plugins: false });
    expect(report.errors.map((e) => `${e.path}: ${e.message}`)).toEqual([
      'spec.pluginconfig: unknown field',
      expect.stringMatching(/^spec.failStrategy: unknown enum value "FAIL_CLOSED" \(one of FAIL_CLOSE/),
    ]);
  });
});
