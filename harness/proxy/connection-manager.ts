/**
 * The HTTP connection manager of one listener on one worker (Envoy's
 * source/common/http/conn_manager_impl.cc ActiveStream and conn_manager_utility.cc):
 * it makes a filter manager per stream, mutates request headers as Envoy does before the
 * filters run, and response headers after them, and hands responses to a `StreamSink`
 * (the codec on the main thread, reached by messages).
 *
 * Request side (ConnectionManagerUtility::mutateRequestHeaders): hop-by-hop headers and
 * `x-envoy-internal` removed; with `use_remote_address` the client address is appended to
 * `x-forwarded-for` (our own address for a loopback peer) and `x-forwarded-proto` set
 * unless a trusted hop (`xff_num_trusted_hops` > 0) sent one, else the client is taken
 * from `x-forwarded-for` honouring `xff_num_trusted_hops`; a client address taken from
 * `x-forwarded-for` becomes the stream's downstream remote address with port 0 (Envoy
 * parses the bare IP), which `source.address` shows. A request is internal only when XFF
 * held a single address and it is inside `internal_address_config`. Defaults follow
 * Envoy >= 1.33: without `internal_address_config` no address is internal (1.33 stopped
 * trusting RFC1918 by default, `envoy.reloadable_features.explicit_internal_address_config`
 * could revert it until 1.36 removed the guard). An external request loses the
 * `x-envoy-*` control headers (retry, timeouts: `cleanInternalHeaders`); `x-request-id` is
 * generated when absent, and replaced on edge requests unless
 * `preserve_external_request_id` (UUIDRequestIDExtension::set).
 * Response side (ActiveStream::encodeHeaders): `date`, `server` (per
 * `server_header_transformation`), hop-by-hop headers removed.
 */
import { randomUUID } from 'node:crypto';
import net from 'node:net';
import type { HttpFilter, StreamInfo } from '../host/filter.ts';
import { HeaderMap } from '../host/header-map.ts';
import type { Cidr, ListenerConfig } from './bootstrap.ts';
import { FilterManager, type FilterEntry, type FilterManagerCallbacks, type ResolvedRoute } from './filter-manager.ts';
import { RouteTable } from './route-table.ts';
import { RouterFilter, type RouterContext } from './router.ts';
import type { ProxyStats } from './stats.ts';

/** Creates one stream's filter for a configured HTTP filter (Envoy FilterFactoryCb). */
export interface FilterFactoryEntry {
  name: string;
  create(info: StreamInfo): FilterEntry;
}

/** Where responses go: the downstream codec. Headers are flat `[name, value, ...]` arrays. */
export interface StreamSink {
  headers(id: number, headers: string[], endStream: boolean): void;
  data(id: number, data: Buffer, endStream: boolean): void;
  trailers(id: number, trailers: string[]): void;
  reset(id: number): void;
  /** Flow control: stop / resume reading this stream's request body. */
  pauseReading(id: number): void;
  resumeReading(id: number): void;
}

/** A new downstream stream, as the codec saw it. */
export interface StreamStart {
  id: number;
  connectionId: number;
  /** `HTTP/1.0`, `HTTP/1.1` or `HTTP/2`. */
  protocol: string;
  /** `ip:port` of the client and of the listener. */
  remote: string;
  local: string;
  /** Request headers, flat: `[name0, value0, ...]`, lower-case names, pseudo-headers first. */
  headers: string[];
  endStream: boolean;
}

