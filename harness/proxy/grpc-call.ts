/**
 * `proxy_grpc_call` dispatch (the worker's `HostServices.grpcCall`), after Envoy's
 * source/common/grpc/async_client_impl.cc: a unary call is an HTTP/2 POST to
 * `/<service>/<method>` on the named cluster through the same async client as
 * `proxy_http_call` (harness/proxy/http-call.ts), with the message in one
 * length-prefixed frame (gRPC over HTTP/2, "Length-Prefixed-Message") and the timeout
 * also sent as `grpc-timeout`. The result is the first response message when
 * `grpc-status` is 0, else the status and its percent-decoded `grpc-message`; a
 * non-200 HTTP status maps to a gRPC status as Envoy's `Grpc::Utility::httpToGrpcStatus`.
 */
import type { HeaderPair } from '../http/header-map.ts';
import type { CallHandle, HttpCallResponse } from './http-call.ts';
import { httpToGrpcStatus } from './local-reply.ts';

type HttpCall = (
  cluster: string,
  headers: HeaderPair[],
  body: Uint8Array,
  trailers: HeaderPair[],
  timeoutMs: number,
  onResponse: (r: HttpCallResponse | null) => void,
) => false | CallHandle;

export interface GrpcUnaryRequest {
  cluster: string;
  service: string;
  method: string;
  initialMetadata: HeaderPair[];
  message: Uint8Array;
  timeoutMs: number;
}

export interface GrpcUnaryCallbacks {
  onSuccess(message: Uint8Array): void;
  onFailure(status: number, message: string): void;
}

/** gRPC status codes used here (grpc/status.h). */
const GRPC_INTERNAL = 13;
const GRPC_UNAVAILABLE = 14;

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

function header(pairs: HeaderPair[], name: string): string | undefined {
  for (const [k, v] of pairs) if (k === name) return v;
  return undefined;
}

export function createGrpcCall(httpCall: HttpCall) {
  /** Returns false for an unknown cluster (the host then answers PARSE_FAILURE, as Envoy). */
  return function grpcCall(request: GrpcUnaryRequest, callbacks: GrpcUnaryCallbacks): false | CallHandle {
    const headers: HeaderPair[] = [
      [':method', 'POST'],
      [':path', `/${request.service}/${request.method}`],
      [':authority', request.cluster],
      [':scheme', 'http'],
      ['content-type', 'application/grpc'],
      ['te', 'trailers'],
      ...(request.timeoutMs > 0 ? ([['grpc-timeout', `${request.timeoutMs}m`]] as HeaderPair[]) : []),
      ...request.initialMetadata,
    ];
    return httpCall(request.cluster, headers, frameGrpcMessage(request.message), [], request.timeoutMs, (r) => {
      if (r === null) return callbacks.onFailure(GRPC_UNAVAILABLE, 'upstream reset');
      const httpStatus = Number(header(r.headers, ':status'));
      // Trailers-only responses carry grpc-status in the headers.
      const status = header(r.trailers, 'grpc-status') ?? header(r.headers, 'grpc-status');
      const grpcMessage = header(r.trailers, 'grpc-message') ?? header(r.headers, 'grpc-message') ?? '';
      if (httpStatus !== 200) return callbacks.onFailure(httpToGrpcStatus(httpStatus), grpcMessage || Buffer.from(r.body).toString('latin1'));
      if (status === undefined) return callbacks.onFailure(GRPC_INTERNAL, 'no grpc-status in the response');
      if (Number(status) !== 0) return callbacks.onFailure(Number(status), decodeURIComponentSafe(grpcMessage));
      const message = firstGrpcMessage(r.body);
      if (message === null) return callbacks.onFailure(GRPC_INTERNAL, 'malformed gRPC response body');
      callbacks.onSuccess(message);
    });
  };
}

function decodeURIComponentSafe(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}
