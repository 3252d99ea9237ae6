/**
 * The circuit breaker's state machine, after resilience4j's CircuitBreakerStateMachine
 * (CLOSED → OPEN → HALF_OPEN → CLOSED | OPEN) and Hystrix's rolling window, as pure
 * functions over a `CircuitRecord`: shared.ts reads the record, runs one step, and writes
 * it back with CAS when the step changed it (`Step.dirty`), retrying on a mismatch, so
 * every step is atomic across worker VMs.
 *
 * - CLOSED admits every request (the bulkhead aside). It opens on `failure_threshold`
 *   consecutive failures, or when the window holds at least `minimum_requests` calls and
 *   the failure rate or the slow-call rate reaches its threshold.
 * - OPEN rejects until `open_duration` has passed; the first request after that moves it
 *   to HALF_OPEN (no timer: resilience4j's default, automaticTransitionFromOpenToHalfOpen
 *   off) and becomes a probe.
 * - HALF_OPEN admits `half_open_requests` probes at a time. `success_threshold`
 *   successful probes close it; one failed probe (or slow one, when the slow-call trigger
 *   is on) opens it again. A probe slot is released when its request ends, whatever the
 *   end (response, reset, client cancel). If every slot stays taken for `open_duration`
 *   with no probe starting or ending (a worker lost its streams), HALF_OPEN starts over.
 * - Every transition bumps `generation`; a request completing after a transition it did
 *   not see (its ticket's generation is older) changes nothing but the bulkhead count, so
 *   a late answer from the CLOSED days never decides a HALF_OPEN circuit.
 * - The bulkhead (`max_concurrent_requests`) counts requests in flight in CLOSED and
 *   HALF_OPEN, independent of transitions.
 * - Every transition resets the counters of the state it leaves (resilience4j: each state
 *   has its own metrics).
 *
 * The time is read only by a step that needs it: a caller may pass NOW_UNREAD, and the
 * step reads the clock (`proxy_get_current_time_nanoseconds`) the first time it does.
 * CLOSED admission and a CLOSED success with no window never do.
 */
import { getCurrentTimeMilliseconds } from "../../assembly/proxy-wasm";
import { ServiceConfig } from "./config";
import { CircuitRecord, CircuitState, WindowTotals } from "./record";

/** A `nowMs` not read yet: the step reads the clock if it needs the time. */
export const NOW_UNREAD: i64 = i64.MIN_VALUE;

/** `nowMs`, or the clock's ms since the epoch when it is NOW_UNREAD. */
// @ts-ignore: decorator
@inline
function resolveNow(nowMs: i64): i64 {
  return nowMs != NOW_UNREAD ? nowMs : <i64>getCurrentTimeMilliseconds();
}

/** What admission decided for a request. */
export enum Admission {
  /** CLOSED: send it on. */
  Admit = 0,
  /** HALF_OPEN: send it on as one of the probes. */
  Probe = 1,
  /** OPEN, or HALF_OPEN with every probe slot taken: the open response (or the fallback route). */
  RejectOpen = 2,
  /** The bulkhead is full. */
  RejectBulkhead = 3,
}

/** A state change, counted and logged by the worker whose CAS wrote it. */
export enum Transition {
  None = 0,
  ClosedToOpen = 1,
  OpenToHalfOpen = 2,
  HalfOpenToClosed = 3,
  HalfOpenToOpen = 4,
  /** HALF_OPEN started over after its probes went missing (lease expired). */
  HalfOpenRestart = 5,
}

/** Why a transition happened (the log line says it). */
export enum Trigger {
  None = 0,
  ConsecutiveFailures = 1,
  FailureRate = 2,
  SlowCallRate = 3,
  OpenDurationElapsed = 4,
  ProbeFailed = 5,
  ProbeSlow = 6,
  ProbesSucceeded = 7,
  ProbesLost = 8,
}

/** What a request holds between admission and completion (one per stream). */
export class Ticket {
  /** Whether admission let it through under this circuit (else completion does nothing). */
  admitted: bool = false;
  /** The record's generation when it was admitted. */
  generation: u32 = 0;
  /** It holds a HALF_OPEN probe slot. */
  probe: bool = false;
  /** It holds a bulkhead slot. */
  bulkhead: bool = false;
}

