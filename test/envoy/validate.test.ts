/**
 * `validate`: a bootstrap's verdict is Envoy's (`envoy --mode validate`), its reason one
 * line; each wasm filter's configuration also goes through the filter's own configure step
 * on the project's host, which names the filter's path; Istio manifests go through
 * istio.ts. Every file under envoy/ passes.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import YAML, { parseAllDocuments } from 'yaml';
import { buildAll } from '../../harness/build.ts';
import { envoyAvailable, envoySuiteTitle } from '../../harness/envoy/binary.ts';
import { checkIstioManifest } from '../../harness/envoy/istio.ts';
import { formatIssue, validateBootstrap, validateFile, type ValidationReport } from '../../harness/envoy/validate.ts';

const root = path.resolve(import.meta.dirname, '../..');
const envoy = envoyAvailable();
const HCM = 'static_resources.listeners[0].filter_chains[0].filters[0].typed_config';

function yamlFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? yamlFiles(path.join(dir, e.name)) : /\.(ya?ml|json)$/.test(e.name) ? [path.join(dir, e.name)] : [],
  );
}

// Not Envoy's: Grafana's dashboards, and envoyproxy/ratelimit's configuration (loaded by the
// service itself in test/integration/global-rate-limit.test.ts).
const files = yamlFiles(path.join(root, 'envoy')).filter((f) => !f.includes(`${path.sep}grafana${path.sep}`) && !f.includes(`${path.sep}ratelimit${path.sep}`));
const isIstio = (file: string) => file.includes(`${path.sep}istio${path.sep}`);

/** A fresh copy of envoy/mesh.yaml to break. */
function mesh(): any {
  return YAML.parse(readFileSync(path.join(root, 'envoy/mesh.yaml'), 'utf8'));
}

function hcm(doc: any): any {
  return doc.static_resources.listeners[0].filter_chains[0].filters[0].typed_config;
}

const stringValue = (value: string) => ({ '@type': 'type.googleapis.com/google.protobuf.StringValue', value });

/** A wasm http filter entry as users write it: the SDK's example filter (test/wasm/example: `key=value` lines, unknown keys rejected) unless `code` says otherwise. */
function wasmFilter(name: string, configuration: string, code: unknown = { local: { filename: 'build/test/example.wasm' } }): any {
  return {
    name: 'envoy.filters.http.wasm',
    typed_config: {
      '@type': 'type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm',
      config: { name, root_id: 'example', vm_config: { vm_id: name, runtime: 'envoy.wasm.runtime.v8', code }, configuration: stringValue(configuration) },
    },
  };
}

async function check(doc: unknown, opts: { plugins?: boolean; cwd?: string } = {}): Promise<ValidationReport> {
  return validateBootstrap(doc, { cwd: root, ...opts });
}

/** The one error of a report (Envoy's has no path). */
function onlyError(report: ValidationReport): string {
  expect(report.errors, JSON.stringify(report.errors)).toHaveLength(1);
  return formatIssue('', report.errors[0]).slice(2);
}

beforeAll(async () => {
  if (!existsSync(path.join(root, 'build/test/example.wasm'))) await buildAll({ only: ['test-example'] });
});

describe.skipIf(!envoy.ok)(envoySuiteTitle('validate: the bootstraps under envoy/', envoy), () => {
  it('finds them', () => {
    expect(files.map((f) => path.relative(root, f))).toContain('envoy/mesh.yaml');
  });

  for (const file of files.filter((f) => !isIstio(f))) {
    it(`${path.relative(root, file)} passes`, async () => {
      const [report, ...more] = await validateFile(file, { cwd: root });
      expect(more).toEqual([]);
      expect(report.kind).toBe('bootstrap');
      expect(report.errors).toEqual([]);
      expect(report.warnings).toEqual([]);
    });
  }
});

describe('validate: the Istio manifests under envoy/istio', () => {
  it('finds them', () => {
    expect(files.filter(isIstio).length).toBeGreaterThanOrEqual(4);
  });

  for (const file of files.filter(isIstio)) {
    it(`${path.relative(root, file)} passes`, async () => {
      const reports = await validateFile(file, { cwd: root });
      expect(reports.length).toBeGreaterThan(0);
      for (const r of reports) {
        // The rate limit service's Deployments, Services, ConfigMap: Kubernetes' own kinds.
        expect(r.kind, r.source).toBe(path.basename(file) === 'ratelimit-service.yaml' ? 'kubernetes' : 'istio');
        expect(r.errors, r.source).toEqual([]);
        // A warning here would mean the filter's module is not built, so pluginConfig went unchecked.
        expect(r.warnings, r.source).toEqual([]);
      }
    });
  }
});

