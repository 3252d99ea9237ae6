/**
 * The bucket table: where every tracked key's buckets live, in shared data, bounded by
 * construction.
 *
 * ABI v0.2.1 shared data has no delete and a set on a missing key succeeds whatever its
 * CAS (proxy-wasm-cpp-host src/shared_data.cc), so keys are neither created nor removed
 * while requests flow. Instead the table is a fixed set of shared-data entries created
 * once at configure time (limiter.ts):
 *
 * - `pages` = floor(max_keys / ways) pages of `ways` (≤ 8) slots each, so at most
 *   max_keys keys are tracked, plus one single-slot overflow page per rule. Nothing else
 *   is ever written: shared data holds pages + rules entries, each at most
 *   `PAGE_HEADER + ways × slotBytes` bytes, whatever the traffic.
 * - A key hashes to one page (set-associative, like a CPU cache). The whole page is one
 *   shared-data entry, so finding the key, claiming a slot and taking tokens is one
 *   read and one compare-and-swap write: two workers can never place the same key in
 *   two slots, and a lost race just retries on the new page.
 * - A key's slot holds the key, the rule it belongs to, and one bucket per limit. A slot
 *   is reclaimed for a new key only when every one of its buckets has refilled to
 *   max_tokens (`fullAt <= now`) — a state no different from a fresh bucket, so
 *   forgetting it hands nobody tokens early — or when it was written under a rule that
 *   no longer exists in this form (stale fingerprint).
 * - When a key's page has no free or reclaimable slot, the request uses its rule's
 *   overflow bucket instead (limiter.ts), shared by every such key.
 *
 * Page layout (little endian):
 *   [0, 4) magic "RLP1"   [4] ways   [5] slots in use   [6] limits per slot   [7] 0
 *   then `inUse` slots of `slotBytes`:
 *     [0, 2) rule index   [2, 4) rule fingerprint   [4] key length (0..40) or 0xFF
 *     (SHA-256 of a longer key)   [5, 8) 0   [8, 48) key bytes, zero padded
 *     [48, 56) i64 monotonic ns at which every bucket is full again
 *     [56, ...) one 16-byte bucket per limit (token-bucket.ts), `limitsPerSlot` of them
 * Anything else found in a page entry (another writer, a different layout) reads as an
 * empty page and is replaced by the next CAS write; the filter never traps on it.
 */
import { Rule } from "./config";
import { DescriptorKey, KEY_BYTES } from "./descriptor";
import { BUCKET_BYTES, fillBucket, nanosUntilFull } from "./token-bucket";

export const PAGE_MAGIC: u32 = 0x31504c52; // "RLP1"
export const PAGE_HEADER: i32 = 8;
export const MAX_WAYS: i32 = 8;
const SLOT_RULE: usize = 0;
const SLOT_FINGERPRINT: usize = 2;
const SLOT_KEY_FORM: usize = 4;
const SLOT_KEY: usize = 8;
const SLOT_FULL_AT: usize = SLOT_KEY + <usize>KEY_BYTES;
const SLOT_BUCKETS: usize = SLOT_FULL_AT + 8;

/** Bytes of a slot holding `limits` buckets. */
export function slotBytes(limits: i32): i32 {
  return <i32>SLOT_BUCKETS + limits * BUCKET_BYTES;
}

/**
 * One page of the bucket table, loaded from shared data, edited in place, and handed
 * back for the CAS write. Reused for every request (Wasm runs one callback at a time):
 * it keeps one buffer per possible size so that no request allocates one.
 */
export class BucketPage {
  readonly slotBytes: i32;
  /** Buffers of PAGE_HEADER + n × slotBytes bytes, n = 0..ways. */
  private readonly sized: StaticArray<ArrayBuffer>;
  private buffer: ArrayBuffer;
  private base: usize;
  private count: i32 = 0;

  constructor(readonly ways: i32, readonly limitsPerSlot: i32) {
    const size = slotBytes(limitsPerSlot);
    const sized = new StaticArray<ArrayBuffer>(ways + 1);
    for (let n = 0; n <= ways; n++) unchecked((sized[n] = new ArrayBuffer(PAGE_HEADER + n * size)));
    const empty = unchecked(sized[0]);
    this.slotBytes = size;
    this.sized = sized;
    this.buffer = empty;
    this.base = changetype<usize>(empty);
    this.writeHeader();
  }

  /** The value of a page with no slot in use, to create a page entry. */
  static empty(ways: i32, limitsPerSlot: i32): ArrayBuffer {
    const page = new BucketPage(ways, limitsPerSlot);
    return page.value;
  }

  /** Slots in use. */
  get inUse(): i32 {
    return this.count;
  }

  /** The page as it stands, for the shared-data write. */
  get value(): ArrayBuffer {
    return this.buffer;
  }

  /**
   * Takes the page read from shared data (kept and edited in place when well formed),
   * or starts from an empty page when `value` is null or not a page of this layout.
   * Returns whether `value` was a well-formed page.
   */
  load(value: ArrayBuffer | null): bool {
    if (value !== null && this.wellFormed(value)) {
      this.buffer = value;
      this.base = changetype<usize>(value);
      this.count = <i32>load<u8>(this.base, 5);
      return true;
    }
    this.resize(0);
    return false;
  }

