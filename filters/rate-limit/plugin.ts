/**
 * The rate-limit contexts: `RateLimitRoot` (one per plugin per worker VM) parses the
 * configuration, creates the bucket table and owns everything the request path reuses;
 * `RateLimitStream` (one per HTTP stream) decides in `proxy_on_request_headers` and
 * adds the `x-ratelimit-*` headers in `proxy_on_response_headers`.
 *
 * Per request: the rules' `match` and the key read headers through one cached view (each
 * header is fetched once), `source.address` only when a remote_address part needs it,
 * then one clock read, one shared-data read and, when tokens are taken, one CAS write
 * (limiter.ts), and one counter increment. Nothing is logged unless shared data fails.
 *
 * A denial is Envoy's local_ratelimit reply: `status` (429), details and body
 * `local_rate_limited`, with the headers of response-headers.ts; the stream stops there.
 * The local reply passes through this filter's response path too (as in Envoy), where
 * nothing more is added.
 *
 * A rule with `global` (config.ts, global.ts) asks the rate limit service once its local
 * buckets let the request through (so a flood is shed locally before it costs a call):
 * the request pauses (StopAllIterationAndWatermark) on one `proxy_grpc_call` of
 * `envoy.service.ratelimit.v3.RateLimitService/ShouldRateLimit` to the rule's `cluster`
 * with its `timeout`, and the answer resumes it (OK), refuses it (OVER_LIMIT: `status`,
 * details and body `request_rate_limited`, gRPC RESOURCE_EXHAUSTED, `retry-after` and the
 * service's x-ratelimit-* values), or, without a decision (an error status, a timeout, bytes
 * that are not a RateLimitResponse, UNKNOWN), resumes it, or refuses it with 500
 * `rate_limiter_error` under `failure_mode_deny` (Envoy's `ratelimit` filter's details).
 * A stream that ends while its call is in flight cancels the call. Rules without `global`
 * take none of this: their path is the one above, with no allocation or hostcall more.
 */
import {
  FilterHeadersStatus,
  formatInteger,
  getMonotonicTimeNanoseconds,
  getPropertyString,
  grpcMessage,
  GrpcStatus,
  HttpContext,
  isLogEnabled,
  logDebug,
  logError,
  LogLevel,
  logWarn,
  requestHeadersMap,
  RootContext,
} from "../../assembly/proxy-wasm";
import { ConfigReader } from "../../assembly/config";
import { HostRequestHeaders } from "../../assembly/match/host";
import { FILTER_NAME, GlobalLimit, RateLimitConfig, Rule, parseConfig } from "./config";
import { Decision } from "./decision";
import { AddressSource, ClientAddress, DescriptorBuilder, DescriptorKey } from "./descriptor";
import { Limiter } from "./limiter";
import { GlobalMetrics, RateLimitMetrics } from "./stats";
import { ResponseHeaders, ServiceQuota } from "./response-headers";
import { GlobalError, GlobalRequestBuilder } from "./global";
import { CODE_OK, CODE_OVER_LIMIT, RATE_LIMIT_SERVICE, RateLimitResponse, SHOULD_RATE_LIMIT } from "./rls";

/** Envoy's response code details (and body) of a local rate limit reply. */
const LOCAL_RATE_LIMITED = "local_rate_limited";
const SOURCE_ADDRESS: string[] = ["source", "address"];
/** Envoy's `ratelimit` filter's response code details: OVER_LIMIT, and a refusal for want of an answer. */
const REQUEST_RATE_LIMITED = "request_rate_limited";
const RATE_LIMITER_ERROR = "rate_limiter_error";
/** Envoy's `ratelimit` filter's default `status_on_error`. */
const STATUS_ON_ERROR: u32 = 500;
const NANOS_PER_MILLISECOND: i64 = 1000000;

/**
 * `source.address` of the current stream (Envoy's downstream remote address). Read at most
 * once per request: only `ClientAddress` asks, and it keeps its answer for the request.
 */
class StreamSourceAddress extends AddressSource {
  sourceAddress(): string | null {
    return getPropertyString(SOURCE_ADDRESS);
  }
}

