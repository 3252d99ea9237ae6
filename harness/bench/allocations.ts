/**
 * `npm run bench -- allocations`: how many objects (and bytes) the modules allocate per
 * request of each Envoy bench configuration with our filters (harness/bench/envoy/configs.ts),
 * counted on the host. An allocation is the runtime's `__new` (every object, array, string
 * and buffer the AssemblyScript code makes); the allocator's and collector's work grows with
 * it, and the request path should make none it does not need (README "Standards").
 *
 * How: each filter and the mesh module are built again with their function names (asc
 * `--debug`, the same optimization) into .cache/bench/allocations/, and binaryen rewrites
 * `~lib/rt/tcms/__new` to add one to the exported globals `alloc_count` and its size to
 * `alloc_bytes` first. Each configuration's filters then run in chain order as in `npm run
 * bench -- hostcalls` (one emulator each, the request Envoy hands the first filter, the route's
 * response): after its `prepare` requests and `WARMUP` requests (caches filled, buffers and
 * arrays grown to their working size), `COUNTED` requests are counted and the mean per request
 * is reported, per filter and in all. Uncached-token configurations get a distinct token per
 * request. The figures are deterministic for a given build: a change that adds an allocation
 * to the request path shows as +1.00.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import binaryen from 'binaryen';
import { buildTarget, listTargets, projectRoot } from '../build.ts';
import { demoJwks } from '../demo/keys.ts';
import { mintDemoToken } from '../demo/token.ts';
import type { WasmEmulator } from '../host/emulator.ts';
import { configurations, type BenchConfig } from './envoy/configs.ts';
import { ALGS, makeKeys, tokenPool, type Alg } from './envoy/tokens.ts';
import { chainRequest, envoyRequest, loadFilter, type ChainFilter } from './hostcalls.ts';
import type { BenchSuite } from './report.ts';

/** Requests before counting. */
const WARMUP = 50;
/** Requests counted (the figures are their mean). */
const COUNTED = 200;
/** The modules counted: our filters and the mesh module (the bench's test modules are not). */
const TARGETS = ['jwt-auth', 'rate-limit', 'circuit-breaker', 'retry', 'mesh'];
const OUT = path.join(projectRoot, '.cache', 'bench', 'allocations');
/** The runtime's allocation entry (asconfig `runtime: minimal`). */
const NEW = '~lib/rt/tcms/__new';

/** Rewrites `file` so that `NEW` counts into the exported globals `alloc_count`/`alloc_bytes`. */
export function countAllocations(file: string, out: string): void {
  const m = binaryen.readBinary(readFileSync(file));
  try {
    // What asc emits (its defaults and asconfig's `simd`); `All` would write GC-era type forms.
    const F = binaryen.Features;
    m.setFeatures(F.MutableGlobals | F.SignExt | F.NontrappingFPToInt | F.BulkMemory | F.SIMD128);
    const fn = m.getFunction(NEW);
    if (!fn) throw new Error(`${path.basename(file)} has no ${NEW} (built without names, or another runtime)`);
    const info = binaryen.getFunctionInfo(fn);
    const add = (g: string, by: number) =>
      m.global.set(g, m.i32.add(m.global.get(g, binaryen.i32), by < 0 ? m.local.get(0, binaryen.i32) : m.i32.const(by)));
    for (const g of ['alloc_count', 'alloc_bytes']) {
      m.addGlobal(g, binaryen.i32, true, m.i32.const(0));
      m.addGlobalExport(g, g);
    }
    // __new(size, id): count, add the size, then the original body.
    const body = m.block(null, [add('alloc_count', 1), add('alloc_bytes', -1), info.body], info.results);
    m.removeFunction(NEW);
    m.addFunction(NEW, info.params, info.results, info.vars, body);
    if (!m.validate()) throw new Error(`${path.basename(file)}: the counting module does not validate`);
    writeFileSync(out, m.emitBinary());
  } finally {
    m.dispose();
  }
}

/** Builds the counting copy of each of `TARGETS`; returns the path of each by target name. */
async function countingModules(): Promise<Record<string, string>> {
  mkdirSync(OUT, { recursive: true });
  const targets = (await listTargets()).filter((t) => TARGETS.includes(t.name));
  const out: Record<string, string> = {};
  for (const t of targets) {
    const named = path.join(OUT, `${t.name}.named.wasm`);
    await buildTarget(t, { outFile: path.relative(projectRoot, named), debug: true });
    out[t.name] = path.join(OUT, `${t.name}.wasm`);
    countAllocations(named, out[t.name]);
  }
  return out;
}

