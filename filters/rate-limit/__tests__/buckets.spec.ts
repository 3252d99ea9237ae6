import { ConfigReader, ConfigResult } from "../../../assembly/config";
import { Limit, RateLimitConfig, Rule, parseConfig } from "../config";
import {
  HEADER_VERSION, PAGE_BUCKET_BYTES, PAGE_IN_USE, PAGE_SLOT_BUCKETS, PAGE_SLOT_FULL_AT, PAGE_SLOT_KEY, PAGE_SLOT_KEY_BYTES, PAGE_SLOTS, PAGE_VERSION,
} from "../../../assembly/shared/layouts";
import { BucketPage, PAGE_HEADER, slotBytes } from "../bucket-page";
import { Decision, decideOnSlot } from "../decision";
import { DescriptorKey, KEY_BYTES } from "../descriptor";
import {
  BUCKET_BYTES, bucketTokens, fillBucket, nanosUntilFull, nanosUntilToken, refillBucket, secondsCeil, takeToken,
} from "../token-bucket";

/** `parseConfig` of configuration text. */
function parseText(text: string): ConfigResult<RateLimitConfig> {
  return parseConfig(ConfigReader.fromString(text));
}

const S: i64 = 1000000000;
const MIN: i64 = 60 * S;

// A raw address does not keep its buffer alive: hold every bucket until the spec ends,
// or the collector may reuse its memory under the test.
const buckets = new Array<ArrayBuffer>();

function bucket(): usize {
  const b = new ArrayBuffer(BUCKET_BYTES);
  buckets.push(b);
  return changetype<usize>(b);
}

/** Rules: 0 `tier` (3/min and 5/hour), 1 `edge` (bursts of 2000 at 1000/s), 2 `one` (1 per 10 s). */
const RULES = parseText(`{"rules":[
  {"name":"tier","limits":[{"max_tokens":3,"tokens_per_fill":3,"fill_interval":"60s"},{"max_tokens":5,"tokens_per_fill":5,"fill_interval":"3600s"}]},
  {"name":"edge","limits":[{"max_tokens":2000,"tokens_per_fill":1000,"fill_interval":"1s"}]},
  {"name":"one","limits":[{"max_tokens":1,"fill_interval":"10s"}]}]}`).config!.rules;

/** Loads a shared-data value into `page` as the CAS loop hands it over (header checked). */
function loadValue(page: BucketPage, value: ArrayBuffer | null): bool {
  return page.load(page.layout.recordOf(value));
}

function keyOf(text: string, rule: Rule): DescriptorKey {
  const key = new DescriptorKey();
  key.text(1, text, text.length);
  key.finish(rule.index, 7);
  return key;
}

describe("token bucket: exact continuous refill", () => {
  it("starts full and refills fractions exactly", () => {
    const limit = Limit.of(100, 100, MIN)!; // 100/min: one token every 0.6 s
    const b = bucket();
    fillBucket(b, limit, 0);
    for (let i = 0; i < 100; i++) takeToken(b, limit);
    expect<i64>(bucketTokens(b, limit)).toBe(0);
    refillBucket(b, limit, 599999999);
    expect<i64>(bucketTokens(b, limit)).toBe(0); // 1 ns short of a token
    expect<i64>(nanosUntilToken(b, limit)).toBe(1);
    refillBucket(b, limit, 600000000);
    expect<i64>(bucketTokens(b, limit)).toBe(1);
    refillBucket(b, limit, 900000000); // half a token more, kept as units
    expect<i64>(bucketTokens(b, limit)).toBe(1);
    refillBucket(b, limit, 1200000000);
    expect<i64>(bucketTokens(b, limit)).toBe(2);
  });

  it("adds the same whether refilled often or once: no drift", () => {
    const limit = Limit.of(1000000, 7, 3 * S)!; // 7 tokens per 3 s: 2.333... per second
    const often = bucket();
    const once = bucket();
    fillBucket(often, limit, 0);
    fillBucket(once, limit, 0);
    for (let i = 0; i < 1000; i++) {
      takeToken(often, limit);
      takeToken(once, limit);
    }
    let t: i64 = 0;
    for (let i = 0; i < 100000; i++) {
      t += 1234567; // odd steps, 123 s in all
      refillBucket(often, limit, t);
    }
    refillBucket(once, limit, t);
    expect<i64>(load<i64>(often)).toBe(load<i64>(once));
    // 123.4567 s × 7/3 tokens/s = 288.06563 tokens added to 999000.
    expect<i64>(bucketTokens(often, limit)).toBe(999288);
  });

  it("never passes max_tokens, even after a long idle", () => {
    const limit = Limit.of(5, 5, MIN)!;
    const b = bucket();
    fillBucket(b, limit, 0);
    takeToken(b, limit);
    refillBucket(b, limit, 365 * 86400 * S);
    expect<i64>(bucketTokens(b, limit)).toBe(5);
    expect<i64>(load<i64>(b)).toBe(limit.maxUnits);
    refillBucket(b, limit, i64.MAX_VALUE); // the longest idle there is
    expect<i64>(bucketTokens(b, limit)).toBe(5);
  });

  it("adds nothing when time goes back, and resumes from the new time", () => {
    const limit = Limit.of(10, 10, 10 * S)!; // one per second
    const b = bucket();
    fillBucket(b, limit, 100 * S);
    for (let i = 0; i < 10; i++) takeToken(b, limit);
    refillBucket(b, limit, 50 * S); // 50 s back
    expect<i64>(bucketTokens(b, limit)).toBe(0);
    expect<i64>(load<i64>(b, 8)).toBe(50 * S);
    refillBucket(b, limit, 53 * S);
    expect<i64>(bucketTokens(b, limit)).toBe(3);
  });

  it("clamps garbage state into 0..max", () => {
    const limit = Limit.of(5, 5, MIN)!;
    const b = bucket();
    store<i64>(b, i64.MAX_VALUE);
    store<i64>(b, i64.MIN_VALUE, 8);
    refillBucket(b, limit, 10);
    expect<i64>(bucketTokens(b, limit)).toBe(5);
    store<i64>(b, -12345);
    store<i64>(b, 10, 8);
    refillBucket(b, limit, 10);
    expect<i64>(load<i64>(b)).toBe(0);
  });

  it("tells how long until a token and until full, rounded up to seconds", () => {
    const limit = Limit.of(100, 100, MIN)!;
    const b = bucket();
    fillBucket(b, limit, 0);
    for (let i = 0; i < 100; i++) takeToken(b, limit);
    expect<i64>(nanosUntilToken(b, limit)).toBe(600000000);
    expect<i64>(nanosUntilFull(b, limit)).toBe(MIN);
    expect<i64>(secondsCeil(600000000)).toBe(1);
    expect<i64>(secondsCeil(S)).toBe(1);
    expect<i64>(secondsCeil(S + 1)).toBe(2);
    expect<i64>(secondsCeil(0)).toBe(0);
  });
});

