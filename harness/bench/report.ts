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

/** The median of `xs` (the upper middle one for an even count); `xs` is not reordered. */
export const median = (xs: readonly number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1];

export interface TurnsOptions {
  /** Calls of each function before the first round; default `max(10, iterations / 4)`. */
  warmup?: number;
  /** Batches of `iterations` calls per function; default 5. */
  rounds?: number;
  /**
   * `wall` (default): elapsed time; `cpu`: this process's user + system time
   * (`process.cpuUsage`), so that other processes on a busy machine count for little.
   */
  clock?: 'wall' | 'cpu';
}

/**
 * Median microseconds per call of each function, over `rounds` batches of `iterations`
 * calls taken in turn (one batch of each function per round), so that load from
 * elsewhere on the machine weighs on every function alike.
 */
export function microsInTurns<T extends Record<string, () => unknown>>(fns: T, iterations: number, opts: TurnsOptions = {}): Record<keyof T, number> {
  const warmup = opts.warmup ?? Math.max(10, iterations >> 2);
  const rounds = opts.rounds ?? 5;
  const entries = Object.entries(fns) as Array<[keyof T, () => unknown]>;
  for (const [, fn] of entries) for (let i = 0; i < warmup; i++) fn();
  const samples = new Map<keyof T, number[]>(entries.map(([name]) => [name, []]));
  for (let r = 0; r < rounds; r++) {
    for (const [name, fn] of entries) {
      let us: number;
      if (opts.clock === 'cpu') {
        const start = process.cpuUsage();
        for (let i = 0; i < iterations; i++) fn();
        const used = process.cpuUsage(start);
        us = used.user + used.system;
      } else {
        const t0 = process.hrtime.bigint();
        for (let i = 0; i < iterations; i++) fn();
        us = Number(process.hrtime.bigint() - t0) / 1e3;
      }
      samples.get(name)!.push(us / iterations);
    }
  }
  return Object.fromEntries(entries.map(([name]) => [name, median(samples.get(name)!)])) as Record<keyof T, number>;
}

/** Median microseconds per call of `fn` alone (`microsInTurns` with one function). */
export function timeMicros(fn: () => unknown, iterations: number, opts: Omit<TurnsOptions, 'clock'> = {}): number {
  return microsInTurns({ fn }, iterations, opts).fn;
}

/** Rounds to 3 significant decimals for reports. */
export const round = (x: number, digits = 3): number => Number(x.toFixed(digits));

/** A module's size in bytes against its goal (the issues' "≤ 40 KB" as KiB), for a report. */
export function moduleSize(file: string, goalBytes: number): { wasm_bytes: number; wasm_goal_bytes: number; wasm_within_goal: boolean } {
  const bytes = statSync(file).size;
  return { wasm_bytes: bytes, wasm_goal_bytes: goalBytes, wasm_within_goal: bytes <= goalBytes };
}
