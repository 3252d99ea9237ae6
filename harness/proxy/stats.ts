/**
 * Process-wide Envoy stats of the data plane (cluster, host and connection-manager
 * counters and gauges), in one `SharedArrayBuffer` that the main thread creates and
 * every worker maps: workers count with `Atomics.add`, the admin listener on the main
 * thread reads. The stat names are fixed at bootstrap time (clusters, hosts and
 * `stat_prefix`es are static), so every thread builds the same name → slot table.
 *
 * Names are Envoy's (source/common/upstream/upstream_impl.h `ALL_CLUSTER_TRAFFIC_STATS`,
 * `ALL_HOST_STATS`, source/common/http/conn_manager_impl.h `ALL_HTTP_CONN_MAN_STATS`,
 * source/common/http/codes.cc for `upstream_rq_<code>` / `_<n>xx`).
 */
import type { BootstrapConfig } from './bootstrap.ts';

export const CLUSTER_COUNTERS = [
  'upstream_rq_total',
  'upstream_rq_completed',
  'upstream_rq_retry',
  'upstream_rq_retry_success',
  'upstream_rq_retry_overflow',
  'upstream_rq_retry_limit_exceeded',
  'upstream_rq_retry_backoff_exponential',
  'upstream_rq_timeout',
  'upstream_rq_per_try_timeout',
  'upstream_rq_rx_reset',
  'upstream_rq_tx_reset',
  'upstream_rq_pending_failure_eject',
  'upstream_rq_cancelled',
  'upstream_cx_total',
  'upstream_cx_connect_fail',
  'upstream_cx_connect_timeout',
  'upstream_cx_destroy_remote_with_active_rq',
  'retry_or_shadow_abandoned',
] as const;
export const CLUSTER_GAUGES = ['upstream_rq_active', 'upstream_cx_active', 'membership_total', 'membership_healthy'] as const;
export const HOST_COUNTERS = ['cx_total', 'cx_connect_fail', 'rq_total', 'rq_success', 'rq_error', 'rq_timeout'] as const;
export const HOST_GAUGES = ['cx_active', 'rq_active'] as const;
export const HCM_COUNTERS = ['downstream_cx_total', 'downstream_rq_total', 'downstream_rq_completed', 'downstream_rq_rx_reset', 'downstream_rq_tx_reset', 'downstream_rq_too_large', 'no_route', 'rq_direct_response'] as const;
export const HCM_GAUGES = ['downstream_cx_active', 'downstream_rq_active'] as const;

export type ClusterCounter = (typeof CLUSTER_COUNTERS)[number];
export type ClusterGauge = (typeof CLUSTER_GAUGES)[number];
export type HostCounter = (typeof HOST_COUNTERS)[number];
export type HostGauge = (typeof HOST_GAUGES)[number];
export type HcmCounter = (typeof HCM_COUNTERS)[number];
export type HcmGauge = (typeof HCM_GAUGES)[number];

/** Response codes tracked individually: 100..599. */
const CODES = 500;

// Stat name → slot offset, looked up once per update (no linear search on the request path).
const offsets = (counters: readonly string[], gauges: readonly string[]): Map<string, number> =>
  new Map([...counters.map((s, i) => [s, i] as const), ...gauges.map((s, i) => [s, counters.length + i] as const)]);
const CLUSTER_OFFSETS = offsets(CLUSTER_COUNTERS, CLUSTER_GAUGES);
const HOST_OFFSETS = offsets(HOST_COUNTERS, HOST_GAUGES);
const HCM_OFFSETS = offsets(HCM_COUNTERS, HCM_GAUGES);
const BIG: readonly bigint[] = [-1n, 0n, 1n];

export interface StatEntry {
  /** Envoy's flat name, e.g. `cluster.backend.upstream_rq_200`. */
  name: string;
  type: 'counter' | 'gauge';
  value: number;
}

/** Names and slot numbers; identical in every thread for one bootstrap. */
interface Layout {
  clusters: string[];
  hosts: Map<string, string[]>;
  hcmPrefixes: string[];
  clusterBase: Map<string, number>;
  /** cluster → host address → first slot. */
  hostBase: Map<string, Map<string, number>>;
  hcmBase: Map<string, number>;
  size: number;
}

