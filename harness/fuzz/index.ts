/**
 * Fuzz targets for `npm run fuzz [target] [--seconds N] [--seed S]` (scripts/fuzz.ts).
 * A target names the asconfig targets it needs built and runs for a time budget; any
 * trap or disagreement is a failure with a reproducer file.
 */
import { runJsonFuzz } from './json.ts';

export interface FuzzRunOptions {
  seconds: number;
  seed?: number;
  log: (line: string) => void;
}

export interface FuzzTarget {
  name: string;
  description: string;
  /** asconfig.json targets to build first. */
  buildTargets: string[];
  run(options: FuzzRunOptions): { summary: Record<string, unknown>; failures: number };
}

export const fuzzTargets: FuzzTarget[] = [
  {
    name: 'json',
    description: 'assembly/json parser vs V8 (JSON.parse, TextDecoder fatal) on generated and mutated documents',
    buildTargets: ['test-json'],
    run({ seconds, seed, log }) {
      const report = runJsonFuzz({ seconds, seed, log });
      const { failures, ...summary } = report;
      return { summary: { ...summary, failures: failures.map((f) => ({ problem: f.problem, file: f.file })) }, failures: failures.length };
    },
  },
];
