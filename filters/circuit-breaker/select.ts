/**
 * Which service a request counts against, from the cluster of its route and the results
 * of each service's `match` (pure: plugin.ts reads `xds.cluster_name` and the request).
 *
 * A service holds when its `cluster`, if it has one, is the route's cluster and its
 * `match` holds; the first that holds applies (config.ts). The request's own services
 * are picked twice: at admission, from the route Envoy resolved before the filters ran,
 * and on the response, from the route the router finally used (plugin.ts says why they
 * can differ).
 */
import { ServiceConfig } from "./config";

/**
 * Index of the first service that holds for a request routed to `cluster` (null: no
 * route, or one without a cluster) whose `match` results are `matched` (same order as
 * `services`), or -1. With `byClusterOnly` (a request the filter sent to a fail-over
 * route), only services that select by `cluster` count: one chosen by `match` alone
 * cannot tell the fail-over upstream from its own.
 */
export function pickService(services: StaticArray<ServiceConfig>, cluster: string | null, matched: StaticArray<bool>, byClusterOnly: bool): i32 {
  for (let i = 0, n = min(services.length, matched.length); i < n; i++) {
    const want = unchecked(services[i]).cluster;
    if (want !== null) {
      if (cluster === null || cluster != want) continue;
    } else if (byClusterOnly) {
      continue;
    }
    if (unchecked(matched[i])) return i;
  }
  return -1;
}

/** Whether two routed clusters are the same (both absent included). */
export function sameCluster(a: string | null, b: string | null): bool {
  if (a === null || b === null) return a === b;
  return a == b;
}
