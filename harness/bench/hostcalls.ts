/**
 * `npm run bench -- hostcalls`: what one request of each Envoy bench configuration
 * (harness/bench/envoy/configs.ts) with our modules, or the Rust SDK's, asks of the host,
 * counted on the host (`WasmEmulator`'s `onHostcall` observer), so that
 * docs/PERFORMANCE.md's table can be regenerated:
 *
 * - VM entries: callbacks the host made into the module (`proxy_on_context_create`,
 *   `proxy_on_request_headers`, ..., `proxy_on_delete`), `malloc` calls excluded;
 * - hostcalls by kind (`proxy_get_header_map_value` ×3, ...);
 * - bytes copied across the boundary: into the host (what each hostcall reads from the
 *   module's memory: header names and values, property paths, shared-data keys and values,
 *   log text, local replies) and into the module (each value the host returns, copied into
 *   memory the module allocated through `proxy_on_memory_allocate`);
 * - shared-data reads (`proxy_get_shared_data`) and writes, CAS (a `cas` other than 0) or
 *   plain;
 * - calls that returned a value, by kind (`values_by_kind`): those in which the host
 *   allocated in the module for what it hands back, which on Envoy is a call back into the
 *   VM (proxy-wasm-cpp-host `copyToPointerSize`), the price of a call (harness/bench/model.ts).
 *
 * Each configuration's filters run in chain order, each on its own emulator (its own VM, as
 * Envoy gives each `vm_id`), with the request headers as Envoy hands them to the first
 * filter (HTTP/1.1 from wrk) and the response of the configuration's route; the configuration
 * is first put in its state (`prepare`), then two requests warm caches up (a cached token is
 * cached), and the third is counted. A local reply ends the request path there, as in Envoy.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { projectRoot } from '../build.ts';
import { demoJwks } from '../demo/keys.ts';
import { mintDemoToken } from '../demo/token.ts';
import { LogLevel, MapType } from '../host/abi.ts';
import { WasmEmulator } from '../host/emulator.ts';
import type { HostcallObserver } from '../host/services.ts';
import type { Wasm } from '../host/wasm.ts';
import { RUST_WASM, configurations, type BenchConfig, type WasmFilterSpec } from './envoy/configs.ts';
import type { WrkRequest } from './envoy/load.ts';
import { buildRustSdkFilters } from './envoy/rust-sdk.ts';
import { ALGS, makeKeys, tokenPool, type Alg } from './envoy/tokens.ts';
import type { BenchSuite } from './report.ts';

/** (pointer, size) input arguments by hostcall: the index of each pointer. */
const INPUTS: Record<string, readonly number[]> = {
  proxy_log: [1],
  proxy_get_header_map_value: [1],
  proxy_add_header_map_value: [1, 3],
  proxy_replace_header_map_value: [1, 3],
  proxy_remove_header_map_value: [1],
  proxy_set_header_map_pairs: [1],
  proxy_get_property: [0],
  proxy_set_property: [0, 2],
  proxy_get_shared_data: [0],
  proxy_set_shared_data: [0, 2],
  proxy_define_metric: [1],
  proxy_send_local_response: [1, 3, 5],
  proxy_set_buffer_bytes: [3],
  proxy_http_call: [0, 2, 4, 6],
  proxy_register_shared_queue: [0],
  proxy_resolve_shared_queue: [0, 2],
  proxy_enqueue_shared_queue: [1],
  proxy_call_foreign_function: [0, 2],
};

/** Hostcalls that change a header map (the map type is their first argument). */
const HEADER_WRITES = new Set(['proxy_add_header_map_value', 'proxy_replace_header_map_value', 'proxy_remove_header_map_value', 'proxy_set_header_map_pairs']);

/** What one filter's request asked of the host. */
export interface RequestCount {
  vm_entries: number;
  hostcalls: number;
  by_kind: Record<string, number>;
  /** Calls of each kind that returned a value (the host allocated in the module for it). */
  values_by_kind: Record<string, number>;
  bytes_to_host: number;
  bytes_to_module: number;
  shared_reads: number;
  shared_cas_writes: number;
  shared_plain_writes: number;
  /** Writes to the request's headers (add, replace, remove, set pairs): Envoy clears the route cache for each. */
  request_header_writes: number;
}

/** Counts by kind, most first. */
const sortedKinds = (counts: Record<string, number>) => Object.fromEntries(Object.entries(counts).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])));

type WasmFn = (...args: Array<number | bigint>) => number | bigint | void;

/** Counts hostcalls (and VM entries, and bytes the host copies into the module) while `recording`. */
class HostcallCounter {
  recording = false;
  private count = HostcallCounter.empty();
  private readonly wrapped = new WeakSet<Wasm>();
  /** The hostcall running (the observer sees each before it runs), whose value `malloc` is for. */
  private current = '';

