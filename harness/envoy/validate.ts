/**
 * `mesh-filters validate`: checks an Envoy v3 bootstrap by asking Envoy, and an Istio
 * `WasmPlugin` manifest with istio.ts. A bootstrap is checked three ways at once:
 *
 * 1. Envoy's verdict, which is the bootstrap's: the project's Envoy (binary.ts
 *    `ensureEnvoy`) runs `--mode validate -c <file>` (Envoy docs, operations/cli) from
 *    `cwd`, where relative paths in the bootstrap (`code.local.filename`) resolve, within
 *    `ENVOY_TIMEOUT_MS`. Exit 0 is a bootstrap Envoy would start with. Otherwise its
 *    critical log `error initializing configuration '<file>': <reason>` becomes one line,
 *    `<reason>`: a dumped proto or JSON document and positions in Envoy's JSON rendering
 *    of the file are cut off, whitespace runs are one space, and for `Unable to create Wasm
 *    plugin <name>` the wasm log line that says why follows in parentheses. Envoy's
 *    warnings (deprecated fields, remote code) become the report's warnings.
 * 2. Each wasm filter's configuration through the filter's own configure step on the
 *    project's proxy-wasm host (plugins.ts): a rejected configuration is the plugin's own
 *    line at the filter's JSON path, for every rejected plugin (Envoy names only the first,
 *    and not the path), and Envoy's `Unable to create Wasm plugin <name>` for that plugin is
 *    left out. Plus what Envoy cannot know: a cluster named inside a filter's JSON
 *    (jwt-auth's `remote_jwks.http_uri.cluster`) must exist, and a filter whose code is
 *    remote has its configuration checked by nobody (a warning).
 * 3. Warnings for what Envoy accepts but its edge-proxy guide advises against: an edge
 *    listener without the guide's settings (`edgeWarnings`), and, with step 2, a jwt-auth
 *    rule that lets a health check's path through by `prefix` (`/health` also matches
 *    `/healthz-admin`).
 *
 * What validate mode does with wasm filters (Envoy 1.40, seen with test/wasm/host-probe and
 * the filters): it reads the code (`Invalid path: <filename>` when the file is missing;
 * remote code is not fetched, only a warning), creates the VM on the configured runtime (a
 * runtime not compiled in fails; release builds have V8 only; a module without a proxy-wasm
 * ABI fails), and runs `proxy_on_vm_start` and `proxy_on_configure` twice, on a canary VM
 * and then on the main thread's VM. So a plugin that rejects its configuration fails
 * validation, its own line logged at error level (`wasm log <plugin>: <line>`). Nothing
 * else runs: no listener binds (a port in use passes), no cluster connects,
 * `proxy_http_call` answers BadArgument for every cluster, timers never fire, and the
 * root contexts get `proxy_on_done` and `proxy_on_delete` as Envoy exits.
 *
 * Every problem is one line: `<source>: <reason>` (Envoy's) or `<source>: <path>: <reason>`.
 */
import { execFile, type ExecFileException } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ensureEnvoy } from './binary.ts';
import { ConfigError, joinPath, readConfigDocuments, type Issue } from './config-file.ts';
import { checkIstioManifest, isIstioManifest } from './istio.ts';
import { checkKubernetesManifest, isKubernetesManifest } from './kubernetes.ts';
import { checkPluginConfiguration } from './plugins.ts';

export { ConfigError, type Issue } from './config-file.ts';

export interface ValidateOptions {
  /** Directory Envoy runs in, which relative paths in the config (`code.local.filename`) resolve from; default `process.cwd()`. */
  cwd?: string;
  /** Run each wasm filter's configure step on the project's host too (default true). */
  plugins?: boolean;
}

export interface ValidationReport {
  /** The file (or `<inline>`). */
  source: string;
  kind: 'bootstrap' | 'istio' | 'kubernetes';
  errors: Issue[];
  warnings: Issue[];
  /** What was checked, e.g. `1 listener, 7 clusters, 0 wasm filters`. */
  summary: string;
}

/** How long `envoy --mode validate` may take (it compiles every wasm module), in ms. */
const ENVOY_TIMEOUT_MS = 120_000;

