/**
 * The ABI callbacks this module exports (Envoy skips those a module lacks: no bodies,
 * trailers, ticks or calls here, so no VM entry for them). Entry files re-export these.
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
