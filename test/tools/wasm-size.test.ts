import { describe, expect, it } from 'vitest';
import { analyzeWasm, folderOf, groupFunctions, sourceFileOf } from '../../harness/wasm-size.ts';

// Builds a section: id, LEB128 size, contents (all sizes here are below 128).
const section = (id: number, ...contents: number[]) => [id, contents.length, ...contents];
const str = (s: string) => [s.length, ...Buffer.from(s)];

// A module by hand, so that every expected size is known: one imported function, two
// defined ones (bodies of 3 and 5 bytes with their size prefix), two active data
// segments, an export and a name section.
function handMadeModule(): Uint8Array {
  const names = [
    2, // two names
    1, ...str('assembly/json/parser/scanNumber'),
    2, ...str('~lib/string/String#toLowerCase'),
  ];
  return new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, 1, 0x60, 0, 0), // type: () -> ()
    ...section(2, 1, ...str('env'), ...str('f'), 0x00, 0), // import env.f
    ...section(3, 2, 0, 0), // two functions of type 0
    ...section(5, 1, 0x00, 1), // memory, min 1 page
    ...section(7, 1, ...str('run'), 0x00, 2), // export "run" = function 2
    ...section(10, 2,
      2, 0, 0x0b, // body 0: no locals, end
      4, 0, 0x01, 0x01, 0x0b), // body 1: no locals, nop, nop, end
    ...section(11, 2,
      0, 0x41, 8, 0x0b, 4, 0x68, 0, 0x69, 0, // at 8: "hi" as UTF-16
      0, 0x41, 0xe4, 0x00, 0x0b, 3, 1, 2, 3), // at 100: three bytes
    ...section(0, ...str('name'), 1, names.length, ...names),
  ]);
}

describe('analyzeWasm', () => {
  it('reads section, function body and data segment sizes, and function names', () => {
    const bytes = handMadeModule();
    const m = analyzeWasm(bytes);
    expect(m.total).toBe(bytes.length);
    expect(m.sections.reduce((s, x) => s + x.bytes, 8)).toBe(bytes.length);
    expect(m.sections.map((s) => s.name)).toEqual(['type', 'import', 'function', 'memory', 'export', 'code', 'data', 'custom:name']);
    expect(m.importedFunctions).toBe(1);
    expect(m.exports).toEqual(['run']);
    expect(m.functions).toEqual([
      { index: 1, name: 'assembly/json/parser/scanNumber', bytes: 3 },
      { index: 2, name: '~lib/string/String#toLowerCase', bytes: 5 },
    ]);
    expect(m.data.map((d) => [d.bytes, d.offset])).toEqual([[4, 8], [3, 100]]);
    expect(m.data[0].preview).toBe('"hi"');
  });

  it('rejects what is not a wasm binary, and truncated input', () => {
    expect(() => analyzeWasm(new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]))).toThrow(/not a WebAssembly binary/);
    const bytes = handMadeModule();
    expect(() => analyzeWasm(bytes.subarray(0, bytes.length - 3))).toThrow(/truncated/);
  });
});

describe('attribution of AssemblyScript function names', () => {
  it('finds the source file of functions, methods, generics, start code and split bodies', () => {
    expect(sourceFileOf('assembly/json/value/JsonValue#get')).toBe('assembly/json/value');
    expect(sourceFileOf('~lib/map/Map<u32,assembly/proxy-wasm/context/Context>#set')).toBe('~lib/map');
    expect(sourceFileOf('~lib/string/String.UTF8.encodeUnsafe')).toBe('~lib/string');
    expect(sourceFileOf('start:filters/retry/config')).toBe('filters/retry/config');
    expect(sourceFileOf('byn-split-outlined-A$~lib/rt/itcms/__visit')).toBe('~lib/rt/itcms');
    expect(sourceFileOf('~start')).toBe('(compiler)');
  });

  it('groups files into folders and sums bytes per group, largest first', () => {
    expect(folderOf('assembly/proxy-wasm/abi/memory')).toBe('assembly/proxy-wasm');
    expect(folderOf('assembly/json/parser')).toBe('assembly/json');
    expect(folderOf('~lib/rt/tlsf')).toBe('~lib/rt');
    expect(folderOf('~lib/string')).toBe('~lib');
    expect(folderOf('filters/rate-limit/config')).toBe('filters/rate-limit');
    const groups = groupFunctions(
      [
        { index: 0, name: 'assembly/json/parser/a', bytes: 10 },
        { index: 1, name: '~lib/string/String#b', bytes: 30 },
        { index: 2, name: 'assembly/json/tape/c', bytes: 25 },
      ],
      (f) => folderOf(sourceFileOf(f.name)),
    );
    expect(groups).toEqual([
      { key: 'assembly/json', bytes: 35, functions: 2 },
      { key: '~lib', bytes: 30, functions: 1 },
    ]);
  });
});
