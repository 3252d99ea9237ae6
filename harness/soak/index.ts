/**
 * The soak (`npm run soak`, test/integration/soak.test.ts): envoy/mesh.yaml on Envoy with
 * the demo services, driven by wrk (wrk.ts) with a mix of requests that takes each filter
 * down its hot and denial paths (traffic.ts), and a trickle of gRPC calls beside it; every
 * few seconds Envoy's RSS and each Wasm VM's linear memory are sampled (memory.ts).
 *
 * A soak passes when, after the warm-up (the first `warmupRequests` requests), Envoy's RSS
 * and every VM's memory stay within `bounds` of their values at the end of the warm-up;
 * when Envoy logged no Wasm error (`[error]` or `[critical]` from its `wasm` logger: a trap
 * is `Function: proxy_on_... failed: Uncaught RuntimeError: ...`) and kept its VMs
 * (`wasm.envoy.wasm.runtime.v8.active` and `.created` unchanged, no `vm_reload`).
 *
 * The soak runs a copy of envoy/mesh.yaml whose edge rate limit (1,000/s, bursts of 2,000)
 * is raised to `edgeLimit` a second: at the mesh's own limit most requests of a soak would
 * stop at the first filter, and the other filters would see 1,000 a second. The edge
 * limiter still decides every request (allowed); its denial path is the same code that
 * denies the anonymous tier, which the mix hits.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { request } from 'undici';
import { startDemoServices } from '../demo/index.ts';
import { combineBootstrap } from '../envoy/combine.ts';
import { callProject, projectClient } from '../demo/projects.ts';
import { mintDemoToken } from '../demo/token.ts';
import { envoyAvailable, envoyVersion } from '../envoy/binary.ts';
import { readConfigFile } from '../envoy/config-file.ts';
import { startEnvoy, type EnvoyProcess } from '../envoy/runner.ts';
import { memoryOwners, rssBytes, wasmMemories, WASM_PAGE } from './memory.ts';
import { soakTraffic, wrkScript } from './traffic.ts';
import { ensureWrk, runWrk, type WrkResult } from './wrk.ts';

export interface SoakBounds {
  /** Envoy's RSS may exceed its value at the end of the warm-up by at most this many MiB. */
  rssMiB: number;
  /** Each VM's linear memory may exceed its size at the end of the warm-up by at most this many 64 KiB pages. */
  vmPages: number;
}

/**
 * The bounds of `npm run soak` and of its short run in the tests. AssemblyScript's
 * allocator grows a memory by doubling it when no free block fits, and its incremental
 * collector leaves garbage for a while, so a light filter's 2-page heap may double once
 * after the warm-up (seen on a busy machine at 8,000 and 126,000 requests, flat after);
 * a heap that keeps growing doubles again, past 4 pages.
 */
export const SOAK_BOUNDS: SoakBounds = { rssMiB: 16, vmPages: 4 };

export interface SoakOptions {
  /** Requests through Envoy (wrk's and the gRPC calls), default 10^6; the run ends when Envoy has counted them. */
  requests?: number;
  /** The run ends after this many seconds at most; default one per 500 requests, at least 60. */
  maxSeconds?: number;
  /** Requests after which memory must stay flat; default a tenth of `requests`. */
  warmupRequests?: number;
  bounds?: SoakBounds;
  /** Envoy's workers, default 2. */
  concurrency?: number;
  /** wrk's connections (default 64) and threads (default 2). */
  connections?: number;
  threads?: number;
  /** Seconds between memory samples, default 5. */
  sampleSeconds?: number;
  /** Requests a second the edge rate limit allows in the soak's copy of the bootstrap (bursts of twice that), default 10^6. */
  edgeLimit?: number;
  /** The repository (envoy/mesh.yaml, build/*.wasm), default `process.cwd()`. */
  cwd?: string;
  /** Its filters as one entry of the mesh module (harness/envoy/combine.ts). */
  oneModule?: boolean;
  /** wrk's path, default `ensureWrk()`. */
  wrk?: string;
  log?: (line: string) => void;
}

