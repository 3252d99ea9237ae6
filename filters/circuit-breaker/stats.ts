/**
 * The circuit breaker's metrics, defined once per service at configure time
 * (`proxy_define_metric`; Envoy shares a metric by name across worker VMs), and its
 * transition log lines. Names fold the service into the stat name, as Envoy's tag
 * extraction expects (filters.md "Common rules"), `<stat_prefix>.<service>.<what>`:
 *
 * | name                                   | type    | meaning                                        |
 * | -------------------------------------- | ------- | ---------------------------------------------- |
 * | `….state`                              | gauge   | 0 CLOSED, 1 OPEN, 2 HALF_OPEN                  |
 * | `….rejected.open`                      | counter | answered with the open response                |
 * | `….rejected.bulkhead`                  | counter | answered because the bulkhead was full         |
 * | `….fallback`                           | counter | sent on to the fail-over route (`open_action`) |
 * | `….transition.closed_to_open`          | counter | CLOSED → OPEN                                  |
 * | `….transition.open_to_half_open`       | counter | OPEN → HALF_OPEN                               |
 * | `….transition.half_open_to_closed`     | counter | HALF_OPEN → CLOSED                             |
 * | `….transition.half_open_to_open`       | counter | HALF_OPEN → OPEN                               |
 * | `….transition.half_open_restart`       | counter | HALF_OPEN started over (probes lost)           |
 *
 * Prometheus (`/stats/prometheus`) shows them sanitized:
 * `circuit_breaker_credit_bureau_state`, `circuit_breaker_credit_bureau_rejected_open`...
 *
 * Only the worker whose CAS wrote a transition counts and logs it, so each transition is
 * counted and logged once. The gauge is process wide: each worker sets it when the state it
 * reads differs from the value it last set, one hostcall per change, none per request.
 */
import { ascii, formatInteger, formatNumber } from "../../assembly/proxy-wasm/format";
import { Counter, Gauge, logInfo, logWarn } from "../../assembly/proxy-wasm";
import { FILTER_NAME, ServiceConfig } from "./config";
import { Step, Transition, Trigger, transitionFrom, transitionTo } from "./machine";
import { CircuitState, stateName } from "./record";

export class ServiceStats {
  readonly state: Gauge;
  readonly rejectedOpen: Counter;
  readonly rejectedBulkhead: Counter;
  readonly fallback: Counter;
  private readonly transitions: StaticArray<Counter>;
  /** The gauge value this worker last set (-1: none yet). */
  private lastState: i32 = -1;

  constructor(statPrefix: string, readonly svc: ServiceConfig) {
    const base = statPrefix + "." + svc.name + ".";
    this.state = Gauge.define(base + "state");
    this.rejectedOpen = Counter.define(base + "rejected.open");
    this.rejectedBulkhead = Counter.define(base + "rejected.bulkhead");
    const fallback = Counter.define(base + "fallback");
    this.fallback = fallback;
    const t = new StaticArray<Counter>(6);
    // Constant indexes below 6; names packed (asc transform), read once per service.
    unchecked((t[Transition.None] = fallback)); // never counted: index 0 is Transition.None
    unchecked((t[Transition.ClosedToOpen] = Counter.define(base + ascii.text("transition.closed_to_open"))));
    unchecked((t[Transition.OpenToHalfOpen] = Counter.define(base + ascii.text("transition.open_to_half_open"))));
    unchecked((t[Transition.HalfOpenToClosed] = Counter.define(base + ascii.text("transition.half_open_to_closed"))));
    unchecked((t[Transition.HalfOpenToOpen] = Counter.define(base + ascii.text("transition.half_open_to_open"))));
    unchecked((t[Transition.HalfOpenRestart] = Counter.define(base + ascii.text("transition.half_open_restart"))));
    this.transitions = t;
  }

  /** After a step: the gauge follows the state read, a written transition is counted and logged. */
  afterStep(step: Step, state: CircuitState): void {
    if (<i32>state != this.lastState) {
      this.state.set(<u64>state);
      this.lastState = <i32>state;
    }
    const t = step.transition;
    if (t == Transition.None) return;
    unchecked(this.transitions[t]).increment();
    const line = FILTER_NAME + ": " + this.svc.name + ": " + stateName(transitionFrom(t)) + " -> " +
      stateName(transitionTo(t)) + ": " + this.reason(step);
    if (transitionTo(t) == CircuitState.Open) logWarn(line);
    else logInfo(line);
  }

  private reason(step: Step): string {
    // Made only on a transition: the literals are packed (ascii.text), half the data.
    const svc = this.svc;
    const totals = step.totals;
    switch (step.trigger) {
      case Trigger.ConsecutiveFailures:
        return formatInteger(svc.failureThreshold) + ascii.text(" consecutive failures; open for ") + millis(svc.openDurationMs);
      case Trigger.FailureRate:
        return ascii.text("failure rate ") + percent(totals.failures, totals.calls) + " of " + formatInteger(totals.calls) +
          ascii.text(" calls in ") + millis(svc.windowMs) + ascii.text(" reached ") + formatNumber(svc.failureRateThreshold) + ascii.text("%; open for ") + millis(svc.openDurationMs);
      case Trigger.SlowCallRate:
        return ascii.text("slow-call rate ") + percent(totals.slow, totals.calls) + " of " + formatInteger(totals.calls) +
          ascii.text(" calls in ") + millis(svc.windowMs) + ascii.text(" reached ") + formatNumber(svc.slowCallRateThreshold) + ascii.text("%; open for ") + millis(svc.openDurationMs);
      case Trigger.OpenDurationElapsed:
        return ascii.text("open_duration ") + millis(svc.openDurationMs) + ascii.text(" elapsed; up to ") + formatInteger(svc.halfOpenRequests) + " probes";
      case Trigger.ProbeFailed:
        return ascii.text("a probe failed; open for ") + millis(svc.openDurationMs);
      case Trigger.ProbeSlow:
        return ascii.text("a probe was slow; open for ") + millis(svc.openDurationMs);
      case Trigger.ProbesSucceeded:
        return formatInteger(svc.successThreshold) + ascii.text(" probes succeeded");
      case Trigger.ProbesLost:
        return ascii.text("no probe started or ended for ") + millis(svc.openDurationMs) + ascii.text("; probing again");
      default:
        return "";
    }
  }
}

/** `60s`, `0.5s`. */
function millis(ms: i64): string {
  return (ms % 1000 == 0 ? formatInteger(ms / 1000) : formatNumber(<f64>ms / 1000)) + "s";
}

/** `60%`, `33.3%`. */
function percent(part: u32, whole: u32): string {
  if (whole == 0) return "0%";
  const tenths = <u64>part * 1000 / <u64>whole;
  return formatNumber(<f64>tenths / 10) + "%";
}
