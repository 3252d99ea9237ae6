/**
 * Views of a VM's linear memory for hostcalls: bounds-checked reads and writes with
 * the semantics of cpp-host `WasmVm::getMemory` / `setMemory` / `setWord`
 * (src/v8/v8.cc): an access past the end of memory fails, and the hostcall then
 * returns `INVALID_MEMORY_ACCESS` (or WASI `FAULT`).
 *
 * The typed-array views are made once and refreshed only when the memory grows
 * (growing detaches the old ArrayBuffer, whose views then read as length 0), so a
 * hostcall allocates nothing to touch memory. Header bytes are decoded as latin1,
 * one char per octet, like `harness/host/header-map.ts` keeps them.
 *
 * Decoding a short string costs more than the rest of a header lookup (a V8 string per
 * call), and modules pass the same names (and often the same short values) on every
 * request: `latin1` answers strings of up to `INTERNED_MAX_BYTES` from a table of the
 * strings decoded before, by content (see `latin1Interned`).
 */

const TWO_32 = 4294967296;

/** Longest string `latin1` looks up among those decoded before (names, short values). */
export const INTERNED_MAX_BYTES = 64;
/** Slots of that table (a power of two). */
const INTERNED_SLOTS = 1024;
/**
 * Strings decoded before, direct-mapped by a hash of their bytes, with a copy of those
 * bytes (comparing bytes is about twice as fast as `charCodeAt`); shared by every VM of
 * the thread (they pass the same names). A slot keeps the last string that hashed to it.
 */
const internedStrings: Array<string | undefined> = new Array<string | undefined>(INTERNED_SLOTS).fill(undefined);
const internedBytes = new Uint8Array(INTERNED_SLOTS * INTERNED_MAX_BYTES);
const internedView = new DataView(internedBytes.buffer);
/** The same copies as words in the platform's byte order (slots start on a word boundary). */
const internedWords = new Uint32Array(internedBytes.buffer);
/** Whether the platform is little-endian (memory words are read in the same order as `internedWords`). */
const NATIVE_LE = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;
/** At or below this length a char loop decodes faster than Buffer#latin1Slice's set-up. */
const SHORT_DECODE_BYTES = 12;
/** At or below this length a char loop writes faster than Buffer#latin1Write's set-up. */
const SHORT_WRITE_BYTES = 32;

/** Node's Buffer methods without encoding dispatch (present since Node 0.x; not in @types/node). */
interface Latin1Buffer extends Buffer {
  latin1Slice(start: number, end: number): string;
  latin1Write(s: string, offset: number, length: number): number;
}

export class MemoryView {
  private memory: WebAssembly.Memory | undefined;
  /** Whole-memory views; valid until the memory grows (call `refresh`). */
  u8: Buffer = Buffer.alloc(0);
  dv: DataView = new DataView(new ArrayBuffer(0));

  attach(memory: WebAssembly.Memory): void {
    this.memory = memory;
    this.refresh();
  }

  /** Re-creates the views if the memory has grown since they were made. */
  refresh(): void {
    const buffer = this.memory?.buffer;
    if (buffer && buffer !== this.u8.buffer) {
      this.u8 = Buffer.from(buffer);
      this.dv = new DataView(buffer);
    }
  }

  get size(): number {
    if (this.u8.length === 0) this.refresh();
    return this.u8.length;
  }

  /**
   * True when [ptr, ptr+len) lies inside memory (pointers are unsigned 32-bit). The
   * views are refreshed only when an access looks out of bounds: a grown memory has
   * detached the old buffer, whose views then have length 0.
   */
  inBounds(ptr: number, len: number): boolean {
    const end = (ptr >>> 0) + (len >>> 0);
    if (end <= this.u8.length) return true;
    this.refresh();
    return end <= this.u8.length;
  }

  /** A view (no copy) of [ptr, ptr+len), or null when out of bounds. */
  bytes(ptr: number, len: number): Buffer | null {
    ptr >>>= 0;
    len >>>= 0;
    if (!this.inBounds(ptr, len)) return null;
    return this.u8.subarray(ptr, ptr + len);
  }

  /** [ptr, ptr+len) decoded as latin1 (bytes round-trip), or null when out of bounds. */
  latin1(ptr: number, len: number): string | null {
    ptr >>>= 0;
    len >>>= 0;
    if (!this.inBounds(ptr, len)) return null;
    if (len === 0) return '';
    if (len <= INTERNED_MAX_BYTES) return this.latin1Interned(ptr, len);
    return (this.u8 as Latin1Buffer).latin1Slice(ptr, ptr + len);
  }

