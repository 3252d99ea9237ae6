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
import { counter, type Exchange, exchange, filterWorkers, header, request, testModule } from '../../../harness/host/testing.ts';
import { CREDIT_BUREAU, gaugedState } from './harness.ts';

let wasm = '';
beforeAll(async () => {
  wasm = await testModule('circuit-breaker');
}, 180_000);

const PATH = '/api/credit-bureau/x';
const CONFIG = { services: [CREDIT_BUREAU] };
const opened = (w: WasmEmulator) => counter(w, 'circuit_breaker_transitions_total', { service: 'credit-bureau', state: 'open' });

describe('two workers on one shared-data store', () => {
  it('failures seen by two workers add up; once open, neither lets a request through; one log line', async () => {
    const [a, b] = await filterWorkers(2, wasm, 'circuit-breaker', CONFIG);
    exchange(a, { path: PATH }, 503);
    exchange(b, { path: PATH }, 503);
    exchange(a, { path: PATH }, 503);
    expect(exchange(b, { path: PATH }, 200).reply?.status).toBe(503);
    expect(exchange(a, { path: PATH }, 200).reply?.status).toBe(503);
    expect([...a.getLogs(LogLevel.Warn), ...b.getLogs(LogLevel.Warn)]).toEqual(['circuit-breaker: credit-bureau: CLOSED -> OPEN: 3 consecutive failures; open for 60s']);
    expect(opened(a)).toBe(1);
    expect(gaugedState(b, 'credit-bureau')).toBe('open');
  });

  it('HALF_OPEN admits half_open_requests probes across both workers together', async () => {
    const [a, b] = await filterWorkers(2, wasm, 'circuit-breaker', CONFIG);
    for (let i = 0; i < 3; i++) exchange(a, { path: PATH }, 503);
    a.advanceClock(60_000);
    const admitted = [request(a, { path: PATH }), request(b, { path: PATH }), request(b, { path: PATH }), request(a, { path: PATH }), request(b, { path: PATH })].map((ex) => ex.reply === undefined);
    expect(admitted).toEqual([true, true, true, false, false]);
    expect(counter(a, 'circuit_breaker_transitions_total', { service: 'credit-bureau', state: 'half_open' })).toBe(1);
  });

  it('the bulkhead counts requests in flight on both workers', async () => {
    const [a, b] = await filterWorkers(2, wasm, 'circuit-breaker', { services: [{ name: 'docs', max_concurrent_requests: 3 }] });
    const held = [request(a, { path: '/x' }), request(b, { path: '/x' }), request(a, { path: '/x' })];
    expect(held.every((ex) => ex.reply === undefined)).toBe(true);
    expect(header(request(b, { path: '/x' }).reply?.headers, 'x-circuit-breaker')).toBe('bulkhead');
    held[0].respond(200);
    expect(request(b, { path: '/x' }).reply).toBeUndefined();
  });
});

describe('CAS races on the circuit record, interleaved', () => {
  it("a failure completed while another worker's failure was being written still counts: the third failure opens the circuit", async () => {
    const [a, b] = await filterWorkers(2, wasm, 'circuit-breaker', CONFIG);
    exchange(a, { path: PATH }, 503); // 1 consecutive failure
    const [exA, exB] = [request(a, { path: PATH }), request(b, { path: PATH })];
    // a reads 1 failure and would write 2; b's whole completion (1 -> 2) lands first.
    a.beforeNextHostcall('proxy_set_shared_data', () => exB.respond(503));
    exA.respond(503);
    expect(opened(a)).toBe(1);
    expect(exchange(b, { path: PATH }, 200).reply?.status).toBe(503);
    expect(header(exchange(a, { path: PATH }, 200).reply?.headers, 'x-circuit-breaker')).toBe('open');
  });

  it('HALF_OPEN admits exactly half_open_requests probes when four workers admit on stale reads', async () => {
    const ws = await filterWorkers(4, wasm, 'circuit-breaker', CONFIG);
    for (let i = 0; i < 3; i++) exchange(ws[0], { path: PATH }, 503);
    ws[0].advanceClock(60_000);
    // Worker i's admission write first runs worker i+1's admission: all four read OPEN.
    const exchanges: Exchange[] = [];
    for (let i = 0; i + 1 < ws.length; i++) ws[i].beforeNextHostcall('proxy_set_shared_data', () => void (exchanges[i + 1] = request(ws[i + 1], { path: PATH })));
    exchanges[0] = request(ws[0], { path: PATH });
    // The last worker wrote first (OPEN -> HALF_OPEN, probe 1); the others stepped again on what it wrote.
    expect(exchanges.map((ex) => ex.reply === undefined)).toEqual([false, true, true, true]);
    expect(exchanges[0].reply?.status).toBe(503);
    expect(counter(ws[0], 'circuit_breaker_transitions_total', { service: 'credit-bureau', state: 'half_open' })).toBe(1);
  });
});
