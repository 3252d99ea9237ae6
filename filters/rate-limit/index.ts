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
 *   token-bucket.ts      exact continuous refill;  clock.ts  monotonic time
 *   response-headers.ts  retry-after, x-envoy-ratelimited, x-ratelimit-*
 *   metrics.ts           per-rule counters
 */
export {
  proxy_abi_version_0_2_1,
  proxy_on_memory_allocate,
  proxy_on_context_create,
  proxy_on_vm_start,
  proxy_on_configure,
  proxy_on_done,
  proxy_on_delete,
  proxy_on_request_headers,
  proxy_on_response_headers,
} from "../../assembly/proxy-wasm/exports";

import { RootContext, registerRootContext } from "../../assembly/proxy-wasm";
import { RateLimitRoot } from "./plugin";

registerRootContext((contextId: u32): RootContext => new RateLimitRoot(contextId));
