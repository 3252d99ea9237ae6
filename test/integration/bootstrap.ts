/**
 * Builds the Envoy v3 bootstrap documents the integration suites run: one listener,
 * `ingress` on 127.0.0.1, with an HTTP connection manager (`hcm` fields over its own), the
 * given HTTP filters before the router, and STATIC clusters of `host:port` endpoints
 * (HTTP/1.1, or HTTP/2 with `http2`); the admin on 127.0.0.1; the shipped bootstraps'
 * `stats_config` (the filters' metric labels). Every port is 0 (ephemeral): `startEnvoy`
 * reads the bound ones from the admin.
 */
import { STATS_CONFIG } from './envoy-stats.ts';

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

export interface ClusterSpec {
  endpoints: string[];
  http2?: boolean;
  connect_timeout?: string;
  /** More cluster fields (`circuit_breakers`, ...). */
  extra?: Record<string, unknown>;
}

export interface BootstrapSpec {
  virtualHosts: VirtualHostSpec[];
  clusters: Record<string, ClusterSpec>;
  /** HTTP filters before the router (typed_config entries). */
  filters?: Record<string, unknown>[];
  hcm?: Record<string, unknown>;
}

export const ROUTER_FILTER = { name: 'envoy.filters.http.router', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router' } };

/** Trusts loopback clients so their `x-envoy-*` request headers reach the router (internal requests). */
export const TRUST_LOOPBACK = { use_remote_address: true, internal_address_config: { cidr_ranges: [{ address_prefix: '127.0.0.0', prefix_len: 8 }] } };

export function bootstrap(spec: BootstrapSpec): Record<string, unknown> {
  const clusters = Object.entries(spec.clusters).map(([name, c]) => {
    const cluster: Record<string, unknown> = {
      name,
      connect_timeout: c.connect_timeout ?? '1s',
      type: 'STATIC',
      lb_policy: 'ROUND_ROBIN',
      load_assignment: {
        cluster_name: name,
        endpoints: [
          {
            lb_endpoints: c.endpoints.map((e) => {
              const [host, port] = e.split(':');
              return { endpoint: { address: { socket_address: { address: host, port_value: Number(port) } } } };
            }),
          },
        ],
      },
      ...c.extra,
    };
    if (c.http2) {
      cluster.typed_extension_protocol_options = {
        'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': {
          '@type': 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions',
          explicit_http_config: { http2_protocol_options: {} },
        },
      };
    }
    return cluster;
  });
  return {
    node: { id: 'test-node', cluster: 'test' },
    stats_config: STATS_CONFIG,
    admin: { address: { socket_address: { address: '127.0.0.1', port_value: 0 } } },
    static_resources: {
      listeners: [
        {
          name: 'ingress',
          address: { socket_address: { address: '127.0.0.1', port_value: 0 } },
          filter_chains: [
            {
              filters: [
                {
                  name: 'envoy.filters.network.http_connection_manager',
                  typed_config: {
                    '@type': 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
                    stat_prefix: 'ingress_http',
                    codec_type: 'AUTO',
                    route_config: {
                      name: 'local',
                      virtual_hosts: spec.virtualHosts.map((v, i) => ({ name: v.name ?? `vh${i}`, domains: v.domains ?? ['*'], ...v, routes: v.routes })),
                    },
                    http_filters: [...(spec.filters ?? []), ROUTER_FILTER],
                    ...spec.hcm,
                  },
                },
              ],
            },
          ],
        },
      ],
      clusters,
    },
  };
}
