/**
 * A worker's cluster manager: static clusters, round-robin host selection, and its own
 * upstream connections — HTTP/1.1 through a keep-alive `http.Agent` per cluster (one
 * request per connection at a time, like Envoy's HTTP/1 pool) and HTTP/2 (h2c with prior
 * knowledge) through one `http2` session per host — as each cluster's protocol options
 * say. Connection failures map to Envoy's stream reset reasons
 * (source/common/router/upstream_request.cc `onPoolFailure`, source/common/http/utility.cc
 * `resetReasonToString`): refused/unreachable → `remote connection failure`,
 * `connect_timeout` → `connection timeout`, a closed connection before the response →
 * `connection termination`, HTTP/2 RST_STREAM REFUSED_STREAM → `remote refused stream reset`,
 * another RST_STREAM → `remote reset`.
 */
import http from 'node:http';
import http2 from 'node:http2';
import type net from 'node:net';
import { HeaderMap } from '../host/header-map.ts';
import type { ClusterConfig } from './bootstrap.ts';
import type { RetryClusterHooks, StreamResetReason } from './retry-state.ts';
import type { ProxyStats } from './stats.ts';

export interface UpstreamHost {
  /** `ip:port`, the host's address (stats, `/clusters`, `upstream.address`). */
  address: string;
  ip: string;
  port: number;
  /** The name it was resolved from (STRICT_DNS), or ''. */
  hostname: string;
}

export interface UpstreamStreamCallbacks {
  /** Connected and the request is on the wire (Envoy onPoolReady): counts `upstream_rq_total`. */
  onPoolReady(host: UpstreamHost): void;
  onHeaders(headers: HeaderMap, endStream: boolean): void;
  onData(data: Buffer, endStream: boolean): void;
  onTrailers(trailers: HeaderMap): void;
  onReset(reason: StreamResetReason, transportFailureReason: string): void;
}

/** One request to one upstream host (Envoy `GenericUpstream` + codec stream). */
export interface UpstreamStream {
  readonly host: UpstreamHost;
  sendHeaders(headers: HeaderMap, endStream: boolean): void;
  sendData(data: Buffer, endStream: boolean): void;
  sendTrailers(trailers: HeaderMap): void;
  /** Local reset; no callbacks follow. */
  reset(): void;
}

/** strerror-style text of a connect error, as Envoy's transport failure reason shows it. */
function connectErrorText(err: NodeJS.ErrnoException): string {
  const text: Record<string, string> = {
    ECONNREFUSED: 'Connection refused',
    EHOSTUNREACH: 'No route to host',
    ENETUNREACH: 'Network is unreachable',
    ECONNRESET: 'Connection reset by peer',
    ETIMEDOUT: 'Connection timed out',
  };
  return `delayed connect error: ${text[err.code ?? ''] ?? err.code ?? err.message}`;
}

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'host']);

export class Cluster {
  private rr = 0;
  readonly agent: http.Agent;
  private readonly sessions = new Map<string, http2.ClientHttp2Session>();
  /**
   * The cluster's side of every request's retry state: its `max_retries` circuit breaker
   * (Envoy `ClusterInfo::resourceManager().retries()`) and retry stats. Made once here,
   * not per request.
   */
  readonly retryHooks: RetryClusterHooks;

  constructor(
    readonly config: ClusterConfig,
    readonly hosts: UpstreamHost[],
    readonly stats: ProxyStats,
  ) {
    this.agent = new http.Agent({ keepAlive: true, maxSockets: Infinity, scheduling: 'lifo' });
    const name = config.name;
    const max = config.maxRetries;
    this.retryHooks = {
      tryOpenRetry: () => stats.tryOpenRetry(name, max),
      closeRetry: () => stats.closeRetry(name),
      onRetry: () => {
        stats.cluster(name, 'upstream_rq_retry');
        stats.cluster(name, 'upstream_rq_retry_backoff_exponential');
      },
      onRetrySuccess: () => stats.cluster(name, 'upstream_rq_retry_success'),
      onRetryLimitExceeded: () => stats.cluster(name, 'upstream_rq_retry_limit_exceeded'),
      onRetryOverflow: () => stats.cluster(name, 'upstream_rq_retry_overflow'),
    };
  }