/** Validates every document of `file` (a bootstrap, or Istio and Kubernetes manifests). Throws ConfigError when the file cannot be read or parsed. */
export async function validateFile(file: string, opts: ValidateOptions = {}): Promise<ValidationReport[]> {
  const docs = readConfigDocuments(file);
  const reports: ValidationReport[] = [];
  for (const [i, doc] of docs.entries()) {
    const source = docs.length > 1 ? `${file}#${i + 1}` : file;
    if (isIstioManifest(doc)) reports.push(await checkIstioManifest(doc, source, opts));
    else if (isKubernetesManifest(doc)) reports.push(await checkKubernetesManifest(doc, source));
    else if (docs.length > 1) throw new ConfigError(`${source}: an Envoy bootstrap must be the only document of its file`);
    else reports.push(await checkBootstrap(doc, path.resolve(file), source, opts));
  }
  return reports;
}

/** Validates a parsed bootstrap (Envoy reads it from a temporary JSON file). */
export async function validateBootstrap(doc: unknown, opts: ValidateOptions & { source?: string } = {}): Promise<ValidationReport> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'mesh-filters-validate-'));
  try {
    const file = path.join(dir, 'bootstrap.json');
    writeFileSync(file, JSON.stringify(doc));
    return await checkBootstrap(doc, file, opts.source ?? '<inline>', opts);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Formats one issue as the line users see: `<source>: <path>: <message>`. */
export function formatIssue(source: string, issue: Issue): string {
  return `${source}: ${issue.path ? `${issue.path}: ` : ''}${issue.message}`;
}

type Msg = Record<string, unknown>;

async function checkBootstrap(doc: unknown, file: string, source: string, opts: ValidateOptions): Promise<ValidationReport> {
  const cwd = opts.cwd ?? process.cwd();
  const wasmFilters = findWasmFilters(doc, '', []);
  const filters = { errors: [] as Issue[], warnings: [] as Issue[], rejected: new Set<string>() };
  const [envoy] = await Promise.all([
    askEnvoy(file, cwd),
    opts.plugins === false ? undefined : checkWasmFilters(doc, wasmFilters, cwd, filters),
  ]);
  // The plugin's own line, at its path, says more than Envoy's about the same failure.
  const explained = [...filters.rejected].some((name) => envoy.error === `Unable to create Wasm plugin ${name}` || envoy.error?.startsWith(`Unable to create Wasm plugin ${name} (`));
  const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;
  const resources = field(doc, 'static_resources');
  const count = (name: string) => {
    const list = field(resources, name);
    return Array.isArray(list) ? list.length : 0;
  };
  return {
    source,
    kind: 'bootstrap',
    errors: [...(envoy.error && !explained ? [{ path: '', message: envoy.error }] : []), ...filters.errors],
    warnings: [...envoy.warnings.map((message) => ({ path: '', message })), ...edgeWarnings(doc), ...filters.warnings],
    summary: `${plural(count('listeners'), 'listener')}, ${plural(count('clusters'), 'cluster')}, ${plural(wasmFilters.length, 'wasm filter')}`,
  };
}

// ---- Envoy's verdict ----------------------------------------------------------------------

interface EnvoyVerdict {
  /** Why Envoy refused the bootstrap, in one line; undefined when it accepted it. */
  error?: string;
  warnings: string[];
}

interface LogRecord {
  level: string;
  logger: string;
  message: string;
}

const LEVELS = 'trace|debug|info|warning|error|critical';

/** Runs `envoy --mode validate -c <file>` from `cwd` and reads its verdict. */
async function askEnvoy(file: string, cwd: string): Promise<EnvoyVerdict> {
  const envoy = await ensureEnvoy();
  if (!envoy.ok) return { error: `cannot ask Envoy: ${envoy.reason}`, warnings: [] };
  const [cmd, ...prefix] = envoy.command;
  // `[level][logger] message`, one record per log call (messages may span lines).
  const args = [...prefix, '--mode', 'validate', '-c', file, '--log-level', 'warning', '--log-format', '[%l][%n] %v'];
  const run = await new Promise<{ failure: ExecFileException | null; stderr: string }>((resolve) => {
    execFile(cmd, args, { cwd, timeout: ENVOY_TIMEOUT_MS, maxBuffer: 64 << 20, encoding: 'utf8' }, (failure, _stdout, stderr) =>
      resolve({ failure, stderr }),
    );
  });
  const records: LogRecord[] = run.stderr
    .split(new RegExp(`\\n(?=\\[(?:${LEVELS})\\]\\[)`))
    .map((r) => new RegExp(`^\\[(${LEVELS})\\]\\[([^\\]]*)\\] ([\\s\\S]*)$`).exec(r.trim()))
    .filter((m) => m !== null)
    .map((m) => ({ level: m[1], logger: m[2], message: m[3] }));
  const firstCritical = records.findIndex((r) => r.level === 'critical');
  // The wasm errors just before the critical lines say why a plugin could not be created.
  let cause = firstCritical;
  while (cause > 0 && records[cause - 1].logger === 'wasm' && /^(error|warning)$/.test(records[cause - 1].level)) cause--;
  const warnings = records.filter((r, i) => r.level === 'warning' && !(i >= cause && i < firstCritical)).map((r) => oneLine(r.message));
  if (!run.failure) return { warnings };

  if (run.failure.killed) return { error: `Envoy did not finish validating within ${ENVOY_TIMEOUT_MS / 1000} s`, warnings };
  if (typeof run.failure.code === 'string') return { error: `cannot run ${cmd}: ${run.failure.message}`, warnings };
  const init = records.find((r) => r.level === 'critical' && r.message.startsWith('error initializing configuration '));
  if (!init) {
    const last = records.filter((r) => r.level === 'critical' || r.level === 'error').pop()?.message ?? run.stderr.trim().split('\n').pop();
    return { error: `Envoy exited with ${run.failure.code ?? 'a signal'}${last ? `: ${oneLine(last)}` : ''}`, warnings };
  }
  let reason = envoyReason(init.message.slice(init.message.indexOf("': ") + 3));
  if (reason.startsWith('Unable to create Wasm plugin ') && cause < firstCritical) reason += ` (${oneLine(records[cause].message)})`;
  return { error: reason, warnings };
}

/** Envoy's reason for refusing a bootstrap, in one line. */
function envoyReason(text: string): string {
  // A failed PGV rule comes after the whole message's proto dump.
  let line = /Proto constraint validation failed \(.*\)/.exec(text)?.[0] ?? text.split('\n')[0];
  // The document that did not map onto the protos follows the parenthesized reason.
  if (line.startsWith('Unable to parse JSON as proto (')) {
    let depth = 0;
    for (let i = 0; i < line.length; i++) {
      if (line[i] === '(') depth++;
      else if (line[i] === ')' && --depth === 0) {
        line = line.slice(0, i + 1);
        break;
      }
    }
  }
  // Positions are in Envoy's JSON rendering of the file, which the user never sees.
  return oneLine(line.replace(/,?\s+near\s+\d+:\d+\s+\(offset\s+\d+\)/g, ''));
}

/** The first line, with whitespace runs as one space (protobuf pads its messages at random). */
function oneLine(text: string): string {
  return text.trim().split('\n')[0].replace(/\s+/g, ' ').trim();
}

// ---- each wasm filter's configure step ----------------------------------------------------

interface WasmFilterAt {
  /** The filter's `PluginConfig` (`typed_config.config`). */
  plugin: Msg;
  /** Its path in the document. */
  path: string;
}

/** Every `envoy.extensions.filters.http.wasm.v3.Wasm` in the document, wherever it sits. */
function findWasmFilters(value: unknown, at: string, out: WasmFilterAt[]): WasmFilterAt[] {
  if (Array.isArray(value)) value.forEach((v, i) => findWasmFilters(v, joinPath(at, i), out));
  else if (value && typeof value === 'object') {
    if (typeName(field(value, '@type')) === 'envoy.extensions.filters.http.wasm.v3.Wasm') out.push({ plugin: (field(value, 'config') as Msg | undefined) ?? {}, path: joinPath(at, 'config') });
    else for (const [k, v] of Object.entries(value)) findWasmFilters(v, joinPath(at, k), out);
  }
  return out;
}

/** The message an `Any`'s type URL names (`type.googleapis.com/a.b.C` → `a.b.C`). */
function typeName(url: unknown): string | undefined {
  return typeof url === 'string' ? url.slice(url.lastIndexOf('/') + 1) : undefined;
}

/** A field by its proto name or its JSON (lowerCamel) name, as Envoy accepts both. */
function field(msg: unknown, name: string): unknown {
  if (!msg || typeof msg !== 'object') return undefined;
  const m = msg as Msg;
  return m[name] ?? m[name.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase())];
}

