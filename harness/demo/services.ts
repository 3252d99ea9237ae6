/**
 * The demo's upstream services, one per cluster of envoy/mesh.yaml, built on the project's
 * programmable upstreams (harness/upstream) and the demo ProjectService (projects.ts).
 *
 * Each HTTP service answers under its path prefixes (`/api/credit-bureau`...) with:
 * - `<prefix>/fail-test`: always 503 (the seeds' `/api/credit-bureau/fail-test`);
 * - `<prefix>/slow?ms=3000`: answers after `ms` milliseconds (default 3000);
 * - `<prefix>/flap`: 5 s healthy, 5 s failing (503), repeating;
 * - `<prefix>/flaky?failures=1&mode=503|reset`: fails the first `failures` attempts of each
 *   request (503, or a connection reset before any answer), then echoes. Attempts are
 *   counted by the `x-envoy-attempt-count` the router sends upstream (the virtual host's
 *   `include_request_attempt_count`), so each request fails the same way whatever else is
 *   in flight: what a retry policy turns into a success;
 * - anything else: an echo of the request as JSON (a body larger than 16 KiB as its size,
 *   `bodyBytes`, without its bytes), unless the request asks otherwise
 *   with `x-upstream-status: 503`, `x-upstream-delay-ms: 200` or
 *   `x-upstream-action: reset|refuse|hang` (harness/upstream `byRequestHeaders`).
 */
import { byRequestHeaders, echo, startUpstream, status, flap, type UpstreamHandler } from '../upstream/index.ts';
import { demoJwks } from './keys.ts';
import { PROJECT_SERVICE, startProjectService } from './projects.ts';

export interface DemoService {
  /** The cluster it serves. */
  cluster: string;
  /** `host:port`. */
  address: string;
  /** One line on what it does. */
  description: string;
  /**
   * Requests that reached it whose path (without query) starts with `prefix` (all when
   * omitted); for the gRPC service, calls whose `/package.Service/Method` path does.
   * Shows what a filter kept away from the service (an open circuit) or let through again
   * (retries).
   */
  received(prefix?: string): number;
  close(): Promise<void>;
}

/** Path prefixes each HTTP service answers under (the routes of envoy/mesh.yaml). */
const HTTP_SERVICES: Record<string, { prefixes: string[]; description: string }> = {
  echo: { prefixes: ['/api'], description: 'echo (catch-all route)' },
  'credit-bureau': { prefixes: ['/api/credit-bureau'], description: 'credit bureau (HTTP)' },
  banking: { prefixes: ['/api/banking', '/api/transactions'], description: 'banking API (HTTP)' },
  documents: { prefixes: ['/api/documents'], description: 'document processor (HTTP)' },
};

/** The clusters the demo has a service for. */
export const DEMO_CLUSTERS = [...Object.keys(HTTP_SERVICES), 'projects', 'jwks'];

const failing = (service: string): UpstreamHandler =>
  status(503, JSON.stringify({ error: 'service_unavailable', service }), { 'content-type': 'application/json' });

/** Waits `?ms=` (default 3000, at most 60000) before echoing. */
const slow: UpstreamHandler = async (req) => {
  const ms = Math.min(Number(new URL(req.path, 'http://demo').searchParams.get('ms') ?? 3000) || 0, 60_000);
  await new Promise((r) => setTimeout(r, ms));
  return { kind: 'echo' };
};

/** Fails the first `?failures=` (default 1, at most 10) attempts of a request: 503, or a reset with `?mode=reset`. */
const flaky = (service: string): UpstreamHandler => (req) => {
  const query = new URL(req.path, 'http://demo').searchParams;
  const failures = Math.min(Math.max(Number(query.get('failures') ?? 1) || 0, 0), 10);
  const attempt = Number(req.headers['x-envoy-attempt-count'] ?? 1) || 1;
  if (attempt > failures) return { kind: 'echo' };
  return query.get('mode') === 'reset' ? { kind: 'reset' } : failing(service)(req);
};

/** Starts the demo service of `cluster` on `host:port`; undefined when the demo has none for it. */
export async function startDemoService(cluster: string, port: number, host = '127.0.0.1'): Promise<DemoService | undefined> {
  const http = HTTP_SERVICES[cluster];
  if (http) {
    const routes = http.prefixes.flatMap((prefix): Array<[string, UpstreamHandler]> => [
      [`${prefix}/fail-test`, failing(cluster)],
      [`${prefix}/slow`, slow],
      [`${prefix}/flap`, flap(5000, 5000, failing(cluster), echo())],
      [`${prefix}/flaky`, flaky(cluster)],
    ]);
    return httpService(cluster, host, port, http.description, byRequestHeaders(echo()), routes);
  }
  if (cluster === 'jwks') {
    const body = JSON.stringify(await demoJwks());
    return httpService(cluster, host, port, 'JWKS of the demo keys: /.well-known/jwks.json', status(404, 'not found'), [
      ['/.well-known/jwks.json', status(200, body, { 'content-type': 'application/json', 'cache-control': 'max-age=600' })],
    ]);
  }
  if (cluster === 'projects') {
    const grpc = await startProjectService({ host, port });
    return {
      cluster,
      address: grpc.address,
      description: 'zoptal.project.v1.ProjectService (gRPC)',
      received: (prefix = '/') => grpc.methods.filter((m) => `/${PROJECT_SERVICE}/${m}`.startsWith(prefix)).reduce((sum, m) => sum + grpc.calls(m), 0),
      close: () => grpc.close(),
    };
  }
  return undefined;
}

/**
 * An HTTP demo service: `routes` over `fallback`. It keeps no requests (the upstream counts
 * them by path for `received`) and no bodies beyond the upstream's prefix: it runs for as
 * long as the demo does.
 */
async function httpService(
  cluster: string, host: string, port: number, description: string,
  fallback: UpstreamHandler, routes: Array<[string, UpstreamHandler]>,
): Promise<DemoService> {
  const up = await startUpstream({ name: cluster, host, port, fallback, maxRecorded: 0 });
  for (const [prefix, handler] of routes) up.route(prefix, handler);
  return { cluster, address: up.address, description, received: (prefix) => up.count(prefix), close: () => up.close() };
}
