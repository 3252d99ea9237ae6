/**
 * Building blocks for state that lives in a `SharedArrayBuffer` and is used by several
 * threads at once: a mutex and a block allocator. The stores built on them (shared
 * data, shared queues, metrics) are what Envoy keeps behind one `std::mutex` each in
 * proxy-wasm-cpp-host (src/shared_data.cc, src/shared_queue.cc); here every worker
 * thread maps the same bytes, so the lock must live in those bytes too.
 */

/**
 * A futex-style mutex on one Int32 word (0 free, 1 held, 2 held with waiters), after
 * U. Drepper, "Futexes Are Tricky" (mutex #3). `Atomics.wait` blocks only when the lock
 * is contended; critical sections here are a few hundred nanoseconds.
 */
export function lock(i32: Int32Array, index: number): void {
  let c = Atomics.compareExchange(i32, index, 0, 1);
  if (c === 0) return;
  for (let spin = 0; spin < 64; spin++) {
    if (Atomics.load(i32, index) === 0) {
      c = Atomics.compareExchange(i32, index, 0, 1);
      if (c === 0) return;
    }
  }
  if (c !== 2) c = Atomics.exchange(i32, index, 2);
  while (c !== 0) {
    Atomics.wait(i32, index, 2);
    c = Atomics.exchange(i32, index, 2);
  }
}

export function unlock(i32: Int32Array, index: number): void {
  if (Atomics.sub(i32, index, 1) !== 1) {
    Atomics.store(i32, index, 0);
    Atomics.notify(i32, index, 1);
  }
}

const MIN_CLASS = 4; // 16-byte blocks
const CLASSES = 28; // up to 2^31

/** Capacity of the block `alloc(size)` returns: the next power of two, at least 16. */
export function blockCapacity(size: number): number {
  return 1 << sizeClass(size);
}

function sizeClass(size: number): number {
  if (size <= 1 << MIN_CLASS) return MIN_CLASS;
  return 32 - Math.clz32(size - 1);
}

/**
 * A segregated-fit allocator over [start, end) of a SharedArrayBuffer: blocks are
 * powers of two, freed blocks go on a free list per size, and new blocks come from a
 * bump pointer. Header words at `headerIndex`: [top, free heads x 28]. Callers hold the
 * store's mutex. Offsets are bytes from the start of the buffer; 0 means "none".
 */
export class SabHeap {
  static readonly HEADER_WORDS = 1 + CLASSES;

  constructor(
    private readonly i32: Int32Array,
    private readonly headerIndex: number,
    private readonly start: number,
    private readonly end: number,
  ) {}

  /** Sets up an empty heap (creator only). */
  init(): void {
    this.i32[this.headerIndex] = this.start;
    for (let k = 0; k < CLASSES; k++) this.i32[this.headerIndex + 1 + k] = 0;
  }

  /** Returns the offset of a block of at least `size` bytes, or 0 when the heap is full. */
  alloc(size: number): number {
    const k = sizeClass(size);
    const head = this.headerIndex + 1 + (k - MIN_CLASS);
    const free = this.i32[head];
    if (free !== 0) {
      this.i32[head] = this.i32[free >> 2];
      return free;
    }
    const top = this.i32[this.headerIndex];
    const cap = 1 << k;
    if (top + cap > this.end) return 0;
    this.i32[this.headerIndex] = top + cap;
    return top;
  }

  /** Returns a block of capacity `cap` (as `blockCapacity` gave it) to its free list. */
  free(offset: number, cap: number): void {
    const head = this.headerIndex + 1 + (sizeClass(cap) - MIN_CLASS);
    this.i32[offset >> 2] = this.i32[head];
    this.i32[head] = offset;
  }

  /** Bytes handed out from the bump pointer so far (for diagnostics). */
  get used(): number {
    return this.i32[this.headerIndex] - this.start;
  }
}

/** FNV-1a over up to two byte strings separated by 0xff (32-bit). */
export function fnv1a(a: Uint8Array, b?: Uint8Array): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < a.length; i++) h = Math.imul(h ^ a[i], 0x01000193);
  if (b) {
    h = Math.imul(h ^ 0xff, 0x01000193);
    for (let i = 0; i < b.length; i++) h = Math.imul(h ^ b[i], 0x01000193);
  }
  return h >>> 0;
}

/** True when `u8[off, off+src.length)` equals `src`. */
export function bytesEqual(u8: Uint8Array, off: number, src: Uint8Array): boolean {
  for (let i = 0; i < src.length; i++) if (u8[off + i] !== src[i]) return false;
  return true;
}
