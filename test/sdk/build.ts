/** Builds an SDK test module when it is missing or older than its sources (harness/build.ts isStale). */
import path from 'node:path';
import { buildTarget, isStale, listTargets, projectRoot } from '../../harness/build.ts';

/** Returns the absolute path of the target's `.wasm`, rebuilding it first if stale. */
export async function ensureBuilt(name: string): Promise<string> {
  const target = (await listTargets()).find((t) => t.name === name);
  if (!target) throw new Error(`asconfig.json has no target ${name}`);
  if (isStale(target)) await buildTarget(target);
  return path.join(projectRoot, target.outFile);
}
