/**
 * Byte-range helpers for tokens and their segments: a 64-bit hash and an equality test,
 * both reading 8 bytes a step with unaligned loads (Wasm allows them; a token starts
 * wherever its header value puts it, so `memory.compare`'s aligned fast path rarely
 * applies).
 */

/** Bytes of a token's end that `tokenHash` reads. */
export const TOKEN_HASH_TAIL = 64;

/**
 * 64-bit hash of a token: its length, `seed`, and its last TOKEN_HASH_TAIL bytes (the
 * signature, which differs between any two tokens a key signed; an attacker who copies
 * a tail only makes a lookup compare two tokens and miss).
 */
export function tokenHash(ptr: usize, len: i32, seed: u64): u64 {
  if (len <= TOKEN_HASH_TAIL) return bytesHash(ptr, len, seed);
  return bytesHash(ptr + <usize>(len - TOKEN_HASH_TAIL), TOKEN_HASH_TAIL, seed ^ (<u64>len << 32));
}

/**
 * 64-bit hash of `len` bytes at `ptr` mixed with `seed` (8 bytes a step, multiply and
 * rotate, then a final avalanche as in MurmurHash3's fmix64). Not a MAC: users resolve
 * collisions by comparing the bytes.
 */
export function bytesHash(ptr: usize, len: i32, seed: u64): u64 {
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

/** Whether the `len` bytes at `a` and at `b` are equal. */
export function sameBytes(a: usize, b: usize, len: i32): bool {
  let i = 0;
  for (; i + 8 <= len; i += 8) if (load<u64>(a + <usize>i) != load<u64>(b + <usize>i)) return false;
  for (; i < len; i++) if (load<u8>(a + <usize>i) != load<u8>(b + <usize>i)) return false;
  return true;
}
