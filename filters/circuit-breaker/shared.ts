/**
 * `SharedCircuit`: one service's `CircuitRecord` in shared data, read and written with
 * CAS so that every worker VM of the `vm_id` sees one circuit (proxy_get_shared_data /
 * proxy_set_shared_data, proxy-wasm/spec v0.2.1 "Shared data"). Each step of machine.ts
 * runs on a fresh read and is written back with the CAS of that read; on `CasMismatch`
 * another worker got there first, so the step runs again on what it wrote.
 *
 * The ABI has no atomic create (proxy-wasm-cpp-host src/shared_data.cc creates a missing
 * key whatever the CAS), so the record is created at configure time, before the worker
 * serves requests, and a missing record met later is written blind once.
 */
import { WasmResult, getSharedDataBytes, setSharedDataBytes } from "../../assembly/proxy-wasm";
import { ServiceConfig } from "./config";
import { Outcome, Step, Ticket, Transition, admit, complete } from "./machine";
import { CircuitRecord, RECORD_SIZE } from "./record";

/** Attempts before a step gives up on CAS (never reached with a handful of workers). */
const MAX_ATTEMPTS: i32 = 64;

export class SharedCircuit {
  /** Shared-data key: `circuit-breaker/<stat_prefix>/<service>`. */
  readonly key: ArrayBuffer;
  /** The record as the last step left it (its `state` feeds the gauge). */
  readonly record: CircuitRecord = new CircuitRecord();
  private readonly scratch: ArrayBuffer = new ArrayBuffer(RECORD_SIZE);
  /** The ticket of `observe`: no slots, the generation of the record it reads. */
  private readonly observed: Ticket = new Ticket();
  private readonly bucketWidthMs: u32;

  constructor(readonly svc: ServiceConfig, statPrefix: string) {
    this.key = String.UTF8.encode("circuit-breaker/" + statPrefix + "/" + svc.name);
    this.bucketWidthMs = <u32>svc.bucketWidthMs;
  }

  /** Creates the record if no worker has yet (configure time). */
  ensure(): WasmResult {
    const got = getSharedDataBytes(this.key);
    if (got.found) return WasmResult.Ok;
    this.record.reset(this.bucketWidthMs);
    this.record.encode(changetype<usize>(this.scratch));
    return setSharedDataBytes(this.key, this.scratch, 0);
  }

  /**
   * Admission at `nowMs` (machine.ts `admit`), atomic across workers. When the record
   * cannot be written (a host error, or CAS lost MAX_ATTEMPTS times) a decision to admit
   * stands but the request is not tracked (`ticket.admitted` false) and `step` shows no
   * transition: the stream goes on, the circuit is unchanged. Returns the host status.
   */
  admit(nowMs: i64, ticket: Ticket, step: Step): WasmResult {
    return this.run(false, nowMs, ticket, null, step);
  }

  /**
   * Completion of an admitted request (machine.ts `complete`), atomic across workers.
   * The ticket is spent whatever happens; returns the host status.
   */
  complete(ticket: Ticket, outcome: Outcome, nowMs: i64, step: Step): WasmResult {
    if (!ticket.admitted) {
      step.clear();
      return WasmResult.Ok;
    }
    return this.run(true, nowMs, ticket, outcome, step);
  }

  /**
   * The outcome of a request this circuit did not admit but that its service served (the
   * route Envoy finally used went to its cluster, e.g. a fail-over route): CLOSED counts
   * it as any call; OPEN and HALF_OPEN ignore it (it holds no probe). Returns the host status.
   */
  observe(outcome: Outcome, nowMs: i64, step: Step): WasmResult {
    return this.run(true, nowMs, null, outcome, step);
  }

  /** Read, step, CAS write; again on CasMismatch. */
  private run(completion: bool, nowMs: i64, given: Ticket | null, outcome: Outcome | null, step: Step): WasmResult {
    let r = WasmResult.CasMismatch;
    const ticket = given !== null ? given : this.observed;
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const cas = this.read();
      if (given === null) ticket.generation = this.record.generation;
      if (completion) {
        ticket.admitted = true; // `complete` spends it; each attempt starts from the same ticket
        // `completion` comes with an outcome (complete() above): no null check, whose abort
        // would link a message and a file name.
        complete(this.record, this.svc, ticket, changetype<Outcome>(outcome), nowMs, step);
      } else {
        admit(this.record, this.svc, nowMs, ticket, step);
      }
      if (!step.dirty) return WasmResult.Ok;
      r = this.write(cas);
      if (r == WasmResult.Ok) return r;
      if (r != WasmResult.CasMismatch) break;
    }
    ticket.admitted = false;
    step.transition = Transition.None;
    return r;
  }

  /** Loads the record (fresh when missing or garbage); returns the CAS to write with (0: create). */
  private read(): u32 {
    const got = getSharedDataBytes(this.key);
    const value = got.value;
    if (value === null) {
      this.record.reset(this.bucketWidthMs);
      return 0;
    }
    this.record.decode(changetype<usize>(value), value.byteLength, this.bucketWidthMs);
    return got.cas;
  }

  private write(cas: u32): WasmResult {
    this.record.encode(changetype<usize>(this.scratch));
    return setSharedDataBytes(this.key, this.scratch, cas);
  }
}
