/**
 * Loads build/test/crypto.wasm (see test/wasm/crypto.ts) and calls its exports with
 * byte arrays: each Uint8Array argument becomes a (ptr, len) pair, numbers pass as is.
 *
 * The module's imports are whatever the build routes the runtime hooks to (`env.abort`,
 * `env.trace`, `env.seed`, or the SDK's `env.proxy_log` and WASI `random_get`); each is
 * answered here, and a trap carries the last message the module logged.
 */
import { randomFillSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';

// CRYPTO_WASM names another build of the module (e.g. one built with `--enable simd`)
// for the suites and the bench to run against.
const wasmPath = process.env.CRYPTO_WASM
  ? path.resolve(process.env.CRYPTO_WASM)
  : path.resolve(import.meta.dirname, '../../build/test/crypto.wasm');

export type Arg = Uint8Array | number;

/** assembly/crypto/result.ts `VerifyResult`, as the exports return it. */
export const VerifyResult = { Valid: 0, Invalid: 1, BadKey: 2, BadSignature: 3, BadInput: 4 } as const;

/** assembly/crypto/sha2.ts `HashAlg`, as the exports take it. */
export const HashAlg = { SHA256: 1, SHA384: 2, SHA512: 3 } as const;

/** Name of a VerifyResult code, for test messages. */
export const verifyResultName = (code: number): string =>
  Object.entries(VerifyResult).find(([, v]) => v === code)?.[0] ?? `code ${code}`;

export interface CryptoModule {
  /** Calls `name` and returns its i32 result. */
  call(name: string, ...args: Arg[]): number;
  /** Calls `name`, which returns a length written to the output area; returns those bytes. */
  callBytes(name: string, ...args: Arg[]): Uint8Array;
  /**
   * Copies `data` into module memory once and returns its (ptr, len) pair, for calls
   * repeated many times on the same bytes (the bench). Free it with `free`.
   */
  place(data: Uint8Array): [number, number];
  free(ptr: number): void;
  exports: Record<string, unknown>;
}

export function loadCryptoModule(file = wasmPath): CryptoModule {
  const module = new WebAssembly.Module(readFileSync(file));
  let memory!: WebAssembly.Memory;
  let lastLog = '';
  const readString = (ptr: number) => {
    if (!ptr) return '';
    const len = new Uint32Array(memory.buffer, ptr - 4, 1)[0];
    return Buffer.from(memory.buffer, ptr, len).toString('utf16le');
  };
  const known: Record<string, Record<string, (...a: number[]) => number | void>> = {
    env: {
      abort(msg: number, file: number, line: number, col: number) {
        throw new Error(`abort: ${readString(msg)} at ${readString(file)}:${line}:${col}`);
      },
      seed: () => Date.now(),
      trace: () => {},
      proxy_log(_level: number, ptr: number, len: number) {
        lastLog = Buffer.from(memory.buffer, ptr, len).toString('utf8');
        return 0;
      },
    },
    wasi_snapshot_preview1: {
      random_get(ptr: number, len: number) {
        randomFillSync(new Uint8Array(memory.buffer, ptr, len));
        return 0;
      },
    },
  };
  const imports: Record<string, Record<string, unknown>> = {};
  for (const imp of WebAssembly.Module.imports(module)) {
    if (imp.kind !== 'function') continue;
    const fn = known[imp.module]?.[imp.name];
    if (!fn) throw new Error(`crypto.wasm imports ${imp.module}.${imp.name}, which this loader does not provide`);
    (imports[imp.module] ??= {})[imp.name] = fn;
  }
  const instance = new WebAssembly.Instance(module, imports as WebAssembly.Imports);
  const ex = instance.exports as Record<string, any>;
  memory = ex.memory as WebAssembly.Memory;
  if (typeof ex._initialize === 'function') ex._initialize();

  const run = (fn: (...a: number[]) => number, raw: number[]): number => {
    try {
      return fn(...raw);
    } catch (err) {
      if (lastLog && err instanceof WebAssembly.RuntimeError) err.message += ` (module logged: ${lastLog})`;
      throw err;
    }
  };

  // A view of memory, renewed when memory grows (growth detaches the old buffer).
  let bytes = new Uint8Array(memory.buffer);
  const view = () => (bytes.byteLength ? bytes : (bytes = new Uint8Array(memory.buffer)));

  const place = (data: Uint8Array): [number, number] => {
    const ptr = ex.alloc(Math.max(1, data.length)) as number;
    view().set(data, ptr);
    return [ptr, data.length];
  };

  // Byte arguments go to one area allocated once (calls are never reentrant, and every
  // export copies what it keeps), so a call costs two copies and no allocation.
  const ARENA_BYTES = 1 << 16;
  const arena = ex.alloc(ARENA_BYTES) as number;

  const invoke = (name: string, args: Arg[]): number => {
    const fn = ex[name];
    if (typeof fn !== 'function') throw new Error(`crypto.wasm has no export ${name}`);
    const raw: number[] = [];
    const owned: number[] = [];
    let offset = 0;
    for (const a of args) {
      if (typeof a === 'number') {
        raw.push(a);
      } else if (offset + a.length <= ARENA_BYTES) {
        view().set(a, arena + offset);
        raw.push(arena + offset, a.length);
        offset += (a.length + 15) & ~15;
      } else {
        const [ptr, len] = place(a);
        owned.push(ptr);
        raw.push(ptr, len);
      }
    }
    try {
      return run(fn, raw);
    } finally {
      for (const p of owned) ex.dealloc(p);
    }
  };

  return {
    exports: ex,
    call: (name, ...args) => invoke(name, args),
    callBytes(name, ...args) {
      const len = invoke(name, args);
      if (len < 0) throw new Error(`${name} returned ${len}`);
      const at = ex.output() as number;
      return view().slice(at, at + len);
    },
    place,
    free: (ptr) => ex.dealloc(ptr),
  };
}
