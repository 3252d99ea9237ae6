/**
 * rate-limit: token buckets after Envoy's `local_ratelimit`, shared by every worker
 * through shared data with CAS (filters.md "rate-limit"). This file only wires the
 * module: the ABI callbacks it uses and its root context.
 *
 *   exports.ts           the ABI callbacks exported
 *   config.ts            configuration → immutable RateLimitConfig (rules, limits, keys)
 *   plugin.ts            root and stream contexts: match, key, decide, reply, headers
 *   descriptor.ts        a request's key for a rule;  client-address.ts  XFF and IPs
 *   limiter.ts           the bucket table in shared data and its CAS loop
 *   bucket-page.ts       a page of the table: slots, claiming and reclaiming keys
 *   decision.ts          one request against a key's buckets; header values
 *   token-bucket.ts      exact continuous refill;  clock.ts  monotonic time
 *   response-headers.ts  retry-after, x-envoy-ratelimited, x-ratelimit-* (local and service)
 *   metrics.ts           per-rule counters
 *   global.ts            a rule's `global` part: the ShouldRateLimit request, its counters
 *   rls.ts               RateLimitRequest/Response in protobuf (assembly/protobuf)
 */
export * from "./exports";

import { RootContext, registerRootContext } from "../../assembly/proxy-wasm";
import { RateLimitRoot } from "./plugin";

registerRootContext((contextId: u32): RootContext => new RateLimitRoot(contextId));
