/**
 * Local replies as Envoy builds them (source/common/http/utility.cc
 * `Utility::prepareLocalReply` / `encodeLocalReply`) and the HTTP→gRPC status mapping
 * (source/common/grpc/status.cc `Utility::httpToGrpcStatus`).
 */
import { HeaderMap } from '../host/header-map.ts';
import type { LocalReply } from '../host/filter.ts';

/** gRPC status for an HTTP status (grpc/doc/http-grpc-status-mapping.md, as Envoy maps it). */
export function httpToGrpcStatus(httpStatus: number): number {
  switch (httpStatus) {
    case 400:
      return 13; // Internal
    case 401:
      return 16; // Unauthenticated
    case 403:
      return 7; // PermissionDenied
    case 404:
      return 12; // Unimplemented
    case 429:
    case 502:
    case 503:
    case 504:
      return 14; // Unavailable
    default:
      return 2; // Unknown
  }
}

/** HTTP status for a gRPC status (status.cc `grpcToHttpStatus`). */
export function grpcToHttpStatus(grpc: number): number {
  const table: Record<number, number> = { 0: 200, 1: 499, 2: 500, 3: 400, 4: 504, 5: 404, 6: 409, 7: 403, 8: 429, 9: 400, 10: 409, 11: 400, 12: 501, 13: 500, 14: 503, 15: 500, 16: 401 };
  return table[grpc] ?? 500;
}

/** `content-type` is gRPC: `application/grpc`, `application/grpc+proto`, `application/grpc;...` (grpc/common.cc `hasGrpcContentType`). */
export function isGrpcContentType(ct: string | undefined): boolean {
  if (!ct || !ct.startsWith('application/grpc')) return false;
  const rest = ct.charAt('application/grpc'.length);
  return rest === '' || rest === '+' || rest === ';';
}

/** Envoy's PercentEncoding::encode for `grpc-message`: bytes outside ' '..'~' and '%' become %XX. */
export function percentEncodeGrpcMessage(text: string): string {
  let out = '';
  const bytes = Buffer.from(text, 'utf8');
  for (const b of bytes) {
    if (b < 0x20 || b > 0x7e || b === 0x25) out += '%' + b.toString(16).toUpperCase().padStart(2, '0');
    else out += String.fromCharCode(b);
  }
  return out;
}

/** HTTP reason phrases Envoy uses as local reply bodies (codes.cc `CodeUtility::toString`). */
export function reasonPhrase(code: number): string {
  const phrases: Record<number, string> = {
    400: 'Bad Request',
    401: 'Unauthorized',
    403: 'Forbidden',
    404: 'Not Found',
    413: 'Payload Too Large',
    429: 'Too Many Requests',
    500: 'Internal Server Error',
    502: 'Bad Gateway',
    503: 'Service Unavailable',
    504: 'Gateway Timeout',
  };
  return phrases[code] ?? '';
}

export interface PreparedLocalReply {
  headers: HeaderMap;
  /** Empty for gRPC (trailers-only) and HEAD requests: headers end the stream. */
  body: Buffer;
}

/**
 * Builds the response of a local reply: `:status`, the reply's extra headers, then for
 * gRPC requests a trailers-only response (`:status 200`, `content-type:
 * application/grpc`, `grpc-status` from the filter or mapped from the HTTP status,
 * `grpc-message` = percent-encoded body); otherwise `content-length` and
 * `content-type: text/plain` (unless set) when there is a body.
 */
export function prepareLocalReply(reply: LocalReply, isGrpc: boolean, isHead: boolean, extraHeaders: Iterable<[string, string]> = []): PreparedLocalReply {
  const headers = new HeaderMap([[':status', String(reply.status)]]);
  for (const [k, v] of extraHeaders) headers.add(k, v);
  for (const [k, v] of reply.headers ?? []) headers.add(k, v);
  const bodyText = typeof reply.body === 'string' ? reply.body : Buffer.from(reply.body).toString('utf8');
  const body = typeof reply.body === 'string' ? Buffer.from(reply.body, 'utf8') : Buffer.from(reply.body);
  if (isGrpc) {
    headers.set(':status', '200');
    headers.set('content-type', 'application/grpc');
    if (!headers.has('grpc-status')) headers.set('grpc-status', String(reply.grpcStatus ?? httpToGrpcStatus(reply.status)));
    // utility.cc prepareLocalReply: one trailing newline (a JSON formatter's) is not sent.
    const message = bodyText.endsWith('\n') ? bodyText.slice(0, -1) : bodyText;
    if (message.length && !isHead) headers.set('grpc-message', percentEncodeGrpcMessage(message));
    headers.remove('content-length');
    return { headers, body: Buffer.alloc(0) };
  }
  if (body.length) {
    headers.set('content-length', String(body.length));
    if (!headers.has('content-type')) headers.set('content-type', 'text/plain');
  } else {
    headers.remove('content-length');
    headers.remove('content-type');
  }
  return { headers, body: isHead ? Buffer.alloc(0) : body };
}
