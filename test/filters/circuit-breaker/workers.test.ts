// One circuit per service for every worker: Envoy runs a VM of the filter per worker
// thread, and each step of the circuit (admission, completion) is a read-modify-write of
// the service's record in shared data with compare-and-swap (shared.ts). Workers here
// are WasmEmulator.createWorkers VMs over one store and clock; the races are played
// deterministically by making one worker's record write wait for another worker's
// whole step (beforeNextHostcall). A write that ignored the CAS it read would lose the
// other worker's step: a failure (the circuit opens late), a probe (HALF_OPEN admits too
// many). There is no no-CAS build of this filter to run as the control (the record write
// has no test seam).
import { beforeAll, describe, expect, it } from 'vitest';
import { LogLevel } from '../../../harness/host/abi.ts';
import type { WasmEmulator } from '../../../harness/host/emulator.ts';
import { CREDIT_BUREAU, breakerWorkers, buildBreaker, call, finish, header, start, gaugedState, transitionsCounter } from './harness.ts';

let wasm = '';
beforeAll(async () => {
  wasm = await buildBreaker();
}, 180_000);

const PATH = '/api/credit-bureau/x';
const CONFIG = { services: [CREDIT_BUREAU] };
const opened = (w: WasmEmulator) => w.getCounterValue(transitionsCounter('credit-bureau', 'open'));

describe('two workers on one shared-data store', () => {
  it('failures seen by two workers add up; once open, neither lets a request through; one log line', async () => {
    const [a, b] = await breakerWorkers(2, wasm, CONFIG);
    call(a, PATH, 503);
    call(b, PATH, 503);
    call(a, PATH, 503);
    expect(call(b, PATH, 200).reply?.status).toBe(503);
    expect(call(a, PATH, 200).reply?.status).toBe(503);
    expect([...a.getLogs(LogLevel.Warn), ...b.getLogs(LogLevel.Warn)]).toEqual(['circuit-breaker: credit-bureau: CLOSED -> OPEN: 3 consecutive failures; open for 60s']);
    expect(opened(a)).toBe(1n);
    expect(gaugedState(b, 'credit-bureau')).toBe('open');
  });

  it('HALF_OPEN admits half_open_requests probes across both workers together', async () => {
    const [a, b] = await breakerWorkers(2, wasm, CONFIG);
    for (let i = 0; i < 3; i++) call(a, PATH, 503);
    a.advanceClock(60_000);
    const admitted = [start(a, PATH), start(b, PATH), start(b, PATH), start(a, PATH), start(b, PATH)].map((ex) => ex.reply === undefined);
    expect(admitted).toEqual([true, true, true, false, false]);
    expect(a.getCounterValue(transitionsCounter('credit-bureau', 'half_open'))).toBe(1n);
  });

  it('the bulkhead counts requests in flight on both workers', async () => {
    const [a, b] = await breakerWorkers(2, wasm, { services: [{ name: 'docs', max_concurrent_requests: 3 }] });
    const held = [start(a, '/x'), start(b, '/x'), start(a, '/x')];
    expect(held.every((ex) => ex.reply === undefined)).toBe(true);
    expect(header(start(b, '/x').reply?.headers, 'x-circuit-breaker')).toBe('bulkhead');
    finish(a, held[0], 200);
    expect(start(b, '/x').reply).toBeUndefined();
  });
});

describe('CAS races on the circuit record, interleaved', () => {
  it("a failure completed while another worker's failure was being written still counts: the third failure opens the circuit", async () => {
    const [a, b] = await breakerWorkers(2, wasm, CONFIG);
    call(a, PATH, 503); // 1 consecutive failure
    const [exA, exB] = [start(a, PATH), start(b, PATH)];
    // a reads 1 failure and would write 2; b's whole completion (1 -> 2) lands first.
    a.beforeNextHostcall('proxy_set_shared_data', () => finish(b, exB, 503));
    finish(a, exA, 503);
    expect(opened(a)).toBe(1n);
    expect(call(b, PATH, 200).reply?.status).toBe(503);
    expect(header(call(a, PATH, 200).reply?.headers, 'x-circuit-breaker')).toBe('open');
  });

  it('HALF_OPEN admits exactly half_open_requests probes when four workers admit on stale reads', async () => {
    const ws = await breakerWorkers(4, wasm, CONFIG);
    for (let i = 0; i < 3; i++) call(ws[0], PATH, 503);
    ws[0].advanceClock(60_000);
    // Worker i's admission write first runs worker i+1's admission: all four read OPEN.
    const exchanges: ReturnType<typeof start>[] = [];
    for (let i = 0; i + 1 < ws.length; i++) ws[i].beforeNextHostcall('proxy_set_shared_data', () => void (exchanges[i + 1] = start(ws[i + 1], PATH)));
    exchanges[0] = start(ws[0], PATH);
    // The last worker wrote first (OPEN -> HALF_OPEN, probe 1); the others stepped again on what it wrote.
    expect(exchanges.map((ex) => ex.reply === undefined)).toEqual([false, true, true, true]);
    expect(exchanges[0].reply?.status).toBe(503);
    expect(ws[0].getCounterValue(transitionsCounter('credit-bureau', 'half_open'))).toBe(1n);
  });
});
