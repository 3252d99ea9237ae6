/**
 * Loads build/test/json.wasm (entry test/wasm/json.ts): the project's JSON parser with
 * raw-pointer exports, for the differential test, the fuzzer and the bench.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';

export const jsonWasmPath = path.resolve(import.meta.dirname, '../../build/test/json.wasm');

/** JsonErrorKind of assembly/json/error.ts, by value. */
export const JsonErrorKind = [
  'None', 'UnexpectedEnd', 'UnexpectedCharacter', 'TrailingComma', 'InvalidNumber', 'NumberOutOfRange',
  'ControlCharacter', 'InvalidEscape', 'LoneSurrogate', 'InvalidUtf8', 'DuplicateKey', 'TrailingData',
  'TooDeep', 'TooLarge',
] as const;
export type JsonErrorKindName = (typeof JsonErrorKind)[number];

export type WasmParseResult =
  | { ok: true; json: string }
  | { ok: false; kind: JsonErrorKindName; offset: number; message: string };

export interface JsonModule {
  /** Parses `input` with the limits; on success `json` is the document re-serialized by the wasm writer. */
  parse(input: Uint8Array, limits?: { maxDepth?: number; maxBytes?: number }): WasmParseResult;
  /** Copies `input` into wasm memory once; returns [ptr, len] for the raw exports (free with `free`). */
  place(input: Uint8Array): [number, number];
  free(ptr: number): void;
  /** Raw exports: parseOnly(ptr, len) → error kind, parseClaims(ptr, len) → exp or -1n. */
  exports: { parseOnly(ptr: number, len: number): number; parseClaims(ptr: number, len: number): bigint };
}

/** Instantiates a fresh module (after a trap an instance must not be reused). */
export function loadJsonModule(file = jsonWasmPath): JsonModule {
  const module = new WebAssembly.Module(readFileSync(file));
  let memory!: WebAssembly.Memory;
  const readString = (ptr: number) => {
    if (!ptr) return '';
    const len = new Uint32Array(memory.buffer, ptr - 4, 1)[0];
    return Buffer.from(memory.buffer, ptr, len).toString('utf16le');
  };
  // Whatever else the build links (the SDK's abort handler, seed, trace...) gets a stub
  // that answers 0; an abort throws, so that a test sees it as a failure.
  const env = new Proxy<Record<string, unknown>>(
    {
      abort(msg: number, file: number, line: number, col: number) {
        throw new Error(`abort: ${readString(msg)} at ${readString(file)}:${line}:${col}`);
      },
      seed: () => 1,
    },
    { get: (t, name: string) => (name in t ? t[name] : () => 0), has: () => true },
  );
  const imports: WebAssembly.Imports = {};
  for (const { module: m } of WebAssembly.Module.imports(module)) {
    imports[m] ??= m === 'env' ? (env as WebAssembly.ModuleImports) : new Proxy({}, { get: () => () => 0 });
  }
  const instance = new WebAssembly.Instance(module, imports);
  const ex = instance.exports as Record<string, any>;
  memory = ex.memory as WebAssembly.Memory;
  if (typeof ex._initialize === 'function') ex._initialize();

  const place = (input: Uint8Array): [number, number] => {
    const ptr = ex.alloc(Math.max(1, input.length)) as number;
    new Uint8Array(memory.buffer, ptr, input.length).set(input);
    return [ptr, input.length];
  };
  const output = () => Buffer.from(new Uint8Array(memory.buffer, ex.outputPtr(), ex.outputLength())).toString('utf8');

  return {
    exports: ex as JsonModule['exports'],
    place,
    free: (ptr) => ex.dealloc(ptr),
    parse(input, limits = {}) {
      const [ptr, len] = place(input);
      try {
        const kind = ex.parse(ptr, len, limits.maxDepth ?? 64, limits.maxBytes ?? 1 << 20) as number;
        const text = output();
        if (kind === 0) return { ok: true, json: text };
        const space = text.indexOf(' ');
        return { ok: false, kind: JsonErrorKind[kind] ?? (`#${kind}` as JsonErrorKindName), offset: Number(text.slice(0, space)), message: text.slice(space + 1) };
      } finally {
        ex.dealloc(ptr);
      }
    },
  };
}