  /**
   * [ptr, ptr+len) (in bounds, 1..INTERNED_MAX_BYTES) as the string decoded before for
   * the same bytes, or decoded now and kept. The slot comes from the length and three
   * words (first, middle, last), so a hit reads the bytes once, in the comparison with
   * the slot's copy; the slot's string is used only if every byte matches, so a
   * collision costs a decode, never a wrong string.
   */
  private latin1Interned(ptr: number, len: number): string {
    const u8 = this.u8;
    const dv = this.dv;
    const end = ptr + len;
    let h = len;
    if (len >= 4) {
      h = Math.imul(h ^ dv.getUint32(ptr, true), 0x01000193);
      h = Math.imul(h ^ dv.getUint32(ptr + ((len - 4) >> 1), true), 0x01000193);
      h = Math.imul(h ^ dv.getUint32(end - 4, true), 0x01000193);
    } else {
      for (let i = ptr; i < end; i++) h = Math.imul(h ^ u8[i], 0x01000193);
    }
    const slot = (h ^ (h >>> 15)) & (INTERNED_SLOTS - 1);
    const known = internedStrings[slot];
    if (known !== undefined && known.length === len && this.sameAsInterned(slot, ptr, len)) return known;
    let s: string;
    if (len <= SHORT_DECODE_BYTES) {
      s = '';
      for (let k = ptr; k < end; k++) s += String.fromCharCode(u8[k]);
    } else {
      s = (u8 as Latin1Buffer).latin1Slice(ptr, end);
    }
    internedStrings[slot] = s;
    internedBytes.set(u8.subarray(ptr, end), slot * INTERNED_MAX_BYTES);
    return s;
  }

  /** Whether [ptr, ptr+len) equals the bytes kept in `slot` (len > 0): words, the last one overlapping. */
  private sameAsInterned(slot: number, ptr: number, len: number): boolean {
    const dv = this.dv;
    if (len < 4) {
      const u8 = this.u8;
      const base = slot * INTERNED_MAX_BYTES;
      for (let j = 0; j < len; j++) if (internedBytes[base + j] !== u8[ptr + j]) return false;
      return true;
    }
    // Slots are word aligned: the copy is read as whole words, memory through the DataView.
    const word = slot * (INTERNED_MAX_BYTES >> 2);
    const last = len - 4;
    for (let j = 0; j < last; j += 4) if (internedWords[word + (j >> 2)] !== dv.getUint32(ptr + j, NATIVE_LE)) return false;
    return internedView.getUint32(slot * INTERNED_MAX_BYTES + last, true) === dv.getUint32(ptr + last, true);
  }

  /** [ptr, ptr+len) decoded as UTF-8, or null when out of bounds. */
  utf8(ptr: number, len: number): string | null {
    ptr >>>= 0;
    len >>>= 0;
    if (!this.inBounds(ptr, len)) return null;
    return len === 0 ? '' : this.u8.toString('utf8', ptr, ptr + len);
  }

  getU32(ptr: number): number | null {
    ptr >>>= 0;
    if (!this.inBounds(ptr, 4)) return null;
    return this.dv.getUint32(ptr, true);
  }

  setU32(ptr: number, value: number): boolean {
    ptr >>>= 0;
    if (!this.inBounds(ptr, 4)) return false;
    this.dv.setUint32(ptr, value >>> 0, true);
    return true;
  }

  setU16(ptr: number, value: number): boolean {
    ptr >>>= 0;
    if (!this.inBounds(ptr, 2)) return false;
    this.dv.setUint16(ptr, value, true);
    return true;
  }

  /** Writes an unsigned 64-bit value given as its two 32-bit halves. */
  setU64Parts(ptr: number, hi: number, lo: number): boolean {
    ptr >>>= 0;
    if (!this.inBounds(ptr, 8)) return false;
    this.dv.setUint32(ptr, lo >>> 0, true);
    this.dv.setUint32(ptr + 4, hi >>> 0, true);
    return true;
  }

  setU64(ptr: number, value: bigint): boolean {
    ptr >>>= 0;
    if (!this.inBounds(ptr, 8)) return false;
    this.dv.setBigUint64(ptr, BigInt.asUintN(64, value), true);
    return true;
  }

  /**
   * Writes a millisecond time as unsigned 64-bit nanoseconds, exactly and without
   * BigInt: ms * 1e6 exceeds 2^53, so the product is built from 32-bit halves.
   */
  setNanosFromMillis(ptr: number, ms: number): boolean {
    const whole = Math.floor(ms);
    const fracNs = Math.round((ms - whole) * 1e6);
    const mh = Math.floor(whole / TWO_32);
    const ml = whole - mh * TWO_32;
    const x = ml * 1e6 + fracNs; // < 2^53
    const carry = Math.floor(x / TWO_32);
    return this.setU64Parts(ptr, mh * 1e6 + carry, x - carry * TWO_32);
  }

  /** Copies `src` to `ptr`; false when out of bounds. */
  write(ptr: number, src: Uint8Array): boolean {
    ptr >>>= 0;
    if (!this.inBounds(ptr, src.length)) return false;
    this.u8.set(src, ptr);
    return true;
  }

  /** Writes a latin1 string (one byte per char) at `ptr`; the caller checked the bounds. */
  writeLatin1Unchecked(ptr: number, s: string): number {
    const n = s.length;
    if (n > SHORT_WRITE_BYTES) return (this.u8 as Latin1Buffer).latin1Write(s, ptr, n);
    const u8 = this.u8;
    for (let i = 0; i < n; i++) u8[ptr + i] = s.charCodeAt(i);
    return n;
  }
}
