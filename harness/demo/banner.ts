/**
 * What `npm start` prints: where everything listens, then (for envoy/mesh.yaml) a
 * walk-through of the four filters with the seeds' numbers, as commands to paste.
 *
 * Every command line ends with `# <what it answers>`, written so that
 * test/cli/demo-banner.test.ts can run it against a fresh demo and check it: the
 * HTTP statuses it prints first, in order (`200 200 429`), then every `backticked`
 * text, which must appear in what the command shows (`curl -i` headers and body,
 * `grpcurl` output, grep's lines). Lines are meant to be run in order: the rate limits
 * and circuits they trip are shared state.
 */
import type { DemoService } from './services.ts';

export interface BannerInput {
  /** The bootstrap, as given (`envoy/mesh.yaml`). */
  file: string;
  /** Which Envoy serves it (`Envoy 1.40.0`), and its process id. */
  envoy: string;
  pid: number;
  /** `host:port` of the listener and of the admin. */
  listener: string;
  admin: string;
  services: readonly DemoService[];
  /** What the bootstrap holds (`1 listener, 6 clusters, 5 wasm filters`). */
  summary: string;
  workers: number;
  /** Names of the listener's HTTP filters, in order (`rate-limit-edge`, ..., `router`). */
  chain: readonly string[];
}

/** The banner, one string per line. */
export function demoBanner(b: BannerInput): string[] {
  const lines = [
    '',
    `mesh-filters demo: ${b.file} on ${b.envoy} (pid ${b.pid}, ${b.workers} workers; ${b.summary})`,
    `  listener  http://${b.listener}   ${b.chain.join(' -> ')}`,
    `  admin     http://${b.admin}   (/ready, /stats/prometheus, /clusters)`,
    ...b.services.map((s) => `  ${s.cluster.padEnd(14)}${s.address.padEnd(18)}${s.description}`),
    '',
  ];
  if (isMesh(b.file)) lines.push(...meshWalkthrough(b.listener, b.admin));
  else lines.push(`Example requests for ${b.file} are in the comments at its top.`, '');
  lines.push('Ctrl-C stops everything.');
  return lines;
}

function isMesh(file: string): boolean {
  return file.replace(/\\/g, '/').replace(/^\.\//, '') === 'envoy/mesh.yaml';
}

/** `command  # expect`, the comments lined up after short commands. */
function cmd(command: string, expect: string): string {
  return `  ${command.padEnd(60)}  # ${expect}`;
}

/** The commands that show each filter of envoy/mesh.yaml at work, in an order that works. */
function meshWalkthrough(listener: string, admin: string): string[] {
  const base = `http://${listener}`;
  const token = 'node bin/mesh-filters.js token';
  const grpc = `grpcurl -plaintext -import-path harness/demo -proto project.proto -d '{"name":"demo"}'`;
  const create = `${listener} zoptal.project.v1.ProjectService/CreateProject`;
  return [
    'Try it, in this order, from the repository root (each command ends with # what it answers):',
    '',
    '  # health checks need no token',
    cmd(`curl -i ${base}/health`, '200'),
    '',
    '  # jwt-auth: the credit bureau wants a token with credit:read. Service tokens are HS256 with',
    '  # the shared secret (serviceId eva-frontend); user tokens RS256/ES256, keys from the demo JWKS',
    cmd(`curl -i ${base}/api/credit-bureau/report`, '401, `www-authenticate: Bearer realm=`'),
    `  TOKEN=$(${token} --permissions credit:read)`,
    cmd(`curl -i ${base}/api/credit-bureau/report -H "authorization: Bearer $TOKEN"`, '200, the service sees `"x-service-id":"eva-frontend"`'),
    `  ALICE=$(${token} --alg RS256 --sub alice --permissions documents:write)`,
    cmd(`curl -i ${base}/api/credit-bureau/report -H "authorization: Bearer $ALICE"`, '403, `error="insufficient_scope"`'),
    '',
    '  # rate-limit: anonymous clients get 5 requests a minute (50 an hour), users 30 (premium 100)',
    cmd(`for i in {1..10}; do curl -s -o /dev/null -w '%{http_code} ' ${base}/api/test; done; echo`, '200 200 200 200 200 429 429 429 429 429'),
    cmd(`curl -i ${base}/api/test`, '429, `retry-after: `, `x-ratelimit-remaining: 0`'),
    cmd(`curl -i ${base}/api/test -H "authorization: Bearer $ALICE"`, '200, `x-ratelimit-limit: 30, 30;w=60, 500;w=3600`'),
    '',
    '  # circuit-breaker: the credit bureau opens after 3 failures; for 60 s nothing reaches it',
    cmd(
      `for i in {1..5}; do curl -s -X POST ${base}/api/credit-bureau/fail-test -H "authorization: Bearer $TOKEN"; echo; done`,
      '503 503 503 503 503: `service_unavailable` (the service) 3 times, then `circuit_open`',
    ),
    cmd(`curl -i ${base}/api/credit-bureau/report -H "authorization: Bearer $TOKEN"`, '503, `x-circuit-breaker: open`, `retry-after: `'),
    '',
    '  # retry: reads are retried (5 times at most, 0.5 s to 5 s apart); a payment only with an idempotency-key',
    `  BANK=$(${token} --permissions banking:read,transactions:write)`,
    cmd(`curl -i ${base}/api/banking/flaky -H "authorization: Bearer $BANK"`, '200, `x-envoy-attempt-count: 2` (the first attempt got a 503)'),
    cmd(`curl -i -X POST '${base}/api/transactions/flaky?mode=reset' -H "authorization: Bearer $BANK"`, '503, `x-envoy-attempt-count: 1`: tried once'),
    cmd(
      `curl -i -X POST '${base}/api/transactions/flaky?mode=reset' -H "authorization: Bearer $BANK" -H 'idempotency-key: tx-42'`,
      '200, `x-envoy-attempt-count: 2`',
    ),
    '',
    '  # gRPC: ProjectService/CreateProject wants project:create (grpcurl: github.com/fullstorydev/grpcurl)',
    cmd(`${grpc} ${create}`, '`Code: Unauthenticated`'),
    cmd(`${grpc} -H "authorization: Bearer $TOKEN" ${create}`, '`Code: PermissionDenied`'),
    `  PROJECTS=$(${token} --permissions project:create)`,
    cmd(`${grpc} -H "authorization: Bearer $PROJECTS" ${create}`, '`"ownerId": "demo-user"`'),
    '',
    "  # the filters' metrics (Prometheus), those that counted something",
    cmd(
      `curl -s http://${admin}/stats/prometheus | grep -E '^(edge_rate_limit|jwt_auth|rate_limit|circuit_breaker|retry)_' | grep -v ' 0$'`,
      '`jwt_auth_denied_total{reason="jwt_missing"}`, `rate_limit_requests_total{rule="anonymous",outcome="denied"}`, `circuit_breaker_state{service="credit-bureau",state="open"} 1`, `retry_retries_total{}`',
    ),
    '',
  ];
}
