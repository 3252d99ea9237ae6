/**
 * The router filter (`envoy.filters.http.router`), after Envoy's
 * source/common/router/router.cc (Filter) and upstream_request.cc: the terminal decoder
 * filter that picks the route's cluster and a host, sends the request upstream, retries
 * per the merged retry policy (retry-state.ts), enforces the route timeout (default 15 s,
 * started when the downstream request is complete, covering all attempts and backoffs)
 * and the per-try timeout (started when the attempt's connection is ready and the
 * downstream request complete, upstream_request.cc `onPoolReady`), replays the buffered
 * request body on each retry, and answers with Envoy's local replies:
 *
 * | case                           | code | body                                                    | flag |
 * |--------------------------------|------|---------------------------------------------------------|------|
 * | no route                       | 404  | (empty)                                                 | NR   |
 * | cluster without hosts          | 503  | `no healthy upstream`                                   | UH   |
 * | connect failure / reset        | 503  | `upstream connect error or disconnect/reset before headers. [retried and the latest ]reset reason: <reason>[, transport failure reason: <text>]` | UF/UC/UR/LR |
 * | route or per-try timeout       | 504  | `upstream request timeout`                              | UT   |
 * | body over buffer while retrying| 507  | `exceeded request buffer limit while retrying upstream` |      |
 */
import { FilterDataStatus, FilterHeadersStatus, FilterTrailersStatus, type HttpFilter, type LocalReply } from '../host/filter.ts';
import { BodyBuffer } from '../host/body-buffer.ts';
import type { HeaderMap } from '../host/header-map.ts';
import type { RouteActionConfig, DirectResponseConfig, VirtualHostConfig } from './bootstrap.ts';
import type { Cluster, ClusterManager, UpstreamHost, UpstreamStream, UpstreamStreamCallbacks } from './cluster-manager.ts';
import type { StreamDecoderCallbacks } from './filter-manager.ts';
import { NO_RETRY_POLICY, RetryState, simpleAtoi, type StreamResetReason } from './retry-state.ts';
import type { ProxyStats } from './stats.ts';

/** What a resolved route carries for the router (the `entry` of ResolvedRoute). */
export interface RouteEntry {
  action: RouteActionConfig | DirectResponseConfig;
  virtualHost: VirtualHostConfig;
  /** The route's `match.prefix`, for `prefix_rewrite`. */
  prefix?: string;
}

/** Per-worker services the router uses. */
export interface RouterContext {
  clusters: ClusterManager;
  stats: ProxyStats;
  random?: () => number;
}

const RESET_FLAGS: Record<StreamResetReason, string> = {
  'local connection failure': 'UF',
  'remote connection failure': 'UF',
  'connection timeout': 'UF',
  'connection termination': 'UC',
  'local reset': 'LR',
  'local refused stream reset': 'LR',
  overflow: 'UO',
  'remote reset': 'UR',
  'remote refused stream reset': 'UR',
  'protocol error': 'UPE',
};

/** One try of the request upstream (Envoy `UpstreamRequest`): its stream's callbacks lead back to the router. */
class Attempt implements UpstreamStreamCallbacks {
  awaitingHeaders = true;
  retried = false;
  requestStarted = false;
  poolReady = false;
  /** The whole request (end of stream) was handed to this attempt (UpstreamRequest `encodeComplete`). */
  encodeComplete = false;
  /** The pool was ready before the request completed: start the per-try timer then. */
  perTryOnRequestComplete = false;
  perTryTimer: NodeJS.Timeout | undefined;
  stream!: UpstreamStream;
  constructor(
    readonly host: UpstreamHost,
    private readonly router: RouterFilter,
  ) {}

  onPoolReady(h: UpstreamHost): void {
    this.router.onPoolReady(this, h);
  }
  onHeaders(headers: HeaderMap, end: boolean): void {
    this.router.onUpstreamHeaders(this, headers, end);
  }
  onData(data: Buffer, end: boolean): void {
    this.router.onUpstreamData(this, data, end);
  }
  onTrailers(trailers: HeaderMap): void {
    this.router.onUpstreamTrailers(this, trailers);
  }
  onReset(reason: StreamResetReason, detail: string): void {
    this.router.onUpstreamReset(this, reason, detail);
  }
}