  get name(): string {
    return this.config.name;
  }

  /** Round robin over all hosts (no health checking: every host is healthy); null when the cluster is empty. */
  chooseHost(): UpstreamHost | null {
    if (!this.hosts.length) return null;
    const h = this.hosts[this.rr % this.hosts.length];
    this.rr = (this.rr + 1) % this.hosts.length;
    return h;
  }

  /** Opens a stream to `host`, HTTP/2 or HTTP/1.1 per the cluster (`downstreamHttp2` for `use_downstream_protocol_config`). */
  newStream(host: UpstreamHost, cb: UpstreamStreamCallbacks, downstreamHttp2: boolean): UpstreamStream {
    const h2 = this.config.protocol === 'HTTP2' || (this.config.protocol === 'DOWNSTREAM' && downstreamHttp2);
    return h2 ? this.h2Stream(host, cb) : this.h1Stream(host, cb);
  }

  /** A connection attempt failed (Envoy `upstream_cx_connect_fail`, `_timeout`, `rq_pending_failure_eject`). */
  connectFailed(host: UpstreamHost, timeout: boolean): void {
    this.stats.cluster(this.name, 'upstream_cx_connect_fail');
    if (timeout) this.stats.cluster(this.name, 'upstream_cx_connect_timeout');
    this.stats.cluster(this.name, 'upstream_rq_pending_failure_eject');
    this.stats.host(this.name, host.address, 'cx_connect_fail');
  }

  /** A new connection is up (Envoy `upstream_cx_total`, `_active` until it closes). */
  connected(host: UpstreamHost, socket: net.Socket | null): void {
    this.stats.cluster(this.name, 'upstream_cx_total');
    this.stats.cluster(this.name, 'upstream_cx_active');
    this.stats.host(this.name, host.address, 'cx_total');
    this.stats.host(this.name, host.address, 'cx_active');
    socket?.once('close', () => {
      this.stats.cluster(this.name, 'upstream_cx_active', -1);
      this.stats.host(this.name, host.address, 'cx_active', -1);
    });
  }

  private h1Stream(host: UpstreamHost, cb: UpstreamStreamCallbacks): UpstreamStream {
    return new Http1Stream(this, host, cb);
  }

  private session(host: UpstreamHost): { session: http2.ClientHttp2Session; fresh: boolean } {
    const existing = this.sessions.get(host.address);
    if (existing && !existing.closed && !existing.destroyed) return { session: existing, fresh: false };
    const session = http2.connect(`http://${host.address}`);
    this.sessions.set(host.address, session);
    session.on('error', () => {});
    session.once('close', () => {
      if (this.sessions.get(host.address) === session) this.sessions.delete(host.address);
    });
    session.once('connect', (s: http2.ClientHttp2Session, socket: net.Socket) => this.connected(host, socket));
    return { session, fresh: true };
  }

