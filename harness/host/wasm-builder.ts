/**
 * A tiny WebAssembly binary writer: modules with exactly the imports, exports and
 * start-up behaviour a host test needs (a missing import, a wrong signature,
 * `_initialize` + `main`...), which no compiler would produce on purpose, and the
 * hostcall-replay modules of the benchmarks (harness/bench/hostcall-replay.ts).
 * Binary format: WebAssembly Core Specification 2.0, section 5.
 */
type ValType = 'i32' | 'i64';
const VT: Record<ValType, number> = { i32: 0x7f, i64: 0x7e };

export interface FuncSpec {
  params?: ValType[];
  results?: ValType[];
  /** Body instructions (without locals or `end`); may use `call(name)` to call by name. */
  body?: (call: (name: string) => number[]) => number[];
  export?: string;
}

export interface ModuleSpec {
  imports?: Array<{ module: string; name: string; params?: ValType[]; results?: ValType[] }>;
  functions?: Record<string, FuncSpec>;
  /** Data placed at address 1024 (strings the start-up code logs). */
  data?: string;
  /** More data, each at its own address. */
  segments?: Array<{ offset: number; bytes: Uint8Array }>;
  memoryPages?: number;
  /** Add a `name` section naming every function (as debug builds carry). */
  names?: boolean;
}

function uleb(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n !== 0) b |= 0x80;
    out.push(b);
  } while (n !== 0);
  return out;
}

function sleb(n: number): number[] {
  const out: number[] = [];
  for (;;) {
    const b = n & 0x7f;
    n >>= 7;
    if ((n === 0 && (b & 0x40) === 0) || (n === -1 && (b & 0x40) !== 0)) {
      out.push(b);
      return out;
    }
    out.push(b | 0x80);
  }
}

function str(s: string): number[] {
  const b = [...Buffer.from(s)];
  return [...uleb(b.length), ...b];
}

function vec(items: number[][]): number[] {
  return [...uleb(items.length), ...items.flat()];
}

function section(id: number, content: number[]): number[] {
  return [id, ...uleb(content.length), ...content];
}

function sleb64(n: bigint): number[] {
  const out: number[] = [];
  for (let v = BigInt.asIntN(64, n); ; ) {
    const b = Number(v & 0x7fn);
    v >>= 7n;
    if ((v === 0n && (b & 0x40) === 0) || (v === -1n && (b & 0x40) !== 0)) {
      out.push(b);
      return out;
    }
    out.push(b | 0x80);
  }
}

/** `i32.const n` */
export const i32 = (n: number): number[] => [0x41, ...sleb(n)];
/** `i64.const n` */
export const i64 = (n: bigint): number[] => [0x42, ...sleb64(n)];
export const DROP = [0x1a];

/** Writes the module. Imports come first in the function index space. */
export function buildModule(spec: ModuleSpec): Uint8Array {
  const imports = spec.imports ?? [];
  const functions = Object.entries(spec.functions ?? {});
  const types: string[] = [];
  const typeIndex = (params: ValType[] = [], results: ValType[] = []): number => {
    const key = `${params.join(',')}->${results.join(',')}`;
    let i = types.indexOf(key);
    if (i < 0) i = types.push(key) - 1;
    return i;
  };
  const funcIndex = new Map<string, number>();
  imports.forEach((imp, i) => funcIndex.set(`${imp.module}.${imp.name}`, i));
  functions.forEach(([name], i) => funcIndex.set(name, imports.length + i));
  const call = (name: string): number[] => {
    const index = funcIndex.get(name);
    if (index === undefined) throw new Error(`no function ${name}`);
    return [0x10, ...uleb(index)];
  };
  const importEntries = imports.map((imp) => [...str(imp.module), ...str(imp.name), 0x00, ...uleb(typeIndex(imp.params, imp.results))]);
  const funcTypes = functions.map(([, f]) => uleb(typeIndex(f.params, f.results)));
  const bodies = functions.map(([, f]) => {
    const code = [0x00, ...(f.body ? f.body(call) : []), 0x0b];
    return [...uleb(code.length), ...code];
  });
  const exports: number[][] = [[...str('memory'), 0x02, 0x00]];
  functions.forEach(([name, f], i) => {
    if (f.export !== undefined) exports.push([...str(f.export), 0x00, ...uleb(imports.length + i)]);
  });
  const typeEntries = types.map((key) => {
    const [p, r] = key.split('->');
    const params = p ? p.split(',').map((t) => VT[t as ValType]) : [];
    const results = r ? r.split(',').map((t) => VT[t as ValType]) : [];
    return [0x60, ...vec(params.map((x) => [x])), ...vec(results.map((x) => [x]))];
  });
  const data = spec.data ? [[0x00, ...i32(1024), 0x0b, ...str(spec.data)]] : [];
  for (const seg of spec.segments ?? []) data.push([0x00, ...i32(seg.offset), 0x0b, ...uleb(seg.bytes.length), ...seg.bytes]);
  const nameMap = [...funcIndex.entries()].sort((a, b) => a[1] - b[1]).map(([name, index]) => [...uleb(index), ...str(name)]);
  const names = spec.names ? section(0, [...str('name'), ...section(1, vec(nameMap))]) : [];
  return new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, vec(typeEntries)),
    ...section(2, vec(importEntries)),
    ...section(3, vec(funcTypes)),
    ...section(5, vec([[0x00, ...uleb(spec.memoryPages ?? 1)]])),
    ...section(7, vec(exports)),
    ...section(10, vec(bodies)),
    ...(data.length ? section(11, vec(data)) : []),
    ...names,
  ]);
}

/** `proxy_log(2, 1024 + offset, length)` then drop: logs part of the data segment at info. */
export function logData(call: (name: string) => number[], offset: number, length: number): number[] {
  return [...i32(2), ...i32(1024 + offset), ...i32(length), ...call('env.proxy_log'), ...DROP];
}

/** The exports every loadable module needs: an ABI marker and an allocator. */
export const BASICS: Record<string, FuncSpec> = {
  abi: { export: 'proxy_abi_version_0_2_1' },
  alloc: { export: 'proxy_on_memory_allocate', params: ['i32'], results: ['i32'], body: () => i32(8192) },
};