export class RouterFilter implements HttpFilter {
  private cb!: StreamDecoderCallbacks;
  private headers!: HeaderMap;
  private route!: RouteActionConfig;
  private vhost!: VirtualHostConfig;
  private cluster!: Cluster;
  private retryState: RetryState | null = null;
  private attempts: Attempt[] = [];
  private globalTimeoutMs = 0;
  private perTryTimeoutMs = 0;
  private responseTimer: NodeJS.Timeout | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private downstreamEndStream = false;
  private downstreamTrailers: HeaderMap | null = null;
  private requestCompleteAt = 0;
  private downstreamResponseStarted = false;
  private pendingRetries = 0;
  private attemptCount = 1;
  private isRetry = false;
  private includeAttemptCountInResponse = false;
  private destroyed = false;

  constructor(private readonly ctx: RouterContext) {}

  setDecoderFilterCallbacks(callbacks: unknown): void {
    this.cb = callbacks as StreamDecoderCallbacks;
  }
  setEncoderFilterCallbacks(): void {}

  private setFlag(flag: string): void {
    const info = this.cb.streamInfo;
    const flags = info.responseFlags ? info.responseFlags.split(',') : [];
    if (!flags.includes(flag)) flags.push(flag);
    info.responseFlags = flags.join(',');
  }

  /** router.cc `modify_headers_`: `x-envoy-attempt-count` on the response when the virtual host asks. */
  private readonly modifyHeaders = (h: HeaderMap): void => {
    if (this.includeAttemptCountInResponse) h.set('x-envoy-attempt-count', String(this.attemptCount));
  };

  private localReply(reply: LocalReply): void {
    this.cb.sendLocalReplyWith(reply, this.modifyHeaders);
  }

  decodeHeaders(headers: HeaderMap, endStream: boolean): FilterHeadersStatus {
    this.headers = headers;
    const resolved = this.cb.resolvedRoute();
    if (!resolved) {
      this.setFlag('NR');
      this.localReply({ status: 404, body: '', details: 'route_not_found' });
      return FilterHeadersStatus.StopIteration;
    }
    const entry = resolved.entry as RouteEntry;
    if (entry.action.kind === 'direct_response') {
      this.localReply({ status: entry.action.status, body: entry.action.body, details: 'direct_response' });
      return FilterHeadersStatus.StopIteration;
    }
    this.route = entry.action;
    this.vhost = entry.virtualHost;
    const cluster = this.ctx.clusters.get(this.route.cluster);
    if (!cluster) {
      this.setFlag('NC');
      this.localReply({ status: 503, body: '', details: 'cluster_not_found' });
      return FilterHeadersStatus.StopIteration;
    }
    this.cluster = cluster;
    const host = cluster.chooseHost();
    if (!host) {
      this.sendNoHealthyUpstream();
      return FilterHeadersStatus.StopIteration;
    }
    const policy = this.route.retryPolicy ?? this.vhost.retryPolicy;
    this.finalTimeout(headers, policy?.perTryTimeoutMs ?? 0);
    if (this.vhost.includeRequestAttemptCount) headers.set('x-envoy-attempt-count', String(this.attemptCount));
    this.includeAttemptCountInResponse = this.vhost.includeAttemptCountInResponse;
    this.cb.streamInfo.attemptCount = this.attemptCount;
    this.finalizeRequestHeaders(headers);
    this.retryState = RetryState.create(policy ?? NO_RETRY_POLICY, headers, this.cluster.retryHooks, this.ctx.random);
    this.startAttempt(host, endStream);
    if (endStream) this.onRequestComplete();
    return FilterHeadersStatus.StopIteration;
  }

  /** FilterUtility::finalTimeout + setTimeoutHeaders (router.cc). */
  private finalTimeout(headers: HeaderMap, routePerTryMs: number): void {
    this.globalTimeoutMs = this.route.timeoutMs;
    this.perTryTimeoutMs = routePerTryMs;
    const global = headers.get('x-envoy-upstream-rq-timeout-ms');
    if (global !== undefined) {
      this.globalTimeoutMs = simpleAtoi(global) ?? this.globalTimeoutMs;
      headers.remove('x-envoy-upstream-rq-timeout-ms');
    }
    const perTry = headers.get('x-envoy-upstream-rq-per-try-timeout-ms');
    if (perTry) {
      this.perTryTimeoutMs = simpleAtoi(perTry) ?? this.perTryTimeoutMs;
      headers.remove('x-envoy-upstream-rq-per-try-timeout-ms');
    }
    if (this.perTryTimeoutMs >= this.globalTimeoutMs && this.globalTimeoutMs !== 0) this.perTryTimeoutMs = 0;
    this.setTimeoutHeaders(0);
  }

