/**
 * `proxy_grpc_call` and `proxy_grpc_stream` dispatch (the worker's `HostServices.grpcCall`
 * and `.grpcStream`), after Envoy's source/common/grpc/async_client_impl.cc
 * (`Grpc::AsyncStreamImpl`, `AsyncRequestImpl`) on the async stream of async-client.ts:
 *
 * - request: `POST /<service>/<method>`, `:authority` the cluster name, `te: trailers`,
 *   `grpc-timeout` whenever a timeout is set — for a unary call always, `0m` included, as
 *   `Common::prepareHeaders` writes any set timeout (`toGrpcTimeout` units m/S/M/H) —
 *   `content-type: application/grpc`, then the plugin's initial metadata; each message in
 *   one length-prefixed frame (gRPC over HTTP/2 "Length-Prefixed-Message"); a half-close
 *   is an empty DATA frame with end of stream (`closeStream`);
 * - response: non-trailers-only headers are the initial metadata; frames become messages
 *   (split across DATA chunks as they come); trailers give `grpc-status` (Unknown when
 *   absent, InvalidCode when not a number in 0..16) and the raw `grpc-message`. A non-200
 *   response without `grpc-status` closes with Canceled (Envoy follows the Google client
 *   there, not the HTTP mapping); a body that ends without trailers closes with Unknown; a
 *   compressed or malformed frame with Internal; a reset with Internal. A close other
 *   than by trailers resets the HTTP stream and comes with empty trailing metadata.
 * - a unary call succeeds with its (last) message when the status is OK, fails with
 *   Internal and no message when there was none (`AsyncRequestImpl::onRemoteClose`).
 */
import type { HeaderPair } from '../host/header-map.ts';
import { HeaderMap } from '../host/header-map.ts';
import type { CallHandle, GrpcCallCallbacks, GrpcCallRequest, GrpcStreamCallbacks, GrpcStreamHandle, GrpcStreamRequest } from '../host/services.ts';
import { startAsyncStream, type AsyncStream } from './async-client.ts';
import type { RouterContext } from './router.ts';

/** gRPC status codes used here (grpc/status.h; InvalidCode is Envoy's -1 as a uint32). */
export const GRPC_OK = 0;
export const GRPC_CANCELED = 1;
export const GRPC_UNKNOWN = 2;
export const GRPC_INTERNAL = 13;
export const GRPC_INVALID_CODE = 0xffff_ffff;

const MAX_GRPC_TIMEOUT_VALUE = 99_999_999;

/** Envoy `Grpc::Common::toGrpcTimeout`: the value in ms, else S, M, H, at most 8 digits. */
export function toGrpcTimeout(ms: number): string {
  let time = Math.max(0, Math.floor(ms));
  const units = 'mSMH';
  let unit = 0;
  if (time > MAX_GRPC_TIMEOUT_VALUE) {
    time = Math.floor(time / 1000);
    unit++;
  }
  while (time > MAX_GRPC_TIMEOUT_VALUE) {
    if (units[unit] === 'H') time = MAX_GRPC_TIMEOUT_VALUE;
    else {
      time = Math.floor(time / 60);
      unit++;
    }
  }
  return `${time}${units[unit]}`;
}

/** A message in gRPC's length-prefixed framing: flag byte 0 (uncompressed), u32 BE length. */
export function frameGrpcMessage(message: Uint8Array): Buffer {
  const out = Buffer.alloc(5 + message.length);
  out.writeUInt32BE(message.length, 1);
  out.set(message, 5);
  return out;
}

/** The first message of a length-prefixed body, or null when the body is not one. */
export function firstGrpcMessage(body: Uint8Array): Uint8Array | null {
  if (body.length < 5 || body[0] !== 0) return null;
  const len = Buffer.from(body.buffer, body.byteOffset, body.byteLength).readUInt32BE(1);
  return body.length >= 5 + len ? body.subarray(5, 5 + len) : null;
}

/** Envoy `Grpc::Common::getGrpcStatus`: undefined when absent, InvalidCode when not 0..16. */
function grpcStatusOf(map: HeaderMap): number | undefined {
  const v = map.get('grpc-status');
  if (v === undefined || v === '') return undefined;
  return /^\d+$/.test(v) && Number(v) <= 16 ? Number(v) : GRPC_INVALID_CODE;
}

/** Envoy `Grpc::AsyncStreamImpl` on the worker's async HTTP client. */
class GrpcAsyncStream implements GrpcStreamHandle {
  private http: AsyncStream | null = null;
  private pending: Buffer = Buffer.alloc(0);
  private closed = false;

