// Shared data, shared queues and metrics in one thread: cpp-host src/shared_data.cc
// (CAS rules), src/shared_queue.cc (register/resolve/enqueue/dequeue, onQueueReady on
// the registering root context), Envoy context.cc (defineMetric, incrementMetric,
// recordMetric, getMetric) and admin prometheus_stats_formatter.cc (rendering).
import { describe, expect, it } from 'vitest';
import { MetricType } from '../../harness/host/abi.ts';
import { SharedState } from '../../harness/host/shared/shared-state.ts';
import { renderPrometheus } from '../../harness/host/shared/prometheus.ts';
import { probe, result, results, status } from './probe.ts';

const NOT_FOUND = 1;
const BAD_ARGUMENT = 2;
const EMPTY = 7;
const CAS_MISMATCH = 8;

describe('shared data (cpp-host SharedData)', () => {
  it('get of a missing key is NOT_FOUND; set with cas 0 always succeeds', async () => {
    const emu = await probe(['tick shared_get k', 'tick shared_set k v1 0']);
    emu.tick();
    expect(status(emu, 'tick shared_get k')).toBe(NOT_FOUND);
    expect(status(emu, 'tick shared_set k v1 0')).toBe(0);
    expect(emu.getSharedData('k')?.value.toString()).toBe('v1');
  });

  it('a stale cas is CAS_MISMATCH, the current one succeeds and changes the cas', async () => {
    const emu = await probe(['configure shared_set k v1 0', 'tick shared_get k', 'tick shared_set k v2 last', 'tick shared_set k v3 last']);
    emu.tick();
    const cas = Number(result(emu, 'tick shared_get k').split('cas=')[1]);
    expect(cas).toBeGreaterThan(0);
    expect(status(emu, 'tick shared_set k v2 last')).toBe(0);
    // The cas the plugin holds is now stale.
    expect(status(emu, 'tick shared_set k v3 last')).toBe(CAS_MISMATCH);
    expect(emu.getSharedData('k')).toEqual({ value: Buffer.from('v2'), cas: cas + 1 });
  });

  it('a non-zero cas for a key that does not exist yet succeeds (cpp-host set)', async () => {
    const emu = await probe(['tick shared_set fresh v 12345']);
    emu.tick();
    expect(status(emu, 'tick shared_set fresh v 12345')).toBe(0);
  });

  it('is shared by plugins of the same vm_id, separate across vm_ids', async () => {
    const shared = SharedState.create();
    const writer = await probe(['configure shared_set k from-a 0'], { vmId: 'a', shared });
    const sameVm = await probe(['configure shared_get k'], { vmId: 'a', shared, rootId: 'other' });
    const otherVm = await probe(['configure shared_get k'], { vmId: 'b', shared });
    expect(writer.getSharedData('k')?.value.toString()).toBe('from-a');
    expect(result(sameVm, 'configure shared_get k')).toMatch(/^0 from-a cas=\d+$/);
    expect(status(otherVm, 'configure shared_get k')).toBe(NOT_FOUND);
  });

  it('an out-of-memory key is INVALID_MEMORY_ACCESS', async () => {
    const emu = await probe(['tick oob shared_set']);
    emu.tick();
    expect(status(emu, 'tick oob shared_set')).toBe(6);
  });
});

