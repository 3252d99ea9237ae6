/**
 * The demo's upstream services, one per cluster of envoy/mesh.yaml, built on the project's
 * programmable upstreams (harness/upstream) and the demo ProjectService (projects.ts).
 *
 * Each HTTP service answers under its path prefixes (`/api/credit-bureau`...) with:
 * - `<prefix>/fail-test`: always 503 (the seeds' `/api/credit-bureau/fail-test`);
 * - `<prefix>/slow?ms=3000`: answers after `ms` milliseconds (default 3000);
 * - `<prefix>/flap`: 5 s healthy, 5 s failing (503), repeating;
 * - anything else: an echo of the request as JSON, unless the request asks otherwise
 *   with `x-upstream-status: 503`, `x-upstream-delay-ms: 200` or
 *   `x-upstream-action: reset|refuse|hang` (harness/upstream `byRequestHeaders`).
 */
import { echo, startUpstream, status, flap, type Upstream, type UpstreamHandler } from '../upstream/index.ts';
import { demoJwks } from './keys.ts';
import { startProjectService } from './projects.ts';

export interface DemoService {
  /** The cluster it serves. */
  cluster: string;
  /** `host:port`. */
  address: string;
  /** One line on what it does. */
  description: string;
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

/** Starts the demo service of `cluster` on `host:port`; undefined when the demo has none for it. */
export async function startDemoService(cluster: string, port: number, host = '127.0.0.1'): Promise<DemoService | undefined> {
  const http = HTTP_SERVICES[cluster];
  if (http) {
    const up = await startUpstream({ name: cluster, host, port });
    for (const prefix of http.prefixes) {
      up.route(`${prefix}/fail-test`, failing(cluster));
      up.route(`${prefix}/slow`, slow);
      up.route(`${prefix}/flap`, flap(5000, 5000, failing(cluster), echo()));
    }
    return httpService(cluster, up, http.description);
  }
  if (cluster === 'jwks') {
    const up = await startUpstream({ name: cluster, host, port, fallback: status(404, 'not found') });
    const body = JSON.stringify(await demoJwks());
    up.route('/.well-known/jwks.json', status(200, body, { 'content-type': 'application/json', 'cache-control': 'max-age=600' }));
    return httpService(cluster, up, 'JWKS of the demo keys: /.well-known/jwks.json');
  }
  if (cluster === 'projects') {
    const grpc = await startProjectService({ host, port });
    return { cluster, address: grpc.address, description: 'zoptal.project.v1.ProjectService (gRPC)', close: () => grpc.close() };
  }
  return undefined;
}

function httpService(cluster: string, up: Upstream, description: string): DemoService {
  return { cluster, address: up.address, description, close: () => up.close() };
}
