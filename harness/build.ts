/**
 * Builds the AssemblyScript targets of `asconfig.json` into `build/`.
 *
 * Each target names its entry file in `entry` (asc itself takes entries only on the
 * command line, so the key is ours and asc ignores it). Targets marked `"test": true`
 * are modules that only the test suites load; they are built when `tests` is set.
 */
import { randomUUID } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { access, mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
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

/**
 * Compiles one target into `options.outFile` (relative to `root`, default `target.outFile`),
 * with function names kept when `options.debug`;
 * throws an Error carrying asc's diagnostics when it fails. Every source file asc read is
 * listed in `<outFile>.deps` (JSON, paths relative to `root`), the way a compiler's depfile
 * lets `make` decide what is stale. Both are written to a temporary file and renamed, so a
 * suite or build running beside this one never loads a half-written module.
 */
export async function buildTarget(target: BuildTarget, options: { root?: string; outFile?: string; debug?: boolean } = {}): Promise<BuildResult> {
  const root = options.root ?? projectRoot;
  const out = path.resolve(root, options.outFile ?? target.outFile);
  const started = performance.now();
  let diagnostics = '';
  const sink = { write: (s: string) => ((diagnostics += s), true) } as never;
  const read = new Set<string>();
  await mkdir(path.dirname(out), { recursive: true });
  const tmp = temporary(out);
  const args = [target.entry, '--config', 'asconfig.json', '--target', target.name, '--outFile', tmp, '--baseDir', root];
  // asc `--debug` keeps the function names (same optimization): for tools that look inside the module.
  if (options.debug) args.push('--debug');
  const { error } = await asc.main(args, {
    stdout: sink,
    stderr: sink,
    readFile: async (name: string, baseDir: string) => {
      const file = path.resolve(baseDir, name);
      try {
        const text = await readFile(file, 'utf8');
        read.add(path.relative(root, file));
        return text;
      } catch {
        return null;
      }
    },
  });
  if (error) {
    await rm(tmp, { force: true });
    throw new Error(`${target.name}: ${error.message}\n${diagnostics}`);
  }
  await rename(tmp, out);
  const deps = temporary(`${out}.deps`);
  await writeFile(deps, JSON.stringify([...read].sort()));
  await rename(deps, `${out}.deps`);
  const { size } = await stat(out);
  return { target: { ...target, outFile: path.relative(root, out) }, bytes: size, millis: performance.now() - started };
}

/** A name beside `file` no other process or call picks. */
const temporary = (file: string): string => `${file}.${process.pid}.${randomUUID()}.tmp`;

/**
 * Whether `target`'s module is missing or older than asconfig.json, the asc transform, or a
 * source its last build read (`<outFile>.deps`); without that list, older than any file
 * under `assembly/`, `filters/` or the entry's folder.
 */
export function isStale(target: BuildTarget, root = projectRoot): boolean {
  const out = path.join(root, target.outFile);
  const built = mtime(out);
  if (built < 0) return true;
  let sources = Math.max(mtime(path.join(root, 'asconfig.json')), mtime(path.join(root, 'harness/ascii-transform.mjs')));
  let deps: string[] | undefined;
  try {
    deps = JSON.parse(readFileSync(`${out}.deps`, 'utf8'));
  } catch {
    // built before depfiles, or by hand
  }
  if (deps) for (const d of deps) sources = Math.max(sources, mtime(path.join(root, d)) === -1 ? Infinity : mtime(path.join(root, d)));
  else sources = Math.max(sources, newest(path.join(root, 'assembly')), newest(path.join(root, 'filters')), newest(path.join(root, path.dirname(target.entry))));
  return built < sources;
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

/**
 * Builds the selected targets whose module is stale (`isStale`; all of them with `force`),
 * two at a time (asc is single-threaded). `upToDate` lists the ones left as they were.
 */
export async function buildAll(opts: { tests?: boolean; only?: string[]; force?: boolean } = {}): Promise<{ built: BuildResult[]; upToDate: BuildTarget[] }> {
  const selected = (await listTargets()).filter(
    (t) => (opts.only?.length ? opts.only.includes(t.name) : !t.test || opts.tests),
  );
  // A target whose entry is not written yet is reported and skipped, not failed.
  const targets: BuildTarget[] = [];
  const upToDate: BuildTarget[] = [];
  for (const t of selected) {
    try {
      await access(path.join(projectRoot, t.entry));
    } catch {
      console.warn(`${t.name}: not built, ${t.entry} does not exist yet`);
      continue;
    }
    if (opts.force || isStale(t)) targets.push(t);
    else upToDate.push(t);
  }
  const results: BuildResult[] = [];
  const queue = [...targets];
  const lane = async () => {
    for (let t = queue.shift(); t; t = queue.shift()) results.push(await buildTarget(t));
  };
  await Promise.all([lane(), lane()]);
  return { built: results.sort((a, b) => a.target.name.localeCompare(b.target.name)), upToDate };
}
