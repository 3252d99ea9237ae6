/** Builds an SDK test module when it is missing or older than the SDK or its sources. */
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { buildTarget, listTargets, projectRoot } from '../../harness/build.ts';

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(p) : statSync(p).mtimeMs);
  }
  return newest;
}

/** Returns the absolute path of the target's `.wasm`, rebuilding it first if stale. */
export async function ensureBuilt(name: string): Promise<string> {
  const target = (await listTargets()).find((t) => t.name === name);
  if (!target) throw new Error(`asconfig.json has no target ${name}`);
  const out = path.join(projectRoot, target.outFile);
  const sources = Math.max(
    newestMtime(path.join(projectRoot, 'assembly/proxy-wasm')),
    newestMtime(path.join(projectRoot, path.dirname(target.entry))),
    statSync(path.join(projectRoot, 'asconfig.json')).mtimeMs,
  );
  let built = 0;
  try {
    built = statSync(out).mtimeMs;
  } catch {
    // not built yet
  }
  if (built < sources) await buildTarget(target);
  return out;
}
