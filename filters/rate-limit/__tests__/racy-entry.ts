/**
 * Test-only module (built by test/filters/rate-limit/build.ts, never shipped): the
 * rate-limit filter with a slowed-down page write (../../__tests__/slow-write.ts), to
 * show that the CAS loop is what keeps N workers exact: with VM configuration
 * "cas <µs>" it stays exact, with "naive <µs>" (an unconditional read-modify-write) it
 * lets through more than the limit.
 */
export * from "../exports";

import { RootContext, WasmResult, registerRootContext, setSharedDataBytes } from "../../../assembly/proxy-wasm";
import { SlowWrite } from "../../__tests__/slow-write";
import { RateLimitConfig } from "../config";
import { Limiter } from "../limiter";
import { RateLimitRoot } from "../plugin";

class SlowLimiter extends Limiter {
  constructor(config: RateLimitConfig, readonly slow: SlowWrite) {
    super(config);
  }

  protected write(entry: ArrayBuffer, value: ArrayBuffer, cas: u32): WasmResult {
    return setSharedDataBytes(entry, value, this.slow.casAfterWait(cas));
  }
}

class SlowWriteRoot extends RateLimitRoot {
  private readonly slow: SlowWrite = new SlowWrite();

  onVmStart(vmConfigurationSize: usize): bool {
    this.slow.configure(this.getVmConfiguration());
    return true;
  }

  protected makeLimiter(config: RateLimitConfig): Limiter {
    return new SlowLimiter(config, this.slow);
  }
}

registerRootContext((contextId: u32): RootContext => new SlowWriteRoot(contextId));
