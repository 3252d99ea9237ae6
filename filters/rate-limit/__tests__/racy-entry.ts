/**
 * Test-only module (built by test/filters/rate-limit/build.ts, never shipped): the
 * rate-limit filter with a slowed-down page write, to show that the CAS loop is what
 * keeps N workers exact. Its VM configuration picks the write:
 *
 *   "cas <µs>"    waits <µs> between reading a page and writing it back, then writes
 *                 with the CAS it read (the real filter, with a wider race window);
 *   "naive <µs>"  the same wait, then writes with CAS 0: an unconditional
 *                 read-modify-write, which lets through more than the limit.
 */
export * from "../exports";

import { RootContext, WasmResult, registerRootContext, setSharedDataBytes } from "../../../assembly/proxy-wasm";
import { monotonicNanos } from "../clock";
import { RateLimitConfig } from "../config";
import { Limiter } from "../limiter";
import { RateLimitRoot } from "../plugin";

class SlowLimiter extends Limiter {
  constructor(config: RateLimitConfig, readonly naive: bool, readonly waitNanos: i64) {
    super(config);
  }

  protected write(entry: ArrayBuffer, value: ArrayBuffer, cas: u32): WasmResult {
    const until = monotonicNanos() + this.waitNanos;
    while (monotonicNanos() < until) {
      // another worker may read the same page meanwhile
    }
    return setSharedDataBytes(entry, value, this.naive ? 0 : cas);
  }
}

class SlowWriteRoot extends RateLimitRoot {
  private naive: bool = false;
  private waitNanos: i64 = 0;

  onVmStart(vmConfigurationSize: usize): bool {
    const text = this.getVmConfiguration();
    const words = (text === null ? "" : String.UTF8.decode(text)).split(" ");
    this.naive = words[0] == "naive";
    if (words.length > 1) this.waitNanos = I64.parseInt(words[1]) * 1000;
    return true;
  }

  protected makeLimiter(config: RateLimitConfig): Limiter {
    return new SlowLimiter(config, this.naive, this.waitNanos);
  }
}

registerRootContext((contextId: u32): RootContext => new SlowWriteRoot(contextId));
