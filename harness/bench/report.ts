/**
 * Shared shape of a benchmark suite. Each file in harness/bench/ exports `suite`;
 * `npm run bench` runs them all (or those named on the command line), prints each
 * report and writes it to bench/<name>.json. Goals are ratios against a reference
 * measured in the same run, never absolute times.
 */
import { statSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';

export interface BenchSuite {
  /** File name under bench/ (without .json) and the name used on the command line. */
  name: string;
  /** What it measures, one line. */
  description: string;
  run(): Promise<Record<string, unknown>>;
}

export async function writeReport(root: string, name: string, report: Record<string, unknown>): Promise<string> {
  const dir = path.join(root, 'bench');
  await mkdir(dir, { recursive: true });
  const file = path.join(dir, `${name}.json`);
  await writeFile(file, JSON.stringify(report, null, 2) + '\n');
  return file;
}

/**
 * Times `fn` over `iterations` calls after `warmup` calls, repeated `rounds` times;
 * returns the median microseconds per call.
 */
export function timeMicros(fn: () => unknown, iterations: number, opts: { warmup?: number; rounds?: number } = {}): number {
  const warmup = opts.warmup ?? Math.max(10, iterations >> 2);
  const rounds = opts.rounds ?? 5;
  for (let i = 0; i < warmup; i++) fn();
  const samples: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < iterations; i++) fn();
    samples.push(Number(process.hrtime.bigint() - t0) / 1e3 / iterations);
  }
  samples.sort((a, b) => a - b);
  return samples[samples.length >> 1];
}

/** Rounds to 3 significant decimals for reports. */
export const round = (x: number, digits = 3): number => Number(x.toFixed(digits));

/** A module's size in bytes against its goal (the issues' "≤ 40 KB" as KiB), for a report. */
export function moduleSize(file: string, goalBytes: number): { wasm_bytes: number; wasm_goal_bytes: number; wasm_within_goal: boolean } {
  const bytes = statSync(file).size;
  return { wasm_bytes: bytes, wasm_goal_bytes: goalBytes, wasm_within_goal: bytes <= goalBytes };
}
