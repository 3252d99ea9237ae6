/**
 * Test-only module (built by test/filters/jwt-auth/harness.ts `buildRacy`, never shipped):
 * jwt-auth with a slowed-down JWKS lease write, to show that compare-and-swap is what
 * keeps N workers at one fetch. Its VM configuration picks the write:
 *
 *   "cas <µs>"    waits <µs> between reading the state record and writing the lease,
 *                 then writes with the CAS it read (the real filter, wider race window);
 *   "naive <µs>"  the same wait, then writes with CAS 0: an unconditional write, so
 *                 every worker that read "nobody is fetching" fetches.
 */
export * from "../exports";

import { RootContext, WasmResult, getCurrentTimeNanoseconds, registerRootContext, setSharedData } from "../../../assembly/proxy-wasm";
import { JwtAuthConfig } from "../config";
import { JwksCache } from "../jwks-cache";
import { JwtAuthRoot } from "../plugin";
import { Stats } from "../stats";

class SlowLeaseCache extends JwksCache {
  constructor(root: RootContext, config: JwtAuthConfig, stats: Stats, readonly naive: bool, readonly waitNanos: u64) {
    super(root, config, stats);
  }

  protected writeLease(key: string, record: ArrayBuffer, cas: u32): WasmResult {
    const until = getCurrentTimeNanoseconds() + this.waitNanos;
    while (getCurrentTimeNanoseconds() < until) {
      // another worker may read the same record meanwhile
    }
    return setSharedData(key, record, this.naive ? 0 : cas);
  }
}

class SlowLeaseRoot extends JwtAuthRoot {
  private naive: bool = false;
  private waitNanos: u64 = 0;

  onVmStart(vmConfigurationSize: usize): bool {
    const text = this.getVmConfiguration();
    const words = (text === null ? "" : String.UTF8.decode(text)).split(" ");
    this.naive = words[0] == "naive";
    if (words.length > 1) this.waitNanos = U64.parseInt(words[1]) * 1000;
    return true;
  }

  protected makeJwksCache(config: JwtAuthConfig): JwksCache {
    return new SlowLeaseCache(this, config, this.stats, this.naive, this.waitNanos);
  }
}

registerRootContext((contextId: u32): RootContext => new SlowLeaseRoot(contextId));