/** What the calls to the rate limit service use; made only when some rule has `global`. */
class GlobalRuntime {
  readonly builder: GlobalRequestBuilder;
  readonly response: RateLimitResponse = new RateLimitResponse();
  readonly quota: ServiceQuota = new ServiceQuota();
  readonly metrics: GlobalMetrics;

  constructor(config: RateLimitConfig, client: ClientAddress) {
    this.builder = new GlobalRequestBuilder(client);
    this.metrics = GlobalMetrics.define(config);
  }
}

/** What the request path uses, built from one configuration. */
class Runtime {
  readonly limiter: Limiter;
  /** The request's client address, resolved once for the local key and the global request both. */
  readonly client: ClientAddress;
  readonly builder: DescriptorBuilder;
  readonly key: DescriptorKey = new DescriptorKey();
  readonly decision: Decision = new Decision();
  readonly headers: ResponseHeaders;
  readonly metrics: RateLimitMetrics;
  /** Null when no rule has `global`. */
  readonly global: GlobalRuntime | null;

  constructor(readonly config: RateLimitConfig, limiter: Limiter) {
    this.limiter = limiter;
    const client = new ClientAddress(config.xffNumTrustedHops);
    this.client = client;
    this.builder = new DescriptorBuilder(client, config.seed);
    this.headers = new ResponseHeaders(config);
    this.metrics = RateLimitMetrics.define(config);
    this.global = hasGlobal(config) ? new GlobalRuntime(config, client) : null;
  }
}

function hasGlobal(config: RateLimitConfig): bool {
  const rules = config.rules;
  for (let i = 0; i < rules.length; i++) if (unchecked(rules[i]).global !== null) return true;
  return false;
}

export class RateLimitRoot extends RootContext {
  runtime: Runtime | null = null;
  /** The request view, reused by every stream of this VM (one callback at a time). */
  private readonly request: HostRequestHeaders = new HostRequestHeaders(requestHeadersMap);
  private readonly source: StreamSourceAddress = new StreamSourceAddress();
  private failOpenLogged: bool = false;

  onConfigure(pluginConfigurationSize: usize): bool {
    const parsed = parseConfig(ConfigReader.fromBuffer(this.getPluginConfiguration()));
    const config = parsed.config;
    if (config === null) {
      logError(FILTER_NAME + ": " + parsed.error);
      return false;
    }
    const limiter = new Limiter(config);
    const error = limiter.createTable();
    if (error.length > 0) {
      logError(FILTER_NAME + ": " + error);
      return false;
    }
    const runtime = new Runtime(config, limiter);
    this.runtime = runtime;
    if (isLogEnabled(LogLevel.Debug)) {
      logDebug(FILTER_NAME + ": " + formatInteger(config.rules.length) + " rules; at most " + formatInteger(limiter.layout.capacity) +
        " keys in " + formatInteger(limiter.layout.pages) + " shared-data pages of " + formatInteger(limiter.layout.ways) + " slots");
    }
    return true;
  }

  createHttpContext(contextId: u32): HttpContext | null {
    return new RateLimitStream(contextId, this);
  }

  /** The request view for the current stream, emptied of the previous request's values. */
  requestView(): HostRequestHeaders {
    const request = this.request;
    request.forget();
    return request;
  }

  /** Decides a request of `rule` whose headers `request` reads; the result is in `runtime.decision`. */
  decide(runtime: Runtime, rule: Rule, request: HostRequestHeaders): Decision {
    // A new request: its client address is resolved again (then shared with askService).
    runtime.client.forget();
    runtime.builder.build(rule, request, this.source, runtime.key);
    const d = runtime.decision;
    runtime.limiter.decide(rule, runtime.key, d);
    runtime.metrics.record(d, runtime.config.enforce);
    if (d.failOpen) {
      if (!this.failOpenLogged) {
        this.failOpenLogged = true;
        logWarn(FILTER_NAME + ": shared data failed, letting requests through (counted in " + runtime.config.statPrefix + "_requests_total{outcome=\"fail_open\"})");
      } else if (isLogEnabled(LogLevel.Debug)) {
        logDebug(FILTER_NAME + ": shared data failed, request let through");
      }
    }
    return d;
  }