describe('shared queues (cpp-host SharedQueue)', () => {
  it('register returns a token; enqueue notifies the registering root context after the enqueuing call', async () => {
    const emu = await probe(['configure queue_register jobs', 'tick queue_enqueue last hello', 'queue_ready queue_dequeue last', 'queue_ready queue_dequeue last']);
    expect(result(emu, 'configure queue_register jobs')).toBe('0 1');
    emu.tick();
    expect(result(emu, 'tick queue_enqueue last hello')).toBe('0');
    const logs = emu.getLogs();
    // on_queue_ready comes after the tick that enqueued, never inside it.
    expect(logs.indexOf('on_queue_ready 1 -> 0')).toBeGreaterThan(logs.indexOf('tick queue_enqueue last hello -> 0'));
    expect(results(emu, 'queue_ready queue_dequeue last')).toEqual(['0 hello', String(EMPTY)]);
  });

  it('another plugin resolves the queue by vm_id and name; its items reach the registering plugin', async () => {
    const shared = SharedState.create();
    const consumer = await probe(['configure queue_register events', 'queue_ready queue_dequeue last'], { vmId: 'vm1', shared });
    const producer = await probe(['configure queue_resolve vm1 events', 'configure queue_resolve vm1 nope', 'tick queue_enqueue last e1', 'tick queue_enqueue last e2'], { vmId: 'vm2', shared, rootId: 'producer' });
    expect(result(producer, 'configure queue_resolve vm1 events')).toBe('0 1');
    expect(status(producer, 'configure queue_resolve vm1 nope')).toBe(NOT_FOUND);
    producer.tick();
    consumer.tick(); // delivers pending notifications on this thread
    expect(results(consumer, 'queue_ready queue_dequeue last')).toEqual(['0 e1', '0 e2']);
    expect(producer.getLogs().some((l) => l.startsWith('on_queue_ready'))).toBe(false);
  });

  it('an unknown token is NOT_FOUND for enqueue and dequeue', async () => {
    const emu = await probe(['tick queue_enqueue 77 x', 'tick queue_dequeue 77']);
    emu.tick();
    expect(status(emu, 'tick queue_enqueue 77 x')).toBe(NOT_FOUND);
    expect(status(emu, 'tick queue_dequeue 77')).toBe(NOT_FOUND);
  });
});

describe('metrics (Envoy defineMetric / incrementMetric / recordMetric / getMetric)', () => {
  it('ids carry the type in the low bits; defining a name again gives a new id for the same metric', async () => {
    const emu = await probe([
      'configure metric_define 0 requests_total',
      'configure metric_define 1 in_flight',
      'configure metric_define 2 latency_ms',
      'configure metric_define 0 requests_total',
      'tick metric_inc 4 1',
      'tick metric_inc 8 2',
      'tick metric_get 4',
    ]);
    // cpp-host wasm.h: counters 4, 8, ...; gauges 5, 9, ...; histograms 6, 10, ...
    expect(results(emu, 'configure metric_define 0 requests_total')).toEqual(['0 4', '0 8']);
    expect(result(emu, 'configure metric_define 1 in_flight')).toBe('0 5');
    expect(result(emu, 'configure metric_define 2 latency_ms')).toBe('0 6');
    emu.tick();
    expect(result(emu, 'tick metric_get 4')).toBe('0 3');
    expect(emu.getCounterValue('requests_total')).toBe(3n);
  });

  it('counters refuse a non-positive delta; gauges go both ways; record sets a gauge and adds to a counter', async () => {
    const emu = await probe([
      'configure metric_define 0 c',
      'configure metric_define 1 g',
      'tick metric_inc c 0',
      'tick metric_inc c -1',
      'tick metric_record c 5',
      'tick metric_inc g 10',
      'tick metric_inc g -3',
      'tick metric_get g',
      'tick metric_record g 42',
    ]);
    emu.tick();
    expect(status(emu, 'tick metric_inc c 0')).toBe(BAD_ARGUMENT);
    expect(status(emu, 'tick metric_inc c -1')).toBe(BAD_ARGUMENT);
    expect(emu.getCounterValue('c')).toBe(5n);
    expect(result(emu, 'tick metric_get g')).toBe('0 7');
    expect(emu.getGaugeValue('g')).toBe(42n);
  });

  it('histograms record; get and increment on a histogram are BAD_ARGUMENT; an unknown id is NOT_FOUND', async () => {
    const emu = await probe([
      'configure metric_define 2 h',
      'tick metric_record h 3',
      'tick metric_record h 700',
      'tick metric_get h',
      'tick metric_inc h 1',
      'tick metric_get 404',
      'tick metric_record 404 1',
      'tick metric_inc 404 1',
      'tick metric_inc 4294967292 1',
    ]);
    emu.tick();
    expect(status(emu, 'tick metric_get h')).toBe(BAD_ARGUMENT);
    expect(status(emu, 'tick metric_inc h 1')).toBe(BAD_ARGUMENT);
    expect(status(emu, 'tick metric_get 404')).toBe(NOT_FOUND);
    expect(status(emu, 'tick metric_record 404 1')).toBe(NOT_FOUND);
    expect(status(emu, 'tick metric_inc 404 1')).toBe(NOT_FOUND);
    expect(status(emu, 'tick metric_inc 4294967292 1')).toBe(NOT_FOUND);
    const h = emu.getHistogram('h')!;
    expect(h.count).toBe(2n);
    expect(h.sum).toBe(703n);
  });

  it('an unknown metric type is BAD_ARGUMENT', async () => {
    const emu = await probe(['configure metric_define 3 x']);
    expect(status(emu, 'configure metric_define 3 x')).toBe(BAD_ARGUMENT);
  });
});

