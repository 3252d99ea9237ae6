/**
 * The double-scalar multiplication of Ed25519 verification, [S]B - [k]A, in one pass.
 *
 * Each scalar is written in width-w NAF (scalar.ts) and its 256 digit positions are cut
 * into CHUNKS chunks of CHUNK_BITS: digit i·CHUNK_BITS + t multiplies 2^t·(2^(i·CHUNK_BITS)·P).
 * With a table of odd multiples of each 2^(i·CHUNK_BITS)·P, one pass of CHUNK_BITS
 * doublings serves every chunk of both scalars: 31 doublings instead of 252, for ~70
 * mixed additions (about 253/(w+1) per scalar, whatever the chunking). The tables of B
 * are built once per module (window 8: 64 points per chunk, 60 KB); those of A once per
 * key, kept in the key object (window 5: 8 points per chunk, 7.5 KB). All table points
 * are affine, so each addition is a mixed one (7M).
 *
 * Measured (CPU time per verification, same run): 8 chunks of 32 are ~15% faster than
 * 4 of 64 and ~35% faster than 2 of 128; a key window of 6 instead of 5 gains ~4% for
 * twice the memory per key; a base window of 7 instead of 8 loses ~5%.
 */
import { FE_SIZE, one, zero } from "./field";
import {
  B_BYTES, NIELS_SIZE, P1P1, P2, P3, P3_SIZE, T, X, Y, Z, addP3, copyP3, dbl, decode, encode,
  maddNiels, msubNiels, toNielsBatch, toP2, toP3,
} from "./point";
import { wnaf } from "./scalar";

/** Number of chunks each scalar's digits are cut into. */
export const CHUNKS: i32 = 8;
/** Digit positions per chunk (CHUNKS·CHUNK_BITS = 256). */
export const CHUNK_BITS: i32 = 32;
/** wNAF width for the fixed base point B (64 table points per chunk). */
export const B_WINDOW: i32 = 8;
/** wNAF width for public keys A (8 table points per chunk, 7.5 KB per key). */
export const A_WINDOW: i32 = 5;

/** Bytes of the tables for one point at window `w`. */
export function tableSize(w: i32): usize {
  return <usize>(CHUNKS << (w - 2)) * NIELS_SIZE;
}

const ACC: P3 = memory.data(<i32>P3_SIZE, 8);
const TWICE: P3 = memory.data(<i32>P3_SIZE, 8);
const SUM: P1P1 = memory.data(<i32>P3_SIZE, 8);

/**
 * Writes at `out` (`tableSize(w)` bytes) CHUNKS tables of the odd multiples
 * 1, 3, …, 2^(w-1) - 1 of 2^(i·CHUNK_BITS)·p, i = 0..CHUNKS-1, in affine Niels form.
 * Temporary memory is taken from and given back to the heap.
 */
export function buildTable(out: usize, p: P3, w: i32): void {
  const perChunk = 1 << (w - 2);
  const count = CHUNKS * perChunk;
  const points = heap.alloc(<usize>count * P3_SIZE);
  const scratch = heap.alloc(<usize>count * FE_SIZE);
  copyP3(ACC, p);
  for (let i = 0; i < CHUNKS; i++) {
    if (i > 0) {
      // ACC = 2^CHUNK_BITS · ACC
      for (let k = 0; k < CHUNK_BITS; k++) {
        dbl(SUM, ACC);
        if (k < CHUNK_BITS - 1) toP2(ACC, SUM);
        else toP3(ACC, SUM);
      }
    }
    const row = points + <usize>(i * perChunk) * P3_SIZE;
    copyP3(row, ACC);
    dbl(SUM, ACC);
    toP3(TWICE, SUM);
    for (let j = 1; j < perChunk; j++) {
      const q = row + <usize>j * P3_SIZE;
      addP3(SUM, q - P3_SIZE, TWICE);
      toP3(q, SUM);
    }
  }
  toNielsBatch(out, points, count, scratch);
  heap.free(scratch);
  heap.free(points);
}

let baseTable: usize = 0;

/** The tables of B (window B_WINDOW, 60 KB), built on first use (about 1 ms). */
export function baseTableAddress(): usize {
  let t = baseTable;
  if (t == 0) {
    t = heap.alloc(tableSize(B_WINDOW));
    const b = heap.alloc(P3_SIZE);
    decode(b, B_BYTES);
    buildTable(t, b, B_WINDOW);
    heap.free(b);
    baseTable = t;
  }
  return t;
}

const NAF_S: usize = memory.data(256, 8);
const NAF_K: usize = memory.data(256, 8);
const R2: P2 = memory.data(<i32>P3_SIZE, 8);
const R3: P3 = memory.data(<i32>P3_SIZE, 8);
const RC: P1P1 = memory.data(<i32>P3_SIZE, 8);

/** True when some chunk of either NAF has a non-zero digit at offset t. */
function anyDigitAt(t: i32): bool {
  for (let i = 0; i < CHUNKS; i++) {
    const pos = <usize>(i * CHUNK_BITS + t);
    if (load<i8>(NAF_S + pos) != 0 || load<i8>(NAF_K + pos) != 0) return true;
  }
  return false;
}

/**
 * Writes the 32-byte encoding (RFC 8032 §5.1.2) of [s]B - [k]A to `out`, where `s` and
 * `k` are 32-byte little-endian scalars below 2^253 and `aTable` holds A's tables
 * (`buildTable(…, A, A_WINDOW)`). Variable time (public inputs only).
 */
export function doubleScalarMulEncode(out: usize, s: usize, k: usize, aTable: usize): void {
  const bTable = baseTableAddress();
  wnaf(NAF_S, s, B_WINDOW);
  wnaf(NAF_K, k, A_WINDOW);
  const bRow = <usize>(1 << (B_WINDOW - 2)) * NIELS_SIZE;
  const aRow = <usize>(1 << (A_WINDOW - 2)) * NIELS_SIZE;

  let t = CHUNK_BITS - 1;
  while (t >= 0 && !anyDigitAt(t)) t--;
  const top = t;
  // Start from the neutral element, (0:1:1) and, completed, ((0:1), (1:1)).
  zero(X(R2));
  one(Y(R2));
  one(Z(R2));
  zero(X(RC));
  one(Y(RC));
  one(Z(RC));
  one(T(RC));
  for (; t >= 0; t--) {
    if (t != top) dbl(RC, R2);
    for (let i = 0; i < CHUNKS; i++) {
      const pos = <usize>(i * CHUNK_BITS + t);
      const ds = <i32>load<i8>(NAF_S + pos);
      if (ds != 0) {
        toP3(R3, RC);
        const q = bTable + <usize>i * bRow + <usize>(abs(ds) >> 1) * NIELS_SIZE;
        if (ds > 0) maddNiels(RC, R3, q);
        else msubNiels(RC, R3, q);
      }
      const dk = <i32>load<i8>(NAF_K + pos);
      if (dk != 0) {
        toP3(R3, RC);
        const q = aTable + <usize>i * aRow + <usize>(abs(dk) >> 1) * NIELS_SIZE;
        if (dk > 0) msubNiels(RC, R3, q); // -[k]A: digits of k subtract
        else maddNiels(RC, R3, q);
      }
    }
    toP2(R2, RC);
  }
  encode(out, R2);
}