  /** The source of `source.address`, for the global request's `remote_address` entry. */
  get addressSource(): AddressSource {
    return this.source;
  }
}

export class RateLimitStream extends HttpContext {
  /** The decision kept for the response: rule index (-1: none applied), reported limit and numbers. */
  private ruleIndex: i32 = -1;
  private reported: i32 = 0;
  private remaining: i64 = 0;
  private resetSeconds: i64 = 0;
  /** The response is this filter's own denial, which already carries every header. */
  private deniedHere: bool = false;
  /** The ShouldRateLimit call in flight (0: none), with its runtime, rule and start (monotonic ns). */
  private callId: u32 = 0;
  private callRuntime: Runtime | null = null;
  private callRule: Rule | null = null;
  private callStart: i64 = 0;
  /** The service's x-ratelimit-limit for the response when its answer is the tighter (null: the local one). */
  private serviceLimit: string | null = null;

  constructor(contextId: u32, readonly plugin: RateLimitRoot) {
    super(contextId, plugin);
  }

  onRequestHeaders(numHeaders: u32, endOfStream: bool): FilterHeadersStatus {
    const runtime = this.plugin.runtime;
    if (runtime === null) return FilterHeadersStatus.Continue;
    const config = runtime.config;
    const request = this.plugin.requestView();
    const rules = config.rules;
    let rule: Rule | null = null;
    for (let i = 0, n = rules.length; i < n; i++) {
      if (unchecked(rules[i]).match.matches(request)) {
        rule = unchecked(rules[i]);
        break;
      }
    }
    if (rule === null) return FilterHeadersStatus.Continue;

    const d = this.plugin.decide(runtime, rule, request);
    if (!d.failOpen) {
      this.ruleIndex = rule.index;
      this.reported = d.reported;
      this.remaining = d.remaining;
      this.resetSeconds = d.resetSeconds;
      if (!d.allowed && config.enforce) {
        this.deniedHere = true;
        this.sendLocalResponse(config.status, LOCAL_RATE_LIMITED, LOCAL_RATE_LIMITED, runtime.headers.denialHeaders(d));
        return FilterHeadersStatus.StopIteration;
      }
    }
    if (rule.global === null) return FilterHeadersStatus.Continue;
    return this.askService(runtime, rule, request);
  }

  /** Sends the ShouldRateLimit call of `rule` and pauses the request; a call that cannot start is a failure at once. */
  private askService(runtime: Runtime, rule: Rule, request: HostRequestHeaders): FilterHeadersStatus {
    const global = rule.global!;
    const g = runtime.global!;
    const message = g.builder.build(rule, request, this.plugin.addressSource);
    const call = this.grpcCall(global.cluster, RATE_LIMIT_SERVICE, SHOULD_RATE_LIMIT, null, message, global.timeoutMs);
    if (!call.ok) {
      if (isLogEnabled(LogLevel.Debug)) logDebug(FILTER_NAME + ": rule " + rule.name + ": ShouldRateLimit to cluster " + global.cluster + " not sent");
      return this.noDecision(runtime, rule, GlobalError.NotSent, false) ? FilterHeadersStatus.StopIteration : FilterHeadersStatus.Continue;
    }
    this.callId = call.callId;
    this.callRuntime = runtime;
    this.callRule = rule;
    this.callStart = <i64>getMonotonicTimeNanoseconds();
    // Not StopIteration: Envoy would then pass a body on (this module takes no body callbacks).
    return FilterHeadersStatus.StopAllIterationAndWatermark;
  }

