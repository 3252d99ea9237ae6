// Compile-time marker that this module is a proxy-wasm module: runtime/handlers.ts
// checks `isDefined(__PROXY_WASM_SDK)` to route `abort`/`trace`/`seed` to the host's
// log and WASI instead of the `env.abort`/`env.trace`/`env.seed` imports Envoy lacks.
// Imported by abi/imports.ts, so any module that talks to the host gets it.

// @ts-ignore: decorator
@global export const __PROXY_WASM_SDK: bool = true;
