/**
 * Shared queues for `proxy_register_shared_queue`, `proxy_resolve_shared_queue`,
 * `proxy_enqueue_shared_queue` and `proxy_dequeue_shared_queue`, with the rules of
 * proxy-wasm-cpp-host `SharedQueue` (src/shared_queue.cc):
 *
 * - a queue is named by (vm_id, name); registering an existing name re-opens it, keeps
 *   its items, and makes the registering root context the one notified (last wins);
 * - tokens start at 1, 0 means "not found";
 * - every enqueue calls `proxy_on_queue_ready(root_context_id, token)` once, on the
 *   thread of the VM that registered the queue (cpp-host posts it to that worker's
 *   dispatcher), never inline in the enqueuing call;
 * - dequeue from an empty queue is `EMPTY`, an unknown token `NOT_FOUND`.
 *
 * Cross-thread notification: each attached thread owns a wake-up word; enqueue bumps a
 * per-queue pending count and the owner's word and `Atomics.notify`s it; the owner
 * wakes in `Atomics.waitAsync` (which does not keep the event loop alive) and delivers
 * the pending notifications through its handler.
 *
 * Layout: header words [lock, last token, next thread slot, heap header...]; thread
 * wake words at word 64; the queue table (16 words per queue) at byte 1024; the heap
 * after it. An item block: next, length, bytes.
 */
import { WasmResult } from '../abi.ts';
import { SabHeap, blockCapacity, bytesEqual, lock, unlock } from './sab.ts';

const LOCK = 0;
const LAST_TOKEN = 1;
const NEXT_SLOT = 2;
const MAX_QUEUES_WORD = 3;
const HEAP_HEADER = 4;
const WAKE_BASE = 64;
const MAX_THREADS = 64;
const TABLE_BYTES = 1024;
const RECORD_WORDS = 16;
// Record fields.
const R_VMID = 0; // block offset; vm_id, then name, then vm key bytes
const R_VMID_LEN = 1;
const R_NAME_LEN = 2;
const R_VMKEY_LEN = 3;
const R_KEY_CAP = 4;
const R_OWNER_SLOT = 5; // thread slot + 1 (0 = nobody)
const R_OWNER_CONTEXT = 6;
const R_HEAD = 7;
const R_TAIL = 8;
const R_COUNT = 9;
const R_PENDING = 10;
const ITEM_HEADER = 8;

export interface SharedQueueOptions {
  /** Total bytes of the buffer. Default 16 MiB. */
  bytes?: number;
  /** Most queues the process may register. Default 1024. */
  maxQueues?: number;
}

/** Called on the owner thread for every enqueue: deliver `proxy_on_queue_ready`. */
export type QueueReadyHandler = (vmKey: string, rootContextId: number, token: number) => void;

export class SharedQueueStore {
  readonly buffer: SharedArrayBuffer;
  private readonly i32: Int32Array;
  private readonly u8: Uint8Array;
  private readonly heap: SabHeap;
  private readonly maxQueues: number;
  /** This thread's wake-up slot. */
  readonly slot: number;
  private handler: QueueReadyHandler | undefined;
  private listening = false;
  private closed = false;
  /** Item of the last successful `dequeue` (valid until the next call on this thread). */
  scratch: Buffer = Buffer.alloc(256);

  static create(options: SharedQueueOptions = {}): SharedQueueStore {
    const bytes = options.bytes ?? 16 * 1024 * 1024;
    const maxQueues = options.maxQueues ?? 1024;
    const buffer = new SharedArrayBuffer(bytes);
    const i32 = new Int32Array(buffer);
    i32[MAX_QUEUES_WORD] = maxQueues;
    new SabHeap(i32, HEAP_HEADER, heapStart(maxQueues), bytes & ~7).init();
    return new SharedQueueStore(buffer);
  }

  /** Maps a store made by `create`, taking a wake-up slot for this thread. */
  constructor(buffer: SharedArrayBuffer) {
    this.buffer = buffer;
    this.i32 = new Int32Array(buffer);
    this.u8 = new Uint8Array(buffer);
    this.maxQueues = this.i32[MAX_QUEUES_WORD];
    this.heap = new SabHeap(this.i32, HEAP_HEADER, heapStart(this.maxQueues), buffer.byteLength & ~7);
    this.slot = Atomics.add(this.i32, NEXT_SLOT, 1);
    if (this.slot >= MAX_THREADS) throw new Error(`shared queues: more than ${MAX_THREADS} attached threads`);
  }

