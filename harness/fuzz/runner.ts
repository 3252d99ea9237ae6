/**
 * The loop of a filter fuzz target (`npm run fuzz <filter>`): sessions generated from
 * the run's seed (each from its own seed: `sessionSeed(seed, i)`), executed on the host
 * (session.ts), until the input budget (or time) is spent. An input is a stream driven
 * through the filter, a configuration tried, or an answer to a call the filter made.
 *
 * A failing session is saved as a reproducer, `<outDir>/<target>-<hash>.json`: the
 * target, the problem, the seed and session number, and the case itself (configuration
 * and steps up to the failing one, less those it fails without: `shrink`; too large a
 * case is left out, and `replay` makes it again from seed and session). A failure whose problem matches an entry of
 * `<outDir>/known-failures.json` (a bug reported and not fixed yet) is counted apart and
 * does not fail the run.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { Rng } from './json-gen.ts';
import { executeCase, type FilterTarget, type FuzzCase, FuzzFailure, PROJECT_ROOT, type SessionResult } from './session.ts';

/** Where reproducers go (kept in git). */
export const CRASHES_DIR = path.join(PROJECT_ROOT, 'test', 'fuzz', 'crashes');
/**
 * Streams of a long session (leak check); one in `SOAK_EVERY` sessions, when the budget
 * has room. Its steps run `SOAK_PASSES` times: the first three passes are the warm-up
 * (caches fill with every token and key the session uses, buffers reach its largest
 * input; the SDK paces collections by allocation, so the same traffic can double a VM's
 * memory once or twice more before it settles: 8 → 32 MiB for jwt-auth with 60 KiB
 * headers), and in the last two, which bring nothing new, memory may double once at
 * most (session.ts says why).
 */
const SOAK_STREAMS = 45_000;
const SOAK_PASSES = 5;
const SOAK_EVERY = 16;
/** Cases larger than this (JSON) are saved as seed + session only. */
const MAX_SAVED_CASE = 4 << 20;

export interface FilterFuzzOptions {
  /** Input budget (default 10^6 unless `seconds` is given). */
  inputs?: number;
  /** Time budget. */
  seconds?: number;
  seed?: number;
  outDir?: string;
  /** Stop after this many failures (known ones not counted). */
  maxFailures?: number;
  log?: (line: string) => void;
}

/** A reported bug whose reproducer stays until it is fixed (`known-failures.json`). */
export interface KnownFailure {
  target: string;
  /** A regular expression over the failure's problem. */
  problem: string;
  /** Its reproducer, in the crashes folder. */
  file: string;
  note: string;
}

export interface Reproducer {
  target: string;
  problem: string;
  step: number;
  seed: number;
  session: number;
  /** Streams the session was generated for. */
  streams: number;
  /** A long session: its steps run `SOAK_PASSES` times (`sessionCase`). */
  soak?: boolean;
  case?: FuzzCase;
}

/** Session `i` of a run seeded `seed`: `streams` streams, or a long session's (`SOAK_PASSES` passes). */
export function sessionCase<S>(target: FilterTarget<S>, seed: number, i: number, streams: number, soak: boolean): FuzzCase<S> {
  const rng = new Rng(sessionSeed(seed, i));
  if (!soak) return target.generate(rng, streams);
  const c = target.generate(rng, Math.ceil(streams / SOAK_PASSES));
  return { ...c, steps: new Array<S[]>(SOAK_PASSES).fill(c.steps).flat(), measureFrom: (SOAK_PASSES - 2) * c.steps.length };
}

export interface FilterFuzzReport {
  target: string;
  seed: number;
  inputs: number;
  streams: number;
  sessions: number;
  seconds: number;
  inputsPerSecond: number;
  outcomes: Record<string, number>;
  /** Long sessions whose memory was checked, and the largest growth after warm-up (bytes). */
  leakChecks: { sessions: number; maxGrowth: number };
  failures: Array<{ problem: string; file: string }>;
  known: Array<{ problem: string; file: string }>;
}

/** The seed of session `i` of a run seeded `seed`. */
export function sessionSeed(seed: number, i: number): number {
  let x = (seed ^ Math.imul(i + 1, 0x9e3779b1)) >>> 0;
  x = Math.imul(x ^ (x >>> 16), 0x85ebca6b) >>> 0;
  x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35) >>> 0;
  return (x ^ (x >>> 16)) >>> 0 || 1;
}

export function loadKnownFailures(dir = CRASHES_DIR): KnownFailure[] {
  const file = path.join(dir, 'known-failures.json');
  return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as KnownFailure[]) : [];
}

function knownMatch(known: KnownFailure[], target: string, problem: string): KnownFailure | undefined {
  return known.find((k) => k.target === target && new RegExp(k.problem).test(problem));
}

