/**
 * The SDK's public surface is the only door (issue "One way to write a filter"): code
 * outside `assembly/proxy-wasm/` imports the SDK through its index, and a module's entry
 * (a filter's `index.ts`) may also re-export the ABI callbacks from `exports` /
 * `exports-core`. Nothing outside the SDK declares host functions of its own.
 */
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { projectRoot } from '../../harness/build.ts';

const SDK = path.join(projectRoot, 'assembly', 'proxy-wasm');
const INDEX = path.join(SDK, 'index.ts');
const ENTRY_EXPORTS = new Set([path.join(SDK, 'exports.ts'), path.join(SDK, 'exports-core.ts')]);

/** AssemblyScript sources of filters and of the shared code beside the SDK (tests and specs excluded). */
function sources(): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) {
        if (e.name !== '__tests__' && p !== SDK) walk(p);
      } else if (e.name.endsWith('.ts') && !e.name.endsWith('.test.ts') && !e.name.endsWith('.spec.ts')) out.push(p);
    }
  };
  walk(path.join(projectRoot, 'filters'));
  walk(path.join(projectRoot, 'assembly'));
  return out;
}

/** `from "..."` specifiers of imports and re-exports, resolved to files. */
function imports(file: string, text: string): string[] {
  const specifiers = [...text.matchAll(/^\s*(?:import|export)\b[^;]*?\bfrom\s+["']([^"']+)["']/gms)].map((m) => m[1]);
  return specifiers.filter((s) => s.startsWith('.')).map((s) => {
    const p = path.resolve(path.dirname(file), s);
    return p.endsWith('.ts') ? p : readdirSafe(p) ? path.join(p, 'index.ts') : `${p}.ts`;
  });
}

function readdirSafe(p: string): boolean {
  try {
    readdirSync(p);
    return true;
  } catch {
    return false;
  }
}

/** What `file` may not import from the SDK, as `file → target` lines. */
function doorViolations(files: string[], read: (file: string) => string = (f) => readFileSync(f, 'utf8')): string[] {
  const bad: string[] = [];
  for (const file of files) {
    const isEntry = path.basename(file) === 'index.ts' && path.dirname(path.dirname(file)) === path.join(projectRoot, 'filters');
    for (const target of imports(file, read(file))) {
      if (!target.startsWith(SDK + path.sep)) continue;
      if (target === INDEX || (isEntry && ENTRY_EXPORTS.has(target))) continue;
      bad.push(`${path.relative(projectRoot, file)} → ${path.relative(projectRoot, target)}`);
    }
  }
  return bad;
}

describe('the SDK is the only door', () => {
  const files = sources();

  it('finds the filters and the shared code', () => {
    const rel = files.map((f) => path.relative(projectRoot, f));
    for (const f of ['filters/jwt-auth/index.ts', 'filters/hello/plugin.ts', 'assembly/config/reader.ts']) expect(rel).toContain(f);
    expect(rel.some((f) => f.startsWith('assembly/proxy-wasm/'))).toBe(false);
  });

  it('code outside the SDK imports only its index (entries also exports / exports-core)', () => {
    expect(doorViolations(files)).toEqual([]);
  });

  it('reports an import past the index (the check can fail)', () => {
    const plugin = path.join(projectRoot, 'filters', 'hello', 'plugin.ts');
    const entry = path.join(projectRoot, 'filters', 'hello', 'index.ts');
    const text = readFileSync(plugin, 'utf8');
    expect(text).toContain('from "../../assembly/proxy-wasm"');
    const past = text.replace('from "../../assembly/proxy-wasm"', 'from "../../assembly/proxy-wasm/abi/imports"');
    expect(doorViolations([plugin], () => past)).toEqual(['filters/hello/plugin.ts → assembly/proxy-wasm/abi/imports.ts']);
    // exports-core is an entry's door only.
    const reexport = 'export * from "../../assembly/proxy-wasm/exports-core";\n';
    expect(doorViolations([entry], () => reexport)).toEqual([]);
    expect(doorViolations([plugin], () => reexport)).toEqual(['filters/hello/plugin.ts → assembly/proxy-wasm/exports-core.ts']);
  });

  it('declares no host function outside the SDK', () => {
    const declaring = files.filter((f) => /@external\s*\(|^\s*(?:export\s+)?declare\s+function\b/m.test(readFileSync(f, 'utf8')));
    expect(declaring.map((f) => path.relative(projectRoot, f))).toEqual([]);
  });
});
