/**
 * Messages between the main thread (listeners, downstream codec, admin) and the workers
 * (filter managers, router, clusters), one stream's events at a time. Body bytes travel
 * in their own `ArrayBuffer`s, transferred, never copied twice.
 */
import type { HeaderPair } from '../http/header-map.ts';
import type { BootstrapConfig } from './bootstrap.ts';
import type { UpstreamHost } from './cluster-manager.ts';
import type { StreamStart } from './connection-manager.ts';
import type { StatsHandle } from './stats.ts';
import type { SharedStateHandle } from '../host/index.ts';

export type ToWorker =
  | { t: 'headers'; listener: number; start: StreamStart }
  | { t: 'data'; listener: number; id: number; data: Uint8Array; end: boolean }
  | { t: 'trailers'; listener: number; id: number; trailers: HeaderPair[] }
  | { t: 'reset'; listener: number; id: number }
  | { t: 'stop' };

export type FromWorker =
  | { t: 'ready' }
  | { t: 'fatal'; message: string }
  | { t: 'headers'; id: number; headers: HeaderPair[]; end: boolean }
  | { t: 'data'; id: number; data: Uint8Array; end: boolean }
  | { t: 'trailers'; id: number; trailers: HeaderPair[] }
  | { t: 'reset'; id: number }
  | { t: 'pause'; id: number }
  | { t: 'resume'; id: number }
  | { t: 'stopped' }
  /** A log line of the worker (plugin `proxy_log`, VM failures), already filtered by level. */
  | { t: 'log'; level: 'trace' | 'debug' | 'info' | 'warning' | 'error' | 'critical'; line: string };

/** `workerData` of each worker thread. */
export interface WorkerInit {
  index: number;
  concurrency: number;
  bootstrap: BootstrapConfig;
  hosts: [string, UpstreamHost[]][];
  stats: StatsHandle;
  logLevel: string;
  /** The host's shared-state handle (shared data, queues, metrics), when the host provides one. */
  shared?: SharedStateHandle;
}

/** Copies `buf` into an exactly-sized ArrayBuffer that can be transferred. */
export function transferable(buf: Uint8Array): Uint8Array {
  const out = new Uint8Array(buf.length);
  out.set(buf);
  return out;
}
