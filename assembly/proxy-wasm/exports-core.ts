/**
 * The callbacks every filter built with this SDK exports: the ABI version marker and the
 * allocator Envoy requires, context creation and deletion (`proxy_on_context_create`,
 * `proxy_on_delete`), and the root's `proxy_on_vm_start` and `proxy_on_configure`. Not
 * `proxy_on_done`: Envoy takes a module without it as done at once (proxy-wasm-cpp-host
 * `ContextBase::onDone`), which saves a VM entry per stream; a filter whose `onDone` may
 * return false exports it too (work at a stream's end goes in `onDelete`, which Envoy calls
 * right after the access log). A filter's entry file writes
 *
 *   export * from "../../assembly/proxy-wasm/exports-core";
 *   export { proxy_on_request_headers, proxy_on_response_headers } from "../../assembly/proxy-wasm/exports";
 *
 * naming in the second line only the stream callbacks it handles: Envoy skips a
 * callback the module does not export (proxy-wasm-cpp-host src/wasm.cc looks each one
 * up once), which saves a VM entry per stream or chunk and the dispatch code.
 */
export {
  proxy_abi_version_0_2_1,
  proxy_on_memory_allocate,
  proxy_on_context_create,
  proxy_on_vm_start,
  proxy_on_configure,
  proxy_on_delete,
} from "./exports";