  private h2Stream(host: UpstreamHost, cb: UpstreamStreamCallbacks): UpstreamStream {
    let stream: http2.ClientHttp2Stream | null = null;
    let done = false;
    let pendingTrailers: HeaderMap | null = null;
    let connectTimer: NodeJS.Timeout | undefined;
    const cluster = this;
    const fail = (reason: StreamResetReason, detail: string): void => {
      if (done) return;
      done = true;
      clearTimeout(connectTimer);
      cb.onReset(reason, detail);
    };
    return {
      host,
      sendHeaders(headers, endStream) {
        const { session } = cluster.session(host);
        const out: http2.OutgoingHttpHeaders = {};
        for (const [k, v] of headers) {
          // HTTP/2 forbids connection-specific headers; `te` may only say `trailers` (RFC 9113 8.2.2).
          if (HOP_BY_HOP.has(k) || (k === 'te' && v !== 'trailers')) continue;
          const prev = out[k];
          out[k] = prev === undefined ? v : Array.isArray(prev) ? [...prev, v] : [String(prev), v];
        }
        if (!out[':scheme']) out[':scheme'] = 'http';
        const ready = (): void => {
          clearTimeout(connectTimer);
          cb.onPoolReady(host);
        };
        if (session.connecting) {
          connectTimer = setTimeout(() => {
            cluster.connectFailed(host, true);
            session.destroy();
            fail('connection timeout', '');
          }, cluster.config.connectTimeoutMs);
          session.once('connect', ready);
          session.once('error', (err: NodeJS.ErrnoException) => {
            if (done) return;
            cluster.connectFailed(host, false);
            fail('remote connection failure', connectErrorText(err));
          });
        } else queueMicrotask(ready);
        try {
          stream = session.request(out, { endStream, waitForTrailers: !endStream });
        } catch {
          queueMicrotask(() => fail('remote connection failure', 'session closed'));
          return;
        }
        stream.on('wantTrailers', () => {
          const t: http2.OutgoingHttpHeaders = {};
          if (pendingTrailers) for (const [k, v] of pendingTrailers) t[k] = v;
          stream!.sendTrailers(t);
        });
        stream.on('response', (rh: http2.IncomingHttpHeaders & http2.IncomingHttpStatusHeader, flags: number) => {
          if (done) return;
          const h = new HeaderMap();
          for (const [k, v] of Object.entries(rh)) {
            if (v === undefined) continue;
            if (Array.isArray(v)) for (const x of v) h.add(k, x);
            else h.add(k, String(v));
          }
          const end = (flags & http2.constants.NGHTTP2_FLAG_END_STREAM) !== 0;
          if (end) done = true;
          cb.onHeaders(h, end);
        });
        stream.on('data', (chunk: Buffer) => !done && cb.onData(chunk, false));
        stream.on('trailers', (th: http2.IncomingHttpHeaders) => {
          if (done) return;
          done = true;
          const t = new HeaderMap();
          for (const [k, v] of Object.entries(th)) if (v !== undefined) t.add(k, Array.isArray(v) ? v.join(', ') : String(v));
          cb.onTrailers(t);
        });
        stream.on('end', () => {
          if (done) return;
          done = true;
          cb.onData(Buffer.alloc(0), true);
        });
        stream.on('error', () => {});
        stream.on('close', () => {
          if (done) return;
          const code = stream!.rstCode;
          if (code === http2.constants.NGHTTP2_REFUSED_STREAM) fail('remote refused stream reset', '');
          else if (session.destroyed || session.closed) fail('connection termination', '');
          else fail('remote reset', '');
        });
      },
      sendData(data, endStream) {
        if (!stream || done) return;
        if (endStream) stream.end(data.length ? data : undefined);
        else if (data.length) stream.write(data);
      },
      sendTrailers(trailers) {
        if (!stream || done) return;
        pendingTrailers = trailers;
        stream.end();
      },
      reset() {
        if (done) return;
        done = true;
        clearTimeout(connectTimer);
        if (stream && !stream.closed) stream.close(http2.constants.NGHTTP2_CANCEL);
      },
    };
  }

  close(): void {
    this.agent.destroy();
    for (const s of this.sessions.values()) s.destroy();
    this.sessions.clear();
  }
}

/**
 * One HTTP/1.1 request upstream on the cluster's keep-alive agent (Envoy's HTTP/1 codec
 * stream on a pooled connection). Kept as a class: the request path makes no closures
 * of its own beyond the socket listeners Node needs.
 */
class Http1Stream implements UpstreamStream {
  private req: http.ClientRequest | null = null;
  private done = false;
  private gotHeaders = false;
  private connected = false;
  private connectTimer: NodeJS.Timeout | undefined;
  private timedOut = false;
  private headRequest = false;

  constructor(
    private readonly cluster: Cluster,
    readonly host: UpstreamHost,
    private readonly cb: UpstreamStreamCallbacks,
  ) {}

  private fail(reason: StreamResetReason, detail: string): void {
    if (this.done) return;
    this.done = true;
    clearTimeout(this.connectTimer);
    this.cb.onReset(reason, detail);
  }

