// rate-limit's `global` part on the project host (build/rate-limit.wasm in the emulator):
// the request pauses on one ShouldRateLimit call (proxy_grpc_call), which the test answers
// as a rate limit service would (messages written by protobufjs from rls.proto); OK resumes,
// OVER_LIMIT refuses with the service's numbers, and an error, a timeout or a garbled answer
// lets the request through unless `failure_mode_deny`, each counted.
import path from 'node:path';
import { loadSync } from '@grpc/proto-loader';
import { describe, expect, it } from 'vitest';
import { GrpcStatus } from '../../../harness/host/abi.ts';
import { FilterHeadersStatus } from '../../../harness/host/filter.ts';
import type { WasmEmulator } from '../../../harness/host/emulator.ts';
import { counter, hostcallLog } from '../../../harness/host/testing.ts';
import { rateLimitEmulator } from './harness.ts';

const definition = loadSync(path.join(import.meta.dirname, 'rls.proto'), { keepCase: true, longs: String, enums: Number, defaults: true });
const method = (definition['envoy.service.ratelimit.v3.RateLimitService'] as Record<string, any>).ShouldRateLimit;
const answer = (o: unknown): Buffer => method.responseSerialize(o);
const requestOf = (b: Uint8Array): any => method.requestDeserialize(Buffer.from(b));

const OK = 1;
const OVER_LIMIT = 2;
const MINUTE = 2;

/** A rule keyed on x-user-id with a local bucket of `localTokens` and a global part. */
function config(global: Record<string, unknown> = {}, extra: Record<string, unknown> = {}, localTokens = 1000) {
  return {
    rules: [
      {
        name: 'users',
        key: [{ header: 'x-user-id' }, { remote_address: {} }, { path: {} }, { generic: 'api' }],
        limits: [{ max_tokens: localTokens, fill_interval: '60s' }],
        global: { cluster: 'ratelimit', domain: 'mesh', ...global },
      },
    ],
    response_headers: true,
    ...extra,
  };
}

interface Started {
  id: number;
  status: FilterHeadersStatus;
}

/** Starts a request (headers only); the filter may pause it. */
function start(emu: WasmEmulator, headers: Record<string, string> = {}, remote = '198.51.100.7:40000'): Started {
  const id = emu.initializeHttpContext({ downstreamRemoteAddress: remote });
  const status = emu.callOnRequestHeaders(id, { ':method': 'GET', ':path': '/api/orders?page=2', ':authority': 'mesh', 'x-user-id': 'alice', ...headers }, true);
  return { id, status };
}

/** Where the stream is: paused, sent on (resumed or never paused), or answered locally. */
function outcome(emu: WasmEmulator, s: Started): { state: 'paused' | 'forwarded' | 'replied'; status?: number; headers: Record<string, string>; body?: string; details?: string; grpcStatus?: string } {
  const reply = emu.getSentLocalResponse(s.id);
  const headers: Record<string, string> = {};
  if (reply) {
    for (const [k, v] of emu.getCurrentResponseHeaders(s.id)) headers[k] = v;
    return { state: 'replied', status: reply.status, headers, body: Buffer.from(reply.body ?? '').toString(), details: reply.details, grpcStatus: headers['grpc-status'] };
  }
  const forwarded = s.status === FilterHeadersStatus.Continue || emu.getContinueCalls(s.id).request > 0;
  return { state: forwarded ? 'forwarded' : 'paused', headers };
}

/** The upstream's response headers as the client gets them, after the filter's response path. */
function upstream(emu: WasmEmulator, s: Started): Record<string, string> {
  emu.callOnResponseHeaders(s.id, { ':status': '200' }, true);
  const headers: Record<string, string> = {};
  for (const [k, v] of emu.getCurrentResponseHeaders(s.id)) headers[k] = v;
  emu.completeHttpContext(s.id);
  return headers;
}

const overLimit = (remaining = 0, seconds = 17) =>
  answer({
    overall_code: OVER_LIMIT,
    statuses: [{ code: OVER_LIMIT, current_limit: { requests_per_unit: 100, unit: MINUTE }, limit_remaining: remaining, duration_until_reset: { seconds, nanos: 250_000_000 } }],
  });

