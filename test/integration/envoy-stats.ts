/**
 * What the integration suites read from Envoy's admin (`host:port`): the Prometheus page
 * (process-wide values, every worker's increments in one series) and how many connections
 * each worker thread accepted, which shows that a load really was spread over the workers.
 * Sources: Envoy docs, operations/admin (`/stats/prometheus`, `/stats?filter=`) and
 * configuration/listeners/stats (`listener.<address>.worker_<id>.downstream_cx_total`).
 */
import { request } from 'undici';

/** The text of `/stats/prometheus`. */
export async function prometheus(admin: string): Promise<string> {
  return (await request(`http://${admin}/stats/prometheus`)).body.text();
}

/** The value of the untagged series `name` (`name{} 42` or `name 42`) in Prometheus text, or undefined. */
export function metric(text: string, name: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
}

/** Connections each worker accepted (index = worker id), summed over the listeners. */
export async function workerConnections(admin: string): Promise<number[]> {
  const text = await (await request(`http://${admin}/stats?filter=${encodeURIComponent('^listener\\..*\\.worker_[0-9]+\\.downstream_cx_total$')}`)).body.text();
  const out: number[] = [];
  for (const m of text.matchAll(/\.worker_(\d+)\.downstream_cx_total: (\d+)$/gm)) out[Number(m[1])] = (out[Number(m[1])] ?? 0) + Number(m[2]);
  return Array.from(out, (n) => n ?? 0);
}
