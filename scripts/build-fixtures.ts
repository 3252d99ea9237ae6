/**
 * Builds the modules made with other proxy-wasm SDKs (test/fixtures/<name>/), each with
 * its own package.json, lock file and AssemblyScript version:
 *
 * - gcore-sdk: @gcoredev/proxy-wasm-sdk-as on AssemblyScript 0.28 (WASI `_start`);
 * - solo-sdk:  @solo-io/proxy-runtime 0.1.8 on AssemblyScript 0.14 (start section, ABI 0.2.0).
 *
 * For each: `npm ci` when the install is missing or older than the lock file, then
 * `npm run build` when build/add-header.wasm is missing or older than a source. Quick
 * when everything is up to date. Usage: `npx tsx scripts/build-fixtures.ts [name...]`.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';

const root = path.resolve(import.meta.dirname, '..', 'test', 'fixtures');
export const FIXTURES = ['gcore-sdk', 'solo-sdk'] as const;
export type Fixture = (typeof FIXTURES)[number];

/** Where a fixture's module lands. */
export function fixtureWasm(name: Fixture): string {
  return path.join(root, name, 'build', 'add-header.wasm');
}

function mtime(file: string): number {
  return existsSync(file) ? statSync(file).mtimeMs : 0;
}

function newestSource(dir: string): number {
  let newest = Math.max(mtime(path.join(dir, 'package.json')), mtime(path.join(dir, 'asconfig.json')));
  for (const f of readdirSync(path.join(dir, 'assembly'))) newest = Math.max(newest, mtime(path.join(dir, 'assembly', f)));
  return newest;
}

// The npm that came with this node (project dependencies may put an older npm on PATH).
const NPM = existsSync(path.join(path.dirname(process.execPath), 'npm')) ? path.join(path.dirname(process.execPath), 'npm') : 'npm';

function npm(dir: string, args: string[]): void {
  // Without the project's node_modules/.bin on PATH: each fixture uses its own asc.
  const PATH = (process.env.PATH ?? '').split(path.delimiter).filter((p) => !p.includes('node_modules')).join(path.delimiter);
  const r = spawnSync(NPM, args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8', env: { ...process.env, PATH } });
  if (r.status !== 0) {
    throw new Error(`${path.basename(dir)}: npm ${args.join(' ')} failed (${r.status ?? r.signal}):\n${r.stdout}${r.stderr}`);
  }
}

/** Installs and builds one fixture if needed; returns what it did. */
export function buildFixture(name: Fixture): 'up to date' | 'built' {
  const dir = path.join(root, name);
  // npm writes node_modules/.package-lock.json after an install; every dependency must be there too.
  const installed = path.join(dir, 'node_modules', '.package-lock.json');
  const manifest = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')) as { devDependencies?: Record<string, string> };
  const complete = Object.keys(manifest.devDependencies ?? {}).every((d) => existsSync(path.join(dir, 'node_modules', d, 'package.json')));
  if (!complete || mtime(installed) < mtime(path.join(dir, 'package-lock.json'))) {
    npm(dir, ['ci', '--no-audit', '--no-fund']);
  }
  const out = fixtureWasm(name);
  if (mtime(out) > newestSource(dir)) return 'up to date';
  npm(dir, ['run', 'build']);
  if (!existsSync(out)) throw new Error(`${name}: npm run build produced no ${path.relative(dir, out)}`);
  return 'built';
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const names = (process.argv.length > 2 ? process.argv.slice(2) : FIXTURES) as Fixture[];
  for (const name of names) {
    if (!FIXTURES.includes(name)) throw new Error(`unknown fixture ${name} (${FIXTURES.join(', ')})`);
    const started = performance.now();
    const what = buildFixture(name);
    console.log(`${name.padEnd(10)} ${what} (${Math.round(performance.now() - started)} ms)`);
  }
}
