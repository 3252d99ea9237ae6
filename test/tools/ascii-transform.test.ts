import { readFileSync } from 'node:fs';
import path from 'node:path';
import asc from 'assemblyscript/asc';
import { describe, expect, it } from 'vitest';
import { projectRoot } from '../../harness/build.ts';
import { analyzeWasm } from '../../harness/wasm-size.ts';
// @ts-expect-error: plain JavaScript module without types
import { packAscii } from '../../harness/ascii-transform.mjs';

const utf16 = (s: string) => Buffer.from(s, 'utf16le');

// Compiles `source` (an AssemblyScript entry next to the SDK's format.ts) with or without
// the transform, on `runtime`; returns the binary.
async function compile(source: string, transform: boolean, runtime = 'stub'): Promise<Uint8Array> {
  let binary: Uint8Array | null = null;
  let diagnostics = '';
  const sink = { write: (s: string) => { diagnostics += s; return true; } } as never;
  const entry = 'assembly/proxy-wasm/ascii-test-entry.ts';
  const { error } = await asc.main([
    entry, '--baseDir', projectRoot, '--outFile', 'out.wasm', '-O3', '--runtime', runtime, '--exportRuntime',
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

/** The test module's exports (its abort throws). */
function instantiate(bytes: Uint8Array): Record<string, any> {
  return new WebAssembly.Instance(new WebAssembly.Module(bytes as Uint8Array<ArrayBuffer>), {
    env: { abort: () => { throw new Error('abort'); } },
  }).exports as Record<string, any>;
}

// The bytes of the AssemblyScript object at `ptr` (byte length in the header's rtSize).
function readBytes(memory: WebAssembly.Memory, ptr: number): Buffer {
  const size = new Uint32Array(memory.buffer, ptr - 4, 1)[0];
  return Buffer.from(new Uint8Array(memory.buffer, ptr, size));
}

// The AssemblyScript string at `ptr` (UTF-16).
function readString(memory: WebAssembly.Memory, ptr: number): string {
  return readBytes(memory, ptr).toString('utf16le');
}

const SOURCE = `
import { ascii } from "./format";
export function even(): string { return ascii.text("expected a duration like \\"60s\\""); }
export function odd(): string { return ascii.text("unknown field"); }
export function empty(): string { return ascii.text(""); }
export function notAscii(): string { return ascii.text("caf\\u00e9 \\u2013 naïve"); }
// A config reader's \`fail\`: its message literals are packed without ascii.text.
class Reader {
  last: string = "";
  fail(path: string, message: string): void { this.last = path + ": " + message; }
}
export function failed(long: bool): string {
  const r = new Reader();
  r.fail("name", "expected one of " + (long ? "the retry conditions Envoy knows" : "x"));
  return r.last;
}
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
      const e = instantiate(bytes);
      const memory = e.memory as WebAssembly.Memory;
      expect(readString(memory, e.even())).toBe('expected a duration like "60s"');
      expect(readString(memory, e.odd())).toBe('unknown field');
      expect(readString(memory, e.empty())).toBe('');
      expect(readString(memory, e.notAscii())).toBe('caf\u00e9 \u2013 naïve');
      expect(readString(memory, e.failed(1))).toBe('name: expected one of the retry conditions Envoy knows');
      expect(readString(memory, e.failed(0))).toBe('name: expected one of x');

      // The binary holds the UTF-16 text only without the transform; with it, the bytes.
      const binary = Buffer.from(bytes);
      // Message literals given to \`fail\` are packed too, when long enough.
      expect(binary.includes(utf16('the retry conditions Envoy knows'))).toBe(!transform);
      expect(binary.includes(utf16("name"))).toBe(true); // shorter than MIN_PACKED: left as it is
      expect(binary.includes(utf16('unknown field')), `transform ${transform}`).toBe(!transform);
      expect(binary.includes(Buffer.from('unknown field'))).toBe(transform);
      // Non-ASCII literals are left as they are.
      expect(binary.includes(utf16('caf\u00e9'))).toBe(true);
    }
  }, 60_000);
});

// \`ascii.bytes\`: constant UTF-8 bytes (header names), static data with the transform.
const BYTES_SOURCE = `
import { ascii } from "./format";
const NAME = ascii.bytes("x-envoy-upstream-rq-timeout-ms");
export function name(): ArrayBuffer { return NAME; }
export function again(): ArrayBuffer { return ascii.bytes("x-envoy-upstream-rq-timeout-ms"); }
export function empty(): ArrayBuffer { return ascii.bytes(""); }
export function notAscii(): ArrayBuffer { return ascii.bytes("caf\\u00e9"); }
export function collect(): void { __collect(); }
`;

describe('ascii.bytes', () => {
  it('gives the same bytes with and without the transform; with it, one static copy and no UTF-16 text', async () => {
    for (const transform of [false, true]) {
      const bytes = await compile(BYTES_SOURCE, transform, 'minimal');
      const e = instantiate(bytes);
      const memory = e.memory as WebAssembly.Memory;
      e.collect(); // static or not, the bytes survive a collection
      expect(readBytes(memory, e.name()).toString('latin1')).toBe('x-envoy-upstream-rq-timeout-ms');
      expect(readBytes(memory, e.again()).toString('latin1')).toBe('x-envoy-upstream-rq-timeout-ms');
      expect(readBytes(memory, e.empty()).length).toBe(0);
      expect(readBytes(memory, e.notAscii()).toString('utf8')).toBe('caf\u00e9');
      // One literal, one static object below the heap: the same pointer on every call.
      expect(e.name() === e.again(), `transform ${transform}`).toBe(transform);
      const binary = Buffer.from(bytes);
      expect(binary.includes(utf16('x-envoy-upstream-rq-timeout-ms'))).toBe(!transform);
      expect(binary.includes(Buffer.from('x-envoy-upstream-rq-timeout-ms'))).toBe(transform);
    }
  }, 60_000);
});

// The transform also leaves the block size (mmInfo) of static objects at 0 under the
// minimal runtime, so that binaryen's memory packing stops splitting each literal into a
// 1-byte segment and the rest.
const STATIC_SOURCE = `
export function greeting(): string { return "a static string literal"; }
export function codes(): StaticArray<i32> { return [200, 404, 503]; }
// A string made at run time from a static one.
export function grown(): string { return "ab".padEnd(40, "-"); }
export function collect(): void { __collect(); }
`;

describe('static object headers', () => {
  it('minimal runtime: static blocks have mmInfo 0, no 1-byte segments, and literals, constant arrays and strings made from them work across collections', async () => {
    const bytes = await compile(STATIC_SOURCE, true, 'minimal');
    expect(analyzeWasm(bytes).data.filter((d) => d.bytes === 1)).toEqual([]);
    const e = instantiate(bytes);
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
    const bytes = await compile(STATIC_SOURCE, true, 'incremental');
    expect(analyzeWasm(bytes).data.filter((d) => d.bytes === 1).length).toBeGreaterThan(0);
    const e = instantiate(bytes);
    const memory = e.memory as WebAssembly.Memory;
    const s = e.greeting();
    expect(readString(memory, s)).toBe('a static string literal');
    expect(new Uint32Array(memory.buffer, s - 20, 1)[0]).toBeGreaterThan(0);
  }, 60_000);
});
