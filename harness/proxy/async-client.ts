/**
 * A worker's async HTTP client, after Envoy's source/common/http/async_client_impl.cc
 * (`AsyncStreamImpl`): a stream through a router of its own on a named cluster (the route
 * is Envoy's `NullRouteImpl`: that cluster, no retries, the caller's timeout as the route
 * timeout, 0 = none). As in `AsyncStreamImpl::sendHeaders`, the request is marked
 * `x-envoy-internal: true` (`send_internal`, on by default) and gets no `x-forwarded-for`
 * (Envoy's wasm and gRPC callers set `send_xff` false). The router's local replies (503 no
 * healthy upstream, 504 upstream request timeout, ...) reach the caller as responses
 * (`AsyncStreamImpl::sendLocalReply`; trailers-only gRPC for gRPC requests), a reset before
 * the response completed as `onReset`. `proxy_http_call` (http-call.ts) and the gRPC
 * clients (grpc-call.ts) are built on it.
 */
import type { StreamInfo } from '../host/filter.ts';
import { HeaderMap } from '../host/header-map.ts';
import type { RouteActionConfig, VirtualHostConfig } from './bootstrap.ts';
import { FilterManager } from './filter-manager.ts';
import { RouterFilter, type RouteEntry, type RouterContext } from './router.ts';

/** Envoy `Http::AsyncClient::StreamCallbacks`. */
export interface AsyncStreamCallbacks {
  onHeaders(headers: HeaderMap, endStream: boolean): void;
  onData(data: Buffer, endStream: boolean): void;
  onTrailers(trailers: HeaderMap): void;
  /** The stream was reset before the response completed (not called after `reset()`). */
  onReset(): void;
}

/** Envoy `Http::AsyncClient::Stream`. */
export interface AsyncStream {
  /** Ignored once the request is complete (Envoy maps sends after local closure to no-ops). */
  sendData(data: Uint8Array, endStream: boolean): void;
  sendTrailers(trailers: HeaderMap): void;
  /** Resets the stream; no callback follows. */
  reset(): void;
}

const CALL_VHOST: VirtualHostConfig = { name: 'async_client', domains: ['*'], routes: [], includeRequestAttemptCount: false, includeAttemptCountInResponse: false };
let nextStreamId = 1;

/**
 * Starts a stream on `cluster` with `headers` (a map the router may edit). Returns null for
 * an unknown cluster. Callbacks may run before this returns (a local reply such as 503 no
 * healthy upstream is immediate).
 */
export function startAsyncStream(
  ctx: RouterContext,
  cluster: string,
  headers: HeaderMap,
  endStream: boolean,
  timeoutMs: number,
  callbacks: AsyncStreamCallbacks,
): AsyncStream | null {
  if (!ctx.clusters.get(cluster)) return null;
  const action: RouteActionConfig = { kind: 'route', cluster, timeoutMs };
  const entry: RouteEntry = { action, virtualHost: CALL_VHOST };
  const info: StreamInfo = {
    streamId: -nextStreamId++,
    connectionId: 0,
    startTimeMs: Date.now(),
    protocol: 'HTTP/1.1',
    downstreamRemoteAddress: '',
    downstreamLocalAddress: '',
    mtls: false,
    nodeId: '',
    nodeCluster: '',
    requestBodyBytes: 0,
    responseBodyBytes: 0,
  };
  let closed = false;
  const fm = new FilterManager(
    info,
    {
      encodeHeaders: (h, end) => {
        if (end) closed = true;
        callbacks.onHeaders(h, end);
      },
      encodeData: (d, end) => {
        if (end) closed = true;
        callbacks.onData(d, end);
      },
      encodeTrailers: (t) => {
        closed = true;
        callbacks.onTrailers(t);
      },
      resetStream: () => {
        if (closed) return;
        closed = true;
        callbacks.onReset();
      },
      resolveRoute: () => ({ name: '', clusterName: cluster, entry }),
      onDecoderAboveHighWatermark() {},
      onDecoderBelowLowWatermark() {},
      onDone() {},
    },
    [{ name: 'envoy.filters.http.router', filter: new RouterFilter(ctx), decoder: true, encoder: false }],
    Number.MAX_SAFE_INTEGER,
  );
  headers.set('x-envoy-internal', 'true');
  fm.decodeHeaders(headers, endStream);
  return {
    sendData(data, end) {
      if (closed || fm.remoteDecodeComplete) return;
      fm.decodeData(Buffer.from(data.buffer, data.byteOffset, data.byteLength), end);
    },
    sendTrailers(trailers) {
      if (closed || fm.remoteDecodeComplete) return;
      fm.decodeTrailers(trailers);
    },
    reset() {
      if (closed) return;
      closed = true;
      fm.onDownstreamReset();
    },
  };
}
