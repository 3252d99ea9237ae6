/**
 * circuit-breaker on the emulator with a fake clock: every transition, each trigger,
 * the open response, metrics and logs (build/circuit-breaker.wasm).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { LogLevel } from '../../../harness/host/abi.ts';
import { FilterHeadersStatus } from '../../../harness/host/filter.ts';
import { CREDIT_BUREAU, breaker, buildBreaker, call, finish, header, hostcallLog, sharedState, start, gaugedState, requestsCounter, transitionsCounter } from './harness.ts';

let wasm = '';
beforeAll(async () => {
  wasm = await buildBreaker();
}, 180_000);

const PATH = '/api/credit-bureau/report';

describe('CLOSED → OPEN after failure_threshold consecutive failures (the seeds: credit bureau, 3)', () => {
  it('opens on the third failure in a row, answers with the open response, and nothing goes upstream', async () => {
    const emu = await breaker(wasm, { services: [CREDIT_BUREAU] });
    call(emu, PATH, 503);
    call(emu, PATH, 500);
    call(emu, PATH, 200); // a success resets the count
    call(emu, PATH, 502);
    call(emu, PATH, 504);
    expect(gaugedState(emu, 'credit-bureau')).toBe('closed');
    expect(emu.getLogs(LogLevel.Warn)).toEqual([]);
    call(emu, PATH, 503);
    expect(sharedState(emu, 'credit-bureau')).toBe(1);
    expect(gaugedState(emu, 'credit-bureau')).toBe('open');
    expect(emu.getCounterValue(transitionsCounter('credit-bureau', 'open'))).toBe(1n);
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
    expect(emu.getCounterValue(requestsCounter('credit-bureau', 'rejected_open'))).toBe(1n);
    // its own local reply passed through onResponseHeaders: not counted as a failure
    expect(emu.getCounterValue(transitionsCounter('credit-bureau', 'open'))).toBe(1n); // opened once, never again
  });

  it('retry-after counts down in whole seconds, rounded up', async () => {
    const emu = await breaker(wasm, { services: [CREDIT_BUREAU] });
    for (let i = 0; i < 3; i++) call(emu, PATH, 503);
    emu.advanceClock(20_400);
    expect(header(call(emu, PATH, 200).reply?.headers, 'retry-after')).toBe('40');
    emu.advanceClock(39_000);
    expect(header(call(emu, PATH, 200).reply?.headers, 'retry-after')).toBe('1');
  });

  it("counts Envoy's own 503 and 504 local replies, not statuses outside failure_status", async () => {
    const emu = await breaker(wasm, { services: [{ ...CREDIT_BUREAU, failure_status: [503, 504] }] });
    for (let i = 0; i < 5; i++) call(emu, PATH, 500);
    call(emu, PATH, 404);
    expect(sharedState(emu, 'credit-bureau')).toBe(0);
    call(emu, PATH, 503);
    call(emu, PATH, 504);
    call(emu, PATH, 504);
    expect(sharedState(emu, 'credit-bureau')).toBe(1);
  });

  it('judges gRPC responses by grpc-status mapped as Envoy maps it (UNAVAILABLE 503, DEADLINE_EXCEEDED 504, NOT_FOUND 404)', async () => {
    const emu = await breaker(wasm, { services: [{ ...CREDIT_BUREAU, failure_status: [503, 504] }] });
    const grpc = { 'content-type': 'application/grpc' };
    const answer = (trailersOnly: boolean, code: number, contentType = 'application/grpc'): void => {
      const ex = start(emu, PATH, grpc);
      if (trailersOnly) {
        emu.callOnResponseHeaders(ex.id, { ':status': '200', 'content-type': contentType, 'grpc-status': String(code) }, true);
      } else {
        emu.callOnResponseHeaders(ex.id, { ':status': '200', 'content-type': contentType }, false);
        emu.callOnResponseTrailers(ex.id, { 'grpc-status': String(code), 'grpc-message': 'x' });
      }
      emu.completeHttpContext(ex.id);
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
    const emu = await breaker(wasm, { services: [{ ...CREDIT_BUREAU, failure_threshold: 1 }] });
    for (let i = 0; i < 10; i++) emu.completeHttpContext(start(emu, PATH).id);
    expect(sharedState(emu, 'credit-bureau')).toBe(0);
    call(emu, PATH, 503);
    expect(sharedState(emu, 'credit-bureau')).toBe(1);
  });

  it('leaves requests of no service alone', async () => {
    const emu = await breaker(wasm, { services: [{ ...CREDIT_BUREAU, failure_threshold: 1 }] });
    for (let i = 0; i < 5; i++) call(emu, '/api/banking/x', 503);
    expect(sharedState(emu, 'credit-bureau')).toBe(0);
    const ex = call(emu, '/api/banking/x', 200);
    expect(ex.reply).toBeUndefined();
    expect(header(ex.upstreamHeaders, 'x-envoy-upstream-rq-timeout-ms')).toBeUndefined();
  });
});

describe('OPEN → HALF_OPEN → CLOSED | OPEN', () => {
  async function opened(extra: Record<string, unknown> = {}) {
    const emu = await breaker(wasm, { services: [{ ...CREDIT_BUREAU, ...extra }] });
    for (let i = 0; i < 3; i++) call(emu, PATH, 503);
    expect(sharedState(emu, 'credit-bureau')).toBe(1);
    emu.clearLogs();
    return emu;
  }

  it('stays OPEN until open_duration has passed; then the next request finds HALF_OPEN', async () => {
    const emu = await opened();
    emu.advanceClock(59_999);
    expect(call(emu, PATH, 200).reply?.status).toBe(503);
    emu.advanceClock(1);
    const probe = start(emu, PATH);
    expect(probe.reply).toBeUndefined();
    expect(sharedState(emu, 'credit-bureau')).toBe(2);
    expect(gaugedState(emu, 'credit-bureau')).toBe('half_open');
    expect(emu.getCounterValue(transitionsCounter('credit-bureau', 'half_open'))).toBe(1n);
    expect(emu.getLogs(LogLevel.Info)).toContain('circuit-breaker: credit-bureau: OPEN -> HALF_OPEN: open_duration 60s elapsed; up to 3 probes');
    finish(emu, probe, 200);
  });

  it('admits half_open_requests probes at a time; others get the open response with retry-after 1', async () => {
    const emu = await opened();
    emu.advanceClock(60_000);
    const probes = [start(emu, PATH), start(emu, PATH), start(emu, PATH)];
    expect(probes.map((p) => p.reply)).toEqual([undefined, undefined, undefined]);
    const fourth = start(emu, PATH);
    expect(fourth.reply?.status).toBe(503);
    expect(header(fourth.reply?.headers, 'x-circuit-breaker')).toBe('open');
    expect(header(fourth.reply?.headers, 'retry-after')).toBe('1');
    // a cancelled probe frees its slot without deciding anything
    emu.completeHttpContext(probes[0].id);
    expect(sharedState(emu, 'credit-bureau')).toBe(2);
    expect(start(emu, PATH).reply).toBeUndefined();
  });

  it('closes after success_threshold successful probes, counters reset', async () => {
    const emu = await opened();
    emu.advanceClock(60_000);
    const probes = [start(emu, PATH), start(emu, PATH), start(emu, PATH)];
    finish(emu, probes[0], 200);
    finish(emu, probes[1], 201);
    expect(sharedState(emu, 'credit-bureau')).toBe(2);
    finish(emu, probes[2], 204);
    expect(sharedState(emu, 'credit-bureau')).toBe(0);
    expect(gaugedState(emu, 'credit-bureau')).toBe('closed');
    expect(emu.getCounterValue(transitionsCounter('credit-bureau', 'closed'))).toBe(1n);
    expect(emu.getLogs(LogLevel.Info)).toContain('circuit-breaker: credit-bureau: HALF_OPEN -> CLOSED: 3 probes succeeded');
    // a fresh count: two failures do not reopen it
    call(emu, PATH, 503);
    call(emu, PATH, 503);
    expect(sharedState(emu, 'credit-bureau')).toBe(0);
  });

  it('any failed probe opens it again for a full open_duration', async () => {
    const emu = await opened();
    emu.advanceClock(60_000);
    call(emu, PATH, 200);
    call(emu, PATH, 503);
    expect(sharedState(emu, 'credit-bureau')).toBe(1);
    expect(emu.getCounterValue(transitionsCounter('credit-bureau', 'open'))).toBe(2n); // from CLOSED, then from HALF_OPEN
    expect(emu.getLogs(LogLevel.Warn)).toEqual(['circuit-breaker: credit-bureau: HALF_OPEN -> OPEN: a probe failed; open for 60s']);
    expect(header(call(emu, PATH, 200).reply?.headers, 'retry-after')).toBe('60');
  });

  it('starts HALF_OPEN over when its probes are lost (no probe starts or ends for open_duration)', async () => {
    const emu = await opened({ half_open_requests: 1, success_threshold: 1 });
    emu.advanceClock(60_000);
    const lost = start(emu, PATH); // never completes (as if its worker died)
    emu.advanceClock(30_000);
    expect(start(emu, PATH).reply?.status).toBe(503);
    emu.advanceClock(30_000);
    const probe = start(emu, PATH);
    expect(probe.reply).toBeUndefined();
    expect(emu.getCounterValue(transitionsCounter('credit-bureau', 'half_open'))).toBe(2n); // from OPEN, then started over
    finish(emu, probe, 200);
    expect(sharedState(emu, 'credit-bureau')).toBe(0);
    finish(emu, lost, 503); // a late answer of the lost probe decides nothing
    expect(sharedState(emu, 'credit-bureau')).toBe(0);
  });
});

describe('failure rate and slow-call rate over the sliding window', () => {
  const RATE = { name: 'banking', match: { prefix: '/api/banking' }, failure_threshold: 0, failure_rate_threshold: 50, minimum_requests: 10, window: '10s' };

  it('needs minimum_requests calls in the window, then opens at the rate', async () => {
    const emu = await breaker(wasm, { services: [RATE] });
    for (let i = 0; i < 5; i++) call(emu, '/api/banking/a', 503);
    for (let i = 0; i < 4; i++) call(emu, '/api/banking/a', 200);
    expect(sharedState(emu, 'banking')).toBe(0);
    call(emu, '/api/banking/a', 200);
    expect(sharedState(emu, 'banking')).toBe(1);
    expect(emu.getLogs(LogLevel.Warn)).toEqual(['circuit-breaker: banking: CLOSED -> OPEN: failure rate 50% of 10 calls in 10s reached 50%; open for 60s']);
  });

  it('logs a fractional threshold and window as configured (formatNumber: up to 9 decimals)', async () => {
    const emu = await breaker(wasm, { services: [{ ...RATE, failure_rate_threshold: 33.25, minimum_requests: 3, window: '1.5s' }] });
    call(emu, '/api/banking/a', 200);
    call(emu, '/api/banking/a', 200);
    call(emu, '/api/banking/a', 503);
    expect(sharedState(emu, 'banking')).toBe(1);
    expect(emu.getLogs(LogLevel.Warn)).toEqual(['circuit-breaker: banking: CLOSED -> OPEN: failure rate 33.3% of 3 calls in 1.5s reached 33.25%; open for 60s']);
  });

  it('forgets calls that slid out of the window', async () => {
    const emu = await breaker(wasm, { services: [RATE] });
    for (let i = 0; i < 9; i++) call(emu, '/api/banking/a', 503);
    emu.advanceClock(10_000);
    call(emu, '/api/banking/a', 503);
    for (let i = 0; i < 9; i++) call(emu, '/api/banking/a', 200);
    expect(sharedState(emu, 'banking')).toBe(0); // 1 of 10 now
    emu.advanceClock(5_000);
    for (let i = 0; i < 9; i++) call(emu, '/api/banking/a', 503);
    expect(sharedState(emu, 'banking')).toBe(1); // 10 of 19 within 10 s
  });

  it('opens on slow calls: response headers later than slow_call_duration', async () => {
    const emu = await breaker(wasm, {
      services: [{ name: 'banking', match: { prefix: '/api/banking' }, failure_threshold: 0, slow_call_rate_threshold: 50, slow_call_duration: '2s', minimum_requests: 4 }],
    });
    const slowCall = (ms: number) => {
      const ex = start(emu, '/api/banking/a');
      emu.advanceClock(ms);
      finish(emu, ex, 200);
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
    const emu = await breaker(wasm, { services: [{ name: 'docs', match: { prefix: '/api/documents' }, max_concurrent_requests: 2 }] });
    const a = start(emu, '/api/documents/1');
    const b = start(emu, '/api/documents/2');
    const c = start(emu, '/api/documents/3');
    expect([a.reply, b.reply]).toEqual([undefined, undefined]);
    expect(c.reply?.status).toBe(503);
    expect(c.reply?.details).toBe('circuit_breaker_bulkhead');
    expect(c.reply?.headers).toEqual([['content-type', 'application/json'], ['x-circuit-breaker', 'bulkhead']]);
    expect(emu.getCounterValue(requestsCounter('docs', 'rejected_bulkhead'))).toBe(1n);
    finish(emu, a, 200);
    expect(start(emu, '/api/documents/4').reply).toBeUndefined();
    emu.completeHttpContext(b.id); // cancelled: the slot is freed too
    expect(start(emu, '/api/documents/5').reply).toBeUndefined();
    expect(start(emu, '/api/documents/6').reply?.status).toBe(503);
  });
});

describe('request headers', () => {
  it('sets x-envoy-upstream-rq-timeout-ms from timeout unless the request has one', async () => {
    const emu = await breaker(wasm, { services: [CREDIT_BUREAU] });
    expect(header(call(emu, PATH, 200).upstreamHeaders, 'x-envoy-upstream-rq-timeout-ms')).toBe('10000');
    const own = call(emu, PATH, 200, { 'x-envoy-upstream-rq-timeout-ms': '2500' });
    expect(own.upstreamHeaders.filter(([k]) => k === 'x-envoy-upstream-rq-timeout-ms')).toEqual([['x-envoy-upstream-rq-timeout-ms', '2500']]);
  });

  it('OPEN with a fail-over filter state: sets it, clears the route cache, replies nothing; the response says so', async () => {
    const log = hostcallLog();
    const emu = await breaker(wasm, {
      services: [{ ...CREDIT_BUREAU, open_action: { fallback_filter_state: { key: 'wasm.circuit_breaker.fallback', value: 'credit-bureau' } } }],
    }, { onHostcall: log.onHostcall });
    for (let i = 0; i < 3; i++) call(emu, PATH, 503);
    log.clear();
    const ex = start(emu, PATH, { 'x-circuit-breaker': 'forged' });
    expect(ex.reply).toBeUndefined();
    // Envoy stores proxy_set_property("circuit_breaker.fallback") as filter state wasm.circuit_breaker.fallback
    expect(log.calls.filter((c) => c.name === 'proxy_set_property')).toEqual([{ name: 'proxy_set_property', path: 'circuit_breaker.fallback', value: 'credit-bureau' }]);
    expect(emu.getRouteCacheClears(ex.id)).toBeGreaterThan(0);
    expect(header(ex.upstreamHeaders, 'x-circuit-breaker')).toBeUndefined();
    emu.callOnResponseHeaders(ex.id, { ':status': '503' }, true);
    expect(header(emu.getCurrentResponseHeaders(ex.id), 'x-circuit-breaker')).toBe('fallback');
    emu.completeHttpContext(ex.id);
    expect(emu.getCounterValue(requestsCounter('credit-bureau', 'fallback'))).toBe(1n);
    // the fail-over's failures do not count against the primary
    emu.advanceClock(60_000);
    log.clear();
    call(emu, PATH, 200);
    expect(log.count('proxy_set_property')).toBe(0);
    expect(sharedState(emu, 'credit-bureau')).toBe(2);
  });

  it('changes no request header a client sent, so the route Envoy resolved stays the one admission saw', async () => {
    const emu = await breaker(wasm, {
      open_action: { fallback_filter_state: { key: 'wasm.circuit_breaker.fallback', value: '1' } },
      services: [{ ...CREDIT_BUREAU, timeout: undefined }],
    });
    const forged = { 'x-fallback': '1', 'X-Circuit-Breaker': 'fallback' };
    const ex = call(emu, PATH, 200, forged);
    expect(emu.getRouteCacheClears(ex.id)).toBe(0);
    expect(header(ex.upstreamHeaders, 'x-fallback')).toBe('1');
  });
});

describe('service selection', () => {
  it('by the cluster the route picked (xds.cluster_name); first service that holds wins', async () => {
    const emu = await breaker(wasm, {
      services: [
        { name: 'banking-writes', cluster: 'banking', match: { methods: ['POST'] }, failure_threshold: 1 },
        { name: 'banking', cluster: 'banking', failure_threshold: 2 },
        { name: 'other', failure_threshold: 1, match: { prefix: '/nothing' } },
      ],
    });
    const banking = { clusterName: 'banking', routeName: 'banking' };
    call(emu, '/api/transactions', 503, { ':method': 'POST' }, banking);
    expect(sharedState(emu, 'banking-writes')).toBe(1);
    call(emu, '/api/banking/x', 503, {}, banking);
    expect(sharedState(emu, 'banking')).toBe(0);
    call(emu, '/api/banking/y', 503, {}, { clusterName: 'echo', routeName: 'default' });
    expect(sharedState(emu, 'banking')).toBe(0);
    call(emu, '/api/banking/z', 503, {}, banking);
    expect(sharedState(emu, 'banking')).toBe(1);
    expect(call(emu, '/api/banking/z', 200, {}, banking).reply?.status).toBe(503);
    expect(call(emu, '/api/banking/z', 200, {}, { clusterName: 'echo', routeName: 'x' }).reply).toBeUndefined();
  });

  it('keeps each service its own circuit', async () => {
    const emu = await breaker(wasm, {
      services: [CREDIT_BUREAU, { name: 'banking', match: { prefix: '/api/banking' }, failure_threshold: 5, open_duration: '30s' }],
    });
    for (let i = 0; i < 3; i++) call(emu, PATH, 503);
    expect(call(emu, PATH, 200).reply?.status).toBe(503);
    expect(call(emu, '/api/banking/a', 200).reply).toBeUndefined();
    expect(gaugedState(emu, 'banking')).toBe('closed');
    expect(gaugedState(emu, 'credit-bureau')).toBe('open');
  });
});