/** How a request ended. */
export class Outcome {
  /** Response headers were seen (a client cancel or reset before them leaves it false: not counted). */
  responded: bool = false;
  /** The status is in `failure_status` (Envoy's own 503/504 local replies included). */
  failed: bool = false;
  /** Response headers came later than `slow_call_duration`. */
  slow: bool = false;
}

/** The result of one step; reused. */
export class Step {
  admission: Admission = Admission.Admit;
  transition: Transition = Transition.None;
  trigger: Trigger = Trigger.None;
  /** The record changed: write it back (CAS). */
  dirty: bool = false;
  /** For RejectOpen: whole seconds until the circuit may admit again (≥ 1). */
  retryAfterSeconds: u32 = 0;
  /** The window's totals when a rate trigger fired (for the log line). */
  readonly totals: WindowTotals = new WindowTotals();

  clear(): void {
    this.admission = Admission.Admit;
    this.transition = Transition.None;
    this.trigger = Trigger.None;
    this.dirty = false;
    this.retryAfterSeconds = 0;
  }
}

/**
 * Admission of one request at `nowMs` (or NOW_UNREAD): fills `step` and `ticket`, and updates `rec`
 * (`step.dirty`) when it takes a probe or bulkhead slot or moves OPEN → HALF_OPEN.
 */
export function admit(rec: CircuitRecord, svc: ServiceConfig, nowMs: i64, ticket: Ticket, step: Step): void {
  step.clear();
  ticket.admitted = false;
  ticket.probe = false;
  ticket.bulkhead = false;
  let state = rec.state;
  if (state == CircuitState.Open) {
    nowMs = resolveNow(nowMs);
    if (nowMs < rec.openUntilMs) {
      step.admission = Admission.RejectOpen;
      step.retryAfterSeconds = <u32>max<i64>(1, (rec.openUntilMs - nowMs + 999) / 1000);
      return;
    }
    enterHalfOpen(rec, nowMs);
    step.transition = Transition.OpenToHalfOpen;
    step.trigger = Trigger.OpenDurationElapsed;
    step.dirty = true;
    state = CircuitState.HalfOpen;
  }
  if (state == CircuitState.HalfOpen) {
    nowMs = resolveNow(nowMs);
    if (rec.probesInFlight >= svc.halfOpenRequests && nowMs - rec.probeActivityMs >= svc.openDurationMs) {
      enterHalfOpen(rec, nowMs);
      step.transition = Transition.HalfOpenRestart;
      step.trigger = Trigger.ProbesLost;
      step.dirty = true;
    }
    if (rec.probesInFlight >= svc.halfOpenRequests) {
      step.admission = Admission.RejectOpen;
      step.retryAfterSeconds = 1;
      return;
    }
    if (!takeBulkheadSlot(rec, svc, ticket, step)) return;
    rec.probesInFlight++;
    rec.probeActivityMs = nowMs;
    ticket.probe = true;
    ticket.admitted = true;
    ticket.generation = rec.generation;
    step.admission = Admission.Probe;
    step.dirty = true;
    return;
  }
  if (!takeBulkheadSlot(rec, svc, ticket, step)) return;
  ticket.admitted = true;
  ticket.generation = rec.generation;
  step.admission = Admission.Admit;
}

function takeBulkheadSlot(rec: CircuitRecord, svc: ServiceConfig, ticket: Ticket, step: Step): bool {
  const limit = svc.maxConcurrentRequests;
  if (limit == 0) return true;
  if (rec.inFlight >= limit) {
    step.admission = Admission.RejectBulkhead;
    return false;
  }
  rec.inFlight++;
  ticket.bulkhead = true;
  step.dirty = true;
  return true;
}

/**
 * Completion of an admitted request at `nowMs` (or NOW_UNREAD) with `outcome`: releases its slots and,
 * when its generation is current, feeds the state machine. Fills `step` (transition,
 * dirty). The ticket is spent afterwards.
 */