/** Envoy's memory at one moment of the run. */
export interface MemorySample {
  /** Seconds since the load started (negative: before). */
  at_s: number;
  /** Requests Envoy had counted (`http.ingress_http.downstream_rq_total`). */
  requests: number;
  rss_mib: number;
  /** Each VM's linear memory in 64 KiB pages, by the address of its memory (report's `memory.vms`). */
  vm_pages: number[];
}

export interface SoakReport {
  date: string;
  envoy: string;
  /** The machine's 1-minute load average before and after. */
  load_average: { start: number; end: number };
  options: Required<Omit<SoakOptions, 'cwd' | 'wrk' | 'log' | 'bounds' | 'oneModule'>>;
  traffic: Array<{ name: string; weight_per_mille: number; expect: string }>;
  duration_s: number;
  /** Requests Envoy counted, wrk's answers, and wrk's answers a second. */
  requests: { envoy: number; wrk: number; wrk_per_s: number };
  statuses: Record<string, number>;
  wrk_errors: WrkResult['errors'];
  latency_ms: { p50: number; p99: number; max: number };
  /** gRPC calls beside wrk (HTTP/2), by status name. */
  grpc: Record<string, number>;
  /**
   * The filters' series that moved, as `/stats/prometheus` names them (`name{labels}`:
   * Envoy extracts the labels the filters write into their metric names), and the
   * listener's counters from `/stats`.
   */
  stats: Record<string, number>;
  memory: {
    bounds: SoakBounds;
    /** Start address of each VM's memory, the order of `vm_pages`. */
    vms: string[];
    /** The plugin each VM runs, read from its memory (`memoryOwners`; '' when not told). */
    vm_plugins: string[];
    warmup: MemorySample;
    end: MemorySample;
    /** Largest RSS after the warm-up, less the RSS at its end. */
    rss_growth_mib: number;
    /** Largest growth of one VM's memory after the warm-up, in pages. */
    vm_growth_pages: number;
    /** This process (the demo services, the gRPC client, wrk's driver), for comparison. */
    services_rss_mib: { warmup: number; end: number };
    samples: MemorySample[];
  };
  wasm: {
    /** Lines of Envoy's log from its wasm logger at error or critical (the first 20), and how many. */
    errors: string[];
    error_count: number;
    /** Lines at warning (plugin logs): the first 5, and how many. */
    warnings: string[];
    warning_count: number;
    active_vms: { start: number; end: number };
    created_vms: { start: number; end: number };
    vm_reloads: number;
  };
  /** Why the soak failed; empty when it passed. */
  failures: string[];
}

const MiB = 1024 * 1024;
const round = (x: number, digits = 1): number => Number(x.toFixed(digits));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The counters and gauges of Envoy's `/stats` (text: `name: value` lines; histograms left out). */
async function envoyStats(admin: string, filter?: string): Promise<Map<string, number>> {
  const url = `http://${admin}/stats${filter ? `?filter=${encodeURIComponent(filter)}` : ''}`;
  const text = await (await request(url)).body.text();
  const out = new Map<string, number>();
  for (const m of text.matchAll(/^([^:\s]+): (\d+)$/gm)) out.set(m[1], Number(m[2]));
  return out;
}

/** The `config` (envoy.extensions.wasm.v3.PluginConfig) of each wasm HTTP filter of the first listener. */
function wasmPlugins(doc: Record<string, any>): Array<Record<string, any>> {
  const hcm = doc.static_resources.listeners[0].filter_chains[0].filters.find((f: any) => f.name === 'envoy.filters.network.http_connection_manager');
  return (hcm?.typed_config?.http_filters ?? []).map((f: any) => f.typed_config?.config).filter((c: any) => c?.vm_config);
}

