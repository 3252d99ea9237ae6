/**
 * `npm run bench crypto`: JWS signature verification in build/test/crypto.wasm against
 * node:crypto, both timed in the same run, written to bench/crypto.json as
 * `{ "<alg>": { "wasm_us", "node_us", "ratio" } }` with ratio = wasm µs / node µs.
 *
 * Cases come from every file of harness/bench/crypto/ but case.ts (each exports
 * `cases: CryptoBenchCase[]`). Wasm and node run in alternating rounds so that load from
 * other processes hits both alike; each figure is the median round.
 *
 * The module is built like every other: asconfig.json enables Wasm SIMD for all, so the
 * vector paths of RSA and SHA-256 are the ones measured. CRYPTO_WASM names another build
 * to measure instead (harness/crypto/wasm.ts); a build without SIMD is said so on the
 * console, since its RSA and SHA-256 run the scalar paths.
 */
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { projectRoot } from '../build.ts';
import { loadCryptoModule, type CryptoModule } from '../crypto/wasm.ts';
import type { CryptoBenchCase } from './crypto/case.ts';
import { median, round, type BenchSuite } from './report.ts';

const ROUNDS = 9;
const ROUND_MS = 40;

async function loadCases(): Promise<CryptoBenchCase[]> {
  const dir = path.join(projectRoot, 'harness', 'bench', 'crypto');
  const cases: CryptoBenchCase[] = [];
  for (const file of (await readdir(dir)).sort()) {
    if (!file.endsWith('.ts') || file === 'case.ts') continue;
    const mod = await import(pathToFileURL(path.join(dir, file)).href);
    if (Array.isArray(mod.cases)) cases.push(...mod.cases);
  }
  return cases;
}

/** Calls per round so that a round lasts about ROUND_MS. */
function calibrate(fn: () => boolean): number {
  let calls = 0;
  const t0 = performance.now();
  while (performance.now() - t0 < ROUND_MS / 2 || calls < 5) {
    fn();
    calls++;
  }
  return Math.max(5, Math.round((calls * ROUND_MS) / (performance.now() - t0)));
}

function timeRound(fn: () => boolean, calls: number): number {
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < calls; i++) fn();
  return Number(process.hrtime.bigint() - t0) / 1e3 / calls;
}

async function measure(wasm: CryptoModule, cases: CryptoBenchCase[], report: Record<string, unknown>) {
  for (const c of cases) {
    const { wasm: w, node: n } = c.setup(wasm);
    if (!w()) throw new Error(`${c.alg}: the wasm verification does not accept its own signature`);
    if (!n()) throw new Error(`${c.alg}: node:crypto does not accept its own signature`);
    // Warm up: Liftoff to TurboFan for wasm, the JIT for node.
    calibrate(w);
    calibrate(n);
    const wc = calibrate(w);
    const nc = calibrate(n);
    const ws: number[] = [];
    const ns: number[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      ws.push(timeRound(w, wc));
      ns.push(timeRound(n, nc));
    }
    const wasmUs = median(ws);
    const nodeUs = median(ns);
    report[c.alg] = { wasm_us: round(wasmUs, 2), node_us: round(nodeUs, 2), ratio: round(wasmUs / nodeUs, 2) };
    console.log(`${c.alg.padEnd(12)} wasm ${wasmUs.toFixed(2)} µs  node ${nodeUs.toFixed(2)} µs  ratio ${(wasmUs / nodeUs).toFixed(2)}`);
  }
}

export const suite: BenchSuite = {
  name: 'crypto',
  description: 'JWS verification in build/test/crypto.wasm vs node:crypto (µs per verification, ratio = wasm/node)',
  async run() {
    const cases = await loadCases();
    const report: Record<string, unknown> = {};
    const wasm = loadCryptoModule();
    if (typeof wasm.exports.simd_enabled === 'function' && wasm.call('simd_enabled') !== 1) {
      console.log('note: this crypto module was built without Wasm SIMD (scalar RSA and SHA-256 paths)');
    }
    await measure(wasm, cases, report);
    return report;
  },
};