describe('Prometheus rendering (Envoy /stats/prometheus)', () => {
  it('strips the wasmcustom namespace, sanitizes names, prefixes Envoy stats, renders histograms', () => {
    const state = SharedState.create();
    const m = state.metrics;
    m.add(m.define('wasmcustom.jwt_auth.provider.eva.allowed', MetricType.Counter), 3n);
    m.set(m.define('wasmcustom.circuit_breaker_state', MetricType.Gauge), 2n);
    m.define('wasmcustom.9lives', MetricType.Counter);
    m.add(m.define('wasm.jwt.vm_reload_success', MetricType.Counter), 1n);
    const h = m.define('wasmcustom.latency-ms', MetricType.Histogram);
    m.record(h, 3n);
    m.record(h, 7n);
    m.record(h, 5000000n);
    const text = renderPrometheus(state.metrics);
    expect(text).toContain('# TYPE jwt_auth_provider_eva_allowed counter\njwt_auth_provider_eva_allowed{} 3\n\n');
    expect(text).toContain('# TYPE envoy_wasm_jwt_vm_reload_success counter\nenvoy_wasm_jwt_vm_reload_success{} 1\n');
    expect(text).toContain('# TYPE circuit_breaker_state gauge\ncircuit_breaker_state{} 2\n');
    expect(text).not.toContain('9lives');
    expect(text).toContain('latency_ms_bucket{le="0.5"} 0\n');
    expect(text).toContain('latency_ms_bucket{le="5"} 1\n');
    expect(text).toContain('latency_ms_bucket{le="10"} 2\n');
    expect(text).toContain('latency_ms_bucket{le="3600000"} 2\n');
    // Envoy's sum: each sample at its bin's minimum-error midpoint, bottom + width * bottom /
    // (bottom + top): 3 in [3, 3.1), 7 in [7, 7.1), 5000000 in [5000000, 5100000); 32 digits.
    expect(text).toContain('latency_ms_bucket{le="+Inf"} 3\nlatency_ms_sum{} 5049515.0493207676336169242858887\nlatency_ms_count{} 3\n');
    // Counters, then gauges, then histograms.
    expect(text.indexOf('counter')).toBeLessThan(text.indexOf('gauge'));
    expect(text.indexOf('gauge')).toBeLessThan(text.indexOf('histogram'));
  });

  it('a histogram sample counts under the bound of its bin (libcircllhist: 105 is in [100, 110), under le="100")', () => {
    const m = SharedState.create().metrics;
    const h = m.define('wasmcustom.h', MetricType.Histogram);
    for (const v of [100n, 105n, 109n, 110n]) m.record(h, v);
    const text = renderPrometheus(m);
    expect(text).toContain('h_bucket{le="50"} 0\nh_bucket{le="100"} 3\nh_bucket{le="250"} 4\n');
    // The exact sum stays readable (getHistogram); the rendered one is Envoy's: 3 x 104.76... + 114.78...
    expect(m.snapshot()[0].histogram?.sum).toBe(424n);
    expect(text).toContain('h_sum{} 429.0683229813664638641057536006\n');
  });

  it('the sum is Envoy\'s to the last bit over 64 bins (summed in bin order, as recorded or not), close past them', () => {
    const m = SharedState.create().metrics;
    const h = m.define('wasmcustom.h', MetricType.Histogram);
    const sum = () => m.snapshot()[0].histogram!.approxSum;
    // 10..99 are bins of one integer each: v is counted at v + 1 * v / (v + v + 1).
    const midpoint = (v: number) => v + v / (2 * v + 1);
    let envoy = 0;
    for (let v = 36; v < 100; v++) envoy += midpoint(v);
    for (let v = 99; v >= 36; v--) m.record(h, BigInt(v));
    expect(sum()).toBe(envoy);
    // 26 more bins: their midpoints are added as they come.
    for (let v = 10; v < 36; v++) m.record(h, BigInt(v));
    envoy = 0;
    for (let v = 10; v < 100; v++) envoy += midpoint(v);
    expect(Math.abs(sum() - envoy)).toBeLessThan(1e-9);
  });
});
