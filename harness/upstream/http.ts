/**
 * Programmable upstream servers for tests and the demo: one port speaks HTTP/1.1 and
 * h2c (see harness/upstream/h2c.ts), and each request is answered by the handler of the
 * longest matching path prefix (default: `echo()`). Handlers are built from the
 * helpers below — echo, fixed status, fail N times then succeed, delay, flap, reset,
 * gRPC status. Every request is counted by path, and the latest ones are kept with the
 * first bytes of their bodies (`requests`), so that tests can count and read what arrived
 * while memory stays bounded however long an upstream runs: a body is counted as it
 * streams in, never kept whole.
 *
 * ```ts
 * const up = await startUpstream({ name: 'credit-bureau' });
 * up.route('/api/credit-bureau/fail-test', failTimes(3, status(503)));
 * up.route('/slow', delay(2000, echo()));
 * ... up.count('/api/credit-bureau/fail-test') ... await up.close();
 * ```
 */
import http from 'node:http';
import http2 from 'node:http2';
import type net from 'node:net';
import { createDualProtocolServer, type DualProtocolServer } from './h2c.ts';

/** One request as the upstream saw it. */
export interface RecordedRequest {
  method: string;
  /** Path with query string. */
  path: string;
  /** Request headers, lower-case names; repeated headers joined with `, ` (HTTP/2 pseudo-headers omitted). */
  headers: Record<string, string>;
  /** The body's first bytes, at most the upstream's `maxBodyBytes`: the whole body when `bodyBytes` is no larger. */
  body: Buffer;
  /** The body's size in bytes. */
  bodyBytes: number;
  trailers: Record<string, string>;
  /** `HTTP/1.1` or `HTTP/2`. */
  protocol: string;
  /** 1-based index of this request among those to the same route. */
  routeCount: number;
  /** Wall clock ms at arrival of the headers. */
  at: number;
}

/** What the upstream does with one request. */
export type UpstreamAction =
  /** Answers with a JSON description of the request (`status` default 200). */
  | { kind: 'echo'; status?: number; headers?: Record<string, string> }
  | { kind: 'respond'; status: number; body?: string | Buffer; headers?: Record<string, string>; trailers?: Record<string, string> }
  /** HTTP/1.1: destroys the TCP connection before any response byte; HTTP/2: RST_STREAM INTERNAL_ERROR. */
  | { kind: 'reset' }
  /** HTTP/2: RST_STREAM REFUSED_STREAM (Envoy's `refused-stream`); HTTP/1.1: like `reset`. */
  | { kind: 'refuse' }
  /** Sends response headers (and `body`), then resets: a reset after headers, not retriable by Envoy. */
  | { kind: 'reset-after-headers'; status?: number; body?: string }
  /** Trailers-only gRPC response: `:status 200`, `content-type: application/grpc`, `grpc-status`. */
  | { kind: 'grpc-status'; code: number; message?: string }
  /** Never answers (until the client gives up or the server closes). */
  | { kind: 'hang' };

export type UpstreamHandler = (req: RecordedRequest) => UpstreamAction | Promise<UpstreamAction>;

/**
 * Echo the request as JSON: `{ upstream, method, path, headers, body, bodyBytes, trailers,
 * protocol }`, where `body` is the body as UTF-8 when the upstream kept it whole (at most
 * `maxBodyBytes`) and is left out when it was larger; `bodyBytes` is its size.
 */
export const echo = (opts: { status?: number; headers?: Record<string, string> } = {}): UpstreamHandler => () => ({
  kind: 'echo',
  ...opts,
});

/** A fixed response. */
export const status = (code: number, body = '', headers: Record<string, string> = {}): UpstreamHandler => () => ({
  kind: 'respond',
  status: code,
  body,
  headers,
});

/** A fixed action (`reset`, `refuse`, `hang`, `grpc-status`...). */
export const action = (a: UpstreamAction): UpstreamHandler => () => a;

/** Answers the first `times` requests (per route) with `fail`, the rest with `then` (default echo). */
export function failTimes(times: number, fail: UpstreamHandler, then: UpstreamHandler = echo()): UpstreamHandler {
  let n = 0;
  return (req) => (n++ < times ? fail(req) : then(req));
}

/** Waits `ms` before running `handler`. */
export const delay = (ms: number, handler: UpstreamHandler = echo()): UpstreamHandler => async (req) => {
  await new Promise((r) => setTimeout(r, ms));
  return handler(req);
};

/** Answers the n-th request with `handlers[n]`, repeating the last one afterwards. */
export function sequence(handlers: UpstreamHandler[]): UpstreamHandler {
  let n = 0;
  return (req) => handlers[Math.min(n++, handlers.length - 1)](req);
}

