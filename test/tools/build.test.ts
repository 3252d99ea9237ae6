/**
 * `npm run build` rebuilds only stale modules (harness/build.ts `isStale`): a module is stale
 * when missing, or older than asconfig.json, the asc transform, or a source its last build
 * read (the `<outFile>.deps` list asc's reads leave); without that list, older than anything
 * under assembly/, filters/ or its entry's folder.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { isStale, listTargets, projectRoot, type BuildTarget } from '../../harness/build.ts';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'mesh-filters-build-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const A: BuildTarget = { name: 'a', entry: 'filters/a/index.ts', outFile: 'build/a.wasm', test: false };
const B: BuildTarget = { name: 'b', entry: 'filters/b/index.ts', outFile: 'build/b.wasm', test: false };

/** A project of filters a and b, every file dated 1000 s (epoch) unless `at` says otherwise (-1: absent). */
function project(at: Record<string, number>, deps?: Record<string, string[]>): string {
  const dir = mkdtempSync(path.join(tmp, 'p-'));
  const files = ['asconfig.json', 'harness/ascii-transform.mjs', 'assembly/sdk.ts', 'filters/a/index.ts', 'filters/b/index.ts', 'filters/b/extra.ts', 'build/a.wasm', 'build/b.wasm'];
  for (const f of files) {
    if (at[f] === -1) continue;
    mkdirSync(path.dirname(path.join(dir, f)), { recursive: true });
    writeFileSync(path.join(dir, f), '');
  }
  for (const [name, list] of Object.entries(deps ?? {})) writeFileSync(path.join(dir, `build/${name}.wasm.deps`), JSON.stringify(list));
  // Folders too: writing a file dates its folder, and a folder's date counts (a file removed).
  for (const d of ['assembly', 'filters/a', 'filters/b', 'filters']) {
    mkdirSync(path.join(dir, d), { recursive: true });
    utimesSync(path.join(dir, d), 1000, 1000);
  }
  for (const f of [...files, ...Object.keys(deps ?? {}).map((n) => `build/${n}.wasm.deps`)]) {
    if (at[f] !== -1) utimesSync(path.join(dir, f), at[f] ?? 1000, at[f] ?? 1000);
  }
  return dir;
}

const stale = (dir: string) => [A, B].filter((t) => isStale(t, dir)).map((t) => t.name);

describe('isStale with the list of sources the last build read', () => {
  const deps = { a: ['assembly/sdk.ts', 'filters/a/index.ts'], b: ['assembly/sdk.ts', 'filters/b/index.ts'] };

  it('rebuilds exactly the modules one of whose sources changed', () => {
    expect(stale(project({ 'build/a.wasm': 2000, 'build/b.wasm': 2000 }, deps))).toEqual([]);
    expect(stale(project({ 'build/a.wasm': 2000, 'build/b.wasm': 2000, 'filters/b/index.ts': 3000 }, deps))).toEqual(['b']);
    expect(stale(project({ 'build/a.wasm': 2000, 'build/b.wasm': 2000, 'assembly/sdk.ts': 3000 }, deps))).toEqual(['a', 'b']);
    // A file the module never read does not matter...
    expect(stale(project({ 'build/a.wasm': 2000, 'build/b.wasm': 2000, 'filters/b/extra.ts': 3000 }, deps))).toEqual([]);
    // ...and one it read that is gone forces a build (asc reports what replaced it).
    expect(stale(project({ 'build/a.wasm': 2000, 'build/b.wasm': 2000, 'filters/a/index.ts': -1 }, deps))).toEqual(['a']);
  });

  it('rebuilds everything when asconfig.json or the transform changed, and a missing module', () => {
    expect(stale(project({ 'build/a.wasm': 2000, 'build/b.wasm': 2000, 'asconfig.json': 3000 }, deps))).toEqual(['a', 'b']);
    expect(stale(project({ 'build/a.wasm': 2000, 'build/b.wasm': 2000, 'harness/ascii-transform.mjs': 3000 }, deps))).toEqual(['a', 'b']);
    expect(stale(project({ 'build/a.wasm': -1, 'build/b.wasm': 2000 }, deps))).toEqual(['a']);
  });
});

describe('isStale without that list (a module built by hand)', () => {
  it('compares with everything under assembly/, filters/ and the entry folder', () => {
    expect(stale(project({ 'build/a.wasm': 2000, 'build/b.wasm': 2000 }))).toEqual([]);
    expect(stale(project({ 'build/a.wasm': 2000, 'build/b.wasm': 2000, 'filters/b/extra.ts': 3000 }))).toEqual(['a', 'b']);
    expect(stale(project({ 'build/a.wasm': 2000, 'build/b.wasm': 2000, 'assembly/sdk.ts': 3000 }))).toEqual(['a', 'b']);
  });
});

describe("a real build's list", () => {
  it('names the entry, the SDK and the shared code the filter includes, relative to the project', async () => {
    const retry = (await listTargets()).find((t) => t.name === 'retry')!;
    const deps: string[] = JSON.parse(readFileSync(path.join(projectRoot, `${retry.outFile}.deps`), 'utf8'));
    expect(deps).toContain('filters/retry/index.ts');
    expect(deps).toContain('asconfig.json');
    expect(deps.some((d) => d.startsWith('assembly/proxy-wasm/'))).toBe(true);
    expect(deps.some((d) => d.startsWith('filters/jwt-auth/'))).toBe(false);
    expect(isStale(retry)).toBe(false); // npm test built it just now
  });
});
