/**
 * `npm run fuzz [target...] [--seconds N] [--seed S] [--no-build]`: runs the fuzz targets of
 * harness/fuzz/ (all when none is named) for N seconds each (default 30), prints a report
 * and exits non-zero when any input trapped or disagreed with the reference.
 *
 * Without `--` npm keeps `--seconds`/`--seed` for itself (npm_config_seconds=true) and
 * passes their values on as plain arguments; both spellings work.
 */
import { buildAll } from '../harness/build.ts';
import { fuzzTargets } from '../harness/fuzz/index.ts';

const args = process.argv.slice(2);
const flag = (name: string): string | undefined => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const positional = args.filter((a, i) => !a.startsWith('--') && !['--seconds', '--seed'].includes(args[i - 1]));
const numbers = positional.filter((a) => /^\d+$/.test(a));
const named = positional.filter((a) => !/^\d+$/.test(a));
// npm's spelling: values of --seconds / --seed arrive as bare numbers, in that order.
const fromNpm = (key: string): string | undefined => (process.env[`npm_config_${key}`] === 'true' ? numbers.shift() : undefined);
const seconds = Number(flag('--seconds') ?? fromNpm('seconds') ?? 30);
const seedText = flag('--seed') ?? fromNpm('seed');
const build = !args.includes('--no-build') && process.env.npm_config_build !== '';

const targets = named.length ? fuzzTargets.filter((t) => named.includes(t.name)) : fuzzTargets;
if (!targets.length || targets.length < named.length || !(seconds > 0)) {
  console.error(`usage: npm run fuzz [${fuzzTargets.map((t) => t.name).join('|')}] [--seconds N] [--seed S] [--no-build]`);
  process.exit(2);
}
if (build) await buildAll({ tests: true, only: targets.flatMap((t) => t.buildTargets) });
let failed = 0;
for (const t of targets) {
  console.log(`## fuzz ${t.name} (${seconds} s): ${t.description}`);
  const { summary, failures } = t.run({ seconds, seed: seedText === undefined ? undefined : Number(seedText), log: (l) => console.log(l) });
  console.log(JSON.stringify(summary, null, 2));
  failed += failures;
}
process.exit(failed ? 1 : 0);
