/**
 * `npm run bench [suite...]`: runs the benchmark suites of harness/bench/ and writes
 * bench/<suite>.json. Build first (`npm run build -- --tests`); suites load build/.
 */
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { buildAll, projectRoot } from '../harness/build.ts';
import { writeReport, type BenchSuite } from '../harness/bench/report.ts';

const wanted = process.argv.slice(2).filter((a) => !a.startsWith('--'));
const dir = path.join(projectRoot, 'harness', 'bench');
const suites: BenchSuite[] = [];
for (const file of (await readdir(dir)).sort()) {
  if (!file.endsWith('.ts') || file === 'report.ts') continue;
  const mod = await import(pathToFileURL(path.join(dir, file)).href);
  if (mod.suite && (!wanted.length || wanted.includes(mod.suite.name))) suites.push(mod.suite);
}
if (!suites.length) {
  console.error(`bench: no suite matches ${wanted.join(', ') || '(any)'}`);
  process.exit(2);
}
if (!process.argv.includes('--no-build')) await buildAll({ tests: true });
for (const s of suites) {
  console.log(`\n## ${s.name}: ${s.description}`);
  const report = await s.run();
  console.log(JSON.stringify(report, null, 2));
  console.log(`-> ${path.relative(process.cwd(), await writeReport(projectRoot, s.name, report))}`);
}
