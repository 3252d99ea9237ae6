/**
 * `SharedCircuit`: one service's `CircuitRecord` in shared data, changed with
 * assembly/shared's CAS loop (`update`) so that every worker VM of the `vm_id` sees one
 * circuit. Each step of machine.ts runs on a fresh read and is written back with the
 * CAS of that read; when another worker wrote first, the step runs again on what it
 * wrote. The record is created at configure time, before the worker serves requests.
 */
import { RecordLayout, RecordUpdate, UpdateResult, update } from "../../assembly/shared";
import { ServiceConfig } from "./config";
import { Outcome, Step, Ticket, Transition, admit, complete } from "./machine";
import { CircuitRecord, circuitLayout } from "./record";

export class SharedCircuit extends RecordUpdate {
  /** Shared-data key: `circuit-breaker/<stat_prefix>/<service>`. */
  readonly key: ArrayBuffer;
  /** The record as the last step left it (its `state` feeds the gauge). */
  readonly record: CircuitRecord = new CircuitRecord();
  /** The service's record layout: without the window when it has no rate trigger. */
  private readonly layout: RecordLayout;
  private readonly scratch: ArrayBuffer;
  /** The ticket of `observe`: no slots, the generation of the record it reads. */
  private readonly observed: Ticket = new Ticket();
  private readonly bucketWidthMs: u32;
  // The step `apply` runs (`run` sets them).
  private creating: bool = false;
  private completion: bool = false;
  private nowMs: i64 = 0;
  private given: Ticket | null = null;
  private outcome: Outcome | null = null;
  private step: Step = new Step();

  constructor(readonly svc: ServiceConfig, statPrefix: string) {
    super();
    this.key = String.UTF8.encode("circuit-breaker/" + statPrefix + "/" + svc.name);
    this.bucketWidthMs = <u32>svc.bucketWidthMs;
    const layout = circuitLayout(svc.usesWindow);
    this.layout = layout;
    this.scratch = new ArrayBuffer(layout.minSize);
  }

  /** Writes a fresh record unless the key holds one already (configure time). */
  ensure(): UpdateResult {
    this.creating = true;
    const r = update(this.key, this.layout, this);
    this.creating = false;
    return r;
  }

  /**
   * Admission at `nowMs` (machine.ts `admit`), atomic across workers. When the record
   * cannot be written (`GaveUp`, `HostError`) a decision to admit stands but the request
   * is not tracked (`ticket.admitted` false) and `step` shows no transition: the stream
   * goes on, the circuit is unchanged.
   */
  admit(nowMs: i64, ticket: Ticket, step: Step): UpdateResult {
    return this.run(false, nowMs, ticket, null, step);
  }

  /**
   * Completion of an admitted request (machine.ts `complete`), atomic across workers.
   * The ticket is spent whatever happens.
   */
  complete(ticket: Ticket, outcome: Outcome, nowMs: i64, step: Step): UpdateResult {
    if (!ticket.admitted) {
      step.clear();
      return UpdateResult.Unchanged;
    }
    return this.run(true, nowMs, ticket, outcome, step);
  }

  /**
   * The outcome of a request this circuit did not admit but that its service served (the
   * route Envoy finally used went to its cluster, e.g. a fail-over route): CLOSED counts
   * it as any call; OPEN and HALF_OPEN ignore it (it holds no probe).
   */
  observe(outcome: Outcome, nowMs: i64, step: Step): UpdateResult {
    return this.run(true, nowMs, null, outcome, step);
  }

  /** One step through the CAS loop; a write that failed leaves the circuit as it was. */
  private run(completion: bool, nowMs: i64, given: Ticket | null, outcome: Outcome | null, step: Step): UpdateResult {
    this.completion = completion;
    this.nowMs = nowMs;
    this.given = given;
    this.outcome = outcome;
    this.step = step;
    const r = update(this.key, this.layout, this);
    if (r == UpdateResult.GaveUp || r == UpdateResult.HostError) {
      (given !== null ? given : this.observed).admitted = false;
      step.transition = Transition.None;
    }
    return r;
  }

  /** The step on the record read (fresh when there is none); the record to write when it changed. */
  apply(record: ArrayBuffer | null): ArrayBuffer | null {
    const rec = this.record;
    rec.decode(record, this.bucketWidthMs);
    if (this.creating) return record === null ? rec.encode(this.scratch) : null;
    const given = this.given;
    const ticket = given !== null ? given : this.observed;
    const step = this.step;
    if (given === null) ticket.generation = rec.generation;
    if (this.completion) {
      ticket.admitted = true; // `complete` spends it; each attempt starts from the same ticket
      // `completion` comes with an outcome (complete() above): no null check, whose abort
      // would link a message and a file name.
      complete(rec, this.svc, ticket, changetype<Outcome>(this.outcome), this.nowMs, step);
    } else {
      admit(rec, this.svc, this.nowMs, ticket, step);
    }
    return step.dirty ? rec.encode(this.scratch) : null;
  }
}
