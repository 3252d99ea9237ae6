/**
 * What the filter suites share, in the role of proxy-wasm-go-sdk's `proxytest`: a filter on
 * the emulator (fake clock), one request/exchange driver, one metric reader, the modules
 * the suites load (one way to build them), and the seed configurations of `envoy/*.yaml`.
 *
 * ```ts
 * const emu = await filterEmulator(await testModule('retry'), 'retry', config);
 * const ex = request(emu, { method: 'POST', path: '/api/transactions' }); // stream open
 * ex.requestHeader('x-envoy-max-retries'); // as the filter handed them on
 * ex.respond(503);                          // response headers, then the stream completes
 * exchange(emu, { path: '/' }, 200).status; // the whole of it: the status the client got
 * counter(emu, 'retry_policy_requests_total', { policy: 'reads' });
 * ```
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseAllDocuments } from 'yaml';
import { MetricType } from './abi.ts';
import { isMemberModule } from '../envoy/combine.ts';
import { type EmulatorOptions, WasmEmulator } from './emulator.ts';
import type { FilterHeadersStatus, LocalReply, StreamInfo } from './filter.ts';
import type { HeaderPair } from './header-map.ts';
import type { HostcallObserver } from './services.ts';

const PROJECT_ROOT = path.resolve(import.meta.dirname, '../..');

// --- modules ---------------------------------------------------------------------

/**
 * The path of the module of `asconfig.json` target `target`, built first when it is stale
 * (harness/build.ts `isStale`: missing, or older than a source its last build read). With
 * `variant`, a test-only entry (`filters/<name>/__tests__/racy-entry.ts`, the filter with
 * one piece overridden; `test/wasm/example/heap.ts`) compiled with the target's options into
 * `build/test/<outName>.wasm`, under the same rule. harness/build.ts `buildTarget` writes a
 * temporary file and renames it, so suites building side by side never load a half-written
 * module.
 */
export async function testModule(target: string, variant?: { entry: string; outName: string }): Promise<string> {
  const { buildTarget, isStale, listTargets } = await import('../build.ts');
  const t = (await listTargets()).find((x) => x.name === target);
  if (!t) throw new Error(`asconfig.json has no target ${target}`);
  const entry = variant?.entry ?? t.entry;
  const outFile = variant ? path.join('build', 'test', `${variant.outName}.wasm`) : t.outFile;
  if (isStale({ ...t, entry, outFile })) await buildTarget({ ...t, entry }, { outFile });
  // As a member (`AS_MEMBER`), suites load the mesh module in the filter's place: build it too.
  if (AS_MEMBER && !variant && isMemberModule(target, outFile)) await testModule('mesh');
  return path.join(PROJECT_ROOT, outFile);
}

// --- seed configurations -----------------------------------------------------------

/**
 * The plugin configuration that `file` (relative to the project root) gives plugin `name`:
 * an Istio `WasmPlugin`'s `pluginConfig` (`spec.pluginName`), or the JSON
 * `configuration.value` of an Envoy bootstrap's `envoy.filters.http.wasm` whose
 * `config.name` it is. Throws when the file has neither.
 */
export function pluginConfig(file: string, name: string): Record<string, unknown> {
  const found: Record<string, unknown>[] = [];
  const visit = (node: unknown): void => {
    if (Array.isArray(node)) return node.forEach(visit);
    if (typeof node !== 'object' || node === null) return;
    const o = node as Record<string, unknown>;
    if (o.kind === 'WasmPlugin' && (o.spec as Record<string, unknown>)?.pluginName === name) found.push((o.spec as Record<string, unknown>).pluginConfig as Record<string, unknown>);
    const value = (o.configuration as Record<string, unknown> | undefined)?.value;
    if (o.name === name && typeof value === 'string') found.push(JSON.parse(value));
    Object.values(o).forEach(visit);
  };
  for (const doc of parseAllDocuments(readFileSync(path.resolve(PROJECT_ROOT, file), 'utf8'))) visit(doc.toJS());
  if (found.length !== 1) throw new Error(`${file}: ${found.length} configurations of plugin ${name}, expected 1`);
  return found[0];
}

