// The retry filter (build/retry.wasm) driven by hand on the project's proxy-wasm host
// (WasmEmulator, fake clock): the headers it hands to Envoy's router per policy, the
// idempotency guard, stripping, the shared budget, metrics, hostile inputs and memory.
import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { LogLevel, WasmEmulator, WasmPluginError, createWasmPlugin } from '../../../harness/host/index.ts';
import { FilterHeadersStatus } from '../../../harness/host/filter.ts';
import { type Exchange, counter, filterEmulator, filterWorkers, pluginConfig, request, testModule } from '../../../harness/host/testing.ts';
import { BUDGET, mustDecode } from '../../../harness/shared-record.ts';
import { ECHO_GRPC } from './policies.ts';

let WASM = '';
beforeAll(async () => {
  WASM = await testModule('retry');
}, 180_000);

/** The seeds' configuration (envoy/retry.yaml), plus a gRPC policy. */
const SEED = pluginConfig('envoy/retry.yaml', 'retry');
const CONFIG = { ...SEED, policies: [...(SEED.policies as unknown[]), ECHO_GRPC] };

const CONTROL = [
  'x-envoy-max-retries',
  'x-envoy-retry-on',
  'x-envoy-retry-grpc-on',
  'x-envoy-retriable-status-codes',
  'x-envoy-upstream-rq-timeout-ms',
  'x-envoy-upstream-rq-per-try-timeout-ms',
  'x-envoy-retriable-header-names',
  'x-envoy-hedge-on-per-try-timeout',
];

/** The router's retry headers as the filter handed the request on (`x-envoy-*` but `x-envoy-internal`), by name. */
function control(ex: Exchange): Record<string, string[]> {
  expect(ex.filterStatus).toBe(FilterHeadersStatus.Continue);
  const out: Record<string, string[]> = {};
  for (const [k, v] of ex.requestHeaders) if (k.startsWith('x-envoy-') && k !== 'x-envoy-internal') (out[k] ??= []).push(v);
  return out;
}

/** A response that took `attempts` attempts (undefined: no x-envoy-attempt-count). */
const attempts = (n?: number | string): Record<string, string> => (n === undefined ? {} : { 'x-envoy-attempt-count': String(n) });

/** The `x-envoy-max-retries` a request was handed (NaN when none). */
const grantedRetries = (ex: Exchange) => Number(control(ex)['x-envoy-max-retries']?.[0]);

