// Memory shared with the host: return slots, argument scratch, host allocations.
//
// - Return slots: static words the host writes results into (`return_*` parameters of
//   the ABI), so that no hostcall allocates for its out-parameters.
// - Argument scratch: one raw block (outside the GC heap) that string arguments are
//   encoded into as UTF-8 before a hostcall; it grows to the largest argument list seen
//   and is never freed, so steady-state hostcalls do not allocate for their arguments.
// - Host allocations: data the host returns is placed in memory it asks for with
//   `proxy_on_memory_allocate` (spec "Memory management"). That memory comes from a raw
//   arena (outside the GC, a bump pointer), is copied or decoded into a managed
//   ArrayBuffer or string by the hostcall wrapper, then released at once. Every block the
//   host asked for during a hostcall is recorded, so that a block is freed even when the
//   host fails after allocating it and never hands its pointer back.

import { WasmResult } from './types';

// Return slots. Separate words so that a hostcall writing several results (pointer,
// size, cas) never needs them laid out in a particular way.
export const RET_PTR: usize = memory.data(8, 8);
export const RET_SIZE: usize = memory.data(8, 8);
export const RET_CAS: usize = memory.data(8, 8);
/** Eight bytes: u64 results (time, metric values). */
export const RET_U64: usize = memory.data(8, 8);
export const RET_ID: usize = memory.data(8, 8);

// ---------------------------------------------------------------------------
// Host allocations

// More than a hostcall ever makes (proxy-wasm-cpp-host makes at most one per call);
// a block beyond this is still returned to the host, just not tracked.
const MAX_PENDING: i32 = 16;
const pendingPtrs: usize = memory.data(MAX_PENDING * 4, 4);
const pendingSizes: usize = memory.data(MAX_PENDING * 4, 4);
// The arena's top before each pending block was taken (its release puts it back).
const pendingTops: usize = memory.data(MAX_PENDING * 4, 4);
let pendingCount: i32 = 0;

// Above this the block, or the string decoded from it (2 bytes per byte), could not be
// allocated without trapping; the spec lets `proxy_on_memory_allocate` answer 0 instead.
const MAX_HOST_ALLOCATION: usize = 1 << 28;

// Host blocks live from the hostcall that asks for one to the wrapper's release a few
// instructions later, last in first out: a bump pointer in one raw arena serves them, where
// the general allocator's insert and remove cost more than the copy (a request makes several:
// header maps, shared data, properties). The arena grows, while no block is out, to the
// largest block asked for; a block that does not fit meanwhile comes from the heap.
const ARENA_MIN: usize = 4 << 10;
let arena: usize = 0;
let arenaEnd: usize = 0;
let arenaTop: usize = 0;

/** Body of `proxy_on_memory_allocate`: a raw block of `size` bytes, or 0 when too large. */
export function allocateForHost(size: usize): usize {
  if (size > MAX_HOST_ALLOCATION) return 0;
  const aligned = (size + 7) & ~(<usize>7);
  if (pendingCount == 0 && arena + aligned > arenaEnd) {
    if (arena != 0) heap.free(arena);
    let capacity = ARENA_MIN;
    while (capacity < aligned) capacity <<= 1;
    arena = heap.alloc(capacity);
    arenaEnd = arena + capacity;
    arenaTop = arena;
  }
  const top = arenaTop;
  let ptr: usize;
  if (pendingCount < MAX_PENDING && top + aligned <= arenaEnd) {
    ptr = top;
    arenaTop = top + aligned;
  } else {
    ptr = heap.alloc(size);
  }
  if (pendingCount < MAX_PENDING) {
    const slot = <usize>pendingCount << 2;
    store<usize>(pendingPtrs + slot, ptr);
    store<usize>(pendingSizes + slot, size);
    store<usize>(pendingTops + slot, top);
    pendingCount++;
  }
  return ptr;
}

/** Marks the start of a hostcall; pass the mark to `takeBytes`/`takeString`/`releaseHostMemory`. */
// @ts-ignore: decorator
@inline
export function hostMemoryMark(): i32 {
  return pendingCount;
}

/** Frees every block the host allocated since `mark`. */
export function releaseHostMemory(mark: i32): void {
  if (mark >= pendingCount) return;
  for (let i = pendingCount - 1; i >= mark; i--) {
    const ptr = load<usize>(pendingPtrs + (<usize>i << 2));
    if (ptr < arena || ptr >= arenaEnd) heap.free(ptr);
  }
  arenaTop = load<usize>(pendingTops + (<usize>mark << 2));
  pendingCount = mark;
}

/** Number of host blocks not yet freed (0 between callbacks; for tests). */
export function pendingHostBlocks(): i32 {
  return pendingCount;
}

