/**
 * envoy/circuit-breaker.yaml as a user runs it (`mesh-filters demo -c envoy/circuit-breaker.yaml`):
 * the demo services behind Envoy, the file's own filter configuration, and the curl session
 * its header describes.
 */
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { projectRoot } from '../../harness/build.ts';
import { startDemo, type RunningDemo } from '../../harness/demo/index.ts';
import { envoyAvailable, envoySuiteTitle } from '../../harness/envoy/runner.ts';
import { testModule } from '../../harness/host/testing.ts';
import { metric } from './envoy-stats.ts';

const envoy = envoyAvailable();

describe.skipIf(!envoy.ok)(envoySuiteTitle('envoy/circuit-breaker.yaml on Envoy with the demo services', envoy), () => {
  let demo: RunningDemo;
  const get = async (p: string) => {
    const res = await request(`http://${demo.listenerAddress}${p}`);
    return { status: res.statusCode, headers: res.headers as Record<string, string>, body: await res.body.text() };
  };

  beforeAll(async () => {
    await testModule('circuit-breaker');
    demo = await startDemo({ cwd: projectRoot, bootstrap: 'envoy/circuit-breaker.yaml', build: false, portOverride: 0, concurrency: 2, logLevel: 'error' });
  }, 180_000);

  afterAll(async () => {
    await demo?.stop();
  });

  it('banking (chosen by cluster) opens after 5 failures and answers with the open response', async () => {
    for (let i = 0; i < 5; i++) {
      const r = await get('/api/banking/fail-test');
      expect(r.status).toBe(503);
      expect(r.headers['x-circuit-breaker']).toBeUndefined();
    }
    const r = await get('/api/banking/accounts');
    expect(r.status).toBe(503);
    expect(r.headers['x-circuit-breaker']).toBe('open');
    expect(Number(r.headers['retry-after'])).toBeGreaterThanOrEqual(29);
    expect(Number(r.headers['retry-after'])).toBeLessThanOrEqual(30);
    expect(r.body).toBe('{"error":"circuit_open"}');
  });

  it('credit-bureau opens after 3 failures and fails over to the fallback route', async () => {
    for (let i = 0; i < 3; i++) expect((await get('/api/credit-bureau/fail-test')).status).toBe(503);
    const r = await get('/api/credit-bureau/report');
    expect(r.status).toBe(200);
    expect(r.headers['x-circuit-breaker']).toBe('fallback');
    expect(JSON.parse(r.body)).toMatchObject({ upstream: 'echo', path: '/api/credit-bureau/report', headers: { 'x-fallback': 'credit-bureau' } });
  });

  it('reports both circuits on /stats/prometheus', async () => {
    const prom = await (await request(`http://${demo.adminAddress}/stats/prometheus`)).body.text();
    expect(metric(prom, 'circuit_breaker_state', { service: 'banking', state: 'open' })).toBe(1);
    expect(metric(prom, 'circuit_breaker_state', { service: 'credit-bureau', state: 'open' })).toBe(1);
    expect(metric(prom, 'circuit_breaker_requests_total', { service: 'credit-bureau', outcome: 'fallback' })).toBe(1);
    expect(metric(prom, 'circuit_breaker_requests_total', { service: 'banking', outcome: 'rejected_open' })).toBe(1);
  });
});
