/**
 * circuit-breaker: a proxy-wasm HTTP filter (root_id `circuit-breaker`) that keeps a
 * CLOSED / OPEN / HALF_OPEN circuit per upstream service in shared data, so every Envoy
 * worker sees one circuit (shared/spec/filters.md "circuit-breaker"; config.ts for the
 * configuration, machine.ts for the state machine, shared.ts for CAS, stats.ts for
 * metrics and logs). This file wires the proxy-wasm callbacks to them:
 *
 * - `onRequestHeaders`: strips every configured fallback header the client sent, picks
 *   the service (`match`, `cluster` = the `cluster_name` property of the routed request),
 *   and asks the circuit for admission. Admitted: `timeout` becomes
 *   `x-envoy-upstream-rq-timeout-ms` unless the request has one. Rejected: the open
 *   response with `x-circuit-breaker: open` and `retry-after` (whole seconds left), or
 *   `x-circuit-breaker: bulkhead`; or, with `open_action.fallback_header`, the request
 *   goes on with that header set (the header change clears Envoy's route cache, so the
 *   router picks the route that matches it) and its response gets
 *   `x-circuit-breaker: fallback`.
 * - `onResponseHeaders`: the status and arrival time of an admitted request's response
 *   (Envoy's own local replies, 503 no healthy upstream or 504 upstream request timeout,
 *   pass through here too). A gRPC response (HTTP 200, `content-type: application/grpc*`)
 *   is judged by its `grpc-status` instead — in the headers of a trailers-only response,
 *   else in `onResponseTrailers` — mapped to the HTTP status Envoy maps it to
 *   (`Grpc::Utility::grpcToHttpStatus`: UNAVAILABLE 503, DEADLINE_EXCEEDED 504, INTERNAL
 *   and UNKNOWN 500...), so `failure_status` covers gRPC services too.
 * - `onLog` (Envoy runs it for every stream; `onDelete` stands in should it not come):
 *   the outcome goes to the circuit and the request's probe and bulkhead slots are
 *   released. A request with no response headers (client cancel, reset) is not counted.
 */
export * from "../../assembly/proxy-wasm/exports-core";
export { proxy_on_log, proxy_on_request_headers, proxy_on_response_headers, proxy_on_response_trailers } from "../../assembly/proxy-wasm/exports";

import { ascii, formatInteger } from "../../assembly/proxy-wasm/format";
import {
  FilterHeadersStatus,
  FilterTrailersStatus,
  HeaderPair,
  HttpContext,
  RootContext,
  getCurrentTimeMilliseconds,
  getProperty,
  getPropertyString,
  logError,
  registerRootContext,
} from "../../assembly/proxy-wasm";
import { requestHeadersMap } from "../../assembly/proxy-wasm/headers";
import { HostRequestHeaders } from "../../assembly/match/host";
import { isGrpcContentType } from "../../assembly/match/request";
import { CircuitBreakerConfig, FILTER_NAME, OpenResponse, ServiceConfig, parseConfig } from "./config";
import { Admission, Outcome, Step, Ticket } from "./machine";
import { SharedCircuit } from "./shared";
import { ServiceStats } from "./stats";

const STATUS = ascii.bytes(":status");
const CONTENT_TYPE = ascii.bytes("content-type");
const GRPC_STATUS = ascii.bytes("grpc-status");
const RQ_TIMEOUT = ascii.bytes("x-envoy-upstream-rq-timeout-ms");
const X_CIRCUIT_BREAKER = ascii.bytes("x-circuit-breaker");
const FALLBACK = ascii.bytes("fallback");
// The routed cluster: `xds.cluster_name` (Envoy >= 1.29; 1.33 removed the older
// top-level `cluster_name`). Which one a host has is decided once, at configure time, by
// whether it knows `xds.node` (a request with no cluster, e.g. a direct response, answers
// NOT_FOUND for both and must not send us looking for the legacy name).
const XDS_NODE_ID: string[] = ["xds", "node", "id"];
const XDS_CLUSTER_NAME: string[] = ["xds", "cluster_name"];
const LEGACY_CLUSTER_NAME: string[] = ["cluster_name"];
const DETAILS_OPEN = "circuit_breaker_open";
const DETAILS_BULKHEAD = "circuit_breaker_bulkhead";

/** One configured service in this worker: its config, shared circuit, metrics, local replies. */
class Service {
  readonly circuit: SharedCircuit;
  readonly stats: ServiceStats;
  /** Open response headers; the last pair is `retry-after`, its value set per reply. */
  readonly openHeaders: HeaderPair[];
  readonly bulkheadHeaders: HeaderPair[];
  private readonly retryAfter: HeaderPair;

  constructor(readonly config: ServiceConfig, statPrefix: string) {
    this.circuit = new SharedCircuit(config, statPrefix);
    this.stats = new ServiceStats(statPrefix, config);
    const retryAfter = new HeaderPair("retry-after", "");
    const open = replyHeaders(config.openResponse, "open");
    open.push(retryAfter);
    this.retryAfter = retryAfter;
    this.openHeaders = open;
    this.bulkheadHeaders = replyHeaders(config.openResponse, "bulkhead");
  }

