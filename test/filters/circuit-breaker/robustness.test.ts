/**
 * circuit-breaker against bad input: configuration rejections (one error line each, the
 * exact text), garbage in shared data, malformed and huge headers, and memory over
 * 100k requests. (Several workers over one store: workers.test.ts.)
 */
import { randomBytes } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { LogLevel } from '../../../harness/host/abi.ts';
import { createWasmPlugin, WasmPluginError } from '../../../harness/host/plugin.ts';
import { SharedState } from '../../../harness/host/shared/shared-state.ts';
import { readFile } from 'node:fs/promises';
import { counter, exchange, filterEmulator, request, testModule } from '../../../harness/host/testing.ts';
import { CIRCUIT_COMPACT, encodeRecord, mustDecode } from '../../../harness/shared-record.ts';
import { CREDIT_BUREAU, sharedState } from './harness.ts';

let wasm = '';
beforeAll(async () => {
  wasm = await testModule('circuit-breaker');
}, 180_000);

const PATH = '/api/credit-bureau/x';
const KEY = 'circuit-breaker/circuit_breaker/credit-bureau';

/** Configures the plugin on the host; returns the error-level lines and whether it refused. */
async function configure(configuration: string): Promise<{ errors: string[]; refused: string | undefined }> {
  const errors: string[] = [];
  let refused: string | undefined;
  try {
    const plugin = await createWasmPlugin(
      { name: 'cb', rootId: 'circuit-breaker', code: await readFile(wasm), configuration },
      { log: (level, message) => void (level >= LogLevel.Error && errors.push(message)), shared: SharedState.create() },
    );
    plugin.close();
  } catch (err) {
    if (!(err instanceof WasmPluginError)) throw err;
    refused = err.message;
  }
  return { errors, refused };
}

describe('configuration rejected with one error line: circuit-breaker: <path>: <reason>', () => {
  const cases: [string, string][] = [
    ['', 'circuit-breaker: configuration is empty, expected a JSON object'],
    ['{"services":[{"name":"a"}],"stat_prefix":7}', 'circuit-breaker: stat_prefix: expected a non-empty string'],
    ['{"services":[{"name":"a","failure_treshold":3}]}', 'circuit-breaker: services[0].failure_treshold: unknown field'],
    ['{"services":[{"name":"a","open_duration":"60"}]}', 'circuit-breaker: services[0].open_duration: expected a duration like "60s"'],
    ['{"services":[{"name":"a"},{"name":"b","failure_rate_threshold":150}]}', 'circuit-breaker: services[1].failure_rate_threshold: expected a number between 0 and 100'],
    ['{"services":[{"name":"a","failure_threshold":0}]}', 'circuit-breaker: services[0]: nothing to do: set failure_threshold, failure_rate_threshold, slow_call_rate_threshold or max_concurrent_requests above 0'],
    ['{"services":[{"name":"a","open_action":{"fallback_header":{"name":"x-fallback","value":"1"}}}]}', 'circuit-breaker: services[0].open_action.fallback_header: replaced by fallback_filter_state (a client can send a header itself; README "circuit-breaker")'],
    ['{"services":[{"name":"a","open_action":{"fallback_filter_state":{"key":"x-fallback","value":"1"}}}]}', 'circuit-breaker: services[0].open_action.fallback_filter_state.key: expected "wasm.<name>" (printable ASCII, no spaces)'],
    ['{"services":[{"name":"a","open_response":{"headers":{"retry-after":"1"}}}]}', 'circuit-breaker: services[0].open_response.headers.retry-after: set by the filter, cannot be configured'],
  ];
  it.each(cases)('%s', async (configuration, line) => {
    const { errors, refused } = await configure(configuration);
    expect(errors).toEqual([line]);
    expect(refused).toBe(line);
  });

  it('accepts the seeds configuration without an error line', async () => {
    const { errors, refused } = await configure(JSON.stringify({ services: [CREDIT_BUREAU] }));
    expect(errors).toEqual([]);
    expect(refused).toBeUndefined();
  });
});