interface Counted {
  filter: string;
  allocations: number;
  bytes: number;
}

const globals = (emu: WasmEmulator) => {
  const exports = emu.plugin.wasm.exports as Record<string, WebAssembly.Global>;
  return { count: Number(exports.alloc_count.value) >>> 0, bytes: Number(exports.alloc_bytes.value) >>> 0 };
};

async function countConfiguration(c: BenchConfig, modules: Record<string, string>, jwks: string): Promise<Counted[]> {
  const chain: ChainFilter[] = [];
  try {
    for (const spec of c.wasm) {
      const wasm = modules[path.basename(spec.wasm, '.wasm')];
      chain.push({ spec, emu: await loadFilter(spec, jwks, { wasm }) });
    }
    let n = 0;
    for (const p of c.prepare) chainRequest(c, chain, envoyRequest({ method: 'GET', path: p.path, headers: c.requests[0].headers }, n++), p.status);
    const next = () => chainRequest(c, chain, envoyRequest(c.requests[n % c.requests.length], n++), 200);
    for (let i = 0; i < WARMUP; i++) next();
    const before = chain.map((f) => globals(f.emu));
    for (let i = 0; i < COUNTED; i++) next();
    return chain.map((f, i) => {
      const after = globals(f.emu);
      // Unsigned 32-bit counters: the difference wraps correctly.
      return { filter: f.spec.name ?? f.spec.rootId, allocations: ((after.count - before[i].count) >>> 0) / COUNTED, bytes: ((after.bytes - before[i].bytes) >>> 0) / COUNTED };
    });
  } finally {
    for (const f of chain) f.emu.close();
  }
}

const fixed = (x: number) => Math.round(x * 100) / 100;

export const suite: BenchSuite = {
  name: 'allocations',
  description: 'objects and bytes the modules allocate per request of each Envoy bench configuration with our filters, counted on the host',
  async run() {
    const modules = await countingModules();
    const keys = await makeKeys();
    const tokens = Object.fromEntries(await Promise.all(ALGS.map(async (a) => [a, await keys.mint(a, 'cached-user')]))) as Record<Alg, string>;
    // Uncached configurations: a token of its own for every request sent.
    const pools = Object.fromEntries(await Promise.all(ALGS.map(async (a) => [a, await tokenPool(keys, a, WARMUP + COUNTED + 10)]))) as Record<Alg, string[]>;
    const meshToken = await mintDemoToken({ permissions: ['banking:read'] });
    const jwks = JSON.stringify(await demoJwks());
    const configs = configurations({ keys, tokens, pools, meshToken, meshJwksUri: () => 'http://127.0.0.1:9105/.well-known/jwks.json' })
      .filter((c) => c.side === 'ours' && c.wasm.length > 0 && c.wasm.every((w) => path.basename(w.wasm, '.wasm') in modules));
    const out: Record<string, unknown> = {};
    const lines = ['| configuration | filter | allocations / request | bytes / request |', '|---|---|---|---|'];
    for (const c of configs) {
      const counted = await countConfiguration(c, modules, jwks);
      const total = { allocations: fixed(counted.reduce((a, f) => a + f.allocations, 0)), bytes: fixed(counted.reduce((a, f) => a + f.bytes, 0)) };
      out[c.name] = { what: c.what, total, ...(counted.length > 1 ? { filters: counted.map((f) => ({ ...f, allocations: fixed(f.allocations), bytes: fixed(f.bytes) })) } : {}) };
      if (counted.length > 1) for (const f of counted) lines.push(`| ${c.name} | ${f.filter} | ${fixed(f.allocations)} | ${fixed(f.bytes)} |`);
      lines.push(`| ${c.name} | ${counted.length > 1 ? '**total**' : counted[0].filter} | ${total.allocations} | ${total.bytes} |`);
    }
    console.log(lines.join('\n'));
    return { note: `mean over ${COUNTED} requests after ${WARMUP} (and the configuration's prepare requests), per configuration of harness/bench/envoy/configs.ts with our modules; counted on harness/host in builds with names (.cache/bench/allocations)`, configurations: out };
  },
};
