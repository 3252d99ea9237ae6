/**
 * The ABI callbacks this module exports (Envoy skips those a module lacks: no bodies,
 * trailers or ticks here, so no VM entry for them). The gRPC pair answers the `global`
 * part's ShouldRateLimit calls: a unary call ends with one `proxy_on_grpc_receive` (the
 * answer) or one `proxy_on_grpc_close` (a failure); metadata callbacks are not needed.
 * Entry files re-export these.
 */
export * from "../../assembly/proxy-wasm/exports-core";
export {
  proxy_on_request_headers, proxy_on_response_headers, proxy_on_grpc_receive, proxy_on_grpc_close,
} from "../../assembly/proxy-wasm/exports";
