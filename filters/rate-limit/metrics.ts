/**
 * The filter's metrics, defined once at configure time (`proxy_define_metric`), named
 * `<stat_prefix>_<what>` (filters.md "Common rules"):
 *
 *   <stat_prefix>_<rule>_allowed        requests within every limit of the rule
 *   <stat_prefix>_<rule>_denied         requests denied (enforce: true)
 *   <stat_prefix>_<rule>_shadow_denied  requests that would have been denied (enforce: false)
 *   <stat_prefix>_<rule>_overflow       requests decided by the rule's overflow bucket
 *                                       (their key found no slot; also counted above)
 *   <stat_prefix>_fail_open             requests let through because shared data failed
 *
 * Counters are process wide in Envoy (and in the embedded proxy): every worker adds to
 * the same value. Updating one is one hostcall and no allocation.
 */
import { Counter } from "../../assembly/proxy-wasm";
import { RateLimitConfig } from "./config";
import { Decision } from "./decision";

class RuleCounters {
  constructor(
    readonly allowed: Counter,
    readonly denied: Counter,
    readonly shadowDenied: Counter,
    readonly overflow: Counter,
  ) {}
}

export class RateLimitMetrics {
  private constructor(
    private readonly rules: StaticArray<RuleCounters>,
    readonly failOpen: Counter,
  ) {}

  static define(config: RateLimitConfig): RateLimitMetrics {
    const prefix = config.statPrefix + "_";
    const rules = new StaticArray<RuleCounters>(config.rules.length);
    for (let i = 0; i < rules.length; i++) {
      const name = prefix + unchecked(config.rules[i]).name + "_";
      unchecked((rules[i] = new RuleCounters(
        Counter.define(name + "allowed"),
        Counter.define(name + "denied"),
        Counter.define(name + "shadow_denied"),
        Counter.define(name + "overflow"),
      )));
    }
    return new RateLimitMetrics(rules, Counter.define(prefix + "fail_open"));
  }

  /** Counts a decision (`enforce` tells denied from shadow-denied). */
  record(d: Decision, enforce: bool): void {
    if (d.failOpen) {
      this.failOpen.increment();
      return;
    }
    const counters = unchecked(this.rules[d.ruleIndex]);
    if (d.allowed) counters.allowed.increment();
    else if (enforce) counters.denied.increment();
    else counters.shadowDenied.increment();
    if (d.overflow) counters.overflow.increment();
  }
}
