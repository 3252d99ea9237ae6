/**
 * `npm run fuzz [target...] [--inputs N | --seconds N] [--seed S] [--no-build]`: runs the
 * fuzz targets of harness/fuzz/ (all when none is named) for N inputs each (default
 * 10^6) or N seconds, prints a report (inputs per second among it) and exits non-zero
 * when any input trapped, leaked or disagreed with the oracle. Failures of the filter
 * targets are saved under test/fuzz/crashes/.
 *
 * `npm run fuzz -- replay <file...>` replays reproducers of the filter targets and says,
 * for each, whether it still fails (exit 1 when one does).
 *
 * Without `--` npm keeps one `--inputs`/`--seconds`/`--seed` for itself
 * (npm_config_inputs=true) and passes its value on as a plain argument; that works for
 * one such flag (`npm run fuzz jwt-auth --inputs 5000`); give two or more after `--`.
 */
import { buildAll } from '../harness/build.ts';
import { filterTargets, fuzzTargets } from '../harness/fuzz/index.ts';
import { loadKnownFailures, replayReproducer } from '../harness/fuzz/runner.ts';

const FLAGS = ['--inputs', '--seconds', '--seed'];
const args = process.argv.slice(2);
const flag = (name: string): string | undefined => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const positional = args.filter((a, i) => !a.startsWith('--') && !FLAGS.includes(args[i - 1]));
const numbers = positional.filter((a) => /^\d+$/.test(a));
const named = positional.filter((a) => !/^\d+$/.test(a));
const eaten = FLAGS.map((f) => f.slice(2)).filter((k) => process.env[`npm_config_${k}`] === 'true');
if (eaten.length > 1) {
  console.error(`npm took ${eaten.map((k) => `--${k}`).join(' and ')} for itself: put them after "--" (npm run fuzz -- ${named.join(' ')} --inputs N --seed S)`);
  process.exit(2);
}
const fromNpm = (key: string): string | undefined => (eaten.includes(key) ? numbers.shift() : undefined);
const number = (name: string): number | undefined => {
  const text = flag(`--${name}`) ?? fromNpm(name);
  return text === undefined ? undefined : Number(text);
};
const inputs = number('inputs');
const seconds = number('seconds');
const seed = number('seed');
const build = !args.includes('--no-build') && process.env.npm_config_build !== '';

if (named[0] === 'replay') {
  const files = named.slice(1);
  if (files.length === 0) {
    console.error('usage: npm run fuzz -- replay <reproducer.json...>');
    process.exit(2);
  }
  if (build) await buildAll({ only: filterTargets.flatMap((t) => t.buildTargets) });
  const known = loadKnownFailures();
  let failing = 0;
  for (const file of files) {
    const { target, problem, expected } = await replayReproducer(file, filterTargets);
    if (problem) failing++;
    const note = known.some((k) => file.endsWith(k.file)) ? ' (a known failure: test/fuzz/crashes/known-failures.json)' : '';
    console.log(`${file} (${target}): ${problem ? `FAILS${note}: ${problem}` : 'passes'}${problem && problem !== expected ? `\n  (saved as: ${expected})` : ''}`);
  }
  process.exit(failing ? 1 : 0);
}

const targets = named.length ? fuzzTargets.filter((t) => named.includes(t.name)) : fuzzTargets;
const bad = (n: number | undefined) => n !== undefined && !(n > 0);
if (!targets.length || targets.length < named.length || bad(inputs) || bad(seconds) || (seed !== undefined && !Number.isInteger(seed))) {
  console.error(`usage: npm run fuzz [${fuzzTargets.map((t) => t.name).join('|')}] [--inputs N | --seconds N] [--seed S] [--no-build]\n       npm run fuzz -- replay <reproducer.json...>`);
  process.exit(2);
}
if (build) await buildAll({ tests: true, only: targets.flatMap((t) => t.buildTargets) });
let failed = 0;
for (const t of targets) {
  const budget = [inputs !== undefined ? `${inputs} inputs` : '', seconds !== undefined ? `${seconds} s` : ''].filter(Boolean).join(' or ') || '1000000 inputs';
  console.log(`## fuzz ${t.name} (${budget}): ${t.description}`);
  const { summary, failures } = await t.run({ inputs, seconds, seed, log: (l) => console.log(l) });
  console.log(JSON.stringify(summary, null, 2));
  failed += failures;
}
process.exit(failed ? 1 : 0);