  /**
   * Sets the handler for queues this thread registered and starts waiting for
   * enqueues from other threads.
   */
  listen(handler: QueueReadyHandler): void {
    this.handler = handler;
    if (this.listening || this.closed) return;
    this.listening = true;
    this.arm();
  }

  /** Stops listening (pending notifications are dropped). */
  close(): void {
    this.closed = true;
    Atomics.add(this.i32, WAKE_BASE + this.slot, 1);
    Atomics.notify(this.i32, WAKE_BASE + this.slot);
  }

  /**
   * Registers (or re-opens) queue `name` of `vmId`; `proxy_on_queue_ready` will go to
   * `rootContextId` of the VM `vmKey` on this thread. Returns the token, or 0 when the
   * table is full.
   */
  register(vmId: Uint8Array, name: Uint8Array, vmKey: string, rootContextId: number): number {
    const key = Buffer.from(vmKey, 'latin1');
    const { i32 } = this;
    lock(i32, LOCK);
    try {
      let token = this.findLocked(vmId, name);
      if (token === 0) {
        const last = i32[LAST_TOKEN];
        if (last >= this.maxQueues) return 0;
        token = last + 1;
        const r = recordWord(token);
        const size = vmId.length + name.length + key.length;
        const block = this.heap.alloc(size);
        if (block === 0) return 0;
        this.u8.set(vmId, block);
        this.u8.set(name, block + vmId.length);
        i32[r + R_VMID] = block;
        i32[r + R_VMID_LEN] = vmId.length;
        i32[r + R_NAME_LEN] = name.length;
        i32[r + R_KEY_CAP] = blockCapacity(size);
        i32[r + R_HEAD] = 0;
        i32[r + R_TAIL] = 0;
        i32[r + R_COUNT] = 0;
        i32[r + R_PENDING] = 0;
        i32[LAST_TOKEN] = token;
      }
      const r = recordWord(token);
      this.setVmKeyLocked(r, key);
      i32[r + R_OWNER_SLOT] = this.slot + 1;
      i32[r + R_OWNER_CONTEXT] = rootContextId;
      return token;
    } finally {
      unlock(i32, LOCK);
    }
  }

  /** Token of queue `name` of `vmId`, or 0 (cpp-host `resolveQueue`). */
  resolve(vmId: Uint8Array, name: Uint8Array): number {
    lock(this.i32, LOCK);
    try {
      return this.findLocked(vmId, name);
    } finally {
      unlock(this.i32, LOCK);
    }
  }

  /** Appends an item and notifies the registering root context. */
  enqueue(token: number, value: Uint8Array): WasmResult {
    const { i32 } = this;
    let owner = 0;
    lock(i32, LOCK);
    try {
      if (!this.validToken(token)) return WasmResult.NotFound;
      const r = recordWord(token);
      const item = this.heap.alloc(ITEM_HEADER + value.length);
      if (item === 0) return WasmResult.InternalFailure;
      i32[item >> 2] = 0;
      i32[(item >> 2) + 1] = value.length;
      this.u8.set(value, item + ITEM_HEADER);
      const tail = i32[r + R_TAIL];
      if (tail === 0) i32[r + R_HEAD] = item;
      else i32[tail >> 2] = item;
      i32[r + R_TAIL] = item;
      i32[r + R_COUNT]++;
      owner = i32[r + R_OWNER_SLOT];
      if (owner !== 0) i32[r + R_PENDING]++;
    } finally {
      unlock(i32, LOCK);
    }
    if (owner !== 0) {
      Atomics.add(i32, WAKE_BASE + owner - 1, 1);
      Atomics.notify(i32, WAKE_BASE + owner - 1);
    }
    return WasmResult.Ok;
  }

  /**
   * Removes the first item: returns its length with the bytes in `scratch`, or -1 for
   * an unknown token (`NOT_FOUND`), -2 for an empty queue (`EMPTY`).
   */
  dequeue(token: number): number {
    const { i32 } = this;
    lock(i32, LOCK);
    try {
      if (!this.validToken(token)) return -1;
      const r = recordWord(token);
      const item = i32[r + R_HEAD];
      if (item === 0) return -2;
      const len = i32[(item >> 2) + 1];
      if (this.scratch.length < len) this.scratch = Buffer.alloc(Math.max(len, this.scratch.length * 2));
      this.scratch.set(this.u8.subarray(item + ITEM_HEADER, item + ITEM_HEADER + len), 0);
      const next = i32[item >> 2];
      i32[r + R_HEAD] = next;
      if (next === 0) i32[r + R_TAIL] = 0;
      i32[r + R_COUNT]--;
      this.heap.free(item, blockCapacity(ITEM_HEADER + len));
      return len;
    } finally {
      unlock(i32, LOCK);
    }
  }

