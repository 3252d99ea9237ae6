/**
 * Differential fuzzer of the wasm JSON parser (build/test/json.wasm) against V8: seeded
 * random documents and their mutations, each checked by `json-oracle.ts`. A trap or a
 * disagreement is a failure; each failure is written as a reproducer (the exact input
 * bytes, `.json`, and what went wrong, `.txt`) under `outDir`.
 *
 * Used by `npm run fuzz json --seconds N` and, with a short budget, by test/json/.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { EDGE_CASES, Rng, generateDocument, mutate } from './json-gen.ts';
import { disagreement, expectationFor, type Limits } from './json-oracle.ts';
import { loadJsonModule, type JsonModule } from './json-module.ts';

export interface JsonFuzzOptions {
  /** Time budget; the run also stops after `maxInputs`. */
  seconds?: number;
  maxInputs?: number;
  seed?: number;
  /** Where reproducers go (default build/fuzz/). */
  outDir?: string;
  mutationsPerDocument?: number;
  /** Stop after this many failures. */
  maxFailures?: number;
  log?: (line: string) => void;
}

export interface JsonFuzzFailure {
  problem: string;
  limits: Limits;
  input: Uint8Array;
  file?: string;
}

export interface JsonFuzzReport {
  seed: number;
  inputs: number;
  accepted: number;
  rejected: Record<string, number>;
  traps: number;
  seconds: number;
  failures: JsonFuzzFailure[];
}

export const DEFAULT_LIMITS: Limits = { maxDepth: 64, maxBytes: 1 << 20 };

/** Checks one input; returns the problem or null. Replaces `module` after a trap. */
export class JsonChecker {
  module: JsonModule = loadJsonModule();
  traps = 0;

  check(input: Uint8Array, limits: Limits = DEFAULT_LIMITS): { problem: string | null; outcome: string } {
    const expected = expectationFor(input, limits);
    let actual;
    try {
      actual = this.module.parse(input, limits);
    } catch (e) {
      this.traps++;
      this.module = loadJsonModule(); // a trapped instance is not reused
      return { problem: `trap: ${(e as Error).message}`, outcome: 'trap' };
    }
    return { problem: disagreement(expected, actual), outcome: actual.ok ? 'accepted' : actual.kind };
  }
}

/** Runs the fuzzer; see JsonFuzzOptions. */
export function runJsonFuzz(options: JsonFuzzOptions = {}): JsonFuzzReport {
  const seed = options.seed ?? (Date.now() ^ (process.pid << 16)) >>> 0;
  const rng = new Rng(seed);
  const deadline = performance.now() + (options.seconds ?? 10) * 1000;
  const maxInputs = options.maxInputs ?? Infinity;
  const maxFailures = options.maxFailures ?? 20;
  const mutations = options.mutationsPerDocument ?? 4;
  const outDir = options.outDir ?? path.resolve(import.meta.dirname, '../../build/fuzz');
  const checker = new JsonChecker();
  const report: JsonFuzzReport = { seed, inputs: 0, accepted: 0, rejected: {}, traps: 0, seconds: 0, failures: [] };
  const started = performance.now();
  const encoder = new TextEncoder();

  const run = (input: Uint8Array, limits: Limits) => {
    report.inputs++;
    const { problem, outcome } = checker.check(input, limits);
    if (outcome === 'accepted') report.accepted++;
    else report.rejected[outcome] = (report.rejected[outcome] ?? 0) + 1;
    if (problem) {
      const failure: JsonFuzzFailure = { problem, limits, input };
      failure.file = writeReproducer(outDir, failure, seed);
      report.failures.push(failure);
      options.log?.(`FAIL ${problem}\n  reproducer: ${failure.file}`);
    }
  };

  const corpus = EDGE_CASES.map((s) => encoder.encode(s));
  for (const input of corpus) run(input, DEFAULT_LIMITS);
  while (performance.now() < deadline && report.inputs < maxInputs && report.failures.length < maxFailures) {
    // Mostly default limits; sometimes small ones, so that TooDeep / TooLarge are exercised.
    const limits: Limits = rng.chance(0.1)
      ? { maxDepth: rng.int(6), maxBytes: 16 + rng.int(400) }
      : DEFAULT_LIMITS;
    const doc = rng.chance(0.05) ? rng.pick(corpus) : encoder.encode(generateDocument(rng));
    run(doc, limits);
    let current: Uint8Array = doc;
    for (let i = 0; i < mutations; i++) {
      current = mutate(rng, rng.chance(0.5) ? doc : current);
      run(current, limits);
    }
  }
  report.traps = checker.traps;
  report.seconds = (performance.now() - started) / 1000;
  return report;
}

function writeReproducer(outDir: string, failure: JsonFuzzFailure, seed: number): string {
  mkdirSync(outDir, { recursive: true });
  const id = createHash('sha256').update(failure.input).digest('hex').slice(0, 12);
  const file = path.join(outDir, `json-${id}.json`);
  writeFileSync(file, failure.input);
  writeFileSync(
    path.join(outDir, `json-${id}.txt`),
    `problem: ${failure.problem}\nlimits: ${JSON.stringify(failure.limits)}\nseed: ${seed}\n` +
      `input (${failure.input.length} bytes, JSON-escaped latin1): ${JSON.stringify(Buffer.from(failure.input).toString('latin1')).slice(0, 2000)}\n` +
      `replay: new JsonChecker().check(readFileSync(${JSON.stringify(file)}), ${JSON.stringify(failure.limits)})\n`,
  );
  return file;
}
