// Several filters in one plugin: a root context whose members are other filters' root
// contexts, and a stream context whose members are their stream contexts, run in the
// order Envoy's filter manager runs a chain of `envoy.filters.http.wasm` entries
// (envoy source/common/http/filter_manager.cc: decoder filters in order, encoder filters in
// reverse; a filter that stops holds the rest until it continues).
//
// Why: Envoy pays a proxy-wasm context and a VM entry per stream and callback for every
// Wasm filter (about 14 µs a filter per request on the bench machine, docs/PERFORMANCE.md);
// a chain in one module pays that once. The members are unchanged: a member's
// `resumeRequest()` runs the members after it before the stream continues, its
// `getPluginConfiguration()` is its part of the chain's configuration, and its tick period
// is multiplexed on the chain's one timer.
//
// What a member sees, against the same filters as separate plugins:
// - request callbacks (headers, body, trailers) in order, until one returns a Stop status
//   (a local reply, or a pause); the members after it see the request when it resumes;
// - response callbacks in reverse order, only for members that saw the request headers
//   (a member never sees a response to a request it did not see: a local reply of the
//   first member is not counted by the others);
// - `onLog`, `onDone`, `onDelete`: every member, in order.
// HTTP and gRPC call responses come to the member that made the call (state.ts keeps the
// caller object).

import { proxy_set_tick_period_milliseconds } from './abi/imports';
import { FilterDataStatus, FilterHeadersStatus, FilterTrailersStatus, StreamType, WasmResult } from './abi/types';
import { Context, HttpContext, RootContext } from './context';
import { setLastResult, setReadWholeMaps } from './state';

/** The stream context of a chain: one member per filter that made a context for the stream. */
export class HttpContextChain extends HttpContext {
  /** Members whose `onRequestHeaders` ran (a prefix of `members`). */
  private decoded: i32 = 0;
  /** Index of the member whose request callback stopped the chain (-1: none). */
  private requestStoppedAt: i32 = -1;
  /** Index of the member whose response callback stopped the chain (-1: none). */
  private responseStoppedAt: i32 = -1;
  private requestHeaderCount: u32 = 0;
  private requestEnded: bool = false;
  private responseHeaderCount: u32 = 0;
  private responseEnded: bool = false;

  constructor(contextId: u32, root: RootContext, readonly members: HttpContext[]) {
    super(contextId, root);
    for (let i = 0, n = members.length; i < n; i++) unchecked(members[i]).owner = this;
  }

  onRequestHeaders(numHeaders: u32, endOfStream: bool): FilterHeadersStatus {
    this.requestHeaderCount = numHeaders;
    this.requestEnded = endOfStream;
    return this.decodeFrom(0);
  }

  // Runs the members' onRequestHeaders from `first`; the status of the one that stopped.
  // Members look headers up in one copy of the map (headers.ts MapSnapshot, read whole
  // by the first lookup): a value returned by a hostcall costs Envoy a call into the VM.
  private decodeFrom(first: i32): FilterHeadersStatus {
    const members = this.members;
    const was = setReadWholeMaps(true);
    let status = FilterHeadersStatus.Continue;
    let stoppedAt = -1;
    for (let i = first, n = members.length; i < n; i++) {
      this.decoded = i + 1;
      status = unchecked(members[i]).onRequestHeaders(this.requestHeaderCount, this.requestEnded);
      if (status != FilterHeadersStatus.Continue) {
        stoppedAt = i;
        break;
      }
    }
    setReadWholeMaps(was);
    this.requestStoppedAt = stoppedAt;
    return status;
  }

  onRequestBody(bodySize: usize, endOfStream: bool): FilterDataStatus {
    const members = this.members;
    for (let i = 0, n = this.decoded; i < n; i++) {
      const status = unchecked(members[i]).onRequestBody(bodySize, endOfStream);
      if (status != FilterDataStatus.Continue) return status;
    }
    return FilterDataStatus.Continue;
  }