/**
 * Flaps in time: `upMs` of `up` (default echo), then `downMs` of `down`, repeating from
 * the first request on.
 */
export function flap(upMs: number, downMs: number, down: UpstreamHandler, up: UpstreamHandler = echo()): UpstreamHandler {
  let start = -1;
  return (req) => {
    if (start < 0) start = req.at;
    const phase = (req.at - start) % (upMs + downMs);
    return phase < upMs ? up(req) : down(req);
  };
}

/**
 * Request-driven behaviour for ad-hoc tests and the demo: `x-upstream-status: 503`
 * answers that status, `x-upstream-delay-ms: 200` waits first, `x-upstream-action:
 * reset|refuse|hang` does that; otherwise `fallback` (echo).
 */
export function byRequestHeaders(fallback: UpstreamHandler = echo()): UpstreamHandler {
  return async (req) => {
    const wait = Number(req.headers['x-upstream-delay-ms'] ?? 0);
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    const act = req.headers['x-upstream-action'];
    if (act === 'reset' || act === 'refuse' || act === 'hang') return { kind: act };
    const code = Number(req.headers['x-upstream-status'] ?? 0);
    if (code >= 200 && code <= 599) return { kind: 'echo', status: code };
    return fallback(req);
  };
}

export interface UpstreamOptions {
  /** Reported in echo bodies as `upstream` (tells endpoints apart in load-balancing tests). */
  name?: string;
  host?: string;
  /** 0 (default) binds an ephemeral port. */
  port?: number;
  /** Handler for paths no route matches; default `byRequestHeaders(echo())`. */
  fallback?: UpstreamHandler;
  /** Body bytes kept per request (`RecordedRequest.body`), default 16 KiB; the rest is counted only. */
  maxBodyBytes?: number;
  /** Requests kept in `requests` (the latest), default 1000; 0 keeps none (they are still counted). */
  maxRecorded?: number;
}

/** Distinct paths `count` tells apart; requests to paths beyond them add to the total only (a scan must not fill memory). */
const MAX_COUNTED_PATHS = 10_000;

export interface Upstream {
  readonly name: string;
  readonly host: string;
  readonly port: number;
  /** `host:port`. */
  readonly address: string;
  /** The latest requests received (at most `maxRecorded`), in order of arrival. */
  readonly requests: RecordedRequest[];
  /** Sets the handler for paths starting with `prefix` (longest prefix wins). */
  route(prefix: string, handler: UpstreamHandler): this;
  /**
   * Requests received since the start or the last `clearRequests` whose path (without
   * query) starts with `prefix` (all when omitted); counted by path (see MAX_COUNTED_PATHS).
   */
  count(prefix?: string): number;
  /** Forgets recorded requests and the counts of `count` (routes and their own counters stay). */
  clearRequests(): void;
  /** Open TCP connections right now. */
  connections(): number;
  close(): Promise<void>;
}

