import { readFileSync } from 'node:fs';
import path from 'node:path';
import asc from 'assemblyscript/asc';
import { describe, expect, it } from 'vitest';
import { projectRoot } from '../../harness/build.ts';
import { analyzeWasm } from '../../harness/wasm-size.ts';

// harness/ascii-transform.mjs also leaves the block size (mmInfo) of static objects at 0
// under the minimal runtime, so that binaryen's memory packing stops splitting each
// literal into a 1-byte segment and the rest. These build a small module both ways.

const ENTRY = 'assembly/proxy-wasm/static-headers-test-entry.ts';
const SOURCE = `
export function greeting(): string { return "a static string literal"; }
export function codes(): StaticArray<i32> { return [200, 404, 503]; }
// A static object made longer: __renew must copy it out of static memory.
export function grown(): string { return "ab".padEnd(40, "-"); }
export function collect(): void { __collect(); }
`;

async function compile(runtime: string): Promise<Uint8Array> {
  let binary: Uint8Array | null = null;
  let diagnostics = '';
  const sink = { write: (s: string) => { diagnostics += s; return true; } } as never;
  const { error } = await asc.main([
    ENTRY, '--baseDir', projectRoot, '--outFile', 'out.wasm', '-O2', '--runtime', runtime, '--exportRuntime',
    '--transform', './harness/ascii-transform.mjs',
  ], {
    stdout: sink,
    stderr: sink,
    readFile: (name: string, baseDir: string) => {
      if (name === ENTRY) return SOURCE;
      if (name === 'asconfig.json') return null;
      try {
        return readFileSync(path.join(baseDir, name), 'utf8');
      } catch {
        return null;
      }
    },
    writeFile: (name: string, contents: Uint8Array | string) => {
      if (name.endsWith('.wasm') && typeof contents !== 'string') binary = contents;
    },
  });
  if (error) throw new Error(`${error.message}\n${diagnostics}`);
  return binary!;
}

function readString(memory: WebAssembly.Memory, ptr: number): string {
  const size = new Uint32Array(memory.buffer, ptr - 4, 1)[0];
  return Buffer.from(new Uint8Array(memory.buffer, ptr, size)).toString('utf16le');
}

describe('static object headers', () => {
  it('minimal runtime: static blocks have mmInfo 0, no 1-byte segments, and literals, arrays and __renew work', async () => {
    const bytes = await compile('minimal');
    expect(analyzeWasm(bytes).data.filter((d) => d.bytes === 1)).toEqual([]);
    const e = new WebAssembly.Instance(new WebAssembly.Module(bytes as Uint8Array<ArrayBuffer>), {
      env: { abort: () => { throw new Error('abort'); } },
    }).exports as Record<string, any>;
    const memory = e.memory as WebAssembly.Memory;
    const s = e.greeting();
    expect(readString(memory, s)).toBe('a static string literal');
    expect(new Uint32Array(memory.buffer, s - 20, 1)[0]).toBe(0); // mmInfo
    const codes = e.codes();
    expect(Array.from(new Int32Array(memory.buffer, codes, 3))).toEqual([200, 404, 503]);
    for (let i = 0; i < 3; i++) {
      e.collect(); // visits and unlinks static objects
      expect(readString(memory, e.grown())).toBe('ab' + '-'.repeat(38));
      expect(readString(memory, e.greeting())).toBe('a static string literal');
    }
  }, 60_000);

  it('incremental runtime (whose __renew reads a block size): keeps the compiler headers', async () => {
    const bytes = await compile('incremental');
    expect(analyzeWasm(bytes).data.filter((d) => d.bytes === 1).length).toBeGreaterThan(0);
    const e = new WebAssembly.Instance(new WebAssembly.Module(bytes as Uint8Array<ArrayBuffer>), {
      env: { abort: () => { throw new Error('abort'); } },
    }).exports as Record<string, any>;
    const memory = e.memory as WebAssembly.Memory;
    const s = e.greeting();
    expect(readString(memory, s)).toBe('a static string literal');
    expect(new Uint32Array(memory.buffer, s - 20, 1)[0]).toBeGreaterThan(0);
  }, 60_000);
});