describe("decision: every limit of the rule, all or nothing", () => {
  it("takes one token from each limit until the smallest runs out", () => {
    const rule = RULES[0];
    const page = new BucketPage(1, 2);
    const d = new Decision();
    const slot = page.claim(RULES, 0);
    page.assign(slot, rule, keyOf("u", rule), 0);
    for (let i = 0; i < 3; i++) {
      d.start(0);
      decideOnSlot(page, slot, rule, 0, d);
      expect<bool>(d.allowed).toBe(true);
    }
    expect<i64>(d.remaining).toBe(0); // the minute limit reports, it has fewest
    expect<i32>(d.reported).toBe(0);
    expect<i64>(d.resetSeconds).toBe(60);
    d.start(0);
    decideOnSlot(page, slot, rule, 0, d);
    expect<bool>(d.allowed).toBe(false);
    expect<bool>(d.changed).toBe(false); // a denial writes nothing
    expect<i64>(d.retryAfterSeconds).toBe(20); // one of 3 per minute
    // The hour limit was not charged for the denial: 5 - 3 = 2 left.
    expect<i64>(bucketTokens(page.bucket(slot, 1), rule.limits[1])).toBe(2);
  });

  it("denies on the hour limit once minutes refill, and reports it", () => {
    const rule = RULES[0];
    const page = new BucketPage(1, 2);
    const d = new Decision();
    const slot = page.claim(RULES, 0);
    page.assign(slot, rule, keyOf("u", rule), 0);
    let t: i64 = 0;
    let allowed = 0;
    for (let i = 0; i < 20; i++) {
      t += 30 * S;
      d.start(0);
      decideOnSlot(page, slot, rule, t, d);
      if (d.allowed) allowed++;
    }
    expect<i32>(allowed).toBe(5); // 5 per hour, though the minute limit allowed more
    expect<bool>(d.allowed).toBe(false);
    expect<i32>(d.reported).toBe(1);
    expect<i64>(d.remaining).toBe(0);
    // The 5th token went at 150 s with 1/6 token refilled; at 600 s 0.79 of one is there,
    // the rest takes 0.21 × 720 s = 150 s.
    expect<i64>(d.retryAfterSeconds).toBe(150);
  });

  it("lets the edge limit burst to 2000, then 1000 per second", () => {
    const rule = RULES[1];
    const page = new BucketPage(1, 2);
    const d = new Decision();
    const slot = page.claim(RULES, 0);
    page.assign(slot, rule, keyOf("", rule), 0);
    let allowed = 0;
    for (let i = 0; i < 2500; i++) {
      d.start(1);
      decideOnSlot(page, slot, rule, 0, d);
      if (d.allowed) allowed++;
    }
    expect<i32>(allowed).toBe(2000);
    // Over the next second, one request every 0.5 ms: exactly 1000 more.
    allowed = 0;
    for (let i = 1; i <= 2000; i++) {
      d.start(1);
      decideOnSlot(page, slot, rule, <i64>i * 500000, d);
      if (d.allowed) allowed++;
    }
    expect<i32>(allowed).toBe(1000);
  });
});

