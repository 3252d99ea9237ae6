// MemoryView (harness/host/memory.ts): bounds as cpp-host getMemory/setMemory, and the
// table of short strings decoded before, which must never hand back another string.
import { describe, expect, it } from 'vitest';
import { INTERNED_MAX_BYTES, MemoryView } from '../../harness/host/memory.ts';

function view(pages = 1): { mem: MemoryView; memory: WebAssembly.Memory } {
  const memory = new WebAssembly.Memory({ initial: pages, maximum: 4 });
  const mem = new MemoryView();
  mem.attach(memory);
  return { mem, memory };
}

function put(mem: MemoryView, ptr: number, bytes: Uint8Array | string): number {
  const b = typeof bytes === 'string' ? Buffer.from(bytes, 'latin1') : bytes;
  expect(mem.write(ptr, b)).toBe(true);
  return b.length;
}

describe('MemoryView latin1', () => {
  it('decodes every length, short and long, byte for byte (latin1 round-trip)', () => {
    const { mem } = view();
    for (let len = 0; len <= INTERNED_MAX_BYTES + 40; len++) {
      const bytes = Uint8Array.from({ length: len }, (_, i) => (i * 37 + len) & 0xff);
      put(mem, 100, bytes);
      const s = mem.latin1(100, len)!;
      expect(s.length).toBe(len);
      expect(Buffer.from(s, 'latin1').equals(Buffer.from(bytes))).toBe(true);
    }
  });

  it('gives the new string when the bytes at the same address change (same length too)', () => {
    const { mem } = view();
    put(mem, 64, 'x-user-id');
    expect(mem.latin1(64, 9)).toBe('x-user-id');
    put(mem, 64, 'x-user-ie');
    expect(mem.latin1(64, 9)).toBe('x-user-ie');
    put(mem, 64, 'x-user-id');
    expect(mem.latin1(64, 9)).toBe('x-user-id');
  });

  it('compares every byte, not only those that pick the slot: strings differing anywhere read back as themselves', () => {
    const { mem } = view();
    for (const len of [1, 2, 3, 4, 5, 7, 8, 9, 13, 20, 33, INTERNED_MAX_BYTES]) {
      const base = Buffer.alloc(len, 'a');
      put(mem, 200, base);
      expect(mem.latin1(200, len)).toBe(base.toString('latin1'));
      // Same length, same first, middle and last words: only one inner byte differs.
      for (let at = 0; at < len; at++) {
        const other = Buffer.from(base);
        other[at] = 0xe9;
        put(mem, 200, other);
        expect(mem.latin1(200, len)).toBe(other.toString('latin1'));
        put(mem, 200, base);
        expect(mem.latin1(200, len)).toBe(base.toString('latin1'));
      }
    }
  });

  it('never confuses strings that share a slot: thousands of distinct names all read back as themselves', () => {
    const { mem } = view();
    const names = Array.from({ length: 3000 }, (_, i) => `x-h-${i.toString(36)}-${(i * 7919).toString(16)}`);
    // Twice, so that the second pass meets slots that other names took over meanwhile.
    for (let pass = 0; pass < 2; pass++) {
      for (const [i, name] of names.entries()) {
        const ptr = 1000 + (i % 50) * 80;
        const len = put(mem, ptr, name);
        expect(mem.latin1(ptr, len)).toBe(name);
      }
    }
  });

  it('answers null out of bounds, and sees memory that grew', () => {
    const { mem, memory } = view(1);
    expect(mem.latin1(65536 - 4, 8)).toBeNull();
    memory.grow(1);
    put(mem, 65536 + 10, 'after-grow');
    expect(mem.latin1(65536 + 10, 10)).toBe('after-grow');
    expect(mem.latin1(0xffffffff, 2)).toBeNull();
  });
});

describe('MemoryView writeLatin1Unchecked', () => {
  it('writes short and long strings byte for byte', () => {
    const { mem } = view();
    for (const s of ['', 'a', 'x-user-permissions', 'é~\u00ff'.repeat(20), 'v'.repeat(300)]) {
      const n = mem.writeLatin1Unchecked(500, s);
      expect(n).toBe(s.length);
      expect(Buffer.from(mem.u8.subarray(500, 500 + n)).toString('latin1')).toBe(s);
    }
  });
});