describe('validate: Kubernetes resources beside the WasmPlugins', () => {
  it('reports a schema error at its path, and an unknown kind', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'mesh-filters-k8s-'));
    try {
      const file = path.join(dir, 'service.yaml');
      writeFileSync(file, [
        YAML.stringify({ apiVersion: 'v1', kind: 'Service', metadata: { name: 'ratelimit' }, spec: { ports: [{ port: 'grpc' }] } }),
        YAML.stringify({ apiVersion: 'apps/v1', kind: 'Deplyment', metadata: { name: 'x' } }),
      ].join('---\n'));
      const [service, unknown] = await validateFile(file);
      expect(service.kind).toBe('kubernetes');
      expect(service.errors.map((e) => e.path)).toContain('spec.ports[0].port');
      expect(unknown.errors).toEqual([{ path: 'kind', message: 'not a Kubernetes resource kind: "Deplyment" of "apps/v1"' }]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe.skipIf(!envoy.ok)(envoySuiteTitle("validate: Envoy's verdict, in one line", envoy), () => {
  it('reports an unknown field', async () => {
    const doc = mesh();
    doc.static_resources.clusters[0].conect_timeout = '1s';
    expect(onlyError(await check(doc))).toMatch(/@ static_resources\.clusters\[0\]: message envoy\.config\.cluster\.v3\.Cluster: no such field: 'conect_timeout'/);
  });

  it('reports a route to an unknown cluster', async () => {
    const doc = mesh();
    hcm(doc).route_config.virtual_hosts[0].routes[1].route.cluster = 'credit';
    expect(onlyError(await check(doc))).toBe("route: unknown cluster 'credit'");
  });

  it('reports a bad duration without the document Envoy prints after it', async () => {
    const doc = mesh();
    doc.static_resources.clusters[1].connect_timeout = '250ms';
    const line = onlyError(await check(doc));
    expect(line).toMatch(/^Unable to parse JSON as proto \(.*@ static_resources\.clusters\[1\]\.connect_timeout: .*duration must end with a single 's'\)$/);
    expect(line).not.toMatch(/offset|\{/);
  });

  it("reports a failed PGV rule without the proto Envoy dumps before it", async () => {
    const doc = mesh();
    delete hcm(doc).stat_prefix;
    expect(onlyError(await check(doc))).toBe(
      'Proto constraint validation failed (HttpConnectionManagerValidationError.StatPrefix: value length must be at least 1 characters)',
    );
  });

  it('reports a missing wasm file, resolving relative paths from cwd', async () => {
    const doc = mesh();
    hcm(doc).http_filters.unshift(wasmFilter('missing', '', { local: { filename: 'build/no-such-filter.wasm' } }));
    expect(onlyError(await check(doc, { plugins: false }))).toBe('Invalid path: build/no-such-filter.wasm');

    const elsewhere = mkdtempSync(path.join(os.tmpdir(), 'mesh-filters-validate-cwd-'));
    try {
      const [report] = await validateFile(path.join(root, 'envoy/mesh.yaml'), { cwd: elsewhere, plugins: false });
      expect(onlyError(report)).toBe(`Invalid path: ${hcm(mesh()).http_filters[0].typed_config.config.vm_config.code.local.filename}`);
    } finally {
      rmSync(elsewhere, { recursive: true, force: true });
    }
  });

  it('says why a wasm plugin could not be created: a runtime this Envoy lacks, a module without the ABI', async () => {
    const doc = mesh();
    hcm(doc).http_filters[0].typed_config.config.vm_config.runtime = 'envoy.wasm.runtime.wamr';
    expect(onlyError(await check(doc))).toBe(
      `Unable to create Wasm plugin ${hcm(doc).http_filters[0].typed_config.config.name} (Failed to create Wasm VM using envoy.wasm.runtime.wamr runtime. Envoy was compiled without support for it)`,
    );

    const notAbi = mesh();
    const empty = Buffer.from([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0]).toString('base64'); // a valid, empty module
    hcm(notAbi).http_filters.unshift(wasmFilter('empty', '', { local: { inline_bytes: empty } }));
    expect(onlyError(await check(notAbi))).toMatch(/^Unable to create Wasm plugin empty \(.*Proxy-Wasm ABI/);
  });

  it("passes Envoy's warnings on", async () => {
    const doc = mesh();
    doc.static_resources.clusters[0].http2_protocol_options = {};
    const report = await check(doc);
    expect(report.errors).toEqual([]);
    expect(report.warnings).toHaveLength(1);
    expect(report.warnings[0].message).toMatch(/^Deprecated field: .*'envoy\.config\.cluster\.v3\.Cluster\.http2_protocol_options'/);
  });

  it('gives the same line for a file, prefixed with the file', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'mesh-filters-validate-'));
    try {
      const doc = mesh();
      hcm(doc).route_config.virtual_hosts[0].routes[1].route.cluster = 'credit';
      const file = path.join(dir, 'unknown-cluster.yaml');
      writeFileSync(file, YAML.stringify(doc));
      const [report] = await validateFile(file, { cwd: root });
      expect(report.errors.map((e) => formatIssue(report.source, e))).toEqual([`${file}: route: unknown cluster 'credit'`]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe.skipIf(!envoy.ok)(envoySuiteTitle("validate: each wasm filter's own configure step", envoy), () => {
  it("reports every rejected configuration with the plugin's own line at the filter's path, instead of Envoy's first", async () => {
    const doc = mesh();
    const meshWasmFilters = hcm(doc).http_filters.length - 1; // the filters envoy/mesh.yaml has before its router
    hcm(doc).http_filters.unshift(wasmFilter('a', 'request_header=x-a'), wasmFilter('b', 'colour=red'), wasmFilter('c', 'shape'));
    const report = await check(doc);
    expect(report.errors).toEqual([
      { path: `${HCM}.http_filters[1].typed_config.config.configuration`, message: 'example: line 1: unknown key "colour"' },
      { path: `${HCM}.http_filters[2].typed_config.config.configuration`, message: 'example: line 1: expected key=value' },
    ]);
    expect(report.summary).toBe(`1 listener, 6 clusters, ${meshWasmFilters + 3} wasm filters`);
  });

  it("without the host's step, Envoy's line names the plugin and its own line", async () => {
    const doc = mesh();
    hcm(doc).http_filters.unshift(wasmFilter('b', 'colour=red'));
    expect(onlyError(await check(doc, { plugins: false }))).toBe('Unable to create Wasm plugin b (wasm log example b: example: line 1: unknown key "colour")');
  });

  it('accepts a configuration the plugin accepts', async () => {
    const doc = mesh();
    hcm(doc).http_filters.unshift(wasmFilter('a', 'request_header=x-a\nresponse_header=x-b'));
    const report = await check(doc);
    expect(report.errors).toEqual([]);
    expect(report.warnings).toEqual([]);
  });

  it("rejects a jwt-auth JWKS cluster the bootstrap lacks, which Envoy's check cannot see", async () => {
    const doc = mesh();
    const jwt = hcm(doc).http_filters.findIndex((f: any) => f.typed_config.config?.root_id === 'jwt-auth');
    const config = hcm(doc).http_filters[jwt].typed_config.config.configuration;
    config.value = config.value.replace('"cluster": "jwks"', '"cluster": "jwk"');
    expect((await check(doc, { plugins: false })).errors).toEqual([]); // Envoy's verdict
    expect((await check(doc)).errors).toEqual([
      { path: `${HCM}.http_filters[${jwt}].typed_config.config.configuration.value`, message: "jwt-auth: providers.users.remote_jwks.http_uri.cluster: unknown cluster 'jwk'" },
    ]);
  });

  it('warns that a filter with remote code has its configuration checked by nobody', async () => {
    const doc = mesh();
    const remote = { remote: { http_uri: { uri: 'http://127.0.0.1:9/example.wasm', cluster: 'echo', timeout: '1s' }, sha256: 'ab'.repeat(32) } };
    hcm(doc).http_filters.unshift(wasmFilter('r', 'colour=red', remote));
    const report = await check(doc);
    expect(report.errors).toEqual([]);
    expect(report.warnings).toContainEqual({ path: `${HCM}.http_filters[0].typed_config.config.vm_config.code.remote`, message: expect.stringMatching(/^remote code: nothing checks/) });
  });
});

describe.skipIf(!envoy.ok)(envoySuiteTitle("validate: Envoy's edge-proxy guide, which Envoy's own check cannot ask for", envoy), () => {
  const LISTENER = 'static_resources.listeners[0]';

  /** envoy/mesh.yaml without the guide's settings (Envoy accepts it as it is). */
  function bareMesh(): any {
    const doc = mesh();
    delete doc.overload_manager;
    delete doc.static_resources.listeners[0].per_connection_buffer_limit_bytes;
    for (const c of doc.static_resources.clusters) delete c.per_connection_buffer_limit_bytes;
    for (const f of ['normalize_path', 'merge_slashes', 'path_with_escaped_slashes_action', 'common_http_protocol_options', 'request_timeout', 'http2_protocol_options']) delete hcm(doc)[f];
    return doc;
  }

  /** Each warning as `<path>: <message>`. */
  const lines = (report: ValidationReport) => report.warnings.map((w) => formatIssue('', w).slice(2));

  it('warns, one line each, on an edge listener (use_remote_address) without them, naming the field and the guide', async () => {
    const report = await check(bareMesh(), { plugins: false });
    expect(report.errors).toEqual([]);
    const fields = ['normalize_path', 'merge_slashes', 'path_with_escaped_slashes_action', 'headers_with_underscores_action', 'request_timeout', 'http2_protocol_options without max_concurrent_streams, initial_stream_window_size, initial_connection_window_size'];
    expect(lines(report)).toEqual([
      `${LISTENER}: edge listener 'ingress': no per_connection_buffer_limit_bytes (Envoy's edge-proxy guide: 32768, 32 KiB)`,
      ...fields.map((f) => expect.stringMatching(new RegExp(`^${HCM.replace(/[.[\]]/g, '\\$&')}: edge listener 'ingress': .*${f}.*\\(Envoy's edge-proxy guide: `))),
      "static_resources.clusters: clusters without per_connection_buffer_limit_bytes behind an edge listener: echo, credit-bureau, banking, documents, projects, jwks (Envoy's edge-proxy guide: 32768, 32 KiB)",
      expect.stringMatching(/^no overload_manager behind an edge listener \(Envoy's edge-proxy guide: .*global_downstream_max_connections\)$/),
    ]);

    const monitorless = mesh();
    monitorless.overload_manager.resource_monitors.pop();
    expect(lines(await check(monitorless, { plugins: false }))).toEqual([
      "overload_manager: no envoy.resource_monitors.global_downstream_max_connections: nothing limits downstream connections (Envoy's edge-proxy guide)",
    ]);
  });

  it('a loopback listener without use_remote_address is no edge: nothing to warn about', async () => {
    const doc = bareMesh();
    delete hcm(doc).use_remote_address;
    expect((await check(doc, { plugins: false })).warnings).toEqual([]);
  });

  it("a listener on a non-loopback address is an edge without use_remote_address; values set on purpose are the writer's", async () => {
    const doc = mesh();
    doc.static_resources.listeners[0].address.socket_address.address = '0.0.0.0';
    delete hcm(doc).use_remote_address;
    hcm(doc).path_with_escaped_slashes_action = 'KEEP_UNCHANGED'; // services that need %2F
    hcm(doc).request_timeout = '0s'; // long uploads
    hcm(doc).common_http_protocol_options.headers_with_underscores_action = 'DROP_HEADER';
    expect(lines(await check(doc, { plugins: false }))).toEqual([
      expect.stringMatching(/edge listener 'ingress': use_remote_address is not true: .*\(Envoy's edge-proxy guide: true\)$/),
    ]);
  });

  it('warns on a jwt-auth rule that needs no token on a health path matched by prefix (/health also matches /healthz-admin)', async () => {
    const doc = mesh();
    const jwt = hcm(doc).http_filters.findIndex((f: any) => f.typed_config.config?.root_id === 'jwt-auth');
    const configuration = hcm(doc).http_filters[jwt].typed_config.config.configuration;
    const json = JSON.parse(configuration.value);
    expect(json.rules[0]).toEqual({ match: { path: '/health' } });
    json.rules[0] = { match: { prefix: '/health' } };
    // Prefixes that need a token, or are no health check, are fine.
    json.rules.splice(1, 0, { match: { prefix: '/ready' }, requires: { provider_name: 'users' } }, { match: { prefix: '/healthy-foods' } });
    configuration.value = JSON.stringify(json);
    expect(lines(await check(doc))).toEqual([
      `${HCM}.http_filters[${jwt}].typed_config.config.configuration.value: jwt-auth: rules[0] needs no token on every path that starts with "/health" (/health-admin too): match a health check with "path"`,
    ]);
  });
});

describe("validate: Istio manifests, against Istio's CRD schemas", () => {
  const manifest = (name: string, i = 0) => parseAllDocuments(readFileSync(path.join(root, `envoy/istio/${name}.yaml`), 'utf8'))[i].toJS();
  const lines = (report: ValidationReport) => report.errors.map((e) => `${e.path}: ${e.message}`);

  it('rejects bad enum values, types and patterns in a WasmPlugin, at their paths', async () => {
    const doc = manifest('rate-limit');
    doc.spec.failStrategy = 'FAIL_CLOSED'; // Istio spells it FAIL_CLOSE
    doc.spec.match = [{ mode: 'INBOUND' }]; // SERVER
    doc.spec.priority = '300';
    doc.spec.sha256 = `sha256:${doc.spec.sha256}`; // the field takes the hex alone
    const report = await checkIstioManifest(doc, 'x.yaml', { cwd: root, plugins: false });
    expect(lines(report)).toEqual([
      expect.stringMatching(/^spec.failStrategy: must be equal to one of the allowed values \(FAIL_CLOSE, FAIL_OPEN, FAIL_RELOAD\)$/),
      expect.stringMatching(/^spec.match\[0\].mode: must be equal to one of the allowed values \(.*SERVER/),
      'spec.priority: must be integer',
      expect.stringMatching(/^spec.sha256: must match pattern/),
    ]);
  });

  it('rejects a url scheme Istio does not fetch, and warns about an oci:// tag without sha256', async () => {
    const doc = manifest('retry');
    doc.spec.url = 'ftp://registry/retry.wasm';
    expect(lines(await checkIstioManifest(doc, 'x.yaml', { cwd: root, plugins: false }))).toEqual([
      'spec.url: url must have schema one of [http, https, file, oci], got "ftp://registry/retry.wasm"',
    ]);
    const unpinned = manifest('retry');
    delete unpinned.spec.sha256;
    const report = await checkIstioManifest(unpinned, 'x.yaml', { cwd: root, plugins: false });
    expect([report.errors, report.warnings.map((w) => w.path)]).toEqual([[], ['spec.sha256']]);
  });

  it('checks an EnvoyFilter too, and names a kind Istio does not have', async () => {
    const doc = manifest('retry-routes');
    doc.spec.configPatches[0].applyTo = 'ROUTE';
    doc.spec.configPatches[1].match.context = 'INGRESS';
    expect(lines(await checkIstioManifest(doc, 'x.yaml', { cwd: root }))).toEqual([
      expect.stringMatching(/^spec.configPatches\[0\].applyTo: must be equal to one of the allowed values \(.*HTTP_ROUTE/),
      expect.stringMatching(/^spec.configPatches\[1\].match.context: must be equal to one of the allowed values \(.*GATEWAY/),
    ]);
    const gizmo = { apiVersion: 'networking.istio.io/v1alpha3', kind: 'Gizmo', metadata: { name: 'g' } };
    expect(lines(await checkIstioManifest(gizmo, 'x.yaml', { cwd: root }))).toEqual(['kind: not an Istio resource kind: "Gizmo" of "networking.istio.io/v1alpha3"']);
  });

  it("rejects a pluginConfig the filter rejects, with the filter's line", async () => {
    const doc = manifest('jwt-auth');
    doc.spec.pluginConfig.bogus = 1;
    const report = await checkIstioManifest(doc, 'x.yaml', { cwd: root });
    expect(report.errors).toEqual([{ path: 'spec.pluginConfig', message: 'jwt-auth: bogus: unknown field' }]);
  });
});
