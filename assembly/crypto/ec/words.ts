// Helpers on multi-word integers: little-endian arrays of 32-bit words in linear memory
// (word 0 least significant), as the field and scalar code keeps them. Not constant time:
// ECDSA verification handles public data only.

/** Reads `len` big-endian bytes at `src` into `words` words at `dst` (the top words zero-filled). */
export function wordsFromBytes(dst: usize, words: i32, src: usize, len: i32): void {
  memory.fill(dst, 0, <usize>words << 2);
  for (let i = 0; i < len; i++) {
    const bit = (len - 1 - i) << 3;
    const at = dst + (<usize>(bit >> 5) << 2);
    store<u32>(at, load<u32>(at) | (<u32>load<u8>(src + <usize>i) << (bit & 31)));
  }
}

/** Writes `words` words at `src` as `len` big-endian bytes at `dst` (len ≤ 4·words). */
export function wordsToBytes(dst: usize, len: i32, src: usize): void {
  for (let i = 0; i < len; i++) {
    const bit = (len - 1 - i) << 3;
    store<u8>(dst + <usize>i, <u8>(load<u32>(src + (<usize>(bit >> 5) << 2)) >> (bit & 31)));
  }
}

/** Compares a and b: -1, 0 or 1. */
export function wordsCompare(a: usize, b: usize, words: i32): i32 {
  for (let i = words - 1; i >= 0; i--) {
    const x = load<u32>(a + (<usize>i << 2));
    const y = load<u32>(b + (<usize>i << 2));
    if (x != y) return x < y ? -1 : 1;
  }
  return 0;
}

export function wordsIsZero(a: usize, words: i32): bool {
  for (let i = 0; i < words; i++) if (load<u32>(a + (<usize>i << 2)) != 0) return false;
  return true;
}

export function wordsEqual(a: usize, b: usize, words: i32): bool {
  return memory.compare(a, b, <usize>words << 2) == 0;
}

/** out = a + b; returns the carry out (0 or 1). out may alias a or b. */
export function wordsAdd(out: usize, a: usize, b: usize, words: i32): u32 {
  let acc: u64 = 0;
  for (let i = 0; i < words; i++) {
    const at = <usize>i << 2;
    acc += <u64>load<u32>(a + at) + <u64>load<u32>(b + at);
    store<u32>(out + at, <u32>acc);
    acc >>= 32;
  }
  return <u32>acc;
}

/** out = a - b; returns the borrow out (0 or 1). out may alias a or b. */
export function wordsSub(out: usize, a: usize, b: usize, words: i32): u32 {
  let acc: i64 = 0;
  for (let i = 0; i < words; i++) {
    const at = <usize>i << 2;
    acc += <i64>load<u32>(a + at) - <i64>load<u32>(b + at);
    store<u32>(out + at, <u32>acc);
    acc >>= 32;
  }
  return <u32>(-acc);
}