async function checkWasmFilters(
  doc: unknown,
  filters: WasmFilterAt[],
  cwd: string,
  out: { errors: Issue[]; warnings: Issue[]; rejected: Set<string> },
): Promise<void> {
  const clusters = new Set<string>();
  const list = field(field(doc, 'static_resources'), 'clusters');
  for (const c of Array.isArray(list) ? list : []) clusters.add(String(field(c, 'name') ?? ''));
  const node = field(doc, 'node');
  for (const { plugin, path: at } of filters) {
    const vm = field(plugin, 'vm_config');
    const code = field(vm, 'code');
    if (field(code, 'remote')) {
      out.warnings.push({ path: joinPath(joinPath(joinPath(at, 'vm_config'), 'code'), 'remote'), message: "remote code: nothing checks this filter's configuration (Envoy's validate mode does not fetch the code)" });
      continue;
    }
    const module = localCode(field(code, 'local'), cwd);
    const configuration = configurationBytes(field(plugin, 'configuration'));
    const vmConfiguration = configurationBytes(field(vm, 'configuration'));
    // Code that cannot be read and configurations that reach the plugin as serialized
    // protobuf are Envoy's to report (its configure step runs the same plugin).
    if (!module || !configuration || !vmConfiguration) continue;
    const name = String(field(plugin, 'name') ?? '');
    const rootId = String(field(plugin, 'root_id') ?? '');
    const configurationAt = joinPath(at, 'configuration');
    const jwtAuth = rootId === 'jwt-auth' ? parseJson(configuration) : undefined;
    checkFilterClusterRefs(jwtAuth, clusters, joinPath(configurationAt, 'value'), out.errors);
    checkHealthRules(jwtAuth, joinPath(configurationAt, 'value'), out.warnings);
    const result = await checkPluginConfiguration({
      name,
      rootId,
      vmId: String(field(vm, 'vm_id') ?? ''),
      module,
      configuration,
      vmConfiguration,
      environment: (field(field(vm, 'environment_variables'), 'key_values') as Record<string, string> | undefined) ?? {},
      clusters,
      node: node ? { id: String(field(node, 'id') ?? ''), cluster: String(field(node, 'cluster') ?? '') } : undefined,
    });
    if (result.status === 'rejected') {
      out.errors.push({ path: configurationAt, message: result.message });
      out.rejected.add(name);
    }
  }
}