/** The entry of list `list` (`services`, `policies`, `rules`) named `entry` in `pluginConfig(file, plugin)`. */
export function seedEntry(file: string, plugin: string, list: string, entry: string): Record<string, unknown> {
  const items = pluginConfig(file, plugin)[list];
  const item = Array.isArray(items) ? items.find((i: { name?: string }) => i?.name === entry) : undefined;
  if (!item) throw new Error(`${file}: plugin ${plugin} has no ${list} entry named ${entry}`);
  return item;
}

// --- emulators ---------------------------------------------------------------------

/**
 * `wasm` running as plugin `name` (also its root_id and vm_id) with `config` as plugin
 * configuration (an object is written as JSON); `options` adds to or overrides the rest.
 */
export function filterEmulator(wasm: string, name: string, config: unknown, options: Partial<EmulatorOptions> = {}): Promise<WasmEmulator> {
  return WasmEmulator.create({ ...pluginOptions(wasm, name, config), ...options });
}

/**
 * `count` workers' VMs of the same plugin (`WasmEmulator.createWorkers`: one shared-data
 * store, one fake clock), as Envoy runs it on `count` worker threads.
 */
export function filterWorkers(count: number, wasm: string, name: string, config: unknown, options: Partial<EmulatorOptions> = {}): Promise<WasmEmulator[]> {
  return WasmEmulator.createWorkers(count, { ...pluginOptions(wasm, name, config), ...options });
}

/**
 * `MESH_FILTERS_AS_MEMBER=1` (the vitest project `as-member`): a filter suite's plugin runs as
 * the one member of the mesh module (build/mesh.wasm, `{ "filters": [{ "name", "config" }] }`),
 * so every filter suite also proves the filter unchanged inside the chain (assembly/proxy-wasm/chain.ts).
 */
export const AS_MEMBER = process.env.MESH_FILTERS_AS_MEMBER === '1';

/**
 * Under `AS_MEMBER`, the mesh module (`mesh.wasm` beside `wasm`) and its configuration for
 * plugin `name` running `wasm` (a filter's own module) with `config`; else the two unchanged
 * (`mesh` false). The member's configuration is embedded as its text (`config` itself when a
 * string, else its JSON), so the member reads the very bytes it would read alone (a duplicate
 * name, a number JSON.parse would round, stay as they are). Text that is not a JSON object is
 * handed to the mesh as it is, which refuses it with its own line (`wrapped` false).
 */
export function asMember(name: string, wasm: string, config: unknown): { wasm: string; config: unknown; mesh: boolean; wrapped: boolean } {
  if (!AS_MEMBER || !isMemberModule(name, wasm)) return { wasm, config, mesh: false, wrapped: false };
  const text = typeof config === 'string' ? config : (JSON.stringify(config) ?? '');
  let wrapped = false;
  try {
    const parsed: unknown = JSON.parse(text);
    wrapped = parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed);
  } catch {
    // not JSON: the mesh refuses it
  }
  const meshConfig = wrapped ? `{"filters":[{"name":${JSON.stringify(name)},"config":${text}}]}` : text;
  return { wasm: path.join(path.dirname(wasm), 'mesh.wasm'), config: meshConfig, mesh: true, wrapped };
}

function pluginOptions(filterWasm: string, name: string, filterConfig: unknown): EmulatorOptions {
  const { wasm, config } = asMember(name, filterWasm, filterConfig);
  return { wasm, name, rootId: name, vmId: name, pluginConfiguration: typeof config === 'string' ? config : JSON.stringify(config) };
}

// --- requests ----------------------------------------------------------------------

type Headers = HeaderPair[] | Record<string, string>;

/** A request: pseudo-headers (default `GET /`, `:authority: api.mesh.test`, `:scheme: https`), then `headers`. */
export interface RequestSpec {
  method?: string;
  path?: string;
  authority?: string;
  scheme?: string;
  /** After the pseudo-headers; a pseudo-header here replaces the default one. */
  headers?: Headers;
  /** The stream's `StreamInfo` (`downstreamRemoteAddress`, `clusterName`...). */
  info?: Partial<StreamInfo>;
  /** Whether the headers end the request (default true). */
  endOfStream?: boolean;
}

