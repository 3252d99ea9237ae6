/**
 * Shared key-value data for `proxy_get_shared_data` / `proxy_set_shared_data`, common
 * to every VM with the same `vm_id` in the process, with the compare-and-swap rules of
 * proxy-wasm-cpp-host `SharedData` (src/shared_data.cc, src/shared_data.h):
 *
 * - one CAS counter for the whole store, starting at 1 and never 0; every successful
 *   set stores the next value;
 * - set with `cas` 0 always succeeds; a non-zero `cas` must equal the stored one, else
 *   `CAS_MISMATCH` (a non-zero `cas` for a key that does not exist yet succeeds);
 * - get of a missing key (or vm_id) is `NOT_FOUND`.
 *
 * The store is a hash table in a SharedArrayBuffer, behind one mutex as cpp-host's
 * `std::mutex`, so worker threads share it synchronously and atomically.
 *
 * Layout (bytes): [0, 256) header words: lock, cas, bucket count, entry count, heap
 * header; then the bucket array (Int32 entry offsets); then the heap. An entry block:
 * next, hash, cas, vm_id length, key length, value length, value block, value capacity
 * (8 x u32), then the vm_id and key bytes. Values sit in their own block so that an
 * update of a value that still fits is written in place.
 */
import { WasmResult } from '../abi.ts';
import { SabHeap, blockCapacity, bytesEqual, fnv1a, lock, unlock } from './sab.ts';

const LOCK = 0;
const CAS = 1;
const BUCKETS = 2;
const ENTRIES = 3;
const HEAP_HEADER = 4;
const HEADER_BYTES = 256;
const ENTRY_HEADER = 32;

export interface SharedDataOptions {
  /** Total bytes of the buffer (untouched pages cost no memory). Default 64 MiB. */
  bytes?: number;
  /** Hash buckets, a power of two. Default 65536. */
  buckets?: number;
}

export class SharedDataStore {
  readonly buffer: SharedArrayBuffer;
  private readonly i32: Int32Array;
  private readonly u8: Uint8Array;
  private readonly heap: SabHeap;
  private readonly bucketBase: number;
  private readonly mask: number;
  /** Value of the last successful `get` (valid until the next call on this thread). */
  scratch: Buffer = Buffer.alloc(256);
  /** CAS of the last successful `get`. */
  lastCas = 0;

  /** Makes a new, empty store. */
  static create(options: SharedDataOptions = {}): SharedDataStore {
    const bytes = options.bytes ?? 64 * 1024 * 1024;
    const buckets = options.buckets ?? 65536;
    if (buckets & (buckets - 1)) throw new Error('shared data buckets must be a power of two');
    const buffer = new SharedArrayBuffer(bytes);
    const i32 = new Int32Array(buffer);
    i32[CAS] = 1;
    i32[BUCKETS] = buckets;
    const store = new SharedDataStore(buffer);
    store.heap.init();
    return store;
  }

  /** Maps a store made by `create` (possibly in another thread). */
  constructor(buffer: SharedArrayBuffer) {
    this.buffer = buffer;
    this.i32 = new Int32Array(buffer);
    this.u8 = new Uint8Array(buffer);
    const buckets = this.i32[BUCKETS];
    this.mask = buckets - 1;
    this.bucketBase = HEADER_BYTES >> 2;
    const heapStart = (HEADER_BYTES + buckets * 4 + 7) & ~7;
    this.heap = new SabHeap(this.i32, HEAP_HEADER, heapStart, buffer.byteLength & ~7);
  }

  /**
   * Looks `key` up for `vmId`. Returns the value length and leaves the value in
   * `scratch` and its CAS in `lastCas`, or returns -1 (`NOT_FOUND`).
   */
  get(vmId: Uint8Array, key: Uint8Array): number {
    const hash = fnv1a(vmId, key);
    const { i32, u8 } = this;
    lock(i32, LOCK);
    try {
      const e = this.find(hash, vmId, key);
      if (e === 0) return -1;
      const w = e >> 2;
      const len = i32[w + 5];
      if (this.scratch.length < len) this.scratch = Buffer.alloc(Math.max(len, this.scratch.length * 2));
      const off = i32[w + 6];
      this.scratch.set(u8.subarray(off, off + len), 0);
      this.lastCas = i32[w + 2] >>> 0;
      return len;
    } finally {
      unlock(i32, LOCK);
    }
  }

