/**
 * Compiles a test-only AssemblyScript entry (a filter with one piece overridden, e.g.
 * filters/<name>/__tests__/racy-entry.ts) with an asconfig.json target's options.
 * The module is written to a temporary file and renamed, so suites running side by side
 * never load a half-written one.
 */
import { statSync } from 'node:fs';
import { mkdir, rename } from 'node:fs/promises';
import path from 'node:path';
import asc from 'assemblyscript/asc';
import { projectRoot } from '../../harness/build.ts';

/** Modification time of `p` in ms, or 0 when it does not exist. */
export function mtimeOf(p: string): number {
  try {
    return statSync(p).mtimeMs;
  } catch {
    return 0;
  }
}

/** Compiles `entry` (relative to the project root) with target `target`'s options into `outFile`; returns `outFile`. */
export async function compileTestModule(entry: string, target: string, outFile: string): Promise<string> {
  await mkdir(path.dirname(outFile), { recursive: true });
  const tmp = `${outFile}.${process.pid}.${Date.now()}.tmp`;
  let diagnostics = '';
  const sink = { write: (s: string) => ((diagnostics += s), true) } as never;
  const { error } = await asc.main([entry, '--config', 'asconfig.json', '--target', target, '--outFile', tmp, '--baseDir', projectRoot], { stdout: sink, stderr: sink });
  if (error) throw new Error(`${entry}: ${error.message}\n${diagnostics}`);
  await rename(tmp, outFile);
  return outFile;
}
