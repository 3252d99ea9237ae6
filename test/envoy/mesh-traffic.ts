/**
 * Traffic through envoy/mesh.yaml and the demo services, checked the same way whichever
 * data plane serves it (real Envoy in real-envoy.test.ts, the embedded one in
 * test/cli/demo.test.ts): routes reach the right service, the virtual host's attempt
 * count comes back, gRPC passes over HTTP/2.
 */
import { expect } from 'vitest';
import { callProject, projectClient, type Project } from '../../harness/demo/projects.ts';

export async function checkMeshTraffic(listener: string): Promise<void> {
  const base = `http://${listener}`;

  const health = await fetch(`${base}/health`);
  expect(health.status).toBe(200);
  expect(await health.json()).toMatchObject({ status: 'healthy' });

  for (const [path, upstream] of [
    ['/api/credit-bureau/report', 'credit-bureau'],
    ['/api/transactions/42', 'banking'],
    ['/api/banking/accounts', 'banking'],
    ['/api/documents/7', 'documents'],
    ['/somewhere/else', 'echo'],
  ]) {
    const res = await fetch(`${base}${path}`);
    expect(res.status, path).toBe(200);
    expect(res.headers.get('x-envoy-attempt-count'), path).toBe('1');
    expect(await res.json(), path).toMatchObject({ upstream, path });
  }

  const failing = await fetch(`${base}/api/credit-bureau/fail-test`, { method: 'POST' });
  expect(failing.status).toBe(503);
  expect(await failing.json()).toEqual({ error: 'service_unavailable', service: 'credit-bureau' });

  const client = projectClient(listener);
  try {
    const created = await callProject<Project>(client, 'CreateProject', { name: 'mesh', owner_id: 'alice' });
    expect(created).toMatchObject({ name: 'mesh', owner_id: 'alice' });
    expect(await callProject<Project>(client, 'GetProject', { project_id: created.id })).toMatchObject({ id: created.id, name: 'mesh' });
    await expect(callProject(client, 'GetProject', { project_id: 'p-none' })).rejects.toMatchObject({ code: 5 }); // NOT_FOUND
  } finally {
    client.close();
  }
}