/** Runs `target` for the budget; see the module doc. */
export async function runFilterFuzz<S>(target: FilterTarget<S>, options: FilterFuzzOptions = {}): Promise<FilterFuzzReport> {
  const seed = options.seed ?? ((Date.now() ^ (process.pid << 16)) >>> 0);
  const budget = options.inputs ?? (options.seconds === undefined ? 1_000_000 : Infinity);
  const deadline = options.seconds === undefined ? Infinity : performance.now() + options.seconds * 1000;
  const outDir = options.outDir ?? CRASHES_DIR;
  const known = loadKnownFailures(outDir);
  const maxFailures = options.maxFailures ?? 5;
  const wasm = await readFile(target.wasm);
  await target.prepare?.(seed);
  const report: FilterFuzzReport = {
    target: target.name, seed, inputs: 0, streams: 0, sessions: 0, seconds: 0, inputsPerSecond: 0, outcomes: {},
    leakChecks: { sessions: 0, maxGrowth: 0 }, failures: [], known: [],
  };
  const started = performance.now();
  for (let i = 0; report.inputs < budget && performance.now() < deadline && report.failures.length < maxFailures; i++) {
    const left = budget - report.inputs;
    const soak = i % SOAK_EVERY === SOAK_EVERY - 1 && left >= 2 * SOAK_STREAMS;
    const sizes = new Rng(sessionSeed(seed, i) ^ 0x5eed);
    const streams = Math.min(soak ? SOAK_STREAMS : 20 + sizes.int(sizes.chance(0.2) ? 4000 : 800), Math.max(1, left));
    const c = sessionCase(target, seed, i, streams, soak);
    let result: SessionResult;
    try {
      result = await executeCase(target, c, wasm);
    } catch (e) {
      if (!(e instanceof FuzzFailure)) throw e;
      report.inputs += e.step + 1;
      report.sessions++;
      const hit = knownMatch(known, target.name, e.problem);
      if (hit) {
        report.known.push({ problem: e.problem, file: hit.file });
        options.log?.(`known failure (${hit.file}): ${e.problem}`);
        continue;
      }
      const small = await shrink(target, truncate(c, e.step), e.problem, wasm);
      const file = saveReproducer(outDir, { target: target.name, problem: e.problem, step: e.step, seed, session: i, streams, soak, case: small });
      report.failures.push({ problem: e.problem, file });
      options.log?.(`FAIL ${target.name}: ${e.problem}\n  seed ${seed}, session ${i}, step ${e.step}\n  reproducer: ${path.relative(process.cwd(), file)}`);
      continue;
    }
    report.sessions++;
    report.streams += result.streams;
    report.inputs += result.streams + result.other;
    for (const [k, n] of Object.entries(result.outcomes)) report.outcomes[k] = (report.outcomes[k] ?? 0) + n;
    if (result.memory) {
      report.leakChecks.sessions++;
      report.leakChecks.maxGrowth = Math.max(report.leakChecks.maxGrowth, result.memory.end - result.memory.warm);
    }
  }
  report.seconds = (performance.now() - started) / 1000;
  report.inputsPerSecond = Math.round(report.inputs / report.seconds);
  return report;
}

/** A problem with its numbers left out: a shorter case fails "the same way" with other counts. */
const problemKind = (problem: string): string => problem.replace(/\d+/g, '#');

/**
 * Drops steps from a failing case while it still fails the same way (chunks of half the
 * steps, then quarters... down to single steps; at most `seconds` of replays), so that a
 * reproducer shows what matters. Leak failures are kept whole.
 */
export async function shrink<S>(target: FilterTarget<S>, c: FuzzCase<S>, problem: string, wasm: Uint8Array, seconds = 20): Promise<FuzzCase<S>> {
  if (problem.startsWith('leak:') || c.expect !== 'accept') return c;
  const kind = problemKind(problem);
  const deadline = performance.now() + seconds * 1000;
  const fails = async (steps: S[]): Promise<boolean> => {
    try {
      await executeCase(target, { ...c, steps }, wasm);
      return false;
    } catch (e) {
      return e instanceof FuzzFailure && problemKind(e.problem) === kind;
    }
  };
  let steps = c.steps;
  for (let size = Math.ceil(steps.length / 2); size >= 1 && performance.now() < deadline; size = size > 1 ? Math.ceil(size / 2) : 0) {
    for (let at = 0; at < steps.length && performance.now() < deadline; ) {
      const fewer = [...steps.slice(0, at), ...steps.slice(at + size)];
      if (fewer.length > 0 && (await fails(fewer))) steps = fewer;
      else at += size;
    }
  }
  return { ...c, steps };
}

/** The case up to its failing step (a failure at the end, e.g. a leak, keeps every step). */
function truncate<S>(c: FuzzCase<S>, step: number): FuzzCase<S> {
  return step + 1 >= c.steps.length ? c : { ...c, steps: c.steps.slice(0, step + 1) };
}

/** Writes a reproducer; returns its path. */
export function saveReproducer(outDir: string, r: Reproducer): string {
  mkdirSync(outDir, { recursive: true });
  let text = JSON.stringify(r, null, 1);
  if (text.length > MAX_SAVED_CASE) text = JSON.stringify({ ...r, case: undefined }, null, 1);
  const id = createHash('sha256').update(JSON.stringify(r.case ?? [r.seed, r.session])).update(r.target).digest('hex').slice(0, 12);
  const file = path.join(outDir, `${r.target}-${id}.json`);
  writeFileSync(file, text + '\n');
  return file;
}

/**
 * Replays reproducer `file` with `targets`: its case, or the session made again from its
 * seed. Returns the problem it shows now, or null when it passes.
 */
export async function replayReproducer(file: string, targets: FilterTarget<any>[]): Promise<{ target: string; problem: string | null; expected: string }> {
  const r = JSON.parse(await readFile(file, 'utf8')) as Reproducer;
  const target = targets.find((t) => t.name === r.target);
  if (!target) throw new Error(`${file}: no fuzz target ${r.target}`);
  if (!r.case) await target.prepare?.(r.seed);
  const c = r.case ?? truncate(sessionCase(target, r.seed, r.session, r.streams, r.soak ?? false), r.step);
  try {
    await executeCase(target, c, await readFile(target.wasm));
    return { target: r.target, problem: null, expected: r.problem };
  } catch (e) {
    if (!(e instanceof FuzzFailure)) throw e;
    return { target: r.target, problem: e.problem, expected: r.problem };
  }
}
