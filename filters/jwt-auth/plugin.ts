/**
 * jwt-auth's contexts: the root context (configuration, remote keys, the verified-token
 * cache, streams paused for keys) and the stream context (the request path described in
 * index.ts).
 */
import {
  FilterHeadersStatus, HeaderPair, HttpContext, LogLevel, RootContext, getCurrentTimeMilliseconds, isLogEnabled, logDebug,
  logError,
} from "../../assembly/proxy-wasm";
import { ConfigReader } from "../../assembly/config";
import { Authenticator } from "./authenticator";
import { JwtAuthConfig, Rule, parseConfig } from "./config";
import { JwksCache } from "./jwks-cache";
import { HostAuthRequest } from "./host-request";
import { FieldName } from "./request";
import { Reason, isDenial, reasonInfo } from "./reasons";
import { Verdict, evaluateRule } from "./requirements";
import { challenge, denialBody, denialDetails } from "./response";
import { MetricStats, Stats } from "./stats";
import { TokenCache } from "./token-cache";

/** Tick period while keys are missing or streams wait (ms): how soon other workers' fetches are noticed. */
const FAST_TICK_MS: u32 = 50;
/** Tick period otherwise: refresh checks and cache sweeps. */
const SLOW_TICK_MS: u32 = 1000;

/** How an evaluation ended for a stream. */
enum Outcome {
  Allowed = 0,
  Denied = 1,
  Pending = 2,
}

/** The plugin's root context: configuration, keys, the verified-token cache, paused streams. */
export class JwtAuthRoot extends RootContext {
  config: JwtAuthConfig = new JwtAuthConfig();
  stats: Stats = new Stats();
  jwks: JwksCache | null = null;
  auth: Authenticator | null = null;
  cache: TokenCache = new TokenCache(0);
  /** Streams paused until keys arrive. */
  private waiting: JwtAuthStream[] = [];
  /** The request view, pointed at the stream being evaluated (host-request.ts). */
  private request: HostAuthRequest | null = null;
  private readonly verdict: Verdict = new Verdict();
  private tickPeriod: u32 = 0;

  onConfigure(size: usize): bool {
    const parsed = parseConfig(ConfigReader.fromBuffer(this.getPluginConfiguration()));
    const config = parsed.config;
    if (config === null) {
      logError("jwt-auth: " + parsed.error);
      return false;
    }
    this.config = config;
    this.stats = MetricStats.define(config);
    this.cache = new TokenCache(config.cacheMaxEntries);
    const jwks = new JwksCache(this, config, this.stats);
    this.jwks = jwks;
    this.auth = new Authenticator(config, jwks, this.cache, this.stats);
    this.adjustTick();
    return true;
  }

  createHttpContext(contextId: u32): HttpContext | null {
    return new JwtAuthStream(contextId, this);
  }

  onTick(): void {
    const now = <i64>getCurrentTimeMilliseconds();
    const jwks = this.jwks;
    if (jwks === null) return; // not configured: nothing to fetch, nobody waiting
    jwks.onTick(now);
    this.cache.sweep(<f64>(now / 1000));
    this.evaluateWaiting();
  }

  onHttpCallResponse(callId: u32, numHeaders: u32, bodySize: usize, numTrailers: u32): void {
    const jwks = this.jwks;
    if (jwks !== null && jwks.onHttpCallResponse(callId, numHeaders, bodySize, <i64>getCurrentTimeMilliseconds())) this.evaluateWaiting();
  }

  /** Evaluates `stream`'s requirement now; answers it on denial. */
  run(stream: JwtAuthStream): Outcome {
    const auth = this.auth;
    if (auth === null) {
      // Envoy runs no stream of a plugin whose configuration failed; refuse rather than trap.
      stream.deny(Reason.JwksUnavailable);
      return Outcome.Denied;
    }
    const verdict = this.verdict;
    const rule = stream.rule!;
    auth.begin(this.requestOf(stream), rule, <i64>getCurrentTimeMilliseconds(), stream.waits);
    evaluateRule(rule, auth, verdict);
    const reason = verdict.reason;
    if (reason == Reason.Pending) {
      stream.waits = auth.waitsToKeep();
      return Outcome.Pending;
    }
    if (isDenial(reason)) {
      this.stats.countDenied(reason, verdict.provider);
      stream.sanitize(0);
      stream.deny(reason);
      return Outcome.Denied;
    }
    // Headers this request writes replace their incoming copies; the rest are removed after.
    stream.sanitize(auth.applyEffects(stream.sanitized ? ALL_WRITTEN : 0));
    this.stats.countAllowed();
    return Outcome.Allowed;
  }

  /** The request view, pointed at `stream`. */
  requestOf(stream: HttpContext): HostAuthRequest {
    let request = this.request;
    if (request === null) this.request = request = new HostAuthRequest(stream);
    return request.use(stream);
  }

  /** Pauses `stream` until keys arrive (or will not). */
  wait(stream: JwtAuthStream): void {
    this.waiting.push(stream);
    this.adjustTick();
  }

