/**
 * Proxy benchmark: cost per empty stream through the embedded data plane, filterless vs
 * one wasm filter (the SDK example, build/test/example.wasm), in microseconds of wall
 * time per request at a fixed concurrency (undici Pool, 8 connections, one worker), and
 * their ratio; and the round trip of single hostcalls from the VM (the host probe,
 * harness/host/bench.ts), in microseconds.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { Pool } from 'undici';
import { projectRoot } from '../build.ts';
import { hostcallRoundTrips } from '../host/bench.ts';
import { startProxy } from '../proxy/index.ts';
import { startUpstream } from '../upstream/index.ts';
import { round, type BenchSuite } from './report.ts';

const EXAMPLE = path.join(projectRoot, 'build', 'test', 'example.wasm');

function bootstrapDoc(upstream: string, wasm: boolean): Record<string, unknown> {
  const [host, port] = upstream.split(':');
  const filters: unknown[] = [];
  if (wasm) {
    filters.push({
      name: 'envoy.filters.http.wasm',
      typed_config: {
        '@type': 'type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm',
        config: { name: 'example', root_id: 'example', vm_config: { runtime: 'envoy.wasm.runtime.v8', code: { local: { filename: EXAMPLE } } } },
      },
    });
  }
  filters.push({ name: 'envoy.filters.http.router', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router' } });
  return {
    static_resources: {
      listeners: [
        {
          name: 'bench',
          address: { socket_address: { address: '127.0.0.1', port_value: 0 } },
          filter_chains: [
            {
              filters: [
                {
                  name: 'envoy.filters.network.http_connection_manager',
                  typed_config: {
                    '@type': 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
                    stat_prefix: 'bench',
                    route_config: { virtual_hosts: [{ name: 'all', domains: ['*'], routes: [{ match: { prefix: '/' }, route: { cluster: 'up' } }] }] },
                    http_filters: filters,
                  },
                },
              ],
            },
          ],
        },
      ],
      clusters: [{ name: 'up', connect_timeout: '1s', type: 'STATIC', load_assignment: { cluster_name: 'up', endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: host, port_value: Number(port) } } } }] }] } }],
    },
  };
}

/** Microseconds of wall time per request for `n` GETs, 8 in flight, after a warm-up. */
async function perStream(address: string, n: number): Promise<number> {
  const pool = new Pool(`http://${address}`, { connections: 8, pipelining: 1 });
  const one = async (): Promise<void> => {
    const r = await pool.request({ path: '/', method: 'GET' });
    await r.body.dump();
  };
  const run = async (count: number): Promise<void> => {
    let next = 0;
    await Promise.all(Array.from({ length: 8 }, async () => {
      while (next++ < count) await one();
    }));
  };
  await run(200);
  const t0 = process.hrtime.bigint();
  await run(n);
  const us = Number(process.hrtime.bigint() - t0) / 1e3 / n;
  await pool.close();
  return us;
}

async function measure(upstream: string, wasm: boolean, n: number): Promise<number> {
  const proxy = await startProxy({ bootstrap: bootstrapDoc(upstream, wasm), concurrency: 1, portOverride: 0, logLevel: 'error' });
  try {
    return await perStream(proxy.listeners[0].address, n);
  } finally {
    await proxy.stop();
  }
}

export const suite: BenchSuite = {
  name: 'proxy',
  description: 'µs per empty stream through the embedded data plane: filterless vs one wasm filter (SDK example)',
  async run() {
    const up = await startUpstream({ name: 'bench' });
    up.route('/', async () => ({ kind: 'respond', status: 200, body: '' }));
    const n = 3000;
    try {
      const filterless = await measure(up.address, false, n);
      const report: Record<string, unknown> = { requests: n, concurrency: 8, workers: 1, filterless_us: round(filterless, 1) };
      if (!existsSync(EXAMPLE)) throw new Error(`${path.relative(projectRoot, EXAMPLE)} not built (npm run build -- --tests)`);
      const wasm = await measure(up.address, true, n);
      report.wasm_us = round(wasm, 1);
      report.ratio = round(wasm / filterless, 3);
      report.wasm_overhead_us = round(wasm - filterless, 1);
      const ns = await hostcallRoundTrips();
      report.hostcall_round_trip_us = Object.fromEntries(Object.entries(ns).map(([k, v]) => [k, round(v / 1000, 3)]));
      return report;
    } finally {
      await up.close();
    }
  },
};
