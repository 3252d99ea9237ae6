/**
 * The circuit breaker's metrics, defined once per service at configure time
 * (`proxy_define_metric`; Envoy shares a metric by name across worker VMs), labelled with
 * the SDK's `metricName` (README "Operating"; the family names start with `stat_prefix`),
 * and its transition log lines:
 *
 * | family                                   | type    | meaning                                                 |
 * | ---------------------------------------- | ------- | ------------------------------------------------------- |
 * | `…_state{service,state}`                 | gauge   | 1 for the circuit's state (closed, open, half_open), 0 for the others |
 * | `…_requests_total{service,outcome}`      | counter | requests for the service: `admitted` (sent upstream, probes included), `rejected_open` (the open response), `rejected_bulkhead` (the bulkhead was full), `fallback` (sent on to the fail-over route, `open_action`) |
 * | `…_transitions_total{service,state}`     | counter | transitions into `state`: open (from closed or half_open), half_open (from open, or started over when probes were lost), closed |
 *
 * Only the worker whose CAS wrote a transition counts and logs it, so each transition is
 * counted and logged once. The gauges are process wide: each worker sets them when the
 * state it reads differs from the one it last set, two hostcalls per change, none per request.
 */
import {
  ascii,
  Counter,
  formatInteger,
  formatNumber,
  Gauge,
  logInfo,
  logWarn,
  metricName,
} from "../../assembly/proxy-wasm";
import { FILTER_NAME, ServiceConfig } from "./config";
import { Step, Transition, Trigger, transitionFrom, transitionTo } from "./machine";
import { CircuitState, stateName } from "./record";

/** The `state` label of each CircuitState (indexed by it). */
const STATE_LABELS: StaticArray<string> = ["closed", "open", "half_open"];

export class ServiceStats {
  readonly admitted: Counter;
  readonly rejectedOpen: Counter;
  readonly rejectedBulkhead: Counter;
  readonly fallback: Counter;
  /** Indexed by CircuitState. */
  private readonly states: StaticArray<Gauge> = new StaticArray<Gauge>(3);
  private readonly transitions: StaticArray<Counter> = new StaticArray<Counter>(3);
  /** The state and record generation this worker last set the gauges for (-1: none yet). */
  private lastState: i32 = -1;
  private lastGeneration: u32 = 0;

  constructor(statPrefix: string, readonly svc: ServiceConfig) {
    const name = svc.name;
    const requests = statPrefix + "_requests_total";
    this.admitted = Counter.define(metricName(requests, ["service", name, "outcome", "admitted"]));
    this.rejectedOpen = Counter.define(metricName(requests, ["service", name, "outcome", ascii.text("rejected_open")]));
    this.rejectedBulkhead = Counter.define(metricName(requests, ["service", name, "outcome", ascii.text("rejected_bulkhead")]));
    this.fallback = Counter.define(metricName(requests, ["service", name, "outcome", "fallback"]));
    const state = statPrefix + "_state";
    const transitions = statPrefix + ascii.text("_transitions_total");
    for (let i = 0; i < 3; i++) {
      const label = unchecked(STATE_LABELS[i]);
      unchecked((this.states[i] = Gauge.define(metricName(state, ["service", name, "state", label]))));
      unchecked((this.transitions[i] = Counter.define(metricName(transitions, ["service", name, "state", label]))));
    }
  }

  /**
   * After a step: the gauges follow the record read (`state`, and its `generation`, which
   * every transition bumps), a written transition is counted and logged. A worker sets all
   * three gauges the first time it sees a state or generation: another worker may have set
   * any of them since (it may even have left and re-entered the state this worker last saw).
   */
  afterStep(step: Step, state: CircuitState, generation: u32): void {
    const now = <i32>state;
    if (now != this.lastState || generation != this.lastGeneration) {
      for (let i = 0; i < 3; i++) unchecked(this.states[i]).set(i == now ? 1 : 0);
      this.lastState = now;
      this.lastGeneration = generation;
    }
    const t = step.transition;
    if (t == Transition.None) return;
    unchecked(this.transitions[<i32>transitionTo(t)]).increment();
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