describe("bucket page: bounded slots, reclaimed only when full", () => {
  it("finds a key again and keeps keys of different rules apart", () => {
    const page = new BucketPage(4, 2);
    const a = keyOf("alice", RULES[0]);
    const slot = page.claim(RULES, 0);
    page.assign(slot, RULES[0], a, 0);
    expect<i32>(page.find(RULES[0], a)).toBe(slot);
    expect<i32>(page.find(RULES[0], keyOf("bob", RULES[0]))).toBe(-1);
    expect<i32>(page.find(RULES[2], keyOf("alice", RULES[2]))).toBe(-1);
    expect<i32>(page.value.byteLength).toBe(PAGE_HEADER + slotBytes(2));
  });

  it("grows to `ways` slots, then reclaims only buckets refilled to max_tokens", () => {
    const rule = RULES[2]; // 1 token per 10 s
    const page = new BucketPage(2, 1);
    const d = new Decision();
    for (let i = 0; i < 2; i++) {
      const slot = page.claim(RULES, 0);
      page.assign(slot, rule, keyOf("k" + i.toString(), rule), 0);
      decideOnSlot(page, slot, rule, 0, d); // each takes its only token
    }
    expect<i32>(page.inUse).toBe(2);
    expect<i32>(page.claim(RULES, 9 * S)).toBe(-1); // both still refilling
    expect<i32>(page.claim(RULES, 10 * S)).toBe(0); // k0 full again: indistinguishable from new
    expect<i32>(page.inUse).toBe(2);
  });

  it("never reclaims a partly used bucket of a busy key", () => {
    const rule = RULES[0];
    const page = new BucketPage(1, 2);
    const d = new Decision();
    const slot = page.claim(RULES, 0);
    page.assign(slot, rule, keyOf("victim", rule), 0);
    decideOnSlot(page, slot, rule, 0, d);
    // The minute limit is full again after 20 s, the hour limit only after 720 s.
    expect<i32>(page.claim(RULES, 60 * S)).toBe(-1);
    expect<i32>(page.claim(RULES, 719 * S)).toBe(-1);
    expect<i32>(page.claim(RULES, 720 * S)).toBe(0);
  });

  it("reclaims slots of rules that no longer exist in this form", () => {
    const page = new BucketPage(1, 2);
    const other = parseText(`{"rules":[{"name":"tier","limits":[{"max_tokens":9,"fill_interval":"60s"}]}]}`).config!.rules;
    const slot = page.claim(other, 0);
    page.assign(slot, other[0], keyOf("u", other[0]), 0);
    decideOnSlot(page, slot, other[0], 0, new Decision());
    // Same index and name, other limits: stale for RULES, never found, free to take.
    expect<i32>(page.find(RULES[0], keyOf("u", RULES[0]))).toBe(-1);
    expect<i32>(page.claim(RULES, 0)).toBe(0);
  });

  it("has the slot layout layouts.ts gives the page", () => {
    expect<i32>(PAGE_HEADER).toBe(PAGE_SLOTS);
    expect<i32>(PAGE_SLOT_KEY_BYTES).toBe(KEY_BYTES);
    expect<i32>(PAGE_SLOT_FULL_AT).toBe(PAGE_SLOT_KEY + KEY_BYTES);
    expect<i32>(PAGE_BUCKET_BYTES).toBe(BUCKET_BYTES);
    expect<i32>(slotBytes(3)).toBe(PAGE_SLOT_BUCKETS + 3 * PAGE_BUCKET_BYTES);
  });

  it("keeps a well-formed page read from shared data and reads anything else as empty", () => {
    const page = new BucketPage(4, 2);
    const a = keyOf("alice", RULES[0]);
    page.assign(page.claim(RULES, 0), RULES[0], a, 0);
    // As the CAS loop writes it (header stamped) and hands it over (header checked).
    const copy = page.value.slice(0);
    page.layout.stamp(copy);
    const other = new BucketPage(4, 2);
    expect<bool>(loadValue(other, copy)).toBe(true);
    expect<i32>(other.find(RULES[0], a)).toBe(0);
    const garbage = new ArrayBuffer(PAGE_HEADER + slotBytes(2));
    memory.fill(changetype<usize>(garbage), 0xab, <usize>garbage.byteLength);
    expect<bool>(loadValue(other, garbage)).toBe(false);
    expect<i32>(other.inUse).toBe(0);
    expect<bool>(loadValue(other, new ArrayBuffer(3))).toBe(false);
    expect<bool>(loadValue(other, null)).toBe(false);
    const truncated = copy.slice(0, copy.byteLength - 1);
    expect<bool>(loadValue(other, truncated)).toBe(false);
    const older = copy.slice(0);
    store<u32>(changetype<usize>(older), PAGE_VERSION - 1, HEADER_VERSION);
    expect<bool>(loadValue(other, older)).toBe(false);
    // A page of another geometry (2 ways) is not this page.
    const narrow = new BucketPage(2, 2);
    expect<bool>(loadValue(narrow, copy)).toBe(false);
    // Counts that do not match the length: not a page either, though the header checks.
    const lying = copy.slice(0);
    page.layout.stamp(lying);
    store<u8>(changetype<usize>(lying), 3, PAGE_IN_USE);
    expect<bool>(loadValue(other, lying)).toBe(false);
  });
});