  /** Address of slot `i`. */
  slot(i: i32): usize {
    return this.base + <usize>PAGE_HEADER + <usize>(i * this.slotBytes);
  }

  /** Address of bucket `limit` of slot `i`. */
  bucket(i: i32, limit: i32): usize {
    return this.slot(i) + SLOT_BUCKETS + <usize>(limit * BUCKET_BYTES);
  }

  /** The slot holding `key` for `rule` (its current fingerprint), or -1. */
  find(rule: Rule, key: DescriptorKey): i32 {
    const index = <u16>rule.index;
    const fingerprint = rule.fingerprint;
    const form = key.form;
    const length = <usize>key.storedLength;
    const keyPtr = key.storedPtr;
    for (let i = 0, n = this.count; i < n; i++) {
      const s = this.slot(i);
      if (load<u16>(s, SLOT_RULE) == index && load<u16>(s, SLOT_FINGERPRINT) == fingerprint &&
        load<u8>(s, SLOT_KEY_FORM) == form && memory.compare(s + SLOT_KEY, keyPtr, length) == 0) return i;
    }
    return -1;
  }

  /**
   * A slot for a new key: an unused one (the page grows by one slot), else the first
   * whose buckets have all refilled to max_tokens by `now`, or whose rule no longer
   * exists in this form. -1 when every slot still holds a partly used bucket.
   */
  claim(rules: StaticArray<Rule>, now: i64): i32 {
    const n = this.count;
    if (n < this.ways) {
      this.resize(n + 1);
      return n;
    }
    for (let i = 0; i < n; i++) {
      const s = this.slot(i);
      const r = <i32>load<u16>(s, SLOT_RULE);
      if (r >= rules.length || load<u16>(s, SLOT_FINGERPRINT) != unchecked(rules[r]).fingerprint) return i;
      if (load<i64>(s, SLOT_FULL_AT) <= now) return i;
    }
    return -1;
  }

  /** Writes `key` of `rule` into slot `i` with full buckets refilled at `now`. */
  assign(i: i32, rule: Rule, key: DescriptorKey, now: i64): void {
    const s = this.slot(i);
    memory.fill(s, 0, <usize>this.slotBytes);
    store<u16>(s, <u16>rule.index, SLOT_RULE);
    store<u16>(s, rule.fingerprint, SLOT_FINGERPRINT);
    store<u8>(s, key.form, SLOT_KEY_FORM);
    memory.copy(s + SLOT_KEY, key.storedPtr, <usize>key.storedLength);
    const limits = rule.limits;
    for (let l = 0, n = min(limits.length, this.limitsPerSlot); l < n; l++) fillBucket(this.bucket(i, l), unchecked(limits[l]), now);
    store<i64>(s, now, SLOT_FULL_AT);
  }

  /** Records when slot `i`'s buckets (refilled at `now`) are all full again. */
  updateFullAt(i: i32, rule: Rule, now: i64): void {
    let latest = now;
    const limits = rule.limits;
    for (let l = 0, n = min(limits.length, this.limitsPerSlot); l < n; l++) {
      const at = now + nanosUntilFull(this.bucket(i, l), unchecked(limits[l]));
      if (at > latest) latest = at;
    }
    store<i64>(this.slot(i), latest, SLOT_FULL_AT);
  }

  /** Rule index of slot `i` (tests, tools). */
  ruleOf(i: i32): i32 {
    return <i32>load<u16>(this.slot(i), SLOT_RULE);
  }

  private wellFormed(value: ArrayBuffer): bool {
    const length = value.byteLength;
    if (length < PAGE_HEADER) return false;
    const p = changetype<usize>(value);
    const n = <i32>load<u8>(p, 5);
    return load<u32>(p) == PAGE_MAGIC && <i32>load<u8>(p, 4) == this.ways && <i32>load<u8>(p, 6) == this.limitsPerSlot &&
      n <= this.ways && length == PAGE_HEADER + n * this.slotBytes;
  }

  /** Moves the page into the buffer for `n` slots, keeping the slots both have. */
  private resize(n: i32): void {
    const next = unchecked(this.sized[n]);
    const keep = min(n, this.count);
    if (next !== this.buffer) {
      if (keep > 0) memory.copy(changetype<usize>(next) + <usize>PAGE_HEADER, this.base + <usize>PAGE_HEADER, <usize>(keep * this.slotBytes));
      this.buffer = next;
      this.base = changetype<usize>(next);
    }
    this.count = n;
    this.writeHeader();
  }

  private writeHeader(): void {
    const p = this.base;
    store<u32>(p, PAGE_MAGIC);
    store<u8>(p, <u8>this.ways, 4);
    store<u8>(p, <u8>this.count, 5);
    store<u8>(p, <u8>this.limitsPerSlot, 6);
    store<u8>(p, 0, 7);
  }
}
