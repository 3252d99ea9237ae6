/**
 * One request against the buckets of its key: refill every limit of the rule, take a
 * token from each only if each has one (all or nothing, so a denied request costs no
 * limit anything; Envoy's local_ratelimit takes them one after another and may leave
 * some taken), and work out what the response headers say.
 *
 * Only a change is written back: tokens taken, a new key, or a refill time moved back to
 * now (the clock stepped back). A denial writes nothing, so refill is always counted
 * from the last change and comes out the same whether or not it was computed between.
 *
 * Header values (IETF draft-polli-ratelimit-headers-03, as Envoy's
 * `enable_x_ratelimit_headers: DRAFT_VERSION_03` names them):
 * - the reported limit is the one with the fewest whole tokens left (the first on a
 *   tie), as Envoy's ratelimit filter reports its most restrictive descriptor;
 * - `x-ratelimit-remaining`: its whole tokens after this request;
 * - `x-ratelimit-reset`: seconds, rounded up, until it is full again — the draft's
 *   "until the quota resets". (Envoy's local_ratelimit sends the time until the next
 *   token instead, 0 while tokens remain; that is what `retry-after` carries here.)
 * - `retry-after` (denials): seconds, rounded up, until every limit that lacked a token
 *   has one again; at least 1.
 */
import { Rule } from "./config";
import { BucketPage } from "./bucket-page";
import {
  bucketHasToken, bucketTokens, nanosUntilFull, nanosUntilToken, refillBucket, secondsCeil, takeToken,
} from "./token-bucket";

/** The outcome for one request; reused (one callback at a time). */
export class Decision {
  /** Index of the rule that applied, -1 when none did. */
  ruleIndex: i32 = -1;
  /** Every limit had a token and one was taken from each. */
  allowed: bool = false;
  /** The key's page was full: the rule's overflow bucket decided. */
  overflow: bool = false;
  /** Shared data failed: the request is let through without a decision. */
  failOpen: bool = false;
  /** The slot changed beyond a refill (tokens taken, a new key, time moved back): it must be written. */
  changed: bool = false;
  /** Index of the limit the headers report. */
  reported: i32 = 0;
  remaining: i64 = 0;
  resetSeconds: i64 = 0;
  retryAfterSeconds: i64 = 0;

  start(ruleIndex: i32): void {
    this.ruleIndex = ruleIndex;
    this.allowed = false;
    this.overflow = false;
    this.failOpen = false;
    this.changed = false;
    this.reported = 0;
    this.remaining = 0;
    this.resetSeconds = 0;
    this.retryAfterSeconds = 0;
  }
}

/** Decides the request on slot `i` of `page` (the key's buckets) at monotonic `now` ns. */
export function decideOnSlot(page: BucketPage, i: i32, rule: Rule, now: i64, d: Decision): void {
  const limits = rule.limits;
  const n = limits.length;
  let every = true;
  for (let l = 0; l < n; l++) {
    const bucket = page.bucket(i, l);
    // A refill time in the future (the clock moved back) is moved to now: keep that.
    if (load<i64>(bucket, 8) > now) d.changed = true;
    refillBucket(bucket, unchecked(limits[l]), now);
    if (!bucketHasToken(bucket, unchecked(limits[l]))) every = false;
  }
  if (every) {
    for (let l = 0; l < n; l++) takeToken(page.bucket(i, l), unchecked(limits[l]));
    page.updateFullAt(i, rule, now);
    d.changed = true;
  }
  d.allowed = every;

  let reported = 0;
  let fewest = i64.MAX_VALUE;
  let retryNanos: i64 = 0;
  for (let l = 0; l < n; l++) {
    const bucket = page.bucket(i, l);
    const limit = unchecked(limits[l]);
    const tokens = bucketTokens(bucket, limit);
    if (tokens < fewest) {
      fewest = tokens;
      reported = l;
    }
    if (!every) {
      const wait = nanosUntilToken(bucket, limit);
      if (wait > retryNanos) retryNanos = wait;
    }
  }
  d.reported = reported;
  d.remaining = fewest;
  d.resetSeconds = secondsCeil(nanosUntilFull(page.bucket(i, reported), unchecked(limits[reported])));
  d.retryAfterSeconds = every ? 0 : max<i64>(1, secondsCeil(retryNanos));
}