  /** Sets `key` for `vmId` to `value` under cpp-host's CAS rule (see the file comment). */
  set(vmId: Uint8Array, key: Uint8Array, value: Uint8Array, cas: number): WasmResult {
    const hash = fnv1a(vmId, key);
    const { i32, u8 } = this;
    lock(i32, LOCK);
    try {
      let e = this.find(hash, vmId, key);
      if (e !== 0) {
        const w = e >> 2;
        if (cas !== 0 && cas >>> 0 !== i32[w + 2] >>> 0) return WasmResult.CasMismatch;
        let off = i32[w + 6];
        const cap = i32[w + 7];
        if (value.length > cap) {
          const fresh = this.heap.alloc(value.length);
          if (fresh === 0) return WasmResult.InternalFailure;
          this.heap.free(off, cap);
          off = fresh;
          i32[w + 6] = off;
          i32[w + 7] = blockCapacity(value.length);
        }
        u8.set(value, off);
        i32[w + 5] = value.length;
        i32[w + 2] = this.nextCas();
        return WasmResult.Ok;
      }
      e = this.heap.alloc(ENTRY_HEADER + vmId.length + key.length);
      const off = e === 0 ? 0 : this.heap.alloc(value.length);
      if (e === 0 || off === 0) return WasmResult.InternalFailure;
      const w = e >> 2;
      const bucket = this.bucketBase + (hash & this.mask);
      i32[w] = i32[bucket];
      i32[w + 1] = hash | 0;
      i32[w + 2] = this.nextCas();
      i32[w + 3] = vmId.length;
      i32[w + 4] = key.length;
      i32[w + 5] = value.length;
      i32[w + 6] = off;
      i32[w + 7] = blockCapacity(value.length);
      u8.set(vmId, e + ENTRY_HEADER);
      u8.set(key, e + ENTRY_HEADER + vmId.length);
      u8.set(value, off);
      i32[bucket] = e;
      i32[ENTRIES]++;
      return WasmResult.Ok;
    } finally {
      unlock(i32, LOCK);
    }
  }

  /** Number of keys over all vm_ids. */
  get size(): number {
    return Atomics.load(this.i32, ENTRIES);
  }

  /** Keys of one vm_id (cpp-host `SharedData::keys`), for tests and tools. */
  keys(vmId: string): string[] {
    const id = Buffer.from(vmId);
    const out: string[] = [];
    const { i32, u8 } = this;
    lock(i32, LOCK);
    try {
      for (let b = 0; b <= this.mask; b++) {
        for (let e = i32[this.bucketBase + b]; e !== 0; e = i32[e >> 2]) {
          const w = e >> 2;
          if (i32[w + 3] === id.length && bytesEqual(u8, e + ENTRY_HEADER, id)) {
            const start = e + ENTRY_HEADER + id.length;
            out.push(Buffer.from(u8.subarray(start, start + i32[w + 4])).toString('latin1'));
          }
        }
      }
    } finally {
      unlock(i32, LOCK);
    }
    return out;
  }

  /** Convenience read with string keys (tests, emulator); the value is a copy. */
  read(vmId: string, key: string): { value: Buffer; cas: number } | undefined {
    const len = this.get(Buffer.from(vmId), Buffer.from(key, 'latin1'));
    if (len < 0) return undefined;
    return { value: Buffer.from(this.scratch.subarray(0, len)), cas: this.lastCas };
  }

  /** Convenience write with string keys (tests, emulator). */
  write(vmId: string, key: string, value: Uint8Array | string, cas = 0): WasmResult {
    const bytes = typeof value === 'string' ? Buffer.from(value) : value;
    return this.set(Buffer.from(vmId), Buffer.from(key, 'latin1'), bytes, cas);
  }

  private find(hash: number, vmId: Uint8Array, key: Uint8Array): number {
    const { i32, u8 } = this;
    for (let e = i32[this.bucketBase + (hash & this.mask)]; e !== 0; e = i32[e >> 2]) {
      const w = e >> 2;
      if (
        i32[w + 1] >>> 0 === hash &&
        i32[w + 3] === vmId.length &&
        i32[w + 4] === key.length &&
        bytesEqual(u8, e + ENTRY_HEADER, vmId) &&
        bytesEqual(u8, e + ENTRY_HEADER + vmId.length, key)
      ) {
        return e;
      }
    }
    return 0;
  }

  private nextCas(): number {
    // cpp-host `SharedData::nextCas`: hand out the counter, skipping 0 on wrap.
    const cas = this.i32[CAS];
    let next = (cas + 1) | 0;
    if (next === 0) next = 1;
    this.i32[CAS] = next;
    return cas;
  }
}
