// Shared state across Envoy's worker threads, one VM of the plugin per worker:
// shared data with cpp-host's CAS (src/shared_data.cc), queues notifying the registering
// root context on its own worker (src/shared_queue.cc), process-wide metrics. The
// workers are WasmEmulator.createWorkers VMs of the probe plugin in this thread, over one
// store, interleaved at chosen hostcalls with beforeNextHostcall: every race is played in
// one order, the same on every run.
import { beforeAll, describe, expect, it } from 'vitest';
import { WasmEmulator } from '../../harness/host/emulator.ts';
import { SharedState } from '../../harness/host/shared/shared-state.ts';
import { testModule } from '../../harness/host/testing.ts';
import { PROBE_WASM, probe, result, results, setScript, status } from './probe.ts';

const CAS_MISMATCH = 8;

beforeAll(async () => {
  await testModule('test-host-probe');
}, 120_000);

/** `count` workers of the probe plugin (vm_id `shared`), worker i running `scripts[i]` (else no script). */
async function workers(count: number, scripts: string[][] = []): Promise<WasmEmulator[]> {
  const ws = await WasmEmulator.createWorkers(count, { wasm: PROBE_WASM, vmId: 'shared' });
  ws.forEach((w, i) => setScript(w.plugin, scripts[i] ?? []));
  return ws;
}

/** Makes worker i's first `proxy_set_shared_data` run worker i+1's tick first: the last worker writes first. */
function chainAtWrites(ws: WasmEmulator[]): void {
  for (let i = 0; i + 1 < ws.length; i++) ws[i].beforeNextHostcall('proxy_set_shared_data', () => ws[i + 1].tick());
}

describe('WasmEmulator.createWorkers and beforeNextHostcall (the interleaving itself)', () => {
  it('gives each worker its own VM over one shared-data store and one clock; emulators of one SharedState share a VM', async () => {
    const [a, b] = await workers(2, [['tick shared_set k from-a 0'], ['tick shared_get k']]);
    expect(a.plugin.wasm).not.toBe(b.plugin.wasm);
    a.tick();
    b.tick();
    expect(result(b, 'tick shared_get k')).toMatch(/^0 from-a cas=\d+$/);
    a.advanceClock(1500);
    expect(b.now()).toBe(a.now());
    expect(b.now()).toBe(Date.UTC(2026, 0, 1) + 1500);
    // The contrast: two plugins of one vm_id handed the same SharedState are one worker's.
    const shared = SharedState.create();
    const one = await probe([], { vmId: 'v', shared });
    const other = await probe([], { vmId: 'v', shared, rootId: 'other' });
    expect(one.plugin.wasm).toBe(other.plugin.wasm);
  });

  it("fires every worker's timers when any of them moves the clock", async () => {
    const script = ['configure metric_define 0 ticks', 'configure tick_period 1000', 'tick metric_inc ticks 1'];
    const [a, b] = await WasmEmulator.createWorkers(2, { wasm: PROBE_WASM, vmId: 'shared', pluginConfiguration: script.join('\n') });
    a.advanceClock(999);
    expect(a.getCounterValue('ticks')).toBe(0n);
    a.advanceClock(1);
    expect(results(a, 'tick metric_inc ticks 1')).toEqual(['0']);
    expect(results(b, 'tick metric_inc ticks 1')).toEqual(['0']);
    b.advanceClock(2000);
    expect(a.getCounterValue('ticks')).toBe(6n);
  });

  it("runs once, just before the hostcall: another worker's tick lands between a read and the CAS write", async () => {
    const [a, b] = await workers(2, [
      ['tick shared_get k', 'tick shared_set k from-a last', 'tick shared_set k again last'],
      ['tick shared_get k', 'tick shared_set k from-b last'],
    ]);
    a.setSharedData('k', 'start');
    a.beforeNextHostcall('proxy_set_shared_data', () => b.tick());
    a.tick();
    expect(result(b, 'tick shared_get k')).toMatch(/^0 start cas=\d+$/); // b ran after a's read...
    expect(status(b, 'tick shared_set k from-b last')).toBe(0);
    expect(status(a, 'tick shared_set k from-a last')).toBe(CAS_MISMATCH); // ...and before a's write
    expect(status(a, 'tick shared_set k again last')).toBe(CAS_MISMATCH);
    expect(results(b, 'tick shared_get k')).toHaveLength(1); // once, not before a's second write
    expect(a.getSharedData('k')?.value.toString()).toBe('from-b');
  });

  it('with a key, waits for a shared-data hostcall on that key', async () => {
    const [a, b] = await workers(2, [
      ['tick shared_set other x 0', 'tick shared_get k', 'tick shared_set k from-a last'],
      ['tick shared_get other', 'tick shared_set k from-b 0'],
    ]);
    a.setSharedData('k', 'start');
    a.beforeNextHostcall('proxy_set_shared_data', () => b.tick(), { key: 'k' });
    a.tick();
    expect(result(b, 'tick shared_get other')).toMatch(/^0 x cas=/); // a's write of `other` came first
    expect(status(a, 'tick shared_set k from-a last')).toBe(CAS_MISMATCH);
    expect(() => a.beforeNextHostcall('proxy_log', () => {}, { key: 'k' })).toThrow(/a key applies to proxy_get_shared_data and proxy_set_shared_data/);
  });

  it('rethrows what the run threw from the call that drove the VM, which went on meanwhile', async () => {
    const [a] = await workers(1, [['tick shared_set k v 0']]);
    a.beforeNextHostcall('proxy_set_shared_data', () => {
      throw new Error('from the run');
    });
    expect(() => a.tick()).toThrow('from the run');
    expect(status(a, 'tick shared_set k v 0')).toBe(0);
    expect(a.vmFailed).toBe(false);
    expect(() => a.tick()).not.toThrow(); // reported once
  });

  it('reports a run that calls into the VM it interrupted', async () => {
    const [a] = await workers(1, [['tick shared_set k v 0']]);
    a.beforeNextHostcall('proxy_set_shared_data', () => a.tick());
    expect(() => a.tick()).toThrow(/an interleaved run called into the VM it interrupted/);
  });

  it('is only for emulators made by createWorkers', async () => {
    const emu = await probe([]);
    expect(() => emu.beforeNextHostcall('proxy_set_shared_data', () => {})).toThrow(/createWorkers/);
  });
});

