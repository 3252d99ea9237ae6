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
 * A page is a shared-data record (assembly/shared): the common header, then its own
 * (ways, slots in use, limits per slot) and the slots in use, each holding the rule
 * index and fingerprint, the key (up to 40 bytes, or the SHA-256 of a longer one), when
 * all its buckets are full again, and one bucket per limit (token-bucket.ts); offsets in
 * assembly/shared/layouts.ts `PAGE_*`. Anything else found in a page entry (garbage,
 * another layout version, a page of another geometry or with inconsistent counts) reads
 * as an empty page and is replaced by the next CAS write; the filter never traps on it.
 */
import { RecordLayout } from "../../assembly/shared";
import {
  PAGE_IN_USE, PAGE_LIMITS, PAGE_MAGIC, PAGE_RESERVED, PAGE_SLOTS, PAGE_SLOT_BUCKETS, PAGE_SLOT_FINGERPRINT, PAGE_SLOT_FULL_AT,
  PAGE_SLOT_KEY, PAGE_SLOT_KEY_FORM, PAGE_SLOT_RULE, PAGE_VERSION, PAGE_WAYS,
} from "../../assembly/shared/layouts";
import { Rule } from "./config";
import { DescriptorKey } from "./descriptor";
import { BUCKET_BYTES, fillBucket, nanosUntilFull } from "./token-bucket";

/** Bytes before the first slot. */
export const PAGE_HEADER: i32 = PAGE_SLOTS;
export const MAX_WAYS: i32 = 8;
const SLOT_RULE: usize = PAGE_SLOT_RULE;
const SLOT_FINGERPRINT: usize = PAGE_SLOT_FINGERPRINT;
const SLOT_KEY_FORM: usize = PAGE_SLOT_KEY_FORM;
const SLOT_KEY: usize = PAGE_SLOT_KEY;
const SLOT_FULL_AT: usize = PAGE_SLOT_FULL_AT;
const SLOT_BUCKETS: usize = PAGE_SLOT_BUCKETS;

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
  /** The page's record layout: from no slot in use to all `ways`. */
  readonly layout: RecordLayout;
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
    this.layout = new RecordLayout(PAGE_MAGIC, PAGE_VERSION, PAGE_HEADER, PAGE_HEADER + ways * size);
    this.sized = sized;
    this.buffer = empty;
    this.base = changetype<usize>(empty);
    this.writeHeader();
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
   * Takes the page read from shared data, a record of `layout` (header checked; kept
   * and edited in place when well formed), or starts from an empty page when `record`
   * is null or not a page of this geometry. Returns whether it was a well-formed page.
   */
  load(record: ArrayBuffer | null): bool {
    if (record !== null && this.wellFormed(record)) {
      this.buffer = record;
      this.base = changetype<usize>(record);
      this.count = <i32>load<u8>(this.base, PAGE_IN_USE);
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

  private wellFormed(record: ArrayBuffer): bool {
    const p = changetype<usize>(record);
    const n = <i32>load<u8>(p, PAGE_IN_USE);
    return <i32>load<u8>(p, PAGE_WAYS) == this.ways && <i32>load<u8>(p, PAGE_LIMITS) == this.limitsPerSlot &&
      n <= this.ways && record.byteLength == PAGE_HEADER + n * this.slotBytes;
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

  /** The page's own header fields (the record header is the CAS loop's). */
  private writeHeader(): void {
    const p = this.base;
    store<u8>(p, <u8>this.ways, PAGE_WAYS);
    store<u8>(p, <u8>this.count, PAGE_IN_USE);
    store<u8>(p, <u8>this.limitsPerSlot, PAGE_LIMITS);
    store<u8>(p, 0, PAGE_RESERVED);
  }
}