const HOP_BY_HOP_REQUEST = ['connection', 'upgrade', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'x-envoy-internal'];
const HOP_BY_HOP_RESPONSE = ['connection', 'transfer-encoding', 'keep-alive', 'proxy-connection'];
/** Control headers an external request may not set (conn_manager_utility.cc `cleanInternalHeaders`). */
const EXTERNAL_STRIPPED = [
  'x-envoy-retriable-status-codes',
  'x-envoy-retriable-header-names',
  'x-envoy-retry-on',
  'x-envoy-retry-grpc-on',
  'x-envoy-max-retries',
  'x-envoy-upstream-alt-stat-name',
  'x-envoy-upstream-rq-timeout-ms',
  'x-envoy-upstream-rq-per-try-timeout-ms',
  'x-envoy-upstream-rq-timeout-alt-response',
  'x-envoy-expected-rq-timeout-ms',
  'x-envoy-force-trace',
  'x-envoy-ip-tags',
  'x-envoy-original-url',
  'x-envoy-hedge-on-per-try-timeout',
];

function ipOf(address: string): string {
  if (address.startsWith('[')) return address.slice(1, address.indexOf(']'));
  const i = address.lastIndexOf(':');
  return i > 0 && net.isIPv4(address.slice(0, i)) ? address.slice(0, i) : address;
}

/** `internal_address_config.cidr_ranges` as one address matcher (built once per listener). */
function internalAddresses(cidrs: Cidr[]): net.BlockList | null {
  if (cidrs.length === 0) return null;
  const list = new net.BlockList();
  for (const c of cidrs) list.addSubnet(c.address, c.prefixLen, c.family === 4 ? 'ipv4' : 'ipv6');
  return list;
}

/** Utility::getLastAddressFromXFF: the address `skip` entries from the end, and whether XFF held just one. */
export function lastAddressFromXff(xff: string | undefined, skip: number): { address: string | null; single: boolean } {
  if (xff === undefined) return { address: null, single: false };
  const parts = xff.split(',');
  if (skip >= parts.length) return { address: null, single: false };
  const candidate = parts[parts.length - 1 - skip].trim();
  return net.isIP(candidate) ? { address: candidate, single: parts.length === 1 && skip === 0 } : { address: null, single: false };
}

let nextStreamId = 1;

/**
 * Envoy's `Date` header value, computed at most once per second (Envoy's
 * `TlsCachingDateProviderImpl` refreshes it on a timer rather than per response).
 */
let cachedDate = '';
let cachedDateSecond = -1;
function httpDate(): string {
  const now = Date.now();
  const second = Math.floor(now / 1000);
  if (second !== cachedDateSecond) {
    cachedDateSecond = second;
    cachedDate = new Date(now).toUTCString();
  }
  return cachedDate;
}

/**
 * One downstream stream (Envoy `ConnectionManagerImpl::ActiveStream`): the filter
 * manager's callbacks, as methods (no per-stream closures on the request path).
 */
class ActiveStream implements FilterManagerCallbacks {
  readonly fm: FilterManager;
  private paused = false;

  constructor(
    private readonly cm: ConnectionManager,
    readonly id: number,
    readonly info: StreamInfo,
    filters: FilterEntry[],
    bufferLimit: number,
  ) {
    this.fm = new FilterManager(info, this, filters, bufferLimit);
  }

  encodeHeaders(h: HeaderMap, end: boolean): void {
    this.cm.encodeResponseHeaders(this.id, h, end);
  }
  encodeData(d: Buffer, end: boolean): void {
    this.cm.sink.data(this.id, d, end);
  }
  encodeTrailers(t: HeaderMap): void {
    this.cm.sink.trailers(this.id, t.flat());
  }
  resetStream(): void {
    this.cm.stats.hcm(this.cm.statPrefix, 'downstream_rq_tx_reset');
    this.cm.sink.reset(this.id);
  }
  resolveRoute(h: HeaderMap): ResolvedRoute | null {
    return this.cm.routes.resolve(h);
  }
  onDecoderAboveHighWatermark(): void {
    if (!this.paused) {
      this.paused = true;
      this.cm.sink.pauseReading(this.id);
    }
  }
  onDecoderBelowLowWatermark(): void {
    if (this.paused) {
      this.paused = false;
      this.cm.sink.resumeReading(this.id);
    }
  }
  onDone(): void {
    this.cm.reap(this.id);
  }
}