/** The response an upstream gives: a status, or headers (`:status` 200 unless given). */
export type ResponseSpec = number | Record<string, string>;

/**
 * One stream through the filter. Reads are live while the stream is open (after a callout's
 * answer resumes it, say); `respond` and `complete` keep what the stream ended with, so an
 * exchange stays readable after the emulator has let the stream go.
 */
export class Exchange {
  private ended: { reply?: LocalReply; request: HeaderPair[]; response: HeaderPair[] } | undefined;

  constructor(
    readonly emu: WasmEmulator,
    readonly id: number,
    /** What `proxy_on_request_headers` answered (0 Continue, 4 StopAllIterationAndWatermark). */
    readonly filterStatus: FilterHeadersStatus,
  ) {}

  /** The filter's local reply, when it answered itself. */
  get reply(): LocalReply | undefined {
    return this.ended ? this.ended.reply : this.emu.getSentLocalResponse(this.id);
  }

  /** Request headers as the filter handed them on. */
  get requestHeaders(): HeaderPair[] {
    return this.ended?.request ?? this.emu.getCurrentRequestHeaders(this.id);
  }

  /** Response headers as the client gets them (the local reply's, when the filter answered). */
  get responseHeaders(): HeaderPair[] {
    return this.ended?.response ?? this.emu.getCurrentResponseHeaders(this.id);
  }

  /** A request header's values joined with `,` (RFC 9110 §5.3), undefined when absent. */
  requestHeader(name: string): string | undefined {
    return joined(this.requestHeaders, name);
  }

  /** A response header's values joined with `,`, undefined when absent. */
  responseHeader(name: string): string | undefined {
    return joined(this.responseHeaders, name);
  }

  /** The status the client gets: the local reply's, else the response's; undefined before either. */
  get status(): number | undefined {
    const reply = this.reply;
    if (reply) return reply.status;
    const status = this.responseHeader(':status');
    return status === undefined ? undefined : Number(status);
  }

  /** The local reply's body as text ('' without one). */
  get body(): string {
    const body = this.reply?.body;
    return body === undefined ? '' : Buffer.from(body).toString();
  }

  /** Answers the stream with `response` (unless the filter replied itself), then completes it. */
  respond(response: ResponseSpec = 200, options: { complete?: boolean } = {}): this {
    if (!this.reply) {
      const headers = typeof response === 'number' ? { ':status': String(response) } : { ':status': '200', ...response };
      this.emu.callOnResponseHeaders(this.id, headers, true);
    }
    return options.complete === false ? this : this.complete();
  }

  /** Ends the stream (`proxy_on_log`, `proxy_on_done`, `proxy_on_delete`) and keeps what it ended with. */
  complete(): this {
    if (this.ended) return this;
    this.emu.completeHttpContext(this.id);
    this.ended = { reply: this.emu.getSentLocalResponse(this.id), request: this.emu.getCurrentRequestHeaders(this.id), response: this.emu.getCurrentResponseHeaders(this.id) };
    return this;
  }
}

function joined(pairs: HeaderPair[], name: string): string | undefined {
  const values = pairs.filter(([k]) => k === name).map(([, v]) => v);
  return values.length === 0 ? undefined : values.join(',');
}

/** Sends request headers through the filter; the stream stays open (`Exchange.respond` ends it). */
export function request(emu: WasmEmulator, spec: RequestSpec = {}): Exchange {
  const id = emu.initializeHttpContext(spec.info ?? {});
  const pseudo: Record<string, string> = { ':method': spec.method ?? 'GET', ':path': spec.path ?? '/', ':authority': spec.authority ?? 'api.mesh.test', ':scheme': spec.scheme ?? 'https' };
  const extra: HeaderPair[] = Array.isArray(spec.headers) ? spec.headers : Object.entries(spec.headers ?? {});
  for (const [k] of extra) if (k in pseudo) delete pseudo[k];
  const status = emu.callOnRequestHeaders(id, [...Object.entries(pseudo), ...extra], spec.endOfStream ?? true);
  return new Exchange(emu, id, status);
}