  /** Open response headers with `retry-after: seconds`. */
  openHeadersFor(seconds: u32): HeaderPair[] {
    this.retryAfter.value = formatInteger(seconds);
    return this.openHeaders;
  }
}

function replyHeaders(response: OpenResponse, kind: string): HeaderPair[] {
  const out = new Array<HeaderPair>();
  // headerNames and headerValues are filled together (config.ts): same length, no holes.
  for (let i = 0, n = response.headerNames.length; i < n; i++) {
    out.push(new HeaderPair(unchecked(response.headerNames[i]), unchecked(response.headerValues[i])));
  }
  out.push(new HeaderPair("x-circuit-breaker", kind));
  return out;
}

class CircuitBreakerRoot extends RootContext {
  config: CircuitBreakerConfig | null = null;
  services: StaticArray<Service> = new StaticArray<Service>(0);
  /** Scratch for every stream of this VM (callbacks never overlap). */
  readonly step: Step = new Step();
  readonly outcome: Outcome = new Outcome();
  readonly request: HostRequestHeaders = new HostRequestHeaders(requestHeadersMap);
  clusterNameProperty: string[] = XDS_CLUSTER_NAME;

  onConfigure(size: usize): bool {
    const parsed = parseConfig(size > 0 ? this.getPluginConfiguration() : null);
    const config = parsed.config;
    if (config === null) {
      logError(FILTER_NAME + ": " + parsed.error);
      return false;
    }
    const services = new StaticArray<Service>(config.services.length);
    for (let i = 0; i < services.length; i++) {
      const service = new Service(unchecked(config.services[i]), config.statPrefix); // same length
      service.circuit.ensure();
      unchecked((services[i] = service));
    }
    this.config = config;
    this.services = services;
    if (config.needsCluster) {
      this.clusterNameProperty = getProperty(XDS_NODE_ID) !== null ? XDS_CLUSTER_NAME : LEGACY_CLUSTER_NAME;
    }
    return true;
  }

  createHttpContext(contextId: u32): HttpContext | null {
    return new CircuitBreakerStream(contextId, this);
  }

  /** The first service whose `cluster` and `match` hold for the current request, or null. */
  select(): Service | null {
    const config = this.config;
    if (config === null) return null;
    const request = this.request;
    request.forget();
    let cluster: string | null = null;
    let clusterRead = !config.needsCluster;
    const services = this.services;
    for (let i = 0, n = services.length; i < n; i++) {
      const service = unchecked(services[i]);
      const want = service.config.cluster;
      if (want !== null) {
        if (!clusterRead) {
          cluster = getPropertyString(this.clusterNameProperty);
          clusterRead = true;
        }
        if (cluster === null || cluster != want) continue;
      }
      if (service.config.match.matches(request)) return service;
    }
    return null;
  }
}

class CircuitBreakerStream extends HttpContext {
  private service: Service | null = null;
  private readonly ticket: Ticket = new Ticket();
  private startMs: i64 = 0;
  private responded: bool = false;
  private failed: bool = false;
  private slow: bool = false;
  private fallback: bool = false;
  /** A gRPC response whose grpc-status is still to come in the trailers. */
  private awaitingGrpcStatus: bool = false;

  constructor(contextId: u32, readonly plugin: CircuitBreakerRoot) {
    super(contextId, plugin);
  }

  onRequestHeaders(numHeaders: u32, endOfStream: bool): FilterHeadersStatus {
    const root = this.plugin;
    const config = root.config;
    if (config === null) return FilterHeadersStatus.Continue;
    const headers = this.requestHeaders;
    // A client must not choose the fail-over route itself.
    const names = config.fallbackHeaderNames;
    for (let i = 0, n = names.length; i < n; i++) {
      const name = unchecked(names[i]);
      if (headers.getBytes(name) !== null) headers.removeBytes(name);
    }
    const service = root.select();
    if (service === null) return FilterHeadersStatus.Continue;

    const svc = service.config;
    const nowMs = <i64>getCurrentTimeMilliseconds();
    const step = root.step;
    service.circuit.admit(nowMs, this.ticket, step);
    service.stats.afterStep(step, service.circuit.record.state);

    switch (step.admission) {
      case Admission.Admit:
      case Admission.Probe: {
        this.service = service;
        this.startMs = nowMs;
        const timeout = svc.timeoutMs;
        if (timeout !== null && headers.getBytes(RQ_TIMEOUT) === null) headers.replaceBytes(RQ_TIMEOUT, timeout);
        return FilterHeadersStatus.Continue;
      }
      case Admission.RejectOpen: {
        const fallback = svc.fallback;
        if (fallback !== null) {
          headers.replaceBytes(fallback.nameBytes, fallback.valueBytes);
          service.stats.fallback.increment();
          this.fallback = true;
          return FilterHeadersStatus.Continue;
        }
        service.stats.rejectedOpen.increment();
        this.sendLocalResponseBytes(svc.openResponse.status, DETAILS_OPEN, svc.openResponse.body, service.openHeadersFor(step.retryAfterSeconds));
        return FilterHeadersStatus.StopAllIterationAndWatermark;
      }
      default: {
        service.stats.rejectedBulkhead.increment();
        this.sendLocalResponseBytes(svc.openResponse.status, DETAILS_BULKHEAD, svc.openResponse.body, service.bulkheadHeaders);
        return FilterHeadersStatus.StopAllIterationAndWatermark;
      }
    }
  }