/** `vm_config.code.local` (a filename relative to `cwd`, inline bytes or an inline string) as bytes; undefined when it cannot be read. */
function localCode(local: unknown, cwd: string): Uint8Array | undefined {
  const filename = field(local, 'filename');
  const inlineBytes = field(local, 'inline_bytes');
  const inlineString = field(local, 'inline_string');
  if (typeof inlineBytes === 'string') return Buffer.from(inlineBytes, 'base64');
  if (typeof inlineString === 'string') return Buffer.from(inlineString);
  if (typeof filename !== 'string') return undefined;
  try {
    return readFileSync(path.resolve(cwd, filename));
  } catch {
    return undefined;
  }
}

/** The bytes a plugin receives for an `Any` configuration (Envoy's wasm `anyToBytes`): StringValue/BytesValue as their value; undefined for other types. */
function configurationBytes(any: unknown): Uint8Array | undefined {
  if (any === undefined) return new Uint8Array(0);
  const type = typeName(field(any, '@type'));
  const value = field(any, 'value');
  if (type === 'google.protobuf.StringValue') return Buffer.from(typeof value === 'string' ? value : '');
  if (type === 'google.protobuf.BytesValue') return Buffer.from(typeof value === 'string' ? value : '', 'base64');
  return undefined;
}

/**
 * Clusters named inside a filter's own configuration must exist, or the filter's
 * `proxy_http_call` fails with BAD_ARGUMENT at run time (which validate mode cannot show:
 * there every call fails so): jwt-auth's `providers.<name>.remote_jwks.http_uri.cluster`
 * (filters.md).
 */
function checkFilterClusterRefs(jwtAuth: Msg | undefined, clusters: ReadonlySet<string>, at: string, errors: Issue[]): void {
  const providers = jwtAuth?.providers;
  if (!providers || typeof providers !== 'object') return;
  for (const [name, p] of Object.entries(providers as Record<string, Msg>)) {
    const cluster = ((p?.remote_jwks as Msg | undefined)?.http_uri as Msg | undefined)?.cluster;
    if (typeof cluster === 'string' && !clusters.has(cluster)) {
      errors.push({ path: at, message: `jwt-auth: providers.${name}.remote_jwks.http_uri.cluster: unknown cluster '${cluster}'` });
    }
  }
}