  private setTimeoutHeaders(elapsedMs: number): void {
    let expected = this.perTryTimeoutMs || this.globalTimeoutMs;
    if (expected > 0) {
      if (this.globalTimeoutMs > 0) expected = elapsedMs >= this.globalTimeoutMs ? 1 : Math.min(expected, this.globalTimeoutMs - elapsedMs);
      this.headers.set('x-envoy-expected-rq-timeout-ms', String(Math.floor(expected)));
    }
  }

  /** RouteEntry::finalizeRequestHeaders: rewrites, and `:scheme` when a filter removed it. */
  private finalizeRequestHeaders(headers: HeaderMap): void {
    if (this.route.prefixRewrite !== undefined) {
      const p = headers.get(':path') ?? '/';
      const m = (this.cb.resolvedRoute()?.entry as RouteEntry | undefined)?.prefix;
      if (m !== undefined && p.startsWith(m)) {
        headers.set('x-envoy-original-path', p);
        headers.set(':path', this.route.prefixRewrite + p.slice(m.length));
      }
    }
    if (this.route.hostRewriteLiteral !== undefined) headers.set(':authority', this.route.hostRewriteLiteral);
    if (!headers.has(':scheme')) headers.set(':scheme', headers.get('x-forwarded-proto') === 'https' ? 'https' : 'http');
  }

  private sendNoHealthyUpstream(): void {
    this.setFlag('UH');
    this.chargeCode(503, null);
    this.localReply({ status: 503, body: 'no healthy upstream', details: 'no_healthy_upstream' });
  }

  /** chargeUpstreamCode: cluster `upstream_rq_<code>` and the host's success/error. */
  private chargeCode(code: number, host: UpstreamHost | null): void {
    this.ctx.stats.clusterCode(this.cluster.name, code);
    if (host) this.ctx.stats.host(this.cluster.name, host.address, code >= 500 ? 'rq_error' : 'rq_success');
  }

  private startAttempt(host: UpstreamHost, endStream: boolean): Attempt {
    const a = new Attempt(host, this);
    this.attempts.push(a);
    a.stream = this.cluster.newStream(host, a, this.cb.streamInfo.protocol === 'HTTP/2');
    a.requestStarted = true;
    if (endStream) a.encodeComplete = true;
    a.stream.sendHeaders(this.headers, endStream);
    return a;
  }

  /** UpstreamRequest::onPoolReady: the attempt is on the wire. */
  onPoolReady(a: Attempt, h: UpstreamHost): void {
    a.poolReady = true;
    this.ctx.stats.cluster(this.cluster.name, 'upstream_rq_total');
    this.ctx.stats.cluster(this.cluster.name, 'upstream_rq_active');
    this.ctx.stats.host(this.cluster.name, h.address, 'rq_total');
    this.ctx.stats.host(this.cluster.name, h.address, 'rq_active');
    this.cb.streamInfo.upstreamAddress = h.address;
    if (this.downstreamEndStream) this.setupPerTryTimeout(a);
    else a.perTryOnRequestComplete = true;
  }

  private setupPerTryTimeout(a: Attempt): void {
    if (this.perTryTimeoutMs > 0 && !a.perTryTimer) a.perTryTimer = setTimeout(() => this.onPerTryTimeout(a), this.perTryTimeoutMs);
  }

  decodeData(data: BodyBuffer, endStream: boolean): FilterDataStatus {
    let buffering = this.retryState !== null && this.retryState.retryOn !== 0;
    const bufferedLen = this.cb.decodingBuffer()?.length ?? 0;
    if (buffering && bufferedLen + data.length > this.cb.bufferLimit) {
      this.ctx.stats.cluster(this.cluster.name, 'retry_or_shadow_abandoned');
      this.retryState?.release();
      this.retryState = null;
      buffering = false;
      if (!this.attempts.length) {
        this.cleanup();
        this.localReply({ status: 507, body: 'exceeded request buffer limit while retrying upstream', details: 'request_payload_exceeded_retry_buffer_limit' });
        return FilterDataStatus.StopIterationNoBuffer;
      }
    }
    const bytes = data.drain();
    if (buffering) {
      if (this.attempts.length) this.sendData(this.attempts[0], Buffer.from(bytes), endStream);
      // Kept in the decoding buffer to replay on retry; watermark (not 413) if it grows.
      this.cb.addDecodedData(new BodyBuffer(bytes), true);
    } else if (this.attempts.length) {
      this.sendData(this.attempts[0], bytes, endStream);
    }
    if (endStream) this.onRequestComplete();
    return FilterDataStatus.StopIterationNoBuffer;
  }

  decodeTrailers(trailers: HeaderMap): FilterTrailersStatus {
    this.downstreamTrailers = trailers;
    if (this.attempts.length) this.sendTrailers(this.attempts[0], trailers);
    this.onRequestComplete();
    return FilterTrailersStatus.StopIteration;
  }

