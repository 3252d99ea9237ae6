import { ConfigReader, ConfigResult } from "../../../assembly/config";
import { CircuitBreakerConfig, ServiceConfig, parseConfig } from "../config";
import { Admission, Outcome, Step, Ticket, Transition, Trigger, admit, complete } from "../machine";
import { CircuitRecord, CircuitState } from "../record";

/** `parseConfig` of configuration text. */
function parseText(text: string): ConfigResult<CircuitBreakerConfig> {
  return parseConfig(ConfigReader.fromString(text));
}

const T0: i64 = 1_767_225_600_000; // 2026-01-01T00:00:00Z in ms

function svc(fields: string): ServiceConfig {
  const r = parseText("{\"services\":[{\"name\":\"s\"," + fields + "}]}");
  if (r.config === null) throw new Error(r.error);
  return r.config!.services[0];
}

function fresh(s: ServiceConfig): CircuitRecord {
  const rec = new CircuitRecord();
  rec.reset(<u32>s.bucketWidthMs);
  return rec;
}

const step = new Step();

function outcome(status: string): Outcome {
  const o = new Outcome();
  o.responded = status != "cancel";
  o.failed = status == "fail" || status == "slow-fail";
  o.slow = status == "slow" || status == "slow-fail";
  return o;
}

/** Admits one request at `now` and returns its ticket (step holds the decision). */
function ask(rec: CircuitRecord, s: ServiceConfig, now: i64): Ticket {
  const t = new Ticket();
  admit(rec, s, now, t, step);
  return t;
}

/** Admits then completes one request at `now` with `status` ("ok", "fail", "slow", "cancel"). */
function call(rec: CircuitRecord, s: ServiceConfig, now: i64, status: string): Admission {
  const t = ask(rec, s, now);
  const admission = step.admission;
  if (t.admitted) complete(rec, s, t, outcome(status), now, step);
  return admission;
}

describe("CLOSED → OPEN on consecutive failures", () => {
  it("opens at failure_threshold consecutive failures, a success in between resets the count", () => {
    const s = svc("\"failure_threshold\":3");
    const rec = fresh(s);
    call(rec, s, T0, "fail");
    call(rec, s, T0, "fail");
    call(rec, s, T0, "ok");
    expect<u32>(rec.consecutiveFailures).toBe(0);
    call(rec, s, T0, "fail");
    call(rec, s, T0, "fail");
    expect<i32>(rec.state).toBe(CircuitState.Closed);
    expect<Transition>(step.transition).toBe(Transition.None);
    call(rec, s, T0 + 5, "fail");
    expect<i32>(rec.state).toBe(CircuitState.Open);
    expect<Transition>(step.transition).toBe(Transition.ClosedToOpen);
    expect<Trigger>(step.trigger).toBe(Trigger.ConsecutiveFailures);
    expect<bool>(step.dirty).toBe(true);
    expect<i64>(rec.openUntilMs).toBe(T0 + 5 + 60000);
    expect<u32>(rec.consecutiveFailures).toBe(0);
  });

  it("a healthy CLOSED circuit needs no write: admission and success leave the record clean", () => {
    const s = svc("\"failure_threshold\":3");
    const rec = fresh(s);
    const t = ask(rec, s, T0);
    expect<Admission>(step.admission).toBe(Admission.Admit);
    expect<bool>(step.dirty).toBe(false);
    complete(rec, s, t, outcome("ok"), T0, step);
    expect<bool>(step.dirty).toBe(false);
  });

  it("slow calls and cancelled calls are not failures", () => {
    const s = svc("\"failure_threshold\":1");
    const rec = fresh(s);
    call(rec, s, T0, "slow");
    call(rec, s, T0, "cancel");
    expect<i32>(rec.state).toBe(CircuitState.Closed);
    call(rec, s, T0, "fail");
    expect<i32>(rec.state).toBe(CircuitState.Open);
  });
});

