/**
 * Verified tokens, per worker VM, so that a client repeating its token pays for the
 * signature once (after Envoy's jwt_authn JwtCache, jwt_cache.cc). Keyed by a 64-bit
 * hash of the token and the provider; an entry matches only when the whole token is
 * equal too (a hash collision is a miss, never someone else's claims). An entry holds
 * the parsed token only: time, audience, subject and claim checks run again on every
 * request (the ones that depend on the token alone are memoized in its `Jwt`).
 *
 * Bounds: at most `maxEntries` entries (0 disables the cache); an entry is dropped at
 * its `exp` (plus the provider's clock skew, when the token would be refused anyway),
 * when the provider's keys change (`keysGeneration`), or, when the cache is full, the
 * oldest entry makes room. Lookups allocate nothing and probe one open-addressing table
 * (linear probing, backward-shift deletion: no tombstones), at most half full.
 */
import { sameBytes } from "./bytes";
import { Jwt } from "./jwt";

export { tokenHash } from "./bytes";

/** One verified token. */
class Entry {
  constructor(
    readonly hash: u64,
    readonly provider: i32,
    readonly keysGeneration: u64,
    /** A copy of the token bytes, compared in full on lookup (the cached `Jwt` points into it). */
    readonly token: Uint8Array,
    readonly jwt: Jwt,
    /** Seconds since the epoch after which the entry is useless (Infinity: no `exp`). */
    readonly dropAt: f64,
    /** Insertion order, to evict the oldest. */
    readonly sequence: u64,
  ) {}
}

export class TokenCache {
  /** Slots, a power of two at least twice `maxEntries`; an entry sits at or after `hash & mask`. */
  private slots: StaticArray<Entry | null>;
  private readonly mask: i32;
  private count: i32 = 0;
  private sequence: u64 = 0;

  constructor(readonly maxEntries: i32) {
    let capacity = 8;
    while (capacity < maxEntries * 2) capacity <<= 1;
    this.slots = new StaticArray<Entry | null>(maxEntries > 0 ? capacity : 1);
    this.mask = capacity - 1;
  }

  /** Entries held now. */
  get size(): i32 {
    return this.count;
  }

  /**
   * The cached parse of token `ptr[0..len)` for `provider`, or null: none, a different
   * token under the same hash, other keys since, or past `dropAt` at `now` (seconds).
   */
  lookup(hash: u64, ptr: usize, len: i32, provider: i32, keysGeneration: u64, now: f64): Jwt | null {
    const i = this.slotOf(hash, ptr, len, provider);
    if (i < 0) return null;
    const e = unchecked(this.slots[i])!;
    if (e.keysGeneration != keysGeneration || now >= e.dropAt) {
      this.removeAt(i);
      return null;
    }
    return e.jwt;
  }

  /**
   * The cached parse of token `ptr[0..len)` for `provider` whatever its keys or age, or
   * null; removes nothing. For what the token's bytes alone decide (its issuer).
   */
  peek(hash: u64, ptr: usize, len: i32, provider: i32): Jwt | null {
    const i = this.slotOf(hash, ptr, len, provider);
    return i >= 0 ? unchecked(this.slots[i])!.jwt : null;
  }

  /** The slot of token `ptr[0..len)` cached for `provider` under `hash`, or -1. */
  private slotOf(hash: u64, ptr: usize, len: i32, provider: i32): i32 {
    if (this.count == 0) return -1;
    const i = this.find(hash);
    if (i < 0) return -1;
    const e = unchecked(this.slots[i])!;
    return e.provider == provider && e.token.length == len && sameBytes(e.token.dataStart, ptr, len) ? i : -1;
  }

  /** Keeps `jwt`, verified with keys of `keysGeneration`, until `dropAt` (seconds). */
  insert(hash: u64, jwt: Jwt, provider: i32, keysGeneration: u64, dropAt: f64, now: f64): void {
    if (this.maxEntries <= 0) return;
    let i = this.find(hash);
    if (i >= 0) this.removeAt(i);
    else if (this.count >= this.maxEntries) this.makeRoom(now);
    const len = jwt.length;
    const token = new Uint8Array(len);
    memory.copy(token.dataStart, jwt.tokenPtr, <usize>len);
    jwt.rebase(token); // drop the reference to the request's header value
    const mask = this.mask;
    i = <i32>hash & mask;
    while (unchecked(this.slots[i]) !== null) i = (i + 1) & mask;
    unchecked((this.slots[i] = new Entry(hash, provider, keysGeneration, token, jwt, dropAt, this.sequence++)));
    this.count++;
  }

  /** Drops the entries past `dropAt` at `now`; returns how many. */
  sweep(now: f64): i32 {
    if (this.count == 0) return 0;
    const slots = this.slots;
    let dropped = 0;
    for (let i = 0, n = slots.length; i < n; i++) {
      // A removal shifts a later entry into slot i: look at the slot again.
      for (let e = unchecked(slots[i]); e !== null && now >= e.dropAt; e = unchecked(slots[i])) {
        this.removeAt(i);
        dropped++;
      }
    }
    return dropped;
  }

  /** Drops everything (e.g. after a configuration change). */
  clear(): void {
    const slots = this.slots;
    for (let i = 0, n = slots.length; i < n; i++) unchecked((slots[i] = null));
    this.count = 0;
  }

  /** Slot of the entry with `hash`, or -1. */
  private find(hash: u64): i32 {
    const slots = this.slots;
    const mask = this.mask;
    let i = <i32>hash & mask;
    for (let e = unchecked(slots[i]); e !== null; e = unchecked(slots[i])) {
      if (e.hash == hash) return i;
      i = (i + 1) & mask;
    }
    return -1;
  }

  /** Empties slot `i`, shifting back the entries of its probe run that may no longer be reached. */
  private removeAt(i: i32): void {
    const slots = this.slots;
    const mask = this.mask;
    let hole = i;
    for (let j = (i + 1) & mask; ; j = (j + 1) & mask) {
      const e = unchecked(slots[j]);
      if (e === null) break;
      const home = <i32>e.hash & mask;
      // The entry at j may move to the hole when its home is not in (hole, j] cyclically.
      const reachable = hole <= j ? home > hole && home <= j : home > hole || home <= j;
      if (!reachable) {
        unchecked((slots[hole] = e));
        hole = j;
      }
    }
    unchecked((slots[hole] = null));
    this.count--;
  }

  /** Expired entries first; if none, the oldest one. */
  private makeRoom(now: f64): void {
    if (this.sweep(now) > 0) return;
    const slots = this.slots;
    let oldest = -1;
    let sequence: u64 = u64.MAX_VALUE;
    for (let i = 0, n = slots.length; i < n; i++) {
      const e = unchecked(slots[i]);
      if (e !== null && e.sequence < sequence) {
        sequence = e.sequence;
        oldest = i;
      }
    }
    if (oldest >= 0) this.removeAt(oldest);
  }
}
