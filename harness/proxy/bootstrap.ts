/**
 * Reads an Envoy v3 bootstrap (YAML or JSON, the proto3 JSON mapping Envoy uses) into
 * the typed model the embedded data plane serves. Only what the data plane implements
 * is read; every other field that would change behaviour on real Envoy produces one
 * warning naming its path, never silence. A bad value throws `ProxyConfigError` with
 * one line that names the path (`...routes[2].route.cluster: unknown cluster 'x'`).
 *
 * Field meanings and defaults follow Envoy's API (envoy/config/bootstrap/v3,
 * envoy/config/listener/v3, envoy/extensions/filters/network/http_connection_manager/v3,
 * envoy/config/route/v3, envoy/config/cluster/v3, envoy/extensions/filters/http/wasm/v3)
 * and source/common/router/config_impl.cc.
 */
import { readFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { parseRetryGrpcOn, parseRetryOn } from './retry-state.ts';

/** A configuration error: one line, starting with the path of the offending field. */
export class ProxyConfigError extends Error {
  override name = 'ProxyConfigError';
}

export interface SocketAddress {
  host: string;
  port: number;
}

export interface BootstrapConfig {
  /** Where it came from (file path, or `<inline>`), for messages. */
  source: string;
  node: { id: string; cluster: string };
  admin?: { address: SocketAddress };
  listeners: ListenerConfig[];
  clusters: Map<string, ClusterConfig>;
  /** One line per field the data plane ignores although it changes behaviour on Envoy. */
  warnings: string[];
}

export interface ListenerConfig {
  name: string;
  address: SocketAddress;
  /** `per_connection_buffer_limit_bytes` (default 1 MiB): the filter manager's buffer limit. */
  bufferLimitBytes: number;
  hcm: HttpConnectionManagerConfig;
}

export type CodecType = 'AUTO' | 'HTTP1' | 'HTTP2';

export interface HttpConnectionManagerConfig {
  statPrefix: string;
  codecType: CodecType;
  routeConfig: RouteConfiguration;
  httpFilters: HttpFilterConfig[];
  useRemoteAddress: boolean;
  xffNumTrustedHops: number;
  skipXffAppend: boolean;
  /** `internal_address_config.cidr_ranges`; empty means no address is internal (Envoy ≥ 1.36). */
  internalAddressCidrs: Cidr[];
  generateRequestId: boolean;
  /** `preserve_external_request_id`: keep an edge request's `x-request-id`. */
  preserveExternalRequestId: boolean;
  serverName: string;
  serverHeaderTransformation: 'OVERWRITE' | 'APPEND_IF_ABSENT' | 'PASS_THROUGH';
}

export interface Cidr {
  /** 4 or 6. */
  family: 4 | 6;
  address: string;
  prefixLen: number;
}

export interface RouteConfiguration {
  name: string;
  virtualHosts: VirtualHostConfig[];
  ignorePortInHostMatching: boolean;
}

export interface VirtualHostConfig {
  name: string;
  /** Lower-cased `domains`. */
  domains: string[];
  routes: RouteConfig[];
  includeRequestAttemptCount: boolean;
  includeAttemptCountInResponse: boolean;
  /** Virtual-host-level `retry_policy`, used by routes without their own. */
  retryPolicy?: RetryPolicyConfig;
}

export interface HeaderMatcherConfig {
  name: string;
  /** Absent with `present` = match on presence only. */
  exact?: string;
  prefix?: string;
  suffix?: string;
  contains?: string;
  regex?: RegExp;
  present?: boolean;
  ignoreCase: boolean;
  invert: boolean;
}

export interface RouteMatchConfig {
  prefix?: string;
  path?: string;
  safeRegex?: RegExp;
  caseSensitive: boolean;
  headers: HeaderMatcherConfig[];
  /** `grpc: {}`: only requests with `content-type: application/grpc*`. */
  grpc: boolean;
}

export interface RetryPolicyConfig {
  /** `RETRY_ON_*` bits (retry-state.ts), from `retry_on` (HTTP and gRPC conditions). */
  retryOn: number;
  /** `num_retries`, default 1 (config_impl.cc `RetryPolicyImpl`). */
  numRetries: number;
  /** 0 = none. */
  perTryTimeoutMs: number;
  retriableStatusCodes: number[];
  /** `retry_back_off`; default 25 ms base, 10 × base cap (retry_state_impl.cc). */
  baseIntervalMs?: number;
  maxIntervalMs?: number;
}

export interface RouteActionConfig {
  kind: 'route';
  cluster: string;
  /** Route `timeout`, default 15 s; 0 disables. Covers all attempts (router.cc). */
  timeoutMs: number;
  retryPolicy?: RetryPolicyConfig;
  prefixRewrite?: string;
  hostRewriteLiteral?: string;
}

export interface DirectResponseConfig {
  kind: 'direct_response';
  status: number;
  body: string;
}

export interface RouteConfig {
  /** Route `name` ('' when unnamed, as Envoy's `routeName()`). */
  name: string;
  match: RouteMatchConfig;
  action: RouteActionConfig | DirectResponseConfig;
}

export type FailurePolicy = 'FAIL_CLOSED' | 'FAIL_OPEN' | 'FAIL_RELOAD';

/** `envoy.extensions.wasm.v3.PluginConfig` as the host needs it. */
export interface WasmPluginConfig {
  name: string;
  rootId: string;
  vmId: string;
  runtime: string;
  /** Absolute path of `code.local.filename`, when the code came from a file. */
  codePath?: string;
  code: Uint8Array;
  /** Plugin `configuration` (StringValue/BytesValue) bytes; empty when absent. */
  pluginConfiguration: Uint8Array;
  /** `vm_config.configuration` bytes; empty when absent. */
  vmConfiguration: Uint8Array;
  environmentVariables: Record<string, string>;
  failurePolicy: FailurePolicy;
  /** `reload_config.backoff.base_interval` in ms (FAIL_RELOAD's first delay). */
  reloadBaseIntervalMs?: number;
  /** `allow_on_headers_stop_iteration`: StopIteration from a headers callback is passed on, not turned into StopAllIterationAndWatermark. */
  allowOnHeadersStopIteration?: boolean;
}

export type HttpFilterConfig =
  | { kind: 'wasm'; name: string; plugin: WasmPluginConfig }
  | { kind: 'router'; name: string }
  /**
   * A TypeScript filter for tests: `typed_config` is an `xds.type.v3.TypedStruct` with
   * `type_url: type.googleapis.com/mesh.test.NativeFilter` and `value: { module, export,
   * config }`; the worker imports `module` and calls `export(config)` to get an
   * `HttpFilterFactory`. Real Envoy rejects it, so only test bootstraps use it.
   */
  | { kind: 'native'; name: string; module: string; exportName: string; config: unknown };

export interface ClusterConfig {
  name: string;
  type: 'STATIC' | 'STRICT_DNS' | 'LOGICAL_DNS';
  connectTimeoutMs: number;
  lbPolicy: 'ROUND_ROBIN';
  endpoints: SocketAddress[];
  /** Upstream protocol: explicit HTTP/2, HTTP/1.1, or the downstream's. */
  protocol: 'HTTP1' | 'HTTP2' | 'DOWNSTREAM';
  /** `circuit_breakers.thresholds[default].max_retries`, default 3. */
  maxRetries: number;
}

export const NATIVE_FILTER_TYPE = 'type.googleapis.com/mesh.test.NativeFilter';
const T = {
  hcm: 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
  wasm: 'type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm',
  router: 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router',
  typedStruct: ['type.googleapis.com/xds.type.v3.TypedStruct', 'type.googleapis.com/udpa.type.v1.TypedStruct'],
  stringValue: 'type.googleapis.com/google.protobuf.StringValue',
  bytesValue: 'type.googleapis.com/google.protobuf.BytesValue',
  httpProtocolOptions: 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions',
};
const HTTP_PROTOCOL_OPTIONS_KEY = 'envoy.extensions.upstreams.http.v3.HttpProtocolOptions';

/** Fields that change nothing the data plane serves (names, logs, tracing, stats knobs). */
const HARMLESS = new Set(['access_log', 'stats_config', 'stats_sinks', 'tracing', 'layered_runtime', 'overload_manager', 'stats_flush_interval', 'cluster_manager', 'dynamic_resources', 'watchdogs', 'profile_path', 'header_prefix']);

/** A YAML object with its path; fields read are marked, `finish()` warns about the rest. */
class Node {
  private readonly seen = new Set<string>();
  constructor(
    readonly value: Record<string, unknown>,
    readonly path: string,
    private readonly ctx: ParseContext,
  ) {}

  static of(v: unknown, p: string, ctx: ParseContext): Node {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new ProxyConfigError(`${p}: expected an object`);
    return new Node(v as Record<string, unknown>, p, ctx);
  }

  at(key: string): string {
    return this.path ? `${this.path}.${key}` : key;
  }

  has(key: string): boolean {
    return this.value[key] !== undefined && this.value[key] !== null;
  }

  raw(key: string): unknown {
    this.seen.add(key);
    return this.value[key];
  }

  obj(key: string): Node | undefined {
    const v = this.raw(key);
    return v === undefined || v === null ? undefined : Node.of(v, this.at(key), this.ctx);
  }

  reqObj(key: string): Node {
    const n = this.obj(key);
    if (!n) throw new ProxyConfigError(`${this.at(key)}: required`);
    return n;
  }

  list(key: string): Node[] {
    const v = this.raw(key);
    if (v === undefined || v === null) return [];
    if (!Array.isArray(v)) throw new ProxyConfigError(`${this.at(key)}: expected a list`);
    return v.map((e, i) => Node.of(e, `${this.at(key)}[${i}]`, this.ctx));
  }

  str(key: string, dflt?: string): string | undefined {
    const v = this.raw(key);
    if (v === undefined || v === null) return dflt;
    if (typeof v !== 'string') throw new ProxyConfigError(`${this.at(key)}: expected a string`);
    return v;
  }

  reqStr(key: string): string {
    const s = this.str(key);
    if (s === undefined || s === '') throw new ProxyConfigError(`${this.at(key)}: required`);
    return s;
  }

  bool(key: string, dflt = false): boolean {
    let v = this.raw(key);
    if (v && typeof v === 'object' && 'value' in (v as object)) v = (v as { value: unknown }).value; // BoolValue
    if (v === undefined || v === null) return dflt;
    if (typeof v !== 'boolean') throw new ProxyConfigError(`${this.at(key)}: expected true or false`);
    return v;
  }

  /** Integer field, also accepting wrappers (`{ value: n }`) and numeric strings (uint64 in proto3 JSON). */
  int(key: string, dflt: number, min = 0, max = Number.MAX_SAFE_INTEGER): number {
    let v = this.raw(key);
    if (v && typeof v === 'object' && 'value' in (v as object)) v = (v as { value: unknown }).value;
    if (v === undefined || v === null) return dflt;
    const n = typeof v === 'string' && /^-?\d+$/.test(v) ? Number(v) : v;
    if (typeof n !== 'number' || !Number.isInteger(n) || n < min || n > max) {
      throw new ProxyConfigError(`${this.at(key)}: expected an integer in [${min}, ${max}]`);
    }
    return n;
  }

  /** google.protobuf.Duration as milliseconds (`"0.25s"` or `{ seconds, nanos }`). */
  durationMs(key: string): number | undefined {
    const v = this.raw(key);
    if (v === undefined || v === null) return undefined;
    return parseDurationMs(v, this.at(key));
  }

  /** Warns about fields not read: each changes behaviour on Envoy but not here. */
  finish(): void {
    for (const k of Object.keys(this.value)) {
      if (this.seen.has(k) || k === '@type' || HARMLESS.has(k)) continue;
      if (this.value[k] === undefined || this.value[k] === null) continue;
      this.ctx.warn(`${this.at(k)}: not implemented by the embedded data plane; ignored`);
    }
  }
}

interface ParseContext {
  baseDir: string;
  warn(line: string): void;
}

/** Parses a proto3-JSON Duration (`"1.5s"`, `"0s"`) or `{ seconds, nanos }` into ms. */
export function parseDurationMs(v: unknown, at: string): number {
  if (typeof v === 'string') {
    const m = /^(-?)(\d+)(?:\.(\d{1,9}))?s$/.exec(v);
    if (!m || m[1] === '-') throw new ProxyConfigError(`${at}: expected a duration like "0.25s", got ${JSON.stringify(v)}`);
    const nanos = Number((m[3] ?? '').padEnd(9, '0') || '0');
    return Number(m[2]) * 1000 + nanos / 1e6;
  }
  if (v && typeof v === 'object') {
    const o = v as { seconds?: unknown; nanos?: unknown };
    const s = Number(o.seconds ?? 0);
    const n = Number(o.nanos ?? 0);
    if (Number.isFinite(s) && Number.isFinite(n) && s >= 0 && n >= 0) return s * 1000 + n / 1e6;
  }
  throw new ProxyConfigError(`${at}: expected a duration like "0.25s"`);
}

function socketAddress(n: Node): SocketAddress {
  const sa = n.reqObj('socket_address');
  const host = sa.reqStr('address');
  const port = sa.int('port_value', -1, 0, 65535);
  if (port < 0) throw new ProxyConfigError(`${sa.at('port_value')}: required`);
  sa.str('protocol'); // TCP is the only one that makes sense here
  sa.finish();
  n.finish();
  return { host, port };
}

function parseCidr(n: Node): Cidr {
  const address = n.reqStr('address_prefix');
  const family = net.isIP(address);
  if (!family) throw new ProxyConfigError(`${n.at('address_prefix')}: not an IP address: ${address}`);
  const prefixLen = n.int('prefix_len', family === 4 ? 32 : 128, 0, family === 4 ? 32 : 128);
  n.finish();
  return { family: family as 4 | 6, address, prefixLen };
}

/** Reads `typed_config` / Any holding a StringValue or BytesValue into bytes. */
function anyBytes(v: unknown, at: string): Uint8Array {
  if (v === undefined || v === null) return new Uint8Array(0);
  if (typeof v === 'string') return Buffer.from(v, 'utf8');
  const o = v as Record<string, unknown>;
  const type = o['@type'];
  if (type === T.stringValue) return Buffer.from(String(o.value ?? ''), 'utf8');
  if (type === T.bytesValue) return Buffer.from(String(o.value ?? ''), 'base64');
  throw new ProxyConfigError(`${at}: the embedded data plane supports google.protobuf.StringValue or BytesValue here, got ${String(type)}`);
}

function parseRetryPolicy(n: Node): RetryPolicyConfig {
  let retryOn = 0;
  const on = n.str('retry_on', '')!;
  if (on) {
    const http = parseRetryOn(on);
    const grpc = parseRetryGrpcOn(on);
    retryOn = http.bits | grpc.bits;
    // A condition is valid if either parser knows it (config_impl.cc merges both).
    for (const cond of on.split(',').map((s) => s.trim()).filter(Boolean)) {
      if (!http.known.has(cond) && !grpc.known.has(cond)) throw new ProxyConfigError(`${n.at('retry_on')}: unknown retry condition '${cond}'`);
    }
  }
  const numRetries = n.int('num_retries', 1, 0);
  const perTryTimeoutMs = n.durationMs('per_try_timeout') ?? 0;
  const codes = n.raw('retriable_status_codes');
  const retriableStatusCodes: number[] = [];
  if (codes !== undefined) {
    if (!Array.isArray(codes) || codes.some((c) => !Number.isInteger(Number(c)))) throw new ProxyConfigError(`${n.at('retriable_status_codes')}: expected a list of status codes`);
    for (const c of codes) retriableStatusCodes.push(Number(c));
  }
  const out: RetryPolicyConfig = { retryOn, numRetries, perTryTimeoutMs, retriableStatusCodes };
  const backOff = n.obj('retry_back_off');
  if (backOff) {
    const base = backOff.durationMs('base_interval');
    if (base === undefined || base <= 0) throw new ProxyConfigError(`${backOff.at('base_interval')}: required, greater than 0`);
    out.baseIntervalMs = Math.max(1, Math.round(base));
    const max = backOff.durationMs('max_interval');
    if (max !== undefined) {
      if (max < base) throw new ProxyConfigError(`${backOff.at('max_interval')}: must be greater than or equal to base_interval`);
      out.maxIntervalMs = Math.round(max);
    }
    backOff.finish();
  }
  n.finish();
  return out;
}

function parseStringMatcher(n: Node, into: HeaderMatcherConfig): void {
  into.exact = n.str('exact');
  into.prefix = n.str('prefix');
  into.suffix = n.str('suffix');
  into.contains = n.str('contains');
  const re = n.obj('safe_regex');
  if (re) into.regex = compileRegex(re);
  into.ignoreCase = n.bool('ignore_case');
  n.finish();
}

/** RE2 syntax is close enough to JS for the patterns routes use; anchored like RE2 FullMatch. */
function compileRegex(n: Node): RegExp {
  const pattern = n.reqStr('regex');
  n.obj('google_re2')?.finish();
  n.finish();
  try {
    return new RegExp(`^(?:${pattern})$`);
  } catch (e) {
    throw new ProxyConfigError(`${n.at('regex')}: invalid regex: ${(e as Error).message}`);
  }
}

function parseHeaderMatcher(n: Node): HeaderMatcherConfig {
  const m: HeaderMatcherConfig = { name: n.reqStr('name').toLowerCase(), ignoreCase: false, invert: n.bool('invert_match') };
  if (n.has('exact_match')) m.exact = n.str('exact_match');
  if (n.has('prefix_match')) m.prefix = n.str('prefix_match');
  if (n.has('suffix_match')) m.suffix = n.str('suffix_match');
  if (n.has('contains_match')) m.contains = n.str('contains_match');
  if (n.has('present_match')) m.present = n.bool('present_match');
  const sr = n.obj('safe_regex_match');
  if (sr) m.regex = compileRegex(sr);
  const sm = n.obj('string_match');
  if (sm) parseStringMatcher(sm, m);
  n.finish();
  return m;
}

function parseRoute(n: Node, vhostName: string, index: number, ctx: ParseContext): RouteConfig {
  const name = n.str('name') ?? '';
  const mn = n.reqObj('match');
  const match: RouteMatchConfig = {
    prefix: mn.str('prefix'),
    path: mn.str('path'),
    caseSensitive: mn.bool('case_sensitive', true),
    headers: mn.list('headers').map(parseHeaderMatcher),
    grpc: false,
  };
  const sr = mn.obj('safe_regex');
  if (sr) match.safeRegex = compileRegex(sr);
  const grpc = mn.obj('grpc');
  if (grpc) {
    match.grpc = true;
    grpc.finish();
  }
  const specifiers = [match.prefix, match.path, match.safeRegex].filter((x) => x !== undefined).length;
  if (specifiers !== 1) throw new ProxyConfigError(`${mn.path}: exactly one of prefix, path, safe_regex is required${specifiers ? '' : ' (or a path specifier the embedded data plane does not implement)'}`);
  mn.finish();

  const rn = n.obj('route');
  const dn = n.obj('direct_response');
  if (!!rn === !!dn) throw new ProxyConfigError(`${n.path}: exactly one of route, direct_response is required (redirect and others are not implemented by the embedded data plane)`);
  let action: RouteActionConfig | DirectResponseConfig;
  if (rn) {
    const cluster = rn.reqStr('cluster');
    const timeoutMs = rn.durationMs('timeout') ?? 15_000;
    const rp = rn.obj('retry_policy');
    action = {
      kind: 'route',
      cluster,
      timeoutMs,
      retryPolicy: rp ? parseRetryPolicy(rp) : undefined,
      prefixRewrite: rn.str('prefix_rewrite'),
      hostRewriteLiteral: rn.str('host_rewrite_literal'),
    };
    rn.finish();
  } else {
    const status = dn!.int('status', -1, 200, 599);
    if (status < 0) throw new ProxyConfigError(`${dn!.at('status')}: required`);
    let body = '';
    const b = dn!.obj('body');
    if (b) {
      if (b.has('inline_string')) body = b.str('inline_string')!;
      else if (b.has('inline_bytes')) body = Buffer.from(b.str('inline_bytes')!, 'base64').toString('latin1');
      else if (b.has('filename')) body = readFileSync(path.resolve(ctx.baseDir, b.str('filename')!), 'latin1');
      b.finish();
    }
    dn!.finish();
    action = { kind: 'direct_response', status, body };
  }
  n.finish();
  return { name, match, action };
}

function parseWasmFilter(name: string, typed: Node, ctx: ParseContext): HttpFilterConfig {
  const cfg = typed.reqObj('config');
  const vm = cfg.reqObj('vm_config');
  const code = vm.reqObj('code');
  let bytes: Uint8Array;
  let codePath: string | undefined;
  const local = code.obj('local');
  if (local) {
    if (local.has('filename')) {
      const file = local.str('filename')!;
      codePath = path.resolve(ctx.baseDir, file);
      try {
        bytes = readFileSync(codePath);
      } catch {
        throw new ProxyConfigError(`${local.at('filename')}: cannot read wasm file ${file} (resolved to ${codePath}; build it with \`mesh-filters build\`)`);
      }
    } else if (local.has('inline_bytes')) {
      bytes = Buffer.from(local.str('inline_bytes')!, 'base64');
    } else if (local.has('inline_string')) {
      bytes = Buffer.from(local.str('inline_string')!, 'latin1');
    } else throw new ProxyConfigError(`${local.path}: one of filename, inline_bytes, inline_string is required`);
    local.finish();
  } else {
    throw new ProxyConfigError(`${code.path}: only code.local is supported by the embedded data plane (remote code cannot be fetched here)`);
  }
  code.finish();
  const env: Record<string, string> = {};
  const ev = vm.obj('environment_variables');
  if (ev) {
    const kv = ev.obj('key_values');
    if (kv) for (const [k, v] of Object.entries(kv.value)) env[k] = String(kv.raw(k));
    const hostKeys = ev.raw('host_env_keys');
    if (Array.isArray(hostKeys)) for (const k of hostKeys) if (process.env[String(k)] !== undefined) env[String(k)] = process.env[String(k)]!;
    ev.finish();
  }
  const runtime = vm.str('runtime', 'envoy.wasm.runtime.v8')!;
  if (runtime !== 'envoy.wasm.runtime.v8') ctx.warn(`${vm.at('runtime')}: ${runtime} runs on V8 in the embedded data plane`);
  const plugin: WasmPluginConfig = {
    name: cfg.str('name', '')!,
    rootId: cfg.str('root_id', '')!,
    vmId: vm.str('vm_id', '')!,
    runtime,
    codePath,
    code: bytes,
    pluginConfiguration: anyBytes(cfg.raw('configuration'), cfg.at('configuration')),
    vmConfiguration: anyBytes(vm.raw('configuration'), vm.at('configuration')),
    environmentVariables: env,
    failurePolicy: 'FAIL_CLOSED',
  };
  vm.bool('allow_precompiled');
  vm.bool('nack_on_code_cache_miss');
  vm.finish();
  // failure_policy (Envoy ≥ 1.33) and the older fail_open are exclusive
  // (source/extensions/common/wasm/wasm.cc PluginConfig).
  const policy = cfg.str('failure_policy');
  const failOpen = cfg.bool('fail_open');
  if (policy && policy !== 'UNSPECIFIED') {
    if (failOpen) throw new ProxyConfigError(`${cfg.path}: only one of fail_open or failure_policy can be set`);
    if (policy !== 'FAIL_CLOSED' && policy !== 'FAIL_OPEN' && policy !== 'FAIL_RELOAD') throw new ProxyConfigError(`${cfg.at('failure_policy')}: expected FAIL_CLOSED, FAIL_OPEN or FAIL_RELOAD`);
    plugin.failurePolicy = policy;
  } else if (failOpen) plugin.failurePolicy = 'FAIL_OPEN';
  // FAIL_RELOAD backs off from reload_config.backoff.base_interval (default 1 s).
  const reload = cfg.obj('reload_config');
  const backoff = reload?.obj('backoff');
  if (backoff) {
    plugin.reloadBaseIntervalMs = backoff.durationMs('base_interval');
    backoff.finish();
  }
  reload?.finish();
  if (cfg.has('allow_on_headers_stop_iteration')) plugin.allowOnHeadersStopIteration = cfg.bool('allow_on_headers_stop_iteration');
  cfg.finish();
  typed.finish();
  return { kind: 'wasm', name, plugin };
}

function parseHttpFilter(n: Node, ctx: ParseContext): HttpFilterConfig {
  const name = n.reqStr('name');
  const typed = n.obj('typed_config');
  const type = typed?.str('@type');
  if (n.bool('is_optional') === true) ctx.warn(`${n.at('is_optional')}: ignored`);
  n.bool('disabled') && ctx.warn(`${n.at('disabled')}: not implemented by the embedded data plane; the filter runs`);
  n.finish();
  if (type === T.router || (!typed && name === 'envoy.filters.http.router')) {
    typed?.finish();
    return { kind: 'router', name };
  }
  if (type === T.wasm) return parseWasmFilter(name, typed!, ctx);
  if (typed && T.typedStruct.includes(type!) && typed.str('type_url') === NATIVE_FILTER_TYPE) {
    const v = typed.reqObj('value');
    const module = path.resolve(ctx.baseDir, v.reqStr('module'));
    const out: HttpFilterConfig = { kind: 'native', name, module, exportName: v.str('export', 'default')!, config: v.raw('config') };
    v.finish();
    typed.finish();
    return out;
  }
  throw new ProxyConfigError(`${n.path}: HTTP filter ${name} (${type ?? 'no typed_config'}) is not implemented by the embedded data plane (it runs envoy.filters.http.wasm and envoy.filters.http.router)`);
}

function parseHcm(n: Node, ctx: ParseContext): HttpConnectionManagerConfig {
  const codec = n.str('codec_type', 'AUTO')!;
  if (codec !== 'AUTO' && codec !== 'HTTP1' && codec !== 'HTTP2') throw new ProxyConfigError(`${n.at('codec_type')}: ${codec} is not implemented by the embedded data plane (AUTO, HTTP1, HTTP2)`);
  const rc = n.obj('route_config');
  if (!rc) throw new ProxyConfigError(`${n.path}: route_config is required by the embedded data plane (rds is not implemented)`);
  const virtualHosts = rc.list('virtual_hosts').map((vh, vi) => {
    const name = vh.reqStr('name');
    const domains = (vh.raw('domains') as unknown[] | undefined) ?? [];
    if (!Array.isArray(domains) || !domains.length) throw new ProxyConfigError(`${vh.at('domains')}: at least one domain is required`);
    const rp = vh.obj('retry_policy');
    const out: VirtualHostConfig = {
      name,
      domains: domains.map((d) => String(d).toLowerCase()),
      routes: vh.list('routes').map((r, ri) => parseRoute(r, name, ri, ctx)),
      includeRequestAttemptCount: vh.bool('include_request_attempt_count'),
      includeAttemptCountInResponse: vh.bool('include_attempt_count_in_response'),
      retryPolicy: rp ? parseRetryPolicy(rp) : undefined,
    };
    void vi;
    vh.finish();
    return out;
  });
  const routeConfig: RouteConfiguration = {
    name: rc.str('name', '')!,
    virtualHosts,
    ignorePortInHostMatching: rc.bool('ignore_port_in_host_matching'),
  };
  rc.bool('validate_clusters');
  rc.finish();
  const filters = n.list('http_filters').map((f) => parseHttpFilter(f, ctx));
  const routerAt = filters.findIndex((f) => f.kind === 'router');
  if (routerAt < 0) throw new ProxyConfigError(`${n.at('http_filters')}: envoy.filters.http.router is required (it must be last)`);
  if (routerAt !== filters.length - 1) throw new ProxyConfigError(`${n.at('http_filters')}[${routerAt}]: the router must be the last HTTP filter`);
  const internal = n.obj('internal_address_config');
  const cidrs = internal ? internal.list('cidr_ranges').map(parseCidr) : [];
  internal?.bool('unix_sockets');
  internal?.finish();
  const sht = n.str('server_header_transformation', 'OVERWRITE')!;
  if (sht !== 'OVERWRITE' && sht !== 'APPEND_IF_ABSENT' && sht !== 'PASS_THROUGH') throw new ProxyConfigError(`${n.at('server_header_transformation')}: unknown value ${sht}`);
  const out: HttpConnectionManagerConfig = {
    statPrefix: n.reqStr('stat_prefix'),
    codecType: codec,
    routeConfig,
    httpFilters: filters,
    useRemoteAddress: n.bool('use_remote_address'),
    xffNumTrustedHops: n.int('xff_num_trusted_hops', 0),
    skipXffAppend: n.bool('skip_xff_append'),
    internalAddressCidrs: cidrs,
    generateRequestId: n.bool('generate_request_id', true),
    preserveExternalRequestId: n.bool('preserve_external_request_id'),
    serverName: n.str('server_name', 'envoy')!,
    serverHeaderTransformation: sht,
  };
  n.finish();
  return out;
}

function parseListener(n: Node, index: number, ctx: ParseContext): ListenerConfig {
  const name = n.str('name') ?? `listener_${index}`;
  const address = socketAddress(n.reqObj('address'));
  const chains = n.list('filter_chains');
  if (!chains.length) throw new ProxyConfigError(`${n.at('filter_chains')}: at least one filter chain is required`);
  if (chains.length > 1) ctx.warn(`${n.at('filter_chains')}[1..]: only the first filter chain is served by the embedded data plane`);
  const chain = chains[0];
  const filters = chain.list('filters');
  const hcmNode = filters.find((f) => f.value.name === 'envoy.filters.network.http_connection_manager' || (f.value.typed_config as Record<string, unknown> | undefined)?.['@type'] === T.hcm);
  if (!hcmNode) throw new ProxyConfigError(`${chain.at('filters')}: envoy.filters.network.http_connection_manager is required`);
  if (filters.length > 1) ctx.warn(`${chain.at('filters')}: network filters other than http_connection_manager are ignored`);
  hcmNode.str('name');
  const hcm = parseHcm(hcmNode.reqObj('typed_config'), ctx);
  hcmNode.finish();
  for (const f of filters) if (f !== hcmNode) f.raw('typed_config');
  if (chain.has('transport_socket')) ctx.warn(`${chain.at('transport_socket')}: TLS is not implemented by the embedded data plane; the listener serves cleartext`);
  chain.raw('transport_socket');
  chain.finish();
  const out: ListenerConfig = { name, address, bufferLimitBytes: n.int('per_connection_buffer_limit_bytes', 1024 * 1024, 1), hcm };
  n.finish();
  return out;
}

function parseCluster(n: Node, ctx: ParseContext): ClusterConfig {
  const name = n.reqStr('name');
  const type = n.str('type', 'STATIC')!;
  if (type !== 'STATIC' && type !== 'STRICT_DNS' && type !== 'LOGICAL_DNS') throw new ProxyConfigError(`${n.at('type')}: ${type} is not implemented by the embedded data plane (STATIC, STRICT_DNS, LOGICAL_DNS)`);
  const lb = n.str('lb_policy', 'ROUND_ROBIN')!;
  if (lb !== 'ROUND_ROBIN') ctx.warn(`${n.at('lb_policy')}: ${lb} is served as ROUND_ROBIN by the embedded data plane`);
  const endpoints: SocketAddress[] = [];
  const la = n.obj('load_assignment');
  if (la) {
    la.str('cluster_name');
    for (const le of la.list('endpoints')) {
      for (const lbe of le.list('lb_endpoints')) {
        const ep = lbe.reqObj('endpoint');
        const addr = socketAddress(ep.reqObj('address'));
        if (type === 'STATIC' && !net.isIP(addr.host)) throw new ProxyConfigError(`${ep.at('address')}.socket_address.address: STATIC clusters need an IP address, got ${addr.host} (use STRICT_DNS)`);
        endpoints.push(addr);
        ep.finish();
        lbe.raw('load_balancing_weight') !== undefined && ctx.warn(`${lbe.at('load_balancing_weight')}: weights are not implemented by the embedded data plane`);
        lbe.finish();
      }
      le.raw('locality');
      le.finish();
    }
    la.finish();
  }
  let protocol: ClusterConfig['protocol'] = 'HTTP1';
  if (n.obj('http2_protocol_options')) protocol = 'HTTP2';
  const tepo = n.obj('typed_extension_protocol_options');
  if (tepo) {
    const hpo = tepo.obj(HTTP_PROTOCOL_OPTIONS_KEY);
    if (hpo) {
      const explicit = hpo.obj('explicit_http_config');
      if (explicit) {
        if (explicit.obj('http2_protocol_options')) protocol = 'HTTP2';
        explicit.obj('http_protocol_options');
        explicit.finish();
      } else if (hpo.obj('use_downstream_protocol_config')) protocol = 'DOWNSTREAM';
      else if (hpo.obj('auto_config')) ctx.warn(`${hpo.at('auto_config')}: ALPN needs TLS; the embedded data plane uses HTTP/1.1`);
      hpo.obj('common_http_protocol_options')?.finish();
      hpo.finish();
    }
    tepo.finish();
  }
  let maxRetries = 3;
  const cb = n.obj('circuit_breakers');
  if (cb) {
    for (const t of cb.list('thresholds')) {
      const prio = t.str('priority', 'DEFAULT');
      if (prio === 'DEFAULT') maxRetries = t.int('max_retries', 3);
      t.finish();
    }
    cb.finish();
  }
  const out: ClusterConfig = { name, type, connectTimeoutMs: n.durationMs('connect_timeout') ?? 5000, lbPolicy: 'ROUND_ROBIN', endpoints, protocol, maxRetries };
  n.finish();
  return out;
}

export interface LoadOptions {
  /** Directory that relative file names (wasm code, direct response bodies) resolve against; default the process's cwd, as Envoy does. */
  baseDir?: string;
}

/** Reads a bootstrap file (YAML or JSON). */
export function loadBootstrapFile(file: string, opts: LoadOptions = {}): BootstrapConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new ProxyConfigError(`${file}: cannot read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (e) {
    throw new ProxyConfigError(`${file}: YAML error: ${(e as Error).message.split('\n')[0]}`);
  }
  return parseBootstrap(doc, { ...opts, source: file });
}

/** Reads a parsed bootstrap document (the object YAML gives). */
export function parseBootstrap(doc: unknown, opts: LoadOptions & { source?: string } = {}): BootstrapConfig {
  const warnings: string[] = [];
  const ctx: ParseContext = { baseDir: opts.baseDir ?? process.cwd(), warn: (l) => warnings.push(l) };
  const root = Node.of(doc, '', ctx);
  const nodeN = root.obj('node');
  const node = { id: nodeN?.str('id', '') ?? '', cluster: nodeN?.str('cluster', '') ?? '' };
  nodeN?.raw('metadata');
  nodeN?.raw('locality');
  nodeN?.finish();
  const adminN = root.obj('admin');
  const admin = adminN?.has('address') ? { address: socketAddress(adminN.reqObj('address')) } : undefined;
  adminN?.finish();
  const sr = root.reqObj('static_resources');
  const clusters = new Map<string, ClusterConfig>();
  sr.list('clusters').forEach((c) => {
    const cl = parseCluster(c, ctx);
    if (clusters.has(cl.name)) throw new ProxyConfigError(`${c.at('name')}: duplicate cluster name '${cl.name}'`);
    clusters.set(cl.name, cl);
  });
  const listenerNodes = sr.list('listeners');
  const listeners = listenerNodes.map((l, i) => parseListener(l, i, ctx));
  if (!listeners.length) throw new ProxyConfigError('static_resources.listeners: at least one listener is required');
  sr.finish();
  root.finish();
  // Routes naming unknown clusters: Envoy rejects the route table (validate_clusters
  // defaults to true for static route configs, config_impl.cc).
  listeners.forEach((l, li) =>
    l.hcm.routeConfig.virtualHosts.forEach((vh, vi) =>
      vh.routes.forEach((r, ri) => {
        if (r.action.kind === 'route' && !clusters.has(r.action.cluster)) {
          throw new ProxyConfigError(
            `static_resources.listeners[${li}].filter_chains[0].filters[0].typed_config.route_config.virtual_hosts[${vi}].routes[${ri}].route.cluster: unknown cluster '${r.action.cluster}'`,
          );
        }
      }),
    ),
  );
  return { source: opts.source ?? '<inline>', node, admin, listeners, clusters, warnings };
}
