/**
 * rate-limit: token buckets after Envoy's `local_ratelimit`, shared by every worker
 * through shared data with CAS (filters.md "rate-limit"). This file only wires the
 * module: the ABI callbacks it uses and its root context.
 *
 *   config.ts            configuration → immutable RateLimitConfig (rules, limits, keys)
 *   plugin.ts            root and stream contexts: match, key, decide, reply, headers
 *   descriptor.ts        a request's key for a rule;  client-address.ts  XFF and IPs
 *   limiter.ts           the bucket table in shared data and its CAS loop
 *   bucket-page.ts       a page of the table: slots, claiming and reclaiming keys
 *   decision.ts          one request against a key's buckets; header values
 *   token-bucket.ts      exact continuous refill
 *   response-headers.ts  retry-after, x-envoy-ratelimited, x-ratelimit-* (local and service)
 *   stats.ts             per-rule counters, local and global
 *   global.ts            a rule's `global` part: the ShouldRateLimit request
 *   rls.ts               RateLimitRequest/Response in protobuf (assembly/protobuf)
 */
// The ABI callbacks this module exports (Envoy skips those a module lacks: no bodies,
// trailers or ticks here, so no VM entry for them). The gRPC pair answers the `global`
// part's ShouldRateLimit calls: a unary call ends with one `proxy_on_grpc_receive` (the
// answer) or one `proxy_on_grpc_close` (a failure); metadata callbacks are not needed.
export * from "../../assembly/proxy-wasm/exports-core";
export {
  proxy_on_request_headers, proxy_on_response_headers, proxy_on_grpc_receive, proxy_on_grpc_close,
} from "../../assembly/proxy-wasm/exports";

import { RootContext, registerRootContext } from "../../assembly/proxy-wasm";
import { RateLimitRoot } from "./plugin";

registerRootContext((contextId: u32): RootContext => new RateLimitRoot(contextId));
