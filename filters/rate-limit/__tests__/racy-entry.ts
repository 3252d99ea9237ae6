/**
 * Test-only module (built by test/filters/rate-limit/build.ts `ensureNoCas`, never
 * shipped): the rate-limit filter with its page write made unconditional (cas 0), the
 * control of the CAS race tests (test/filters/rate-limit/workers.test.ts): the same
 * interleaving of workers that the real filter keeps exact lets this one over-admit.
 */
export * from "../exports";

import { RootContext, WasmResult, registerRootContext, setSharedDataBytes } from "../../../assembly/proxy-wasm";
import { RateLimitConfig } from "../config";
import { Limiter } from "../limiter";
import { RateLimitRoot } from "../plugin";

class NoCasLimiter extends Limiter {
  protected write(entry: ArrayBuffer, value: ArrayBuffer, cas: u32): WasmResult {
    return setSharedDataBytes(entry, value, 0);
  }
}

class NoCasRoot extends RateLimitRoot {
  protected makeLimiter(config: RateLimitConfig): Limiter {
    return new NoCasLimiter(config);
  }
}

registerRootContext((contextId: u32): RootContext => new NoCasRoot(contextId));
