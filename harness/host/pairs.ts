/**
 * The serialized map format of the ABI (proxy-wasm/spec v0.2.1 "Serialization"):
 * u32 count, then (u32 key length, u32 value length) per pair, then each key and value
 * followed by a NUL byte. Decoding follows cpp-host `PairsUtil::toPairs`
 * (src/pairs_util.cc): anything malformed, larger than 1 MiB or with more than 1024
 * pairs decodes as an empty list. Keys and values are latin1 strings (bytes round-trip).
 */
import type { HeaderPair } from './header-map.ts';
import type { MemoryView } from './memory.ts';

/** cpp-host limits.h `PROXY_WASM_HOST_PAIRS_MAX_BYTES` / `_MAX_COUNT`. */
export const PAIRS_MAX_BYTES = 1024 * 1024;
export const PAIRS_MAX_COUNT = 1024;

/** Serialized size of `pairs` (cpp-host `PairsUtil::pairsSize`). */
export function pairsSize(pairs: Iterable<HeaderPair>): number {
  let size = 4;
  for (const [k, v] of pairs) size += 8 + k.length + 1 + v.length + 1;
  return size;
}

/** Writes `pairs` at `ptr`; the caller reserved `pairsSize(pairs)` bytes. */
export function writePairs(mem: MemoryView, ptr: number, pairs: readonly HeaderPair[]): void {
  const dv = mem.dv;
  const u8 = mem.u8;
  dv.setUint32(ptr, pairs.length, true);
  let sizes = ptr + 4;
  let data = sizes + pairs.length * 8;
  for (const [k, v] of pairs) {
    dv.setUint32(sizes, k.length, true);
    dv.setUint32(sizes + 4, v.length, true);
    sizes += 8;
    data += mem.writeLatin1Unchecked(data, k);
    u8[data++] = 0;
    data += mem.writeLatin1Unchecked(data, v);
    u8[data++] = 0;
  }
}

/** Decodes serialized pairs from `bytes`; malformed input gives `[]` (as cpp-host). */
export function readPairs(bytes: Uint8Array): HeaderPair[] {
  if (bytes.length > PAIRS_MAX_BYTES || bytes.length < 4) return [];
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = dv.getUint32(0, true);
  if (n > PAIRS_MAX_COUNT || 4 + n * 8 > bytes.length) return [];
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const pairs: HeaderPair[] = new Array(n);
  let pos = 4 + n * 8;
  for (let i = 0; i < n; i++) {
    const klen = dv.getUint32(4 + i * 8, true);
    const vlen = dv.getUint32(8 + i * 8, true);
    if (pos + klen + 1 > bytes.length || bytes[pos + klen] !== 0) return [];
    const k = buf.toString('latin1', pos, pos + klen);
    pos += klen + 1;
    if (pos + vlen + 1 > bytes.length || bytes[pos + vlen] !== 0) return [];
    const v = buf.toString('latin1', pos, pos + vlen);
    pos += vlen + 1;
    pairs[i] = [k, v];
  }
  return pos === bytes.length ? pairs : [];
}

/** Serializes to a new buffer (tests, emulator). */
export function encodePairs(pairs: readonly HeaderPair[]): Buffer {
  const out = Buffer.alloc(pairsSize(pairs));
  out.writeUInt32LE(pairs.length, 0);
  let sizes = 4;
  let data = 4 + pairs.length * 8;
  for (const [k, v] of pairs) {
    out.writeUInt32LE(k.length, sizes);
    out.writeUInt32LE(v.length, sizes + 4);
    sizes += 8;
    data += out.write(k, data, 'latin1') + 1;
    data += out.write(v, data, 'latin1') + 1;
  }
  return out;
}