/** envoy/mesh.yaml (parsed) with the `rate-limit-edge` plugin allowing `perSecond` requests a second, bursts of twice that. */
function soakBootstrap(cwd: string, perSecond: number): Record<string, any> {
  const doc = readConfigFile(path.join(cwd, 'envoy/mesh.yaml')) as Record<string, any>;
  const edge = wasmPlugins(doc).find((c) => c.name === 'rate-limit-edge');
  if (!edge) throw new Error('envoy/mesh.yaml has no rate-limit-edge plugin to raise');
  const configuration = edge.configuration;
  const plugin = JSON.parse(configuration.value);
  for (const rule of plugin.rules) rule.limits = [{ max_tokens: 2 * perSecond, tokens_per_fill: perSecond, fill_interval: '1s' }];
  configuration.value = JSON.stringify(plugin);
  return doc;
}

/**
 * For `memoryOwners`: each plugin's name → the lines of its configuration text (trimmed,
 * 16 characters or more) that no other plugin's configuration contains. A VM keeps its
 * configuration as it got it (proxy_on_configure), and no request carries such a line.
 */
function pluginMarkers(doc: Record<string, any>): Map<string, string[]> {
  const texts = wasmPlugins(doc).map((c): [string, string] => [String(c.name), String(c.configuration?.value ?? '')]);
  const unique = (name: string, text: string) =>
    text.split('\n').map((l) => l.trim()).filter((l) => l.length >= 16 && !texts.some(([other, t]) => other !== name && t.includes(l)));
  return new Map(texts.map(([name, text]) => [name, unique(name, text)]));
}

/**
 * Unary gRPC calls through Envoy (HTTP/2, h2c) until `done()`, about 100 a second: a read
 * with a valid token (OK), one without (UNAUTHENTICATED from jwt-auth), a CreateProject
 * without project:create (PERMISSION_DENIED). Resolves with the calls by status name.
 */
async function grpcTrickle(listener: string, done: () => boolean): Promise<Record<string, number>> {
  const client = projectClient(listener);
  const token = `Bearer ${await mintDemoToken({ sub: 'soak-grpc', permissions: ['project:read'] })}`;
  const calls = [
    () => callProject(client, 'ListUserProjects', { limit: 1 }, { authorization: token }),
    () => callProject(client, 'ListUserProjects', { limit: 1 }),
    () => callProject(client, 'CreateProject', { name: 'soak' }, { authorization: token }),
  ];
  const out: Record<string, number> = {};
  try {
    for (let i = 0; !done(); i++) {
      let status = 'OK';
      await calls[i % calls.length]().catch((e: grpc.ServiceError) => (status = grpc.status[e.code] ?? String(e.code)));
      out[status] = (out[status] ?? 0) + 1;
      await sleep(10);
    }
  } finally {
    client.close();
  }
  return out;
}

