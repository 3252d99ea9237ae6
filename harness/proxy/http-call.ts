/**
 * `proxy_http_call` dispatch (the worker's `HostServices.httpCall`), after Envoy's
 * source/common/http/async_client_impl.cc: the call runs through a router of its own on
 * the named cluster, with the call's timeout as the route timeout and no retries. As in
 * Envoy (AsyncStreamImpl::sendLocalReply), the router's local replies reach the caller
 * as responses — `504 upstream request timeout`, `503 no healthy upstream`, `503 upstream
 * connect error...` — while a reset after the response started is a failure
 * (`onResponse(null)`, Envoy's `onFailure(Reset)`: the plugin sees zero headers).
 */
import type { StreamInfo } from '../http/filter.ts';
import { HeaderMap, type HeaderPair } from '../http/header-map.ts';
import type { RouteActionConfig, VirtualHostConfig } from './bootstrap.ts';
import { FilterManager } from './filter-manager.ts';
import { RouterFilter, type RouteEntry, type RouterContext } from './router.ts';

export interface HttpCallResponse {
  headers: HeaderPair[];
  body: Uint8Array;
  trailers: HeaderPair[];
}

export interface CallHandle {
  cancel(): void;
}

const CALL_VHOST: VirtualHostConfig = { name: 'async_client', domains: ['*'], routes: [], includeRequestAttemptCount: false, includeAttemptCountInResponse: false };
let nextCallId = 1;

export function createHttpCall(ctx: RouterContext) {
  /** Returns false for an unknown cluster; `timeoutMs` 0 = no timeout. */
  return function httpCall(
    cluster: string,
    headers: HeaderPair[],
    body: Uint8Array,
    trailers: HeaderPair[],
    timeoutMs: number,
    onResponse: (r: HttpCallResponse | null) => void,
  ): false | CallHandle {
    if (!ctx.clusters.get(cluster)) return false;
    const action: RouteActionConfig = { kind: 'route', cluster, timeoutMs };
    const entry: RouteEntry = { action, virtualHost: CALL_VHOST };
    const info: StreamInfo = {
      streamId: -nextCallId++,
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
    let resHeaders: HeaderPair[] = [];
    const chunks: Buffer[] = [];
    let resTrailers: HeaderPair[] = [];
    let finished = false;
    const finish = (r: HttpCallResponse | null): void => {
      if (finished) return;
      finished = true;
      onResponse(r);
    };
    const done = (): void => finish({ headers: resHeaders, body: Buffer.concat(chunks), trailers: resTrailers });
    const router = new RouterFilter(ctx);
    const fm = new FilterManager(
      info,
      {
        encodeHeaders(h, end) {
          resHeaders = h.entries();
          if (end) done();
        },
        encodeData(d, end) {
          if (d.length) chunks.push(d);
          if (end) done();
        },
        encodeTrailers(t) {
          resTrailers = t.entries();
          done();
        },
        resetStream: () => finish(null),
        resolveRoute: () => ({ name: 'async_client', clusterName: cluster, entry }),
        onDecoderAboveHighWatermark() {},
        onDecoderBelowLowWatermark() {},
        onDone() {},
      },
      [{ name: 'envoy.filters.http.router', filter: router, decoder: true, encoder: false }],
      Number.MAX_SAFE_INTEGER,
    );
    const h = new HeaderMap(headers);
    const hasBody = body.length > 0;
    const hasTrailers = trailers.length > 0;
    fm.decodeHeaders(h, !hasBody && !hasTrailers);
    if (hasBody) fm.decodeData(Buffer.from(body), !hasTrailers);
    if (hasTrailers) fm.decodeTrailers(new HeaderMap(trailers));
    return {
      cancel() {
        finished = true;
        fm.onDownstreamReset();
      },
    };
  };
}
