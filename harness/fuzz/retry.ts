/**
 * Fuzz target `retry` (build/retry.wasm): generated and perturbed policies and budgets,
 * requests of every method with and without idempotency keys, gRPC and odd
 * `content-type`s, internal requests carrying their own router headers (repeated, odd),
 * upstream answers with odd statuses and missing, repeated or odd
 * `x-envoy-attempt-count`, resets, bodies in odd chunks, the fake clock moving through
 * the budget's window, one to three worker VMs, and requests of one worker run between
 * another's read of the budget record and its CAS write.
 *
 * The oracle (filters.md and README "retry"): the first matching policy; the idempotency
 * guard (a method RFC 9110 §9.2.2 does not call idempotent, without a non-empty key:
 * `x-envoy-max-retries: 0`); the budget arithmetic — a request is admitted into the slot
 * of now of a window of 10 slots, and is granted min(wanted, ⌊ratio × requests +
 * min_retries_per_second × window − retries reserved⌋) (0 when that is ≤ 0), the
 * reservation given back, to its slot while that slot is in the window, by what the
 * response's attempt count shows unused; then exactly the router headers the policy
 * implies (and, on internal requests, none of a client's); at the end every counter.
 */
import path from 'node:path';
import { chooseConfig, setField, unknownField, type Breaker } from './configs.ts';
import type { Rng } from './json-gen.ts';
import { genMatch, genPath, matches, METHODS, RequestView, type Match } from './match.ts';
import { oddChunks, oddHeaders, oddValue, type Pair } from './odd.ts';
import { expectMetric, PROJECT_ROOT, type FilterTarget, type FuzzCase, headersOf, START_MS, type SessionRun, tagged } from './session.ts';

interface PolicyConfig {
  name: string;
  match?: Match;
  max_retries?: number;
  retry_on?: string[];
  retry_grpc_on?: string[];
  retriable_status_codes?: number[];
  per_try_timeout?: string;
  timeout?: string;
  idempotency_header?: string;
}
interface RetryConfig {
  policies?: PolicyConfig[];
  budget?: { ratio?: number; min_retries_per_second?: number; window?: string };
  strip_downstream_retry_headers?: boolean;
  stat_prefix?: string;
}

export type RetryStep =
  | {
      t: 'req';
      w: number;
      headers: Pair[];
      body?: string[];
      response: Pair[] | 'reset';
      responseBody?: string[];
      /**
       * Another worker's whole request, run while this one is between its read of the
       * budget record and its compare-and-swap write: the write must fail and the
       * reservation be made again on the other worker's record.
       */
      during?: RetryStep;
    }
  | { t: 'clock'; ms: number };

const HTTP_ON = ['5xx', 'gateway-error', 'reset', 'reset-before-request', 'connect-failure', 'envoy-ratelimited', 'retriable-4xx', 'refused-stream', 'retriable-status-codes', 'retriable-headers', 'http3-post-connect-failure'];
const GRPC_ON = ['cancelled', 'deadline-exceeded', 'internal', 'resource-exhausted', 'unavailable'];
/** The router's control headers, in the filter's order (headers.ts `CONTROL_HEADERS`). */
const CONTROL = [
  'x-envoy-max-retries', 'x-envoy-retry-on', 'x-envoy-retry-grpc-on', 'x-envoy-retriable-status-codes',
  'x-envoy-upstream-rq-timeout-ms', 'x-envoy-upstream-rq-per-try-timeout-ms', 'x-envoy-retriable-header-names',
  'x-envoy-hedge-on-per-try-timeout',
];
const IDEMPOTENT = new Set(['GET', 'HEAD', 'PUT', 'DELETE', 'OPTIONS', 'TRACE']);
const SLOTS = 10;

// ---- configuration ----------------------------------------------------------------

function ms(n: number): string {
  return n % 1000 === 0 ? `${n / 1000}s` : `${Math.floor(n / 1000)}.${String(n % 1000).padStart(3, '0')}s`;
}

function durationMs(text: string): number {
  const [s, f = ''] = text.slice(0, -1).split('.');
  return Number(s) * 1000 + Math.floor(Number((f + '000000000').slice(0, 9)) / 1_000_000);
}

function subset(rng: Rng, items: readonly string[], max: number): string[] {
  const out: string[] = [];
  for (let i = rng.int(max + 1); i > 0; i--) {
    const x = rng.pick(items);
    if (!out.includes(x)) out.push(x);
  }
  return out;
}

