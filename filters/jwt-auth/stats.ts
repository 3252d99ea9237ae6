/**
 * What jwt-auth counts, and its metrics. `Stats` (one method per event) counts nothing:
 * specs use it as it is and so link no host function. `MetricStats` counts into the
 * host's metrics, all defined once at configuration (`proxy_define_metric`), labelled
 * with the SDK's `metricName` (Envoy's stats tag extraction turns the labels into
 * Prometheus labels: README "Operating"), after Envoy's jwt_authn stats (stats.h: allowed,
 * denied, cors_preflight_bypassed, jwks_fetch_success/failed, jwt_cache_hit/miss) made per
 * provider and per reason:
 *
 *   jwt_auth_allowed_total{}                          requests let through (a rule applied)
 *   jwt_auth_denied_total{reason}                     requests refused, by reason (reasons.ts)
 *   jwt_auth_cors_preflight_bypassed_total{}          CORS preflights let through unchecked
 *   jwt_auth_provider_allowed_total{provider}         allowed requests carrying a token verified by the provider
 *   jwt_auth_provider_denied_total{provider,reason}   refusals whose reason came from the provider
 *   jwt_auth_provider_cache_lookups_total{provider,outcome}   verified-token cache: hit, miss
 *   jwt_auth_provider_jwks_fetches_total{provider,outcome}    remote JWKS fetches: ok, failed
 *   jwt_auth_provider_jwks_unavailable_allowed_total{provider} let through by on_jwks_unavailable
 *
 * Each is bumped with one hostcall and no allocation.
 */
import { ascii, Counter, metricName } from "../../assembly/proxy-wasm";
import { JwtAuthConfig } from "./config";
import { REASON_COUNT, Reason, isDenial, reasonInfo } from "./reasons";

/** The events jwt-auth counts. Every method does nothing here; MetricStats overrides them. */
export class Stats {
  countAllowed(): void {}

  /** A refusal for `reason`, attributed to provider `index` (-1: none). */
  countDenied(reason: Reason, index: i32): void {}

  countCorsPreflight(): void {}

  countProviderAllowed(index: i32): void {}

  countCache(index: i32, hit: bool): void {}

  countJwksFetch(index: i32, ok: bool): void {}

  countJwksUnavailableAllowed(index: i32): void {}
}

/** One counter per denial reason of family `name`, labelled `reason` (and `provider` when not null). */
function defineDenied(name: string, provider: string | null): StaticArray<Counter | null> {
  const out = new StaticArray<Counter | null>(REASON_COUNT);
  for (let r = 0; r < REASON_COUNT; r++) {
    if (!isDenial(<Reason>r)) continue;
    const reason = reasonInfo(<Reason>r).name;
    const labels: StaticArray<string> = provider !== null ? ["provider", provider, "reason", reason] : ["reason", reason];
    unchecked((out[r] = Counter.define(metricName(name, labels))));
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
    const cache = ascii.text("jwt_auth_provider_cache_lookups_total");
    const fetches = ascii.text("jwt_auth_provider_jwks_fetches_total");
    s.allowed = Counter.define(metricName(ascii.text("jwt_auth_provider_allowed_total"), ["provider", name]));
    s.denied = defineDenied(ascii.text("jwt_auth_provider_denied_total"), name);
    s.cacheHit = Counter.define(metricName(cache, ["provider", name, "outcome", "hit"]));
    s.cacheMiss = Counter.define(metricName(cache, ["provider", name, "outcome", "miss"]));
    s.jwksFetchOk = Counter.define(metricName(fetches, ["provider", name, "outcome", "ok"]));
    s.jwksFetchFailed = Counter.define(metricName(fetches, ["provider", name, "outcome", "failed"]));
    s.jwksUnavailableAllowed = Counter.define(metricName(ascii.text("jwt_auth_provider_jwks_unavailable_allowed_total"), ["provider", name]));
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
    s.allowed = Counter.define(ascii.text("jwt_auth_allowed_total"));
    s.denied = defineDenied(ascii.text("jwt_auth_denied_total"), null);
    s.corsPreflightBypassed = Counter.define(ascii.text("jwt_auth_cors_preflight_bypassed_total"));
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
