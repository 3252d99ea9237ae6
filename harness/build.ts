/**
 * Builds the AssemblyScript targets of `asconfig.json` into `build/`.
 *
 * Each target names its entry file in `entry` (asc itself takes entries only on the
 * command line, so the key is ours and asc ignores it). Targets marked `"test": true`
 * are modules that only the test suites load; they are built when `tests` is set.
 */
import { readdirSync, statSync } from 'node:fs';
import { access, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import asc from 'assemblyscript/asc';

export interface BuildTarget {
  name: string;
  entry: string;
  outFile: string;
  test: boolean;
}

export interface BuildResult {
  target: BuildTarget;
  bytes: number;
  millis: number;
}

export const projectRoot = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');

export async function listTargets(root = projectRoot): Promise<BuildTarget[]> {
  const config = JSON.parse(await readFile(path.join(root, 'asconfig.json'), 'utf8'));
  return Object.entries<Record<string, unknown>>(config.targets).map(([name, t]) => ({
    name,
    entry: String(t.entry),
    outFile: String(t.outFile),
    test: t.test === true,
  }));
}

/** Compiles one target; throws an Error carrying asc's diagnostics when it fails. */
export async function buildTarget(target: BuildTarget, root = projectRoot): Promise<BuildResult> {
  const started = performance.now();
  let diagnostics = '';
  const { error } = await asc.main(
    [target.entry, '--config', 'asconfig.json', '--target', target.name, '--baseDir', root],
    {
      stdout: { write: (s: string) => { diagnostics += s; return true; } } as never,
      stderr: { write: (s: string) => { diagnostics += s; return true; } } as never,
    },
  );
  if (error) throw new Error(`${target.name}: ${error.message}\n${diagnostics}`);
  const { size } = await stat(path.join(root, target.outFile));
  return { target, bytes: size, millis: performance.now() - started };
}

/**
 * Whether `target`'s module is missing or older than a source it may include: a file
 * under the target's own folder, under `assembly/`, or asconfig.json (the way `make`
 * decides, by modification time).
 */
export function isStale(target: BuildTarget, root = projectRoot): boolean {
  const built = mtime(path.join(root, target.outFile));
  const sources = Math.max(newest(path.join(root, 'assembly')), mtime(path.join(root, 'asconfig.json')), newest(path.join(root, path.dirname(target.entry))));
  return built < 0 || built < sources;
}

/** Modification time in ms, -1 when absent. */
function mtime(file: string): number {
  try {
    return statSync(file).mtimeMs;
  } catch {
    return -1;
  }
}

/** The newest modification time of `file`, or of any file under it (-1 when absent). */
export function newest(file: string): number {
  let best = mtime(file);
  let entries: import('node:fs').Dirent[];
  try {
    entries = readdirSync(file, { withFileTypes: true });
  } catch {
    return best;
  }
  for (const e of entries) best = Math.max(best, e.isDirectory() ? newest(path.join(file, e.name)) : mtime(path.join(file, e.name)));
  return best;
}

/** Builds the selected targets, two at a time (asc is single-threaded). */
export async function buildAll(opts: { tests?: boolean; only?: string[] } = {}): Promise<BuildResult[]> {
  const selected = (await listTargets()).filter(
    (t) => (opts.only?.length ? opts.only.includes(t.name) : !t.test || opts.tests),
  );
  // A target whose entry is not written yet is reported and skipped, not failed.
  const targets: BuildTarget[] = [];
  for (const t of selected) {
    try {
      await access(path.join(projectRoot, t.entry));
      targets.push(t);
    } catch {
      console.warn(`${t.name}: not built, ${t.entry} does not exist yet`);
    }
  }
  const results: BuildResult[] = [];
  const queue = [...targets];
  const lane = async () => {
    for (let t = queue.shift(); t; t = queue.shift()) results.push(await buildTarget(t));
  };
  await Promise.all([lane(), lane()]);
  return results.sort((a, b) => a.target.name.localeCompare(b.target.name));
}