describe('shared data across workers (cpp-host SharedData CAS)', () => {
  const N = 100;
  // The key exists first: with cpp-host's rules a set on a missing key succeeds whatever
  // the cas, so two workers creating it at once would both win.
  const counter = (w: WasmEmulator) => Number(w.getSharedData('counter')?.value.toString());

  it('compare-and-swap increments of one key come out exact: each worker read before the next one wrote, retried once', async () => {
    const ws = await workers(4, Array(4).fill([`tick cas_increment counter ${N}`]));
    ws[0].setSharedData('counter', '0');
    chainAtWrites(ws);
    ws[0].tick();
    expect(counter(ws[0])).toBe(4 * N);
    expect(ws.map((w) => result(w, `tick cas_increment counter ${N}`))).toEqual(['0 retries=1', '0 retries=1', '0 retries=1', '0 retries=0']);
  });

  it('a naive read-modify-write (cas 0) loses the increments that came between its read and its write', async () => {
    const ws = await workers(4, Array(4).fill([`tick naive_increment counter ${N}`]));
    ws[0].setSharedData('counter', '0');
    chainAtWrites(ws);
    ws[0].tick();
    // The control of the test above: each worker's first write (1, from its read of 0) undid
    // all the increments the workers after it made, so only the first worker's N remain.
    expect(counter(ws[0])).toBe(N);
  });
});

describe('metrics across workers', () => {
  it("are process wide: every worker's increments add up in one value", async () => {
    const script = ['configure metric_define 0 hits', ...Array.from({ length: 50 }, () => 'tick metric_inc hits 1')];
    const ws = await WasmEmulator.createWorkers(4, { wasm: PROBE_WASM, vmId: 'shared', pluginConfiguration: script.join('\n') });
    for (const w of ws) w.tick();
    for (const w of ws) expect(w.getCounterValue('hits')).toBe(200n);
    expect(ws[0].shared.metrics.snapshot().filter((m) => m.name === 'wasmcustom.hits')).toHaveLength(1);
  });

  it('the runtime gauge wasm.envoy.wasm.runtime.v8.active counts one VM per worker, while it lives', async () => {
    const shared = SharedState.create();
    const ws = await WasmEmulator.createWorkers(4, { wasm: PROBE_WASM, vmId: 'shared', shared });
    // Envoy reports 4 + 2 here: its base VM and the main thread's count too (sdk-fixtures.test.ts).
    expect(ws[0].getGaugeValue('wasm.envoy.wasm.runtime.v8.active')).toBe(4n);
    ws[3].close();
    expect(ws[0].getGaugeValue('wasm.envoy.wasm.runtime.v8.active')).toBe(3n);
  });
});

describe('shared queues across workers', () => {
  it('items enqueued on other workers reach the registering root context on its own worker, in order', async () => {
    const producers = 3;
    const perProducer = 20;
    const [consumer, ...ps] = await workers(1 + producers, [
      ['tick queue_register jobs', 'queue_ready queue_dequeue last'],
      ...Array.from({ length: producers }, (_, p) => ['tick queue_resolve shared jobs', ...Array.from({ length: perProducer }, (_, i) => `tick queue_enqueue last p${p}-${i}`)]),
    ]);
    consumer.tick(); // registers
    setScript(consumer.plugin, ['queue_ready queue_dequeue last']);
    // Producers interleave: p0 is interrupted at its first enqueue by p1, p1 by p2.
    for (let p = 0; p + 1 < producers; p++) ps[p].beforeNextHostcall('proxy_enqueue_shared_queue', () => ps[p + 1].tick());
    ps[0].tick();
    expect(consumer.getLogs().filter((l) => l.startsWith('on_queue_ready'))).toEqual([]); // not inline in the enqueuing worker
    consumer.tick(); // the consumer's worker runs what was posted to it
    const items = results(consumer, 'queue_ready queue_dequeue last').map((r) => r.split(' ').pop()!);
    // p2 ran whole inside p1's first enqueue, p1 whole inside p0's.
    expect(items).toEqual(['p2', 'p1', 'p0'].flatMap((p) => Array.from({ length: perProducer }, (_, i) => `${p}-${i}`)));
    for (const p of ps) expect(p.getLogs().some((x) => x.startsWith('on_queue_ready'))).toBe(false);
  });
});
