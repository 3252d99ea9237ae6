/**
 * Builds the Envoy v3 bootstrap documents the integration suites run, from the pieces in
 * harness/envoy/bootstrap.ts: one listener, `ingress` on 127.0.0.1 (`hcm` fields over the
 * connection manager's own), the given HTTP filters before the router, STATIC clusters of
 * `host:port` endpoints (HTTP/1.1, or HTTP/2 with `http2`), the admin on 127.0.0.1, and the
 * shipped bootstraps' `stats_config` (the filters' metric labels). Every port is 0
 * (ephemeral): `startEnvoy` reads the bound ones from the admin.
 */
import { STATS_CONFIG } from './envoy-stats.ts';
import { type ClusterSpec, httpListener, loopbackAdmin, staticCluster } from '../../harness/envoy/bootstrap.ts';

export { ROUTER_FILTER, type ClusterSpec } from '../../harness/envoy/bootstrap.ts';

export interface RouteSpec {
  match: Record<string, unknown>;
  route?: Record<string, unknown>;
  direct_response?: Record<string, unknown>;
  name?: string;
}

export interface VirtualHostSpec {
  name?: string;
  domains?: string[];
  routes: RouteSpec[];
  include_request_attempt_count?: boolean;
  include_attempt_count_in_response?: boolean;
}

export interface BootstrapSpec {
  virtualHosts: VirtualHostSpec[];
  clusters: Record<string, ClusterSpec>;
  /** HTTP filters before the router (typed_config entries). */
  filters?: Record<string, unknown>[];
  hcm?: Record<string, unknown>;
}

/** Trusts loopback clients so their `x-envoy-*` request headers reach the router (internal requests). */
export const TRUST_LOOPBACK = { use_remote_address: true, internal_address_config: { cidr_ranges: [{ address_prefix: '127.0.0.0', prefix_len: 8 }] } };

export function bootstrap(spec: BootstrapSpec): Record<string, unknown> {
  return {
    node: { id: 'test-node', cluster: 'test' },
    stats_config: STATS_CONFIG,
    admin: loopbackAdmin(),
    static_resources: {
      listeners: [
        httpListener({
          name: 'ingress',
          statPrefix: 'ingress_http',
          virtualHosts: spec.virtualHosts.map((v, i) => ({ name: v.name ?? `vh${i}`, domains: v.domains ?? ['*'], ...v, routes: v.routes })),
          httpFilters: spec.filters,
          hcm: spec.hcm,
        }),
      ],
      clusters: Object.entries(spec.clusters).map(([name, c]) => staticCluster(name, c)),
    },
  };
}
