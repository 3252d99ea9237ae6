/**
 * The embedded data plane: `startProxy` serves an Envoy bootstrap with worker threads
 * like Envoy's (docs/ARCHITECTURE.md, "Threads, like Envoy"). The main thread owns the
 * listeners — HTTP/1.1 and h2c on one port, told apart by the HTTP/2 preface — and the
 * admin listener, runs the downstream codec, and forwards each stream's events to the
 * worker that owns its connection (connections spread round robin); workers run filter
 * managers, wasm filters, the router and their own upstream connections (worker.ts).
 *
 * ```ts
 * const proxy = await startProxy({ bootstrap: 'envoy/mesh.yaml', concurrency: 2, portOverride: 0 });
 * console.log(proxy.listeners[0].address, proxy.admin?.address);
 * await proxy.stop();
 * ```
 */
import dns from 'node:dns/promises';
import http from 'node:http';
import http2 from 'node:http2';
import net from 'node:net';
import { Worker } from 'node:worker_threads';
import { createDualProtocolServer, type DualProtocolServer } from '../upstream/h2c.ts';
import { renderClusters, startAdmin, type AdminServer } from './admin.ts';
import { loadBootstrapFile, parseBootstrap, ProxyConfigError, type BootstrapConfig } from './bootstrap.ts';
import type { UpstreamHost } from './cluster-manager.ts';
import { Outbox, transferable, type FromWorker, type ToWorker, type WorkerInit } from './messages.ts';
import { ProxyStats } from './stats.ts';
import { LOG_LEVEL_NAMES, type LogLevelName } from '../host/abi.ts';
import type { SharedStateHandle } from '../host/index.ts';

export { ProxyConfigError } from './bootstrap.ts';
export type { BootstrapConfig } from './bootstrap.ts';

export type ProxyLogLevel = LogLevelName | 'off';

export interface ProxyOptions {
  /** Path of a bootstrap YAML/JSON file, a parsed YAML document, or a `BootstrapConfig`. */
  bootstrap: string | BootstrapConfig | Record<string, unknown>;
  /** Worker threads (Envoy `--concurrency`), default 2. */
  concurrency?: number;
  logLevel?: ProxyLogLevel;
  /** Binds every listener and the admin on this port instead (0: ephemeral ports, for tests). */
  portOverride?: number;
  /** Where relative file names in the bootstrap resolve; default the process's cwd (as Envoy). */
  baseDir?: string;
  /** Receives log lines (default: stderr, at `logLevel` and above). */
  log?: (level: ProxyLogLevel, line: string) => void;
}

export interface BoundListener {
  name: string;
  host: string;
  port: number;
  /** `host:port`. */
  address: string;
}

export interface RunningProxy {
  listeners: BoundListener[];
  admin?: BoundListener;
  /** Fields the data plane ignores (one line each), also logged at warning level. */
  warnings: string[];
  concurrency: number;
  /** The process-wide stats (cluster, host and connection-manager counters). */
  stats: ProxyStats;
  /** Stops listeners and admin, resets open streams, ends the workers. */
  stop(): Promise<void>;
}

const LEVELS: readonly ProxyLogLevel[] = [...LOG_LEVEL_NAMES, 'off'];

function toBootstrap(b: ProxyOptions['bootstrap'], baseDir?: string): BootstrapConfig {
  if (typeof b === 'string') return loadBootstrapFile(b, { baseDir });
  if ((b as BootstrapConfig).clusters instanceof Map && Array.isArray((b as BootstrapConfig).listeners)) return b as BootstrapConfig;
  return parseBootstrap(b, { baseDir });
}

/** Resolves each cluster's endpoints: STATIC as given, STRICT_DNS every address, LOGICAL_DNS the first. */
async function resolveHosts(bootstrap: BootstrapConfig): Promise<Map<string, UpstreamHost[]>> {
  const out = new Map<string, UpstreamHost[]>();
  for (const [name, c] of bootstrap.clusters) {
    const hosts: UpstreamHost[] = [];
    for (const ep of c.endpoints) {
      if (net.isIP(ep.host)) {
        hosts.push({ ip: ep.host, port: ep.port, address: net.isIPv6(ep.host) ? `[${ep.host}]:${ep.port}` : `${ep.host}:${ep.port}`, hostname: '' });
        continue;
      }
      let addrs: { address: string }[];
      try {
        addrs = await dns.lookup(ep.host, { all: true });
      } catch {
        addrs = []; // Envoy keeps the cluster with no hosts: requests get 503 no healthy upstream
      }
      if (c.type === 'LOGICAL_DNS') addrs = addrs.slice(0, 1);
      for (const a of addrs) hosts.push({ ip: a.address, port: ep.port, address: net.isIPv6(a.address) ? `[${a.address}]:${ep.port}` : `${a.address}:${ep.port}`, hostname: ep.host });
    }
    out.set(name, hosts);
  }
  return out;
}

