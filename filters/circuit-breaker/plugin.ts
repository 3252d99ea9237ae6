/**
 * circuit-breaker's root and stream contexts: the proxy-wasm callbacks wired to the
 * configuration (config.ts), the state machine (machine.ts), CAS (shared.ts) and the
 * metrics and logs (stats.ts):
 *
 * - `onRequestHeaders`: picks the service (`match`, `cluster` = the `xds.cluster_name`
 *   property, read once) and asks the circuit for admission. Admitted: `timeout` becomes
 *   `x-envoy-upstream-rq-timeout-ms` unless the request has one. Rejected: the open
 *   response with `x-circuit-breaker: open` and `retry-after` (whole seconds left), or
 *   `x-circuit-breaker: bulkhead`; or, with `open_action.fallback_filter_state`, the
 *   request goes on with that filter state set, for a route that matches it, and its
 *   response gets `x-circuit-breaker: fallback`. No request header decides anything, so a
 *   client has nothing to forge: the filter strips none and routes change only as it means.
 * - `onResponseHeaders`: which service the outcome counts against, from the route Envoy
 *   finally used. A filter sees the route Envoy resolved before the filters ran: after
 *   any request header change (ours, or an earlier filter's) Envoy 1.40 clears its route
 *   cache but resolves the route again only in the router, so `xds.cluster_name` read in
 *   `onRequestHeaders` stays what it was, whatever the filter changed. Here it is final:
 *   read once again (when a service selects by `cluster`), and when it differs from the
 *   one admission used, or the request failed over, the service is picked again for it
 *   (with the `match` results of the request, whose headers Envoy no longer lends) and
 *   the admitted service's slots are released uncounted. Then the status and arrival
 *   time (Envoy's own local replies, 503 no healthy upstream or 504 upstream request
 *   timeout, pass through here too). A gRPC response (HTTP 200,
 *   `content-type: application/grpc*`) is judged by its `grpc-status` instead — in the
 *   headers of a trailers-only response, else in `onResponseTrailers` — mapped to the
 *   HTTP status Envoy maps it to (`Grpc::Utility::grpcToHttpStatus`: UNAVAILABLE 503,
 *   DEADLINE_EXCEEDED 504, INTERNAL and UNKNOWN 500...), so `failure_status` covers gRPC
 *   services too.
 * - `onDelete` (Envoy runs it for every stream whose context was created, when the filter
 *   is destroyed after the access log: source/extensions/common/wasm/context.cc
 *   `Context::onDestroy`; the module exports no
 *   `proxy_on_log`, which would cost a VM entry per request): the outcome goes to the
 *   circuit and the request's probe and bulkhead slots are released. A request with no
 *   response headers (client cancel, reset) is not counted.
 */
import {
  ascii,
  FilterHeadersStatus,
  FilterTrailersStatus,
  formatInteger,
  getCurrentTimeMilliseconds,
  getProperty,
  getPropertyString,
  HeaderFields,
  HeaderName,
  HeaderPair,
  HttpContext,
  logError,
  requestHeadersMap,
  RootContext,
  setProperty,
  WasmResult,
} from "../../assembly/proxy-wasm";
import { ConfigReader } from "../../assembly/config";
import { HostRequestHeaders } from "../../assembly/match/host";
import { isGrpcContentTypeAt } from "../../assembly/match";
import { CircuitBreakerConfig, FILTER_NAME, OpenResponse, ServiceConfig, parseConfig } from "./config";
import { Admission, NOW_UNREAD, Outcome, Step, Ticket } from "./machine";
import { pickService, sameCluster } from "./select";
import { SharedCircuit } from "./shared";
import { ServiceStats } from "./stats";