  onRequestTrailers(numTrailers: u32): FilterTrailersStatus {
    const members = this.members;
    for (let i = 0, n = this.decoded; i < n; i++) {
      const status = unchecked(members[i]).onRequestTrailers(numTrailers);
      if (status != FilterTrailersStatus.Continue) return status;
    }
    return FilterTrailersStatus.Continue;
  }

  onResponseHeaders(numHeaders: u32, endOfStream: bool): FilterHeadersStatus {
    this.responseHeaderCount = numHeaders;
    this.responseEnded = endOfStream;
    return this.encodeFrom(this.decoded - 1);
  }

  // Runs the members' onResponseHeaders from `last` down; the status of the one that stopped.
  private encodeFrom(last: i32): FilterHeadersStatus {
    const members = this.members;
    const was = setReadWholeMaps(true);
    let status = FilterHeadersStatus.Continue;
    let stoppedAt = -1;
    for (let i = last; i >= 0; i--) {
      status = unchecked(members[i]).onResponseHeaders(this.responseHeaderCount, this.responseEnded);
      if (status != FilterHeadersStatus.Continue) {
        stoppedAt = i;
        break;
      }
    }
    setReadWholeMaps(was);
    this.responseStoppedAt = stoppedAt;
    return status;
  }

  onResponseBody(bodySize: usize, endOfStream: bool): FilterDataStatus {
    const members = this.members;
    for (let i = this.decoded - 1; i >= 0; i--) {
      const status = unchecked(members[i]).onResponseBody(bodySize, endOfStream);
      if (status != FilterDataStatus.Continue) return status;
    }
    return FilterDataStatus.Continue;
  }

  onResponseTrailers(numTrailers: u32): FilterTrailersStatus {
    const members = this.members;
    for (let i = this.decoded - 1; i >= 0; i--) {
      const status = unchecked(members[i]).onResponseTrailers(numTrailers);
      if (status != FilterTrailersStatus.Continue) return status;
    }
    return FilterTrailersStatus.Continue;
  }

  /**
   * `member` continues the stream it stopped: the members after it (before it, for a
   * response) run now, and the stream continues when all of them do. A member that is
   * not the one holding the stream changes nothing (Ok).
   */
  resumeMember(member: HttpContext, stream: StreamType): WasmResult {
    const members = this.members;
    if (stream == StreamType.HttpRequest) {
      const at = this.requestStoppedAt;
      if (at < 0 || unchecked(members[at]) !== member) return setLastResult(WasmResult.Ok);
      if (this.decodeFrom(at + 1) != FilterHeadersStatus.Continue) return setLastResult(WasmResult.Ok);
    } else if (stream == StreamType.HttpResponse) {
      const at = this.responseStoppedAt;
      if (at < 0 || unchecked(members[at]) !== member) return setLastResult(WasmResult.Ok);
      if (this.encodeFrom(at - 1) != FilterHeadersStatus.Continue) return setLastResult(WasmResult.Ok);
    }
    return this.continueStream(stream);
  }

  /** Every member's; the stream is done when all are (a member that returns false calls `done()` itself). */
  onDone(): bool {
    return allDone(this.members);
  }

  onLog(): void {
    const members = this.members;
    for (let i = 0, n = members.length; i < n; i++) unchecked(members[i]).onLog();
  }

  onDelete(): void {
    deleteAll(this.members);
  }

  markDeleted(): void {
    super.markDeleted();
    markAllDeleted(this.members);
  }
}

// The lifecycle callbacks every member gets, root or stream.

function allDone<T extends Context>(members: T[]): bool {
  let done = true;
  for (let i = 0, n = members.length; i < n; i++) if (!unchecked(members[i]).onDone()) done = false;
  return done;
}

function deleteAll<T extends Context>(members: T[]): void {
  for (let i = 0, n = members.length; i < n; i++) unchecked(members[i]).onDelete();
}

