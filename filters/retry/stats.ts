/**
 * The retry filter's metrics, defined once in `proxy_on_configure` with
 * `proxy_define_metric` (filters.md "Common rules": `<stat_prefix>_<what>`, per-policy
 * labels folded into the name as `<stat_prefix>.policy.<name>.<what>`). Prometheus
 * (`/stats/prometheus`) shows them with '.' and '-' as '_', e.g.
 * `retry_policy_financial_transactions_requests`.
 *
 * | metric                                   | counts                                                        |
 * |------------------------------------------|---------------------------------------------------------------|
 * | `<p>.policy.<name>.requests`             | requests the policy was chosen for                            |
 * | `<p>.policy.<name>.retried_requests`     | of those, responses that needed more than one attempt         |
 * | `<p>.policy.<name>.retries`              | of those, attempts beyond the first                           |
 * | `<p>_retried_requests`, `<p>_retries`    | the same over every request (with or without a policy)        |
 * | `<p>_idempotency_guarded`                | non-idempotent requests without the key: retries set to 0     |
 * | `<p>_budget_exhausted`                   | requests whose retries the budget cut (to 0 or fewer)         |
 *
 * Retries are read from the response's `x-envoy-attempt-count` (the virtual host's
 * `include_attempt_count_in_response`).
 */
import { Counter } from "../../assembly/proxy-wasm";
import { ascii } from "../../assembly/proxy-wasm/format";
import { RetryConfig } from "./config";

export class PolicyStats {
  readonly requests: Counter;
  readonly retriedRequests: Counter;
  readonly retries: Counter;

  constructor(prefix: string, policyName: string) {
    const base = prefix + ".policy." + policyName + ".";
    this.requests = Counter.define(base + "requests");
    this.retriedRequests = Counter.define(base + ascii.text("retried_requests"));
    this.retries = Counter.define(base + "retries");
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
    this.retriedRequests = Counter.define(prefix + ascii.text("_retried_requests"));
    this.retries = Counter.define(prefix + "_retries");
    this.idempotencyGuarded = Counter.define(prefix + ascii.text("_idempotency_guarded"));
    this.budgetExhausted = Counter.define(prefix + ascii.text("_budget_exhausted"));
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