describe("OPEN", () => {
  it("rejects with retry-after in whole seconds (rounded up) until open_duration has passed", () => {
    const s = svc("\"failure_threshold\":1,\"open_duration\":\"60s\"");
    const rec = fresh(s);
    call(rec, s, T0, "fail");
    ask(rec, s, T0);
    expect<Admission>(step.admission).toBe(Admission.RejectOpen);
    expect<u32>(step.retryAfterSeconds).toBe(60);
    expect<bool>(step.dirty).toBe(false);
    ask(rec, s, T0 + 59_001);
    expect<u32>(step.retryAfterSeconds).toBe(1);
    ask(rec, s, T0 + 30_500);
    expect<u32>(step.retryAfterSeconds).toBe(30);
    ask(rec, s, T0 + 59_999);
    expect<Admission>(step.admission).toBe(Admission.RejectOpen);
    expect<u32>(step.retryAfterSeconds).toBe(1);
  });

  it("the first request after open_duration moves it to HALF_OPEN and is a probe", () => {
    const s = svc("\"failure_threshold\":1,\"open_duration\":\"60s\"");
    const rec = fresh(s);
    call(rec, s, T0, "fail");
    const gen = rec.generation;
    const t = ask(rec, s, T0 + 60_000);
    expect<Admission>(step.admission).toBe(Admission.Probe);
    expect<Transition>(step.transition).toBe(Transition.OpenToHalfOpen);
    expect<Trigger>(step.trigger).toBe(Trigger.OpenDurationElapsed);
    expect<i32>(rec.state).toBe(CircuitState.HalfOpen);
    expect<u32>(rec.generation).toBe(gen + 1);
    expect<bool>(t.probe).toBe(true);
    expect<u32>(rec.probesInFlight).toBe(1);
  });

  it("a request admitted while CLOSED that completes while OPEN changes nothing", () => {
    const s = svc("\"failure_threshold\":2");
    const rec = fresh(s);
    const late = ask(rec, s, T0);
    call(rec, s, T0, "fail");
    call(rec, s, T0, "fail");
    expect<i32>(rec.state).toBe(CircuitState.Open);
    complete(rec, s, late, outcome("ok"), T0 + 1, step);
    expect<bool>(step.dirty).toBe(false);
    expect<i32>(rec.state).toBe(CircuitState.Open);
  });
});

/** A record just opened by one failure at T0, whose open_duration is already over. */
function halfOpen(s: ServiceConfig): CircuitRecord {
  const rec = fresh(s);
  call(rec, s, T0, "fail");
  rec.openUntilMs = T0; // skip the wait
  return rec;
}