const STATUS = changetype<HeaderName>(ascii.bytes(":status"));
const CONTENT_TYPE = changetype<HeaderName>(ascii.bytes("content-type"));
const GRPC_STATUS = changetype<HeaderName>(ascii.bytes("grpc-status"));
const RQ_TIMEOUT = changetype<HeaderName>(ascii.bytes("x-envoy-upstream-rq-timeout-ms"));
const X_CIRCUIT_BREAKER = changetype<HeaderName>(ascii.bytes("x-circuit-breaker"));
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

  /** The `retry-after` value the open headers hold (0: none yet). */
  private retryAfterSeconds: u32 = 0;

  /** Open response headers with `retry-after: seconds` (formatted only when it changes). */
  openHeadersFor(seconds: u32): HeaderPair[] {
    if (seconds != this.retryAfterSeconds) {
      this.retryAfter.value = formatInteger(seconds);
      this.retryAfterSeconds = seconds;
    }
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

export class CircuitBreakerRoot extends RootContext {
  config: CircuitBreakerConfig | null = null;
  services: StaticArray<Service> = new StaticArray<Service>(0);
  /** Scratch for every stream of this VM (callbacks never overlap). */
  readonly step: Step = new Step();
  readonly outcome: Outcome = new Outcome();
  readonly request: HostRequestHeaders = new HostRequestHeaders(requestHeadersMap);
  readonly responseFields: HeaderFields = new HeaderFields();
  clusterNameProperty: string[] = XDS_CLUSTER_NAME;

  onConfigure(size: usize): bool {
    const parsed = parseConfig(ConfigReader.fromBuffer(size > 0 ? this.getPluginConfiguration() : null));
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

  /** The routed cluster (`xds.cluster_name`), or null (no route, or a direct response). */
  cluster(): string | null {
    return getPropertyString(this.clusterNameProperty);
  }

  /**
   * Whether each service's `match` holds for the current request (only when some service
   * selects by `cluster`: the outcome may have to pick again once the route is final).
   */
  matchAll(): StaticArray<bool> {
    const request = this.request;
    request.forget();
    const services = this.services;
    const matched = new StaticArray<bool>(services.length);
    for (let i = 0, n = services.length; i < n; i++) {
      unchecked((matched[i] = unchecked(services[i]).config.match.matches(request)));
    }
    return matched;
  }

  /** The first service whose `match` holds (a configuration without `cluster`), or null. */
  firstMatch(): Service | null {
    const request = this.request;
    request.forget();
    const services = this.services;
    for (let i = 0, n = services.length; i < n; i++) {
      const service = unchecked(services[i]);
      if (service.config.match.matches(request)) return service;
    }
    return null;
  }

  /** select.ts `pickService` over the configured services, or null. */
  pick(cluster: string | null, matched: StaticArray<bool>, byClusterOnly: bool): Service | null {
    const config = this.config;
    if (config === null) return null;
    const i = pickService(config.services, cluster, matched, byClusterOnly);
    return i < 0 ? null : unchecked(this.services[i]);
  }
}

class CircuitBreakerStream extends HttpContext {
  /** The service that admitted the request (it holds `ticket`). */
  private service: Service | null = null;
  /** The service its outcome counts against (decided on the response). */
  private counted: Service | null = null;
  private readonly ticket: Ticket = new Ticket();
  /** With `needsCluster`: the cluster admission saw, and each service's `match` result. */
  private cluster: string | null = null;
  private matched: StaticArray<bool> | null = null;
  private startMs: i64 = 0;
  /** The filter answered it with a local reply. */
  private replied: bool = false;
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
    let service: Service | null;
    if (config.needsCluster) {
      const cluster = root.cluster();
      const matched = root.matchAll();
      this.cluster = cluster;
      this.matched = matched;
      service = root.pick(cluster, matched, false);
    } else {
      service = root.firstMatch();
      if (service === null) return FilterHeadersStatus.Continue;
    }
    // The start only matters to a slow-call trigger (also for no service yet: one picked
    // on the response may judge slow calls); otherwise admission reads the clock only if
    // the circuit's state needs it (machine.ts NOW_UNREAD).
    let nowMs = NOW_UNREAD;
    if (config.detectsSlowCalls) this.startMs = nowMs = <i64>getCurrentTimeMilliseconds();
    if (service === null) return FilterHeadersStatus.Continue;

    const svc = service.config;
    const step = root.step;
    service.circuit.admit(nowMs, this.ticket, step);
    service.stats.afterStep(step, service.circuit.record.state, service.circuit.record.generation);

    const headers = this.requestHeaders;
    switch (step.admission) {
      case Admission.Admit:
      case Admission.Probe: {
        this.service = service;
        service.stats.admitted.increment();
        const timeout = svc.timeoutMs;
        if (timeout !== null && !headers.has(RQ_TIMEOUT)) headers.replaceBytes(RQ_TIMEOUT, timeout);
        return FilterHeadersStatus.Continue;
      }
      case Admission.RejectOpen: {
        const fallback = svc.fallback;
        // Failing over needs the filter state; without it the open response stands.
        if (fallback !== null && setProperty(fallback.path, fallback.valueBytes) == WasmResult.Ok) {
          // Envoy clears its route cache on a request header change (ABI v0.2.1 has no
          // clear_route_cache), so the router resolves the route again, now with the state.
          headers.remove(X_CIRCUIT_BREAKER);
          service.stats.fallback.increment();
          this.fallback = true;
          return FilterHeadersStatus.Continue;
        }
        service.stats.rejectedOpen.increment();
        this.replied = true;
        this.sendLocalResponseBytes(svc.openResponse.status, DETAILS_OPEN, svc.openResponse.body, service.openHeadersFor(step.retryAfterSeconds));
        return FilterHeadersStatus.StopAllIterationAndWatermark;
      }
      default: {
        service.stats.rejectedBulkhead.increment();
        this.replied = true;
        this.sendLocalResponseBytes(svc.openResponse.status, DETAILS_BULKHEAD, svc.openResponse.body, service.bulkheadHeaders);
        return FilterHeadersStatus.StopAllIterationAndWatermark;
      }
    }
  }

  onResponseHeaders(numHeaders: u32, endOfStream: bool): FilterHeadersStatus {
    if (this.replied || this.responded) return FilterHeadersStatus.Continue;
    this.responded = true;
    const root = this.plugin;
    const config = root.config;
    if (config === null) return FilterHeadersStatus.Continue;
    const headers = this.responseHeaders;
    if (this.fallback) headers.replaceBytes(X_CIRCUIT_BREAKER, FALLBACK);
    // The route is final now: count the outcome against the service of its cluster.
    let service: Service | null = this.fallback ? null : this.service;
    const matched = this.matched;
    if (matched !== null) {
      const cluster = root.cluster();
      if (this.fallback || !sameCluster(cluster, this.cluster)) service = root.pick(cluster, matched, this.fallback);
    }
    this.counted = service;
    if (service === null) return FilterHeadersStatus.Continue;
    const svc = service.config;
    // One read of the whole map serves `:status`, `content-type` and `grpc-status`.
    const fields = root.responseFields;
    fields.read(headers);
    const status = fields.find(STATUS) ? parseStatus(fields) : 0;
    if (status == 200 && fields.find(CONTENT_TYPE) && isGrpcContentTypeAt(fields.bytes.dataStart + <usize>fields.valueStart, fields.valueLength)) {
      if (fields.find(GRPC_STATUS)) this.failed = svc.isFailureStatus(grpcToHttpStatus(parseGrpcStatus(fields)));
      else this.awaitingGrpcStatus = !endOfStream;
    } else {
      this.failed = svc.isFailureStatus(status);
    }
    fields.clear();
    if (svc.detectsSlowCalls) this.slow = <i64>getCurrentTimeMilliseconds() - this.startMs > svc.slowCallDurationMs;
    return FilterHeadersStatus.Continue;
  }

  onResponseTrailers(numTrailers: u32): FilterTrailersStatus {
    if (this.awaitingGrpcStatus) {
      this.awaitingGrpcStatus = false;
      const service = this.counted;
      const fields = this.plugin.responseFields;
      fields.read(this.responseTrailers);
      // A gRPC response that ends without grpc-status is a protocol error (INTERNAL).
      const code = fields.find(GRPC_STATUS) ? parseGrpcStatus(fields) : GRPC_INTERNAL;
      fields.clear();
      if (service !== null) this.failed = service.config.isFailureStatus(grpcToHttpStatus(code));
    }
    return FilterTrailersStatus.Continue;
  }

  onDelete(): void {
    this.finish();
  }

  /**
   * Hands the outcome to the circuit that counts it and releases the admitted request's
   * slots (uncounted when another service served it), once.
   */
  private finish(): void {
    const admitted = this.service;
    const counted = this.counted;
    if (admitted === null && counted === null) return;
    this.service = null;
    this.counted = null;
    const root = this.plugin;
    const outcome = root.outcome;
    outcome.failed = this.failed;
    outcome.slow = this.slow;
    const step = root.step;
    const nowMs = NOW_UNREAD; // read by the step if it needs the time
    if (admitted !== null && this.ticket.admitted) {
      outcome.responded = this.responded && counted === admitted;
      admitted.circuit.complete(this.ticket, outcome, nowMs, step);
      admitted.stats.afterStep(step, admitted.circuit.record.state, admitted.circuit.record.generation);
    }
    if (counted !== null && counted !== admitted) {
      outcome.responded = true;
      counted.circuit.observe(outcome, nowMs, step);
      counted.stats.afterStep(step, counted.circuit.record.state, counted.circuit.record.generation);
    }
  }
}

/** The three digits of the `:status` found, or 0 (not a failure status) when malformed. */
function parseStatus(fields: HeaderFields): u32 {
  if (fields.valueLength != 3) return 0;
  let code: u32 = 0;
  for (let i = 0; i < 3; i++) {
    const d = <u32>fields.valueByte(i) - 0x30;
    if (d > 9) return 0;
    code = code * 10 + d;
  }
  return code;
}

const GRPC_INTERNAL: u32 = 13;

/** The decimal `grpc-status` found, or UNKNOWN (2) when malformed. */
function parseGrpcStatus(fields: HeaderFields): u32 {
  const n = fields.valueLength;
  if (n == 0 || n > 2) return 2;
  let code: u32 = 0;
  for (let i = 0; i < n; i++) {
    const d = <u32>fields.valueByte(i) - 0x30;
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
