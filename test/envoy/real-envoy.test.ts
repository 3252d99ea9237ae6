/**
 * envoy/mesh.yaml on real Envoy with the demo services: the same checks as on the embedded
 * data plane (mesh-traffic.ts), in the same order. Runs where ENVOY_BIN (or func-e, or envoy on PATH) is present; reported as
 * skipped, with the reason in its title, everywhere else.
 */
import path from 'node:path';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { readConfigFile } from '../../harness/envoy/config-file.ts';
import { envoyAvailable, envoySuiteTitle, startEnvoy, type EnvoyProcess } from '../../harness/envoy/runner.ts';
import { startDemoServices } from '../../harness/demo/index.ts';
import type { DemoService } from '../../harness/demo/services.ts';
import { meshChecks, type MeshContext } from './mesh-traffic.ts';

const root = path.resolve(import.meta.dirname, '../..');
const envoy = envoyAvailable();

describe.skipIf(!envoy.ok)(envoySuiteTitle('envoy/mesh.yaml on real Envoy', envoy), () => {
  let proxy: EnvoyProcess;
  let stopServices: () => Promise<void>;
  let services: DemoService[] = [];

  beforeAll(async () => {
    const bootstrap = readConfigFile(path.join(root, 'envoy/mesh.yaml')) as Record<string, any>;
    ({ services, stop: stopServices } = await startDemoServices(bootstrap, { portOverride: 0 }));
    proxy = await startEnvoy({ bootstrap, cwd: root, portOverride: 0, stdio: 'pipe', availability: envoy });
  });

  afterAll(async () => {
    await proxy?.stop();
    await stopServices?.();
  });

  const ctx = (): MeshContext => ({ listener: proxy.listeners.ingress, admin: proxy.adminAddress, services });
  for (const check of meshChecks) it(check.name, () => check.run(ctx()));
});