/** Runs a soak; see the module's comment. Throws only when it cannot start (no Envoy, no wrk). */
export async function runSoak(opts: SoakOptions = {}): Promise<SoakReport> {
  const log = opts.log ?? (() => {});
  const cwd = opts.cwd ?? process.cwd();
  const requests = opts.requests ?? 1_000_000;
  const options: SoakReport['options'] = {
    requests,
    maxSeconds: opts.maxSeconds ?? Math.max(60, Math.ceil(requests / 500)),
    warmupRequests: opts.warmupRequests ?? Math.floor(requests / 10),
    concurrency: opts.concurrency ?? 2,
    connections: opts.connections ?? 64,
    threads: opts.threads ?? 2,
    sampleSeconds: opts.sampleSeconds ?? 5,
    edgeLimit: opts.edgeLimit ?? 1_000_000,
  };
  const bounds = opts.bounds ?? SOAK_BOUNDS;
  const envoy = envoyAvailable();
  if (!envoy.ok) throw new Error(envoy.reason);
  const found = opts.wrk ? { path: opts.wrk } : ensureWrk(log);
  if (!found.path) throw new Error(found.reason);
  const wrk = found.path;
  const classes = await soakTraffic();

  const separate = soakBootstrap(cwd, options.edgeLimit);
  const bootstrap = opts.oneModule ? combineBootstrap(separate).bootstrap : separate;
  const { stop: stopServices } = await startDemoServices(bootstrap, { portOverride: 0 });
  const wasmErrors: string[] = [];
  const wasmWarnings: string[] = [];
  let errorCount = 0;
  let warningCount = 0;
  const onOutput = (line: string): void => {
    if (!line.includes('][wasm]')) return;
    if (/\[(error|critical)\]\[wasm\]/.test(line)) {
      if (errorCount++ < 20) wasmErrors.push(line.trim());
    } else if (line.includes('[warning][wasm]') && warningCount++ < 5) wasmWarnings.push(line.trim());
  };
  let proxy: EnvoyProcess;
  try {
    proxy = await startEnvoy({ bootstrap, cwd, portOverride: 0, concurrency: options.concurrency, logLevel: 'warn', onOutput, availability: envoy });
  } catch (e) {
    await stopServices();
    throw e;
  }
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'mesh-filters-soak-'));
  const script = path.join(tmp, 'mix.lua');
  writeFileSync(script, wrkScript(classes));
  const pid = proxy.pid;
  const admin = proxy.adminAddress;
  const listener = proxy.listeners.ingress ?? Object.values(proxy.listeners)[0];
  log(`Envoy ${envoy.version ?? envoyVersion(envoy) ?? ''} (pid ${pid}, ${options.concurrency} workers) on ${listener}; wrk ${options.threads} threads, ${options.connections} connections; ${requests} requests, warm-up ${options.warmupRequests}`);

  const failures: string[] = [];
  const samples: MemorySample[] = [];
  const vmAddresses: string[] = [];
  const servicesRss: number[] = [];
  const loadStart = os.loadavg()[0];
  const counted = async (): Promise<number> => (await envoyStats(admin, '^http\\.ingress_http\\.downstream_rq_total$')).get('http.ingress_http.downstream_rq_total') ?? 0;
  let t0 = Date.now();
  const sample = async (): Promise<MemorySample> => {
    const vms = wasmMemories(pid);
    for (const a of vms.keys()) if (!vmAddresses.includes(a)) vmAddresses.push(a);
    const s: MemorySample = {
      at_s: round((Date.now() - t0) / 1000),
      requests: await counted(),
      rss_mib: round(rssBytes(pid) / MiB),
      vm_pages: vmAddresses.map((a) => (vms.get(a) ?? 0) / WASM_PAGE),
    };
    samples.push(s);
    servicesRss.push(round(process.memoryUsage().rss / MiB));
    return s;
  };

  let report: SoakReport;
  // Stopped on every way out: Envoy, the services, wrk.
  let load: ReturnType<typeof runWrk> | undefined;
  try {
    const wasmBefore = await envoyStats(admin, '^wasm\\.');
    await sample();
    // Before any request: a VM's memory then holds its configuration and no traffic.
    const owners = memoryOwners(pid, wasmMemories(pid), pluginMarkers(bootstrap));
    const vmPlugins = vmAddresses.map((a) => owners.get(a) ?? '');
    t0 = Date.now();
    load = runWrk({ wrk, url: `http://${listener}`, script, threads: options.threads, connections: options.connections, seconds: options.maxSeconds });
    let finished = false;
    const ended = load.result.finally(() => void (finished = true));
    const grpcCalls = grpcTrickle(listener, () => finished);
    let exited: string | undefined;
    void proxy.exited.then((code) => void (exited = String(code)));
    let nextSample = Date.now() + options.sampleSeconds * 1000;
    while (!finished) {
      await sleep(250);
      if (exited !== undefined) {
        failures.push(`Envoy exited (${exited}) during the soak`);
        load.stop();
        break;
      }
      if ((await counted()) >= requests) load.stop();
      if (Date.now() >= nextSample && !finished) {
        const s = await sample();
        nextSample += options.sampleSeconds * 1000;
        log(`  ${String(s.at_s).padStart(6)} s  ${String(s.requests).padStart(8)} requests  RSS ${s.rss_mib} MiB  VM pages ${s.vm_pages.reduce((a, b) => a + b, 0)} in ${s.vm_pages.length} VMs`);
      }
    }
    const wrkResult = await ended;
    const grpcResult = await grpcCalls;
    const end = exited === undefined ? await sample() : samples[samples.length - 1];
    const wasmAfter = exited === undefined ? await envoyStats(admin, '^wasm\\.') : wasmBefore;
    const stats: Record<string, number> = {};
    if (exited === undefined) {
      for (const [name, n] of await envoyStats(admin, '^http\\.ingress_http\\.downstream_(rq_([1-5]xx|total)|cx_total)$')) stats[name] = n;
      const prometheus = await (await request(`http://${admin}/stats/prometheus`)).body.text();
      for (const m of prometheus.matchAll(/^((?:edge_rate_limit|rate_limit|jwt_auth|circuit_breaker|retry)_\w+)(\{[^}]*\})? (\d+)$/gm)) {
        if (Number(m[3]) > 0) stats[`${m[1]}${m[2] === '{}' ? '' : m[2] ?? ''}`] = Number(m[3]);
      }
    }

    // Memory after the warm-up.
    const warmIndex = samples.findIndex((s) => s.requests >= options.warmupRequests);
    const warmup = samples[warmIndex];
    let rssGrowth = 0;
    let vmGrowth = 0;
    if (!warmup || warmup === end) {
      failures.push(`the run ended before memory was sampled after the warm-up (${options.warmupRequests} requests; ${end.requests} counted)`);
    } else {
      const after = samples.slice(warmIndex + 1);
      rssGrowth = round(Math.max(...after.map((s) => s.rss_mib)) - warmup.rss_mib);
      if (rssGrowth > bounds.rssMiB) failures.push(`Envoy's RSS grew ${rssGrowth} MiB after the warm-up (${warmup.rss_mib} MiB at ${warmup.requests} requests), more than ${bounds.rssMiB} MiB`);
      vmAddresses.forEach((address, i) => {
        const grown = Math.max(...after.map((s) => s.vm_pages[i])) - warmup.vm_pages[i];
        vmGrowth = Math.max(vmGrowth, grown);
        if (grown > bounds.vmPages) failures.push(`the memory of a ${vmPlugins[i] || 'Wasm'} VM (${address}) grew ${grown} pages after the warm-up (${warmup.vm_pages[i]} pages), more than ${bounds.vmPages}`);
      });
    }
    const active = { start: wasmBefore.get('wasm.envoy.wasm.runtime.v8.active') ?? 0, end: wasmAfter.get('wasm.envoy.wasm.runtime.v8.active') ?? 0 };
    const created = { start: wasmBefore.get('wasm.envoy.wasm.runtime.v8.created') ?? 0, end: wasmAfter.get('wasm.envoy.wasm.runtime.v8.created') ?? 0 };
    let reloads = 0;
    for (const [name, n] of wasmAfter) if (/\.vm_reload(_failure|_success)?$/.test(name)) reloads += n;
    if (vmAddresses.length !== active.start || samples.some((s) => s.vm_pages.some((p) => p === 0))) {
      failures.push(`${vmAddresses.length} Wasm memories in /proc/${pid}/maps for ${active.start} VMs, or one went away: harness/soak/memory.ts's rule does not hold on this Envoy`);
    }
    if (active.end !== active.start || created.end !== created.start) failures.push(`Envoy's Wasm VMs changed: active ${active.start} -> ${active.end}, created ${created.start} -> ${created.end}`);
    if (reloads > 0) failures.push(`${reloads} Wasm VM reloads`);
    if (errorCount > 0) failures.push(`${errorCount} Wasm errors in Envoy's log, the first: ${wasmErrors[0]}`);

    report = {
      date: new Date().toISOString(),
      envoy: envoy.version ?? envoyVersion(envoy) ?? 'unknown',
      load_average: { start: round(loadStart, 2), end: round(os.loadavg()[0], 2) },
      options,
      traffic: classes.map((c) => ({ name: c.name, weight_per_mille: c.weight, expect: c.expect })),
      duration_s: round(wrkResult.duration_us / 1e6),
      requests: { envoy: end.requests, wrk: wrkResult.requests, wrk_per_s: Math.round(wrkResult.requests / (wrkResult.duration_us / 1e6)) },
      statuses: wrkResult.statuses,
      wrk_errors: wrkResult.errors,
      latency_ms: { p50: round(wrkResult.latency_us.p50 / 1000, 2), p99: round(wrkResult.latency_us.p99 / 1000, 2), max: round(wrkResult.latency_us.max / 1000, 2) },
      grpc: grpcResult,
      stats,
      memory: {
        bounds,
        vms: vmAddresses,
        vm_plugins: vmPlugins,
        warmup: warmup ?? end,
        end,
        rss_growth_mib: rssGrowth,
        vm_growth_pages: vmGrowth,
        services_rss_mib: { warmup: servicesRss[warmIndex] ?? 0, end: servicesRss[servicesRss.length - 1] },
        samples,
      },
      wasm: { errors: wasmErrors, error_count: errorCount, warnings: wasmWarnings, warning_count: warningCount, active_vms: active, created_vms: created, vm_reloads: reloads },
      failures,
    };
  } finally {
    load?.stop();
    await proxy.stop();
    await stopServices();
    rmSync(tmp, { recursive: true, force: true });
  }
  return report;
}