export function complete(rec: CircuitRecord, svc: ServiceConfig, ticket: Ticket, outcome: Outcome, nowMs: i64, step: Step): void {
  step.clear();
  if (!ticket.admitted) return;
  ticket.admitted = false;
  if (ticket.bulkhead) {
    if (rec.inFlight > 0) rec.inFlight--;
    step.dirty = true;
  }
  const current = ticket.generation == rec.generation;
  if (rec.state == CircuitState.HalfOpen) {
    if (!ticket.probe || !current) return;
    nowMs = resolveNow(nowMs);
    if (rec.probesInFlight > 0) rec.probesInFlight--;
    rec.probeActivityMs = nowMs;
    step.dirty = true;
    if (!outcome.responded) return;
    if (outcome.failed || (outcome.slow && svc.detectsSlowCalls)) {
      enterOpen(rec, svc, nowMs);
      step.transition = Transition.HalfOpenToOpen;
      step.trigger = outcome.failed ? Trigger.ProbeFailed : Trigger.ProbeSlow;
      return;
    }
    rec.probeSuccesses++;
    if (rec.probeSuccesses >= svc.successThreshold) {
      enterClosed(rec, nowMs);
      step.transition = Transition.HalfOpenToClosed;
      step.trigger = Trigger.ProbesSucceeded;
    }
    return;
  }
  if (rec.state != CircuitState.Closed || !current || !outcome.responded) return;

  if (outcome.failed) {
    rec.consecutiveFailures++;
    step.dirty = true;
  } else if (rec.consecutiveFailures > 0) {
    rec.consecutiveFailures = 0;
    step.dirty = true;
  }
  if (svc.failureThreshold > 0 && rec.consecutiveFailures >= svc.failureThreshold) {
    enterOpen(rec, svc, resolveNow(nowMs));
    step.transition = Transition.ClosedToOpen;
    step.trigger = Trigger.ConsecutiveFailures;
    return;
  }
  if (!svc.usesWindow) return;
  nowMs = resolveNow(nowMs);
  rec.recordCall(nowMs, outcome.failed, outcome.slow && svc.detectsSlowCalls);
  step.dirty = true;
  const totals = rec.windowTotals(nowMs, step.totals);
  if (totals.calls < svc.minimumRequests) return;
  const calls = <f64>totals.calls;
  let trigger = Trigger.None;
  if (svc.failureRateThreshold > 0 && <f64>totals.failures * 100 >= svc.failureRateThreshold * calls) {
    trigger = Trigger.FailureRate;
  } else if (svc.slowCallRateThreshold > 0 && <f64>totals.slow * 100 >= svc.slowCallRateThreshold * calls) {
    trigger = Trigger.SlowCallRate;
  }
  if (trigger == Trigger.None) return;
  enterOpen(rec, svc, nowMs);
  step.transition = Transition.ClosedToOpen;
  step.trigger = trigger;
}

function enterOpen(rec: CircuitRecord, svc: ServiceConfig, nowMs: i64): void {
  rec.state = CircuitState.Open;
  rec.generation++;
  rec.openUntilMs = nowMs + svc.openDurationMs;
  rec.stateSinceMs = nowMs;
  rec.consecutiveFailures = 0;
  rec.probesInFlight = 0;
  rec.probeSuccesses = 0;
  rec.clearWindow();
}

function enterHalfOpen(rec: CircuitRecord, nowMs: i64): void {
  rec.state = CircuitState.HalfOpen;
  rec.generation++;
  rec.stateSinceMs = nowMs;
  rec.probeActivityMs = nowMs;
  rec.probesInFlight = 0;
  rec.probeSuccesses = 0;
}

function enterClosed(rec: CircuitRecord, nowMs: i64): void {
  rec.state = CircuitState.Closed;
  rec.generation++;
  rec.stateSinceMs = nowMs;
  rec.openUntilMs = 0;
  rec.consecutiveFailures = 0;
  rec.probesInFlight = 0;
  rec.probeSuccesses = 0;
  rec.clearWindow();
}

/** The states a transition goes from and to (for logs and counters). */
export function transitionFrom(t: Transition): CircuitState {
  return t == Transition.ClosedToOpen ? CircuitState.Closed : t == Transition.OpenToHalfOpen ? CircuitState.Open : CircuitState.HalfOpen;
}

export function transitionTo(t: Transition): CircuitState {
  return t == Transition.HalfOpenToClosed ? CircuitState.Closed
    : t == Transition.ClosedToOpen || t == Transition.HalfOpenToOpen ? CircuitState.Open
    : CircuitState.HalfOpen;
}
