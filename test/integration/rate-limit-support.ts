/**
 * Shared by the rate-limit suites that go through a data plane: the filter's entry in
 * a bootstrap, the embedded proxy or real Envoy behind one small interface, and a
 * client that fires many requests at once.
 */
import { Pool } from 'undici';
import { startEnvoy, type EnvoyAvailability } from '../../harness/envoy/runner.ts';
import { startProxy } from '../../harness/proxy/index.ts';
import { bootstrap } from '../proxy/bootstrap-builder.ts';
import { wasmHttpFilter } from './wasm-filter.ts';

/** The `envoy.filters.http.wasm` entry running `wasm` with `config` (and an optional VM configuration). */
export const rateLimitFilter = (wasm: string, config: unknown, vmConfiguration?: string): Record<string, unknown> =>
  wasmHttpFilter('rate-limit', wasm, config, vmConfiguration);

/** A bootstrap with the filter in front of one upstream. */
export function rateLimitBootstrap(filter: Record<string, unknown>, upstream: string): Record<string, unknown> {
  return bootstrap({
    filters: [filter],
    virtualHosts: [{ routes: [{ match: { prefix: '/' }, route: { cluster: 'backend' } }] }],
    clusters: { backend: { endpoints: [upstream] } },
  });
}

export interface DataPlane {
  /** `http://host:port` of the listener. */
  url: string;
  /** `http://host:port` of the admin. */
  admin: string;
  stop(): Promise<void>;
}

export async function startEmbedded(doc: Record<string, unknown>, concurrency: number): Promise<DataPlane> {
  const proxy = await startProxy({ bootstrap: doc, concurrency, portOverride: 0, logLevel: 'error' });
  return { url: `http://${proxy.listeners[0].address}`, admin: `http://${proxy.admin!.address}`, stop: () => proxy.stop() };
}

export async function startRealEnvoy(doc: Record<string, unknown>, concurrency: number, availability: EnvoyAvailability): Promise<DataPlane> {
  const envoy = await startEnvoy({ bootstrap: doc, concurrency, portOverride: 0, stdio: 'pipe', availability });
  return { url: `http://${envoy.listeners.ingress}`, admin: `http://${envoy.adminAddress}`, stop: () => envoy.stop() };
}

export interface Response {
  status: number;
  headers: Record<string, string>;
}

/** Sends `n` GETs at once over `connections` connections; returns every response. */
export async function burst(url: string, n: number, headers: Record<string, string>, connections = 50): Promise<Response[]> {
  const pool = new Pool(url, { connections, pipelining: 1 });
  try {
    return await Promise.all(
      Array.from({ length: n }, async () => {
        const res = await pool.request({ path: '/burst', method: 'GET', headers });
        await res.body.dump();
        return { status: res.statusCode, headers: res.headers as Record<string, string> };
      }),
    );
  } finally {
    await pool.close();
  }
}

/** The value of metric `name` on the admin's `/stats/prometheus`, or undefined. */
export async function prometheusValue(admin: string, name: string): Promise<number | undefined> {
  const text = await (await fetch(`${admin}/stats/prometheus`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
}
