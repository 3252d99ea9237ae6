/**
 * The bucket table in shared data (layout and bounds: bucket-page.ts), shared by every
 * worker VM of the plugin's `vm_id`, and the compare-and-swap loop that makes N workers
 * enforce one limit exactly.
 *
 * Entries are named `rate-limit/<stat_prefix>/<layout>/p<page>` and
 * `rate-limit/<stat_prefix>/<layout>/o<rule>` (8 hex digits each; `<layout>` hashes the
 * table geometry, so a configuration with another geometry never reads these pages).
 * Plugins with the same `vm_id` and `stat_prefix` share their buckets.
 *
 * `createTable` writes every entry once, at configure time, when it is missing: cpp-host
 * shared data lets a set on a missing key succeed whatever its CAS, so creating entries
 * while requests flow could let two workers each create one and lose the other's tokens.
 * Envoy configures a plugin on each worker before that worker serves its listener; the
 * embedded proxy configures workers one after another before it binds a port.
 *
 * Per request: read the key's page (`proxy_get_shared_data`), read the clock (after the
 * read, so a later writer's refill time is never ahead of ours), find or claim the key's
 * slot, take the tokens, and write the page back with the CAS just read
 * (`proxy_set_shared_data`). On `CasMismatch` another worker changed the page: read and
 * decide again. A denied request writes nothing. Shared data failing (a missing entry,
 * a full store, over MAX_ATTEMPTS lost races) lets the request through and counts it
 * (`<stat_prefix>_requests_total{outcome="fail_open"}`), as Envoy's rate limit filters fail open.
 */
import { formatInteger } from "../../assembly/proxy-wasm/format";
import {
  SharedData,
  WasmResult,
  getSharedDataBytes,
  setSharedDataBytes,
} from "../../assembly/proxy-wasm";
import { BucketPage, MAX_WAYS } from "./bucket-page";
import { monotonicNanos } from "./clock";
import { FNV_OFFSET, RateLimitConfig, Rule, fnv1a64 } from "./config";
import { Decision, decideOnSlot } from "./decision";
import { DescriptorKey, KEY_BYTES } from "./descriptor";

/** CAS attempts per request before giving up (fail open): losing this many races in a row takes hundreds of busy workers. */
export const MAX_ATTEMPTS: i32 = 1000;
const LAYOUT_VERSION: u64 = 1;

enum PageOutcome {
  Decided = 0,
  Full = 1,
  Failed = 2,
}

/** Geometry of the bucket table for a configuration. */
export class TableLayout {
  readonly ways: i32;
  readonly pages: i32;
  readonly limitsPerSlot: i32;

  constructor(config: RateLimitConfig) {
    this.ways = min(MAX_WAYS, config.maxKeys);
    this.pages = config.maxKeys / this.ways;
    this.limitsPerSlot = config.maxLimitsPerRule;
  }

  /** Keys tracked at most: pages × ways ≤ max_keys. */
  get capacity(): i32 {
    return this.pages * this.ways;
  }

  /** Hash naming the layout in entry names. */
  get hash(): u32 {
    let h = FNV_OFFSET;
    const words: StaticArray<u64> = [LAYOUT_VERSION, <u64>this.ways, <u64>this.pages, <u64>this.limitsPerSlot, <u64>KEY_BYTES];
    h = fnv1a64(changetype<usize>(words), words.length << 3, h);
    return <u32>(h ^ (h >> 32));
  }
}

/** Decides requests against the shared bucket table. Override `write` only in tests. */
export class Limiter {
  readonly layout: TableLayout;
  private readonly page: BucketPage;
  private readonly overflowPage: BucketPage;
  /** `rate-limit/<stat_prefix>/<layout>/?xxxxxxxx`: the last 9 bytes are rewritten per entry. */
  private readonly entryKey: ArrayBuffer;
  private readonly overflowKey: DescriptorKey = new DescriptorKey();

  constructor(readonly config: RateLimitConfig) {
    const layout = new TableLayout(config);
    this.layout = layout;
    this.page = new BucketPage(layout.ways, layout.limitsPerSlot);
    this.overflowPage = new BucketPage(1, layout.limitsPerSlot);
    this.entryKey = String.UTF8.encode("rate-limit/" + config.statPrefix + "/" + hex8(layout.hash) + "/p00000000");
    this.overflowKey.finish(0, 0);
  }

