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
 */
import { formatInteger } from "../../assembly/proxy-wasm/format";
import {
  FilterHeadersStatus,
  HttpContext,
  LogLevel,
  RootContext,
  getPropertyString,
  isLogEnabled,
  logDebug,
  logError,
  logWarn,
} from "../../assembly/proxy-wasm";
import { requestHeadersMap } from "../../assembly/proxy-wasm/headers";
import { HostRequestHeaders } from "../../assembly/match/host";
import { FILTER_NAME, RateLimitConfig, Rule, parseConfigAt } from "./config";
import { Decision } from "./decision";
import { AddressSource, DescriptorBuilder, DescriptorKey } from "./descriptor";
import { Limiter } from "./limiter";
import { RateLimitMetrics } from "./metrics";
import { ResponseHeaders } from "./response-headers";

/** Envoy's response code details (and body) of a local rate limit reply. */
const LOCAL_RATE_LIMITED = "local_rate_limited";
const SOURCE_ADDRESS: string[] = ["source", "address"];

/** `source.address` of the current stream (Envoy's downstream remote address). */
class StreamSourceAddress extends AddressSource {
  sourceAddress(): string | null {
    return getPropertyString(SOURCE_ADDRESS);
  }
}

/** What the request path uses, built from one configuration. */
class Runtime {
  readonly limiter: Limiter;
  readonly builder: DescriptorBuilder;
  readonly key: DescriptorKey = new DescriptorKey();
  readonly decision: Decision = new Decision();
  readonly headers: ResponseHeaders;
  metrics: RateLimitMetrics | null = null;

  constructor(readonly config: RateLimitConfig, limiter: Limiter) {
    this.limiter = limiter;
    this.builder = new DescriptorBuilder(config.xffNumTrustedHops, config.seed);
    this.headers = new ResponseHeaders(config);
  }
}

export class RateLimitRoot extends RootContext {
  runtime: Runtime | null = null;
  /** The request view, reused by every stream of this VM (one callback at a time). */
  private readonly request: HostRequestHeaders = new HostRequestHeaders(requestHeadersMap);
  private readonly source: StreamSourceAddress = new StreamSourceAddress();
  private failOpenLogged: bool = false;

  onConfigure(pluginConfigurationSize: usize): bool {
    const buffer = this.getPluginConfiguration();
    const parsed = buffer === null ? parseConfigAt(0, 0) : parseConfigAt(changetype<usize>(buffer), buffer.byteLength);
    const config = parsed.config;
    if (config === null) {
      logError(parsed.error);
      return false;
    }
    const limiter = this.makeLimiter(config);
    const error = limiter.createTable();
    if (error.length > 0) {
      logError(FILTER_NAME + ": " + error);
      return false;
    }
    const runtime = new Runtime(config, limiter);
    runtime.metrics = RateLimitMetrics.define(config);
    this.runtime = runtime;
    if (isLogEnabled(LogLevel.Debug)) {
      logDebug(FILTER_NAME + ": " + formatInteger(config.rules.length) + " rules; at most " + formatInteger(limiter.layout.capacity) +
        " keys in " + formatInteger(limiter.layout.pages) + " shared-data pages of " + formatInteger(limiter.layout.ways) + " slots");
    }
    return true;
  }

  /** The limiter for `config`; tests substitute one that writes differently. */
  protected makeLimiter(config: RateLimitConfig): Limiter {
    return new Limiter(config);
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
    runtime.builder.build(rule, request, this.source, runtime.key);
    const d = runtime.decision;
    runtime.limiter.decide(rule, runtime.key, d);
    runtime.metrics!.record(d, runtime.config.enforce);
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
}

export class RateLimitStream extends HttpContext {
  /** The decision kept for the response: rule index (-1: none applied), reported limit and numbers. */
  private ruleIndex: i32 = -1;
  private reported: i32 = 0;
  private remaining: i64 = 0;
  private resetSeconds: i64 = 0;
  /** The response is this filter's own denial, which already carries every header. */
  private deniedHere: bool = false;

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
    if (d.failOpen) return FilterHeadersStatus.Continue;
    this.ruleIndex = rule.index;
    this.reported = d.reported;
    this.remaining = d.remaining;
    this.resetSeconds = d.resetSeconds;
    if (d.allowed || !config.enforce) return FilterHeadersStatus.Continue;
    this.deniedHere = true;
    this.sendLocalResponse(config.status, LOCAL_RATE_LIMITED, LOCAL_RATE_LIMITED, runtime.headers.denialHeaders(d));
    return FilterHeadersStatus.StopIteration;
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
    headers.replaceBytes(names.limitName, unchecked(rule.limitHeaderValues[min(this.reported, rule.limitHeaderValues.length - 1)]));
    headers.replaceBytes(names.remainingName, names.digits.of(this.remaining));
    headers.replaceBytes(names.resetName, names.digits.of(this.resetSeconds));
    return FilterHeadersStatus.Continue;
  }
}