  /** Evaluates every paused stream again: resumes the allowed, answers the denied, keeps the pending. */
  private evaluateWaiting(): void {
    const waiting = this.waiting;
    if (waiting.length > 0) {
      const still = new Array<JwtAuthStream>();
      for (let i = 0, n = waiting.length; i < n; i++) {
        const stream = unchecked(waiting[i]);
        if (stream.deleted) continue;
        this.requestOf(stream).restart();
        const outcome = this.run(stream);
        if (outcome == Outcome.Pending) still.push(stream);
        else if (outcome == Outcome.Allowed) stream.resumeRequest();
      }
      this.waiting = still;
    }
    this.adjustTick();
  }

  private adjustTick(): void {
    const jwks = this.jwks;
    const period = this.waiting.length > 0 || (jwks !== null && jwks.missingKeys) ? FAST_TICK_MS : SLOW_TICK_MS;
    if (period != this.tickPeriod) {
      this.tickPeriod = period;
      this.setTickPeriodMilliseconds(period);
    }
  }
}

const CONTENT_TYPE_JSON = new HeaderPair("content-type", "application/json");
const SCHEME = new FieldName(":scheme");
const AUTHORITY = new FieldName(":authority");
/** The denial's headers; `deny` sets the first two values. */
const DENIAL_CHALLENGE = new HeaderPair("www-authenticate", "");
const DENIAL_REASON = new HeaderPair("x-jwt-auth-reason", "");
const DENIAL_HEADERS: HeaderPair[] = [DENIAL_CHALLENGE, DENIAL_REASON, CONTENT_TYPE_JSON];
/** A write mask with every sanitized header marked written (they were removed first). */
const ALL_WRITTEN: u64 = u64.MAX_VALUE;

/** One request: match a rule, evaluate it, sanitize (index.ts has the whole path). */
export class JwtAuthStream extends HttpContext {
  /** The rule that applies (one with `requires`). */
  rule: Rule | null = null;
  /** While paused: the key fetches it waits for (Authenticator.waitsToKeep). */
  waits: StaticArray<u32> | null = null;
  /** Whether the incoming copies of the headers jwt-auth writes are gone (`sanitize`). */
  sanitized: bool = false;

  constructor(contextId: u32, readonly plugin: JwtAuthRoot) {
    super(contextId, plugin);
  }

  onRequestHeaders(numHeaders: u32, endOfStream: bool): FilterHeadersStatus {
    const plugin = this.plugin;
    const config = plugin.config;
    const request = plugin.requestOf(this).restart();
    if (config.sanitizeFirst) this.sanitize(0);
    if (config.bypassCorsPreflight && request.method() == "OPTIONS" && request.header("origin") !== null &&
        request.header("access-control-request-method") !== null) {
      plugin.stats.countCorsPreflight();
      this.sanitize(0);
      return FilterHeadersStatus.Continue;
    }
    const rules = config.rules;
    let matched: Rule | null = null;
    for (let i = 0, n = rules.length; i < n; i++) {
      const rule = unchecked(rules[i]);
      if (rule.match.matches(request)) {
        matched = rule;
        break;
      }
    }
    if (matched === null || matched.requires === null) {
      this.sanitize(0);
      return FilterHeadersStatus.Continue;
    }
    this.rule = matched;
    const outcome = plugin.run(this);
    if (outcome == Outcome.Allowed) return FilterHeadersStatus.Continue;
    if (outcome == Outcome.Pending) plugin.wait(this);
    return FilterHeadersStatus.StopAllIterationAndWatermark;
  }

  /**
   * Removes the incoming copies of every header jwt-auth writes for upstream
   * (filters.md: a client can never forge them), except those in `written` (bits by
   * `FieldName.sanitizedIndex`: the request wrote them over their copies). Done once,
   * before the request goes on (or first of all, `JwtAuthConfig.sanitizeFirst`). A
   * header is looked up before it is removed: most requests carry none, and a lookup
   * that misses is cheaper than a removal (Envoy context.cc `removeHeaderMapValue`
   * clears the route cache every time).
   */
  sanitize(written: u64): void {
    if (this.sanitized) return;
    this.sanitized = true;
    const request = this.plugin.requestOf(this);
    const names = this.plugin.config.sanitizedHeaders;
    for (let i = 0, n = names.length; i < n; i++) {
      if (i < 64 && (written >> <u64>i) & 1) continue;
      const name = unchecked(names[i]);
      if (request.hadHeader(name)) request.removeHeader(name);
    }
  }

  /** Answers 401/403 for `reason` (response.ts). */
  deny(reason: Reason): void {
    const request = this.plugin.requestOf(this);
    // From the header map the evaluation read: no hostcall.
    const scheme = request.text(SCHEME);
    const authority = request.text(AUTHORITY);
    const info = reasonInfo(reason);
    if (isLogEnabled(LogLevel.Debug)) logDebug("jwt-auth: " + request.path() + ": " + info.message);
    // Reused: a callback at a time, and the host copies them before it returns.
    DENIAL_CHALLENGE.value = challenge(reason, scheme, authority, request.path());
    DENIAL_REASON.value = info.name;
    this.sendLocalResponse(info.status, denialDetails(reason), denialBody(reason), DENIAL_HEADERS);
  }
}

