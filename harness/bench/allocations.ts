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
import { buildTarget, isStale, listTargets, newest, projectRoot } from '../build.ts';
import type { WasmEmulator } from '../host/emulator.ts';
import type { BenchConfig } from './envoy/configs.ts';
import { hostConfigurations, loadFilter, requestSender, type ChainFilter } from './hostcalls.ts';
import { round, type BenchSuite } from './report.ts';

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
function countAllocations(file: string, out: string): void {
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
    // Built again only when its sources changed (buildTarget's depfile), as `npm run build` does.
    const named = { ...t, outFile: path.relative(projectRoot, path.join(OUT, `${t.name}.named.wasm`)) };
    if (isStale(named)) await buildTarget(t, { outFile: named.outFile, debug: true });
    const counting = path.join(OUT, `${t.name}.wasm`);
    const source = path.join(projectRoot, named.outFile);
    if (newest(counting) < newest(source)) countAllocations(source, counting);
    out[t.name] = counting;
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

async function countAllocationsOf(c: BenchConfig, modules: Record<string, string>, jwks: string): Promise<Counted[]> {
  const chain: ChainFilter[] = [];
  try {
    for (const spec of c.wasm) {
      const wasm = modules[targetOf(spec.wasm)];
      chain.push({ spec, emu: await loadFilter(spec, jwks, { wasm }) });
    }
    const next = requestSender(c, chain);
    for (let i = 0; i < WARMUP; i++) next();
    const before = chain.map((f) => globals(f.emu));
    for (let i = 0; i < COUNTED; i++) next();
    if (chain.some((f) => f.emu.vmFailed)) throw new Error(`allocations: a VM of ${c.name} failed`);
    return chain.map((f, i) => {
      const after = globals(f.emu);
      // Unsigned 32-bit counters: the difference wraps correctly.
      return { filter: f.spec.name ?? f.spec.rootId, allocations: ((after.count - before[i].count) >>> 0) / COUNTED, bytes: ((after.bytes - before[i].bytes) >>> 0) / COUNTED };
    });
  } finally {
    for (const f of chain) f.emu.close();
  }
}

const fixed = (x: number) => round(x, 2);
/** The build target of a module path (`build/jwt-auth.wasm` → `jwt-auth`). */
const targetOf = (wasm: string) => path.basename(wasm, '.wasm');

export const suite: BenchSuite = {
  name: 'allocations',
  description: 'objects and bytes the modules allocate per request of each Envoy bench configuration with our filters, counted on the host',
  async run() {
    const modules = await countingModules();
    // Uncached configurations: a token of its own for every request sent.
    const all = await hostConfigurations(WARMUP + COUNTED + 10);
    const jwks = all.jwks;
    const configs = all.configs.filter((c) => c.side === 'ours' && c.wasm.length > 0 && c.wasm.every((w) => targetOf(w.wasm) in modules));
    const out: Record<string, unknown> = {};
    const lines = ['| configuration | filter | allocations / request | bytes / request |', '|---|---|---|---|'];
    for (const c of configs) {
      const exact = await countAllocationsOf(c, modules, jwks);
      const total = { allocations: fixed(exact.reduce((a, f) => a + f.allocations, 0)), bytes: fixed(exact.reduce((a, f) => a + f.bytes, 0)) };
      const counted = exact.map((f) => ({ ...f, allocations: fixed(f.allocations), bytes: fixed(f.bytes) }));
      out[c.name] = { what: c.what, total, ...(counted.length > 1 ? { filters: counted } : {}) };
      if (counted.length > 1) for (const f of counted) lines.push(`| ${c.name} | ${f.filter} | ${f.allocations} | ${f.bytes} |`);
      lines.push(`| ${c.name} | ${counted.length > 1 ? '**total**' : counted[0].filter} | ${total.allocations} | ${total.bytes} |`);
    }
    console.log(lines.join('\n'));
    return { note: `mean over ${COUNTED} requests after ${WARMUP} (and the configuration's prepare requests), per configuration of harness/bench/envoy/configs.ts with our modules; counted on harness/host in builds with names (.cache/bench/allocations)`, configurations: out };
  },
};