function genPolicy(rng: Rng, i: number): PolicyConfig {
  const p: PolicyConfig = { name: rng.pick(['reads', 'writes', 'tx', 'grpc', 'p']) + i + (rng.chance(0.2) ? '-x' : '') };
  const m = genMatch(rng);
  if (m) p.match = m;
  if (rng.chance(0.8)) p.max_retries = rng.chance(0.1) ? rng.pick([0, 100, 50]) : 1 + rng.int(5);
  if (rng.chance(0.8)) p.retry_on = subset(rng, HTTP_ON, 4);
  if (rng.chance(0.3)) p.retry_grpc_on = subset(rng, GRPC_ON, 3);
  if (p.retry_on?.includes('retriable-status-codes') && rng.chance(0.7)) p.retriable_status_codes = [rng.pick([429, 503, 100, 599]), 500];
  if (rng.chance(0.4)) p.timeout = rng.pick(['0s', '20s', '0.0005s', '1.5s', '86400s']);
  if (rng.chance(0.4)) {
    const limit = p.timeout ? durationMs(p.timeout) : 0;
    const per = rng.pick([1, 250, 2000, 5000, 86_400_000]);
    if (limit === 0 || per < limit) p.per_try_timeout = ms(per);
  }
  if (rng.chance(0.4)) p.idempotency_header = rng.pick(['idempotency-key', 'X-Request-Key', 'x-h1']);
  return p;
}

function genConfig(rng: Rng): RetryConfig {
  const c: RetryConfig = {};
  if (rng.chance(0.95)) {
    c.policies = [];
    for (let i = rng.int(5); i >= 0; i--) c.policies.push(genPolicy(rng, c.policies.length));
  }
  if (rng.chance(0.8)) {
    c.budget = {};
    if (rng.chance(0.8)) c.budget.ratio = rng.pick([0, 0.2, 0.5, 1, 0.1, 100, 0.3333]);
    if (rng.chance(0.8)) c.budget.min_retries_per_second = rng.pick([0, 1, 3, 10, 0.5, 1000000]);
    if (rng.chance(0.7)) c.budget.window = rng.pick(['1s', '10s', '1.5s', '3600s', '2.345s']);
  }
  if (rng.chance(0.3)) c.strip_downstream_retry_headers = rng.chance(0.7);
  if (rng.chance(0.2)) c.stat_prefix = rng.pick(['retry', 'r2', 'edge_retry']);
  return c;
}

const policiesOf = (c: RetryConfig): Array<[string, any]> => (c.policies ?? []).map((p, i) => [`policies[${i}]`, p]);
const budgetOf = (c: RetryConfig): Array<[string, any]> => (c.budget ? [['budget', c.budget]] : []);

const BREAKERS: Breaker[] = [
  unknownField((c) => [['', c], ...policiesOf(c), ...budgetOf(c)]),
  setField(policiesOf, 'max_retries', (rng) => rng.pick([-1, 101, 1.5, '2'])),
  setField(policiesOf, 'retry_on', (rng) => rng.pick([['5XX'], ['unavailable'], ['5xx', '5xx'], 'reset', [1]])),
  setField(policiesOf, 'retry_grpc_on', (rng) => rng.pick([['5xx'], ['Unavailable'], ['internal', 'internal']])),
  setField(policiesOf, 'retriable_status_codes', (rng) => rng.pick([[99], [600], ['503'], 503])),
  setField(policiesOf, 'per_try_timeout', (rng) => rng.pick(['0s', '0.0001s', '86401s', '5', -1])),
  setField(policiesOf, 'timeout', (rng) => rng.pick(['-1s', '86401s', 'x', 20])),
  setField(policiesOf, 'idempotency_header', (rng) => rng.pick(['', 'bad header', 7])),
  setField(policiesOf, 'name', (rng) => rng.pick(['', 'a.b', 'with space', 3])),
  setField(budgetOf, 'ratio', (rng) => rng.pick([-0.1, 100.5, '0.2'])),
  setField(budgetOf, 'min_retries_per_second', (rng) => rng.pick([-1, 1000001, 'x'])),
  setField(budgetOf, 'window', (rng) => rng.pick(['0.5s', '3601s', '10', 10])),
  setField((c) => [['', c]], 'stat_prefix', (rng) => rng.pick(['', '1retry', 'a-b'])),
  setField((c) => [['', c]], 'strip_downstream_retry_headers', (rng) => rng.pick(['yes', 0])),
  setField((c) => [['', c]], 'policies', (rng) => rng.pick([{}, 'x', [1]])),
  (rng, c: RetryConfig) => {
    const list = c.policies ?? [];
    const i = list.findIndex((p) => !p.retry_on?.includes('retriable-status-codes'));
    if (i < 0) return null;
    list[i].retriable_status_codes = [503];
    return `policies[${i}].retriable_status_codes`;
  },
  (rng, c: RetryConfig) => {
    const list = c.policies ?? [];
    if (list.length === 0) return null;
    const i = rng.int(list.length);
    list[i].timeout = '2s';
    list[i].per_try_timeout = rng.pick(['2s', '3s']);
    return `policies[${i}].per_try_timeout`;
  },
  (rng, c: RetryConfig) => {
    const list = c.policies ?? [];
    if (list.length < 2) return null;
    list[1].name = list[0].name.replaceAll('-', rng.chance(0.5) ? '_' : '-');
    return 'policies[1].name';
  },
];

