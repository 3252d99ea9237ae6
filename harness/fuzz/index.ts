/**
 * Fuzz targets for `npm run fuzz [target...] [--inputs N | --seconds N] [--seed S]`
 * (scripts/fuzz.ts): `json` (the JSON parser against V8) and one per filter (runner.ts,
 * session.ts and `<filter>.ts`). A target names the asconfig targets it needs built and
 * runs for an input budget (10^6 unless told otherwise) or a time budget; any trap,
 * leak or disagreement with its oracle is a failure with a reproducer file.
 */
import { runJsonFuzz } from './json.ts';
import { circuitBreakerTarget } from './circuit-breaker.ts';
import { jwtAuthTarget } from './jwt-auth.ts';
import { rateLimitTarget } from './rate-limit.ts';
import { retryTarget } from './retry.ts';
import { runFilterFuzz } from './runner.ts';
import type { FilterTarget } from './session.ts';

export interface FuzzRunOptions {
  /** Input budget; with neither budget, 10^6 inputs. */
  inputs?: number;
  /** Time budget (both given: whichever ends first). */
  seconds?: number;
  seed?: number;
  /** Where reproducers go (filters: test/fuzz/crashes; json: build/fuzz). */
  outDir?: string;
  log: (line: string) => void;
}

export interface FuzzTarget {
  name: string;
  description: string;
  /** asconfig.json targets to build first. */
  buildTargets: string[];
  run(options: FuzzRunOptions): Promise<{ summary: Record<string, unknown>; failures: number }>;
}

/** The filter targets, for replaying reproducers. */
export const filterTargets: FilterTarget<any>[] = [jwtAuthTarget, rateLimitTarget, circuitBreakerTarget, retryTarget];

const DESCRIPTIONS: Record<string, string> = {
  'jwt-auth': 'build/jwt-auth.wasm vs jose and a model of its rules: tokens cut, spliced, re-encoded, every algorithm, odd JSON, kids, local and remote JWKS',
  'rate-limit': "build/rate-limit.wasm vs the spec's token buckets in exact integers, per key, with the bounded key table",
  'circuit-breaker': 'build/circuit-breaker.wasm vs a model of CLOSED/OPEN/HALF_OPEN: thresholds, rates, probes, open durations, bulkheads, fail-over',
  retry: 'build/retry.wasm vs the budget arithmetic, the idempotency guard and the router headers a policy implies',
};

export const fuzzTargets: FuzzTarget[] = [
  {
    name: 'json',
    description: 'assembly/json parser vs V8 (JSON.parse, TextDecoder fatal) on generated and mutated documents',
    buildTargets: ['test-json'],
    async run({ inputs, seconds, seed, outDir, log }) {
      const report = runJsonFuzz({ seconds: seconds ?? Infinity, maxInputs: inputs ?? (seconds === undefined ? 1_000_000 : Infinity), seed, outDir, log });
      const { failures, ...summary } = report;
      return { summary: { ...summary, failures: failures.map((f) => ({ problem: f.problem, file: f.file })) }, failures: failures.length };
    },
  },
  ...filterTargets.map(
    (target): FuzzTarget => ({
      name: target.name,
      description: DESCRIPTIONS[target.name],
      buildTargets: target.buildTargets,
      async run({ inputs, seconds, seed, outDir, log }) {
        const report = await runFilterFuzz(target, { inputs, seconds, seed, outDir, log });
        return { summary: { ...report }, failures: report.failures.length };
      },
    }),
  ),
];
