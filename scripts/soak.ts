/**
 * `npm run soak [-- --requests N] [--warmup N] [--connections N] [--no-build] [--one-module]`: envoy/mesh.yaml
 * on Envoy (2 workers) with the demo services (`--one-module`: its filters as one entry of the
 * mesh module), 10^6 requests from wrk (harness/soak);
 * prints the report, writes bench/soak.json, and exits 1 when memory grew past the bounds
 * after the warm-up or Envoy logged a Wasm error.
 */
import { parseArgs } from 'node:util';
import { buildAll, projectRoot } from '../harness/build.ts';
import { writeReport } from '../harness/bench/report.ts';
import { formatSoakReport, runSoak } from '../harness/soak/index.ts';

const { values } = parseArgs({
  options: {
    requests: { type: 'string' },
    warmup: { type: 'string' },
    connections: { type: 'string' },
    'no-build': { type: 'boolean' },
    'one-module': { type: 'boolean' },
  },
});
const count = (v: string | undefined): number | undefined => {
  if (v === undefined) return undefined;
  const n = Number(v.replace(/_/g, ''));
  if (!Number.isInteger(n) || n <= 0) throw new Error(`not a positive integer: ${v}`);
  return n;
};

if (!values['no-build']) await buildAll();
const report = await runSoak({
  cwd: projectRoot,
  requests: count(values.requests),
  warmupRequests: count(values.warmup),
  connections: count(values.connections),
  oneModule: values['one-module'],
  log: (line) => console.log(line),
});
for (const line of formatSoakReport(report)) console.log(line);
const file = await writeReport(projectRoot, 'soak', report as unknown as Record<string, unknown>);
console.log(`-> ${file}`);
process.exitCode = report.failures.length ? 1 : 0;
