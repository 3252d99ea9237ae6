/**
 * jwt-auth's metrics, all defined once at configuration (`proxy_define_metric`), in one
 * naming scheme (filters.md: labels folded into the name, as Envoy's tag extraction
 * expects), after Envoy's jwt_authn stats (stats.h: allowed, denied, cors_preflight_
 * bypassed, jwks_fetch_success/failed, jwt_cache_hit/miss) made per provider and per
 * reason:
 *
 *   jwt_auth.allowed                      requests let through (a rule applied)
 *   jwt_auth.denied.<reason>              requests refused, by reason (reasons.ts)
 *   jwt_auth.cors_preflight_bypassed      CORS preflights let through unchecked
 *   jwt_auth.provider.<p>.allowed         allowed requests carrying a token verified by <p>
 *   jwt_auth.provider.<p>.denied.<reason> refusals whose reason came from <p>
 *   jwt_auth.provider.<p>.cache_hit / cache_miss          verified-token cache lookups
 *   jwt_auth.provider.<p>.jwks_fetch_ok / jwks_fetch_failed   remote JWKS fetches
 *   jwt_auth.provider.<p>.jwks_unavailable_allowed        let through by on_jwks_unavailable
 *
 * Each is bumped with one hostcall and no allocation.
 */
import { Counter } from "../../assembly/proxy-wasm";
import { JwtAuthConfig } from "./config";
import { REASON_COUNT, Reason, isDenial, reasonInfo } from "./reasons";
import { Stats } from "./stats";

const PREFIX = "jwt_auth.";

function defineDenied(prefix: string): StaticArray<Counter | null> {
  const out = new StaticArray<Counter | null>(REASON_COUNT);
  for (let r = 0; r < REASON_COUNT; r++) {
    if (isDenial(<Reason>r)) unchecked((out[r] = Counter.define(prefix + "denied." + reasonInfo(<Reason>r).name)));
  }
  return out;
}

function bump(c: Counter | null): void {
  if (c !== null) c.increment();
}

/** The metrics of one provider. */
export class ProviderStats {
  allowed: Counter | null = null;
  denied: StaticArray<Counter | null> = new StaticArray<Counter | null>(0);
  cacheHit: Counter | null = null;
  cacheMiss: Counter | null = null;
  jwksFetchOk: Counter | null = null;
  jwksFetchFailed: Counter | null = null;
  jwksUnavailableAllowed: Counter | null = null;

  static define(name: string): ProviderStats {
    const s = new ProviderStats();
    const prefix = PREFIX + "provider." + name + ".";
    s.allowed = Counter.define(prefix + "allowed");
    s.denied = defineDenied(prefix);
    s.cacheHit = Counter.define(prefix + "cache_hit");
    s.cacheMiss = Counter.define(prefix + "cache_miss");
    s.jwksFetchOk = Counter.define(prefix + "jwks_fetch_ok");
    s.jwksFetchFailed = Counter.define(prefix + "jwks_fetch_failed");
    s.jwksUnavailableAllowed = Counter.define(prefix + "jwks_unavailable_allowed");
    return s;
  }
}

export class MetricStats extends Stats {
  allowed: Counter | null = null;
  denied: StaticArray<Counter | null> = new StaticArray<Counter | null>(0);
  corsPreflightBypassed: Counter | null = null;
  providers: ProviderStats[] = [];

  /** Defines every metric of `config` (call once, in `proxy_on_configure`). */
  static define(config: JwtAuthConfig): MetricStats {
    const s = new MetricStats();
    s.allowed = Counter.define(PREFIX + "allowed");
    s.denied = defineDenied(PREFIX);
    s.corsPreflightBypassed = Counter.define(PREFIX + "cors_preflight_bypassed");
    for (let i = 0; i < config.providers.length; i++) s.providers.push(ProviderStats.define(unchecked(config.providers[i]).name));
    return s;
  }

  private provider(index: i32): ProviderStats | null {
    return index >= 0 && index < this.providers.length ? unchecked(this.providers[index]) : null;
  }

  countAllowed(): void {
    bump(this.allowed);
  }

  countDenied(reason: Reason, index: i32): void {
    const r = <i32>reason;
    if (r < this.denied.length) bump(unchecked(this.denied[r]));
    const p = this.provider(index);
    if (p !== null && r < p.denied.length) bump(unchecked(p.denied[r]));
  }

  countCorsPreflight(): void {
    bump(this.corsPreflightBypassed);
  }

  countProviderAllowed(index: i32): void {
    const p = this.provider(index);
    if (p !== null) bump(p.allowed);
  }

  countCache(index: i32, hit: bool): void {
    const p = this.provider(index);
    if (p !== null) bump(hit ? p.cacheHit : p.cacheMiss);
  }

  countJwksFetch(index: i32, ok: bool): void {
    const p = this.provider(index);
    if (p !== null) bump(ok ? p.jwksFetchOk : p.jwksFetchFailed);
  }

  countJwksUnavailableAllowed(index: i32): void {
    const p = this.provider(index);
    if (p !== null) bump(p.jwksUnavailableAllowed);
  }
}