  static empty(): RequestCount {
    return { vm_entries: 0, hostcalls: 0, by_kind: {}, values_by_kind: {}, bytes_to_host: 0, bytes_to_module: 0, shared_reads: 0, shared_cas_writes: 0, shared_plain_writes: 0, request_header_writes: 0 };
  }

  readonly observer: HostcallObserver = (name, args) => {
    if (!this.recording) return;
    const kind = name.startsWith('env.') ? name.slice(4) : name;
    const c = this.count;
    this.current = kind;
    c.hostcalls++;
    c.by_kind[kind] = (c.by_kind[kind] ?? 0) + 1;
    for (const i of INPUTS[kind] ?? []) c.bytes_to_host += Number(args[i + 1]) >>> 0;
    if (kind === 'proxy_get_shared_data') c.shared_reads++;
    if (kind === 'proxy_set_shared_data') Number(args[4]) ? c.shared_cas_writes++ : c.shared_plain_writes++;
    if (HEADER_WRITES.has(kind) && Number(args[0]) === MapType.HttpRequestHeaders) c.request_header_writes++;
  };

  /**
   * Wraps the module's exports the host calls: `malloc` (the host copies a returned value
   * into what it allocates) and the `proxy_on_*` callbacks (VM entries).
   */
  attach(wasm: Wasm): void {
    if (this.wrapped.has(wasm)) return;
    this.wrapped.add(wasm);
    const fns = wasm.fns as unknown as Record<string, WasmFn | undefined>;
    for (const [name, fn] of Object.entries(fns)) {
      if (!fn) continue;
      if (name === 'malloc') {
        fns.malloc = (size) => {
          const bytes = Number(size) >>> 0;
          if (this.recording && bytes > 0) {
            const c = this.count;
            c.bytes_to_module += bytes;
            c.values_by_kind[this.current] = (c.values_by_kind[this.current] ?? 0) + 1;
          }
          return fn(size);
        };
      } else if (name.startsWith('proxy_on_')) {
        fns[name] = (...a) => {
          if (this.recording) this.count.vm_entries++;
          return fn(...a);
        };
      }
    }
  }

  take(): RequestCount {
    const c = this.count;
    this.count = HostcallCounter.empty();
    c.by_kind = sortedKinds(c.by_kind);
    c.values_by_kind = sortedKinds(c.values_by_kind);
    return c;
  }
}

type Pairs = Array<[string, string]>;

/** The request headers Envoy hands the first filter for `r` (wrk's HTTP/1.1 request; Host becomes :authority). */
function envoyRequest(r: WrkRequest, i: number): Pairs {
  return [
    [':authority', '127.0.0.1:10000'],
    [':path', r.path],
    [':method', r.method],
    [':scheme', 'http'],
    ...Object.entries(r.headers).map(([k, v]) => [k.toLowerCase(), v] as [string, string]),
    ['x-forwarded-proto', 'http'],
    ['x-request-id', `6f1c2e4a-0000-4000-8000-${String(i).padStart(12, '0')}`],
  ];
}

/** The response `c`'s route gives (`direct_response`, or the upstream through the router). */
function routeResponse(c: BenchConfig, status: number): Pairs {
  const headers: Pairs = [[':status', String(status)], ['content-length', '2'], ['content-type', 'text/plain'], ['date', 'Mon, 07 Dec 2026 18:00:00 GMT'], ['server', 'envoy']];
  if (c.upstream) headers.push(['x-envoy-upstream-service-time', '1']);
  if (c.virtualHost?.include_attempt_count_in_response || c.bootstrap) headers.push(['x-envoy-attempt-count', '1']);
  return headers;
}

/** One filter of a configuration's chain, on its own emulator (its own VM, as Envoy gives each `vm_id`). */
export interface ChainFilter {
  spec: WasmFilterSpec;
  emu: WasmEmulator;
}

interface Chain extends ChainFilter {
  counter: HostcallCounter;
}

/**
 * Starts `spec`'s filter (from `wasm`, default `spec.wasm`), its configuration in place and
 * envoy/mesh.yaml's remote JWKS (`jwks`) fetched; throws when the VM does not start.
 */
export async function loadFilter(spec: WasmFilterSpec, jwks: string, opts: { wasm?: string; onHostcall?: HostcallObserver } = {}): Promise<WasmEmulator> {
  const emu = await WasmEmulator.create({
    wasm: opts.wasm ?? spec.wasm, rootId: spec.rootId, name: spec.name ?? spec.rootId, vmId: spec.name ?? spec.rootId,
    pluginConfiguration: typeof spec.config === 'string' ? spec.config : JSON.stringify(spec.config),
    startTimeMs: Date.now(), logLevel: LogLevel.Warn, onHostcall: opts.onHostcall,
  });
  // envoy/mesh.yaml's jwt-auth fetches its users' JWKS at start.
  for (let i = 0; i < 4 && emu.getPendingHttpCalls().length; i++) emu.respondHttpCall({ status: 200, headers: { 'content-type': 'application/json' }, body: jwks });
  if (emu.vmFailed) throw new Error(`${spec.name ?? spec.rootId} did not start: ${emu.getLogs(LogLevel.Error).join(' | ')}`);
  return emu;
}

