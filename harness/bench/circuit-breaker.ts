/**
 * circuit-breaker cost per request (`npm run bench circuit-breaker`): µs per whole stream
 * (create, request headers, response headers, log, delete) through
 * build/circuit-breaker.wasm on the project's host (`WasmEmulator`), in each state that
 * costs something different, against the SDK example filter (build/test/example.wasm:
 * adds a header each way, bumps a counter) driven the same way in the same run; and the
 * module's size against the 40 KB goal.
 *
 * What each case pays for:
 * - `closed`: one shared-data read at admission and one at completion, no write (a
 *   healthy circuit whose only trigger is consecutive failures);
 * - `closed_rate_window`: the same plus one CAS write per completion (the sliding window);
 * - `closed_bulkhead`: a CAS write at admission and one at completion;
 * - `open`: one read, then the local reply (which also runs the response path);
 * - `open_fallback`: one read, the filter state set and a request header removed, the request sent on;
 * - `no_service`: a request no service matches (path read and compared).
 */
import path from 'node:path';
import { projectRoot } from '../build.ts';
import { WasmEmulator } from '../host/emulator.ts';
import { microsInTurns, moduleSize, round, type BenchSuite } from './report.ts';

const WASM = path.join(projectRoot, 'build/circuit-breaker.wasm');
const EXAMPLE = path.join(projectRoot, 'build/test/example.wasm');
const SIZE_GOAL_BYTES = 40 * 1024;

const REQUEST: Array<[string, string]> = [
  [':method', 'GET'],
  [':path', '/api/credit-bureau/report?id=7'],
  [':authority', 'mesh.local'],
  [':scheme', 'http'],
  ['user-agent', 'bench'],
  ['x-request-id', 'r-1'],
];
const OTHER: Array<[string, string]> = REQUEST.map(([k, v]) => [k, k === ':path' ? '/api/documents/1' : v]);

const CREDIT_BUREAU = { name: 'credit-bureau', match: { prefix: '/api/credit-bureau' }, failure_threshold: 3, open_duration: '3600s', half_open_requests: 3, timeout: '10s' };
const BANKING = { name: 'banking', match: { prefix: '/api/banking' }, failure_threshold: 5, open_duration: '30s', half_open_requests: 3, timeout: '15s' };

function load(wasm: string, config: unknown, rootId: string): Promise<WasmEmulator> {
  return WasmEmulator.create({ wasm, rootId, logLevel: 2, pluginConfiguration: typeof config === 'string' ? config : JSON.stringify(config) });
}

/** One stream answered with `status` unless the filter replied itself. */
function stream(emu: WasmEmulator, headers: Array<[string, string]>, status: string): void {
  const id = emu.initializeHttpContext();
  emu.callOnRequestHeaders(id, headers, true);
  if (!emu.getSentLocalResponse(id)) emu.callOnResponseHeaders(id, [[':status', status]], true);
  emu.completeHttpContext(id);
}

async function breaker(service: Record<string, unknown>, openIt = false): Promise<WasmEmulator> {
  const emu = await load(WASM, { services: [BANKING, { ...CREDIT_BUREAU, ...service }] }, 'circuit-breaker');
  if (openIt) for (let i = 0; i < 3; i++) stream(emu, REQUEST, '503');
  return emu;
}

export const suite: BenchSuite = {
  name: 'circuit-breaker',
  description: 'circuit-breaker: µs per request through the wasm filter on the host (CLOSED, OPEN, ...) vs the SDK example filter; module size',
  async run(): Promise<Record<string, unknown>> {
    const iterations = 20_000;
    const reference = await load(EXAMPLE, '', 'example');
    const cases: Record<string, () => void> = {};
    const closed = await breaker({});
    cases.closed = () => stream(closed, REQUEST, '200');
    const windowed = await breaker({ failure_rate_threshold: 50, slow_call_rate_threshold: 80, slow_call_duration: '2s' });
    cases.closed_rate_window = () => stream(windowed, REQUEST, '200');
    const bulkhead = await breaker({ max_concurrent_requests: 100 });
    cases.closed_bulkhead = () => stream(bulkhead, REQUEST, '200');
    const open = await breaker({}, true);
    cases.open = () => stream(open, REQUEST, '200');
    const fallback = await breaker({ open_action: { fallback_filter_state: { key: 'wasm.circuit_breaker.fallback', value: '1' } } }, true);
    cases.open_fallback = () => stream(fallback, REQUEST, '200');
    cases.no_service = () => stream(closed, OTHER, '200');

    // Rounds alternate between the cases, so that load from elsewhere on the machine
    // weighs on every case alike; each figure is the median of its rounds.
    const all: Record<string, () => void> = { reference: () => stream(reference, REQUEST, '200'), ...cases };
    const us = microsInTurns(all, iterations >> 3, { rounds: 7, warmup: iterations >> 2 });
    const referenceUs = us.reference;
    const perRequest: Record<string, { us: number; ratio_to_reference: number }> = {};
    for (const name of Object.keys(cases)) perRequest[name] = { us: round(us[name]), ratio_to_reference: round(us[name] / referenceUs) };
    if (open.getCounterValue('service=.=credit-bureau;.;outcome=.=rejected_open;.;circuit_breaker_requests_total') === 0n) throw new Error('bench: the open case never rejected');
    if (open.vmFailed || closed.vmFailed) throw new Error('bench: a VM failed');
    return { per_request: perRequest, reference_example_filter_us: round(referenceUs), ...moduleSize(WASM, SIZE_GOAL_BYTES) };
  },
};