// ---- requests -------------------------------------------------------------------

const CONTENT_TYPES = ['application/grpc', 'application/grpc+proto', 'application/grpc-web', 'application/grpcx', 'Application/grpc', 'application/json', ''];
const ATTEMPTS = ['1', '2', '3', '6', '0', '', '01', '9999999', '1000001', 'abc', ' 2', '2 ', '101', '+1', '-1'];

function genRequest(rng: Rng, workers: number): RetryStep {
  const headers: Pair[] = [[':method', rng.pick([...METHODS, 'POST', 'POST', 'PATCH', 'TRACE', 'CONNECT'])], [':path', genPath(rng)], [':authority', 'mesh'], [':scheme', 'http']];
  if (rng.chance(0.3)) headers.push(['content-type', rng.pick(CONTENT_TYPES)]);
  for (const key of ['idempotency-key', 'x-request-key', 'x-h1']) if (rng.chance(0.3)) headers.push([key, rng.pick(['k1', '', ' ', 'tx-42', '\xff'])]);
  if (rng.chance(0.3)) headers.push(['x-envoy-internal', rng.pick(['true', '', 'false'])]);
  if (rng.chance(0.3)) {
    for (let i = 1 + rng.int(3); i > 0; i--) headers.push([rng.pick(CONTROL), rng.chance(0.7) ? rng.pick(['5', '0', 'reset', '1000', '']) : oddValue(rng)]);
  }
  if (rng.chance(0.2)) headers.push(['x-tier', rng.pick(['premium', 'free'])], ['x-user', 'u1']);
  headers.push(...oddHeaders(rng, ['X-Envoy-Max-Retries', 'idempotency-key'], 64, headers.length));
  const step: RetryStep = { t: 'req', w: rng.int(workers), headers, response: 'reset' };
  if (rng.chance(0.05)) step.body = oddChunks(rng);
  if (rng.chance(0.92)) {
    const response: Pair[] = [[':status', rng.chance(0.9) ? rng.pick(['200', '503', '504', '429']) : oddValue(rng, 8)]];
    if (rng.chance(0.8)) response.push(['x-envoy-attempt-count', rng.chance(0.85) ? rng.pick(ATTEMPTS.slice(0, 4)) : rng.pick(ATTEMPTS)]);
    if (rng.chance(0.03)) response.push(['x-envoy-attempt-count', rng.pick(ATTEMPTS)]);
    response.push(...oddHeaders(rng, [], 0, 2));
    step.response = response;
    if (rng.chance(0.05)) step.responseBody = oddChunks(rng);
  }
  return step;
}

function generate(rng: Rng, streams: number): FuzzCase<RetryStep> {
  const choice = chooseConfig(rng, genConfig(rng), BREAKERS);
  const workers = rng.chance(0.15) ? 2 + rng.int(2) : 1;
  const steps: RetryStep[] = [];
  const clocks = [1, 10, 100, 150, 999, 1000, 1500, 10_000, 3_600_000];
  for (let i = 0; i < streams; i++) {
    if (rng.chance(0.1)) steps.push({ t: 'clock', ms: rng.pick(clocks) });
    const step = genRequest(rng, workers);
    if (step.t === 'req' && workers > 1 && rng.chance(0.1)) step.during = { ...(genRequest(rng, workers) as typeof step), w: (step.w + 1 + rng.int(workers - 1)) % workers };
    steps.push(step);
  }
  return { ...choice, workers, steps };
}

// ---- the model --------------------------------------------------------------------

/** The budget's sliding window of SLOTS slots (budget.ts), as every worker shares it. */
class BudgetModel {
  readonly slotNs: bigint;
  readonly ratio: number;
  readonly minRetries: number;
  newest = -1n;
  readonly requests = new Array<number>(SLOTS).fill(0);
  readonly retries = new Array<number>(SLOTS).fill(0);

