/**
 * Pieces of the Envoy v3 bootstraps the harness writes (tests, benchmarks, the host's
 * agreement runs): a loopback HTTP listener with an HTTP connection manager, STATIC
 * clusters of `host:port` endpoints, a loopback admin. Every port is 0 (ephemeral):
 * `startEnvoy` reads the bound ones from the admin. Field names are Envoy's
 * (envoy.config.listener.v3.Listener, envoy.config.cluster.v3.Cluster,
 * envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager).
 */

type Doc = Record<string, unknown>;

/** `envoy.filters.http.router`, the terminal HTTP filter (`httpListener` appends it). */
export const ROUTER_FILTER = { name: 'envoy.filters.http.router', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router' } };

/** The admin on 127.0.0.1, ephemeral port. */
export function loopbackAdmin(): Doc {
  return { address: { socket_address: { address: '127.0.0.1', port_value: 0 } } };
}

export interface ListenerSpec {
  /** The listener's name (`startEnvoy`'s `listeners` key). */
  name: string;
  /** The connection manager's `stat_prefix` (default: the listener's name). */
  statPrefix?: string;
  /** `route_config.virtual_hosts`. */
  virtualHosts: Doc[];
  /** HTTP filters before the router. */
  httpFilters?: Doc[];
  /** More connection manager fields (over the defaults). */
  hcm?: Doc;
  /** `route_config.name` (default `local`). */
  routeConfigName?: string;
}

/** A listener on 127.0.0.1 (ephemeral port) with one HTTP connection manager (codec AUTO) ending in the router. */
export function httpListener(spec: ListenerSpec): Doc {
  return {
    name: spec.name,
    address: { socket_address: { address: '127.0.0.1', port_value: 0 } },
    filter_chains: [
      {
        filters: [
          {
            name: 'envoy.filters.network.http_connection_manager',
            typed_config: {
              '@type': 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
              stat_prefix: spec.statPrefix ?? spec.name,
              codec_type: 'AUTO',
              route_config: { name: spec.routeConfigName ?? 'local', virtual_hosts: spec.virtualHosts },
              http_filters: [...(spec.httpFilters ?? []), ROUTER_FILTER],
              ...spec.hcm,
            },
          },
        ],
      },
    ],
  };
}

export interface ClusterSpec {
  /** `host:port` of each endpoint (none: a cluster without hosts). */
  endpoints: string[];
  /** Speak HTTP/2 (h2c) to the endpoints: gRPC services, response trailers. */
  http2?: boolean;
  connect_timeout?: string;
  /** More cluster fields (`circuit_breakers`, `outlier_detection`...). */
  extra?: Doc;
}

/** A STATIC round-robin cluster of `spec.endpoints`. */
export function staticCluster(name: string, spec: ClusterSpec): Doc {
  const cluster: Doc = {
    name,
    connect_timeout: spec.connect_timeout ?? '1s',
    type: 'STATIC',
    lb_policy: 'ROUND_ROBIN',
    load_assignment: {
      cluster_name: name,
      endpoints: [
        {
          lb_endpoints: spec.endpoints.map((e) => {
            const at = e.lastIndexOf(':');
            return { endpoint: { address: { socket_address: { address: e.slice(0, at), port_value: Number(e.slice(at + 1)) } } } };
          }),
        },
      ],
    },
    ...spec.extra,
  };
  if (spec.http2) {
    cluster.typed_extension_protocol_options = {
      'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': {
        '@type': 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions',
        explicit_http_config: { http2_protocol_options: {} },
      },
    };
  }
  return cluster;
}
