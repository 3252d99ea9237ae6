/**
 * retry: a proxy-wasm HTTP filter (filters.md "retry") that picks a retry policy per
 * request and hands it to Envoy's router through the router's own request headers, with
 * an idempotency guard and a retry budget shared by all workers. This file wires the
 * module: the ABI callbacks it exports and its root context.
 *
 *   config.ts        configuration → immutable RetryConfig
 *   plugin.ts        root and stream contexts: policy, budget, router headers, outcomes
 *   policy.ts        a policy's router headers and idempotency guard
 *   headers.ts       the router's headers read and written
 *   budget.ts        the retry budget;  budget-store.ts  its shared-data record (CAS)
 *   stats.ts         metrics
 */
export * from "../../assembly/proxy-wasm/exports-core";
// No proxy_on_log: retry keeps nothing to do after the response (a VM entry per request saved).
export { proxy_on_request_headers, proxy_on_response_headers } from "../../assembly/proxy-wasm/exports";

import { RootContext, registerRootContext } from "../../assembly/proxy-wasm";
import { RetryRoot } from "./plugin";

registerRootContext((contextId: u32): RootContext => new RetryRoot(contextId));
