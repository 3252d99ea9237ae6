/**
 * Messages between the main thread (listeners, downstream codec, admin) and the workers
 * (filter managers, router, clusters). Each side queues its messages in an `Outbox` and
 * posts them as one array per event-loop turn (the events of every stream that became
 * ready in the same I/O poll share one `postMessage` and one structured clone). Body
 * bytes travel in their own `ArrayBuffer`s, transferred, never copied twice.
 */
import type { BootstrapConfig } from './bootstrap.ts';
import type { UpstreamHost } from './cluster-manager.ts';
import type { StreamStart } from './connection-manager.ts';
import type { ProxyLogLevel } from './index.ts';
import type { StatsHandle } from './stats.ts';
import type { LogLevelName } from '../host/abi.ts';
import type { SharedStateHandle } from '../host/index.ts';

export type ToWorker =
  | { t: 'headers'; listener: number; start: StreamStart }
  | { t: 'data'; listener: number; id: number; data: Uint8Array; end: boolean }
  | { t: 'trailers'; listener: number; id: number; trailers: string[] }
  | { t: 'reset'; listener: number; id: number }
  | { t: 'stop' };

export type FromWorker =
  | { t: 'ready' }
  | { t: 'fatal'; message: string }
  | { t: 'headers'; id: number; headers: string[]; end: boolean }
  | { t: 'data'; id: number; data: Uint8Array; end: boolean }
  | { t: 'trailers'; id: number; trailers: string[] }
  | { t: 'reset'; id: number }
  | { t: 'pause'; id: number }
  | { t: 'resume'; id: number }
  | { t: 'stopped' }
  /** A log line of the worker (plugin `proxy_log`, VM failures), already filtered by level. */
  | { t: 'log'; level: LogLevelName; line: string };

/** `workerData` of each worker thread. */
export interface WorkerInit {
  index: number;
  concurrency: number;
  bootstrap: BootstrapConfig;
  hosts: [string, UpstreamHost[]][];
  stats: StatsHandle;
  logLevel: ProxyLogLevel;
  /** The host's shared-state handle (shared data, queues, metrics), when the host provides one. */
  shared?: SharedStateHandle;
}

/** Copies `buf` into an exactly-sized ArrayBuffer that can be transferred. */
export function transferable(buf: Uint8Array): Uint8Array {
  const out = new Uint8Array(buf.length);
  out.set(buf);
  return out;
}

interface Port {
  postMessage(value: unknown, transfer: readonly ArrayBuffer[]): void;
}

/**
 * Batches messages to a port: `push` queues, and the queue goes out as one array at the
 * end of the current loop turn (`setImmediate`), or at once with `flush` (start-up and
 * shutdown messages that must not wait).
 */
export class Outbox<T> {
  private queue: T[] = [];
  private transfer: ArrayBuffer[] = [];
  private scheduled = false;

  constructor(private readonly port: Port) {}

  push(message: T, transfer?: ArrayBuffer): void {
    this.queue.push(message);
    if (transfer) this.transfer.push(transfer);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.flush);
    }
  }

  readonly flush = (): void => {
    this.scheduled = false;
    if (this.queue.length === 0) return;
    const batch = this.queue;
    const transfer = this.transfer;
    this.queue = [];
    this.transfer = [];
    this.port.postMessage(batch, transfer);
  };
}
