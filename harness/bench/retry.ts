/**
 * retry cost per request (`npm run bench retry`): CPU µs per whole stream (create, request
 * headers, response headers, log, delete) through build/retry.wasm on the project's host
 * (`WasmEmulator`, not HTTP), against the SDK example filter (build/test/example.wasm:
 * adds a header each way, bumps a counter) driven the same way in the same run; and the
 * module's size against the 40 KB goal.
 *
 * What each case pays for (filters.md's example configuration, with a budget):
 * - `read`: a GET: policy match, one shared-data read and CAS write to reserve its retries,
 *   and at the response one read and CAS write to give back the 5 it did not use; four
 *   header writes, four header removals, one attempt-count read, one counter;
 * - `read_retried`: the same answered after 3 attempts: reserve, then give back 2, and
 *   three more counters;
 * - `post_guarded`: a POST without an idempotency key (key lookup, `x-envoy-max-retries: 0`,
 *   no shared data);
 * - `grpc`: a gRPC call (content-type read, `x-envoy-retry-grpc-on` written; reserve, give
 *   back 3);
 * - `no_policy`: a request no policy matches (every policy tried, headers removed, no shared
 *   data);
 * - `read_no_budget`: `read` without a budget (no shared data at all).
 */
import path from 'node:path';
import { projectRoot } from '../build.ts';
import { WasmEmulator } from '../host/emulator.ts';
import { microsInTurns, moduleSize, round, type BenchSuite } from './report.ts';

const WASM = path.join(projectRoot, 'build/retry.wasm');
const EXAMPLE = path.join(projectRoot, 'build/test/example.wasm');
const SIZE_GOAL_BYTES = 40 * 1024;

const POLICIES = [
  {
    name: 'financial-transactions',
    match: { prefix: '/api/transactions', methods: ['POST', 'PUT'] },
    max_retries: 2,
    retry_on: ['connect-failure', 'refused-stream', 'reset'],
    per_try_timeout: '5s',
    timeout: '20s',
    idempotency_header: 'idempotency-key',
  },
  { name: 'grpc', match: { prefix: '/zoptal.' }, max_retries: 3, retry_on: ['connect-failure'], retry_grpc_on: ['unavailable', 'resource-exhausted'] },
  {
    name: 'reads',
    match: { methods: ['GET', 'HEAD', 'OPTIONS'] },
    max_retries: 5,
    retry_on: ['5xx', 'gateway-error', 'connect-failure', 'reset', 'retriable-status-codes'],
    retriable_status_codes: [429],
    per_try_timeout: '2s',
  },
];
// A budget the bench never exhausts, so every case keeps its full path.
const BUDGET = { ratio: 100, min_retries_per_second: 10, window: '10s' };

type Headers = Array<[string, string]>;
const base = (method: string, p: string, extra: Headers = []): Headers => [
  [':method', method],
  [':path', p],
  [':authority', 'mesh.local'],
  [':scheme', 'http'],
  ['user-agent', 'bench'],
  ['x-request-id', 'r-1'],
  ...extra,
];
const GET = base('GET', '/api/credit-bureau/report?id=7');
const POST = base('POST', '/api/transactions', [['content-type', 'application/json']]);
const GRPC = base('POST', '/zoptal.project.v1.ProjectService/GetProject', [['content-type', 'application/grpc'], ['te', 'trailers']]);
const DELETE = base('DELETE', '/api/documents/1');

function load(wasm: string, config: unknown, rootId: string): Promise<WasmEmulator> {
  return WasmEmulator.create({ wasm, rootId, logLevel: 2, pluginConfiguration: typeof config === 'string' ? config : JSON.stringify(config) });
}

function stream(emu: WasmEmulator, request: Headers, response: Headers): void {
  const id = emu.initializeHttpContext();
  emu.callOnRequestHeaders(id, request, true);
  emu.callOnResponseHeaders(id, response, true);
  emu.completeHttpContext(id);
}

export const suite: BenchSuite = {
  name: 'retry',
  description: 'CPU µs per request through the wasm filter on the host (per policy, with and without budget) vs the SDK example filter; module size',
  async run(): Promise<Record<string, unknown>> {
    const iterations = 4_000;
    const once: Headers = [[':status', '200'], ['x-envoy-attempt-count', '1']];
    const thrice: Headers = [[':status', '200'], ['x-envoy-attempt-count', '3']];
    const reference = await load(EXAMPLE, '', 'example');
    const withBudget = await load(WASM, { policies: POLICIES, budget: BUDGET }, 'retry');
    const noBudget = await load(WASM, { policies: POLICIES }, 'retry');
    const { reference: referenceUs, ...timed } = microsInTurns({
      reference: () => stream(reference, GET, once),
      read: () => stream(withBudget, GET, once),
      read_retried: () => stream(withBudget, GET, thrice),
      post_guarded: () => stream(withBudget, POST, once),
      grpc: () => stream(withBudget, GRPC, once),
      no_policy: () => stream(withBudget, DELETE, once),
      read_no_budget: () => stream(noBudget, GET, once),
    }, iterations, { rounds: 15, warmup: iterations, clock: 'cpu' });
    const perRequest: Record<string, { us: number; ratio_to_reference: number; over_reference_us: number }> = {};
    for (const [name, us] of Object.entries(timed)) {
      perRequest[name] = { us: round(us), ratio_to_reference: round(us / referenceUs), over_reference_us: round(us - referenceUs) };
    }
    if (withBudget.getCounterValue('retry_idempotency_guarded_total') === 0n) throw new Error('bench: the guard never applied');
    if (withBudget.getCounterValue('retry_budget_exhausted_total') !== 0n) throw new Error('bench: the budget ran out');
    if (withBudget.vmFailed || noBudget.vmFailed) throw new Error('bench: a VM failed');
    return { per_request: perRequest, reference_example_filter_us: round(referenceUs), ...moduleSize(WASM, SIZE_GOAL_BYTES) };
  },
};