// Stats, then per-code counters, classes, retry.<code>, then one resource slot: the retries
// open now, which Envoy's cluster resource manager counts across all workers.
const CLUSTER_SLOTS = CLUSTER_COUNTERS.length + CLUSTER_GAUGES.length + CODES + 5 + CODES + 1;
const HOST_SLOTS = HOST_COUNTERS.length + HOST_GAUGES.length;
const HCM_SLOTS = HCM_COUNTERS.length + HCM_GAUGES.length + 5;

function layoutFor(clusters: string[], hosts: Map<string, string[]>, hcmPrefixes: string[]): Layout {
  let size = 0;
  const clusterBase = new Map<string, number>();
  const hostBase = new Map<string, Map<string, number>>();
  const hcmBase = new Map<string, number>();
  for (const c of clusters) {
    clusterBase.set(c, size);
    size += CLUSTER_SLOTS;
    const bases = new Map<string, number>();
    hostBase.set(c, bases);
    for (const h of hosts.get(c) ?? []) {
      bases.set(h, size);
      size += HOST_SLOTS;
    }
  }
  for (const p of hcmPrefixes) {
    hcmBase.set(p, size);
    size += HCM_SLOTS;
  }
  return { clusters, hosts, hcmPrefixes, clusterBase, hostBase, hcmBase, size };
}

/** What a worker needs to attach to the store (goes in `workerData`). */
export interface StatsHandle {
  buffer: SharedArrayBuffer;
  clusters: string[];
  hosts: [string, string[]][];
  hcmPrefixes: string[];
}

export class ProxyStats {
  private readonly v: BigInt64Array;
  private readonly layout: Layout;

  private constructor(readonly buffer: SharedArrayBuffer, layout: Layout) {
    this.layout = layout;
    this.v = new BigInt64Array(buffer);
  }

  /** Main thread: a zeroed store for the bootstrap's clusters (hosts as `ip:port`) and listeners. */
  static create(bootstrap: BootstrapConfig, hostsByCluster: Map<string, string[]>): ProxyStats {
    const clusters = [...bootstrap.clusters.keys()];
    const prefixes = [...new Set(bootstrap.listeners.map((l) => l.hcm.statPrefix))];
    const layout = layoutFor(clusters, hostsByCluster, prefixes);
    return new ProxyStats(new SharedArrayBuffer(layout.size * 8), layout);
  }

  static attach(h: StatsHandle): ProxyStats {
    return new ProxyStats(h.buffer, layoutFor(h.clusters, new Map(h.hosts), h.hcmPrefixes));
  }

  handle(): StatsHandle {
    return { buffer: this.buffer, clusters: this.layout.clusters, hosts: [...this.layout.hosts.entries()], hcmPrefixes: this.layout.hcmPrefixes };
  }

  private add(slot: number | undefined, delta: number): void {
    if (slot !== undefined) Atomics.add(this.v, slot, delta >= -1 && delta <= 1 ? BIG[delta + 1] : BigInt(delta));
  }

  cluster(cluster: string, stat: ClusterCounter | ClusterGauge, delta = 1): void {
    const base = this.layout.clusterBase.get(cluster);
    if (base !== undefined) this.add(base + CLUSTER_OFFSETS.get(stat)!, delta);
  }

  /** `upstream_rq_<code>` and `upstream_rq_<n>xx` (`retry.` prefixed for responses that were retried: router.cc chargeBasicResponseStat). */
  clusterCode(cluster: string, code: number, retried = false): void {
    const base = this.layout.clusterBase.get(cluster);
    if (base === undefined || code < 100 || code > 599) return;
    const off = base + CLUSTER_COUNTERS.length + CLUSTER_GAUGES.length;
    if (retried) {
      this.add(off + CODES + 5 + (code - 100), 1);
      return;
    }
    this.add(off + (code - 100), 1);
    this.add(off + CODES + Math.floor(code / 100) - 1, 1);
  }

