/**
 * What the suites read from Envoy's admin (`host:port`): the Prometheus page (process-wide
 * values, every worker's increments in one series) and how many connections each worker
 * thread accepted, which shows that a load really was spread over the workers; and the
 * filters' metric labels (`<label>=.=<value>;.;` in the names the SDK's `metricName` writes)
 * with the `stats_config` that turns them into Prometheus labels (every bootstrap under
 * envoy/ carries it).
 * Sources: Envoy docs, operations/admin (`/stats/prometheus`, `/stats?filter=`),
 * configuration/listeners/stats (`listener.<address>.worker_<id>.downstream_cx_total`) and
 * api-v3 config/metrics/v3/stats.proto (`TagSpecifier`).
 */
import { request } from 'undici';

/** The labels of the filters' metrics, in the order the filters write them and Prometheus shows them. */
export const METRIC_LABELS = ['rule', 'provider', 'service', 'policy', 'reason', 'state', 'outcome'] as const;

/**
 * The bootstrap's `stats_config` for them: one TagSpecifier per label whose first group
 * (`<label>=.=<value>;.;`) leaves the name and whose second is the value — what Istio
 * writes for each of its `extraStatTags`.
 */
export const STATS_CONFIG = { stats_tags: METRIC_LABELS.map((l) => ({ tag_name: l, regex: `(${l}=\\.=(.*?);\\.;)` })) };

/** The text of `/stats/prometheus`. */
export async function prometheus(admin: string): Promise<string> {
  return (await request(`http://${admin}/stats/prometheus`)).body.text();
}

/** One sample of Prometheus text: `name{labels} value`. */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Every sample of Prometheus text (Envoy's: `name{a="x",b="y"} 42`, label values escaped `\\`, `\"`, `\n`). */
export function samples(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]] = l[2].replace(/\\(.)/g, (_, c) => (c === 'n' ? '\n' : c));
    out.push({ name: m[1], labels, value: Number(m[3]) });
  }
  return out;
}

/** The value of the series `name` with exactly `labels` (none: the untagged series) in Prometheus text, or undefined. */
export function metric(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  const want = Object.entries(labels).sort().join('\n');
  return samples(text).find((s) => s.name === name && Object.entries(s.labels).sort().join('\n') === want)?.value;
}

/** Connections each worker accepted (index = worker id), summed over the listeners. */
export async function workerConnections(admin: string): Promise<number[]> {
  const text = await (await request(`http://${admin}/stats?filter=${encodeURIComponent('^listener\\..*\\.worker_[0-9]+\\.downstream_cx_total$')}`)).body.text();
  const out: number[] = [];
  for (const m of text.matchAll(/\.worker_(\d+)\.downstream_cx_total: (\d+)$/gm)) out[Number(m[1])] = (out[Number(m[1])] ?? 0) + Number(m[2]);
  return Array.from(out, (n) => n ?? 0);
}
