/**
 * `mesh-filters validate`: checks an Envoy v3 bootstrap (or an Istio `WasmPlugin` manifest)
 * the way Envoy checks it when it starts, in three passes:
 *
 * 1. Envoy's API: the document against `envoy.config.bootstrap.v3.Bootstrap` under the
 *    proto3 JSON mapping, `Any` types resolved, PGV rules (proto-json.ts, schema.ts).
 * 2. What Envoy checks on static config beyond the protos (each check names its Envoy source):
 *    unique names, routes to known clusters, the router last, IP addresses where Envoy
 *    needs them, wasm runtimes and code that can be loaded.
 * 3. Each wasm filter's configuration through the filter's own configure step on the
 *    project's proxy-wasm host (plugins.ts): a rejected configuration fails with the
 *    plugin's own error line.
 *
 * Every problem is one line: `<path>: <reason>`, the path as written in the file.
 */
import { readFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { ConfigError, readConfigDocuments } from './config-file.ts';
import { checkIstioWasmPlugin, isIstioWasmPlugin } from './istio.ts';
import { checkPluginConfiguration, type PluginUnderTest } from './plugins.ts';
import { checkMessage, joinPath, typeNameOfUrl, type CheckContext, type Issue } from './proto-json.ts';
import { loadEnvoySchema } from './schema.ts';

export { ConfigError } from './config-file.ts';
export type { Issue } from './proto-json.ts';

export interface ValidateOptions {
  /** Directory that relative paths in the config (`code.local.filename`) are resolved from; default `process.cwd()`, as Envoy does. */
  cwd?: string;
  /** Run each wasm filter's configure step (default true). */
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

const BOOTSTRAP = 'envoy.config.bootstrap.v3.Bootstrap';
const WASM_FILTER = 'envoy.extensions.filters.http.wasm.v3.Wasm';
const ROUTER = 'envoy.extensions.filters.http.router.v3.Router';

/** Wasm runtimes Envoy can be built with (source/extensions/wasm_runtime/); release builds ship V8 only. */
const WASM_RUNTIMES = ['envoy.wasm.runtime.v8', 'envoy.wasm.runtime.wamr', 'envoy.wasm.runtime.wasmtime', 'envoy.wasm.runtime.null'];

/** Validates every document of `file` (a bootstrap, or Istio WasmPlugin manifests). Throws ConfigError when the file cannot be read or parsed. */
export async function validateFile(file: string, opts: ValidateOptions = {}): Promise<ValidationReport[]> {
  const docs = readConfigDocuments(file);
  const reports: ValidationReport[] = [];
  for (const [i, doc] of docs.entries()) {
    const source = docs.length > 1 ? `${file}#${i + 1}` : file;
    if (isIstioWasmPlugin(doc)) reports.push(await checkIstioWasmPlugin(doc, source, opts));
    else if (docs.length > 1) throw new ConfigError(`${source}: an Envoy bootstrap must be the only document of its file`);
    else reports.push(await validateBootstrap(doc, { ...opts, source }));
  }
  return reports;
}

/** Validates a parsed bootstrap. */
export async function validateBootstrap(doc: unknown, opts: ValidateOptions & { source?: string } = {}): Promise<ValidationReport> {
  const source = opts.source ?? '<inline>';
  const found = collectFromApiCheck(doc);
  const { errors, warnings } = found.ctx;
  checkStaticConfig(found, errors);
  const wasmCount = found.wasm.length;
  if (opts.plugins !== false && !errors.length) {
    for (const w of found.wasm) await checkWasmFilter(w, found, opts.cwd ?? process.cwd(), errors, warnings);
  } else {
    // Still report unreadable code without running plugins (cheap, and what Envoy fails on first).
    for (const w of found.wasm) loadCode(w, opts.cwd ?? process.cwd(), errors, warnings);
  }
  const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;
  return {
    source,
    kind: 'bootstrap',
    errors,
    warnings,
    summary: `${plural(found.listeners.length, 'listener')}, ${plural(found.clusters.length, 'cluster')}, ${plural(wasmCount, 'wasm filter')}`,
  };
}

// ---- pass 1: the API, collecting what pass 2 needs ----------------------------------------

type Msg = Record<string, unknown>;
interface Found<T = Msg> {
  value: T;
  path: string;
}
interface Collected {
  ctx: CheckContext;
  listeners: Found[];
  clusters: Found[];
  routeConfigs: Found[];
  routeActions: Found[];
  hcms: Found[];
  wasm: Found[];
  /** The bootstrap's `node` (for the plugins' `node.*` properties). */
  node?: { id: string; cluster: string };
}

function collectFromApiCheck(doc: unknown): Collected {
  const c: Collected = {
    ctx: { schema: loadEnvoySchema(), errors: [], warnings: [] },
    listeners: [],
    clusters: [],
    routeConfigs: [],
    routeActions: [],
    hcms: [],
    wasm: [],
  };
  c.ctx.onMessage = (type, value, p) => {
    const item = { value, path: p };
    if (type === 'envoy.config.listener.v3.Listener') c.listeners.push(item);
    else if (type === 'envoy.config.cluster.v3.Cluster') c.clusters.push(item);
    else if (type === 'envoy.config.route.v3.RouteConfiguration') c.routeConfigs.push(item);
    else if (type === 'envoy.config.route.v3.RouteAction') c.routeActions.push(item);
    else if (type === 'envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager') c.hcms.push(item);
    else if (type === WASM_FILTER) c.wasm.push(item);
    else if (type === 'envoy.config.core.v3.Node' && p === 'node') c.node = { id: String(value.id ?? ''), cluster: String(value.cluster ?? '') };
  };
  checkMessage(c.ctx, BOOTSTRAP, doc, '');
  // Only static_resources are served; dynamic ones would come from a control plane.
  return c;
}

// ---- pass 2: Envoy's checks on static config ----------------------------------------------

function checkStaticConfig(c: Collected, errors: Issue[]): void {
  const clusterNames = new Set<string>();
  for (const { value, path: p } of c.clusters) {
    const name = String(value.name ?? '');
    // source/common/upstream/cluster_manager_impl.cc: "cluster manager: duplicate cluster '{}'"
    if (clusterNames.has(name)) errors.push({ path: joinPath(p, 'name'), message: `duplicate cluster '${name}'` });
    clusterNames.add(name);
    checkClusterEndpoints(value, p, errors);
  }

  const listenerNames = new Set<string>();
  const listenerAddresses = new Map<string, string>();
  for (const { value, path: p } of c.listeners) {
    const name = String(value.name ?? '');
    // source/common/listener_manager/listener_manager_impl.cc: listener names are unique.
    if (name && listenerNames.has(name)) errors.push({ path: joinPath(p, 'name'), message: `duplicate listener '${name}'` });
    listenerNames.add(name);
    const sock = socketAddress(value.address);
    if (sock) {
      checkIp(sock.address, sock.resolver, joinPath(joinPath(joinPath(p, 'address'), 'socket_address'), 'address'), errors, false);
      const key = `${sock.address}:${sock.port}`;
      const other = listenerAddresses.get(key);
      if (other !== undefined && sock.port !== 0) {
        errors.push({ path: joinPath(p, 'address'), message: `listener '${name}' has the same address ${key} as listener '${other}'` });
      }
      listenerAddresses.set(key, name);
    }
  }

  // Route configurations: unique virtual host names and domains (source/common/router/config_impl.cc).
  const unchecked: string[] = [];
  for (const { value, path: p } of c.routeConfigs) {
    if (value.validate_clusters === false) unchecked.push(p);
    const vhostNames = new Set<string>();
    const domains = new Map<string, string>();
    for (const [i, vh] of ((value.virtual_hosts as Msg[] | undefined) ?? []).entries()) {
      if (!vh) continue;
      const vp = joinPath(joinPath(p, 'virtual_hosts'), i);
      const vname = String(vh.name ?? '');
      if (vhostNames.has(vname)) errors.push({ path: joinPath(vp, 'name'), message: `duplicate virtual host '${vname}' (names must be unique in a route configuration)` });
      vhostNames.add(vname);
      for (const [j, d] of ((vh.domains as string[] | undefined) ?? []).entries()) {
        const prev = domains.get(String(d).toLowerCase());
        if (prev !== undefined) {
          errors.push({ path: joinPath(joinPath(vp, 'domains'), j), message: `duplicate domain '${d}' (already in virtual host '${prev}')` });
        }
        domains.set(String(d).toLowerCase(), vname);
      }
    }
  }

  // Routes to unknown clusters: RouteConfiguration.validate_clusters defaults to true for
  // static route tables (config_impl.cc, "route: unknown cluster '{}'").
  for (const { value, path: p } of c.routeActions) {
    if (unchecked.some((u) => p.startsWith(u))) continue;
    const refs: Array<[string, unknown]> = [[joinPath(p, 'cluster'), value.cluster]];
    for (const [i, wc] of (((value.weighted_clusters as Msg | undefined)?.clusters as Msg[] | undefined) ?? []).entries()) {
      refs.push([joinPath(joinPath(joinPath(p, 'weighted_clusters'), 'clusters'), i) + '.name', wc?.name]);
    }
    for (const [i, m] of ((value.request_mirror_policies as Msg[] | undefined) ?? []).entries()) {
      refs.push([joinPath(joinPath(p, 'request_mirror_policies'), i) + '.cluster', m?.cluster]);
    }
    for (const [at, name] of refs) {
      if (typeof name === 'string' && name && !clusterNames.has(name)) {
        errors.push({ path: at, message: `unknown cluster '${name}'${nearest(name, clusterNames)}` });
      }
    }
  }

  // HTTP filter chains: the router (a terminal filter) must be last, and only it
  // (source/extensions/filters/network/http_connection_manager/config.cc via
  // Config::Utility::validateTerminalFilters).
  for (const { value, path: p } of c.hcms) {
    const filters = (value.http_filters as Msg[] | undefined) ?? [];
    filters.forEach((f, i) => {
      if (!f) return;
      const fp = joinPath(joinPath(p, 'http_filters'), i);
      const type = typeUrlName(f.typed_config);
      if (!('typed_config' in f) && !f.config_discovery && f.is_optional !== true) {
        errors.push({ path: fp, message: `http filter '${String(f.name ?? '')}' has no typed_config` });
      }
      const last = i === filters.length - 1;
      if (type === ROUTER && !last) errors.push({ path: fp, message: `terminal filter '${String(f.name)}' (router) must be the last filter in the http filter chain` });
      if (last && type && type !== ROUTER) errors.push({ path: fp, message: `non-terminal filter '${String(f.name)}' is the last filter in the http filter chain (add envoy.filters.http.router)` });
    });
    if (!filters.length) errors.push({ path: joinPath(p, 'http_filters'), message: 'no http filters: Envoy needs at least envoy.filters.http.router' });
  }
}

/** The message type an Any holds, seeing through TypedStruct (`type_url`). */
function typeUrlName(any: unknown): string | undefined {
  const url = (any as Msg | undefined)?.['@type'];
  if (typeof url !== 'string') return undefined;
  const name = typeNameOfUrl(url);
  const inner = (any as Msg).type_url;
  if ((name === 'xds.type.v3.TypedStruct' || name === 'udpa.type.v1.TypedStruct') && typeof inner === 'string') return typeNameOfUrl(inner);
  return name;
}

function socketAddress(address: unknown): { address: string; port: number; resolver?: string } | undefined {
  const sock = (address as Msg | undefined)?.socket_address as Msg | undefined;
  if (!sock) return undefined;
  return {
    address: String(sock.address ?? ''),
    port: Number(sock.port_value ?? 0),
    resolver: typeof sock.resolver_name === 'string' && sock.resolver_name ? sock.resolver_name : undefined,
  };
}

/** Envoy parses listener and STATIC endpoint addresses as IPs (source/common/network/utility.cc: "malformed IP address"). */
function checkIp(address: string, resolver: string | undefined, at: string, errors: Issue[], inCluster: boolean): void {
  if (resolver || net.isIP(address)) return;
  const hint = inCluster ? ". Consider setting resolver_name or setting cluster type to 'STRICT_DNS' or 'LOGICAL_DNS'" : ' (a listener binds an IP address)';
  errors.push({ path: at, message: `malformed IP address: ${address}${hint}` });
}

function checkClusterEndpoints(cluster: Msg, p: string, errors: Issue[]): void {
  const type = cluster.type ?? 'STATIC';
  const la = cluster.load_assignment as Msg | undefined;
  const localities = (la?.endpoints as Msg[] | undefined) ?? [];
  const endpoints: Array<{ sock: ReturnType<typeof socketAddress>; at: string }> = [];
  localities.forEach((loc, i) => {
    ((loc?.lb_endpoints as Msg[] | undefined) ?? []).forEach((lb, j) => {
      const at = `${joinPath(joinPath(joinPath(p, 'load_assignment'), 'endpoints'), i)}.lb_endpoints[${j}].endpoint.address.socket_address.address`;
      endpoints.push({ sock: socketAddress((lb?.endpoint as Msg | undefined)?.address), at });
    });
  });
  if (type === 'STATIC' || type === 0) {
    // source/extensions/clusters/static/static_cluster.cc resolves each endpoint as an IP.
    for (const e of endpoints) if (e.sock) checkIp(e.sock.address, e.sock.resolver, e.at, errors, true);
  }
  if ((type === 'LOGICAL_DNS' || type === 2) && (localities.length !== 1 || endpoints.length !== 1)) {
    // source/extensions/clusters/logical_dns/logical_dns_cluster.cc
    errors.push({ path: joinPath(p, 'load_assignment'), message: 'LOGICAL_DNS clusters must have a single locality_lb_endpoint and a single lb_endpoint' });
  }
}

function nearest(name: string, names: Set<string>): string {
  const lower = name.toLowerCase();
  for (const n of names) if (n.toLowerCase() === lower || n.replace(/[-_]/g, '') === name.replace(/[-_]/g, '')) return ` (did you mean '${n}'?)`;
  return '';
}

// ---- pass 3: wasm filters -----------------------------------------------------------------

interface LoadedCode {
  bytes: Uint8Array;
  plugin: Msg;
  vm: Msg;
}

/** Reads `vm_config.code` as Envoy's wasm extension does (local filename, inline bytes or string). */
function loadCode(w: Found, cwd: string, errors: Issue[], warnings: Issue[]): LoadedCode | undefined {
  const plugin = (w.value.config as Msg | undefined) ?? {};
  const pp = joinPath(w.path, 'config');
  const vm = plugin.vm_config as Msg | undefined;
  if (!vm) {
    errors.push({ path: pp, message: 'vm_config is required (Envoy has no other way to find the VM)' });
    return undefined;
  }
  const vp = joinPath(pp, 'vm_config');
  const runtime = String(vm.runtime ?? '');
  if (!WASM_RUNTIMES.includes(runtime)) {
    errors.push({ path: joinPath(vp, 'runtime'), message: `unknown wasm runtime '${runtime}' (use envoy.wasm.runtime.v8)` });
  } else if (runtime !== 'envoy.wasm.runtime.v8') {
    warnings.push({ path: joinPath(vp, 'runtime'), message: `${runtime} is not in Envoy's release builds, which ship envoy.wasm.runtime.v8` });
  }
  const code = (vm.code as Msg | undefined) ?? {};
  const local = code.local as Msg | undefined;
  if (code.remote) {
    warnings.push({ path: joinPath(joinPath(vp, 'code'), 'remote'), message: 'remote code is fetched by Envoy at start; not checked here' });
    return undefined;
  }
  if (!local) {
    errors.push({ path: joinPath(vp, 'code'), message: 'no code: set code.local.filename (or inline_bytes)' });
    return undefined;
  }
  const lp = joinPath(joinPath(vp, 'code'), 'local');
  let bytes: Uint8Array;
  if (typeof local.filename === 'string') {
    const file = path.resolve(cwd, local.filename);
    try {
      bytes = readFileSync(file);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      const hint = code === 'ENOENT' && /(^|\/)build\//.test(local.filename) ? ' (run `mesh-filters build` first)' : '';
      errors.push({ path: joinPath(lp, 'filename'), message: `cannot read wasm code ${local.filename} from ${cwd}: ${code ?? 'error'}${hint}` });
      return undefined;
    }
  } else if (typeof local.inline_bytes === 'string') {
    bytes = Buffer.from(local.inline_bytes, 'base64');
  } else if (typeof local.inline_string === 'string') {
    bytes = Buffer.from(local.inline_string);
  } else {
    errors.push({ path: lp, message: 'no code: set filename, inline_bytes or inline_string' });
    return undefined;
  }
  if (!WebAssembly.validate(bytes as Uint8Array<ArrayBuffer>)) {
    errors.push({ path: lp, message: `not a valid WebAssembly module (${bytes.length} bytes)` });
    return undefined;
  }
  return { bytes, plugin, vm };
}

/** The bytes a plugin receives for an `Any` configuration (Envoy's wasm `anyToBytes`): StringValue/BytesValue as their value. */
function configurationBytes(any: unknown, at: string, errors: Issue[]): Uint8Array | undefined {
  if (any === undefined) return new Uint8Array(0);
  const type = typeUrlName(any);
  const value = (any as Msg).value;
  if (type === 'google.protobuf.StringValue') return Buffer.from(typeof value === 'string' ? value : '');
  if (type === 'google.protobuf.BytesValue') return Buffer.from(typeof value === 'string' ? value : '', 'base64');
  errors.push({
    path: joinPath(at, '@type'),
    message: `a ${type} configuration reaches the plugin as serialized protobuf; mesh-filters filters read JSON from a google.protobuf.StringValue`,
  });
  return undefined;
}

async function checkWasmFilter(w: Found, c: Collected, cwd: string, errors: Issue[], warnings: Issue[]): Promise<void> {
  const code = loadCode(w, cwd, errors, warnings);
  if (!code) return;
  const pp = joinPath(w.path, 'config');
  const configuration = configurationBytes(code.plugin.configuration, joinPath(pp, 'configuration'), errors);
  const vmConfiguration = configurationBytes(code.vm.configuration, joinPath(joinPath(pp, 'vm_config'), 'configuration'), errors);
  if (!configuration || !vmConfiguration) return;
  const rootId = String(code.plugin.root_id ?? '');
  checkFilterClusterRefs(rootId, configuration, c, joinPath(joinPath(pp, 'configuration'), 'value'), errors);
  const env = ((code.vm.environment_variables as Msg | undefined)?.key_values as Record<string, string> | undefined) ?? {};
  const plugin: PluginUnderTest = {
    name: String(code.plugin.name ?? ''),
    rootId,
    vmId: String(code.vm.vm_id ?? ''),
    module: code.bytes,
    configuration,
    vmConfiguration,
    environment: env,
    clusters: new Set(c.clusters.map((x) => String(x.value.name ?? ''))),
    node: c.node,
  };
  const result = await checkPluginConfiguration(plugin);
  if (result.status === 'rejected') errors.push({ path: joinPath(pp, 'configuration'), message: result.message });
}

/**
 * Clusters named inside a filter's own configuration must exist, or the filter's
 * `proxy_http_call` fails with BAD_ARGUMENT at run time: jwt-auth's
 * `providers.<name>.remote_jwks.http_uri.cluster` (filters.md).
 */
function checkFilterClusterRefs(rootId: string, configuration: Uint8Array, c: Collected, at: string, errors: Issue[]): void {
  if (rootId !== 'jwt-auth') return;
  let json: unknown;
  try {
    json = JSON.parse(Buffer.from(configuration).toString('utf8'));
  } catch {
    return; // the filter's configure step reports it
  }
  const clusters = new Set(c.clusters.map((x) => String(x.value.name ?? '')));
  const providers = (json as Msg | null)?.providers;
  if (!providers || typeof providers !== 'object') return;
  for (const [name, p] of Object.entries(providers as Record<string, Msg>)) {
    const cluster = ((p?.remote_jwks as Msg | undefined)?.http_uri as Msg | undefined)?.cluster;
    if (typeof cluster === 'string' && !clusters.has(cluster)) {
      errors.push({ path: at, message: `jwt-auth: providers.${name}.remote_jwks.http_uri.cluster: unknown cluster '${cluster}'` });
    }
  }
}

/** Formats one issue as the line users see: `<source>: <path>: <message>`. */
export function formatIssue(source: string, issue: Issue): string {
  return `${source}: ${issue.path ? `${issue.path}: ` : ''}${issue.message}`;
}
