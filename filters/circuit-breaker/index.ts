/**
 * circuit-breaker: a proxy-wasm HTTP filter (root_id `circuit-breaker`) that keeps a
 * CLOSED / OPEN / HALF_OPEN circuit per upstream service in shared data, so every Envoy
 * worker sees one circuit (shared/spec/filters.md "circuit-breaker"). This file wires the
 * module: the ABI callbacks it exports and its root context.
 *
 *   config.ts    configuration → immutable CircuitBreakerConfig
 *   plugin.ts    root and stream contexts: admission, outcomes, local replies
 *   machine.ts   the circuit's state machine;  record.ts  its shared record
 *   select.ts    which service a request counts against;  shared.ts  CAS on shared data
 *   stats.ts     metrics and logs
 */
export * from "../../assembly/proxy-wasm/exports-core";
// No proxy_on_log: the outcome is counted in onDelete, which Envoy runs for every stream when the
// filter is destroyed, after the access log (a VM entry per request saved).
export { proxy_on_request_headers, proxy_on_response_headers, proxy_on_response_trailers } from "../../assembly/proxy-wasm/exports";

import { RootContext, registerRootContext } from "../../assembly/proxy-wasm";
import { CircuitBreakerRoot } from "./plugin";

registerRootContext((contextId: u32): RootContext => new CircuitBreakerRoot(contextId));
