/**
 * The bucket table in shared data (layout and bounds: bucket-page.ts), shared by every
 * worker VM of the plugin's `vm_id`, and the compare-and-swap loop that makes N workers
 * enforce one limit exactly.
 *
 * Entries are named `rate-limit/<stat_prefix>/<geometry>/p<page>` and
 * `rate-limit/<stat_prefix>/<geometry>/o<rule>` (8 hex digits each; `<geometry>` hashes
 * the table's geometry, so a configuration with another geometry never reads these
 * pages; the page layout's version is in each page's header, assembly/shared).
 * Plugins with the same `vm_id` and `stat_prefix` share their buckets.
 *
 * `createTable` writes every entry at configure time (Envoy configures a plugin on each
 * worker before that worker serves its listener), so the table's size is known before
 * the first request.
 *
 * Per request, through assembly/shared's CAS loop (`update`): read the key's page
 * (`proxy_get_shared_data`), read the clock (after the read, so a later writer's refill
 * time is never ahead of ours), find or claim the key's slot, take the tokens, and write
 * the page back with the CAS just read (`proxy_set_shared_data`); when another worker
 * wrote first, read and decide again. A denied request writes nothing. Shared data
 * failing (a host error such as a full store, or the loop giving up) lets the request
 * through and counts it (`<stat_prefix>_requests_total{outcome="fail_open"}`), as Envoy's
 * rate limit filters fail open.
 */
import { formatInteger, getMonotonicTimeNanoseconds, lastResult } from "../../assembly/proxy-wasm";
import { RecordUpdate, UpdateResult, update } from "../../assembly/shared";
import { BucketPage, MAX_WAYS } from "./bucket-page";
import { FNV_OFFSET, RateLimitConfig, Rule, fnv1a64 } from "./config";
import { Decision, decideOnSlot } from "./decision";
import { DescriptorKey, KEY_BYTES } from "./descriptor";

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

  /** Hash naming the geometry in entry names. */
  get hash(): u32 {
    let h = FNV_OFFSET;
    const words: StaticArray<u64> = [<u64>this.ways, <u64>this.pages, <u64>this.limitsPerSlot, <u64>KEY_BYTES];
    h = fnv1a64(changetype<usize>(words), words.length << 3, h);
    return <u32>(h ^ (h >> 32));
  }
}

/** Decides requests against the shared bucket table. */
export class Limiter extends RecordUpdate {
  readonly layout: TableLayout;
  private readonly page: BucketPage;
  private readonly overflowPage: BucketPage;
  /** `rate-limit/<stat_prefix>/<layout>/?xxxxxxxx`: the last 9 bytes are rewritten per entry. */
  private readonly entryKey: ArrayBuffer;
  private readonly overflowKey: DescriptorKey = new DescriptorKey();
  // The request `apply` decides (`decideOnPage` sets them); null `rule`: create the page.
  private current: BucketPage;
  private rule: Rule | null = null;
  private key: DescriptorKey = this.overflowKey;
  private decision: Decision = new Decision();
  private full: bool = false;

  constructor(readonly config: RateLimitConfig) {
    super();
    const layout = new TableLayout(config);
    this.layout = layout;
    const page = new BucketPage(layout.ways, layout.limitsPerSlot);
    this.page = page;
    this.current = page;
    this.overflowPage = new BucketPage(1, layout.limitsPerSlot);
    this.entryKey = String.UTF8.encode("rate-limit/" + config.statPrefix + "/" + hex8(layout.hash) + "/p00000000");
    this.overflowKey.finish(0, 0);
  }

  /**
   * Writes the table's entries that hold no page of this layout (at configure time).
   * Returns "" or the reason the table cannot be made (the store is full, or the host
   * refuses shared data).
   */
  createTable(): string {
    const layout = this.layout;
    this.rule = null;
    for (let p = 0; p < layout.pages; p++) {
      if (!this.createEntry(this.pageEntry(p), this.page)) return cannotCreate();
    }
    for (let r = 0; r < this.config.rules.length; r++) {
      if (!this.createEntry(this.overflowEntry(r), this.overflowPage)) return cannotCreate();
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

  private decideOnPage(entry: ArrayBuffer, page: BucketPage, rule: Rule, key: DescriptorKey, d: Decision): PageOutcome {
    this.current = page;
    this.rule = rule;
    this.key = key;
    this.decision = d;
    this.full = false;
    const r = update(entry, page.layout, this);
    if (r == UpdateResult.GaveUp || r == UpdateResult.HostError) return PageOutcome.Failed;
    return this.full ? PageOutcome.Full : PageOutcome.Decided;
  }

  private createEntry(entry: ArrayBuffer, page: BucketPage): bool {
    this.current = page;
    const r = update(entry, page.layout, this);
    return r == UpdateResult.Updated || r == UpdateResult.Unchanged;
  }

  /** Decides the request on the page read (the page to write when it changed), or creates an empty page. */
  apply(record: ArrayBuffer | null): ArrayBuffer | null {
    const page = this.current;
    const rule = this.rule;
    if (rule === null) {
      if (page.load(record)) return null;
      return page.value;
    }
    page.load(record);
    const now = <i64>getMonotonicTimeNanoseconds();
    const d = this.decision;
    d.changed = false;
    let slot = page.find(rule, this.key);
    if (slot < 0) {
      slot = page.claim(this.config.rules, now);
      if (slot < 0) {
        this.full = true;
        return null;
      }
      page.assign(slot, rule, this.key, now);
      d.changed = true;
    }
    decideOnSlot(page, slot, rule, now, d);
    return d.changed ? page.value : null;
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

function cannotCreate(): string {
  return "cannot create the bucket table in shared data (status " + formatInteger(<i32>lastResult()) + ")";
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