/** The report for a reader, line by line. */
export function formatSoakReport(r: SoakReport): string[] {
  const m = r.memory;
  const pages = (s: MemorySample) => s.vm_pages.reduce((a, b) => a + b, 0);
  const byStatus = Object.entries(r.statuses).sort(([a], [b]) => Number(a) - Number(b)).map(([code, n]) => `${code} ${n}`).join(', ');
  return [
    `Envoy ${r.envoy}, ${r.options.concurrency} workers; load average ${r.load_average.start} -> ${r.load_average.end}`,
    `${r.requests.wrk} wrk requests in ${r.duration_s} s: ${r.requests.wrk_per_s}/s (latency p50 ${r.latency_ms.p50} ms, p99 ${r.latency_ms.p99} ms); ${r.requests.envoy} requests counted by Envoy`,
    `statuses: ${byStatus}; wrk errors: ${Object.entries(r.wrk_errors).map(([k, n]) => `${k} ${n}`).join(', ')}`,
    `gRPC: ${Object.entries(r.grpc).map(([k, n]) => `${k} ${n}`).join(', ')}`,
    `bounds: RSS within ${m.bounds.rssMiB} MiB of its value after the warm-up (${r.options.warmupRequests} requests); each VM's memory within ${m.bounds.vmPages} pages of 64 KiB of its size then`,
    `Envoy RSS: ${m.warmup.rss_mib} MiB after the warm-up (${m.warmup.requests} requests, ${m.warmup.at_s} s), ${m.end.rss_mib} MiB at the end; growth ${m.rss_growth_mib} MiB`,
    `VM memory: ${m.vms.length} VMs, ${pages(m.warmup)} pages after the warm-up, ${pages(m.end)} at the end; largest growth ${m.vm_growth_pages} pages`,
    ...m.vms.map((a, i) => `  ${(m.vm_plugins[i] || '-').padEnd(16)} ${a}  ${m.warmup.vm_pages[i]} -> ${m.end.vm_pages[i]} pages`),
    `demo services (this process): ${m.services_rss_mib.warmup} -> ${m.services_rss_mib.end} MiB`,
    `Wasm: ${r.wasm.error_count} errors, ${r.wasm.warning_count} warnings in Envoy's log; VMs active ${r.wasm.active_vms.start} -> ${r.wasm.active_vms.end}, created ${r.wasm.created_vms.start} -> ${r.wasm.created_vms.end}, reloads ${r.wasm.vm_reloads}`,
    r.failures.length ? `FAILED:\n  ${r.failures.join('\n  ')}` : 'passed',
  ];
}