  constructor(
    ctx: RouterContext,
    request: GrpcStreamRequest,
    timeoutMs: number | undefined,
    private readonly callbacks: GrpcStreamCallbacks,
  ) {
    const headers = new HeaderMap([
      [':method', 'POST'],
      [':path', `/${request.service}/${request.method}`],
      [':authority', request.cluster],
      ['te', 'trailers'],
    ]);
    if (timeoutMs !== undefined) headers.add('grpc-timeout', toGrpcTimeout(timeoutMs));
    headers.add('content-type', 'application/grpc');
    for (const [k, v] of request.initialMetadata) headers.add(k, v);
    this.http = startAsyncStream(ctx, request.cluster, headers, false, timeoutMs ?? 0, {
      onHeaders: (h, end) => this.onHeaders(h, end),
      onData: (d, end) => this.onData(d, end),
      onTrailers: (t) => this.onTrailers(t),
      onReset: () => this.streamError(GRPC_INTERNAL),
    });
  }

  get started(): boolean {
    return this.http !== null;
  }

  send(message: Uint8Array, endStream: boolean): void {
    this.http?.sendData(frameGrpcMessage(message), endStream);
  }

  close(): void {
    this.http?.sendData(new Uint8Array(0), true);
  }

  cancel(): void {
    this.closed = true;
    this.http?.reset();
  }

  private onHeaders(headers: HeaderMap, end: boolean): void {
    if (this.closed) return;
    const status = headers.get(':status');
    const grpcStatus = grpcStatusOf(headers);
    this.callbacks.onInitialMetadata(end ? [] : headers.entries());
    if (status !== '200') {
      if (end && grpcStatus !== undefined) return this.onTrailers(headers);
      return this.streamError(GRPC_CANCELED);
    }
    if (end) this.onTrailers(headers);
  }

  private onData(data: Buffer, end: boolean): void {
    if (this.closed) return;
    this.pending = this.pending.length ? Buffer.concat([this.pending, data]) : data;
    while (this.pending.length >= 5) {
      const flags = this.pending[0];
      const len = this.pending.readUInt32BE(1);
      if (this.pending.length < 5 + len) break;
      if (len > 0 && flags !== 0) return this.streamError(GRPC_INTERNAL);
      const message = this.pending.subarray(5, 5 + len);
      this.pending = this.pending.subarray(5 + len);
      this.callbacks.onMessage(message);
      if (this.closed) return;
    }
    if (end) this.streamError(GRPC_UNKNOWN);
  }

  private onTrailers(trailers: HeaderMap): void {
    if (this.closed) return;
    this.closed = true;
    const status = grpcStatusOf(trailers) ?? GRPC_UNKNOWN;
    const message = trailers.get('grpc-message') ?? '';
    this.callbacks.onTrailingMetadata(trailers.entries());
    this.callbacks.onClose(status, message);
  }

  private streamError(status: number, message = ''): void {
    if (this.closed) return;
    this.closed = true;
    this.callbacks.onTrailingMetadata([]);
    this.callbacks.onClose(status, message);
    this.http?.reset();
  }
}

/** `HostServices.grpcStream`: false for an unknown cluster (the host answers PARSE_FAILURE, as Envoy). */
export function createGrpcStream(ctx: RouterContext) {
  return function grpcStream(request: GrpcStreamRequest, callbacks: GrpcStreamCallbacks): false | GrpcStreamHandle {
    if (!ctx.clusters.get(request.cluster)) return false;
    const stream = new GrpcAsyncStream(ctx, request, undefined, callbacks);
    return stream.started ? stream : false;
  };
}

/** `HostServices.grpcCall` (unary): false for an unknown cluster (the host answers PARSE_FAILURE, as Envoy). */
export function createGrpcCall(ctx: RouterContext) {
  return function grpcCall(request: GrpcCallRequest, callbacks: GrpcCallCallbacks): false | CallHandle {
    if (!ctx.clusters.get(request.cluster)) return false;
    let response: Uint8Array | null = null;
    const stream = new GrpcAsyncStream(ctx, request, request.timeoutMs, {
      onInitialMetadata() {},
      onMessage: (m) => void (response = new Uint8Array(m)),
      onTrailingMetadata() {},
      onClose(status, message) {
        if (status !== GRPC_OK) callbacks.onFailure(status, message);
        else if (response === null) callbacks.onFailure(GRPC_INTERNAL, '');
        else callbacks.onSuccess(response);
      },
    });
    if (!stream.started) return false;
    stream.send(request.message, true);
    return { cancel: () => stream.cancel() };
  };
}
