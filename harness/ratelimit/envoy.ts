/**
 * The Envoy side of a global rate limit, for the suites and the bench: the cluster of the
 * rate limit service (gRPC, so HTTP/2), Envoy's own `ratelimit` HTTP filter
 * (envoy.extensions.filters.http.ratelimit.v3.RateLimit) calling it, and the route
 * `rate_limits` whose actions make its descriptors. Sources: Envoy docs, api-v3
 * extensions/filters/http/ratelimit/v3/rate_limit.proto and config/route/v3
 * route_components.proto (`RateLimit.Action`: `request_headers`, `remote_address`,
 * `generic_key`).
 */
import { staticCluster } from '../envoy/bootstrap.ts';

/** A STATIC cluster `name` on the service's gRPC listener (`host:port`), HTTP/2. */
export function rateLimitServiceCluster(name: string, grpcAddress: string): Record<string, unknown> {
  return staticCluster(name, { endpoints: [grpcAddress], http2: true });
}

export interface NativeRateLimitOptions {
  /** The service's cluster. */
  cluster: string;
  domain: string;
  /** The call's timeout (Envoy's default is 20 ms), e.g. `2s`. */
  timeout?: string;
  /** Refuse requests (500) when the service gives no answer; default false (let them through). */
  failureModeDeny?: boolean;
  /** Only route `rate_limits` of this stage (default 0). */
  stage?: number;
}

/** Envoy's `envoy.filters.http.ratelimit` entry calling the service on `cluster`. */
export function nativeRateLimitFilter(o: NativeRateLimitOptions): Record<string, unknown> {
  return {
    name: 'envoy.filters.http.ratelimit',
    typed_config: {
      '@type': 'type.googleapis.com/envoy.extensions.filters.http.ratelimit.v3.RateLimit',
      domain: o.domain,
      stage: o.stage ?? 0,
      ...(o.timeout ? { timeout: o.timeout } : {}),
      failure_mode_deny: o.failureModeDeny ?? false,
      rate_limit_service: { grpc_service: { envoy_grpc: { cluster_name: o.cluster } }, transport_api_version: 'V3' },
    },
  };
}

/**
 * One of our rate-limit filter's key parts, as the descriptor entry Envoy's route action
 * makes of it (the same entry keys, filters/rate-limit/config.ts).
 */
export type KeyPart = { header: string } | { claim: string } | { remote_address: Record<string, never> } | { generic: string };

/** The route `rate_limits` entry whose one descriptor has the entries our rule's `key` makes. */
export function nativeRateLimitsFor(key: KeyPart[], stage = 0): Record<string, unknown> {
  const actions = key.map((part) => {
    if ('header' in part) return { request_headers: { header_name: part.header, descriptor_key: part.header } };
    if ('claim' in part) return { request_headers: { header_name: part.claim, descriptor_key: part.claim } };
    if ('generic' in part) return { generic_key: { descriptor_value: part.generic } };
    return { remote_address: {} };
  });
  return { stage, actions };
}