describe("HALF_OPEN", () => {
  it("admits at most half_open_requests probes at a time; the others get the open response", () => {
    const s = svc("\"failure_threshold\":1,\"half_open_requests\":3,\"success_threshold\":3");
    const rec = halfOpen(s);
    const probes: Ticket[] = [];
    for (let i = 0; i < 3; i++) {
      probes.push(ask(rec, s, T0 + 1));
      expect<Admission>(step.admission).toBe(Admission.Probe);
    }
    ask(rec, s, T0 + 1);
    expect<Admission>(step.admission).toBe(Admission.RejectOpen);
    expect<u32>(step.retryAfterSeconds).toBe(1);
    // a probe ending (even cancelled) frees its slot
    complete(rec, s, probes[0], outcome("cancel"), T0 + 2, step);
    expect<u32>(rec.probesInFlight).toBe(2);
    expect<i32>(rec.state).toBe(CircuitState.HalfOpen);
    ask(rec, s, T0 + 2);
    expect<Admission>(step.admission).toBe(Admission.Probe);
  });

  it("success_threshold successful probes close it and reset the counters", () => {
    const s = svc("\"failure_threshold\":1,\"half_open_requests\":2,\"success_threshold\":3");
    const rec = halfOpen(s);
    expect<Admission>(call(rec, s, T0 + 1, "ok")).toBe(Admission.Probe);
    expect<Admission>(call(rec, s, T0 + 2, "ok")).toBe(Admission.Probe);
    expect<i32>(rec.state).toBe(CircuitState.HalfOpen);
    expect<u32>(rec.probeSuccesses).toBe(2);
    call(rec, s, T0 + 3, "ok");
    expect<Transition>(step.transition).toBe(Transition.HalfOpenToClosed);
    expect<Trigger>(step.trigger).toBe(Trigger.ProbesSucceeded);
    expect<i32>(rec.state).toBe(CircuitState.Closed);
    expect<u32>(rec.probeSuccesses).toBe(0);
    expect<u32>(rec.probesInFlight).toBe(0);
    expect<u32>(rec.consecutiveFailures).toBe(0);
  });

  it("any failed probe opens it again for open_duration", () => {
    const s = svc("\"failure_threshold\":1,\"open_duration\":\"30s\"");
    const rec = halfOpen(s);
    call(rec, s, T0 + 1, "ok");
    call(rec, s, T0 + 7, "fail");
    expect<Transition>(step.transition).toBe(Transition.HalfOpenToOpen);
    expect<Trigger>(step.trigger).toBe(Trigger.ProbeFailed);
    expect<i32>(rec.state).toBe(CircuitState.Open);
    expect<i64>(rec.openUntilMs).toBe(T0 + 7 + 30000);
    expect<u32>(rec.probeSuccesses).toBe(0);
  });

  it("a slow probe opens it when the slow-call trigger is on, not otherwise", () => {
    const slowOn = svc("\"failure_threshold\":1,\"slow_call_rate_threshold\":50");
    const a = halfOpen(slowOn);
    call(a, slowOn, T0 + 1, "slow");
    expect<Trigger>(step.trigger).toBe(Trigger.ProbeSlow);
    expect<i32>(a.state).toBe(CircuitState.Open);
    const slowOff = svc("\"failure_threshold\":1,\"success_threshold\":1");
    const b = halfOpen(slowOff);
    call(b, slowOff, T0 + 1, "slow");
    expect<i32>(b.state).toBe(CircuitState.Closed);
  });

  it("a probe of an earlier HALF_OPEN generation decides nothing and frees no current slot", () => {
    const s = svc("\"failure_threshold\":1,\"half_open_requests\":1,\"success_threshold\":1,\"open_duration\":\"10s\"");
    const rec = halfOpen(s);
    const old = ask(rec, s, T0 + 1);
    // it hangs; after open_duration with no probe activity HALF_OPEN starts over
    ask(rec, s, T0 + 5000);
    expect<Admission>(step.admission).toBe(Admission.RejectOpen);
    const renewed = ask(rec, s, T0 + 1 + 10_000);
    expect<Transition>(step.transition).toBe(Transition.HalfOpenRestart);
    expect<Trigger>(step.trigger).toBe(Trigger.ProbesLost);
    expect<Admission>(step.admission).toBe(Admission.Probe);
    complete(rec, s, old, outcome("fail"), T0 + 10_002, step);
    expect<bool>(step.dirty).toBe(false);
    expect<i32>(rec.state).toBe(CircuitState.HalfOpen);
    expect<u32>(rec.probesInFlight).toBe(1);
    complete(rec, s, renewed, outcome("ok"), T0 + 10_003, step);
    expect<i32>(rec.state).toBe(CircuitState.Closed);
  });

  it("a request admitted while CLOSED completing in HALF_OPEN does not count as a probe", () => {
    const s = svc("\"failure_threshold\":2,\"success_threshold\":1");
    const rec = fresh(s);
    const closedCall = ask(rec, s, T0);
    call(rec, s, T0, "fail");
    call(rec, s, T0, "fail");
    rec.openUntilMs = T0;
    ask(rec, s, T0 + 1); // becomes HALF_OPEN, one probe in flight
    complete(rec, s, closedCall, outcome("ok"), T0 + 2, step);
    expect<i32>(rec.state).toBe(CircuitState.HalfOpen);
    expect<u32>(rec.probesInFlight).toBe(1);
  });
});