  private sendData(a: Attempt, data: Buffer, endStream: boolean): void {
    if (endStream) a.encodeComplete = true;
    a.stream.sendData(data, endStream);
  }

  private sendTrailers(a: Attempt, trailers: HeaderMap): void {
    a.encodeComplete = true;
    a.stream.sendTrailers(trailers);
  }

  /** Filter::onRequestComplete: the route timeout starts when the whole request is in. */
  private onRequestComplete(): void {
    this.downstreamEndStream = true;
    this.requestCompleteAt = performance.now();
    if (this.attempts.length) {
      if (this.globalTimeoutMs > 0) this.responseTimer = setTimeout(() => this.onResponseTimeout(), this.globalTimeoutMs);
      for (const a of this.attempts) if (a.perTryOnRequestComplete) this.setupPerTryTimeout(a);
    }
  }

  private removeAttempt(a: Attempt): void {
    clearTimeout(a.perTryTimer);
    const i = this.attempts.indexOf(a);
    if (i >= 0) this.attempts.splice(i, 1);
    if (a.poolReady) {
      a.poolReady = false;
      this.ctx.stats.cluster(this.cluster.name, 'upstream_rq_active', -1);
      this.ctx.stats.host(this.cluster.name, a.host.address, 'rq_active', -1);
    }
  }

