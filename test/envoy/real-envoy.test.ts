/**
 * envoy/mesh.yaml on real Envoy with the demo services: the same checks as on the embedded
 * data plane. Runs where ENVOY_BIN (or func-e, or envoy on PATH) is present; reported as
 * skipped, with the reason in its title, everywhere else.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { readConfigFile } from '../../harness/envoy/config-file.ts';
import { envoyAvailable, envoySuiteTitle, startEnvoy, type EnvoyProcess } from '../../harness/envoy/runner.ts';
import { startDemoServices } from '../../harness/demo/index.ts';
import { checkMeshTraffic } from './mesh-traffic.ts';

const root = path.resolve(import.meta.dirname, '../..');
const envoy = envoyAvailable();

describe.skipIf(!envoy.ok)(envoySuiteTitle('envoy/mesh.yaml on real Envoy', envoy), () => {
  let proxy: EnvoyProcess;
  let stopServices: () => Promise<void>;
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'mesh-filters-real-envoy-'));

  beforeAll(async () => {
    const bootstrap = readConfigFile(path.join(root, 'envoy/mesh.yaml')) as Record<string, any>;
    stopServices = (await startDemoServices(bootstrap, { portOverride: 0 })).stop;
    const file = path.join(tmp, 'mesh.json');
    writeFileSync(file, JSON.stringify(bootstrap));
    proxy = await startEnvoy({ bootstrap: file, cwd: root, portOverride: 0, stdio: 'pipe', availability: envoy });
  });

  afterAll(async () => {
    await proxy?.stop();
    await stopServices?.();
    rmSync(tmp, { recursive: true, force: true });
  });

  it('routes HTTP and gRPC to the demo services', async () => {
    await checkMeshTraffic(proxy.listeners.ingress);
  });
});
