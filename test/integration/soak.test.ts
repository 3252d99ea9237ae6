// A short soak (harness/soak, what `npm run soak` runs with 10^6 requests): envoy/mesh.yaml
// on Envoy with 2 workers and the demo services, 100,000 requests from wrk (at most 60 s)
// with the soak's mix, and a trickle of gRPC calls. After the first 40,000 requests (by
// then jwt-auth's token caches are full) Envoy's RSS and each VM's linear memory must stay
// flat, within the soak's bounds (SOAK_BOUNDS: a light filter's 2-page heap may double
// once), and Envoy must log no Wasm error; then the same with its filters as one entry of
// the mesh module (`--one-module`). wrk is Debian's package: installed when missing and this process is root (CI),
// else the suite is reported skipped with the reason.
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { envoyAvailable, envoySuiteTitle } from '../../harness/envoy/runner.ts';
import { runSoak, SOAK_BOUNDS, type SoakReport } from '../../harness/soak/index.ts';
import { ensureWrk } from '../../harness/soak/wrk.ts';

const root = path.resolve(import.meta.dirname, '../..');
const envoy = envoyAvailable();
const wrk: { path?: string; reason?: string } = envoy.ok ? ensureWrk((line) => console.log(`mesh-filters: ${line}`)) : {};
for (const oneModule of [false, true]) {
const title = envoySuiteTitle(`a short soak of envoy/mesh.yaml${oneModule ? ' in one module' : ''} (2 workers, wrk)`, envoy);

describe.skipIf(!envoy.ok || !wrk.path)(wrk.path || !envoy.ok ? title : `${title} (skipped: ${wrk.reason})`, () => {
  let report: SoakReport;
  beforeAll(async () => {
    report = await runSoak({ cwd: root, requests: 100_000, warmupRequests: 40_000, maxSeconds: 60, sampleSeconds: 1, wrk: wrk.path, oneModule });
  }, 180_000);

  it('takes every filter down its hot and denial paths', () => {
    expect(Object.keys(report.statuses), JSON.stringify(report.statuses)).toEqual(expect.arrayContaining(['200', '401', '403', '429', '503']));
    // Series of /stats/prometheus (labels in any order) that must have moved.
    const moved = (name: string, ...labels: string[]) =>
      Object.entries(report.stats).some(([series, n]) => n > 0 && series.split('{')[0] === name && labels.every((l) => series.includes(l)));
    const paths: Array<[string, ...string[]]> = [
      ['edge_rate_limit_requests_total', 'outcome="allowed"'],
      ['jwt_auth_provider_cache_lookups_total', 'provider="services"', 'outcome="hit"'],
      ['jwt_auth_provider_cache_lookups_total', 'provider="services"', 'outcome="miss"'],
      ['jwt_auth_provider_allowed_total', 'provider="users"'],
      ['jwt_auth_denied_total', 'reason="jwt_missing"'],
      ['jwt_auth_denied_total', 'reason="jwt_expired"'],
      ['jwt_auth_denied_total', 'reason="jwt_verification_failed"'],
      ['jwt_auth_denied_total', 'reason="jwt_claims_not_satisfied"'],
      ['rate_limit_requests_total', 'rule="premium"', 'outcome="allowed"'],
      ['rate_limit_requests_total', 'rule="anonymous"', 'outcome="denied"'],
      ['circuit_breaker_transitions_total', 'service="credit-bureau"', 'state="open"'],
      ['circuit_breaker_requests_total', 'service="credit-bureau"', 'outcome="rejected_open"'],
      ['retry_policy_retried_requests_total', 'policy="reads"'],
    ];
    expect(paths.filter((p) => !moved(...p)).map((p) => p.join(' '))).toEqual([]);
    expect([report.grpc.OK > 0, report.grpc.UNAUTHENTICATED > 0, report.grpc.PERMISSION_DENIED > 0]).toEqual([true, true, true]);
  });

  it(`keeps Envoy's RSS within ${SOAK_BOUNDS.rssMiB} MiB and each VM's memory within ${SOAK_BOUNDS.vmPages} pages of their values after the warm-up`, () => {
    const m = report.memory;
    // Each plugin (5, or the one module) has a VM per worker and 2 on the main thread.
    const vms = oneModule ? 4 : 20;
    expect([m.vms.length, report.wasm.active_vms.start]).toEqual([vms, vms]);
    expect(m.samples.filter((s) => s.requests > m.warmup.requests).length, 'samples after the warm-up').toBeGreaterThanOrEqual(3);
    expect(m.rss_growth_mib, `RSS ${m.warmup.rss_mib} MiB after the warm-up, ${m.end.rss_mib} MiB at the end`).toBeLessThanOrEqual(SOAK_BOUNDS.rssMiB);
    expect(m.vm_growth_pages, `VM pages ${m.warmup.vm_pages.join(' ')} after the warm-up, ${m.end.vm_pages.join(' ')} at the end`).toBeLessThanOrEqual(SOAK_BOUNDS.vmPages);
  });

  it('logs no Wasm error and keeps its VMs', () => {
    expect(report.wasm.errors).toEqual([]);
    expect([report.wasm.active_vms.end, report.wasm.created_vms.end, report.wasm.vm_reloads]).toEqual([report.wasm.active_vms.start, report.wasm.created_vms.start, 0]);
    expect(report.failures).toEqual([]);
  });
});
}
