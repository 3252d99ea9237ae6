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
 * decisions (global.ts `GlobalMetrics`); a request is counted here by its local decision.
 * Counters are process wide in Envoy (and in the embedded proxy): every worker adds to the
 * same value. Updating one is one hostcall and no allocation.
 */
import { Counter, metricName } from "../../assembly/proxy-wasm";
import { ascii } from "../../assembly/proxy-wasm/format";
import { RateLimitConfig } from "./config";
import { Decision } from "./decision";

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
