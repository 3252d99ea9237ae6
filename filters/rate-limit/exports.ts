/**
 * The ABI callbacks this module exports (Envoy skips those a module lacks: no bodies,
 * trailers, ticks or calls here, so no VM entry for them). Entry files re-export these.
 */
export * from "../../assembly/proxy-wasm/exports-core";
export { proxy_on_request_headers, proxy_on_response_headers } from "../../assembly/proxy-wasm/exports";
