/**
 * What jwt-auth counts (one method per event). `Stats` itself counts nothing: specs use
 * it as it is and so link no host function; `MetricStats` (metrics.ts) counts into the
 * host's metrics, with the names listed there.
 */
import { Reason } from "./reasons";

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