/** Starts a programmable HTTP/1.1 + h2c upstream. */
export async function startUpstream(opts: UpstreamOptions = {}): Promise<Upstream> {
  const name = opts.name ?? 'upstream';
  const routes = new Map<string, { handler: UpstreamHandler; count: number }>();
  const fallback = { handler: opts.fallback ?? byRequestHeaders(echo()), count: 0 };
  const maxBodyBytes = opts.maxBodyBytes ?? 16 * 1024;
  const maxRecorded = opts.maxRecorded ?? 1000;
  const requests: RecordedRequest[] = [];
  const byPath = new Map<string, number>();
  let total = 0;
  let open = 0;

  const pick = (path: string): { handler: UpstreamHandler; count: number } => {
    let best: string | undefined;
    for (const p of routes.keys()) if (path.startsWith(p) && (best === undefined || p.length > best.length)) best = p;
    return best === undefined ? fallback : routes.get(best)!;
  };

  const onRequest = (req: http.IncomingMessage | http2.Http2ServerRequest, res: http.ServerResponse | http2.Http2ServerResponse): void => {
    const at = Date.now();
    const kept: Buffer[] = [];
    let keptBytes = 0;
    let bodyBytes = 0;
    req.on('data', (c: Buffer) => {
      bodyBytes += c.length;
      if (keptBytes >= maxBodyBytes) return;
      // A copy: a slice would keep the codec's whole read buffer alive.
      const part = Buffer.from(c.subarray(0, maxBodyBytes - keptBytes));
      kept.push(part);
      keptBytes += part.length;
    });
    req.on('error', () => {});
    req.on('end', () => {
      const path = req.url ?? '/';
      const bare = path.split('?')[0];
      const entry = pick(bare);
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(req.headers)) {
        if (k.startsWith(':') || v === undefined) continue;
        headers[k] = Array.isArray(v) ? v.join(', ') : String(v);
      }
      const rec: RecordedRequest = {
        method: req.method ?? 'GET',
        path,
        headers,
        body: kept.length === 1 ? kept[0] : Buffer.concat(kept),
        bodyBytes,
        trailers: { ...(req.trailers as Record<string, string>) },
        protocol: req.httpVersion === '2.0' ? 'HTTP/2' : `HTTP/${req.httpVersion}`,
        routeCount: ++entry.count,
        at,
      };
      total++;
      const n = byPath.get(bare);
      if (n !== undefined || byPath.size < MAX_COUNTED_PATHS) byPath.set(bare, (n ?? 0) + 1);
      if (maxRecorded > 0 && requests.push(rec) > maxRecorded) requests.shift();
      Promise.resolve()
        .then(() => entry.handler(rec))
        .then((a) => perform(a, rec, req, res))
        .catch(() => destroy(req, res, http2.constants.NGHTTP2_INTERNAL_ERROR));
    });
  };

  const perform = (a: UpstreamAction, rec: RecordedRequest, req: http.IncomingMessage | http2.Http2ServerRequest, res: http.ServerResponse | http2.Http2ServerResponse): void => {
    if (res.destroyed || res.writableEnded) return;
    // The HTTP/2 compatibility response has the same writing methods as HTTP/1's.
    const out = res as http.ServerResponse;
    switch (a.kind) {
      case 'echo': {
        const body = JSON.stringify({
          upstream: name,
          method: rec.method,
          path: rec.path,
          headers: rec.headers,
          body: rec.bodyBytes === rec.body.length ? rec.body.toString('utf8') : undefined,
          bodyBytes: rec.bodyBytes,
          trailers: rec.trailers,
          protocol: rec.protocol,
        });
        out.writeHead(a.status ?? 200, { 'content-type': 'application/json', ...a.headers });
        out.end(body);
        return;
      }
      case 'respond': {
        const wantTrailers = a.trailers && Object.keys(a.trailers).length > 0;
        const headers: Record<string, string> = { ...a.headers };
        if (wantTrailers && rec.protocol !== 'HTTP/2') headers['trailer'] = Object.keys(a.trailers!).join(', ');
        out.writeHead(a.status, headers);
        if (a.body !== undefined && a.body.length) out.write(a.body);
        if (wantTrailers) out.addTrailers(a.trailers!);
        out.end();
        return;
      }
      case 'grpc-status': {
        const h: http2.OutgoingHttpHeaders = { ':status': 200, 'content-type': 'application/grpc', 'grpc-status': String(a.code) };
        if (a.message) h['grpc-message'] = encodeURIComponent(a.message);
        if ('stream' in res) res.stream.respond(h, { endStream: true });
        else {
          const { ':status': _s, ...rest } = h;
          out.writeHead(200, rest as http.OutgoingHttpHeaders);
          out.end();
        }
        return;
      }
      case 'reset':
        destroy(req, res, http2.constants.NGHTTP2_INTERNAL_ERROR);
        return;
      case 'refuse':
        destroy(req, res, http2.constants.NGHTTP2_REFUSED_STREAM);
        return;
      case 'reset-after-headers':
        out.writeHead(a.status ?? 200, { 'content-type': 'text/plain' });
        out.write(a.body ?? 'partial');
        setTimeout(() => destroy(req, res, http2.constants.NGHTTP2_INTERNAL_ERROR), 20);
        return;
      case 'hang':
        return;
    }
  };

  const destroy = (req: http.IncomingMessage | http2.Http2ServerRequest, res: http.ServerResponse | http2.Http2ServerResponse, code: number): void => {
    if ('stream' in res) res.stream.close(code);
    else (req as http.IncomingMessage).socket.destroy();
  };

  const h1 = http.createServer({ keepAliveTimeout: 60_000 }, onRequest);
  const h2 = http2.createServer({}, onRequest);
  const server: DualProtocolServer = createDualProtocolServer(h1, h2);
  server.tcp.on('connection', (s: net.Socket) => {
    open++;
    s.once('close', () => open--);
  });
  const host = opts.host ?? '127.0.0.1';
  const bound = await server.listen(opts.port ?? 0, host);

  const up: Upstream = {
    name,
    host,
    port: bound.port,
    address: `${host}:${bound.port}`,
    requests,
    route(prefix, handler) {
      routes.set(prefix, { handler, count: 0 });
      return this;
    },
    count(prefix) {
      if (prefix === undefined) return total;
      let sum = 0;
      for (const [p, n] of byPath) if (p.startsWith(prefix)) sum += n;
      return sum;
    },
    clearRequests() {
      requests.length = 0;
      byPath.clear();
      total = 0;
    },
    connections: () => open,
    close: () => server.close(),
  };
  return up;
}
