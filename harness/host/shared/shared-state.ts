/**
 * The state every worker thread shares: shared data and shared queues (per `vm_id`)
 * and metrics (process wide), each in its own SharedArrayBuffer.
 *
 * The thread that starts the workers calls `SharedState.create()` and passes
 * `state.handle` to each worker in `workerData` (SharedArrayBuffers are shared, not
 * copied); each worker calls `SharedState.attach(workerData.shared)`.
 */
import { MetricStore, type MetricsOptions } from './metrics.ts';
import { SharedDataStore, type SharedDataOptions } from './shared-data.ts';
import { SharedQueueStore, type SharedQueueOptions } from './shared-queue.ts';

/** Structured-cloneable handle to the shared state (three SharedArrayBuffers). */
export interface SharedStateHandle {
  readonly data: SharedArrayBuffer;
  readonly queues: SharedArrayBuffer;
  readonly metrics: SharedArrayBuffer;
}

export interface SharedStateOptions {
  data?: SharedDataOptions;
  queues?: SharedQueueOptions;
  metrics?: MetricsOptions;
}

export class SharedState {
  private constructor(
    readonly data: SharedDataStore,
    readonly queues: SharedQueueStore,
    readonly metrics: MetricStore,
  ) {}

  /** Makes new, empty stores (once per process). */
  static create(options: SharedStateOptions = {}): SharedState {
    return new SharedState(
      SharedDataStore.create(options.data),
      SharedQueueStore.create(options.queues),
      MetricStore.create(options.metrics),
    );
  }

  /** Maps stores made by `create`, in this thread. */
  static attach(handle: SharedStateHandle): SharedState {
    return new SharedState(
      new SharedDataStore(handle.data),
      new SharedQueueStore(handle.queues),
      new MetricStore(handle.metrics),
    );
  }

  /** What to put in `workerData` for `attach`. */
  get handle(): SharedStateHandle {
    return { data: this.data.buffer, queues: this.queues.buffer, metrics: this.metrics.buffer };
  }

  /** Stops this thread's shared-queue listener. */
  close(): void {
    this.queues.close();
  }
}