/** The host's shared state (shared data, queues, metrics), handed to every worker. */
async function createSharedState(): Promise<{ handle: SharedStateHandle; prometheus(): string; close(): void }> {
  const { SharedState, renderPrometheus } = await import('../host/index.ts');
  const state = SharedState.create();
  return { handle: state.handle, prometheus: () => renderPrometheus(state.metrics), close: () => state.close() };
}

interface DownstreamStream {
  worker: number;
  listener: number;
  h1?: { req: http.IncomingMessage; res: http.ServerResponse; trailers: Record<string, string> | null };
  h2?: { stream: http2.ServerHttp2Stream; trailers: string[] | null };
  finished: boolean;
}

interface ConnInfo {
  id: number;
  worker: number;
  remote: string;
  local: string;
}

function addr(ip: string | undefined, port: number | undefined): string {
  const i = ip ?? '';
  return net.isIPv6(i) ? `[${i}]:${port}` : `${i}:${port}`;
}

/** Starts the data plane. Rejects with `ProxyConfigError` (one line naming the path) on bad configuration. */
export async function startProxy(opts: ProxyOptions): Promise<RunningProxy> {
  const bootstrap = toBootstrap(opts.bootstrap, opts.baseDir);
  const concurrency = Math.max(1, opts.concurrency ?? 2);
  const minLevel = LEVELS.indexOf(opts.logLevel ?? 'info');
  const log = (level: ProxyLogLevel, line: string): void => {
    if (opts.log) return opts.log(level, line);
    if (LEVELS.indexOf(level) >= minLevel && level !== 'off') process.stderr.write(`[${level}] ${line}\n`);
  };
  for (const w of bootstrap.warnings) log('warning', w);

  const hosts = await resolveHosts(bootstrap);
  const stats = ProxyStats.create(bootstrap, new Map([...hosts].map(([c, hs]) => [c, hs.map((h) => h.address)])));
  const shared = await createSharedState();

  // Workers first: a plugin whose configuration is rejected fails the start, before any port is bound.
  const workers: Worker[] = [];
  const streams = new Map<number, DownstreamStream>();
  const startWorker = (index: number): Promise<Worker> =>
    new Promise((resolve, reject) => {
      const init: WorkerInit = { index, concurrency, bootstrap, hosts: [...hosts], stats: stats.handle(), logLevel: opts.logLevel ?? 'info', shared: shared.handle };
      const w = new Worker(new URL('./worker-entry.mjs', import.meta.url), { workerData: init });
      const onMessage = (batch: FromWorker[]): void => {
        for (const m of batch) {
          if (m.t === 'log') log(m.level, m.line);
          else if (m.t === 'ready') {
            w.off('message', onMessage);
            w.on('message', (msgs: FromWorker[]) => {
              for (const msg of msgs) onWorkerMessage(msg);
            });
            resolve(w);
          } else if (m.t === 'fatal') {
            reject(new ProxyConfigError(m.message));
          }
        }
      };
      w.on('message', onMessage);
      w.once('error', (e) => reject(e));
    });
  try {
    for (let i = 0; i < concurrency; i++) workers.push(await startWorker(i));
  } catch (e) {
    await Promise.all(workers.map((w) => w.terminate()));
    shared.close();
    throw e;
  }

  const outboxes = workers.map((w) => new Outbox<ToWorker>(w));
  const post = (worker: number, m: ToWorker, transfer?: ArrayBuffer): void => outboxes[worker].push(m, transfer);

  function onWorkerMessage(m: FromWorker): void {
    if (m.t === 'log') return log(m.level, m.line);
    if (!('id' in m)) return;
    const s = streams.get(m.id);
    if (!s) return;
    if (s.h1) h1Out(m, s);
    else if (s.h2) h2Out(m, s);
  }

  const end = (id: number, s: DownstreamStream): void => {
    s.finished = true;
    streams.delete(id);
  };

  function h1Out(m: FromWorker, s: DownstreamStream): void {
    const { req, res } = s.h1!;
    switch (m.t) {
      case 'headers': {
        // Pseudo-headers lead the flat list (HeaderMap keeps them first): :status, then the rest.
        const h = m.headers;
        let status = 200;
        let first = 0;
        while (first < h.length && h[first].charCodeAt(0) === 0x3a) {
          if (h[first] === ':status') status = Number(h[first + 1]);
          first += 2;
        }
        res.writeHead(status, (first === 0 ? h : h.slice(first)) as unknown as http.OutgoingHttpHeaders);
        if (m.end) {
          res.end();
          end(m.id, s);
        }
        break;
      }
      case 'data':
        if (m.data.length) res.write(m.data);
        if (m.end) {
          res.end();
          end(m.id, s);
        }
        break;
      case 'trailers': {
        const t: Record<string, string> = {};
        for (let i = 0; i + 1 < m.trailers.length; i += 2) t[m.trailers[i]] = m.trailers[i + 1];
        res.addTrailers(t);
        res.end();
        end(m.id, s);
        break;
      }
      case 'reset':
        end(m.id, s);
        req.socket.destroy();
        break;
      case 'pause':
        req.pause();
        break;
      case 'resume':
        req.resume();
        break;
    }
  }

  function h2Out(m: FromWorker, s: DownstreamStream): void {
    const st = s.h2!.stream;
    if (st.destroyed || st.closed) return;
    switch (m.t) {
      case 'headers': {
        const h: http2.OutgoingHttpHeaders = {};
        for (let i = 0; i + 1 < m.headers.length; i += 2) {
          const k = m.headers[i];
          const v = m.headers[i + 1];
          const prev = h[k];
          h[k] = prev === undefined ? v : Array.isArray(prev) ? [...prev, v] : [String(prev), v];
        }
        try {
          st.respond(h, { endStream: m.end, waitForTrailers: !m.end });
        } catch {
          st.close(http2.constants.NGHTTP2_INTERNAL_ERROR);
        }
        if (m.end) end(m.id, s);
        break;
      }
      case 'data':
        if (m.end) {
          st.end(m.data.length ? m.data : undefined);
          end(m.id, s);
        } else if (m.data.length) st.write(m.data);
        break;
      case 'trailers':
        s.h2!.trailers = m.trailers;
        st.end();
        end(m.id, s);
        break;
      case 'reset':
        end(m.id, s);
        st.close(http2.constants.NGHTTP2_INTERNAL_ERROR);
        break;
      case 'pause':
        st.pause();
        break;
      case 'resume':
        st.resume();
        break;
    }
  }

  let nextConn = 1;
  let nextStream = 1;
  let rr = 0;
  const servers: DualProtocolServer[] = [];
  const bound: BoundListener[] = [];
  let admin: AdminServer | undefined;

  const stopAll = async (): Promise<void> => {
    await Promise.all(servers.map((s) => s.close()));
    await admin?.close();
    await Promise.all(
      workers.map(
        (w, i) =>
          new Promise<void>((resolve) => {
            const timer = setTimeout(() => void w.terminate().then(() => resolve()), 2000);
            w.once('exit', () => {
              clearTimeout(timer);
              resolve();
            });
            // Stream events still queued go first, then the stop.
            outboxes[i].push({ t: 'stop' });
            outboxes[i].flush();
          }),
      ),
    );
    shared.close();
  };

  try {
    for (let li = 0; li < bootstrap.listeners.length; li++) {
      const l = bootstrap.listeners[li];
      const conns = new WeakMap<object, ConnInfo>();
      const statPrefix = l.hcm.statPrefix;
      const newStream = (conn: ConnInfo, protocol: string, headers: string[], endStream: boolean, s: DownstreamStream): number => {
        const id = nextStream++;
        streams.set(id, s);
        post(conn.worker, { t: 'headers', listener: li, start: { id, connectionId: conn.id, protocol, remote: conn.remote, local: conn.local, headers, endStream } });
        return id;
      };
      const sendData = (conn: ConnInfo, id: number, chunk: Buffer, endStream: boolean): void => {
        const d = transferable(chunk);
        post(conn.worker, { t: 'data', listener: li, id, data: d, end: endStream }, d.buffer as ArrayBuffer);
      };
      const h1 =
        l.hcm.codecType === 'HTTP2'
          ? null
          : http.createServer({ keepAliveTimeout: 60_000, requestTimeout: 0 }, (req, res) => {
              const conn = conns.get(req.socket);
              if (!conn) return void req.socket.destroy();
              // Envoy's HTTP/1 codec: Host becomes :authority; :scheme from the connection.
              const headers: string[] = [':method', req.method ?? 'GET', ':path', req.url ?? '/', ':authority', req.headers.host ?? '', ':scheme', 'http'];
              const raw = req.rawHeaders;
              for (let i = 0; i < raw.length; i += 2) {
                const k = raw[i].toLowerCase();
                if (k !== 'host') headers.push(k, raw[i + 1]);
              }
              const cl = req.headers['content-length'];
              const hasBody = req.headers['transfer-encoding'] !== undefined || (cl !== undefined && cl !== '0');
              const s: DownstreamStream = { worker: conn.worker, listener: li, h1: { req, res, trailers: null }, finished: false };
              const id = newStream(conn, `HTTP/${req.httpVersion}`, headers, !hasBody, s);
              if (hasBody) {
                req.on('data', (c: Buffer) => sendData(conn, id, c, false));
                req.on('end', () => {
                  if (req.rawTrailers.length) {
                    const t: string[] = [];
                    for (let i = 0; i < req.rawTrailers.length; i += 2) t.push(req.rawTrailers[i].toLowerCase(), req.rawTrailers[i + 1]);
                    post(conn.worker, { t: 'trailers', listener: li, id, trailers: t });
                  } else sendData(conn, id, Buffer.alloc(0), true);
                });
              } else req.resume();
              res.on('close', () => {
                if (!s.finished) {
                  end(id, s);
                  post(conn.worker, { t: 'reset', listener: li, id });
                }
              });
            });
      const h2 =
        l.hcm.codecType === 'HTTP1'
          ? null
          : http2.createServer({ settings: { enableConnectProtocol: false } });
      let handingOff: ConnInfo | null = null;
      h2?.on('session', (session: http2.ServerHttp2Session) => {
        if (handingOff) conns.set(session, handingOff);
        session.on('error', () => {});
      });
      h2?.on('stream', (stream: http2.ServerHttp2Stream, _h: http2.IncomingHttpHeaders, flags: number, raw?: string[]) => {
        const conn = conns.get(stream.session as object);
        if (!conn) return void stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR);
        const headers = raw ?? Object.entries(_h).flatMap(([k, v]) => (Array.isArray(v) ? v.flatMap((x) => [k, x]) : [k, String(v)]));
        const endStream = (flags & http2.constants.NGHTTP2_FLAG_END_STREAM) !== 0;
        const s: DownstreamStream = { worker: conn.worker, listener: li, h2: { stream, trailers: null }, finished: false };
        const id = newStream(conn, 'HTTP/2', headers, endStream, s);
        stream.on('wantTrailers', () => {
          const t: http2.OutgoingHttpHeaders = {};
          const flat = s.h2!.trailers ?? [];
          for (let i = 0; i + 1 < flat.length; i += 2) t[flat[i]] = flat[i + 1];
          stream.sendTrailers(t);
        });
        let sawTrailers = false;
        stream.on('trailers', (th: http2.IncomingHttpHeaders) => {
          sawTrailers = true;
          const t: string[] = [];
          for (const [k, v] of Object.entries(th)) if (v !== undefined) t.push(k, Array.isArray(v) ? v.join(', ') : String(v));
          post(conn.worker, { t: 'trailers', listener: li, id, trailers: t });
        });
        if (!endStream) {
          stream.on('data', (c: Buffer) => sendData(conn, id, c, false));
          stream.on('end', () => !sawTrailers && sendData(conn, id, Buffer.alloc(0), true));
        } else stream.resume();
        stream.on('error', () => {});
        stream.on('close', () => {
          if (!s.finished) {
            end(id, s);
            post(conn.worker, { t: 'reset', listener: li, id });
          }
        });
      });
      const server = createDualProtocolServer(h1, h2, (socket) => {
        const info: ConnInfo = { id: nextConn++, worker: rr++ % concurrency, remote: addr(socket.remoteAddress, socket.remotePort), local: addr(socket.localAddress, socket.localPort) };
        conns.set(socket, info);
        handingOff = info;
        queueMicrotask(() => (handingOff = null));
        stats.hcm(statPrefix, 'downstream_cx_total');
        stats.hcm(statPrefix, 'downstream_cx_active');
        socket.once('close', () => stats.hcm(statPrefix, 'downstream_cx_active', -1));
      });
      servers.push(server);
      const port = opts.portOverride ?? l.address.port;
      try {
        const a = await server.listen(port, l.address.host);
        bound.push({ name: l.name, host: l.address.host, port: a.port, address: `${l.address.host}:${a.port}` });
      } catch (e) {
        throw new ProxyConfigError(`static_resources.listeners[${li}].address: cannot bind ${l.address.host}:${port}: ${(e as NodeJS.ErrnoException).code === 'EADDRINUSE' ? 'address already in use' : (e as Error).message}`);
      }
    }
    if (bootstrap.admin) {
      const a = bootstrap.admin.address;
      const port = opts.portOverride ?? a.port;
      try {
        admin = await startAdmin(a.host, port, {
          stats: () => stats.entries(),
          wasmPrometheus: () => shared.prometheus(),
          clusters: () => renderClusters(bootstrap, hosts, stats),
        });
      } catch (e) {
        throw new ProxyConfigError(`admin.address: cannot bind ${a.host}:${port}: ${(e as NodeJS.ErrnoException).code === 'EADDRINUSE' ? 'address already in use' : (e as Error).message}`);
      }
    }
  } catch (e) {
    await stopAll();
    throw e;
  }

  return {
    listeners: bound,
    admin: admin ? { name: 'admin', host: bootstrap.admin!.address.host, port: admin.address.port, address: `${bootstrap.admin!.address.host}:${admin.address.port}` } : undefined,
    warnings: bootstrap.warnings,
    concurrency,
    stats,
    stop: stopAll,
  };
}