  private scheduleRetry(backoffMs: number, timeoutRetry: boolean): void {
    this.pendingRetries++;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.doRetry(timeoutRetry);
    }, backoffMs);
  }

  /** Filter::doRetry: a new attempt with the (buffered) request replayed. */
  private doRetry(_timeoutRetry: boolean): void {
    if (this.destroyed) return;
    this.isRetry = true;
    this.attemptCount++;
    this.cb.streamInfo.attemptCount = this.attemptCount;
    this.pendingRetries--;
    const host = this.cluster.chooseHost();
    if (!host) {
      this.sendNoHealthyUpstream();
      this.cleanup();
      return;
    }
    if (this.vhost.includeRequestAttemptCount) this.headers.set('x-envoy-attempt-count', String(this.attemptCount));
    this.setTimeoutHeaders(this.requestCompleteAt ? performance.now() - this.requestCompleteAt : 0);
    const buffer = this.cb.decodingBuffer();
    const a = this.startAttempt(host, !buffer && !this.downstreamTrailers && this.downstreamEndStream);
    if (!this.attempts.includes(a)) return;
    if (buffer) this.sendData(a, Buffer.from(buffer.bytes()), !this.downstreamTrailers && this.downstreamEndStream);
    if (this.downstreamTrailers) this.sendTrailers(a, this.downstreamTrailers);
  }

  onUpstreamHeaders(a: Attempt, headers: HeaderMap, endStream: boolean): void {
    if (this.destroyed) return;
    a.awaitingHeaders = false;
    const code = Number(headers.get(':status') ?? 0);
    this.modifyHeaders(headers);
    if (this.retryState) {
      if (!a.retried) {
        const r = this.retryState.shouldRetry(this.retryState.wouldRetryFromHeaders(code, headers));
        if (r.status === 'yes') {
          this.ctx.stats.host(this.cluster.name, a.host.address, 'rq_error');
          this.ctx.stats.clusterCode(this.cluster.name, code, true);
          if (!endStream || !a.encodeComplete) a.stream.reset();
          this.removeAttempt(a);
          this.scheduleRetry(r.backoffMs, false);
          return;
        }
        if (r.status === 'overflow') this.setFlag('UO');
        else if (r.status === 'limit-exceeded') this.setFlag('URX');
      }
      this.retryState.release();
      this.retryState = null;
    }
    if (this.requestCompleteAt) headers.set('x-envoy-upstream-service-time', String(Math.round(performance.now() - this.requestCompleteAt)));
    this.chargeCode(code, a.host);
    this.cb.streamInfo.upstreamAddress = a.host.address;
    this.downstreamResponseStarted = true;
    if (endStream) this.onUpstreamComplete(a);
    this.cb.encodeHeaders(headers, endStream, 'via_upstream');
  }

  onUpstreamData(a: Attempt, data: Buffer, endStream: boolean): void {
    if (this.destroyed) return;
    if (endStream) this.onUpstreamComplete(a);
    this.cb.encodeData(data, endStream);
  }

  onUpstreamTrailers(a: Attempt, trailers: HeaderMap): void {
    if (this.destroyed) return;
    this.onUpstreamComplete(a);
    this.cb.encodeTrailers(trailers);
  }

  private onUpstreamComplete(a: Attempt): void {
    if (!this.downstreamEndStream) a.stream.reset();
    this.ctx.stats.cluster(this.cluster.name, 'upstream_rq_completed');
    this.removeAttempt(a);
    this.cleanup();
  }

  /** Filter::maybeRetryReset. */
  private maybeRetryReset(reason: StreamResetReason, a: Attempt, timeoutRetry: boolean): boolean {
    if (this.downstreamResponseStarted || !this.retryState || a.retried) return false;
    const r = this.retryState.shouldRetry(this.retryState.wouldRetryFromReset(reason, a.requestStarted && a.poolReady));
    if (r.status === 'yes') {
      this.ctx.stats.host(this.cluster.name, a.host.address, 'rq_error');
      this.removeAttempt(a);
      this.scheduleRetry(r.backoffMs, timeoutRetry);
      return true;
    }
    if (r.status === 'overflow') this.setFlag('UO');
    else if (r.status === 'limit-exceeded') this.setFlag('URX');
    return false;
  }

  /** Filter::onUpstreamReset. */
  onUpstreamReset(a: Attempt, reason: StreamResetReason, transportFailure: string): void {
    if (this.destroyed || !this.attempts.includes(a)) return;
    if (reason === 'remote reset' || reason === 'remote refused stream reset') this.ctx.stats.cluster(this.cluster.name, 'upstream_rq_rx_reset');
    if (this.maybeRetryReset(reason, a, false)) return;
    const code = reason === 'protocol error' ? 502 : 503;
    if (!this.downstreamResponseStarted) this.chargeCode(code, a.host);
    this.removeAttempt(a);
    if (this.pendingRetries > 0) return;
    const body = `upstream connect error or disconnect/reset before headers. ${this.isRetry ? 'retried and the latest ' : ''}reset reason: ${reason}${transportFailure ? `, transport failure reason: ${transportFailure}` : ''}`;
    const basic = this.downstreamResponseStarted ? 'upstream_reset_after_response_started' : 'upstream_reset_before_response_started';
    const details = `${basic}{${reason}${transportFailure ? `,${transportFailure}` : ''}}`.replace(/ /g, '_');
    this.onUpstreamAbort(code, RESET_FLAGS[reason], body, details);
  }

  /** Filter::onResponseTimeout: the route timeout fired. */
  private onResponseTimeout(): void {
    this.responseTimer = undefined;
    for (const a of [...this.attempts]) {
      this.ctx.stats.cluster(this.cluster.name, 'upstream_rq_timeout');
      this.ctx.stats.host(this.cluster.name, a.host.address, 'rq_timeout');
      if (a.awaitingHeaders && !this.downstreamResponseStarted) this.chargeCode(504, a.host);
      a.stream.reset();
      this.removeAttempt(a);
    }
    this.onUpstreamAbort(504, 'UT', 'upstream request timeout', 'upstream_response_timeout');
  }

  /** Filter::onPerTryTimeout. */
  private onPerTryTimeout(a: Attempt): void {
    a.perTryTimer = undefined;
    if (this.destroyed || !this.attempts.includes(a)) return;
    this.ctx.stats.cluster(this.cluster.name, 'upstream_rq_per_try_timeout');
    this.ctx.stats.host(this.cluster.name, a.host.address, 'rq_timeout');
    a.stream.reset();
    if (this.maybeRetryReset('local reset', a, true)) return;
    if (!this.downstreamResponseStarted) this.chargeCode(504, a.host);
    this.removeAttempt(a);
    this.onUpstreamAbort(504, 'UT', 'upstream request timeout', 'upstream_per_try_timeout');
  }

  /** Filter::onUpstreamAbort: a local reply, or a reset once the response started (filter manager decides). */
  private onUpstreamAbort(code: number, flag: string, body: string, details: string): void {
    this.setFlag(flag);
    this.cleanup();
    this.localReply({ status: code, body, details });
  }

  private cleanup(): void {
    this.retryState?.release();
    this.retryState = null;
    clearTimeout(this.responseTimer);
    this.responseTimer = undefined;
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
  }

  /** Filter::onDestroy: resets in-flight upstream requests (client gone or stream done). */
  onDestroy(): void {
    this.destroyed = true;
    for (const a of [...this.attempts]) {
      a.stream.reset();
      if (this.cluster) this.ctx.stats.cluster(this.cluster.name, 'upstream_rq_cancelled');
      this.removeAttempt(a);
    }
    this.cleanup();
  }
}