describe('the ShouldRateLimit call', () => {
  it('pauses the request on one call to the rule\'s cluster, with the rule\'s key parts as the descriptor\'s entries and its timeout', async () => {
    const emu = await rateLimitEmulator(config({ timeout: '0.25s' }, { xff_num_trusted_hops: 1 }));
    const s = start(emu, { 'x-forwarded-for': '203.0.113.9, 2001:0db8:0:0:0:0:0:7' });
    expect(s.status).toBe(FilterHeadersStatus.StopAllIterationAndWatermark);
    const calls = emu.getPendingGrpcCalls();
    expect(calls).toHaveLength(1);
    const { request } = calls[0];
    expect(request).toMatchObject({ cluster: 'ratelimit', service: 'envoy.service.ratelimit.v3.RateLimitService', method: 'ShouldRateLimit', timeoutMs: 250 });
    expect(requestOf(request.message)).toEqual({
      domain: 'mesh',
      descriptors: [{ entries: [
        { key: 'x-user-id', value: 'alice' },
        { key: 'remote_address', value: '2001:db8::7' }, // the trusted XFF entry, as RFC 5952 text
        { key: 'path', value: '/api/orders' }, // without the query
        { key: 'generic_key', value: 'api' },
      ] }],
      hits_addend: 0,
    });
    expect(outcome(emu, s).state).toBe('paused');
  });

  it('reads the connection\'s address once for the local key and the descriptor', async () => {
    const log = hostcallLog();
    const emu = await rateLimitEmulator(config(), { onHostcall: log.onHostcall });
    start(emu);
    expect(requestOf(emu.getPendingGrpcCalls()[0].request.message).descriptors[0].entries[1]).toEqual({ key: 'remote_address', value: '198.51.100.7' });
    // Every property read since the plugin was created (configure included): the one address.
    expect(log.calls.filter((c) => c.name === 'proxy_get_property')).toEqual([{ name: 'proxy_get_property', path: 'source.address' }]);
  });

  it('the default timeout is Envoy\'s 20 ms; a missing header is sent as ""', async () => {
    const emu = await rateLimitEmulator({ rules: [{ name: 't', key: [{ header: 'x-tenant' }, { claim: 'x-user-id' }], limits: [{ max_tokens: 5, fill_interval: '1s' }], global: { cluster: 'rls', domain: 'd' } }] });
    start(emu);
    const { request } = emu.getPendingGrpcCalls()[0];
    expect(request.timeoutMs).toBe(20);
    expect(requestOf(request.message).descriptors[0].entries).toEqual([{ key: 'x-tenant', value: '' }, { key: 'x-user-id', value: 'alice' }]);
  });

  it('OK: the request goes on; the response reports the tighter of the local buckets and the service', async () => {
    const emu = await rateLimitEmulator(config());
    const s = start(emu);
    emu.respondGrpcCall(answer({ overall_code: OK, statuses: [{ code: OK, current_limit: { requests_per_unit: 100, unit: MINUTE, name: 'users' }, limit_remaining: 41, duration_until_reset: { seconds: 30 } }] }));
    expect(outcome(emu, s).state).toBe('forwarded');
    expect(emu.getContinueCalls(s.id).request).toBe(1);
    expect(upstream(emu, s)).toMatchObject({ 'x-ratelimit-limit': '100, 100;w=60;name="users"', 'x-ratelimit-remaining': '41', 'x-ratelimit-reset': '30' });
    // The local bucket (999 left) is the tighter when the service has more room.
    const t = start(emu);
    emu.respondGrpcCall(answer({ overall_code: OK, statuses: [{ code: OK, current_limit: { requests_per_unit: 100000, unit: MINUTE }, limit_remaining: 99999 }] }));
    expect(upstream(emu, t)).toMatchObject({ 'x-ratelimit-limit': '1000, 1;w=60', 'x-ratelimit-remaining': '998' });
    expect(counter(emu, 'rate_limit_global_requests_total', { rule: 'users', outcome: 'allowed' })).toBe(2);
    expect(counter(emu, 'rate_limit_requests_total', { rule: 'users', outcome: 'allowed' })).toBe(2);
  });

  it('OVER_LIMIT: 429 request_rate_limited with retry-after and the service\'s x-ratelimit-* values', async () => {
    const emu = await rateLimitEmulator(config());
    const s = start(emu);
    emu.respondGrpcCall(overLimit());
    const o = outcome(emu, s);
    expect(o).toMatchObject({ state: 'replied', status: 429, body: 'request_rate_limited', details: 'request_rate_limited' });
    expect(o.headers).toMatchObject({
      'x-envoy-ratelimited': 'true',
      'retry-after': '18', // 17.25 s, rounded up
      'x-ratelimit-limit': '100, 100;w=60',
      'x-ratelimit-remaining': '0',
      'x-ratelimit-reset': '17',
    });
    expect(emu.getContinueCalls(s.id).request).toBe(0);
    expect(counter(emu, 'rate_limit_global_requests_total', { rule: 'users', outcome: 'denied' })).toBe(1);
    expect(counter(emu, 'rate_limit_global_requests_total', { rule: 'users', outcome: 'allowed' })).toBe(0);
    emu.completeHttpContext(s.id);
  });

  it('OVER_LIMIT on a gRPC request: RESOURCE_EXHAUSTED', async () => {
    const emu = await rateLimitEmulator(config());
    const s = start(emu, { 'content-type': 'application/grpc', ':method': 'POST' });
    emu.respondGrpcCall(overLimit());
    const o = outcome(emu, s);
    expect(o.state).toBe('replied');
    expect(o.headers[':status']).toBe('200'); // trailers-only
    expect(o.grpcStatus).toBe(String(GrpcStatus.ResourceExhausted));
    expect(o.headers['retry-after']).toBe('18');
  });

  it('OVER_LIMIT without response_headers: retry-after and x-envoy-ratelimited only; a status of the rule\'s own', async () => {
    const emu = await rateLimitEmulator(config({}, { response_headers: false, status: 503 }));
    const s = start(emu);
    emu.respondGrpcCall(overLimit());
    const o = outcome(emu, s);
    expect(o.status).toBe(503);
    expect(o.headers['x-ratelimit-limit']).toBeUndefined();
    expect(o.headers).toMatchObject({ 'x-envoy-ratelimited': 'true', 'retry-after': '18' });
  });

  it('OVER_LIMIT with enforce: false lets the request through and counts it as shadow_denied', async () => {
    const emu = await rateLimitEmulator(config({}, { enforce: false }));
    const s = start(emu);
    emu.respondGrpcCall(overLimit(0, 5));
    expect(outcome(emu, s).state).toBe('forwarded');
    expect(upstream(emu, s)).toMatchObject({ 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': '5' });
    expect(counter(emu, 'rate_limit_global_requests_total', { rule: 'users', outcome: 'shadow_denied' })).toBe(1);
  });
});

describe('no decision: allowed unless failure_mode_deny, and counted', () => {
  const cases: Array<[string, (emu: WasmEmulator) => void, string]> = [
    ['an error status (UNAVAILABLE)', (emu) => emu.failGrpcCall(GrpcStatus.Unavailable, 'no healthy upstream'), 'grpc_error'],
    ['UNIMPLEMENTED (not a rate limit service)', (emu) => emu.failGrpcCall(GrpcStatus.Unimplemented, ''), 'grpc_error'],
    ['a timeout (the router\'s reply once the timeout passed)', (emu) => {
      emu.advanceClock(20);
      emu.failGrpcCall(GrpcStatus.Unavailable, 'upstream request timeout');
    }, 'timeout'],
    ['DEADLINE_EXCEEDED', (emu) => emu.failGrpcCall(GrpcStatus.DeadlineExceeded, 'deadline'), 'timeout'],
    ['garbled bytes', (emu) => emu.respondGrpcCall(Uint8Array.from([0x12, 0x40, 0x08])), 'bad_response'],
    ['an answer of UNKNOWN', (emu) => emu.respondGrpcCall(answer({ overall_code: 0 })), 'bad_response'],
    ['an empty answer', (emu) => emu.respondGrpcCall(new Uint8Array(0)), 'bad_response'],
  ];

  it.each(cases)('%s: let through (failure_mode_allowed)', async (_name, fail, reason) => {
    const emu = await rateLimitEmulator(config());
    const s = start(emu);
    fail(emu);
    expect(outcome(emu, s).state).toBe('forwarded');
    expect(emu.getContinueCalls(s.id).request).toBe(1);
    // The local bucket still reports.
    expect(upstream(emu, s)).toMatchObject({ 'x-ratelimit-limit': '1000, 1;w=60', 'x-ratelimit-remaining': '999' });
    expect(counter(emu, 'rate_limit_global_errors_total', { rule: 'users', reason })).toBe(1);
    expect(counter(emu, 'rate_limit_global_requests_total', { rule: 'users', outcome: 'failure_mode_allowed' })).toBe(1);
    expect(counter(emu, 'rate_limit_global_requests_total', { rule: 'users', outcome: 'failure_mode_denied' })).toBe(0);
    expect(emu.vmFailed).toBe(false);
  });

  it.each(cases)('%s with failure_mode_deny: 500 rate_limiter_error', async (_name, fail, reason) => {
    const emu = await rateLimitEmulator(config({ failure_mode_deny: true }));
    const s = start(emu);
    fail(emu);
    expect(outcome(emu, s)).toMatchObject({ state: 'replied', status: 500, details: 'rate_limiter_error' });
    expect(emu.getContinueCalls(s.id).request).toBe(0);
    expect(counter(emu, 'rate_limit_global_errors_total', { rule: 'users', reason })).toBe(1);
    expect(counter(emu, 'rate_limit_global_requests_total', { rule: 'users', outcome: 'failure_mode_denied' })).toBe(1);
    expect(counter(emu, 'rate_limit_global_requests_total', { rule: 'users', outcome: 'failure_mode_allowed' })).toBe(0);
  });

  it('an error before the timeout is not a timeout', async () => {
    const emu = await rateLimitEmulator(config({ timeout: '1s' }));
    start(emu);
    emu.advanceClock(999);
    emu.failGrpcCall(GrpcStatus.Unavailable, 'upstream connect error');
    expect(counter(emu, 'rate_limit_global_errors_total', { rule: 'users', reason: 'grpc_error' })).toBe(1);
    expect(counter(emu, 'rate_limit_global_errors_total', { rule: 'users', reason: 'timeout' })).toBe(0);
  });

  it('an unknown cluster: no call; allowed at once, or 500 with failure_mode_deny', async () => {
    const emu = await rateLimitEmulator(config({ cluster: 'nowhere' }), { clusters: ['ratelimit'] });
    const s = start(emu);
    expect(s.status).toBe(FilterHeadersStatus.Continue);
    expect(emu.getPendingGrpcCalls()).toHaveLength(0);
    expect(counter(emu, 'rate_limit_global_errors_total', { rule: 'users', reason: 'not_sent' })).toBe(1);
    const deny = await rateLimitEmulator(config({ cluster: 'nowhere', failure_mode_deny: true }), { clusters: ['ratelimit'] });
    const t = start(deny);
    expect(outcome(deny, t)).toMatchObject({ state: 'replied', status: 500 });
    expect(counter(deny, 'rate_limit_global_requests_total', { rule: 'users', outcome: 'failure_mode_denied' })).toBe(1);
  });

  it('a stream that ends while its call is in flight cancels the call; a late answer finds nobody', async () => {
    const emu = await rateLimitEmulator(config());
    const s = start(emu);
    expect(emu.getPendingGrpcCalls()).toHaveLength(1);
    emu.completeHttpContext(s.id); // the client went away
    expect(emu.getPendingGrpcCalls()).toHaveLength(0);
    expect(counter(emu, 'rate_limit_global_requests_total', { rule: 'users', outcome: 'allowed' })).toBe(0);
    expect(emu.vmFailed).toBe(false);
  });
});

describe('local buckets first', () => {
  it('a request the local bucket refuses makes no call', async () => {
    const emu = await rateLimitEmulator(config({}, {}, 2));
    for (let i = 0; i < 2; i++) {
      const s = start(emu);
      emu.respondGrpcCall(answer({ overall_code: OK }));
      expect(outcome(emu, s).state).toBe('forwarded');
      emu.completeHttpContext(s.id);
    }
    for (let i = 0; i < 50; i++) {
      const s = start(emu);
      expect(outcome(emu, s)).toMatchObject({ state: 'replied', status: 429, details: 'local_rate_limited' });
      emu.completeHttpContext(s.id);
    }
    expect(emu.getPendingGrpcCalls()).toHaveLength(0);
    expect(counter(emu, 'rate_limit_requests_total', { rule: 'users', outcome: 'denied' })).toBe(50);
    expect(counter(emu, 'rate_limit_global_requests_total', { rule: 'users', outcome: 'allowed' })).toBe(2);
  });

  it('with enforce: false the local shadow denial still asks the service (the request goes on)', async () => {
    const emu = await rateLimitEmulator(config({}, { enforce: false }, 1));
    for (let i = 0; i < 3; i++) {
      const s = start(emu);
      expect(emu.getPendingGrpcCalls()).toHaveLength(1);
      emu.respondGrpcCall(answer({ overall_code: OK }));
      expect(outcome(emu, s).state).toBe('forwarded');
      emu.completeHttpContext(s.id);
    }
    expect(counter(emu, 'rate_limit_requests_total', { rule: 'users', outcome: 'shadow_denied' })).toBe(2);
  });

  it('a rule without global never calls; its path is unchanged', async () => {
    const emu = await rateLimitEmulator({ rules: [{ name: 'local', limits: [{ max_tokens: 1, fill_interval: '60s' }] }] });
    const a = start(emu);
    expect(a.status).toBe(FilterHeadersStatus.Continue);
    expect(outcome(emu, start(emu)).status).toBe(429);
    expect(emu.getPendingGrpcCalls()).toHaveLength(0);
    expect(() => counter(emu, 'rate_limit_global_requests_total', { rule: 'local', outcome: 'allowed' })).toThrow('defined no counter'); // no global counters defined
  });
});

describe('several rules with global parts', () => {
  const rules = {
    rules: [
      { name: 'health', match: { path: '/healthz' }, limits: [{ max_tokens: 100, fill_interval: '1s' }] },
      { name: 'tenants', match: { headers: [{ name: 'x-tenant', present: true }] }, key: [{ header: 'x-tenant' }], limits: [{ max_tokens: 100, fill_interval: '1s' }], global: { cluster: 'rls-a', domain: 'tenants', timeout: '0.05s' } },
      { name: 'clients', key: [{ remote_address: {} }], limits: [{ max_tokens: 100, fill_interval: '1s' }], global: { cluster: 'rls-b', domain: 'clients', failure_mode_deny: true } },
    ],
  };

  it('each request asks about the rule it matched, on that rule\'s cluster and domain, and counts there', async () => {
    const emu = await rateLimitEmulator(rules);
    const a = start(emu, { 'x-tenant': 'acme' });
    const b = start(emu, {}, '[2001:db8::1]:443');
    const calls = emu.getPendingGrpcCalls();
    expect(calls.map((c) => [c.request.cluster, c.request.timeoutMs, requestOf(c.request.message).domain])).toEqual([['rls-a', 50, 'tenants'], ['rls-b', 20, 'clients']]);
    expect(requestOf(calls[1].request.message).descriptors[0].entries).toEqual([{ key: 'remote_address', value: '2001:db8::1' }]);
    // Answered out of order: each answer goes to its own stream.
    emu.failGrpcCall(GrpcStatus.Unavailable, 'down', calls[1].id);
    emu.respondGrpcCall(overLimit(), calls[0].id);
    expect(outcome(emu, a)).toMatchObject({ state: 'replied', status: 429 });
    expect(outcome(emu, b)).toMatchObject({ state: 'replied', status: 500 }); // clients: failure_mode_deny
    expect(counter(emu, 'rate_limit_global_requests_total', { rule: 'tenants', outcome: 'denied' })).toBe(1);
    expect(counter(emu, 'rate_limit_global_requests_total', { rule: 'clients', outcome: 'failure_mode_denied' })).toBe(1);
    expect(counter(emu, 'rate_limit_global_errors_total', { rule: 'clients', reason: 'grpc_error' })).toBe(1);
    expect(counter(emu, 'rate_limit_global_errors_total', { rule: 'tenants', reason: 'grpc_error' })).toBe(0);
    // The rule without global: no call.
    const h = start(emu, { 'x-user-id': 'x' });
    expect(emu.getPendingGrpcCalls()).toHaveLength(1); // b's rule matched (no /healthz path)
    emu.respondGrpcCall(answer({ overall_code: OK }));
    expect(outcome(emu, h).state).toBe('forwarded');
    const id = emu.initializeHttpContext();
    expect(emu.callOnRequestHeaders(id, { ':method': 'GET', ':path': '/healthz', ':authority': 'mesh' }, true)).toBe(FilterHeadersStatus.Continue);
    expect(emu.getPendingGrpcCalls()).toHaveLength(0);
  });

  it('many paused requests, answered in reverse order, each get their own answer', async () => {
    const emu = await rateLimitEmulator(config());
    const started = Array.from({ length: 20 }, (_, i) => start(emu, { 'x-user-id': `u${i}` }));
    const calls = emu.getPendingGrpcCalls();
    expect(calls.map((c) => requestOf(c.request.message).descriptors[0].entries[0].value)).toEqual(started.map((_, i) => `u${i}`));
    for (let i = calls.length - 1; i >= 0; i--) emu.respondGrpcCall(i % 2 ? overLimit() : answer({ overall_code: OK }), calls[i].id);
    started.forEach((s, i) => expect(outcome(emu, s).state, `request ${i}`).toBe(i % 2 ? 'replied' : 'forwarded'));
    expect(counter(emu, 'rate_limit_global_requests_total', { rule: 'users', outcome: 'allowed' })).toBe(10);
    expect(counter(emu, 'rate_limit_global_requests_total', { rule: 'users', outcome: 'denied' })).toBe(10);
  });
});
