/**
 * mesh: jwt-auth, rate-limit, circuit-breaker and retry in one module, one VM and one
 * context per stream, configured together (config.ts) and run in the configured order as
 * Envoy runs a chain of separate plugins (assembly/proxy-wasm/chain.ts). The same filters'
 * code, with Envoy's per-filter cost (a proxy-wasm context and the VM entries of every
 * callback, docs/PERFORMANCE.md) paid once per request instead of once per filter.
 */
// The union of the callbacks the four filters export (none exports proxy_on_log).
export * from "../../assembly/proxy-wasm/exports-core";
export {
  proxy_on_tick, proxy_on_request_headers, proxy_on_response_headers, proxy_on_response_trailers,
  proxy_on_http_call_response, proxy_on_grpc_receive, proxy_on_grpc_close,
} from "../../assembly/proxy-wasm/exports";

import { RootContext, registerRootContext } from "../../assembly/proxy-wasm";
import { MeshRoot } from "./plugin";

registerRootContext((contextId: u32): RootContext => new MeshRoot(contextId));
