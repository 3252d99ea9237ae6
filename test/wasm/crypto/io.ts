// Memory exchange with the JS side: it allocates input areas with `alloc`, writes bytes,
// calls an export with (ptr, len) pairs and frees them with `dealloc`. Exported functions
// that return bytes write them to the area `output()` points at and return the length.

/** Allocates `size` bytes outside the GC heap (never moved or collected). */
export function alloc(size: usize): usize {
  return heap.alloc(size);
}

export function dealloc(ptr: usize): void {
  heap.free(ptr);
}

const OUTPUT_CAPACITY: i32 = 8192;
const outputArea = new Uint8Array(OUTPUT_CAPACITY);

/** The output area as an array, for exports that write into it directly. */
export function outputArray(): Uint8Array {
  return outputArea;
}

/** Address of the output area (OUTPUT_CAPACITY bytes). */
export function output(): usize {
  return outputArea.dataStart;
}

/** Copies `len` bytes at `ptr` into a new managed array. */
export function bytesAt(ptr: usize, len: usize): Uint8Array {
  const out = new Uint8Array(<i32>len);
  memory.copy(out.dataStart, ptr, len);
  return out;
}

/** Writes `data` to the output area; returns its length, or -1 when it does not fit. */
export function writeOutput(data: Uint8Array): i32 {
  if (data.length > OUTPUT_CAPACITY) return -1;
  memory.copy(outputArea.dataStart, data.dataStart, <usize>data.length);
  return data.length;
}

/** 1 when this build uses Wasm SIMD (`--enable simd`: RSA's vector path), else 0. */
export function simd_enabled(): i32 {
  return ASC_FEATURE_SIMD ? 1 : 0;
}
