/**
 * The retry filter's metrics, defined once in `proxy_on_configure` with
 * `proxy_define_metric`, labelled with the SDK's `metricName` (README "Operating"; the
 * family names start with `stat_prefix`):
 *
 * | metric                                        | counts                                                        |
 * |-----------------------------------------------|---------------------------------------------------------------|
 * | `<p>_policy_requests_total{policy}`           | requests the policy was chosen for                            |
 * | `<p>_policy_retried_requests_total{policy}`   | of those, responses that needed more than one attempt         |
 * | `<p>_policy_retries_total{policy}`            | of those, attempts beyond the first                           |
 * | `<p>_retried_requests_total`, `<p>_retries_total` | the same over every request (with or without a policy)    |
 * | `<p>_idempotency_guarded_total`               | non-idempotent requests without the key: retries set to 0     |
 * | `<p>_budget_exhausted_total`                  | requests whose retries the budget cut (to 0 or fewer)         |
 *
 * Retries are read from the response's `x-envoy-attempt-count` (the virtual host's
 * `include_attempt_count_in_response`).
 */
import { ascii, Counter, metricName } from "../../assembly/proxy-wasm";
import { RetryConfig } from "./config";

export class PolicyStats {
  readonly requests: Counter;
  readonly retriedRequests: Counter;
  readonly retries: Counter;

  constructor(prefix: string, policyName: string) {
    this.requests = Counter.define(metricName(prefix + ascii.text("_policy_requests_total"), ["policy", policyName]));
    this.retriedRequests = Counter.define(metricName(prefix + ascii.text("_policy_retried_requests_total"), ["policy", policyName]));
    this.retries = Counter.define(metricName(prefix + ascii.text("_policy_retries_total"), ["policy", policyName]));
  }
}

export class RetryStats {
  readonly policies: StaticArray<PolicyStats>;
  readonly retriedRequests: Counter;
  readonly retries: Counter;
  readonly idempotencyGuarded: Counter;
  readonly budgetExhausted: Counter;

  constructor(config: RetryConfig) {
    const prefix = config.statPrefix;
    const policies = new StaticArray<PolicyStats>(config.policies.length);
    for (let i = 0; i < policies.length; i++) unchecked((policies[i] = new PolicyStats(prefix, unchecked(config.policies[i]).name)));
    this.policies = policies;
    this.retriedRequests = Counter.define(prefix + ascii.text("_retried_requests_total"));
    this.retries = Counter.define(prefix + "_retries_total");
    this.idempotencyGuarded = Counter.define(prefix + ascii.text("_idempotency_guarded_total"));
    this.budgetExhausted = Counter.define(prefix + ascii.text("_budget_exhausted_total"));
  }

  /** Counts a response that took `attempts` attempts, for policy `index` (-1: none). */
  recordAttempts(index: i32, attempts: u32): void {
    if (attempts <= 1) return;
    const retries = <u64>(attempts - 1);
    this.retriedRequests.increment();
    this.retries.increment(retries);
    if (index >= 0 && index < this.policies.length) {
      const p = unchecked(this.policies[index]);
      p.retriedRequests.increment();
      p.retries.increment(retries);
    }
  }
}
