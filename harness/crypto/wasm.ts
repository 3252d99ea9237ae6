/**
 * Loads build/test/crypto.wasm (see test/wasm/crypto.ts) and calls its exports with
 * byte arrays: each Uint8Array argument becomes a (ptr, len) pair, numbers pass as is.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';

const wasmPath = path.resolve(import.meta.dirname, '../../build/test/crypto.wasm');

export type Arg = Uint8Array | number;

export interface CryptoModule {
  /** Calls `name` and returns its i32 result. */
  call(name: string, ...args: Arg[]): number;
  /** Calls `name`, which returns a length written to the output area; returns those bytes. */
  callBytes(name: string, ...args: Arg[]): Uint8Array;
  exports: Record<string, unknown>;
}

export function loadCryptoModule(file = wasmPath): CryptoModule {
  const module = new WebAssembly.Module(readFileSync(file));
  let memory!: WebAssembly.Memory;
  const readString = (ptr: number) => {
    if (!ptr) return '';
    const len = new Uint32Array(memory.buffer, ptr - 4, 1)[0];
    return Buffer.from(memory.buffer, ptr, len).toString('utf16le');
  };
  const instance = new WebAssembly.Instance(module, {
    env: {
      abort(msg: number, file: number, line: number, col: number) {
        throw new Error(`abort: ${readString(msg)} at ${readString(file)}:${line}:${col}`);
      },
      seed: () => Date.now(),
      trace: () => {},
    },
  });
  const ex = instance.exports as Record<string, any>;
  memory = ex.memory as WebAssembly.Memory;
  if (typeof ex._initialize === 'function') ex._initialize();

  const invoke = (name: string, args: Arg[]): number => {
    const fn = ex[name];
    if (typeof fn !== 'function') throw new Error(`crypto.wasm has no export ${name}`);
    const raw: number[] = [];
    const owned: number[] = [];
    for (const a of args) {
      if (typeof a === 'number') {
        raw.push(a);
        continue;
      }
      const ptr = ex.alloc(Math.max(1, a.length)) as number;
      new Uint8Array(memory.buffer, ptr, a.length).set(a);
      owned.push(ptr);
      raw.push(ptr, a.length);
    }
    try {
      return fn(...raw) as number;
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
      return new Uint8Array(memory.buffer, ex.output() as number, len).slice();
    },
  };
}
