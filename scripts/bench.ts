/**
 * `npm run bench [suite...]`: runs the benchmark suites of harness/bench/ and writes
 * bench/<suite>.json. Build first (`npm run build -- --tests`); suites load build/.
 * Suites read their own options from the command line (`npm run bench -- envoy --only jwt
 * --quick`, see harness/bench/envoy.ts).
 */
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { buildAll, projectRoot } from '../harness/build.ts';
import { writeReport, type BenchSuite } from '../harness/bench/report.ts';

// Options that take a value (`envoy --only jwt --rounds 5`): their values name no suite.
const VALUED = new Set(['--only', '--rounds']);
const wanted = process.argv.slice(2).filter((a, i, all) => !a.startsWith('--') && !VALUED.has(all[i - 1]));
// Suites that run only when named: the Envoy bench takes half an hour and needs wrk.
const NAMED_ONLY = new Set(['envoy']);
const dir = path.join(projectRoot, 'harness', 'bench');
const suites: BenchSuite[] = [];
for (const file of (await readdir(dir)).sort()) {
  if (!file.endsWith('.ts') || file === 'report.ts') continue;
  const mod = await import(pathToFileURL(path.join(dir, file)).href);
  if (mod.suite && (wanted.length ? wanted.includes(mod.suite.name) : !NAMED_ONLY.has(mod.suite.name))) suites.push(mod.suite);
}
if (!suites.length) {
  console.error(`bench: no suite matches ${wanted.join(', ') || '(any)'}`);
  process.exit(2);
}
if (!process.argv.includes('--no-build')) await buildAll({ tests: true });
for (const s of suites) {
  console.log(`\n## ${s.name}: ${s.description}`);
  let report: Record<string, unknown>;
  try {
    report = await s.run();
  } catch (e) {
    // One line, not a stack (a configuration that does not do what it claims fails the bench).
    console.error(`bench ${s.name} failed: ${e instanceof Error ? e.message : String(e)}`);
    process.exit(1);
  }
  console.log(JSON.stringify(report, null, 2));
  console.log(`-> ${path.relative(process.cwd(), await writeReport(projectRoot, s.name, report))}`);
}
