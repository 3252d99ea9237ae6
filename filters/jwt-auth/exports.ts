// The ABI callbacks jwt-auth uses (it reads request headers and HTTP-call responses only;
// Envoy skips callbacks a module does not export, which saves a VM entry per body chunk).
export {
  proxy_abi_version_0_2_1, proxy_on_memory_allocate, proxy_on_context_create, proxy_on_vm_start, proxy_on_configure,
  proxy_on_tick, proxy_on_done, proxy_on_delete, proxy_on_request_headers, proxy_on_http_call_response,
} from "../../assembly/proxy-wasm/exports";
