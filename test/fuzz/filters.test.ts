/**
 * The filter fuzz targets (harness/fuzz/, `npm run fuzz <filter>`) in short: each runs
 * 20 000 inputs from a fixed seed and 20 000 from a seed that changes per run (in the
 * test's title: `npm run fuzz -- <filter> --inputs 20000 --seed <seed>`, or FUZZ_SEED=<seed>
 * for this suite, repeats it), and must find no trap, leak or disagreement with its
 * oracle; a failure is saved under test/fuzz/crashes/. Every reproducer there is
 * replayed: a regression case must pass, a known failure (known-failures.json: reported,
 * not fixed yet) must still fail. And the oracles bite: rate-limit built without CAS
 * fails.
 */
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { filterTargets } from '../../harness/fuzz/index.ts';
import { CRASHES_DIR, loadKnownFailures, replayReproducer, runFilterFuzz } from '../../harness/fuzz/runner.ts';
import type { FilterTarget } from '../../harness/fuzz/session.ts';
import { rateLimitTarget } from '../../harness/fuzz/rate-limit.ts';
import { testModule } from '../../harness/host/testing.ts';

const INPUTS = 20_000;
const FIXED_SEED = 20261123;
const seed = Number(process.env.FUZZ_SEED ?? (Date.now() >>> 0) % 2 ** 31);

beforeAll(async () => {
  for (const target of new Set(filterTargets.flatMap((t) => t.buildTargets))) await testModule(target);
}, 600_000);

describe.each(filterTargets.map((t) => [t.name, t] as const))('fuzz %s', (name, target) => {
  for (const s of [FIXED_SEED, seed]) {
    it(`${INPUTS} inputs, seed ${s}, agree with the oracle`, async () => {
      const report = await runFilterFuzz(target, { inputs: INPUTS, seed: s });
      expect(report.failures).toEqual([]);
      expect(report.inputs).toBeGreaterThanOrEqual(INPUTS);
      // The inputs reached the filter's decisions, not only its refusals of configurations.
      expect(report.streams).toBeGreaterThan(INPUTS / 2);
    }, 300_000);
  }
});

describe('reproducers in test/fuzz/crashes', () => {
  const known = loadKnownFailures();
  const files = readdirSync(CRASHES_DIR).filter((f) => f.endsWith('.json') && f !== 'known-failures.json');

  it('lists only known failures whose reproducer is there', () => {
    for (const k of known) expect(files, k.note).toContain(k.file);
  });

  it.each(files.length ? files : ['(none)'])('%s', async (file) => {
    if (file === '(none)') return;
    const entry = known.find((k) => k.file === file);
    const { problem, expected } = await replayReproducer(path.join(CRASHES_DIR, file), filterTargets);
    if (entry) {
      expect(problem, `${file} passes now: the bug is fixed, take it out of known-failures.json (it stays as a regression case)`).not.toBeNull();
      expect(problem).toMatch(new RegExp(entry.problem));
    } else {
      expect(problem, `regression: ${file} fails again (it was: ${expected})`).toBeNull();
    }
  }, 300_000);
});

describe('a failing session', () => {
  let dir: string;
  beforeAll(() => void (dir = mkdtempSync(path.join(tmpdir(), 'fuzz-'))));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('is found in a filter that loses a race: rate-limit without CAS lets through what the buckets deny', async () => {
    // The control module writes its page without CAS; another worker's request between its
    // read and its write (runner's interleaved steps) is then lost.
    const report = await runFilterFuzz({ ...rateLimitTarget, wasm: await testModule('rate-limit', { entry: 'filters/rate-limit/__tests__/racy-entry.ts', outName: 'rate-limit-no-cas' }) }, { inputs: 60_000, seed: 1, outDir: dir, maxFailures: 1 });
    expect(report.failures).toHaveLength(1);
    expect(report.failures[0].problem).toMatch(/the model denies|x-ratelimit-remaining/);
  }, 300_000);

  it('is saved as a reproducer that replays to the same problem', async () => {
    // A valid configuration announced as broken: the configure check must flag it.
    const base = filterTargets.find((t) => t.name === 'retry')!;
    const wrong: FilterTarget = {
      ...base,
      generate: (rng, streams) => ({ ...base.generate(rng, streams), config: '{"policies":[]}', expect: 'reject', rejectPath: 'policies' }),
    };
    const report = await runFilterFuzz(wrong, { inputs: 3, seed: 1, outDir: dir, maxFailures: 1 });
    expect(report.failures).toHaveLength(1);
    expect(report.failures[0].problem).toBe('configuration broken at policies was accepted');
    const replayed = await replayReproducer(report.failures[0].file, [wrong]);
    expect(replayed.problem).toBe(report.failures[0].problem);
  });
});