  onResponseHeaders(numHeaders: u32, endOfStream: bool): FilterHeadersStatus {
    if (this.fallback) {
      this.responseHeaders.replaceBytes(X_CIRCUIT_BREAKER, FALLBACK);
      return FilterHeadersStatus.Continue;
    }
    const service = this.service;
    if (service === null || !this.ticket.admitted || this.responded) return FilterHeadersStatus.Continue;
    const svc = service.config;
    this.responded = true;
    const headers = this.responseHeaders;
    const status = parseStatus(headers.getBytes(STATUS));
    if (status == 200 && isGrpcContentType(headers.getBytes(CONTENT_TYPE))) {
      const grpcStatus = headers.getBytes(GRPC_STATUS);
      if (grpcStatus !== null) this.failed = svc.isFailureStatus(grpcToHttpStatus(parseGrpcStatus(grpcStatus)));
      else this.awaitingGrpcStatus = !endOfStream;
    } else {
      this.failed = svc.isFailureStatus(status);
    }
    if (svc.detectsSlowCalls) this.slow = <i64>getCurrentTimeMilliseconds() - this.startMs > svc.slowCallDurationMs;
    return FilterHeadersStatus.Continue;
  }

  onResponseTrailers(numTrailers: u32): FilterTrailersStatus {
    if (this.awaitingGrpcStatus) {
      this.awaitingGrpcStatus = false;
      const service = this.service;
      const grpcStatus = this.responseTrailers.getBytes(GRPC_STATUS);
      // A gRPC response that ends without grpc-status is a protocol error (INTERNAL).
      const code = grpcStatus !== null ? parseGrpcStatus(grpcStatus) : GRPC_INTERNAL;
      if (service !== null) this.failed = service.config.isFailureStatus(grpcToHttpStatus(code));
    }
    return FilterTrailersStatus.Continue;
  }

  onLog(): void {
    this.finish();
  }

  onDelete(): void {
    this.finish();
  }

  /** Hands the outcome to the circuit and releases the request's slots, once. */
  private finish(): void {
    const service = this.service;
    if (service === null || !this.ticket.admitted) return;
    const root = this.plugin;
    const outcome = root.outcome;
    outcome.responded = this.responded;
    outcome.failed = this.failed;
    outcome.slow = this.slow;
    const step = root.step;
    service.circuit.complete(this.ticket, outcome, <i64>getCurrentTimeMilliseconds(), step);
    service.stats.afterStep(step, service.circuit.record.state);
  }
}

/** The three digits of `:status`, or 0 (not a failure status) when absent or malformed. */
function parseStatus(value: ArrayBuffer | null): u32 {
  if (value === null || value.byteLength != 3) return 0;
  const p = changetype<usize>(value);
  let code: u32 = 0;
  for (let i: usize = 0; i < 3; i++) {
    const d = <u32>load<u8>(p + i) - 0x30;
    if (d > 9) return 0;
    code = code * 10 + d;
  }
  return code;
}

const GRPC_INTERNAL: u32 = 13;

/** A decimal `grpc-status`, or UNKNOWN (2) when malformed. */
function parseGrpcStatus(value: ArrayBuffer): u32 {
  const n = value.byteLength;
  if (n == 0 || n > 2) return 2;
  const p = changetype<usize>(value);
  let code: u32 = 0;
  for (let i = 0; i < n; i++) {
    const d = <u32>load<u8>(p + i) - 0x30;
    if (d > 9) return 2;
    code = code * 10 + d;
  }
  return code;
}

/** Envoy's `Grpc::Utility::grpcToHttpStatus` (source/common/grpc/status.cc). */
function grpcToHttpStatus(code: u32): u32 {
  switch (code) {
    case 0: return 200; // OK
    case 1: return 499; // CANCELLED
    case 2: return 500; // UNKNOWN
    case 3: return 400; // INVALID_ARGUMENT
    case 4: return 504; // DEADLINE_EXCEEDED
    case 5: return 404; // NOT_FOUND
    case 6: return 409; // ALREADY_EXISTS
    case 7: return 403; // PERMISSION_DENIED
    case 8: return 429; // RESOURCE_EXHAUSTED
    case 9: return 400; // FAILED_PRECONDITION
    case 10: return 409; // ABORTED
    case 11: return 400; // OUT_OF_RANGE
    case 12: return 501; // UNIMPLEMENTED
    case 13: return 500; // INTERNAL
    case 14: return 503; // UNAVAILABLE
    case 15: return 500; // DATA_LOSS
    case 16: return 401; // UNAUTHENTICATED
    default: return 500;
  }
}

registerRootContext((contextId: u32): RootContext => new CircuitBreakerRoot(contextId));
