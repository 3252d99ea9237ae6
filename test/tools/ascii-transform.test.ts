import { readFileSync } from 'node:fs';
import path from 'node:path';
import asc from 'assemblyscript/asc';
import { describe, expect, it } from 'vitest';
import { projectRoot } from '../../harness/build.ts';
// @ts-expect-error: plain JavaScript module without types
import { packAscii } from '../../harness/ascii-transform.mjs';

const utf16 = (s: string) => Buffer.from(s, 'utf16le');

// Compiles `source` (an AssemblyScript entry next to the SDK's format.ts) with or without
// the transform; returns the binary.
async function compile(source: string, transform: boolean): Promise<Uint8Array> {
  let binary: Uint8Array | null = null;
  let diagnostics = '';
  const sink = { write: (s: string) => { diagnostics += s; return true; } } as never;
  const entry = 'assembly/proxy-wasm/ascii-test-entry.ts';
  const { error } = await asc.main([
    entry, '--baseDir', projectRoot, '--outFile', 'out.wasm', '-O3', '--runtime', 'stub', '--exportRuntime',
    ...(transform ? ['--transform', './harness/ascii-transform.mjs'] : []),
  ], {
    stdout: sink,
    stderr: sink,
    readFile: (name: string, baseDir: string) => {
      if (name === entry) return source;
      if (name === 'asconfig.json') return null; // only the options given here
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

// Reads the AssemblyScript string at `ptr` (UTF-16, byte length in the header's rtSize).
function readString(memory: WebAssembly.Memory, ptr: number): string {
  const size = new Uint32Array(memory.buffer, ptr - 4, 1)[0];
  return Buffer.from(new Uint8Array(memory.buffer, ptr, size)).toString('utf16le');
}

const SOURCE = `
import { ascii } from "./format";
export function even(): string { return ascii.text("expected a duration like \\"60s\\""); }
export function odd(): string { return ascii.text("unknown field"); }
export function empty(): string { return ascii.text(""); }
export function notAscii(): string { return ascii.text("caf\\u00e9 \\u2013 naïve"); }
`;

describe('ascii transform', () => {
  it('packs two ASCII characters per UTF-16 code unit, NUL-padded, and refuses anything else', () => {
    expect(packAscii('ab')).toBe(String.fromCharCode(0x6261));
    expect(packAscii('abc')).toBe(String.fromCharCode(0x6261, 0x0063));
    expect(packAscii('')).toBe('');
    expect(packAscii('caf\u00e9')).toBeNull();
    expect(packAscii('a\u0000b')).toBeNull();
  });

  it('gives the same strings with and without the transform, and stores the ASCII ones in half the bytes', async () => {
    for (const transform of [false, true]) {
      const bytes = await compile(SOURCE, transform);
      const instance = new WebAssembly.Instance(new WebAssembly.Module(bytes as Uint8Array<ArrayBuffer>), { env: { abort: () => { throw new Error('abort'); } } });
      const e = instance.exports as Record<string, any>;
      const memory = e.memory as WebAssembly.Memory;
      expect(readString(memory, e.even())).toBe('expected a duration like "60s"');
      expect(readString(memory, e.odd())).toBe('unknown field');
      expect(readString(memory, e.empty())).toBe('');
      expect(readString(memory, e.notAscii())).toBe('caf\u00e9 \u2013 naïve');
      // The binary holds the UTF-16 text only without the transform; with it, the bytes.
      const binary = Buffer.from(bytes);
      expect(binary.includes(utf16('unknown field')), `transform ${transform}`).toBe(!transform);
      expect(binary.includes(Buffer.from('unknown field'))).toBe(transform);
      // Non-ASCII literals are left as they are.
      expect(binary.includes(utf16('caf\u00e9'))).toBe(true);
    }
  }, 60_000);
});
