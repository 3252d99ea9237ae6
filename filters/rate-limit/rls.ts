/**
 * The two messages of `envoy.service.ratelimit.v3.RateLimitService/ShouldRateLimit`
 * (envoy/service/ratelimit/v3/rls.proto, envoy/extensions/common/ratelimit/v3/ratelimit.proto),
 * in the wire format of assembly/protobuf, with exactly the fields this filter uses:
 *
 *   RateLimitRequest   { string domain = 1; repeated RateLimitDescriptor descriptors = 2; }
 *   RateLimitDescriptor { repeated Entry entries = 1; }   Entry { string key = 1; string value = 2; }
 *
 *   RateLimitResponse  { Code overall_code = 1; repeated DescriptorStatus statuses = 2; ... }
 *   DescriptorStatus   { Code code = 1; RateLimit current_limit = 2; uint32 limit_remaining = 3;
 *                        google.protobuf.Duration duration_until_reset = 4; ... }
 *   RateLimit          { string name = 3; uint32 requests_per_unit = 1; Unit unit = 2; }
 *   Duration           { int64 seconds = 1; int32 nanos = 2; }
 *
 * Every other field (`hits_addend`, a descriptor's `limit` override, the response's headers
 * to add, `raw_body`, metadata, quotas) is left out of requests and skipped in responses, as
 * unknown fields are. A response whose known fields have the wrong wire type, or whose
 * bytes end inside a field, is malformed (`decode` is false); every status is checked, the
 * first MAX_STATUSES are kept.
 */
import { ProtoReader, ProtoWriter } from "../../assembly/protobuf";

/** The service and method of `proxy_grpc_call` (rls.proto `service RateLimitService`). */
export const RATE_LIMIT_SERVICE = "envoy.service.ratelimit.v3.RateLimitService";
export const SHOULD_RATE_LIMIT = "ShouldRateLimit";

/** `RateLimitResponse.Code`. */
export const CODE_UNKNOWN: u32 = 0;
export const CODE_OK: u32 = 1;
export const CODE_OVER_LIMIT: u32 = 2;

/** Statuses kept from one response; more are checked but not kept (a request sends one descriptor). */
const MAX_STATUSES: i32 = 16;

/** Starts a `RateLimitRequest` of `domain` with one descriptor in `w`; add entries, then `endRequest(w, mark)`. */
export function beginRequest(w: ProtoWriter, domain: string): i32 {
  w.reset();
  w.stringField(1, domain);
  return w.begin(2);
}

/** Adds the entry `key` = `value[0, length)` (default all of it) to the descriptor. */
export function addEntry(w: ProtoWriter, key: string, value: string, length: i32 = -1): void {
  const entry = w.begin(1);
  w.stringField(1, key);
  w.stringField(2, value, length);
  w.end(entry);
}

/** Ends the descriptor `beginRequest` started: the request is `w`'s bytes. */
export function endRequest(w: ProtoWriter, mark: i32): void {
  w.end(mark);
}

/** One `DescriptorStatus`. */
export class DescriptorStatus {
  code: u32 = CODE_UNKNOWN;
  /** `current_limit` was present. */
  hasLimit: bool = false;
  requestsPerUnit: u32 = 0;
  /** `RateLimit.Unit` (SECOND 1, MINUTE 2, HOUR 3, DAY 4, MONTH 5, YEAR 6, WEEK 7). */
  unit: u32 = 0;
  name: string = "";
  remaining: u32 = 0;
  resetSeconds: i64 = 0;
  resetNanos: i32 = 0;

  clear(): void {
    this.code = CODE_UNKNOWN;
    this.hasLimit = false;
    this.requestsPerUnit = 0;
    this.unit = 0;
    this.name = "";
    this.remaining = 0;
    this.resetSeconds = 0;
    this.resetNanos = 0;
  }
}

/** A decoded `RateLimitResponse`; reused (one callback at a time). */
export class RateLimitResponse {
  overallCode: u32 = CODE_UNKNOWN;
  /** Statuses kept (at most MAX_STATUSES). */
  count: i32 = 0;
  readonly statuses: StaticArray<DescriptorStatus> = new StaticArray<DescriptorStatus>(MAX_STATUSES);
  /** Where statuses past MAX_STATUSES are decoded (checked, then dropped). */
  private readonly extra: DescriptorStatus = new DescriptorStatus();
  // One reader per nesting level (response, status, limit or duration), reused for every
  // response: no allocation per message.
  private readonly reader: ProtoReader = new ProtoReader(0, 0);
  private readonly statusReader: ProtoReader = new ProtoReader(0, 0);
  private readonly innerReader: ProtoReader = new ProtoReader(0, 0);

  constructor() {
    for (let i = 0; i < MAX_STATUSES; i++) unchecked((this.statuses[i] = new DescriptorStatus()));
  }

  /** Decodes the message `bytes`; false when it is malformed (then the fields read are partial). */
  decode(bytes: ArrayBuffer): bool {
    const p = changetype<usize>(bytes);
    return this.decodeAt(p, <i32>bytes.byteLength);
  }

  /** Decodes the `length` bytes at `ptr`; false when they are malformed. */
  decodeAt(ptr: usize, length: i32): bool {
    this.overallCode = CODE_UNKNOWN;
    this.count = 0;
    const r = this.reader.reset(ptr, ptr + <usize>length);
    while (r.next()) {
      if (r.field == 1) this.overallCode = <u32>r.varintValue();
      else if (r.field == 2) {
        if (!r.bytes()) break;
        const status = this.count < MAX_STATUSES ? unchecked(this.statuses[this.count++]) : this.extra;
        if (!decodeStatus(r.messageInto(this.statusReader), status, this.innerReader)) return false;
      } else r.skip();
    }
    return r.ok;
  }
}

/** Decodes one status from `r`; its sub-messages are read with `inner` (reset for each). */
function decodeStatus(r: ProtoReader, s: DescriptorStatus, inner: ProtoReader): bool {
  s.clear();
  while (r.next()) {
    switch (r.field) {
      case 1:
        s.code = <u32>r.varintValue();
        break;
      case 2:
        if (r.bytes()) {
          s.hasLimit = true;
          if (!decodeLimit(r.messageInto(inner), s)) return false;
        }
        break;
      case 3:
        s.remaining = <u32>r.varintValue();
        break;
      case 4:
        if (r.bytes() && !decodeDuration(r.messageInto(inner), s)) return false;
        break;
      default:
        r.skip();
    }
  }
  return r.ok;
}

function decodeLimit(r: ProtoReader, s: DescriptorStatus): bool {
  while (r.next()) {
    if (r.field == 1) s.requestsPerUnit = <u32>r.varintValue();
    else if (r.field == 2) s.unit = <u32>r.varintValue();
    else if (r.field == 3) s.name = r.string();
    else r.skip();
  }
  return r.ok;
}

function decodeDuration(r: ProtoReader, s: DescriptorStatus): bool {
  while (r.next()) {
    if (r.field == 1) s.resetSeconds = <i64>r.varintValue();
    else if (r.field == 2) s.resetNanos = <i32>r.varintValue();
    else r.skip();
  }
  return r.ok;
}

/** Seconds in a `RateLimit.Unit`, as Envoy's ratelimit filter counts them for `w=` (0: unknown). */
export function unitSeconds(unit: u32): i64 {
  switch (unit) {
    case 1:
      return 1;
    case 2:
      return 60;
    case 3:
      return 3600;
    case 4:
      return 86400;
    case 5:
      return 30 * 86400;
    case 6:
      return 365 * 86400;
    case 7:
      return 7 * 86400;
    default:
      return 0;
  }
}
