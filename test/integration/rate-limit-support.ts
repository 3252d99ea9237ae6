/**
 * Shared by the rate-limit suites that run on Envoy: the filter's entry in a bootstrap, a
 * client that fires many requests at once, and the admin's counters.
 */
import { Pool } from 'undici';
import { bootstrap } from './bootstrap.ts';
import { metric, prometheus } from './envoy-stats.ts';
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

export interface Response {
  status: number;
  headers: Record<string, string>;
}

/** Sends `n` GETs at once to `address` (`host:port`) over `connections` connections; returns every response. */
export async function burst(address: string, n: number, headers: Record<string, string>, connections = 50): Promise<Response[]> {
  const pool = new Pool(`http://${address}`, { connections, pipelining: 1 });
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

/** The value of the series `name{labels}` on the `/stats/prometheus` of the admin at `admin` (`host:port`), or undefined. */
export async function prometheusValue(admin: string, name: string, labels: Record<string, string> = {}): Promise<number | undefined> {
  return metric(await prometheus(admin), name, labels);
}