// Whether (RET_PTR, RET_SIZE) name `size` bytes inside one block allocated since `mark`.
function returnedRangeValid(mark: i32): bool {
  const ptr = load<usize>(RET_PTR);
  const size = load<usize>(RET_SIZE);
  if (size == 0) return true;
  for (let i = mark; i < pendingCount; i++) {
    const block = load<usize>(pendingPtrs + (<usize>i << 2));
    const blockSize = load<usize>(pendingSizes + (<usize>i << 2));
    if (ptr >= block && <u64>ptr + <u64>size <= <u64>block + <u64>blockSize) return true;
  }
  return false;
}

/**
 * Result of the last `take*` call: Ok, the getter's own failure status, or
 * InvalidMemoryAccess when the host's pointer was bad.
 */
export let takeResult: WasmResult = WasmResult.Ok;

// @ts-ignore: decorator
@lazy const EMPTY_BYTES = new ArrayBuffer(0);

/**
 * Copies the bytes a getter hostcall returned in (RET_PTR, RET_SIZE) into a new
 * ArrayBuffer and frees the host's blocks since `mark`. `status` is the hostcall's
 * result: null, with `takeResult` that status, when it failed; null with `takeResult`
 * InvalidMemoryAccess when the host returned a range it did not allocate through us.
 */
export function takeBytes(mark: i32, status: WasmResult = WasmResult.Ok): ArrayBuffer | null {
  if (!returnedRange(mark, status)) return null;
  const size = load<usize>(RET_SIZE);
  if (size == 0) {
    releaseHostMemory(mark);
    // Shared: a zero-length ArrayBuffer has nothing to mutate.
    return EMPTY_BYTES;
  }
  const out = new ArrayBuffer(<i32>size);
  memory.copy(changetype<usize>(out), load<usize>(RET_PTR), size);
  releaseHostMemory(mark);
  return out;
}

/** Like `takeBytes`, decoding the bytes as UTF-8 straight into a string (no byte copy). */
export function takeString(mark: i32, status: WasmResult = WasmResult.Ok): string | null {
  if (!returnedRange(mark, status)) return null;
  const size = load<usize>(RET_SIZE);
  const s = size == 0 ? '' : String.UTF8.decodeUnsafe(load<usize>(RET_PTR), size);
  releaseHostMemory(mark);
  return s;
}

/**
 * Whether the value a getter hostcall returned with `status` can be used: the status is
 * Ok and (RET_PTR, RET_SIZE) lies in a block the host allocated since `mark`. Otherwise
 * frees the host's blocks since `mark` and returns false, with `takeResult` the status
 * or InvalidMemoryAccess. A wrapper that parses host memory in place (header maps) calls
 * `releaseHostMemory(mark)` once done with a usable value.
 */
export function returnedRange(mark: i32, status: WasmResult = WasmResult.Ok): bool {
  takeResult = status != WasmResult.Ok ? status : returnedRangeValid(mark) ? WasmResult.Ok : WasmResult.InvalidMemoryAccess;
  if (takeResult == WasmResult.Ok) return true;
  releaseHostMemory(mark);
  return false;
}

// ---------------------------------------------------------------------------
// Argument scratch

let scratch: usize = 0;
let scratchCapacity: usize = 0;
let scratchUsed: usize = 0;

/** Pointer and size of the argument last put by `putString` / `putBytes`. */
export let argPtr: usize = 0;
export let argSize: usize = 0;

/** Upper bound of the UTF-8 size of `s` (3 bytes per UTF-16 code unit). */
// @ts-ignore: decorator
@inline
export function utf8MaxSize(s: string): usize {
  return <usize>s.length * 3;
}

/**
 * Starts an argument list that needs at most `maxBytes` bytes, growing the scratch
 * block if needed. Pointers from an earlier list are no longer valid.
 */
export function argsBegin(maxBytes: usize): void {
  if (maxBytes > scratchCapacity) {
    let capacity = scratchCapacity < 256 ? <usize>256 : scratchCapacity;
    while (capacity < maxBytes) capacity <<= 1;
    // Old contents are dead; a fresh block avoids realloc copying them.
    if (scratch != 0) heap.free(scratch);
    scratch = heap.alloc(capacity);
    scratchCapacity = capacity;
  }
  scratchUsed = 0;
}

/** Encodes `s` as UTF-8 into the scratch; sets `argPtr`/`argSize`. */
export function putString(s: string): void {
  const ptr = scratch + scratchUsed;
  const size = String.UTF8.encodeUnsafe(changetype<usize>(s), s.length, ptr);
  scratchUsed += size;
  argPtr = ptr;
  argSize = size;
}

/** Reserves `size` bytes of scratch for the caller to fill and returns their address. */
export function reserve(size: usize): usize {
  const ptr = scratch + scratchUsed;
  scratchUsed += size;
  return ptr;
}

/** Sets `argPtr`/`argSize` to a buffer's bytes (nothing copied); null is (0, 0). */
// @ts-ignore: decorator
@inline
export function putBytes(buf: ArrayBuffer | null): void {
  if (buf) {
    argPtr = changetype<usize>(buf);
    argSize = <usize>buf.byteLength;
  } else {
    argPtr = 0;
    argSize = 0;
  }
}