export class ConnectionManager {
  private readonly streams = new Map<number, ActiveStream>();
  readonly routes: RouteTable;
  readonly statPrefix: string;
  private readonly internalAddresses: net.BlockList | null;

  constructor(
    readonly listener: ListenerConfig,
    private readonly filters: FilterFactoryEntry[],
    private readonly router: RouterContext,
    readonly stats: ProxyStats,
    readonly sink: StreamSink,
    private readonly node: { id: string; cluster: string },
  ) {
    this.routes = new RouteTable(listener.hcm.routeConfig);
    this.statPrefix = listener.hcm.statPrefix;
    this.internalAddresses = internalAddresses(listener.hcm.internalAddressCidrs);
  }

  /** Streams in flight on this worker for this listener. */
  get activeStreams(): number {
    return this.streams.size;
  }

  onHeaders(s: StreamStart): void {
    const headers = HeaderMap.fromFlat(s.headers);
    const info: StreamInfo = {
      streamId: nextStreamId++,
      connectionId: s.connectionId,
      startTimeMs: Date.now(),
      protocol: s.protocol,
      downstreamRemoteAddress: s.remote,
      downstreamLocalAddress: s.local,
      mtls: false,
      nodeId: this.node.id,
      nodeCluster: this.node.cluster,
      listenerName: this.listener.name,
      requestBodyBytes: 0,
      responseBodyBytes: 0,
    };
    this.mutateRequestHeaders(headers, info, s);
    const filters: FilterEntry[] = new Array(this.filters.length);
    for (let i = 0; i < filters.length; i++) filters[i] = this.filters[i].create(info);
    const stream = new ActiveStream(this, s.id, info, filters, this.listener.bufferLimitBytes);
    this.streams.set(s.id, stream);
    this.stats.hcm(this.statPrefix, 'downstream_rq_total');
    this.stats.hcm(this.statPrefix, 'downstream_rq_active');
    stream.fm.decodeHeaders(headers, s.endStream);
  }

  /** ActiveStream::encodeHeaders: Envoy's response header mutations, then the codec. */
  encodeResponseHeaders(id: number, h: HeaderMap, end: boolean): void {
    this.mutateResponseHeaders(h);
    this.stats.hcmCode(this.statPrefix, Number(h.get(':status')));
    this.sink.headers(id, h.flat(), end);
  }

  onData(id: number, data: Buffer, endStream: boolean): void {
    const s = this.streams.get(id);
    if (!s) return;
    s.fm.decodeData(data, endStream);
  }

  onTrailers(id: number, trailers: string[]): void {
    const s = this.streams.get(id);
    if (!s) return;
    s.fm.decodeTrailers(HeaderMap.fromFlat(trailers));
  }

  /** The client reset the stream or closed the connection. */
  onReset(id: number): void {
    const s = this.streams.get(id);
    if (!s) return;
    this.stats.hcm(this.statPrefix, 'downstream_rq_rx_reset');
    s.fm.onDownstreamReset();
  }

  /** Forgets streams whose filter manager completed (their filters were destroyed). */
  reap(id: number): void {
    const s = this.streams.get(id);
    if (s && s.fm.done) {
      this.streams.delete(id);
      this.stats.hcm(this.statPrefix, 'downstream_rq_active', -1);
      this.stats.hcm(this.statPrefix, 'downstream_rq_completed');
    }
  }

  /** Resets every stream (shutdown). */
  resetAll(): void {
    for (const [id, s] of this.streams) {
      s.fm.onDownstreamReset();
      this.streams.delete(id);
    }
  }

  private isInternal(ip: string | null): boolean {
    return ip !== null && this.internalAddresses !== null && this.internalAddresses.check(ip, net.isIPv4(ip) ? 'ipv4' : 'ipv6');
  }