describe("failure rate and slow-call rate over the sliding window", () => {
  it("waits for minimum_requests, then opens at failure_rate_threshold percent", () => {
    const s = svc("\"failure_threshold\":0,\"failure_rate_threshold\":50,\"minimum_requests\":10,\"window\":\"10s\"");
    const rec = fresh(s);
    for (let i = 0; i < 5; i++) call(rec, s, T0 + i, "fail");
    for (let i = 0; i < 4; i++) call(rec, s, T0 + 10 + i, "ok");
    expect<i32>(rec.state).toBe(CircuitState.Closed); // 5 of 9: below minimum_requests
    call(rec, s, T0 + 20, "ok");
    expect<i32>(rec.state).toBe(CircuitState.Open); // 5 of 10 = 50 %
    expect<Trigger>(step.trigger).toBe(Trigger.FailureRate);
    expect<u32>(step.totals.calls).toBe(10);
    expect<u32>(step.totals.failures).toBe(5);
  });

  it("stays closed below the rate", () => {
    const s = svc("\"failure_threshold\":0,\"failure_rate_threshold\":50,\"minimum_requests\":10");
    const rec = fresh(s);
    for (let i = 0; i < 40; i++) call(rec, s, T0 + i, i % 3 == 0 ? "fail" : "ok"); // 33 %
    expect<i32>(rec.state).toBe(CircuitState.Closed);
  });

  it("calls slide out of the window", () => {
    const s = svc("\"failure_threshold\":0,\"failure_rate_threshold\":50,\"minimum_requests\":4,\"window\":\"10s\"");
    const rec = fresh(s);
    call(rec, s, T0, "fail");
    call(rec, s, T0, "fail");
    call(rec, s, T0, "fail");
    // 10 s later those three are out of the window: 1 failure of 4 calls is 25 %
    for (let i = 0; i < 3; i++) call(rec, s, T0 + 10_000 + i, "ok");
    expect<i32>(rec.state).toBe(CircuitState.Closed);
    call(rec, s, T0 + 10_010, "fail");
    expect<i32>(rec.state).toBe(CircuitState.Closed);
    // within the window they still count: a fresh record, the same calls 8.9 s apart
    const rec2 = fresh(s);
    call(rec2, s, T0, "fail");
    call(rec2, s, T0, "fail");
    call(rec2, s, T0, "fail");
    call(rec2, s, T0 + 8_900, "ok");
    expect<i32>(rec2.state).toBe(CircuitState.Open); // 3 of 4
  });

  it("opens at slow_call_rate_threshold percent of slow calls", () => {
    const s = svc("\"failure_threshold\":0,\"slow_call_rate_threshold\":60,\"minimum_requests\":5");
    const rec = fresh(s);
    call(rec, s, T0, "slow");
    call(rec, s, T0, "slow");
    call(rec, s, T0, "ok");
    call(rec, s, T0, "slow");
    expect<i32>(rec.state).toBe(CircuitState.Closed); // 4 calls < minimum
    call(rec, s, T0, "ok");
    expect<i32>(rec.state).toBe(CircuitState.Open); // 3 of 5 = 60 %
    expect<Trigger>(step.trigger).toBe(Trigger.SlowCallRate);
    expect<u32>(step.totals.slow).toBe(3);
  });

  it("cancelled calls do not enter the window", () => {
    const s = svc("\"failure_threshold\":0,\"failure_rate_threshold\":50,\"minimum_requests\":2");
    const rec = fresh(s);
    call(rec, s, T0, "fail");
    for (let i = 0; i < 5; i++) call(rec, s, T0, "cancel");
    expect<i32>(rec.state).toBe(CircuitState.Closed);
    call(rec, s, T0, "ok");
    expect<i32>(rec.state).toBe(CircuitState.Open); // 1 of 2
  });

  it("opening clears the window, so closing again starts from nothing", () => {
    const s = svc("\"failure_threshold\":0,\"failure_rate_threshold\":50,\"minimum_requests\":2,\"success_threshold\":1");
    const rec = fresh(s);
    call(rec, s, T0, "fail");
    call(rec, s, T0, "fail");
    expect<i32>(rec.state).toBe(CircuitState.Open);
    rec.openUntilMs = T0;
    call(rec, s, T0 + 1, "ok");
    expect<i32>(rec.state).toBe(CircuitState.Closed);
    call(rec, s, T0 + 2, "fail");
    expect<i32>(rec.state).toBe(CircuitState.Closed); // 1 call: below minimum_requests again
  });
});

