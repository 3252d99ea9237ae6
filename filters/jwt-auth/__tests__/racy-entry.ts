/**
 * Test-only module (built by test/filters/jwt-auth/harness.ts `buildNoCas`, never
 * shipped): jwt-auth with its JWKS fetch lease written unconditionally (cas 0), the
 * control of the lease race test (test/filters/jwt-auth/workers.test.ts): where the real
 * filter's CAS lets one of the racing workers fetch, every worker that read "nobody is
 * fetching" fetches.
 */
export * from "../exports";

import { RootContext, WasmResult, registerRootContext, setSharedData } from "../../../assembly/proxy-wasm";
import { JwtAuthConfig } from "../config";
import { JwksCache } from "../jwks-cache";
import { JwtAuthRoot } from "../plugin";

class NoCasLeaseCache extends JwksCache {
  protected writeLease(key: string, record: ArrayBuffer, cas: u32): WasmResult {
    return setSharedData(key, record, 0);
  }
}

class NoCasLeaseRoot extends JwtAuthRoot {
  protected makeJwksCache(config: JwtAuthConfig): JwksCache {
    return new NoCasLeaseCache(this, config, this.stats);
  }
}

registerRootContext((contextId: u32): RootContext => new NoCasLeaseRoot(contextId));