/** A filter's JSON configuration as an object; undefined when it is not one (the filter's configure step reports that). */
function parseJson(configuration: Uint8Array): Msg | undefined {
  try {
    const json: unknown = JSON.parse(Buffer.from(configuration).toString('utf8'));
    return json && typeof json === 'object' && !Array.isArray(json) ? (json as Msg) : undefined;
  } catch {
    return undefined;
  }
}

// ---- Envoy's edge-proxy guide ---------------------------------------------------------------

const GUIDE = "Envoy's edge-proxy guide";

/** The last path segment of a health check: `/health`, `/api/healthz`, `/ready/`... */
const HEALTH_PATH = /(^|\/)(health|healthz|healthcheck|ready|readyz|readiness|live|livez|liveness)\/?$/i;

/**
 * A jwt-auth rule (filters.md: first `match` wins) that admits requests without a token by
 * `prefix` on a health check's path also admits every path that starts the same way:
 * `/health` matches `/healthz-admin` and `/health-internal/...`. One warning per such rule.
 */
function checkHealthRules(jwtAuth: Msg | undefined, at: string, warnings: Issue[]): void {
  const rules = jwtAuth?.rules;
  if (!Array.isArray(rules)) return;
  rules.forEach((rule: Msg | null, i) => {
    const prefix = (rule?.match as Msg | undefined)?.prefix;
    if (typeof prefix !== 'string' || !HEALTH_PATH.test(prefix) || !admitsAnonymous(rule?.requires)) return;
    const example = prefix.endsWith('/') ? `${prefix}admin` : `${prefix}-admin`;
    warnings.push({ path: at, message: `jwt-auth: rules[${i}] needs no token on every path that starts with ${JSON.stringify(prefix)} (${example} too): match a health check with "path"` });
  });
}

/** Whether a jwt-auth requirement (filters.md) lets a request without a token through. */
function admitsAnonymous(requires: unknown): boolean {
  if (!requires || typeof requires !== 'object') return true; // no `requires`: no token needed
  const r = requires as Msg;
  if (r.allow_missing === true || r.allow_missing_or_failed === true) return true;
  if (Array.isArray(r.requires_any)) return r.requires_any.some(admitsAnonymous);
  if (Array.isArray(r.requires_all)) return r.requires_all.every(admitsAnonymous);
  return false;
}

const HCM_TYPE = 'envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager';

/**
 * What Envoy's "Configuring Envoy as an edge proxy" (docs: configuration/best_practices/edge)
 * sets and `envoy --mode validate` cannot ask for, one warning per missing setting, on every
 * edge listener: one whose HTTP connection manager has `use_remote_address: true`, or one
 * bound to an address that is not loopback. Settings whose Envoy default already is the
 * guide's value (`common_http_protocol_options.idle_timeout` 1 h, `stream_idle_timeout`
 * 5 min) or that the guide leaves to Envoy's bounded defaults (`max_headers_count` 100,
 * `max_request_headers_kb` 60) are not asked for; a value set on purpose (a timeout of `0s`
 * for streaming, `KEEP_UNCHANGED` escaped slashes) is the writer's choice. With an edge
 * listener, the clusters' buffer limits and the overload manager are asked for too.
 */
