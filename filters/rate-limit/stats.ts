/**
 * The filter's metrics, defined once at configure time (`proxy_define_metric`), labelled
 * with the SDK's `metricName` (README "Operating"; the family names start with `stat_prefix`):
 *
 *   <stat_prefix>_requests_total{rule,outcome}      requests a rule decided, by outcome:
 *       allowed        within every limit of the rule
 *       denied         denied (enforce: true)
 *       shadow_denied  would have been denied (enforce: false)
 *       fail_open      let through because shared data failed
 *   <stat_prefix>_overflow_requests_total{rule}     of those, requests decided by the rule's
 *                                                   overflow bucket (their key found no slot)
 *
 * Envoy's local_ratelimit counts the same outcomes as `ok`, `rate_limited` and `enforced`.
 * A rule with a `global` part also has `<stat_prefix>_global_requests_total{rule,outcome}`
 * and `<stat_prefix>_global_errors_total{rule,reason}`, for the rate limit service's
 * decisions (`GlobalMetrics` below); a request is counted here by its local decision.
 * Counters are process wide in Envoy (and in the embedded proxy): every worker adds to the
 * same value. Updating one is one hostcall and no allocation.
 */
import { ascii, Counter, metricName } from "../../assembly/proxy-wasm";
import { RateLimitConfig } from "./config";
import { Decision } from "./decision";
import { GlobalError } from "./global";

class RuleCounters {
  constructor(
    readonly allowed: Counter,
    readonly denied: Counter,
    readonly shadowDenied: Counter,
    readonly failOpen: Counter,
    readonly overflow: Counter,
  ) {}
}

export class RateLimitMetrics {
  private constructor(private readonly rules: StaticArray<RuleCounters>) {}

  static define(config: RateLimitConfig): RateLimitMetrics {
    const requests = config.statPrefix + "_requests_total";
    const overflow = config.statPrefix + ascii.text("_overflow_requests_total");
    const rules = new StaticArray<RuleCounters>(config.rules.length);
    for (let i = 0; i < rules.length; i++) {
      const rule = unchecked(config.rules[i]).name;
      unchecked((rules[i] = new RuleCounters(
        Counter.define(metricName(requests, ["rule", rule, "outcome", "allowed"])),
        Counter.define(metricName(requests, ["rule", rule, "outcome", "denied"])),
        Counter.define(metricName(requests, ["rule", rule, "outcome", "shadow_denied"])),
        Counter.define(metricName(requests, ["rule", rule, "outcome", "fail_open"])),
        Counter.define(metricName(overflow, ["rule", rule])),
      )));
    }
    return new RateLimitMetrics(rules);
  }

  /** Counts a decision (`enforce` tells denied from shadow-denied). */
  record(d: Decision, enforce: bool): void {
    const counters = unchecked(this.rules[d.ruleIndex]);
    if (d.failOpen) {
      counters.failOpen.increment();
      return;
    }
    if (d.allowed) counters.allowed.increment();
    else if (enforce) counters.denied.increment();
    else counters.shadowDenied.increment();
    if (d.overflow) counters.overflow.increment();
  }
}

class GlobalRuleCounters {
  constructor(
    readonly allowed: Counter,
    readonly denied: Counter,
    readonly shadowDenied: Counter,
    readonly failureModeAllowed: Counter,
    readonly failureModeDenied: Counter,
    /** By `GlobalError`. */
    readonly errors: StaticArray<Counter>,
  ) {}
}

const ERROR_REASONS: string[] = ["timeout", "grpc_error", "bad_response", "not_sent"];

/**
 * The counters of the rules with a `global` part, defined at configure time (none when no
 * rule has one), labelled as the local ones (stats.ts):
 *
 *   <stat_prefix>_global_requests_total{rule,outcome}   requests the service was asked about:
 *       allowed               OK
 *       denied                OVER_LIMIT, refused with `status` (enforce: true)
 *       shadow_denied         OVER_LIMIT, let through (enforce: false)
 *       failure_mode_allowed  no decision (an error below), let through
 *       failure_mode_denied   no decision, refused 500 (failure_mode_deny: true)
 *   <stat_prefix>_global_errors_total{rule,reason}      calls that gave no decision:
 *       timeout               no answer within `timeout` (or DEADLINE_EXCEEDED)
 *       grpc_error            the call ended with another gRPC status
 *       bad_response          the answer was not a RateLimitResponse, or said UNKNOWN
 *       not_sent              the call could not be started (unknown cluster)
 *
 * Requests the local buckets refused never reach the service and are counted only in
 * `<stat_prefix>_requests_total`. Envoy's `ratelimit` filter counts the same as
 * `ratelimit.ok`, `over_limit`, `error` and `failure_mode_allowed`.
 */
export class GlobalMetrics {
  private constructor(private readonly rules: StaticArray<GlobalRuleCounters | null>) {}

  static define(config: RateLimitConfig): GlobalMetrics {
    const requests = config.statPrefix + "_global_requests_total";
    const errors = config.statPrefix + "_global_errors_total";
    const rules = new StaticArray<GlobalRuleCounters | null>(config.rules.length);
    for (let i = 0; i < rules.length; i++) {
      const rule = unchecked(config.rules[i]);
      if (rule.global === null) continue;
      const name = rule.name;
      const byReason = new StaticArray<Counter>(ERROR_REASONS.length);
      for (let r = 0; r < ERROR_REASONS.length; r++) {
        unchecked((byReason[r] = Counter.define(metricName(errors, ["rule", name, "reason", unchecked(ERROR_REASONS[r])]))));
      }
      unchecked((rules[i] = new GlobalRuleCounters(
        Counter.define(metricName(requests, ["rule", name, "outcome", "allowed"])),
        Counter.define(metricName(requests, ["rule", name, "outcome", "denied"])),
        Counter.define(metricName(requests, ["rule", name, "outcome", "shadow_denied"])),
        Counter.define(metricName(requests, ["rule", name, "outcome", "failure_mode_allowed"])),
        Counter.define(metricName(requests, ["rule", name, "outcome", "failure_mode_denied"])),
        byReason,
      )));
    }
    return new GlobalMetrics(rules);
  }

  /** Counts an answer of the service for rule `ruleIndex`: within the limit, or over it. */
  answered(ruleIndex: i32, overLimit: bool, enforce: bool): void {
    const c = unchecked(this.rules[ruleIndex]);
    if (c === null) return;
    if (!overLimit) c.allowed.increment();
    else if (enforce) c.denied.increment();
    else c.shadowDenied.increment();
  }

  /** Counts a call without a decision, and whether the request was refused for it. */
  failed(ruleIndex: i32, error: GlobalError, refused: bool): void {
    const c = unchecked(this.rules[ruleIndex]);
    if (c === null) return;
    unchecked(c.errors[<i32>error]).increment();
    if (refused) c.failureModeDenied.increment();
    else c.failureModeAllowed.increment();
  }
}