async function load(spec: WasmFilterSpec, jwks: string): Promise<Chain> {
  const counter = new HostcallCounter();
  const emu = await loadFilter(spec, jwks, { onHostcall: counter.observer });
  counter.attach(emu.plugin.wasm);
  return { spec, emu, counter };
}

/** Protobuf varint bytes of `n`. */
function varint(n: number): number[] {
  const out: number[] = [];
  for (; n >= 0x80; n = Math.floor(n / 128)) out.push((n % 128) | 0x80);
  out.push(n);
  return out;
}

/**
 * The `RateLimitResponse` the global group's service gives every call (harness/bench/envoy/global.ts:
 * 1e9 a second, never over): overall OK, one status OK with its limit, remaining and reset.
 */
const RLS_OK = (() => {
  const limit = [0x08, ...varint(1_000_000_000), 0x10, 0x01]; // requests_per_unit, unit SECOND
  const reset = [0x10, ...varint(500_000_000)]; // duration_until_reset { nanos }
  const status = [0x08, 0x01, 0x12, limit.length, ...limit, 0x18, ...varint(999_999_999), 0x22, reset.length, ...reset];
  return Uint8Array.from([0x08, 0x01, 0x12, status.length, ...status]);
})();

/**
 * One request through the chain: request headers in order until a local reply (a filter
 * paused on a gRPC call, rate-limit's ShouldRateLimit, gets RLS_OK), response headers back.
 */
function chainRequest(c: BenchConfig, chain: ChainFilter[], headers: Pairs, status: number): void {
  const info = {
    downstreamRemoteAddress: '127.0.0.1:40000',
    downstreamLocalAddress: '127.0.0.1:10000',
    ...(c.bootstrap ? { routeName: 'banking', clusterName: 'banking' } : c.upstream ? { routeName: 'bench', clusterName: 'upstream' } : {}),
  };
  const ids = chain.map((f) => f.emu.initializeHttpContext(info));
  let reached = chain.length;
  let response = routeResponse(c, status);
  let current = headers;
  for (let i = 0; i < chain.length; i++) {
    chain[i].emu.callOnRequestHeaders(ids[i], current, true);
    if (chain[i].emu.getPendingGrpcCalls().length) chain[i].emu.respondGrpcCall(RLS_OK);
    const reply = chain[i].emu.getSentLocalResponse(ids[i]);
    if (reply) {
      reached = i;
      response = chain[i].emu.getCurrentResponseHeaders(ids[i]).map((h) => [h[0], h[1]] as [string, string]);
      break;
    }
    current = chain[i].emu.getCurrentRequestHeaders(ids[i]).map((h) => [h[0], h[1]] as [string, string]);
  }
  for (let i = Math.min(reached, chain.length) - 1; i >= 0; i--) {
    chain[i].emu.callOnResponseHeaders(ids[i], response, true);
    response = chain[i].emu.getCurrentResponseHeaders(ids[i]).map((h) => [h[0], h[1]] as [string, string]);
  }
  for (let i = 0; i < chain.length; i++) chain[i].emu.completeHttpContext(ids[i]);
}

/**
 * Sends `c`'s `prepare` requests through `chain`, then returns what sends its requests in
 * turn, each answered 200 (numbered on from the prepare requests, as Envoy numbers streams).
 */
export function requestSender(c: BenchConfig, chain: ChainFilter[]): () => void {
  let n = 0;
  for (const p of c.prepare) chainRequest(c, chain, envoyRequest({ method: 'GET', path: p.path, headers: c.requests[0].headers }, n++), p.status);
  let i = 0;
  return () => chainRequest(c, chain, envoyRequest(c.requests[i++ % c.requests.length], n++), 200);
}

/**
 * The Envoy bench's configurations as the host suites run them: tokens and keys made for
 * this run, `poolSize` distinct tokens per algorithm for the uncached ones, and the JWKS
 * envoy/mesh.yaml's jwt-auth fetches (answered from `jwks`).
 */
