/**
 * What the host needs to know about a module before linking it, read from the binary:
 * the imports with their function signatures (the JS API does not expose them, but V8's
 * C API, which Envoy uses, checks them: cpp-host src/v8/v8.cc `V8::link`), the exported
 * function names, and the Proxy-Wasm ABI version the module advertises (cpp-host
 * src/bytecode_util.cc `getAbiVersion`).
 */
import { AbiVersion } from './abi.ts';

export type ValType = 'i32' | 'i64' | 'f32' | 'f64' | 'v128' | 'funcref' | 'externref';

export interface FuncType {
  params: ValType[];
  results: ValType[];
}

export interface Limits {
  initial: number;
  maximum?: number;
  shared: boolean;
}

export type ImportDesc =
  | { module: string; name: string; kind: 'function'; type: FuncType }
  | { module: string; name: string; kind: 'table'; element: ValType; limits: Limits }
  | { module: string; name: string; kind: 'memory'; limits: Limits }
  | { module: string; name: string; kind: 'global' | 'tag' };

export interface ModuleInfo {
  imports: ImportDesc[];
  /** Exported function names → signature. */
  functions: Map<string, FuncType>;
  /** ABI from the `proxy_abi_version_*` export, or undefined when none is exported. */
  abiVersion: AbiVersion | undefined;
  /** True when the module has a start section (e.g. AssemblyScript 0.14 modules). */
  hasStartSection: boolean;
  /** True when the module carries function names (a `name` custom section). */
  hasNames: boolean;
}

/** Thrown for bytes that are not a WebAssembly module this reader understands. */
export class ModuleFormatError extends Error {}

const VALTYPES: Record<number, ValType> = {
  0x7f: 'i32',
  0x7e: 'i64',
  0x7d: 'f32',
  0x7c: 'f64',
  0x7b: 'v128',
  0x70: 'funcref',
  0x6f: 'externref',
};

class Reader {
  pos = 0;
  constructor(readonly bytes: Uint8Array) {}
  byte(): number {
    if (this.pos >= this.bytes.length) throw new ModuleFormatError('unexpected end of module');
    return this.bytes[this.pos++];
  }
  u32(): number {
    let result = 0;
    let shift = 0;
    for (;;) {
      const b = this.byte();
      result |= (b & 0x7f) << shift;
      if ((b & 0x80) === 0) return result >>> 0;
      shift += 7;
      if (shift > 35) throw new ModuleFormatError('malformed LEB128');
    }
  }
  name(): string {
    const len = this.u32();
    const end = this.pos + len;
    if (end > this.bytes.length) throw new ModuleFormatError('unexpected end of module');
    const s = Buffer.from(this.bytes.buffer, this.bytes.byteOffset + this.pos, len).toString('utf8');
    this.pos = end;
    return s;
  }
  valtype(): ValType {
    const b = this.byte();
    const t = VALTYPES[b];
    if (!t) throw new ModuleFormatError(`unsupported value type 0x${b.toString(16)}`);
    return t;
  }
  limits(): Limits {
    const flags = this.byte();
    const initial = this.u32();
    const maximum = flags & 1 ? this.u32() : undefined;
    return { initial, maximum, shared: (flags & 2) !== 0 };
  }
}

const ABI_EXPORTS: Record<string, AbiVersion> = {
  proxy_abi_version_0_1_0: AbiVersion.V0_1_0,
  proxy_abi_version_0_2_0: AbiVersion.V0_2_0,
  proxy_abi_version_0_2_1: AbiVersion.V0_2_1,
};

/** Reads the type, import, function, export and start sections. */
export function readModuleInfo(bytes: Uint8Array): ModuleInfo {
  const r = new Reader(bytes);
  if (bytes.length < 8 || bytes[0] !== 0x00 || bytes[1] !== 0x61 || bytes[2] !== 0x73 || bytes[3] !== 0x6d) {
    throw new ModuleFormatError('not a WebAssembly module (bad magic)');
  }
  r.pos = 8;
  const types: FuncType[] = [];
  const imports: ImportDesc[] = [];
  const funcTypeIndices: number[] = []; // for every function, imported first
  const functions = new Map<string, FuncType>();
  let abiVersion: AbiVersion | undefined;
  let hasStartSection = false;
  let hasNames = false;
  while (r.pos < bytes.length) {
    const id = r.byte();
    const size = r.u32();
    const end = r.pos + size;
    if (end > bytes.length) throw new ModuleFormatError('section runs past the end of the module');
    switch (id) {
      case 1: {
        const n = r.u32();
        for (let i = 0; i < n; i++) {
          const form = r.byte();
          if (form !== 0x60) throw new ModuleFormatError(`unsupported type form 0x${form.toString(16)}`);
          const params = Array.from({ length: r.u32() }, () => r.valtype());
          const results = Array.from({ length: r.u32() }, () => r.valtype());
          types.push({ params, results });
        }
        break;
      }
      case 2: {
        const n = r.u32();
        for (let i = 0; i < n; i++) {
          const module = r.name();
          const name = r.name();
          const kind = r.byte();
          if (kind === 0) {
            const index = r.u32();
            const type = types[index];
            if (!type) throw new ModuleFormatError(`import ${module}.${name} names unknown type ${index}`);
            funcTypeIndices.push(index);
            imports.push({ module, name, kind: 'function', type });
          } else if (kind === 1) {
            const element = r.valtype();
            imports.push({ module, name, kind: 'table', element, limits: r.limits() });
          } else if (kind === 2) {
            imports.push({ module, name, kind: 'memory', limits: r.limits() });
          } else if (kind === 3) {
            r.valtype();
            r.byte();
            imports.push({ module, name, kind: 'global' });
          } else if (kind === 4) {
            r.byte();
            r.u32();
            imports.push({ module, name, kind: 'tag' });
          } else {
            throw new ModuleFormatError(`unknown import kind ${kind}`);
          }
        }
        break;
      }
      case 3: {
        const n = r.u32();
        for (let i = 0; i < n; i++) funcTypeIndices.push(r.u32());
        break;
      }
      case 7: {
        const n = r.u32();
        for (let i = 0; i < n; i++) {
          const name = r.name();
          const kind = r.byte();
          const index = r.u32();
          if (kind !== 0) continue;
          const type = types[funcTypeIndices[index]];
          if (type) functions.set(name, type);
          abiVersion ??= ABI_EXPORTS[name];
        }
        break;
      }
      case 8:
        hasStartSection = true;
        break;
      case 0:
        if (r.name() === 'name') hasNames = true;
        break;
      default:
        break;
    }
    r.pos = end;
  }
  return { imports, functions, abiVersion, hasStartSection, hasNames };
}

/** `i32 i32 -> i32` / `void`, as cpp-host's `printValTypes` writes signatures in its errors. */
export function printTypes(types: readonly ValType[]): string {
  return types.length === 0 ? 'void' : types.join(' ');
}