  /**
   * Creates the table's missing entries (at configure time). Returns "" or the reason
   * the table cannot be made (the store is full, or the host refuses shared data).
   */
  createTable(): string {
    const layout = this.layout;
    const emptyPage = BucketPage.empty(layout.ways, layout.limitsPerSlot);
    const emptyOverflow = BucketPage.empty(1, layout.limitsPerSlot);
    for (let p = 0; p < layout.pages; p++) {
      const error = this.createEntry(this.pageEntry(p), emptyPage);
      if (error.length > 0) return error;
    }
    for (let r = 0; r < this.config.rules.length; r++) {
      const error = this.createEntry(this.overflowEntry(r), emptyOverflow);
      if (error.length > 0) return error;
    }
    return "";
  }

  /** Decides one request of `rule` whose key is `key`. */
  decide(rule: Rule, key: DescriptorKey, d: Decision): void {
    d.start(rule.index);
    const pageIndex = <i32>(key.hash % <u64>this.layout.pages);
    let outcome = this.decideOnPage(this.pageEntry(pageIndex), this.page, rule, key, d);
    if (outcome == PageOutcome.Full) {
      d.overflow = true;
      outcome = this.decideOnPage(this.overflowEntry(rule.index), this.overflowPage, rule, this.overflowKey, d);
    }
    if (outcome == PageOutcome.Failed) {
      d.failOpen = true;
      d.allowed = true;
    }
  }

  /**
   * Writes a page back: `proxy_set_shared_data` with the CAS of the read (never 0 for an
   * existing entry, so the write is conditional). Tests override it to show what a write
   * without CAS lets through.
   */
  protected write(entry: ArrayBuffer, value: ArrayBuffer, cas: u32): WasmResult {
    return setSharedDataBytes(entry, value, cas);
  }

  private decideOnPage(entry: ArrayBuffer, page: BucketPage, rule: Rule, key: DescriptorKey, d: Decision): PageOutcome {
    const rules = this.config.rules;
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const read: SharedData = getSharedDataBytes(entry);
      if (!read.found) return PageOutcome.Failed;
      page.load(read.value);
      const now = monotonicNanos();
      d.changed = false;
      let slot = page.find(rule, key);
      if (slot < 0) {
        slot = page.claim(rules, now);
        if (slot < 0) return PageOutcome.Full;
        page.assign(slot, rule, key, now);
        d.changed = true;
      }
      decideOnSlot(page, slot, rule, now, d);
      if (!d.changed) return PageOutcome.Decided;
      const written = this.write(entry, page.value, read.cas);
      if (written == WasmResult.Ok) return PageOutcome.Decided;
      if (written != WasmResult.CasMismatch) return PageOutcome.Failed;
    }
    return PageOutcome.Failed;
  }

  private createEntry(entry: ArrayBuffer, empty: ArrayBuffer): string {
    const read = getSharedDataBytes(entry);
    if (read.found) return "";
    if (read.status != WasmResult.NotFound) return "shared data read failed (" + formatInteger(<i32>read.status) + ")";
    const written = setSharedDataBytes(entry, empty, 0);
    if (written != WasmResult.Ok) return "cannot create the bucket table in shared data (status " + formatInteger(<i32>written) + ")";
    return "";
  }

  private pageEntry(page: i32): ArrayBuffer {
    return this.entryName(0x70, page); // 'p'
  }

  private overflowEntry(rule: i32): ArrayBuffer {
    return this.entryName(0x6f, rule); // 'o'
  }

  private entryName(kind: u8, index: i32): ArrayBuffer {
    const key = this.entryKey;
    const end = changetype<usize>(key) + <usize>key.byteLength;
    store<u8>(end - 9, kind);
    writeHex8(end - 8, <u32>index);
    return key;
  }
}

function writeHex8(ptr: usize, x: u32): void {
  for (let i = 7; i >= 0; i--) {
    const d = x & 15;
    store<u8>(ptr + <usize>i, <u8>(d < 10 ? 0x30 + d : 0x57 + d));
    x >>= 4;
  }
}

function hex8(x: u32): string {
  const buffer = new ArrayBuffer(8);
  writeHex8(changetype<usize>(buffer), x);
  return String.UTF8.decode(buffer);
}