  constructor(budget: NonNullable<RetryConfig['budget']>) {
    const windowNs = BigInt(durationMs(budget.window ?? '10s')) * 1_000_000n;
    const slot = windowNs / BigInt(SLOTS);
    this.slotNs = slot > 0n ? slot : 1n;
    this.ratio = budget.ratio ?? 0.2;
    this.minRetries = (budget.min_retries_per_second ?? 3) * (Number(windowNs) / 1e9);
  }

  private advance(now: bigint): void {
    const slot = now > 0n ? now / this.slotNs : 0n;
    if (this.newest >= 0n && slot <= this.newest) return;
    const gap = this.newest < 0n ? BigInt(SLOTS) : slot - this.newest;
    for (let s = gap >= BigInt(SLOTS) ? slot - BigInt(SLOTS) + 1n : this.newest + 1n; s <= slot; s++) {
      const i = Number(s % BigInt(SLOTS));
      this.requests[i] = 0;
      this.retries[i] = 0;
    }
    this.newest = slot;
  }

  /** Counts a request wanting `wanted` retries; returns [granted, slot]. */
  admit(wanted: number, now: bigint): [number, bigint] {
    this.advance(now);
    const i = Number(this.newest % BigInt(SLOTS));
    this.requests[i]++;
    const total = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
    const remaining = Math.floor(this.ratio * total(this.requests) + this.minRetries - total(this.retries));
    const granted = remaining <= 0 ? 0 : Math.min(wanted, remaining);
    this.retries[i] += granted;
    return [granted, this.newest];
  }

  giveBack(slot: bigint, n: number, now: bigint): void {
    this.advance(now);
    if (n === 0 || slot < 0n || slot > this.newest || this.newest - slot >= BigInt(SLOTS)) return;
    const i = Number(slot % BigInt(SLOTS));
    this.retries[i] = Math.max(0, this.retries[i] - n);
  }
}

/** The digits of `x-envoy-attempt-count` (headers.ts `parseAttemptCount`): 1..10^6, else 0. */
function attemptCount(value: string | undefined): number {
  if (value === undefined || !/^[0-9]{1,7}$/.test(value)) return 0;
  const n = Number(value);
  return n <= 1_000_000 ? n : 0;
}

const join = (xs: readonly (string | number)[] | undefined): string | undefined => (xs && xs.length > 0 ? xs.join(',') : undefined);

// ---- execution --------------------------------------------------------------------