  onGrpcReceive(callId: u32, messageSize: usize): void {
    if (callId != this.callId || this.callId == 0) return;
    const runtime = this.callRuntime!;
    const rule = this.callRule!;
    this.endCall();
    const g = runtime.global!;
    const response = g.response;
    const bytes = grpcMessage.get();
    const ok = bytes === null ? response.decodeAt(0, 0) : response.decode(bytes);
    const code = response.overallCode;
    if (!ok || (code != CODE_OK && code != CODE_OVER_LIMIT)) {
      this.noDecision(runtime, rule, GlobalError.BadResponse, true);
      return;
    }
    const config = runtime.config;
    const quota = g.quota;
    quota.read(response);
    const overLimit = code == CODE_OVER_LIMIT;
    g.metrics.answered(rule.index, overLimit, config.enforce);
    if (overLimit && config.enforce) {
      this.deniedHere = true;
      this.sendLocalResponse(config.status, REQUEST_RATE_LIMITED, REQUEST_RATE_LIMITED, runtime.headers.serviceDenialHeaders(quota), GrpcStatus.ResourceExhausted);
      return;
    }
    // The response reports the tighter of the local buckets and the service's answer.
    if (config.responseHeaders && quota.present && (this.ruleIndex < 0 || quota.remaining < this.remaining)) {
      this.ruleIndex = rule.index;
      this.serviceLimit = quota.limit;
      this.remaining = quota.remaining;
      this.resetSeconds = quota.resetSeconds;
    }
    this.resumeRequest();
  }

  onGrpcClose(callId: u32, statusCode: u32): void {
    if (callId != this.callId || this.callId == 0) return;
    const runtime = this.callRuntime!;
    const rule = this.callRule!;
    const elapsed = <i64>getMonotonicTimeNanoseconds() - this.callStart;
    this.endCall();
    // Envoy ends a timed-out call with the router's local reply (UNAVAILABLE, "upstream
    // request timeout"), so the time it took tells a timeout apart.
    const timedOut = statusCode == <u32>GrpcStatus.DeadlineExceeded || elapsed >= <i64>rule.global!.timeoutMs * NANOS_PER_MILLISECOND;
    this.noDecision(runtime, rule, timedOut ? GlobalError.Timeout : GlobalError.GrpcError, true);
  }

  /**
   * A call without a decision: counted, then the request refused (`failure_mode_deny`, true
   * returned) or let through (resumed when `paused`).
   */
  private noDecision(runtime: Runtime, rule: Rule, error: GlobalError, paused: bool): bool {
    const global: GlobalLimit = rule.global!;
    const deny = global.failureModeDeny;
    runtime.global!.metrics.failed(rule.index, error, deny);
    if (deny) {
      this.deniedHere = true;
      this.sendLocalResponse(STATUS_ON_ERROR, RATE_LIMITER_ERROR, RATE_LIMITER_ERROR);
      return true;
    }
    if (paused) this.resumeRequest();
    return false;
  }

  private endCall(): void {
    this.callId = 0;
    this.callRuntime = null;
    this.callRule = null;
  }

  /**
   * A stream that ends with its call in flight (the client went away) cancels it. Here, not
   * in `onDone`: Envoy calls both when the filter is destroyed, after the access log
   * (source/extensions/common/wasm/context.cc `Context::onDestroy`), and a module that
   * exports no `proxy_on_done` saves a VM entry on every request.
   */
  onDelete(): void {
    if (this.callId != 0) {
      this.grpcCancel(this.callId);
      this.endCall();
    }
  }

  onResponseHeaders(numHeaders: u32, endOfStream: bool): FilterHeadersStatus {
    const runtime = this.plugin.runtime;
    if (this.ruleIndex < 0 || this.deniedHere || runtime === null || !runtime.config.responseHeaders) return FilterHeadersStatus.Continue;
    const rules = runtime.config.rules;
    if (this.ruleIndex >= rules.length) return FilterHeadersStatus.Continue; // reconfigured meanwhile
    const rule = unchecked(rules[this.ruleIndex]);
    const names = runtime.headers;
    const headers = this.responseHeaders;
    // Replace, not add: an upstream's own x-ratelimit-* would make the values ambiguous.
    const serviceLimit = this.serviceLimit;
    if (serviceLimit !== null) headers.replace(names.limitName, serviceLimit);
    else headers.replaceBytes(names.limitName, unchecked(rule.limitHeaderValues[min(this.reported, rule.limitHeaderValues.length - 1)]));
    headers.replaceBytes(names.remainingName, names.digits.of(this.remaining));
    headers.replaceBytes(names.resetName, names.digits.of(this.resetSeconds));
    return FilterHeadersStatus.Continue;
  }
}
