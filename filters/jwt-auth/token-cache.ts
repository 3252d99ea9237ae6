/**
 * Verified tokens, per worker VM, so that a client repeating its token pays for the
 * signature once (after Envoy's jwt_authn JwtCache, jwt_cache.cc). Keyed by a 64-bit
 * hash of the token and the provider; an entry matches only when the whole token is
 * equal too (a hash collision is a miss, never someone else's claims). An entry holds
 * the parsed token only: time, audience, subject and claim checks run again on every
 * request.
 *
 * Bounds: at most `maxEntries` entries (0 disables the cache); an entry is dropped at
 * its `exp` (plus the provider's clock skew, when the token would be refused anyway),
 * when the provider's keys change (`keysGeneration`), or, when the cache is full, the
 * oldest entry makes room. Lookups allocate nothing.
 */
import { Jwt } from "./jwt";

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

/**
 * 64-bit hash of `len` bytes at `ptr` mixed with `seed` (8 bytes a step, multiply and
 * rotate, then a final avalanche as in MurmurHash3's fmix64). Not a MAC: collisions are
 * resolved by comparing tokens.
 */
export function tokenHash(ptr: usize, len: i32, seed: u64): u64 {
  let h: u64 = seed ^ (<u64>len * 0x9e3779b97f4a7c15);
  let i = 0;
  for (; i + 8 <= len; i += 8) {
    h ^= load<u64>(ptr + <usize>i) * 0xff51afd7ed558ccd;
    h = rotl<u64>(h, 31) * 0xc4ceb9fe1a85ec53;
  }
  let tail: u64 = 0;
  for (let s: u64 = 0; i < len; i++, s += 8) tail |= <u64>load<u8>(ptr + <usize>i) << s;
  h ^= tail * 0xff51afd7ed558ccd;
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccd;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53;
  h ^= h >> 33;
  return h;
}

export class TokenCache {
  private readonly entries: Map<u64, Entry> = new Map<u64, Entry>();
  private sequence: u64 = 0;

  constructor(readonly maxEntries: i32) {}

  /** Entries held now. */
  get size(): i32 {
    return this.entries.size;
  }

  /**
   * The cached parse of token `ptr[0..len)` for `provider`, or null: none, a different
   * token under the same hash, other keys since, or past `dropAt` at `now` (seconds).
   */
  lookup(hash: u64, ptr: usize, len: i32, provider: i32, keysGeneration: u64, now: f64): Jwt | null {
    const entries = this.entries;
    if (!entries.has(hash)) return null;
    const e = entries.get(hash);
    if (e.provider != provider || e.token.length != len || memory.compare(e.token.dataStart, ptr, <usize>len) != 0) return null;
    if (e.keysGeneration != keysGeneration || now >= e.dropAt) {
      entries.delete(hash);
      return null;
    }
    return e.jwt;
  }

  /** Keeps `jwt`, verified with keys of `keysGeneration`, until `dropAt` (seconds). */
  insert(hash: u64, jwt: Jwt, provider: i32, keysGeneration: u64, dropAt: f64, now: f64): void {
    if (this.maxEntries <= 0) return;
    const entries = this.entries;
    if (!entries.has(hash) && entries.size >= this.maxEntries) this.makeRoom(now);
    const len = jwt.length;
    const token = new Uint8Array(len);
    memory.copy(token.dataStart, jwt.tokenPtr, <usize>len);
    jwt.rebase(token); // drop the reference to the request's header value
    entries.set(hash, new Entry(hash, provider, keysGeneration, token, jwt, dropAt, this.sequence++));
  }

  /** Drops the entries past `dropAt` at `now`; returns how many. */
  sweep(now: f64): i32 {
    const entries = this.entries;
    if (entries.size == 0) return 0;
    const all = entries.values();
    let dropped = 0;
    for (let i = 0, n = all.length; i < n; i++) {
      const e = unchecked(all[i]);
      if (now >= e.dropAt) {
        entries.delete(e.hash);
        dropped++;
      }
    }
    return dropped;
  }

  /** Drops everything (e.g. after a configuration change). */
  clear(): void {
    this.entries.clear();
  }

  /** Expired entries first; if none, the oldest one. */
  private makeRoom(now: f64): void {
    if (this.sweep(now) > 0) return;
    const all = this.entries.values();
    let oldest: Entry | null = null;
    for (let i = 0, n = all.length; i < n; i++) {
      const e = unchecked(all[i]);
      if (oldest === null || e.sequence < oldest.sequence) oldest = e;
    }
    if (oldest !== null) this.entries.delete(oldest.hash);
  }
}