export function edgeWarnings(doc: unknown): Issue[] {
  const out: Issue[] = [];
  const resources = field(doc, 'static_resources');
  const listeners = field(resources, 'listeners');
  let edges = 0;
  (Array.isArray(listeners) ? listeners : []).forEach((listener: unknown, i) => {
    const at = joinPath(joinPath('static_resources', 'listeners'), i);
    const managers = connectionManagers(listener, at);
    const remote = managers.some((m) => field(m.hcm, 'use_remote_address') === true);
    if (!remote && !publicAddress(listener)) return;
    edges++;
    const name = `edge listener '${String(field(listener, 'name') ?? i)}'`;
    const warn = (path: string, what: string, guide: string) => out.push({ path, message: `${name}: ${what} (${GUIDE}: ${guide})` });
    if (field(listener, 'per_connection_buffer_limit_bytes') === undefined) warn(at, 'no per_connection_buffer_limit_bytes', '32768, 32 KiB');
    for (const { hcm, at: hcmAt } of managers) {
      const common = field(hcm, 'common_http_protocol_options');
      if (field(hcm, 'use_remote_address') !== true) warn(hcmAt, "use_remote_address is not true: the client address is read from x-forwarded-for and clients' x-envoy-* headers are kept", 'true');
      if (field(hcm, 'normalize_path') !== true) warn(hcmAt, 'normalize_path is not true: filters and routes read /health/../api as written', 'true');
      if (field(hcm, 'merge_slashes') !== true) warn(hcmAt, 'merge_slashes is not true: //api is not /api to filters and routes', 'true');
      const escaped = field(hcm, 'path_with_escaped_slashes_action');
      if (escaped === undefined || escaped === 'IMPLEMENTATION_SPECIFIC_DEFAULT') {
        warn(hcmAt, 'no path_with_escaped_slashes_action: %2F is kept, a second spelling of a path', 'REJECT_REQUEST, or UNESCAPE_AND_REDIRECT for clients that follow redirects');
      }
      const underscores = field(common, 'headers_with_underscores_action');
      if (underscores === undefined || underscores === 'ALLOW') {
        warn(hcmAt, 'common_http_protocol_options.headers_with_underscores_action allows x_user_id, which services may read as x-user-id', 'REJECT_REQUEST');
      }
      if (field(hcm, 'request_timeout') === undefined) warn(hcmAt, 'no request_timeout: a client may take forever to send a request', '300s');
      const codec = field(hcm, 'codec_type');
      if (codec === undefined || codec === 'AUTO' || codec === 'HTTP2') {
        const h2 = field(hcm, 'http2_protocol_options');
        const missing = ['max_concurrent_streams', 'initial_stream_window_size', 'initial_connection_window_size'].filter((f) => field(h2, f) === undefined);
        if (missing.length) warn(hcmAt, `http2_protocol_options without ${missing.join(', ')}`, 'max_concurrent_streams 100, initial_stream_window_size 65536, initial_connection_window_size 1048576');
      }
    }
  });
  if (!edges) return out;
  const clusters = field(resources, 'clusters');
  const unbounded = (Array.isArray(clusters) ? clusters : []).filter((c) => field(c, 'per_connection_buffer_limit_bytes') === undefined).map((c) => String(field(c, 'name')));
  if (unbounded.length) out.push({ path: 'static_resources.clusters', message: `clusters without per_connection_buffer_limit_bytes behind an edge listener: ${unbounded.join(', ')} (${GUIDE}: 32768, 32 KiB)` });
  const overload = field(doc, 'overload_manager');
  const monitors = field(overload, 'resource_monitors');
  if (overload === undefined) {
    out.push({ path: '', message: `no overload_manager behind an edge listener (${GUIDE}: a heap limit with shrink_heap and stop_accepting_requests, and envoy.resource_monitors.global_downstream_max_connections)` });
  } else if (!(Array.isArray(monitors) && monitors.some((m) => field(m, 'name') === 'envoy.resource_monitors.global_downstream_max_connections'))) {
    out.push({ path: 'overload_manager', message: `no envoy.resource_monitors.global_downstream_max_connections: nothing limits downstream connections (${GUIDE})` });
  }
  return out;
}

/** The HTTP connection managers of a listener's filter chains (and default chain), with their paths. */
function connectionManagers(listener: unknown, at: string): Array<{ hcm: unknown; at: string }> {
  const out: Array<{ hcm: unknown; at: string }> = [];
  const chains = field(listener, 'filter_chains');
  const all: Array<[unknown, string]> = (Array.isArray(chains) ? chains : []).map((c, j) => [c, joinPath(joinPath(at, 'filter_chains'), j)]);
  const fallback = field(listener, 'default_filter_chain');
  if (fallback) all.push([fallback, joinPath(at, 'default_filter_chain')]);
  for (const [chain, chainAt] of all) {
    const filters = field(chain, 'filters');
    (Array.isArray(filters) ? filters : []).forEach((f, k) => {
      const config = field(f, 'typed_config');
      if (typeName(field(config, '@type')) === HCM_TYPE) out.push({ hcm: config, at: joinPath(joinPath(joinPath(chainAt, 'filters'), k), 'typed_config') });
    });
  }
  return out;
}

/** Whether a listener's socket address is reachable from other hosts (anything but 127.0.0.0/8, ::1, localhost). */
function publicAddress(listener: unknown): boolean {
  const address = field(field(field(listener, 'address'), 'socket_address'), 'address');
  if (typeof address !== 'string') return false; // a pipe or an internal listener
  const a = address.replace(/^\[|\]$/g, '').toLowerCase();
  return !(a === 'localhost' || a === '::1' || /^(::ffff:)?127\./.test(a));
}