function markAllDeleted<T extends Context>(members: T[]): void {
  for (let i = 0, n = members.length; i < n; i++) unchecked(members[i]).markDeleted();
}

/**
 * The root context of a chain. A subclass sets `members` (each a filter's root context
 * made with this root's context id) and their configurations in its `onConfigure`, then
 * calls `configureMembers()`.
 */
export class RootContextChain extends RootContext {
  members: RootContext[] = [];
  /** Each member's tick period (ms, 0: none) and the time since its last tick. */
  private tickPeriods: u32[] = [];
  private tickElapsed: u32[] = [];
  private tickPeriod: u32 = 0;

  constructor(contextId: u32) {
    super(contextId);
  }

  /**
   * Makes `member` (a root context with this context id) a member with `configuration` (its
   * plugin configuration; null: none), after those added before.
   */
  addMember(member: RootContext, configuration: ArrayBuffer | null): void {
    member.owner = this;
    member.memberConfiguration = configuration;
    this.members.push(member);
    this.tickPeriods.push(0);
    this.tickElapsed.push(0);
  }

  /** Each member's `onConfigure`, in order; the index of the first that refused, or -1. */
  configureMembers(): i32 {
    const members = this.members;
    for (let i = 0, n = members.length; i < n; i++) {
      const member = unchecked(members[i]);
      const configuration = member.memberConfiguration;
      if (!member.onConfigure(configuration !== null ? <usize>configuration.byteLength : 0)) return i;
    }
    return -1;
  }

  onVmStart(vmConfigurationSize: usize): bool {
    return true; // members are made at configure time
  }

  createHttpContext(contextId: u32): HttpContext | null {
    const members = this.members;
    const streams = new Array<HttpContext>();
    for (let i = 0, n = members.length; i < n; i++) {
      const stream = unchecked(members[i]).createHttpContext(contextId);
      if (stream !== null) streams.push(stream);
    }
    return streams.length > 0 ? new HttpContextChain(contextId, this, streams) : null;
  }

  /** The timer ticks at the shortest member period; a member ticks once its own period has passed. */
  setMemberTickPeriod(member: RootContext, milliseconds: u32): WasmResult {
    const members = this.members;
    let shortest: u32 = 0;
    for (let i = 0, n = members.length; i < n; i++) {
      if (unchecked(members[i]) === member) {
        unchecked((this.tickPeriods[i] = milliseconds));
        unchecked((this.tickElapsed[i] = 0));
      }
      const period = unchecked(this.tickPeriods[i]);
      if (period > 0 && (shortest == 0 || period < shortest)) shortest = period;
    }
    if (shortest == this.tickPeriod) return setLastResult(WasmResult.Ok);
    this.tickPeriod = shortest;
    const a = this.activate();
    return setLastResult(a != WasmResult.Ok ? a : proxy_set_tick_period_milliseconds(shortest));
  }

  onTick(): void {
    const members = this.members;
    const tick = this.tickPeriod;
    for (let i = 0, n = members.length; i < n; i++) {
      const period = unchecked(this.tickPeriods[i]);
      if (period == 0) continue;
      const elapsed = unchecked(this.tickElapsed[i]) + tick;
      if (elapsed >= period) {
        unchecked((this.tickElapsed[i] = 0));
        unchecked(members[i]).onTick();
      } else {
        unchecked((this.tickElapsed[i] = elapsed));
      }
    }
  }

  onQueueReady(queueId: u32): void {
    const members = this.members;
    for (let i = 0, n = members.length; i < n; i++) unchecked(members[i]).onQueueReady(queueId);
  }

  onDone(): bool {
    return allDone(this.members);
  }

  onDelete(): void {
    deleteAll(this.members);
  }

  markDeleted(): void {
    super.markDeleted();
    markAllDeleted(this.members);
  }
}