/** One whole request: sent, answered by the upstream with `response` (unless the filter replied), completed. */
export function exchange(emu: WasmEmulator, spec: RequestSpec = {}, response: ResponseSpec = 200): Exchange {
  return request(emu, spec).respond(response);
}

/** Sends `n` whole requests like `spec`; returns how many the filter let through to the upstream (no local reply). */
export function forwarded(emu: WasmEmulator, n: number, spec: RequestSpec = {}): number {
  let count = 0;
  for (let i = 0; i < n; i++) if (!exchange(emu, spec).reply) count++;
  return count;
}

/** A header of `pairs` (a local reply's, say): the first value, or undefined. */
export function header(pairs: HeaderPair[] | undefined, name: string): string | undefined {
  return pairs?.find(([k]) => k === name)?.[1];
}

// --- metrics -----------------------------------------------------------------------

/** Labels of a metric, as the SDK's `metricName` writes them into the name (`rule=.=anonymous;.;`). */
export type Labels = Record<string, string>;

/** The value of the counter the plugin defined as `name` with `labels` (in any order); throws when it defined none. */
export function counter(emu: WasmEmulator, name: string, labels: Labels = {}): number {
  return metric(emu, MetricType.Counter, name, labels);
}

/** The value of gauge `name` with `labels`; throws when the plugin defined none. */
export function gauge(emu: WasmEmulator, name: string, labels: Labels = {}): number {
  return metric(emu, MetricType.Gauge, name, labels);
}

const TAG = /([^=;.]+)=\.=([^;]*);\.;/y;

function metric(emu: WasmEmulator, type: MetricType, name: string, labels: Labels): number {
  const want = Object.entries(labels);
  for (const m of emu.shared.metrics.snapshot()) {
    if (m.type !== type) continue;
    const full = m.name.startsWith('wasmcustom.') ? m.name.slice('wasmcustom.'.length) : m.name;
    const tags: Labels = {};
    TAG.lastIndex = 0;
    let end = 0;
    for (let t = TAG.exec(full); t; t = TAG.exec(full)) {
      tags[t[1]] = t[2];
      end = TAG.lastIndex;
    }
    if (full.slice(end) !== name || Object.keys(tags).length !== want.length) continue;
    if (want.every(([k, v]) => tags[k] === v)) return Number(m.value);
  }
  const shown = want.length === 0 ? '' : `{${want.map(([k, v]) => `${k}="${v}"`).join(',')}}`;
  throw new Error(`the plugin defined no ${MetricType[type].toLowerCase()} ${name}${shown}`);
}

// --- hostcalls ---------------------------------------------------------------------

/** One hostcall the module made (name without `env.`); `proxy_get_property` / `proxy_set_property` with their path (and value). */
export interface Hostcall {
  name: string;
  path?: string;
  value?: string;
}

/** Records the module's hostcalls: pass `onHostcall` to the emulator, read `calls`, `clear()` between the steps a test compares. */
export function hostcallLog(): { onHostcall: HostcallObserver; calls: Hostcall[]; clear(): void; count(name: string): number } {
  const calls: Hostcall[] = [];
  const text = (vm: Parameters<HostcallObserver>[2], ptr: number | bigint, len: number | bigint) => vm.mem.bytes(Number(ptr), Number(len))?.toString('latin1').replaceAll('\0', '.');
  return {
    calls,
    onHostcall: (key, args, vm) => {
      const name = key.replace(/^env\./, '');
      if (name === 'proxy_get_property') calls.push({ name, path: text(vm, args[0], args[1]) });
      else if (name === 'proxy_set_property') calls.push({ name, path: text(vm, args[0], args[1]), value: text(vm, args[2], args[3]) });
      else calls.push({ name });
    },
    clear: () => void calls.splice(0),
    count: (name) => calls.filter((c) => c.name === name).length,
  };
}
