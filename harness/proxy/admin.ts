/**
 * The admin listener (Envoy source/server/admin/): `GET /ready` (200 `LIVE`),
 * `GET /stats` (Envoy's `name: value` text), `GET /stats/prometheus` (Envoy's names and
 * tags, prometheus_stats.cc, plus the wasm metrics rendered by the host's store) and
 * `GET /clusters` (clusters_handler.cc text format).
 */
import http from 'node:http';
import type net from 'node:net';
import type { BootstrapConfig } from './bootstrap.ts';
import type { UpstreamHost } from './cluster-manager.ts';
import { HOST_COUNTERS, HOST_GAUGES, type ProxyStats, type StatEntry } from './stats.ts';

/**
 * Envoy's tag extraction for the stats the data plane keeps (source/common/config/
 * well_known_names.cc): cluster name, connection manager prefix, response code and code class.
 */
export function prometheusSeries(name: string): { metric: string; labels: [string, string][] } {
  let m: RegExpExecArray | null;
  const labels: [string, string][] = [];
  let rest = name;
  let scope = '';
  if ((m = /^cluster\.([^.]+)\.(.*)$/.exec(rest))) {
    scope = 'cluster';
    rest = m[2];
    labels.push(['envoy_cluster_name', m[1]]);
  } else if ((m = /^http\.([^.]+)\.(.*)$/.exec(rest))) {
    scope = 'http';
    rest = m[2];
    labels.push(['envoy_http_conn_manager_prefix', m[1]]);
  }
  if ((m = /^(.*_rq)_(\d{3})$/.exec(rest))) {
    rest = m[1];
    labels.unshift(['envoy_response_code', m[2]]);
  } else if ((m = /^(.*_rq)_(\d)xx$/.exec(rest))) {
    rest = `${m[1]}_xx`;
    labels.unshift(['envoy_response_code_class', m[2]]);
  }
  const flat = (scope ? `${scope}.${rest}` : rest).replace(/[^a-zA-Z0-9_]/g, '_');
  return { metric: `envoy_${flat}`, labels };
}

const escapeLabel = (v: string): string => v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');

/** Prometheus text exposition of `entries`, one `# TYPE` per metric (Envoy groups series by name). */
export function renderProxyPrometheus(entries: StatEntry[]): string {
  const groups = new Map<string, { type: string; lines: string[] }>();
  for (const e of entries) {
    const { metric, labels } = prometheusSeries(e.name);
    let g = groups.get(metric);
    if (!g) groups.set(metric, (g = { type: e.type, lines: [] }));
    const l = labels.length ? `{${labels.map(([k, v]) => `${k}="${escapeLabel(v)}"`).join(',')}}` : '';
    g.lines.push(`${metric}${l} ${e.value}`);
  }
  let out = '';
  for (const name of [...groups.keys()].sort()) {
    const g = groups.get(name)!;
    out += `# TYPE ${name} ${g.type}\n${g.lines.join('\n')}\n`;
  }
  return out;
}

/** `/clusters` text: per cluster its defaults, per host `cluster::ip:port::stat::value` (clusters_handler.cc). */
export function renderClusters(bootstrap: BootstrapConfig, hosts: Map<string, UpstreamHost[]>, stats: ProxyStats): string {
  const lines: string[] = [];
  for (const [name, c] of bootstrap.clusters) {
    lines.push(`${name}::observability_name::${name}`);
    for (const [prio, max] of [['default_priority', c.maxRetries]] as const) {
      lines.push(`${name}::${prio}::max_connections::1024`, `${name}::${prio}::max_pending_requests::1024`, `${name}::${prio}::max_requests::1024`, `${name}::${prio}::max_retries::${max}`);
    }
    lines.push(`${name}::added_via_api::false`);
    for (const h of hosts.get(name) ?? []) {
      const p = `${name}::${h.address}`;
      for (const s of HOST_COUNTERS) lines.push(`${p}::${s}::${stats.hostValue(name, h.address, s)}`);
      for (const s of HOST_GAUGES) lines.push(`${p}::${s}::${stats.hostValue(name, h.address, s)}`);
      lines.push(`${p}::hostname::${h.hostname}`, `${p}::health_flags::healthy`, `${p}::weight::1`, `${p}::region::`, `${p}::zone::`, `${p}::sub_zone::`, `${p}::canary::false`, `${p}::priority::0`, `${p}::success_rate::-1`, `${p}::local_origin_success_rate::-1`);
    }
  }
  return lines.join('\n') + '\n';
}

export interface AdminServer {
  address: net.AddressInfo;
  close(): Promise<void>;
}

export async function startAdmin(
  host: string,
  port: number,
  render: { stats(): StatEntry[]; wasmPrometheus(): string; clusters(): string },
): Promise<AdminServer> {
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://admin');
    const send = (code: number, body: string, type = 'text/plain; charset=UTF-8'): void => {
      res.writeHead(code, { 'content-type': type, 'cache-control': 'no-cache, max-age=0', 'x-content-type-options': 'nosniff' });
      res.end(body);
    };
    switch (url.pathname) {
      case '/ready':
        return send(200, 'LIVE\n');
      case '/stats/prometheus':
        return send(200, renderProxyPrometheus(render.stats()) + render.wasmPrometheus());
      case '/stats': {
        const filter = url.searchParams.get('filter');
        const re = filter ? new RegExp(filter) : null;
        const lines = render
          .stats()
          .filter((e) => !re || re.test(e.name))
          .map((e) => `${e.name}: ${e.value}`)
          .sort();
        return send(200, lines.join('\n') + '\n');
      }
      case '/clusters':
        return send(200, render.clusters());
      default:
        return send(404, `invalid path. admin commands are: /clusters /ready /stats /stats/prometheus\n`);
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host, port, exclusive: true }, () => resolve());
  });
  return {
    address: server.address() as net.AddressInfo,
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