export async function hostConfigurations(poolSize: number): Promise<{ configs: BenchConfig[]; jwks: string }> {
  const keys = await makeKeys();
  const tokens = Object.fromEntries(await Promise.all(ALGS.map(async (a) => [a, await keys.mint(a, 'cached-user')]))) as Record<Alg, string>;
  const pools = Object.fromEntries(await Promise.all(ALGS.map(async (a) => [a, await tokenPool(keys, a, poolSize)]))) as Record<Alg, string[]>;
  const meshToken = await mintDemoToken({ permissions: ['banking:read'] });
  const jwks = JSON.stringify(await demoJwks());
  return { configs: configurations({ keys, tokens, pools, meshToken, meshJwksUri: () => 'http://127.0.0.1:9105/.well-known/jwks.json' }), jwks };
}

/** The counts of the third request of `c` (after its `prepare` requests and two warm-up ones), per filter. */
export async function countConfiguration(c: BenchConfig, jwks: string): Promise<Array<{ filter: string } & RequestCount>> {
  const chain = await Promise.all(c.wasm.map((spec) => load(spec, jwks)));
  try {
    const next = requestSender(c, chain);
    for (let i = 0; i < 3; i++) {
      for (const f of chain) f.counter.recording = i === 2;
      next();
    }
    for (const f of chain) f.counter.recording = false;
    if (chain.some((f) => f.emu.vmFailed)) throw new Error(`hostcalls: a VM of ${c.name} failed`);
    return chain.map((f) => ({ filter: f.spec.name ?? f.spec.rootId, ...f.counter.take() }));
  } finally {
    for (const f of chain) f.emu.close();
  }
}

function sum(counts: RequestCount[]): RequestCount {
  const total = HostcallCounter.empty();
  for (const c of counts) {
    for (const k of ['vm_entries', 'hostcalls', 'bytes_to_host', 'bytes_to_module', 'shared_reads', 'shared_cas_writes', 'shared_plain_writes', 'request_header_writes'] as const) total[k] += c[k];
    for (const [k, v] of Object.entries(c.by_kind)) total.by_kind[k] = (total.by_kind[k] ?? 0) + v;
    for (const [k, v] of Object.entries(c.values_by_kind)) total.values_by_kind[k] = (total.values_by_kind[k] ?? 0) + v;
  }
  total.by_kind = sortedKinds(total.by_kind);
  total.values_by_kind = sortedKinds(total.values_by_kind);
  return total;
}

const kinds = (counts: Record<string, number>) => Object.entries(counts).map(([k, v]) => `${k.replace(/^proxy_/, '')} ${v}`).join(', ');
/** The calls of all kinds in `counts`. */
export const countOf = (counts: Record<string, number>) => Object.values(counts).reduce((a, b) => a + b, 0);

export const suite: BenchSuite = {
  name: 'hostcalls',
  description: 'hostcalls by kind, bytes across the boundary and shared-data operations per request of each Envoy bench configuration, counted on the host',
  async run() {
    // Three distinct tokens are enough for three uncached requests.
    const all = await hostConfigurations(3);
    const jwks = all.jwks;
    let configs = all.configs.filter((c) => c.side === 'ours' || c.side === 'rust');
    const skipped: Record<string, string> = {};
    if (!existsSync(RUST_WASM.noop) || !existsSync(RUST_WASM.small)) {
      const problem = buildRustSdkFilters((l) => console.log(l));
      if (problem) {
        for (const c of configs) if (c.side === 'rust') skipped[c.name] = problem;
        configs = configs.filter((c) => c.side !== 'rust');
      }
    }
    const out: Record<string, unknown> = {};
    const lines = [
      '| configuration | filter | VM entries | hostcalls | by kind | values returned | bytes to host / to module | shared data: reads / CAS writes |',
      '|---|---|---|---|---|---|---|---|',
    ];
    for (const c of configs) {
      const perFilter = await countConfiguration(c, jwks);
      const total = sum(perFilter);
      out[c.name] = { what: c.what, total, ...(perFilter.length > 1 ? { filters: perFilter } : {}) };
      const row = (label: string, filter: string, x: RequestCount) =>
        `| ${label} | ${filter} | ${x.vm_entries} | ${x.hostcalls} | ${kinds(x.by_kind)} | ${countOf(x.values_by_kind)} | ${x.bytes_to_host} / ${x.bytes_to_module} | ${x.shared_reads} / ${x.shared_cas_writes}${x.shared_plain_writes ? ` (+${x.shared_plain_writes} plain)` : ''} |`;
      if (perFilter.length === 1) lines.push(row(c.name, perFilter[0].filter, total));
      else {
        for (const f of perFilter) lines.push(row(c.name, f.filter, f));
        lines.push(row(c.name, '**total**', total));
      }
    }
    console.log(lines.join('\n'));
    return { note: 'one request, after two warm-up requests, per configuration of harness/bench/envoy/configs.ts; counted on harness/host', modules: Object.fromEntries(configs.flatMap((c) => c.wasm).map((w) => [w.name ?? w.rootId, path.relative(projectRoot, w.wasm)])), skipped, configurations: out };
  },
};