describe('hostile input never traps', () => {
  it('reads garbage in shared data as a fresh CLOSED circuit and replaces it', async () => {
    const emu = await filterEmulator(wasm, 'circuit-breaker', { services: [{ ...CREDIT_BUREAU, failure_threshold: 2 }] });
    const record = Buffer.from(emu.getSharedData(KEY)!.value);
    const badState = encodeRecord(CIRCUIT_COMPACT, { ...mustDecode(CIRCUIT_COMPACT, record), state: 9 }); // a well-formed header (no rate trigger: the compact record), a state no worker writes
    const garbage = [randomBytes(1), randomBytes(record.length), randomBytes(record.length + 1), Buffer.alloc(0), badState];
    for (const value of garbage) {
      expect(emu.setSharedData(KEY, value)).toBe(0);
      expect(exchange(emu, { path: PATH }, 200).reply).toBeUndefined();
      exchange(emu, { path: PATH }, 503);
      exchange(emu, { path: PATH }, 503);
      expect(sharedState(emu, 'credit-bureau')).toBe(1); // a well-formed record again, opened
      expect(exchange(emu, { path: PATH }, 200).reply?.status).toBe(503);
    }
    expect(emu.vmFailed).toBe(false);
  });

  it('takes malformed, missing or odd :status values as not failures', async () => {
    const emu = await filterEmulator(wasm, 'circuit-breaker', { services: [{ ...CREDIT_BUREAU, failure_threshold: 1 }] });
    for (const status of ['', 'abc', '5030', '50', '-503', '503 ', '\u00ff\u00ff\u00ff', '999']) {
      const ex = request(emu, { path: PATH });
      emu.callOnResponseHeaders(ex.id, { ':status': status }, true);
      ex.complete();
    }
    const noStatus = request(emu, { path: PATH });
    emu.callOnResponseHeaders(noStatus.id, { 'content-type': 'text/plain' }, true);
    noStatus.complete();
    expect(sharedState(emu, 'credit-bureau')).toBe(0);
    expect(emu.vmFailed).toBe(false);
  });

  it('handles huge and odd request headers, and callbacks in an unexpected order', async () => {
    const emu = await filterEmulator(wasm, 'circuit-breaker', {
      open_action: { fallback_filter_state: { key: 'wasm.circuit_breaker.fallback', value: '1' } },
      services: [{ ...CREDIT_BUREAU, match: { prefix: '/api/credit-bureau', headers: [{ name: 'x-tier', prefix: 'gold' }] } }],
    });
    const huge = 'v'.repeat(256 * 1024);
    exchange(emu, { path: `/api/credit-bureau/${huge}`, headers: { 'x-tier': `gold${huge}`, 'x-fallback': huge, 'x-envoy-upstream-rq-timeout-ms': huge } }, 503);
    exchange(emu, { path: '/api/credit-bureau/\u00ff\u0000', headers: { 'x-tier': 'gold' } }, 503);
    // no :path, no :method at all
    const id = emu.initializeHttpContext();
    emu.callOnRequestHeaders(id, {}, true);
    emu.callOnResponseHeaders(id, { ':status': '503' }, true);
    emu.completeHttpContext(id);
    // response headers twice, log without request headers
    const twice = request(emu, { path: PATH, headers: { 'x-tier': 'gold' } });
    emu.callOnResponseHeaders(twice.id, { ':status': '200' }, false);
    emu.callOnResponseHeaders(twice.id, { ':status': '503' }, true);
    twice.complete();
    emu.completeHttpContext(emu.initializeHttpContext());
    expect(emu.vmFailed).toBe(false);
    expect(sharedState(emu, 'credit-bureau')).toBe(0); // 2 failures, then a success (the first :status wins)
  });

  it('keeps memory flat over 100k requests through every state', async () => {
    const emu = await filterEmulator(wasm, 'circuit-breaker', {
      services: [
        { name: 'by-cluster', cluster: 'elsewhere', failure_threshold: 1 }, // every stream keeps what the response picks again from
        { ...CREDIT_BUREAU, failure_rate_threshold: 50, slow_call_rate_threshold: 90, max_concurrent_requests: 50, open_duration: '1s' },
      ],
    });
    const memory = () => emu.plugin.wasm.mem.size;
    let opened = 0;
    const run = (n: number) => {
      for (let i = 0; i < n; i++) {
        const ex = request(emu, { path: PATH });
        if (ex.reply) opened++;
        ex.respond(i % 7 < 3 ? 503 : 200);
        if (i % 50 === 0) emu.advanceClock(100);
      }
    };
    run(5_000);
    const warm = memory();
    run(100_000);
    expect(memory()).toBe(warm);
    expect(opened).toBeGreaterThan(1000); // the run did go through OPEN
    expect(counter(emu, 'circuit_breaker_transitions_total', { service: 'credit-bureau', state: 'closed' })).toBeGreaterThan(0);
    expect(emu.vmFailed).toBe(false);
  }, 60_000);
});
