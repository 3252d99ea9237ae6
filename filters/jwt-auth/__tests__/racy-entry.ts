/**
 * Test-only module (built by test/filters/jwt-auth/harness.ts `buildRacy`, never shipped):
 * jwt-auth with a slowed-down JWKS lease write (../../__tests__/slow-write.ts), to show
 * that compare-and-swap is what keeps N workers at one fetch: with VM configuration
 * "cas <µs>" one worker fetches, with "naive <µs>" (an unconditional write) every worker
 * that read "nobody is fetching" fetches.
 */
export * from "../exports";

import { RootContext, WasmResult, registerRootContext, setSharedData } from "../../../assembly/proxy-wasm";
import { SlowWrite } from "../../__tests__/slow-write";
import { JwtAuthConfig } from "../config";
import { JwksCache } from "../jwks-cache";
import { JwtAuthRoot } from "../plugin";
import { Stats } from "../stats";

class SlowLeaseCache extends JwksCache {
  constructor(root: RootContext, config: JwtAuthConfig, stats: Stats, readonly slow: SlowWrite) {
    super(root, config, stats);
  }

  protected writeLease(key: string, record: ArrayBuffer, cas: u32): WasmResult {
    return setSharedData(key, record, this.slow.casAfterWait(cas));
  }
}

class SlowLeaseRoot extends JwtAuthRoot {
  private readonly slow: SlowWrite = new SlowWrite();

  onVmStart(vmConfigurationSize: usize): bool {
    this.slow.configure(this.getVmConfiguration());
    return true;
  }

  protected makeJwksCache(config: JwtAuthConfig): JwksCache {
    return new SlowLeaseCache(this, config, this.stats, this.slow);
  }
}

registerRootContext((contextId: u32): RootContext => new SlowLeaseRoot(contextId));
