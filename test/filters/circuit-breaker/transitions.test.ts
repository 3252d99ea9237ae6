/**
 * circuit-breaker on the emulator with a fake clock: every transition, each trigger,
 * the open response, metrics and logs (build/circuit-breaker.wasm).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { LogLevel } from '../../../harness/host/abi.ts';
import { FilterHeadersStatus } from '../../../harness/host/filter.ts';
import { counter, exchange, filterEmulator, header, hostcallLog, request, testModule } from '../../../harness/host/testing.ts';
import { CREDIT_BUREAU, gaugedState, sharedState } from './harness.ts';

let wasm = '';
beforeAll(async () => {
  wasm = await testModule('circuit-breaker');
}, 180_000);

const PATH = '/api/credit-bureau/report';

describe('CLOSED → OPEN after failure_threshold consecutive failures (the seeds: credit bureau, 3)', () => {
  it('opens on the third failure in a row, answers with the open response, and nothing goes upstream', async () => {
    const emu = await filterEmulator(wasm, 'circuit-breaker', { services: [CREDIT_BUREAU] });
    exchange(emu, { path: PATH }, 503);
    exchange(emu, { path: PATH }, 500);
    exchange(emu, { path: PATH }, 200); // a success resets the count
    exchange(emu, { path: PATH }, 502);
    exchange(emu, { path: PATH }, 504);
    expect(gaugedState(emu, 'credit-bureau')).toBe('closed');
    expect(emu.getLogs(LogLevel.Warn)).toEqual([]);
    exchange(emu, { path: PATH }, 503);
    expect(sharedState(emu, 'credit-bureau')).toBe(1);
    expect(gaugedState(emu, 'credit-bureau')).toBe('open');
    expect(counter(emu, 'circuit_breaker_transitions_total', { service: 'credit-bureau', state: 'open' })).toBe(1);
    expect(emu.getLogs(LogLevel.Warn)).toEqual(['circuit-breaker: credit-bureau: CLOSED -> OPEN: 3 consecutive failures; open for 60s']);

    const id = emu.initializeHttpContext();
    const action = emu.callOnRequestHeaders(id, { ':method': 'GET', ':path': PATH, ':authority': 'a' }, true);
    expect(action).toBe(FilterHeadersStatus.StopAllIterationAndWatermark);
    const reply = emu.getSentLocalResponse(id)!;
    expect(reply.status).toBe(503);
    expect(reply.details).toBe('circuit_breaker_open');
    expect(Buffer.from(reply.body).toString()).toBe('{"error":"circuit_open"}');
    expect(reply.headers).toEqual([
      ['content-type', 'application/json'],
      ['x-circuit-breaker', 'open'],
      ['retry-after', '60'],
    ]);
    emu.completeHttpContext(id);
    expect(counter(emu, 'circuit_breaker_requests_total', { service: 'credit-bureau', outcome: 'rejected_open' })).toBe(1);
    // its own local reply passed through onResponseHeaders: not counted as a failure
    expect(counter(emu, 'circuit_breaker_transitions_total', { service: 'credit-bureau', state: 'open' })).toBe(1); // opened once, never again
  });

  it('retry-after counts down in whole seconds, rounded up', async () => {
    const emu = await filterEmulator(wasm, 'circuit-breaker', { services: [CREDIT_BUREAU] });
    for (let i = 0; i < 3; i++) exchange(emu, { path: PATH }, 503);
    emu.advanceClock(20_400);
    expect(header(exchange(emu, { path: PATH }, 200).reply?.headers, 'retry-after')).toBe('40');
    emu.advanceClock(39_000);
    expect(header(exchange(emu, { path: PATH }, 200).reply?.headers, 'retry-after')).toBe('1');
  });

  it("counts Envoy's own 503 and 504 local replies, not statuses outside failure_status", async () => {
    const emu = await filterEmulator(wasm, 'circuit-breaker', { services: [{ ...CREDIT_BUREAU, failure_status: [503, 504] }] });
    for (let i = 0; i < 5; i++) exchange(emu, { path: PATH }, 500);
    exchange(emu, { path: PATH }, 404);
    expect(sharedState(emu, 'credit-bureau')).toBe(0);
    exchange(emu, { path: PATH }, 503);
    exchange(emu, { path: PATH }, 504);
    exchange(emu, { path: PATH }, 504);
    expect(sharedState(emu, 'credit-bureau')).toBe(1);
  });

  it('judges gRPC responses by grpc-status mapped as Envoy maps it (UNAVAILABLE 503, DEADLINE_EXCEEDED 504, NOT_FOUND 404)', async () => {
    const emu = await filterEmulator(wasm, 'circuit-breaker', { services: [{ ...CREDIT_BUREAU, failure_status: [503, 504] }] });
    const grpc = { 'content-type': 'application/grpc' };
    const answer = (trailersOnly: boolean, code: number, contentType = 'application/grpc'): void => {
      const ex = request(emu, { path: PATH, headers: grpc });
      if (trailersOnly) {
        emu.callOnResponseHeaders(ex.id, { ':status': '200', 'content-type': contentType, 'grpc-status': String(code) }, true);
      } else {
        emu.callOnResponseHeaders(ex.id, { ':status': '200', 'content-type': contentType }, false);
        emu.callOnResponseTrailers(ex.id, { 'grpc-status': String(code), 'grpc-message': 'x' });
      }
      ex.complete();
    };
    answer(true, 14); // UNAVAILABLE, trailers-only: 503, a failure
    answer(false, 4); // DEADLINE_EXCEEDED in trailers: 504, a failure
    answer(false, 0); // OK: success resets the consecutive count
    expect(sharedState(emu, 'credit-bureau')).toBe(0);
    answer(false, 5); // NOT_FOUND: 404, not in failure_status
    answer(true, 14, 'application/grpc+proto');
    answer(false, 14);
    expect(sharedState(emu, 'credit-bureau')).toBe(0);
    answer(false, 4);
    expect(sharedState(emu, 'credit-bureau')).toBe(1);
  });

  it('does not count requests the client cancelled (no response at log time)', async () => {
    const emu = await filterEmulator(wasm, 'circuit-breaker', { services: [{ ...CREDIT_BUREAU, failure_threshold: 1 }] });
    for (let i = 0; i < 10; i++) request(emu, { path: PATH }).complete();
    expect(sharedState(emu, 'credit-bureau')).toBe(0);
    exchange(emu, { path: PATH }, 503);
    expect(sharedState(emu, 'credit-bureau')).toBe(1);
  });

  it('leaves requests of no service alone', async () => {
    const emu = await filterEmulator(wasm, 'circuit-breaker', { services: [{ ...CREDIT_BUREAU, failure_threshold: 1 }] });
    for (let i = 0; i < 5; i++) exchange(emu, { path: '/api/banking/x' }, 503);
    expect(sharedState(emu, 'credit-bureau')).toBe(0);
    const ex = exchange(emu, { path: '/api/banking/x' }, 200);
    expect(ex.reply).toBeUndefined();
    expect(ex.requestHeader('x-envoy-upstream-rq-timeout-ms')).toBeUndefined();
  });
});

describe('OPEN → HALF_OPEN → CLOSED | OPEN', () => {
  async function opened(extra: Record<string, unknown> = {}) {
    const emu = await filterEmulator(wasm, 'circuit-breaker', { services: [{ ...CREDIT_BUREAU, ...extra }] });
    for (let i = 0; i < 3; i++) exchange(emu, { path: PATH }, 503);
    expect(sharedState(emu, 'credit-bureau')).toBe(1);
    emu.clearLogs();
    return emu;
  }

  it('stays OPEN until open_duration has passed; then the next request finds HALF_OPEN', async () => {
    const emu = await opened();
    emu.advanceClock(59_999);
    expect(exchange(emu, { path: PATH }, 200).reply?.status).toBe(503);
    emu.advanceClock(1);
    const probe = request(emu, { path: PATH });
    expect(probe.reply).toBeUndefined();
    expect(sharedState(emu, 'credit-bureau')).toBe(2);
    expect(gaugedState(emu, 'credit-bureau')).toBe('half_open');
    expect(counter(emu, 'circuit_breaker_transitions_total', { service: 'credit-bureau', state: 'half_open' })).toBe(1);
    expect(emu.getLogs(LogLevel.Info)).toContain('circuit-breaker: credit-bureau: OPEN -> HALF_OPEN: open_duration 60s elapsed; up to 3 probes');
    probe.respond(200);
  });

  it('admits half_open_requests probes at a time; others get the open response with retry-after 1', async () => {
    const emu = await opened();
    emu.advanceClock(60_000);
    const probes = [request(emu, { path: PATH }), request(emu, { path: PATH }), request(emu, { path: PATH })];
    expect(probes.map((p) => p.reply)).toEqual([undefined, undefined, undefined]);
    const fourth = request(emu, { path: PATH });
    expect(fourth.reply?.status).toBe(503);
    expect(header(fourth.reply?.headers, 'x-circuit-breaker')).toBe('open');
    expect(header(fourth.reply?.headers, 'retry-after')).toBe('1');
    // a cancelled probe frees its slot without deciding anything
    probes[0].complete();
    expect(sharedState(emu, 'credit-bureau')).toBe(2);
    expect(request(emu, { path: PATH }).reply).toBeUndefined();
  });

  it('closes after success_threshold successful probes, counters reset', async () => {
    const emu = await opened();
    emu.advanceClock(60_000);
    const probes = [request(emu, { path: PATH }), request(emu, { path: PATH }), request(emu, { path: PATH })];
    probes[0].respond(200);
    probes[1].respond(201);
    expect(sharedState(emu, 'credit-bureau')).toBe(2);
    probes[2].respond(204);
    expect(sharedState(emu, 'credit-bureau')).toBe(0);
    expect(gaugedState(emu, 'credit-bureau')).toBe('closed');
    expect(counter(emu, 'circuit_breaker_transitions_total', { service: 'credit-bureau', state: 'closed' })).toBe(1);
    expect(emu.getLogs(LogLevel.Info)).toContain('circuit-breaker: credit-bureau: HALF_OPEN -> CLOSED: 3 probes succeeded');
    // a fresh count: two failures do not reopen it
    exchange(emu, { path: PATH }, 503);
    exchange(emu, { path: PATH }, 503);
    expect(sharedState(emu, 'credit-bureau')).toBe(0);
  });

  it('any failed probe opens it again for a full open_duration', async () => {
    const emu = await opened();
    emu.advanceClock(60_000);
    exchange(emu, { path: PATH }, 200);
    exchange(emu, { path: PATH }, 503);
    expect(sharedState(emu, 'credit-bureau')).toBe(1);
    expect(counter(emu, 'circuit_breaker_transitions_total', { service: 'credit-bureau', state: 'open' })).toBe(2); // from CLOSED, then from HALF_OPEN
    expect(emu.getLogs(LogLevel.Warn)).toEqual(['circuit-breaker: credit-bureau: HALF_OPEN -> OPEN: a probe failed; open for 60s']);
    expect(header(exchange(emu, { path: PATH }, 200).reply?.headers, 'retry-after')).toBe('60');
  });

  it('starts HALF_OPEN over when its probes are lost (no probe starts or ends for open_duration)', async () => {
    const emu = await opened({ half_open_requests: 1, success_threshold: 1 });
    emu.advanceClock(60_000);
    const lost = request(emu, { path: PATH }); // never completes (as if its worker died)
    emu.advanceClock(30_000);
    expect(request(emu, { path: PATH }).reply?.status).toBe(503);
    emu.advanceClock(30_000);
    const probe = request(emu, { path: PATH });
    expect(probe.reply).toBeUndefined();
    expect(counter(emu, 'circuit_breaker_transitions_total', { service: 'credit-bureau', state: 'half_open' })).toBe(2); // from OPEN, then started over
    probe.respond(200);
    expect(sharedState(emu, 'credit-bureau')).toBe(0);
    lost.respond(503); // a late answer of the lost probe decides nothing
    expect(sharedState(emu, 'credit-bureau')).toBe(0);
  });
});

describe('failure rate and slow-call rate over the sliding window', () => {
  const RATE = { name: 'banking', match: { prefix: '/api/banking' }, failure_threshold: 0, failure_rate_threshold: 50, minimum_requests: 10, window: '10s' };

  it('needs minimum_requests calls in the window, then opens at the rate', async () => {
    const emu = await filterEmulator(wasm, 'circuit-breaker', { services: [RATE] });
    for (let i = 0; i < 5; i++) exchange(emu, { path: '/api/banking/a' }, 503);
    for (let i = 0; i < 4; i++) exchange(emu, { path: '/api/banking/a' }, 200);
    expect(sharedState(emu, 'banking')).toBe(0);
    exchange(emu, { path: '/api/banking/a' }, 200);
    expect(sharedState(emu, 'banking')).toBe(1);
    expect(emu.getLogs(LogLevel.Warn)).toEqual(['circuit-breaker: banking: CLOSED -> OPEN: failure rate 50% of 10 calls in 10s reached 50%; open for 60s']);
  });

  it('logs a fractional threshold and window as configured (formatNumber: up to 9 decimals)', async () => {
    const emu = await filterEmulator(wasm, 'circuit-breaker', { services: [{ ...RATE, failure_rate_threshold: 33.25, minimum_requests: 3, window: '1.5s' }] });
    exchange(emu, { path: '/api/banking/a' }, 200);
    exchange(emu, { path: '/api/banking/a' }, 200);
    exchange(emu, { path: '/api/banking/a' }, 503);
    expect(sharedState(emu, 'banking')).toBe(1);
    expect(emu.getLogs(LogLevel.Warn)).toEqual(['circuit-breaker: banking: CLOSED -> OPEN: failure rate 33.3% of 3 calls in 1.5s reached 33.25%; open for 60s']);
  });

  it('forgets calls that slid out of the window', async () => {
    const emu = await filterEmulator(wasm, 'circuit-breaker', { services: [RATE] });
    for (let i = 0; i < 9; i++) exchange(emu, { path: '/api/banking/a' }, 503);
    emu.advanceClock(10_000);
    exchange(emu, { path: '/api/banking/a' }, 503);
    for (let i = 0; i < 9; i++) exchange(emu, { path: '/api/banking/a' }, 200);
    expect(sharedState(emu, 'banking')).toBe(0); // 1 of 10 now
    emu.advanceClock(5_000);
    for (let i = 0; i < 9; i++) exchange(emu, { path: '/api/banking/a' }, 503);
    expect(sharedState(emu, 'banking')).toBe(1); // 10 of 19 within 10 s
  });

  it('opens on slow calls: response headers later than slow_call_duration', async () => {
    const emu = await filterEmulator(wasm, 'circuit-breaker', {
      services: [{ name: 'banking', match: { prefix: '/api/banking' }, failure_threshold: 0, slow_call_rate_threshold: 50, slow_call_duration: '2s', minimum_requests: 4 }],
    });
    const slowCall = (ms: number) => {
      const ex = request(emu, { path: '/api/banking/a' });
      emu.advanceClock(ms);
      ex.respond(200);
    };
    slowCall(2000); // not later than 2 s
    slowCall(2001);
    slowCall(100);
    expect(sharedState(emu, 'banking')).toBe(0);
    slowCall(5000);
    expect(sharedState(emu, 'banking')).toBe(1); // 2 of 4
    expect(emu.getLogs(LogLevel.Warn)).toEqual(['circuit-breaker: banking: CLOSED -> OPEN: slow-call rate 50% of 4 calls in 10s reached 50%; open for 60s']);
  });
});

describe('bulkhead', () => {
  it('rejects requests beyond max_concurrent_requests in flight with x-circuit-breaker: bulkhead', async () => {
    const emu = await filterEmulator(wasm, 'circuit-breaker', { services: [{ name: 'docs', match: { prefix: '/api/documents' }, max_concurrent_requests: 2 }] });
    const a = request(emu, { path: '/api/documents/1' });
    const b = request(emu, { path: '/api/documents/2' });
    const c = request(emu, { path: '/api/documents/3' });
    expect([a.reply, b.reply]).toEqual([undefined, undefined]);
    expect(c.reply?.status).toBe(503);
    expect(c.reply?.details).toBe('circuit_breaker_bulkhead');
    expect(c.reply?.headers).toEqual([['content-type', 'application/json'], ['x-circuit-breaker', 'bulkhead']]);
    expect(counter(emu, 'circuit_breaker_requests_total', { service: 'docs', outcome: 'rejected_bulkhead' })).toBe(1);
    a.respond(200);
    expect(request(emu, { path: '/api/documents/4' }).reply).toBeUndefined();
    b.complete(); // cancelled: the slot is freed too
    expect(request(emu, { path: '/api/documents/5' }).reply).toBeUndefined();
    expect(request(emu, { path: '/api/documents/6' }).reply?.status).toBe(503);
  });
});

describe('request headers', () => {
  it('sets x-envoy-upstream-rq-timeout-ms from timeout unless the request has one', async () => {
    const emu = await filterEmulator(wasm, 'circuit-breaker', { services: [CREDIT_BUREAU] });
    expect(header(exchange(emu, { path: PATH }, 200).requestHeaders, 'x-envoy-upstream-rq-timeout-ms')).toBe('10000');
    const own = exchange(emu, { path: PATH, headers: { 'x-envoy-upstream-rq-timeout-ms': '2500' } }, 200);
    expect(own.requestHeaders.filter(([k]) => k === 'x-envoy-upstream-rq-timeout-ms')).toEqual([['x-envoy-upstream-rq-timeout-ms', '2500']]);
  });

  it('OPEN with a fail-over filter state: sets it, clears the route cache, replies nothing; the response says so', async () => {
    const log = hostcallLog();
    const emu = await filterEmulator(wasm, 'circuit-breaker', {
      services: [{ ...CREDIT_BUREAU, open_action: { fallback_filter_state: { key: 'wasm.circuit_breaker.fallback', value: 'credit-bureau' } } }],
    }, { onHostcall: log.onHostcall });
    for (let i = 0; i < 3; i++) exchange(emu, { path: PATH }, 503);
    log.clear();
    const ex = request(emu, { path: PATH, headers: { 'x-circuit-breaker': 'forged' } });
    expect(ex.reply).toBeUndefined();
    // Envoy stores proxy_set_property("circuit_breaker.fallback") as filter state wasm.circuit_breaker.fallback
    expect(log.calls.filter((c) => c.name === 'proxy_set_property')).toEqual([{ name: 'proxy_set_property', path: 'circuit_breaker.fallback', value: 'credit-bureau' }]);
    expect(emu.getRouteCacheClears(ex.id)).toBeGreaterThan(0);
    expect(ex.requestHeader('x-circuit-breaker')).toBeUndefined();
    emu.callOnResponseHeaders(ex.id, { ':status': '503' }, true);
    expect(header(emu.getCurrentResponseHeaders(ex.id), 'x-circuit-breaker')).toBe('fallback');
    ex.complete();
    expect(counter(emu, 'circuit_breaker_requests_total', { service: 'credit-bureau', outcome: 'fallback' })).toBe(1);
    // the fail-over's failures do not count against the primary
    emu.advanceClock(60_000);
    log.clear();
    exchange(emu, { path: PATH }, 200);
    expect(log.count('proxy_set_property')).toBe(0);
    expect(sharedState(emu, 'credit-bureau')).toBe(2);
  });

  it('changes no request header a client sent, so the route Envoy resolved stays the one admission saw', async () => {
    const emu = await filterEmulator(wasm, 'circuit-breaker', {
      open_action: { fallback_filter_state: { key: 'wasm.circuit_breaker.fallback', value: '1' } },
      services: [{ ...CREDIT_BUREAU, timeout: undefined }],
    });
    const forged = { 'x-fallback': '1', 'X-Circuit-Breaker': 'fallback' };
    const ex = exchange(emu, { path: PATH, headers: forged }, 200);
    expect(emu.getRouteCacheClears(ex.id)).toBe(0);
    expect(ex.requestHeader('x-fallback')).toBe('1');
  });
});

describe('service selection', () => {
  it('by the cluster the route picked (xds.cluster_name); first service that holds wins', async () => {
    const emu = await filterEmulator(wasm, 'circuit-breaker', {
      services: [
        { name: 'banking-writes', cluster: 'banking', match: { methods: ['POST'] }, failure_threshold: 1 },
        { name: 'banking', cluster: 'banking', failure_threshold: 2 },
        { name: 'other', failure_threshold: 1, match: { prefix: '/nothing' } },
      ],
    });
    const banking = { clusterName: 'banking', routeName: 'banking' };
    exchange(emu, { path: '/api/transactions', headers: { ':method': 'POST' }, info: banking }, 503);
    expect(sharedState(emu, 'banking-writes')).toBe(1);
    exchange(emu, { path: '/api/banking/x', info: banking }, 503);
    expect(sharedState(emu, 'banking')).toBe(0);
    exchange(emu, { path: '/api/banking/y', info: { clusterName: 'echo', routeName: 'default' } }, 503);
    expect(sharedState(emu, 'banking')).toBe(0);
    exchange(emu, { path: '/api/banking/z', info: banking }, 503);
    expect(sharedState(emu, 'banking')).toBe(1);
    expect(exchange(emu, { path: '/api/banking/z', info: banking }, 200).reply?.status).toBe(503);
    expect(exchange(emu, { path: '/api/banking/z', info: { clusterName: 'echo', routeName: 'x' } }, 200).reply).toBeUndefined();
  });

  it('keeps each service its own circuit', async () => {
    const emu = await filterEmulator(wasm, 'circuit-breaker', {
      services: [CREDIT_BUREAU, { name: 'banking', match: { prefix: '/api/banking' }, failure_threshold: 5, open_duration: '30s' }],
    });
    for (let i = 0; i < 3; i++) exchange(emu, { path: PATH }, 503);
    expect(exchange(emu, { path: PATH }, 200).reply?.status).toBe(503);
    expect(exchange(emu, { path: '/api/banking/a' }, 200).reply).toBeUndefined();
    expect(gaugedState(emu, 'banking')).toBe('closed');
    expect(gaugedState(emu, 'credit-bureau')).toBe('open');
  });
});
