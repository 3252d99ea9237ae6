// Shared state across real worker threads, as Envoy workers share it: shared data with
// cpp-host's CAS (src/shared_data.cc), queues notifying the registering VM on its own
// thread (src/shared_queue.cc), process-wide metrics. Each worker runs its own VM of the
// probe plugin; the state lives in SharedArrayBuffers made here.
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { SharedState } from '../../harness/host/shared/shared-state.ts';
import { PROBE_WASM, ensureBuilt } from './probe.ts';

const ENTRY = path.join(import.meta.dirname, 'thread-worker.mjs');

interface WorkerSpec {
  script: string[];
  vmId?: string;
  rootId?: string;
  waitForQueue?: number;
}

/** Starts the workers, lets the tick-runners go together, and returns each one's logs. */
async function runWorkers(state: SharedState, specs: WorkerSpec[], beforeStart?: () => void): Promise<string[][]> {
  await ensureBuilt('test-host-probe');
  const start = new SharedArrayBuffer(4);
  const workers = specs.map(
    (s, i) =>
      new Worker(ENTRY, {
        workerData: { shared: state.handle, wasm: PROBE_WASM, script: s.script, vmId: s.vmId ?? 'shared', rootId: s.rootId ?? `w${i}`, start, waitForQueue: s.waitForQueue },
      }),
  );
  const ready = workers.map((w) => new Promise<void>((resolve, reject) => {
    w.on('message', (m) => m.type === 'ready' && resolve());
    w.on('error', reject);
  }));
  const done = workers.map((w) => new Promise<string[]>((resolve, reject) => {
    w.on('message', (m) => m.type === 'done' && resolve(m.logs));
    w.on('error', reject);
  }));
  await Promise.all(ready);
  beforeStart?.();
  const flag = new Int32Array(start);
  Atomics.store(flag, 0, 1);
  Atomics.notify(flag, 0);
  try {
    return await Promise.all(done);
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
}

const counter = (state: SharedState) => Number(state.data.read('shared', 'counter')?.value.toString() ?? '0');

describe.each([1, 4])('%i worker thread(s)', (threads) => {
  const N = 3000;

  it('compare-and-swap increments of one key come out exact', async () => {
    const state = SharedState.create();
    // The key exists first: with cpp-host's rules a set on a missing key succeeds whatever
    // the cas, so two threads creating it at once would both win.
    state.data.write('shared', 'counter', '0');
    await runWorkers(state, Array.from({ length: threads }, () => ({ script: [`tick cas_increment counter ${N} 200`] })));
    expect(counter(state)).toBe(threads * N);
  });

  it('a naive read-modify-write (cas 0) is exact only without concurrency', async () => {
    const state = SharedState.create();
    state.data.write('shared', 'counter', '0');
    await runWorkers(state, Array.from({ length: threads }, () => ({ script: [`tick naive_increment counter ${N} 1000`] })));
    if (threads === 1) expect(counter(state)).toBe(N);
    // Lost updates: the proof that the CAS test above could fail.
    else expect(counter(state)).toBeLessThan(threads * N);
  });

  it('metrics are process wide: every thread\'s increments add up', async () => {
    const state = SharedState.create();
    const script = ['configure metric_define 0 hits', ...Array.from({ length: 50 }, () => 'tick metric_inc hits 1')];
    await runWorkers(state, Array.from({ length: threads }, () => ({ script })));
    const m = state.metrics.snapshot().find((x) => x.name === 'wasmcustom.hits');
    expect(m?.value).toBe(BigInt(threads * 50));
  });
});

describe('shared queues across threads', () => {
  it('items enqueued on other threads reach the registering root context on its own thread, in order', async () => {
    const state = SharedState.create();
    const producers = 3;
    const perProducer = 20;
    const logs = await runWorkers(state, [
      { script: ['configure queue_register jobs', 'queue_ready queue_dequeue last'], rootId: 'consumer', waitForQueue: producers * perProducer },
      ...Array.from({ length: producers }, (_, p) => ({
        rootId: `producer${p}`,
        script: ['tick queue_resolve shared jobs', ...Array.from({ length: perProducer }, (_, i) => `tick queue_enqueue last p${p}-${i}`)],
      })),
    ]);
    const [consumer, ...producerLogs] = logs;
    const items = consumer.filter((l) => l.startsWith('queue_ready queue_dequeue last -> 0 ')).map((l) => l.split(' ').pop()!);
    expect(items).toHaveLength(producers * perProducer);
    for (let p = 0; p < producers; p++) {
      const mine = items.filter((x) => x.startsWith(`p${p}-`));
      expect(mine).toEqual(Array.from({ length: perProducer }, (_, i) => `p${p}-${i}`));
    }
    for (const l of producerLogs) expect(l.some((x) => x.startsWith('on_queue_ready'))).toBe(false);
  });
});
