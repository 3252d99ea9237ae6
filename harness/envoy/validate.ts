/**
 * `mesh-filters validate`: checks an Envoy v3 bootstrap by asking Envoy, and an Istio
 * `WasmPlugin` manifest with istio.ts. A bootstrap is checked twice over, at once:
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
import { checkIstioWasmPlugin, isIstioWasmPlugin } from './istio.ts';
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
  kind: 'bootstrap' | 'istio-wasm-plugin';
  errors: Issue[];
  warnings: Issue[];
  /** What was checked, e.g. `1 listener, 7 clusters, 0 wasm filters`. */
  summary: string;
}

/** How long `envoy --mode validate` may take (it compiles every wasm module), in ms. */
const ENVOY_TIMEOUT_MS = 120_000;

/** Validates every document of `file` (a bootstrap, or Istio WasmPlugin manifests). Throws ConfigError when the file cannot be read or parsed. */
export async function validateFile(file: string, opts: ValidateOptions = {}): Promise<ValidationReport[]> {
  const docs = readConfigDocuments(file);
  const reports: ValidationReport[] = [];
  for (const [i, doc] of docs.entries()) {
    const source = docs.length > 1 ? `${file}#${i + 1}` : file;
    if (isIstioWasmPlugin(doc)) reports.push(await checkIstioWasmPlugin(doc, source, opts));
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
    warnings: [...envoy.warnings.map((message) => ({ path: '', message })), ...filters.warnings],
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
    checkFilterClusterRefs(rootId, configuration, clusters, joinPath(configurationAt, 'value'), out.errors);
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
function checkFilterClusterRefs(rootId: string, configuration: Uint8Array, clusters: ReadonlySet<string>, at: string, errors: Issue[]): void {
  if (rootId !== 'jwt-auth') return;
  let json: unknown;
  try {
    json = JSON.parse(Buffer.from(configuration).toString('utf8'));
  } catch {
    return; // the filter's configure step reports it
  }
  const providers = (json as Msg | null)?.providers;
  if (!providers || typeof providers !== 'object') return;
  for (const [name, p] of Object.entries(providers as Record<string, Msg>)) {
    const cluster = ((p?.remote_jwks as Msg | undefined)?.http_uri as Msg | undefined)?.cluster;
    if (typeof cluster === 'string' && !clusters.has(cluster)) {
      errors.push({ path: at, message: `jwt-auth: providers.${name}.remote_jwks.http_uri.cluster: unknown cluster '${cluster}'` });
    }
  }
}
