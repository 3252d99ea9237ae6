#!/usr/bin/env node
/** Placeholder CLI until the full `mesh-filters` command lands (issue 2, item 5). */
import { buildAll } from './build.ts';

const [cmd, ...args] = process.argv.slice(2);
if (cmd === 'build') {
  const tests = args.includes('--tests');
  const only = args.filter((a) => !a.startsWith('--'));
  try {
    for (const r of await buildAll({ tests, only })) {
      console.log(`${r.target.outFile.padEnd(32)} ${(r.bytes / 1024).toFixed(1).padStart(8)} KiB  (${Math.round(r.millis)} ms)`);
    }
  } catch (e) {
    console.error((e as Error).message);
    process.exit(1);
  }
} else {
  console.error(`mesh-filters: unknown command ${cmd ?? ''}`);
  process.exit(2);
}