describe('retry filter on the emulator', () => {
  describe('configuration', () => {
    it('accepts filters.md’s example and defines its metrics', async () => {
      const emu = await filterEmulator(WASM, 'retry', CONFIG);
      expect(emu.getLogs(LogLevel.Error)).toEqual([]);
      for (const p of ['financial-transactions', 'grpc', 'reads']) {
        for (const what of ['requests', 'retried_requests', 'retries']) expect(counter(emu, `retry_policy_${what}_total`, { policy: p })).toBe(0);
      }
      for (const what of ['retried_requests', 'retries', 'idempotency_guarded', 'budget_exhausted']) expect(counter(emu, `retry_${what}_total`)).toBe(0);
    });

    it('rejects a bad configuration with one error line naming the JSON path', async () => {
      const cases: Array<[unknown, string]> = [
        [{ policies: [{ name: 'a', retry_on: ['5xx', 'retriable-5xx'] }] }, 'retry: policies[0].retry_on[1]: unknown retry condition "retriable-5xx"'],
        [{ policies: [{ name: 'a', max_retries: 1000 }] }, 'retry: policies[0].max_retries: expected an integer between 0 and 100'],
        [{ policies: [], budget: { window: '10' } }, 'retry: budget.window: expected a duration like "60s"'],
        [{ policies: [], strip_downstream_retry_header: false }, 'retry: strip_downstream_retry_header: unknown field'],
        [{ policies: [{ name: 'a', match: { methods: ['GET'], prefix: 3 } }] }, 'retry: policies[0].match.prefix: expected a string'],
      ];
      for (const [config, line] of cases) {
        const error = await filterEmulator(WASM, 'retry', config).catch((e) => e);
        expect(error).toBeInstanceOf(WasmPluginError);
        expect(error.message).toBe(line);
      }
      const empty = await WasmEmulator.create({ wasm: WASM, name: 'retry', rootId: 'retry' }).catch((e) => e);
      expect(empty.message).toBe('retry: configuration is empty, expected a JSON object');
    });

    it('logs exactly one line, at error level, for a rejected configuration', async () => {
      const lines: Array<[LogLevel, string]> = [];
      const error = await createWasmPlugin(
        { name: 'retry', rootId: 'retry', code: readFileSync(WASM), configuration: JSON.stringify({ policies: [{ name: 'a', timeout: '1s', per_try_timeout: '1s' }] }) },
        { log: (level, message) => lines.push([level, message]), logLevel: () => LogLevel.Trace },
      ).catch((e) => e);
      expect(error).toBeInstanceOf(WasmPluginError);
      expect(lines).toEqual([[LogLevel.Error, 'retry: policies[0].per_try_timeout: must be less than timeout (Envoy ignores a per-try timeout that is not)']]);
    });
  });

  describe('policies → router headers', () => {
    it('reads: 5 retries on the read conditions, 429 retriable, 2 s per try, the route’s own timeout', async () => {
      const emu = await filterEmulator(WASM, 'retry', CONFIG);
      const ex = request(emu, { headers: { ':method': 'GET', ':path': '/api/credit-bureau/score' } });
      expect(control(ex)).toEqual({
        'x-envoy-max-retries': ['5'],
        'x-envoy-retry-on': ['5xx,gateway-error,connect-failure,reset,retriable-status-codes'],
        'x-envoy-retriable-status-codes': ['429'],
        'x-envoy-upstream-rq-per-try-timeout-ms': ['2000'],
      });
      ex.respond(attempts(1));
      expect(counter(emu, 'retry_policy_requests_total', { policy: 'reads' })).toBe(1);
      expect(counter(emu, 'retry_policy_retried_requests_total', { policy: 'reads' })).toBe(0);
    });

    it('financial transactions: a POST with its idempotency key gets 2 retries and both timeouts', async () => {
      const emu = await filterEmulator(WASM, 'retry', CONFIG);
      expect(control(request(emu, { headers: { ':method': 'POST', ':path': '/api/transactions', 'idempotency-key': '5f3c-77' } }))).toEqual({
        'x-envoy-max-retries': ['2'],
        'x-envoy-retry-on': ['connect-failure,refused-stream,reset'],
        'x-envoy-upstream-rq-timeout-ms': ['20000'],
        'x-envoy-upstream-rq-per-try-timeout-ms': ['5000'],
      });
      expect(counter(emu, 'retry_idempotency_guarded_total')).toBe(0);
    });

    it('idempotency guard: a POST without the key, or with an empty one, is never retried (timeouts still apply)', async () => {
      const emu = await filterEmulator(WASM, 'retry', CONFIG);
      for (const extra of [{}, { 'idempotency-key': '' }] as Record<string, string>[]) {
        expect(control(request(emu, { headers: { ':method': 'POST', ':path': '/api/transactions/pay', ...extra } }))).toEqual({
          'x-envoy-max-retries': ['0'],
          'x-envoy-upstream-rq-timeout-ms': ['20000'],
          'x-envoy-upstream-rq-per-try-timeout-ms': ['5000'],
        });
      }
      expect(counter(emu, 'retry_idempotency_guarded_total')).toBe(2);
      // PUT is idempotent (RFC 9110 §9.2.2): retried without a key.
      expect(control(request(emu, { headers: { ':method': 'PUT', ':path': '/api/transactions/7' } }))['x-envoy-max-retries']).toEqual(['2']);
      expect(counter(emu, 'retry_policy_requests_total', { policy: 'financial-transactions' })).toBe(3);
    });

    it('gRPC: x-envoy-retry-grpc-on only for gRPC content types, as Envoy’s router tells them', async () => {
      const emu = await filterEmulator(WASM, 'retry', CONFIG);
      const grpc = control(request(emu, { headers: { ':method': 'POST', ':path': '/mesh.test.v1.EchoService/Echo', 'content-type': 'application/grpc' } }));
      expect(grpc['x-envoy-retry-grpc-on']).toEqual(['unavailable,resource-exhausted']);
      expect(grpc['x-envoy-retry-on']).toEqual(['connect-failure,refused-stream']);
      expect(grpc['x-envoy-max-retries']).toEqual(['3']);
      const proto = control(request(emu, { headers: { ':method': 'POST', ':path': '/mesh.test.v1.EchoService/Echo', 'content-type': 'application/grpc+proto' } }));
      expect(proto['x-envoy-retry-grpc-on']).toEqual(['unavailable,resource-exhausted']);
      const web = control(request(emu, { headers: { ':method': 'POST', ':path': '/mesh.test.v1.EchoService/Echo', 'content-type': 'application/grpc-web' } }));
      expect(web['x-envoy-retry-grpc-on']).toBeUndefined();
      expect(web['x-envoy-max-retries']).toEqual(['3']);
    });

    it('the first matching policy wins; a request no policy matches gets no retry headers', async () => {
      const emu = await filterEmulator(WASM, 'retry', CONFIG);
      // GET on /api/transactions: the financial policy wants a write (POST, PUT, PATCH, DELETE), so "reads" applies.
      expect(control(request(emu, { headers: { ':method': 'GET', ':path': '/api/transactions/7' } }))['x-envoy-max-retries']).toEqual(['5']);
      expect(control(request(emu, { headers: { ':method': 'DELETE', ':path': '/api/documents/1' } }))).toEqual({});
    });
  });

  describe('downstream retry headers', () => {
    // An internal client's request (Envoy removes these headers from every other one).
    const forged: Record<string, string> = {
      ...Object.fromEntries(CONTROL.map((h) => [h, h === 'x-envoy-max-retries' ? '100' : h.endsWith('-ms') ? '600000' : h === 'x-envoy-hedge-on-per-try-timeout' ? 'true' : '5xx'])),
      'x-envoy-internal': 'true',
    };

    it('are removed when no policy applies, and replaced by the policy’s when one does', async () => {
      const emu = await filterEmulator(WASM, 'retry', CONFIG);
      expect(control(request(emu, { headers: { ':method': 'DELETE', ':path': '/x', ...forged } }))).toEqual({});
      const read = control(request(emu, { headers: { ':method': 'GET', ':path': '/x', ...forged } }));
      expect(read).toEqual({
        'x-envoy-max-retries': ['5'],
        'x-envoy-retry-on': ['5xx,gateway-error,connect-failure,reset,retriable-status-codes'],
        'x-envoy-retriable-status-codes': ['429'],
        'x-envoy-upstream-rq-per-try-timeout-ms': ['2000'],
      });
      // A client's x-envoy-max-retries: 100 never survives the guard.
      const post = control(request(emu, { headers: { ':method': 'POST', ':path': '/api/transactions', ...forged } }));
      expect(post['x-envoy-max-retries']).toEqual(['0']);
      expect(post['x-envoy-retry-on']).toBeUndefined();
    });

    it('with strip_downstream_retry_headers false, only the headers a policy writes are replaced', async () => {
      const emu = await filterEmulator(WASM, 'retry', { ...CONFIG, strip_downstream_retry_headers: false });
      expect(control(request(emu, { headers: { ':method': 'DELETE', ':path': '/x', ...forged } }))).toEqual(Object.fromEntries(CONTROL.map((h) => [h, [forged[h]]])));
      const post = control(request(emu, { headers: { ':method': 'POST', ':path': '/api/transactions', ...forged } }));
      expect(post['x-envoy-max-retries']).toEqual(['0']);
      expect(post['x-envoy-upstream-rq-timeout-ms']).toEqual(['20000']);
    });

    it('on an external request, were left by an earlier filter: kept unless the policy sets its own', async () => {
      const emu = await filterEmulator(WASM, 'retry', CONFIG);
      // circuit-breaker's `timeout` (filters.md) ahead of the retry filter.
      const fromChain = { 'x-envoy-upstream-rq-timeout-ms': '10000' };
      expect(control(request(emu, { headers: { ':method': 'DELETE', ':path': '/x', ...fromChain } }))).toEqual({ 'x-envoy-upstream-rq-timeout-ms': ['10000'] });
      expect(control(request(emu, { headers: { ':method': 'GET', ':path': '/x', ...fromChain } }))['x-envoy-upstream-rq-timeout-ms']).toEqual(['10000']);
      expect(control(request(emu, { headers: { ':method': 'POST', ':path': '/api/transactions', ...fromChain } }))['x-envoy-upstream-rq-timeout-ms']).toEqual(['20000']);
    });

    it('repeated values are all replaced', async () => {
      const emu = await filterEmulator(WASM, 'retry', CONFIG);
      const id = emu.initializeHttpContext();
      emu.callOnRequestHeaders(id, [[':method', 'GET'], [':path', '/'], ['x-envoy-internal', 'true'], ['x-envoy-max-retries', '9'], ['x-envoy-max-retries', '10'], ['x-envoy-retry-grpc-on', 'cancelled'], ['x-envoy-retry-grpc-on', 'internal']], true);
      const values = emu.getCurrentRequestHeaders(id).filter(([k]) => k.startsWith('x-envoy-retry-grpc-on') || k === 'x-envoy-max-retries');
      expect(values).toEqual([['x-envoy-max-retries', '5']]);
    });
  });

  describe('retry budget (fake clock)', () => {
    // ratio 0, 1 retry/s over 10 s: exactly 10 retries per window whatever the traffic.
    const FIXED = { policies: [{ name: 'reads', max_retries: 5, retry_on: ['5xx'] }], budget: { ratio: 0, min_retries_per_second: 1, window: '10s' } };

    it('caps retries at what the window has left, then answers x-envoy-max-retries: 0, and recovers when the window slides', async () => {
      const emu = await filterEmulator(WASM, 'retry', FIXED);
      const granted: string[] = [];
      for (let i = 0; i < 5; i++) {
        const ex = request(emu);
        granted.push(control(ex)['x-envoy-max-retries'][0]);
        ex.respond(attempts(grantedRetries(ex) + 1)); // every retry used
      }
      // 10 allowed: 5 then 5, then nothing.
      expect(granted).toEqual(['5', '5', '0', '0', '0']);
      expect(counter(emu, 'retry_budget_exhausted_total')).toBe(3);
      expect(counter(emu, 'retry_retries_total')).toBe(10);
      expect(counter(emu, 'retry_policy_retries_total', { policy: 'reads' })).toBe(10);
      expect(counter(emu, 'retry_policy_retried_requests_total', { policy: 'reads' })).toBe(2);
      emu.advanceClock(9_000);
      expect(control(request(emu))['x-envoy-max-retries']).toEqual(['0']); // the retries are 9 s old: still in the window
      emu.advanceClock(1_100);
      expect(control(request(emu))['x-envoy-max-retries']).toEqual(['5']);
    });

    it('grows with traffic by ratio × requests', async () => {
      const emu = await filterEmulator(WASM, 'retry', { ...FIXED, budget: { ratio: 0.5, min_retries_per_second: 0, window: '10s' } });
      // 1st request: allowance 0.5 → 0 retries; 2nd: 1.0 → 1; 4th: 2.0 → 2 (each given back unused).
      const granted = [];
      for (let i = 0; i < 4; i++) {
        const ex = request(emu);
        granted.push(control(ex)['x-envoy-max-retries'][0]);
        ex.respond(attempts(1));
      }
      expect(granted).toEqual(['0', '1', '1', '2']);
      const used = request(emu);
      used.respond(attempts(3)); // 2 retries used: allowance 2.5 + 0.5 − 2
      expect(control(request(emu))['x-envoy-max-retries']).toEqual(['1']);
    });

    it('reserves at admission: requests in flight together share what is left, and get back what others did not use', async () => {
      const emu = await filterEmulator(WASM, 'retry', FIXED);
      // No response yet: no retry has happened, but 10 are reserved.
      const open = Array.from({ length: 4 }, () => request(emu));
      expect(open.map(grantedRetries)).toEqual([5, 5, 0, 0]);
      expect(counter(emu, 'retry_budget_exhausted_total')).toBe(2);
      open[0].respond(attempts(2)); // 1 retry of 5 used: 4 come back
      expect(grantedRetries(request(emu))).toBe(4);
      open[2].respond(attempts(1)); // granted nothing: nothing comes back
      expect(grantedRetries(request(emu))).toBe(0);
      open[1].respond(attempts(6)); // all 5 used: nothing comes back
      expect(grantedRetries(request(emu))).toBe(0);
      expect(counter(emu, 'retry_retries_total')).toBe(6);
    });

    it('keeps the reservation of a request that ends without a response (reset, client cancel) until its slot leaves the window', async () => {
      const emu = await filterEmulator(WASM, 'retry', FIXED);
      const cancelled = request(emu);
      expect(grantedRetries(cancelled)).toBe(5);
      emu.completeHttpContext(cancelled.id); // proxy_on_log, proxy_on_done, proxy_on_delete: the router may have retried meanwhile
      emu.advanceClock(5_000);
      expect(grantedRetries(request(emu))).toBe(5);
      expect(grantedRetries(request(emu))).toBe(0);
      emu.advanceClock(5_100); // the cancelled request's slot has left the window, the others' not
      expect(grantedRetries(request(emu))).toBe(5);
    });

    it('keeps the reservation when the response has no x-envoy-attempt-count, and warns once per VM for upstream responses', async () => {
      const emu = await filterEmulator(WASM, 'retry', { ...FIXED, budget: { ratio: 0, min_retries_per_second: 3, window: '10s' } }); // 30 retries
      // A later filter's local reply never has it: kept, no warning.
      const local = request(emu);
      emu.getStreamInfo(local.id).responseCodeDetails = 'direct_response';
      local.respond();
      expect(emu.getLogs(LogLevel.Warn)).toEqual([]);
      // Upstream responses on a route without include_attempt_count_in_response: kept, warned once.
      for (let i = 0; i < 3; i++) {
        const ex = request(emu);
        emu.getStreamInfo(ex.id).responseCodeDetails = 'via_upstream';
        ex.respond();
      }
      expect(emu.getLogs(LogLevel.Warn)).toEqual([
        'retry: a response carries no x-envoy-attempt-count, so the budget keeps every retry it reserved; set include_attempt_count_in_response on the route\'s virtual host',
      ]);
      // 20 of 30 still reserved.
      expect([request(emu), request(emu), request(emu)].map(grantedRetries)).toEqual([5, 5, 0]);
      expect(counter(emu, 'retry_retries_total')).toBe(0);
    });

    it('gives back to the slot it reserved in, and nothing once that slot has left the window', async () => {
      const emu = await filterEmulator(WASM, 'retry', FIXED);
      const early = request(emu); // 5 reserved at t0
      emu.advanceClock(5_000);
      const late = request(emu); // 5 reserved at t0 + 5 s
      early.respond(attempts(1)); // early's 5 return to t0's slot
      expect(grantedRetries(request(emu))).toBe(5); // reserved at t0 + 5 s: that slot holds 10
      emu.advanceClock(5_100);
      // t0's slot has left the window; had the give-back gone to the slot of now, 5 would be free.
      expect(grantedRetries(request(emu))).toBe(0);
      emu.advanceClock(5_000); // t0 + 5 s has left too: its 10 with it
      expect([request(emu), request(emu)].map(grantedRetries)).toEqual([5, 5]);
      late.respond(attempts(1)); // late's slot is gone: nothing to give back, nothing freed
      expect(grantedRetries(request(emu))).toBe(0);
    });

    it('is one budget for the VMs of every worker (one shared-data store)', async () => {
      const [a, b] = await filterWorkers(2, WASM, 'retry', FIXED);
      const first = request(a);
      first.respond(attempts(6));
      const second = request(b);
      expect(control(second)['x-envoy-max-retries']).toEqual(['5']);
      second.respond(attempts(6));
      expect(control(request(a))['x-envoy-max-retries']).toEqual(['0']);
      expect(control(request(b))['x-envoy-max-retries']).toEqual(['0']);
    });

    it('never grants two workers the same last retries: a reservation decided on a record another worker changed is decided again (CAS)', async () => {
      const [a, b] = await filterWorkers(2, WASM, 'retry', FIXED);
      let fromB: number[] = [];
      // a reads the record (nothing reserved) and would write its 5; b reserves all 10 first.
      // A write ignoring the CAS it read would grant a its 5 too: 15 retries for a budget of 10.
      a.beforeNextHostcall('proxy_set_shared_data', () => {
        fromB = [grantedRetries(request(b)), grantedRetries(request(b))];
      });
      const fromA = grantedRetries(request(a));
      expect([fromB, fromA]).toEqual([[5, 5], 0]);
      expect(counter(a, 'retry_budget_exhausted_total')).toBe(1);
    });

    it('loses no give-back when two workers return retries at once (CAS)', async () => {
      const [a, b] = await filterWorkers(2, WASM, 'retry', FIXED);
      const [ra, rb] = [request(a), request(b)];
      expect([ra, rb].map(grantedRetries)).toEqual([5, 5]);
      // a reads 10 reserved and would write 5; b's give-back (10 -> 5) lands first. A write
      // ignoring the CAS it read would leave 5 reserved, and grant only 5 below.
      a.beforeNextHostcall('proxy_set_shared_data', () => rb.respond(attempts(1)));
      ra.respond(attempts(1));
      expect([grantedRetries(request(a)), grantedRetries(request(b))]).toEqual([5, 5]);
    });

    it('touches shared data only for a policy that wants retries: one read and one CAS write to reserve, the same to give back', async () => {
      const calls: string[] = [];
      const never = { name: 'never', match: { prefix: '/never' }, max_retries: 0 };
      const emu = await filterEmulator(WASM, 'retry', { ...CONFIG, policies: [never, ...CONFIG.policies] }, { onHostcall: (name) => void (name.endsWith('_shared_data') && calls.push(name.slice('env.proxy_'.length))) });
      const during = (run: () => void): string[] => {
        calls.length = 0;
        run();
        return [...calls];
      };
      let ex: Exchange;
      const send = (headers: Record<string, string>) => () => void (ex = request(emu, { headers }));
      const answer = (n?: number) => () => void ex.respond(attempts(n));
      expect(during(send({ ':method': 'DELETE', ':path': '/api/documents/1' }))).toEqual([]); // no policy
      expect(during(answer(3))).toEqual([]);
      expect(during(send({ ':path': '/never/1' }))).toEqual([]); // max_retries: 0
      expect(during(answer(1))).toEqual([]);
      expect(during(send({ ':method': 'POST', ':path': '/api/transactions' }))).toEqual([]); // idempotency guard
      expect(during(answer(1))).toEqual([]);
      expect(during(send({ ':path': '/api/documents/2' }))).toEqual(['get_shared_data', 'set_shared_data']);
      expect(during(answer(6))).toEqual([]); // all used: nothing to give back
      expect(during(send({ ':path': '/api/documents/3' }))).toEqual(['get_shared_data', 'set_shared_data']);
      expect(during(answer(2))).toEqual(['get_shared_data', 'set_shared_data']); // 4 given back
      expect(during(send({ ':path': '/api/documents/4' }))).toEqual(['get_shared_data', 'set_shared_data']);
      expect(during(answer())).toEqual([]); // no attempt count: kept
    });

    it('does not let a forged x-envoy-attempt-count drain the budget beyond the retries allowed', async () => {
      const emu = await filterEmulator(WASM, 'retry', FIXED);
      request(emu).respond(attempts(1_000_000));
      expect(counter(emu, 'retry_retries_total')).toBe(5);
      expect(control(request(emu))['x-envoy-max-retries']).toEqual(['5']);
      for (const junk of ['abc', '-3', '', '2.5', '99999999999999999999', '\u0000']) {
        const s = request(emu, { headers: { ':method': 'HEAD' } });
        s.respond(attempts(junk));
      }
      expect(counter(emu, 'retry_retries_total')).toBe(5);
    });

    it('recovers from garbage in its shared-data record', async () => {
      const emu = await filterEmulator(WASM, 'retry', FIXED);
      const key = 'retry.budget';
      const record = emu.getSharedData(key)!.value;
      expect(mustDecode(BUDGET, record).newest).toBe(-1n); // the empty window written at configure time
      for (const garbage of ['', 'x', Buffer.alloc(record.length, 0xff), Buffer.alloc(5000, 7)]) {
        emu.setSharedData(key, garbage);
        const ex = request(emu);
        expect(control(ex)['x-envoy-max-retries']).toEqual(['5']);
        ex.respond(attempts(2));
      }
      const slots = mustDecode(BUDGET, emu.getSharedData(key)?.value).slots as Array<{ requests: number }>;
      expect(slots.reduce((n, s) => n + s.requests, 0)).toBe(1); // the last request, on a window started afresh
      expect(emu.vmFailed).toBe(false);
    });
  });

  describe('never traps', () => {
    it('on hostile requests and responses', async () => {
      const emu = await filterEmulator(WASM, 'retry', CONFIG);
      const big = 'x'.repeat(256 * 1024);
      const hostile: Array<Record<string, string>> = [
        {},
        { ':method': '', ':path': '' },
        { ':method': 'POST', ':path': '/api/transactions', 'idempotency-key': big },
        { ':method': 'GÉT', ':path': '/\u0000\uffff' },
        { ':method': 'POST', ':path': '/mesh.test.v1.EchoService/Echo', 'content-type': big },
        { ':method': 'GET', ':path': big, 'x-envoy-max-retries': big, 'x-envoy-retry-on': '\u00ff\u00fe' },
      ];
      for (const h of hostile) {
        const id = emu.initializeHttpContext();
        emu.callOnRequestHeaders(id, h, false);
        emu.callOnResponseHeaders(id, { ':status': 'abc', 'x-envoy-attempt-count': big }, false);
        emu.callOnResponseHeaders(id, {}, true);
        emu.completeHttpContext(id);
      }
      // Response before any request headers (a local reply from an earlier filter).
      const early = emu.initializeHttpContext();
      emu.callOnResponseHeaders(early, { ':status': '503', 'x-envoy-attempt-count': '4' }, true);
      emu.completeHttpContext(early);
      expect(emu.vmFailed).toBe(false);
      expect(emu.getLogs(LogLevel.Critical)).toEqual([]);
    });

    it('keeps its memory flat over 100 000 requests', async () => {
      const emu = await filterEmulator(WASM, 'retry', CONFIG);
      const memory = emu.plugin.wasm.exports.memory as WebAssembly.Memory;
      const cycle = (i: number) => {
        const id = emu.initializeHttpContext();
        const post = i % 3 === 0;
        emu.callOnRequestHeaders(id, { ':method': post ? 'POST' : 'GET', ':path': post ? '/api/transactions' : `/api/credit-bureau/${i}`, 'idempotency-key': String(i), 'x-envoy-max-retries': '7' }, true);
        emu.callOnResponseHeaders(id, { ':status': '200', 'x-envoy-attempt-count': String(1 + (i % 3)) }, true);
        emu.completeHttpContext(id);
        if (i % 1000 === 0) emu.advanceClock(250);
      };
      for (let i = 0; i < 5_000; i++) cycle(i);
      const warm = memory.buffer.byteLength;
      for (let i = 0; i < 100_000; i++) cycle(i);
      expect(memory.buffer.byteLength).toBe(warm);
      expect(emu.vmFailed).toBe(false);
    }, 60_000);
  });

  describe('metrics', () => {
    it('count requests per policy and retries from x-envoy-attempt-count', async () => {
      const emu = await filterEmulator(WASM, 'retry', { policies: CONFIG.policies });
      request(emu, { headers: { ':method': 'GET' } }).respond(attempts(3));
      request(emu, { headers: { ':method': 'GET' } }).respond(attempts(1));
      request(emu, { headers: { ':method': 'POST', ':path': '/api/transactions', 'idempotency-key': 'k' } }).respond(attempts(2));
      request(emu, { headers: { ':method': 'DELETE' } }).respond(attempts(4)); // no policy: filter-wide counters only
      const policy = (what: string, name: string) => counter(emu, `retry_policy_${what}_total`, { policy: name });
      expect([policy('requests', 'reads'), policy('retried_requests', 'reads'), policy('retries', 'reads')]).toEqual([2, 1, 2]);
      expect([policy('requests', 'financial-transactions'), policy('retries', 'financial-transactions')]).toEqual([1, 1]);
      expect([counter(emu, 'retry_retried_requests_total'), counter(emu, 'retry_retries_total'), counter(emu, 'retry_budget_exhausted_total')]).toEqual([3, 6, 0]);
    });

    it('use stat_prefix', async () => {
      const emu = await filterEmulator(WASM, 'retry', { stat_prefix: 'edge_retry', policies: [{ name: 'all', max_retries: 1, retry_on: ['reset'] }] });
      request(emu).respond(attempts(2));
      expect(counter(emu, 'edge_retry_policy_retries_total', { policy: 'all' })).toBe(1);
      expect(counter(emu, 'edge_retry_retries_total')).toBe(1);
    });
  });
});
