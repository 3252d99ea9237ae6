// harness/host's imports go one way (harness/host/README.md "Layers"): every file sits in a
// layer and imports only from its own layer or lower ones, and no files import each other
// in a circle. Type-only imports count: a type names the module it comes from, and a
// circle of types is the same tangle to a reader as one of values.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const HOST = path.resolve(import.meta.dirname, '../../harness/host');

/** Lowest first. A file matches a name, or `dir/*` for every file of a folder. */
const LAYERS: ReadonlyArray<readonly [layer: string, files: readonly string[]]> = [
  ['ABI', ['abi.ts', 'body-buffer.ts', 'filter.ts', 'header-map.ts', 'memory.ts', 'module-info.ts', 'pairs.ts']],
  ['services', ['services.ts', 'shared/*']],
  ['hostcall table', ['host-interface.ts', 'hostcalls.ts', 'wasi.ts']],
  ['host state', ['properties.ts', 'wasm.ts', 'context.ts', 'plugin.ts']],
  ['embedder API', ['emulator.ts', 'index.ts', 'bench.ts', 'testing.ts', 'wasm-builder.ts']],
];

/** Comments blanked out, strings and code kept (so `// import x from 'y'` is no import). */
function stripComments(source: string): string {
  return source.replace(/('(?:\\.|[^'\\\n])*'|"(?:\\.|[^"\\\n])*"|`(?:\\.|[^`\\])*`)|\/\*[\s\S]*?\*\/|\/\/[^\n]*/g, (m, literal) => literal ?? ' ');
}

/** What a TypeScript file imports: `import`, `import type`, `export ... from`, side-effect and dynamic imports. */
export function importSpecifiers(source: string): string[] {
  const code = stripComments(source);
  const found: string[] = [];
  for (const m of code.matchAll(/(?:^|[;\n])\s*(?:import|export)\s+(?:type\s+)?(?:[\w$*{},\s]+?\s+from\s+)?(['"])([^'"\n]+)\1/g)) found.push(m[2]);
  for (const m of code.matchAll(/\bimport\s*\(\s*(['"])([^'"\n]+)\1\s*\)/g)) found.push(m[2]);
  return found;
}

function hostFiles(dir = HOST): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const full = path.join(dir, e.name);
    if (e.isDirectory()) return hostFiles(full);
    return e.name.endsWith('.ts') ? [path.relative(HOST, full).split(path.sep).join('/')] : [];
  });
}

/** file → the files of harness/host it imports (paths relative to harness/host). */
function importGraph(): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const file of hostFiles()) {
    const targets = new Set<string>();
    for (const spec of importSpecifiers(readFileSync(path.join(HOST, file), 'utf8'))) {
      if (!spec.startsWith('.')) continue;
      const target = path.relative(HOST, path.resolve(HOST, path.dirname(file), spec)).split(path.sep).join('/');
      if (!target.startsWith('../')) targets.add(target);
    }
    graph.set(file, [...targets].sort());
  }
  return graph;
}

/** A circle of imports (`a → b → a`), or null. */
export function findCycle(graph: ReadonlyMap<string, readonly string[]>): string[] | null {
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (node: string): string[] | null => {
    if (state.get(node) === 'done') return null;
    if (state.get(node) === 'open') return [...stack.slice(stack.indexOf(node)), node];
    state.set(node, 'open');
    stack.push(node);
    for (const next of graph.get(node) ?? []) {
      const cycle = visit(next);
      if (cycle) return cycle;
    }
    stack.pop();
    state.set(node, 'done');
    return null;
  };
  for (const node of graph.keys()) {
    const cycle = visit(node);
    if (cycle) return cycle;
  }
  return null;
}

function layerOf(file: string): number {
  return LAYERS.findIndex(([, files]) => files.some((f) => f === file || (f.endsWith('/*') && file.startsWith(f.slice(0, -1)))));
}

describe('harness/host imports', () => {
  it('reads every form of import, and none in comments', () => {
    const source = [
      "import { a, type B } from './a.ts';",
      'import type {',
      '  C,',
      '  D,',
      "} from './c.ts';",
      "import * as e from './e.ts';",
      "import './side-effect.ts';",
      "export { f } from './f.ts';",
      "export * from './g.ts';",
      "const h = await import('./h.ts');",
      "// import { x } from './commented.ts';",
      "/* export * from './commented-too.ts'; */",
      "const s = 'not // a comment'; export type { I } from './i.ts';",
      "import.meta.dirname; export const j = 'from ./j.ts';",
    ].join('\n');
    expect(importSpecifiers(source)).toEqual(['./a.ts', './c.ts', './e.ts', './side-effect.ts', './f.ts', './g.ts', './i.ts', './h.ts']);
  });

  it('finds a circle of imports, and none in a tree', () => {
    expect(findCycle(new Map([['a', ['b']], ['b', ['c']], ['c', ['a']]]))).toEqual(['a', 'b', 'c', 'a']);
    expect(findCycle(new Map([['a', ['b', 'c']], ['b', ['c']], ['c', []]]))).toBeNull();
  });

  const graph = importGraph();

  it('has no circle of imports', () => {
    expect(graph.get('hostcalls.ts')).toContain('abi.ts'); // the graph is read
    const cycle = findCycle(graph);
    expect(cycle, cycle ? `import circle in harness/host: ${cycle.join(' → ')}` : '').toBeNull();
  });

  it('imports only from the same layer or lower ones', () => {
    const unplaced = [...graph.keys()].filter((f) => layerOf(f) < 0);
    expect(unplaced, 'place these files in a layer (here and in harness/host/README.md)').toEqual([]);
    const upward: string[] = [];
    for (const [file, targets] of graph) {
      for (const target of targets) {
        if (layerOf(target) > layerOf(file)) {
          upward.push(`${file} (${LAYERS[layerOf(file)][0]}) imports ${target} (${LAYERS[layerOf(target)][0]})`);
        }
      }
    }
    expect(upward).toEqual([]);
  });
});
