/**
 * `proxy_http_call` dispatch (the worker's `HostServices.httpCall`), after Envoy's
 * `Http::AsyncClient::send` (source/common/http/async_client_impl.cc `AsyncRequestImpl`)
 * on the async stream of async-client.ts: the whole response is collected and handed
 * over once complete. The router's local replies are responses — `504 upstream request
 * timeout`, `503 no healthy upstream`, `503 upstream connect error...` — while a reset
 * before the response completed is a failure (`onResponse(null)`, Envoy's
 * `onFailure(Reset)`: the plugin sees zero headers).
 */
import type { HeaderPair } from '../host/header-map.ts';
import { HeaderMap } from '../host/header-map.ts';
import type { CallHandle, HttpCallFn, HttpCallResponse } from '../host/services.ts';
import { startAsyncStream } from './async-client.ts';
import type { RouterContext } from './router.ts';

export type { HttpCallResponse };

/** The host's `HttpCallFn` as this data plane provides it (false: unknown cluster). */
export type HttpCall = (...args: Parameters<HttpCallFn>) => false | CallHandle;

export function createHttpCall(ctx: RouterContext): HttpCall {
  /** Returns false for an unknown cluster; `timeoutMs` 0 = no timeout. */
  return function httpCall(cluster, headers, body, trailers, timeoutMs, onResponse) {
    let resHeaders: HeaderPair[] = [];
    const chunks: Buffer[] = [];
    let resTrailers: HeaderPair[] = [];
    let finished = false;
    const finish = (r: HttpCallResponse | null): void => {
      if (finished) return;
      finished = true;
      onResponse(r);
    };
    const done = (): void => finish({ headers: resHeaders, body: chunks.length === 1 ? chunks[0] : Buffer.concat(chunks), trailers: resTrailers });
    const hasBody = body.length > 0;
    const hasTrailers = trailers.length > 0;
    const stream = startAsyncStream(ctx, cluster, new HeaderMap(headers), !hasBody && !hasTrailers, timeoutMs, {
      onHeaders(h, end) {
        resHeaders = h.entries();
        if (end) done();
      },
      onData(d, end) {
        if (d.length) chunks.push(d);
        if (end) done();
      },
      onTrailers(t) {
        resTrailers = t.entries();
        done();
      },
      onReset: () => finish(null),
    });
    if (!stream) return false;
    if (hasBody) stream.sendData(body, !hasTrailers);
    if (hasTrailers) stream.sendTrailers(new HeaderMap(trailers));
    return {
      cancel() {
        finished = true;
        stream.reset();
      },
    };
  };
}