  sendHeaders(headers: HeaderMap, endStream: boolean): void {
    const raw: string[] = [];
    const authority = headers.get(':authority');
    if (authority !== undefined) raw.push('host', authority);
    for (const [k, v] of headers) if (!k.startsWith(':') && !HOP_BY_HOP.has(k)) raw.push(k, v);
    const method = headers.get(':method') ?? 'GET';
    this.headRequest = method === 'HEAD';
    const host = this.host;
    const req = http.request({
      host: host.ip,
      port: host.port,
      method,
      path: headers.get(':path') ?? '/',
      headers: raw as unknown as http.OutgoingHttpHeaders,
      agent: this.cluster.agent,
      setHost: false,
    });
    this.req = req;
    req.on('socket', (socket: net.Socket) => this.onSocket(socket));
    req.on('response', (res: http.IncomingMessage) => this.onResponse(res));
    req.on('error', (err: NodeJS.ErrnoException) => this.onError(err));
    if (endStream) req.end();
  }

  private onSocket(socket: net.Socket): void {
    if (!socket.connecting) return this.onReady(socket, false);
    this.connectTimer = setTimeout(() => {
      this.timedOut = true;
      this.req?.destroy(new Error('connect timeout'));
    }, this.cluster.config.connectTimeoutMs);
    socket.once('connect', () => this.onReady(socket, true));
  }

  private onReady(socket: net.Socket, fresh: boolean): void {
    this.connected = true;
    clearTimeout(this.connectTimer);
    if (fresh) this.cluster.connected(this.host, socket);
    this.cb.onPoolReady(this.host);
  }

  private onResponse(res: http.IncomingMessage): void {
    if (this.done) return;
    this.gotHeaders = true;
    const h = new HeaderMap([[':status', String(res.statusCode ?? 0)]]);
    const raw = res.rawHeaders;
    for (let i = 0; i < raw.length; i += 2) h.add(raw[i], raw[i + 1]);
    if (res.headers['content-length'] === '0' || res.statusCode === 204 || res.statusCode === 304 || this.headRequest) {
      // Envoy's HTTP/1 codec ends the stream with the headers when there is no body.
      this.done = true;
      res.resume();
      this.cb.onHeaders(h, true);
      return;
    }
    this.cb.onHeaders(h, false);
    res.on('data', (chunk: Buffer) => {
      if (!this.done) this.cb.onData(chunk, false);
    });
    res.on('end', () => this.onEnd(res));
    res.on('error', () => this.fail('connection termination', ''));
    res.on('aborted', () => this.fail('connection termination', ''));
  }

  private onEnd(res: http.IncomingMessage): void {
    if (this.done) return;
    this.done = true;
    if (res.rawTrailers.length) {
      const t = new HeaderMap();
      for (let i = 0; i < res.rawTrailers.length; i += 2) t.add(res.rawTrailers[i], res.rawTrailers[i + 1]);
      this.cb.onTrailers(t);
    } else this.cb.onData(Buffer.alloc(0), true);
  }

  private onError(err: NodeJS.ErrnoException): void {
    if (!this.connected) {
      this.cluster.connectFailed(this.host, this.timedOut);
      this.fail(this.timedOut ? 'connection timeout' : 'remote connection failure', this.timedOut ? '' : connectErrorText(err));
    } else {
      if (!this.gotHeaders) this.cluster.stats.cluster(this.cluster.name, 'upstream_cx_destroy_remote_with_active_rq');
      this.fail('connection termination', '');
    }
  }

  sendData(data: Buffer, endStream: boolean): void {
    if (!this.req || this.done) return;
    if (data.length) this.req.write(data);
    if (endStream) this.req.end();
  }

  sendTrailers(trailers: HeaderMap): void {
    if (!this.req || this.done) return;
    const t: Record<string, string> = {};
    for (const [k, v] of trailers) t[k] = v;
    this.req.addTrailers(t);
    this.req.end();
  }

  reset(): void {
    if (this.done) return;
    this.done = true;
    clearTimeout(this.connectTimer);
    this.req?.destroy();
  }
}

/** The worker's clusters by name (Envoy `ClusterManager::getThreadLocalCluster`). */
export class ClusterManager {
  readonly clusters = new Map<string, Cluster>();

  constructor(configs: Map<string, ClusterConfig>, hosts: Map<string, UpstreamHost[]>, stats: ProxyStats) {
    for (const [name, cfg] of configs) this.clusters.set(name, new Cluster(cfg, hosts.get(name) ?? [], stats));
  }

  get(name: string): Cluster | undefined {
    return this.clusters.get(name);
  }

  close(): void {
    for (const c of this.clusters.values()) c.close();
  }
}
