/**
 * The data plane an integration suite runs its bootstrap on: the embedded proxy, or real
 * Envoy where one is found (harness/envoy/runner.ts), behind one small interface.
 */
import { startEnvoy, type EnvoyAvailability } from '../../harness/envoy/runner.ts';
import { startProxy } from '../../harness/proxy/index.ts';

export interface DataPlane {
  /** `host:port` of the (first) listener. */
  address: string;
  /** `host:port` of the admin. */
  admin: string;
  stop(): Promise<void>;
}

/** `bootstrap` on the embedded data plane with `concurrency` workers, every port ephemeral. */
export async function startEmbedded(bootstrap: Record<string, unknown>, concurrency: number): Promise<DataPlane> {
  const proxy = await startProxy({ bootstrap, concurrency, portOverride: 0, logLevel: 'error' });
  return { address: proxy.listeners[0].address, admin: proxy.admin!.address, stop: () => proxy.stop() };
}

/** `bootstrap` on real Envoy (its listener named `ingress`), every port ephemeral. */
export async function startRealEnvoy(bootstrap: Record<string, unknown>, concurrency: number, availability: EnvoyAvailability): Promise<DataPlane> {
  const envoy = await startEnvoy({ bootstrap, concurrency, portOverride: 0, stdio: 'pipe', availability });
  return { address: envoy.listeners.ingress, admin: envoy.adminAddress, stop: () => envoy.stop() };
}