  /**
   * Takes one of the cluster's `max` concurrent retries, counted across every worker as
   * Envoy's `ResourceManagerImpl` retries() does (source/common/upstream/resource_manager_impl.h:
   * `canCreate()` then `inc()`); false when all are taken (the `max_retries` circuit breaker).
   */
  tryOpenRetry(cluster: string, max: number): boolean {
    const base = this.layout.clusterBase.get(cluster);
    if (base === undefined) return true;
    const slot = base + CLUSTER_SLOTS - 1;
    for (;;) {
      const open = Atomics.load(this.v, slot);
      if (open >= BigInt(max)) return false;
      if (Atomics.compareExchange(this.v, slot, open, open + 1n) === open) return true;
    }
  }

  /** Gives back a retry taken with `tryOpenRetry`. */
  closeRetry(cluster: string): void {
    const base = this.layout.clusterBase.get(cluster);
    if (base !== undefined) Atomics.sub(this.v, base + CLUSTER_SLOTS - 1, 1n);
  }

  host(cluster: string, host: string, stat: HostCounter | HostGauge, delta = 1): void {
    const base = this.layout.hostBase.get(cluster)?.get(host);
    if (base !== undefined) this.add(base + HOST_OFFSETS.get(stat)!, delta);
  }

  hostValue(cluster: string, host: string, stat: HostCounter | HostGauge): number {
    const base = this.layout.hostBase.get(cluster)?.get(host);
    return base === undefined ? 0 : Number(Atomics.load(this.v, base + HOST_OFFSETS.get(stat)!));
  }

  hcm(prefix: string, stat: HcmCounter | HcmGauge, delta = 1): void {
    const base = this.layout.hcmBase.get(prefix);
    if (base !== undefined) this.add(base + HCM_OFFSETS.get(stat)!, delta);
  }

  /** `downstream_rq_<n>xx` of the connection manager. */
  hcmCode(prefix: string, code: number): void {
    const base = this.layout.hcmBase.get(prefix);
    if (base === undefined || code < 100 || code > 599) return;
    this.add(base + HCM_COUNTERS.length + HCM_GAUGES.length + Math.floor(code / 100) - 1, 1);
  }

  /** Every stat with Envoy's flat name; per-code counters only once non-zero, as Envoy creates them lazily. */
  entries(): StatEntry[] {
    const out: StatEntry[] = [];
    const read = (slot: number): number => Number(Atomics.load(this.v, slot));
    for (const c of this.layout.clusters) {
      const base = this.layout.clusterBase.get(c)!;
      CLUSTER_COUNTERS.forEach((s, i) => out.push({ name: `cluster.${c}.${s}`, type: 'counter', value: read(base + i) }));
      CLUSTER_GAUGES.forEach((s, i) => out.push({ name: `cluster.${c}.${s}`, type: 'gauge', value: read(base + CLUSTER_COUNTERS.length + i) }));
      const off = base + CLUSTER_COUNTERS.length + CLUSTER_GAUGES.length;
      for (let k = 0; k < CODES; k++) {
        const n = read(off + k);
        if (n) out.push({ name: `cluster.${c}.upstream_rq_${k + 100}`, type: 'counter', value: n });
        const r = read(off + CODES + 5 + k);
        if (r) out.push({ name: `cluster.${c}.retry.upstream_rq_${k + 100}`, type: 'counter', value: r });
      }
      for (let k = 0; k < 5; k++) {
        const n = read(off + CODES + k);
        if (n) out.push({ name: `cluster.${c}.upstream_rq_${k + 1}xx`, type: 'counter', value: n });
      }
    }
    for (const p of this.layout.hcmPrefixes) {
      const base = this.layout.hcmBase.get(p)!;
      HCM_COUNTERS.forEach((s, i) => out.push({ name: `http.${p}.${s}`, type: 'counter', value: read(base + i) }));
      HCM_GAUGES.forEach((s, i) => out.push({ name: `http.${p}.${s}`, type: 'gauge', value: read(base + HCM_COUNTERS.length + i) }));
      for (let k = 0; k < 5; k++) {
        const n = read(base + HCM_COUNTERS.length + HCM_GAUGES.length + k);
        if (n) out.push({ name: `http.${p}.downstream_rq_${k + 1}xx`, type: 'counter', value: n });
      }
    }
    return out;
  }

  /** Hosts of a cluster as the store knows them (`ip:port`). */
  hostsOf(cluster: string): string[] {
    return this.layout.hosts.get(cluster) ?? [];
  }
}