  /** Items waiting in queue `token` (tests, tools). */
  length(token: number): number {
    return this.validToken(token) ? Atomics.load(this.i32, recordWord(token) + R_COUNT) : 0;
  }

  /**
   * Delivers, on this thread, the notifications pending for queues it registered.
   * Runs by itself when another thread enqueues; the emulator also calls it after
   * each VM call to deliver same-thread enqueues deterministically.
   */
  drain(): number {
    const handler = this.handler;
    if (!handler) return 0;
    const { i32 } = this;
    // No queue registered yet (most plugins never register one): nothing to take the lock for.
    if (Atomics.load(i32, LAST_TOKEN) === 0) return 0;
    const ready: Array<[string, number, number, number]> = [];
    lock(i32, LOCK);
    try {
      const last = i32[LAST_TOKEN];
      for (let token = 1; token <= last; token++) {
        const r = recordWord(token);
        if (i32[r + R_OWNER_SLOT] !== this.slot + 1 || i32[r + R_PENDING] === 0) continue;
        const keyStart = i32[r + R_VMID] + i32[r + R_VMID_LEN] + i32[r + R_NAME_LEN];
        const vmKey = Buffer.from(this.u8.subarray(keyStart, keyStart + i32[r + R_VMKEY_LEN])).toString('latin1');
        ready.push([vmKey, i32[r + R_OWNER_CONTEXT], token, i32[r + R_PENDING]]);
        i32[r + R_PENDING] = 0;
      }
    } finally {
      unlock(i32, LOCK);
    }
    let delivered = 0;
    for (const [vmKey, contextId, token, count] of ready) {
      for (let i = 0; i < count; i++, delivered++) handler(vmKey, contextId, token);
    }
    return delivered;
  }

  /**
   * Waits for the next enqueue. The wake word is read before draining, so an enqueue
   * that lands after the drain has also changed the word, and the wait returns at once:
   * no notification is lost between a drain and the next wait.
   */
  private arm(): void {
    const index = WAKE_BASE + this.slot;
    const seen = Atomics.load(this.i32, index);
    this.drain();
    if (this.closed) return;
    const waiting = waitAsync(this.i32, index, seen);
    const next = (): void => {
      if (!this.closed) this.arm();
    };
    if (waiting.async) void (waiting.value as Promise<string>).then(next);
    else setImmediate(next);
  }

  private validToken(token: number): boolean {
    return token > 0 && token <= Atomics.load(this.i32, LAST_TOKEN);
  }

  private findLocked(vmId: Uint8Array, name: Uint8Array): number {
    const { i32, u8 } = this;
    const last = i32[LAST_TOKEN];
    for (let token = 1; token <= last; token++) {
      const r = recordWord(token);
      if (i32[r + R_VMID_LEN] !== vmId.length || i32[r + R_NAME_LEN] !== name.length) continue;
      const block = i32[r + R_VMID];
      if (bytesEqual(u8, block, vmId) && bytesEqual(u8, block + vmId.length, name)) return token;
    }
    return 0;
  }

  private setVmKeyLocked(r: number, key: Buffer): void {
    const { i32 } = this;
    let block = i32[r + R_VMID];
    const prefix = i32[r + R_VMID_LEN] + i32[r + R_NAME_LEN];
    const cap = i32[r + R_KEY_CAP];
    if (prefix + key.length > cap) {
      const fresh = this.heap.alloc(prefix + key.length);
      if (fresh === 0) return;
      this.u8.copyWithin(fresh, block, block + prefix);
      this.heap.free(block, cap);
      block = fresh;
      i32[r + R_VMID] = block;
      i32[r + R_KEY_CAP] = blockCapacity(prefix + key.length);
    }
    this.u8.set(key, block + prefix);
    i32[r + R_VMKEY_LEN] = key.length;
  }
}

// ES2024 `Atomics.waitAsync` (in Node since 16); the TS target library predates it.
const waitAsync = (Atomics as unknown as {
  waitAsync(i32: Int32Array, index: number, value: number): { async: boolean; value: Promise<string> | string };
}).waitAsync;

function heapStart(maxQueues: number): number {
  return TABLE_BYTES + maxQueues * RECORD_WORDS * 4;
}

function recordWord(token: number): number {
  return (TABLE_BYTES >> 2) + (token - 1) * RECORD_WORDS;
}
