// envoy/rate-limit.yaml served by the demo (Envoy, the demo services behind it): the curl
// session its header comment shows, as a test.
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDemo, type RunningDemo } from '../../harness/demo/index.ts';
import { envoyAvailable, envoySuiteTitle } from '../../harness/envoy/runner.ts';
import { testModule } from '../../harness/host/testing.ts';
import { prometheusValue } from './rate-limit-support.ts';

const root = path.resolve(import.meta.dirname, '../..');

const envoy = envoyAvailable();

describe.skipIf(!envoy.ok)(envoySuiteTitle('envoy/rate-limit.yaml on Envoy with the demo services', envoy), () => {
  let demo: RunningDemo;
  beforeAll(async () => {
    await testModule('rate-limit');
    demo = await startDemo({ cwd: root, bootstrap: 'envoy/rate-limit.yaml', build: false, portOverride: 0, concurrency: 2, logLevel: 'error' });
  }, 300_000);
  afterAll(async () => {
    await demo?.stop();
  });

  const get = (p: string, headers: Record<string, string> = {}) => fetch(`http://${demo.listenerAddress}${p}`, { headers });

  it('limits an anonymous client to 5 API requests a minute, with the denial headers', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) statuses.push((await get('/api/banking/accounts')).status);
    expect(statuses).toEqual([200, 200, 200, 200, 200, 429]);
    const denied = await get('/api/banking/accounts');
    expect(denied.status).toBe(429);
    expect(denied.headers.get('x-envoy-ratelimited')).toBe('true');
    expect(Number(denied.headers.get('retry-after'))).toBeGreaterThanOrEqual(11);
    expect(denied.headers.get('x-ratelimit-limit')).toBe('5, 5;w=60, 50;w=3600');
  });

  it('gives a premium user 100 a minute, and leaves /health to the edge limit alone', async () => {
    const res = await get('/api/documents/1', { 'x-user-id': 'alice', 'x-user-tier': 'premium' });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-ratelimit-remaining')).toBe('99');
    for (let i = 0; i < 20; i++) expect((await get('/health')).status).toBe(200);
  });

  it('counts on /stats/prometheus, per rule and outcome', async () => {
    const admin = demo.adminAddress;
    expect(await prometheusValue(admin, 'rate_limit_requests_total', { rule: 'anonymous', outcome: 'allowed' })).toBe(5);
    expect(await prometheusValue(admin, 'rate_limit_requests_total', { rule: 'anonymous', outcome: 'denied' })).toBe(2);
    expect(await prometheusValue(admin, 'rate_limit_requests_total', { rule: 'premium', outcome: 'allowed' })).toBe(1);
    expect(await prometheusValue(admin, 'edge_rate_limit_requests_total', { rule: 'all', outcome: 'allowed' })).toBe(28);
  });
});