  /** ConnectionManagerUtility::mutateRequestHeaders. */
  private mutateRequestHeaders(h: HeaderMap, info: StreamInfo, s: StreamStart): void {
    const cfg = this.listener.hcm;
    for (const k of HOP_BY_HOP_REQUEST) h.remove(k);
    const remoteIp = ipOf(s.remote);
    let finalRemote: string | null = null;
    let single: boolean;
    let fromXff = false;
    if (cfg.useRemoteAddress) {
      single = !h.has('x-forwarded-for');
      if (cfg.xffNumTrustedHops > 0) finalRemote = lastAddressFromXff(h.get('x-forwarded-for'), cfg.xffNumTrustedHops - 1).address;
      fromXff = finalRemote !== null;
      // Without trusted hops (or a usable XFF) the client is the connection's peer.
      finalRemote ??= remoteIp;
      if (!cfg.skipXffAppend) {
        // A loopback peer is replaced by our own address (appendXff with config.localAddress()).
        const appended = remoteIp.startsWith('127.') || remoteIp === '::1' ? ipOf(s.local) : remoteIp;
        const prev = h.get('x-forwarded-for');
        h.set('x-forwarded-for', prev ? `${prev},${appended}` : appended);
      }
      // The prior hop's x-forwarded-proto is kept only when it is a trusted proxy.
      if (cfg.xffNumTrustedHops === 0 || !h.has('x-forwarded-proto')) h.set('x-forwarded-proto', 'http');
    } else {
      const r = lastAddressFromXff(h.get('x-forwarded-for'), cfg.xffNumTrustedHops);
      finalRemote = r.address;
      single = r.single;
      fromXff = finalRemote !== null;
    }
    if (!h.has('x-forwarded-proto')) h.set('x-forwarded-proto', 'http');
    // Internal: XFF held a single address (none appended before us) and it is internal.
    const internal = single && this.isInternal(finalRemote);
    finalRemote ??= remoteIp;
    const edge = !internal && cfg.useRemoteAddress;
    if (internal) h.set('x-envoy-internal', 'true');
    else {
      if (edge) {
        h.remove('x-envoy-decorator-operation');
        h.remove('x-envoy-downstream-service-cluster');
        h.remove('x-envoy-downstream-service-node');
      }
      for (const k of EXTERNAL_STRIPPED) h.remove(k);
    }
    if (edge) h.set('x-envoy-external-address', finalRemote);
    if (cfg.generateRequestId && (!h.has('x-request-id') || (edge && !cfg.preserveExternalRequestId))) h.set('x-request-id', randomUUID());
    if (fromXff) {
      // conn_manager_impl.cc setDownstreamRemoteAddress(final_remote_address): an address
      // parsed from XFF has port 0.
      (info as { downstreamRemoteAddress: string }).downstreamRemoteAddress = net.isIPv6(finalRemote) ? `[${finalRemote}]:0` : `${finalRemote}:0`;
    }
  }

  /** ActiveStream::encodeHeaders + mutateResponseHeaders. */
  private mutateResponseHeaders(h: HeaderMap): void {
    for (const k of HOP_BY_HOP_RESPONSE) h.remove(k);
    h.set('date', httpDate());
    const cfg = this.listener.hcm;
    if (cfg.serverHeaderTransformation === 'OVERWRITE' || (cfg.serverHeaderTransformation === 'APPEND_IF_ABSENT' && !h.has('server'))) h.set('server', cfg.serverName);
  }
}

/** The router's filter entry (decoder only, Envoy addStreamDecoderFilter). */
export function routerFactory(ctx: RouterContext): FilterFactoryEntry {
  return { name: 'envoy.filters.http.router', create: () => ({ name: 'envoy.filters.http.router', filter: new RouterFilter(ctx), decoder: true, encoder: false }) };
}

/** A factory for an `HttpFilter`-producing plugin (wasm or native test filter): decoder and encoder. */
export function streamFilterFactory(name: string, create: (info: StreamInfo) => HttpFilter): FilterFactoryEntry {
  return { name, create: (info) => ({ name, filter: create(info), decoder: true, encoder: true }) };
}
