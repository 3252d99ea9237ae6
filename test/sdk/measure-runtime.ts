/**
 * Chooses the AssemblyScript runtime by measurement (asconfig.json "runtime"): builds
 * the example filter and the SDK probe with each runtime into a temporary directory,
 * drives N request cycles through each with stub imports, and prints linear memory and
 * time per cycle. Run once, by hand: `npx tsx test/sdk/measure-runtime.ts [cycles]`.
 *
 * A cycle is what Envoy does per request: proxy_on_context_create, request headers,
 * response headers, proxy_on_done, proxy_on_log, proxy_on_delete. The probe cycle also
 * reads the whole request header map (host memory allocated, decoded, freed) and writes
 * it back, so that it makes garbage on every request. The heap module does the same
 * while its root holds 100 000 live objects (test/wasm/example/heap.ts).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import asc from 'assemblyscript/asc';
import { projectRoot } from '../../harness/build.ts';

const cycles = Number(process.argv[2] ?? 100_000);
const runtimes = ['incremental', 'minimal', 'stub'] as const;
const targets: { name: string; label?: string; entry: string; headers: string[][] }[] = [
  { name: 'test-example', entry: 'test/wasm/example/index.ts', headers: [[':path', '/'], [':method', 'GET']] },
  { name: 'test-sdk-probe', entry: 'test/wasm/example/probe.ts', headers: [[':path', '/'], ['x-probe', 'echo-all'], ['user-agent', 'curl/8'], ['accept', '*/*']] },
  // Built with the example's options; only the entry differs.
  { name: 'test-example', label: 'heap (100k live)', entry: 'test/wasm/example/heap.ts', headers: [[':path', '/'], ['user-agent', 'curl/8'], ['accept', '*/*']] },
];

const utf8 = new TextEncoder();
function serialize(pairs: string[][]): Uint8Array {
  const enc = pairs.map(([k, v]) => [utf8.encode(k!), utf8.encode(v!)] as const);
  let size = 4;
  for (const [k, v] of enc) size += 10 + k.length + v.length;
  const out = new Uint8Array(size);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, pairs.length, true);
  let pos = 4;
  for (const [k, v] of enc) { dv.setUint32(pos, k.length, true); dv.setUint32(pos + 4, v.length, true); pos += 8; }
  for (const [k, v] of enc) { out.set(k, pos); pos += k.length + 1; out.set(v, pos); pos += v.length + 1; }
  return out;
}

async function build(entry: string, target: string, runtime: string, outFile: string) {
  const { error, stderr } = await asc.main([
    entry, '--config', 'asconfig.json', '--target', target, '--baseDir', '.', '--runtime', runtime, '-o', outFile,
  ], {});
  if (error) throw new Error(`${target}/${runtime}: ${error.message} ${stderr}`);
}

function drive(file: string, headers: string[][]) {
  const module = new WebAssembly.Module(readFileSync(file));
  let ex!: Record<string, any>;
  const dv = () => new DataView((ex.memory as WebAssembly.Memory).buffer);
  const serialized = serialize(headers);
  const config = utf8.encode('counter=bench_requests_total\n');
  const copyOut = (data: Uint8Array, pp: number, sp: number) => {
    const ptr = data.length ? (ex.proxy_on_memory_allocate(data.length) as number) : 0;
    if (data.length) new Uint8Array((ex.memory as WebAssembly.Memory).buffer, ptr, data.length).set(data);
    dv().setUint32(pp, ptr, true);
    dv().setUint32(sp, data.length, true);
    return 0;
  };
  const stubs: Record<string, Function> = {
    proxy_log: () => 0,
    proxy_get_log_level: (p: number) => { dv().setUint32(p, 2, true); return 0; },
    proxy_set_effective_context: () => 0,
    proxy_set_tick_period_milliseconds: () => 0,
    proxy_get_property: () => 1,
    proxy_get_buffer_bytes: (_t: number, _s: number, _m: number, pp: number, sp: number) => copyOut(config, pp, sp),
    proxy_define_metric: (_t: number, _p: number, _l: number, r: number) => { dv().setUint32(r, 0, true); return 0; },
    proxy_increment_metric: () => 0,
    proxy_record_metric: () => 0,
    proxy_get_metric: () => 0,
    proxy_add_header_map_value: () => 0,
    proxy_replace_header_map_value: () => 0,
    proxy_set_header_map_pairs: () => 0,
    proxy_get_header_map_pairs: (_t: number, pp: number, sp: number) => copyOut(serialized, pp, sp),
    proxy_get_header_map_value: (_t: number, _k: number, _kl: number, pp: number, sp: number) => copyOut(utf8.encode('echo-all'), pp, sp),
  };
  const env = new Proxy(stubs, { get: (t, n: string) => t[n] ?? (() => 1) });
  const instance = new WebAssembly.Instance(module, { env, wasi_snapshot_preview1: env });
  ex = instance.exports as Record<string, any>;
  ex._initialize();
  ex.proxy_on_context_create(1, 0);
  if (ex.proxy_on_configure(1, config.length) !== 1) throw new Error('configure failed');
  const cycle = (id: number) => {
    ex.proxy_on_context_create(id, 1);
    ex.proxy_on_request_headers(id, headers.length, 1);
    ex.proxy_on_response_headers(id, 1, 1);
    ex.proxy_on_done(id);
    ex.proxy_on_log(id);
    ex.proxy_on_delete(id);
  };
  let id = 2;
  for (let i = 0; i < 2000; i++) cycle(id++); // warm-up: JIT and heap steady state
  const warmBytes = (ex.memory as WebAssembly.Memory).buffer.byteLength;
  const started = process.hrtime.bigint();
  for (let i = 0; i < cycles; i++) cycle(id++);
  const nanos = Number(process.hrtime.bigint() - started);
  return { warmBytes, endBytes: (ex.memory as WebAssembly.Memory).buffer.byteLength, nsPerCycle: nanos / cycles };
}

const dir = mkdtempSync(path.join(os.tmpdir(), 'sdk-runtime-'));
process.chdir(projectRoot);
try {
  console.log(`${cycles} request cycles after 2000 warm-up cycles`);
  console.log('module            runtime      wasm KiB  memory after warm-up -> after run   ns/cycle');
  for (const t of targets) {
    for (const runtime of runtimes) {
      const label = t.label ?? t.name;
      const out = path.join(dir, `${label.replace(/\W+/g, '-')}-${runtime}.wasm`);
      await build(t.entry, t.name, runtime, out);
      const size = readFileSync(out).length;
      const r = drive(out, t.headers);
      console.log(
        `${label.padEnd(17)} ${runtime.padEnd(12)} ${(size / 1024).toFixed(1).padStart(8)}  ` +
        `${(r.warmBytes / 1024).toFixed(0).padStart(8)} KiB -> ${(r.endBytes / 1024).toFixed(0).padStart(8)} KiB  ` +
        `${r.nsPerCycle.toFixed(0).padStart(8)}`,
      );
    }
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