async function execute(c: FuzzCase<RetryStep>, run: SessionRun): Promise<void> {
  const config = JSON.parse(c.config) as RetryConfig;
  const policies = config.policies ?? [];
  const budget = config.budget ? new BudgetModel(config.budget) : null;
  const strip = config.strip_downstream_retry_headers ?? true;
  const prefix = config.stat_prefix ?? 'retry';
  const counts: Record<string, number> = {};
  const add = (name: string, n = 1) => void (counts[name] = (counts[name] ?? 0) + n);
  let mono = 0;
  /** One whole request: the model's policy and reservation, the filter's headers, the response. */
  const exchange = (step: Extract<RetryStep, { t: 'req' }>): void => {
    const emu = run.emus[step.w % run.emus.length];
    const now = BigInt(START_MS + mono) * 1_000_000n;
    const view = new RequestView(step.headers);
    const index = policies.findIndex((p) => matches(p.match, view));
    const policy = index >= 0 ? policies[index] : undefined;
    const id = emu.initializeHttpContext();
    let called = false;
    const callFilter = () => {
      called = true;
      emu.callOnRequestHeaders(id, step.headers, !step.body);
    };
    // What the filter writes: control header → value.
    const written = new Map<string, string>();
    let retriesSet = -1;
    let reserved = 0;
    let slot = -1n;
    if (policy) {
      add(`${policy.name}:requests`);
      let retries = policy.max_retries ?? 1;
      const keyName = policy.idempotency_header?.toLowerCase();
      if (keyName !== undefined && retries > 0 && !(view.raw(keyName) ?? '') && !IDEMPOTENT.has(view.method)) {
        retries = 0;
        add('idempotency_guarded');
        run.count('idempotency guard');
      }
      if (budget && retries > 0) {
        const during = step.during;
        if (during?.t === 'req' && run.emus.length > 1) {
          // The other worker's request comes first, in the model as in the filter (which loses the CAS and reserves again).
          let ran = false;
          emu.beforeNextHostcall('proxy_set_shared_data', () => {
            exchange(during);
            run.result.streams++;
            ran = true;
          }, { key: `${prefix}.budget` });
          callFilter();
          if (!ran) run.fail(`policy ${policy.name}: the filter wrote no budget reservation`);
          run.count('interleaved');
        }
        const [granted, at] = budget.admit(retries, now);
        if (granted < retries) {
          add('budget_exhausted');
          run.count(granted === 0 ? 'budget exhausted' : 'budget cut');
        }
        retries = reserved = granted;
        slot = at;
      }
      retriesSet = retries;
      run.count(retries > 0 ? 'retries granted' : 'no retries');
      written.set(CONTROL[0], String(retries));
      if (retries > 0) {
        const on = join(policy.retry_on);
        if (on) written.set(CONTROL[1], on);
        const grpcOn = join(policy.retry_grpc_on);
        const type = view.raw('content-type');
        if (grpcOn && type !== undefined && (type === 'application/grpc' || type.startsWith('application/grpc+'))) written.set(CONTROL[2], grpcOn);
        const codes = join(policy.retriable_status_codes);
        if (codes) written.set(CONTROL[3], codes);
      }
      if (policy.timeout !== undefined) written.set(CONTROL[4], String(durationMs(policy.timeout)));
      if (policy.per_try_timeout !== undefined) written.set(CONTROL[5], String(durationMs(policy.per_try_timeout)));
    } else run.count('no policy');
    const stripped = strip && view.raw('x-envoy-internal') !== undefined;

    if (!called) callFilter();
    if (emu.getSentLocalResponse(id)) run.fail('the retry filter answered a request itself');
    const sent = emu.getCurrentRequestHeaders(id);
    for (const name of CONTROL) {
      const got = headersOf(sent, name);
      const want = written.has(name) ? [written.get(name)!] : stripped ? [] : view.all(name);
      if (got.length !== want.length || got.some((v, i) => v !== want[i])) {
        run.fail(`${policy ? `policy ${policy.name}` : 'no policy'}: ${name} ${JSON.stringify(got)}, the model says ${JSON.stringify(want)}` +
          (name === CONTROL[0] && budget ? ` (budget window: ${budget.requests.join(',')} requests, ${budget.retries.join(',')} retries)` : ''));
      }
    }
    for (const chunk of step.body ?? []) emu.callOnRequestBody(id, chunk, false);
    if (step.body) emu.callOnRequestBody(id, '', true);
    if (step.response !== 'reset') {
      emu.callOnResponseHeaders(id, step.response, !step.responseBody);
      let attempts = attemptCount(new RequestView(step.response).raw('x-envoy-attempt-count'));
      if (attempts > 0) {
        const limit = retriesSet >= 0 ? retriesSet : 100;
        if (attempts > limit + 1) attempts = limit + 1;
        if (attempts > 1) {
          add('retried_requests');
          add('retries', attempts - 1);
          if (policy) {
            add(`${policy.name}:retried_requests`);
            add(`${policy.name}:retries`, attempts - 1);
          }
        }
        if (reserved > 0 && budget) {
          const unused = reserved - (attempts - 1);
          if (unused > 0) budget.giveBack(slot, unused, now);
        }
      }
      for (const chunk of step.responseBody ?? []) emu.callOnResponseBody(id, chunk, false);
      if (step.responseBody) emu.callOnResponseBody(id, '', true);
    }
    emu.completeHttpContext(id);
  };
  for (const step of c.steps) {
    if (step.t === 'clock') {
      run.emus[0].advanceClock(step.ms);
      mono += step.ms;
      run.afterStep('none');
      continue;
    }
    exchange(step);
    run.afterStep('stream');
  }
  // Every counter, in either spelling (session.ts `metricValue`).
  const emu = run.emus[0];
  for (const what of ['retried_requests', 'retries', 'idempotency_guarded', 'budget_exhausted']) {
    expectMetric(run, emu, [`${prefix}_${what}`, `${prefix}_${what}_total`], counts[what] ?? 0);
  }
  for (const p of policies) {
    for (const what of ['requests', 'retried_requests', 'retries']) {
      expectMetric(run, emu, [`${prefix}.policy.${p.name}.${what}`, tagged(`${prefix}_policy_${what}_total`, ['policy', p.name])], counts[`${p.name}:${what}`] ?? 0);
    }
  }
}

export const retryTarget: FilterTarget<RetryStep> = {
  name: 'retry',
  rootId: 'retry',
  wasm: path.join(PROJECT_ROOT, 'build', 'retry.wasm'),
  buildTargets: ['retry'],
  generate,
  execute,
};
