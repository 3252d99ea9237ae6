// Runtime measurement module (test/sdk/measure-runtime.ts): a root context holding
// 100 000 live objects, like a rate limiter's local buckets or a token cache, while each
// request makes garbage (the whole header map decoded). It shows what a collection
// costs when the live heap is large, which decides between the `minimal` runtime
// (full collections triggered by the SDK) and `incremental` (amortized by allocation).

export * from '../../../assembly/proxy-wasm/exports';

import { FilterHeadersStatus, HttpContext, RootContext, registerRootContext } from '../../../assembly/proxy-wasm';

class Bucket {
  constructor(public tokens: f64, public lastRefill: i64, public key: string) {}
}

const KEYS = 100_000;

class HeapRoot extends RootContext {
  buckets: Map<string, Bucket> = new Map();

  onConfigure(size: usize): bool {
    for (let i = 0; i < KEYS; i++) {
      const key = 'client-' + i.toString();
      this.buckets.set(key, new Bucket(5, 0, key));
    }
    return true;
  }

  createHttpContext(contextId: u32): HttpContext | null {
    return new HeapStream(contextId, this);
  }
}

class HeapStream extends HttpContext {
  constructor(contextId: u32, readonly plugin: HeapRoot) {
    super(contextId, plugin);
  }

  onRequestHeaders(numHeaders: u32, endOfStream: bool): FilterHeadersStatus {
    const all = this.requestHeaders.getAll();
    const key = 'client-' + (this.contextId % KEYS).toString();
    if (this.plugin.buckets.has(key)) this.plugin.buckets.get(key).tokens -= 1;
    if (all) this.requestHeaders.replaceNamed('x-headers', all.length.toString());
    return FilterHeadersStatus.Continue;
  }
}

registerRootContext((contextId: u32): RootContext => new HeapRoot(contextId));