describe("bulkhead", () => {
  it("admits max_concurrent_requests at a time and frees a slot on every completion", () => {
    const s = svc("\"failure_threshold\":0,\"max_concurrent_requests\":2");
    const rec = fresh(s);
    const a = ask(rec, s, T0);
    expect<bool>(step.dirty).toBe(true);
    const b = ask(rec, s, T0);
    ask(rec, s, T0);
    expect<Admission>(step.admission).toBe(Admission.RejectBulkhead);
    expect<u32>(rec.inFlight).toBe(2);
    complete(rec, s, a, outcome("cancel"), T0, step);
    expect<u32>(rec.inFlight).toBe(1);
    ask(rec, s, T0);
    expect<Admission>(step.admission).toBe(Admission.Admit);
    complete(rec, s, b, outcome("ok"), T0, step);
    expect<u32>(rec.inFlight).toBe(1);
  });

  it("counts across transitions: a slot taken while CLOSED is freed while OPEN", () => {
    const s = svc("\"failure_threshold\":1,\"max_concurrent_requests\":5");
    const rec = fresh(s);
    const slow = ask(rec, s, T0);
    call(rec, s, T0, "fail");
    expect<i32>(rec.state).toBe(CircuitState.Open);
    expect<u32>(rec.inFlight).toBe(1);
    complete(rec, s, slow, outcome("ok"), T0, step);
    expect<u32>(rec.inFlight).toBe(0);
    expect<bool>(step.dirty).toBe(true);
  });

  it("applies to probes too", () => {
    const s = svc("\"failure_threshold\":1,\"max_concurrent_requests\":1,\"half_open_requests\":3");
    const rec = fresh(s);
    const hold = ask(rec, s, T0); // holds the only slot
    call(rec, s, T0, "fail"); // rejected by the bulkhead: no failure recorded
    expect<i32>(rec.state).toBe(CircuitState.Closed);
    complete(rec, s, hold, outcome("fail"), T0, step);
    expect<i32>(rec.state).toBe(CircuitState.Open);
    rec.openUntilMs = T0;
    ask(rec, s, T0 + 1);
    expect<Admission>(step.admission).toBe(Admission.Probe);
    ask(rec, s, T0 + 1);
    expect<Admission>(step.admission).toBe(Admission.RejectBulkhead);
  });
});

/** What shared.ts `observe` completes with: a ticket of the record's generation, holding no slot. */
function observed(rec: CircuitRecord): Ticket {
  const t = new Ticket();
  t.admitted = true;
  t.generation = rec.generation;
  return t;
}

describe("an outcome the circuit did not admit (its cluster served a request routed elsewhere first)", () => {
  it("CLOSED counts it as any call, and it can open the circuit", () => {
    const s = svc("\"failure_threshold\":2,\"max_concurrent_requests\":5");
    const rec = fresh(s);
    complete(rec, s, observed(rec), outcome("fail"), T0, step);
    expect<u32>(rec.consecutiveFailures).toBe(1);
    expect<u32>(rec.inFlight).toBe(0); // it held no bulkhead slot
    complete(rec, s, observed(rec), outcome("fail"), T0, step);
    expect<i32>(rec.state).toBe(CircuitState.Open);
    expect<Transition>(step.transition).toBe(Transition.ClosedToOpen);
  });

  it("OPEN and HALF_OPEN ignore it: it is no probe", () => {
    const s = svc("\"failure_threshold\":1,\"half_open_requests\":1");
    const rec = halfOpen(s);
    const probe = ask(rec, s, T0 + 1);
    expect<Admission>(step.admission).toBe(Admission.Probe);
    complete(rec, s, observed(rec), outcome("fail"), T0 + 1, step);
    expect<bool>(step.dirty).toBe(false);
    expect<i32>(rec.state).toBe(CircuitState.HalfOpen);
    expect<u32>(rec.probesInFlight).toBe(1);
    complete(rec, s, probe, outcome("fail"), T0 + 1, step);
    expect<i32>(rec.state).toBe(CircuitState.Open);
    complete(rec, s, observed(rec), outcome("ok"), T0 + 2, step);
    expect<bool>(step.dirty).toBe(false);
    expect<i32>(rec.state).toBe(CircuitState.Open);
  });
});
