// A filter that does nothing: a root context and, per stream, an HTTP context with every
// callback left at its default (Continue). The SDK's own floor per request, for the
// Envoy bench (harness/bench/envoy.ts), measured against the same filter written with
// proxy-wasm-rust-sdk (harness/bench/rust-sdk/noop). Exports every callback, as the
// Rust SDK's modules do.

export * from '../../../assembly/proxy-wasm/exports';

import { HttpContext, RootContext, registerRootContext } from '../../../assembly/proxy-wasm';

class NoopRoot extends RootContext {
  createHttpContext(contextId: u32): HttpContext | null {
    return new HttpContext(contextId, this);
  }
}

registerRootContext((contextId: u32): RootContext => new NoopRoot(contextId));
