/**
 * Constant-time comparison for secrets such as MAC tags: the time taken depends on the
 * length only, never on where the inputs first differ (a byte-by-byte early exit
 * leaks, through timing, how much of a forged tag is right).
 */

/**
 * True when `a` and `b` hold the same bytes. Arrays of different lengths compare
 * unequal at once: lengths are public (a JWS tag length is fixed by its `alg`).
 */
export function constantTimeEqual(a: Uint8Array, b: Uint8Array): bool {
  if (a.length != b.length) return false;
  return constantTimeEqualRaw(a.dataStart, b.dataStart, <usize>a.length);
}

/** As `constantTimeEqual`, for `len` bytes at addresses `a` and `b`. */
export function constantTimeEqualRaw(a: usize, b: usize, len: usize): bool {
  let diff: u64 = 0;
  let i: usize = 0;
  for (; i + 8 <= len; i += 8) diff |= load<u64>(a + i) ^ load<u64>(b + i);
  for (; i < len; i++) diff |= <u64>(load<u8>(a + i) ^ load<u8>(b + i));
  return diff == 0;
}
