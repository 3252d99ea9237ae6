/**
 * Fuzz target `circuit-breaker` (build/circuit-breaker.wasm): generated and perturbed
 * services (consecutive failures, failure and slow-call rates over the window, half-open
 * probes, bulkheads, fail-over by filter state, open responses), streams that overlap
 * (started, answered later, reset), upstream answers with odd statuses, gRPC statuses in
 * headers or trailers, routes that change between request and response, the fake clock
 * passing open durations and windows, one to three worker VMs.
 *
 * The oracle is a model of the state machine the README and filters.md describe
 * (resilience4j's, with Hystrix's rolling window): CLOSED admits (bulkhead aside) and
 * opens on `failure_threshold` consecutive failures or when the window's last ten
 * buckets hold `minimum_requests` calls failing (or slow) at the threshold; OPEN answers
 * `open_response` with `retry-after` (or fails over) until `open_duration` passed, then
 * the next request finds HALF_OPEN; HALF_OPEN admits `half_open_requests` probes at a
 * time, closes after `success_threshold` good ones, opens again on a bad one, starts over
 * when its probes went missing for `open_duration`; an answer from before a transition
 * changes nothing; outcomes count against the service of the cluster the response came
 * from. Every request's admission, reply and headers are checked, and at the end every
 * counter and the state gauge.
 */
import path from 'node:path';
import type { WasmEmulator } from '../host/emulator.ts';
import { chooseConfig, setField, unknownField, type Breaker } from './configs.ts';
import type { Rng } from './json-gen.ts';
import { genMatch, genPath, matches, METHODS, RequestView, type Match } from './match.ts';
import { oddHeaders, oddValue, utf8Bytes, type Pair } from './odd.ts';
import { expectMetric, PROJECT_ROOT, type FilterTarget, type FuzzCase, headerOf, headersOf, localReplyProblem, metricValue, START_MS, type SessionRun, tagged } from './session.ts';

interface OpenResponseConfig {
  status?: number;
  body?: string;
  headers?: Record<string, string>;
}
interface OpenActionConfig {
  fallback_filter_state: { key: string; value: string };
}
interface ServiceConfig {
  name: string;
  match?: Match;
  cluster?: string;
  failure_threshold?: number;
  failure_rate_threshold?: number;
  slow_call_rate_threshold?: number;
  slow_call_duration?: string;
  minimum_requests?: number;
  window?: string;
  open_duration?: string;
  half_open_requests?: number;
  success_threshold?: number;
  max_concurrent_requests?: number;
  failure_status?: number[];
  timeout?: string;
  open_response?: OpenResponseConfig;
  open_action?: OpenActionConfig;
}
interface BreakerConfig {
  stat_prefix?: string;
  services: ServiceConfig[];
  open_response?: OpenResponseConfig;
  open_action?: OpenActionConfig;
}

export type BreakerStep =
  | { t: 'start'; ref: number; w: number; headers: Pair[]; cluster?: string }
  | {
      t: 'finish';
      ref: number;
      /** The cluster the router finally used, when it differs from the start's. */
      cluster?: string | null;
      response: Pair[] | 'reset';
      /** Response trailers (then the headers do not end the stream). */
      trailers?: Pair[];
    }
  | { t: 'clock'; ms: number };

const CLUSTERS = ['svc_a', 'svc_b', 'fallback'];
const BUCKETS = 10;

// ---- configuration ----------------------------------------------------------------

function ms(n: number): string {
  return n % 1000 === 0 ? `${n / 1000}s` : `${Math.floor(n / 1000)}.${String(n % 1000).padStart(3, '0')}s`;
}

function durationMs(text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback;
  const [s, f = ''] = text.slice(0, -1).split('.');
  return Number(s) * 1000 + Math.floor(Number((f + '000000000').slice(0, 9)) / 1_000_000);
}

function genOpenResponse(rng: Rng): OpenResponseConfig {
  const r: OpenResponseConfig = {};
  if (rng.chance(0.5)) r.status = rng.pick([503, 429, 200, 599]);
  if (rng.chance(0.5)) r.body = rng.pick(['', 'down', '{"error":"open"}', 'é\u2028']);
  if (rng.chance(0.5)) r.headers = rng.pick<Record<string, string>>([{}, { 'content-type': 'text/plain' }, { 'X-Reason': 'circuit', 'cache-control': 'no-store' }]);
  return r;
}

function genService(rng: Rng, i: number): ServiceConfig {
  const s: ServiceConfig = { name: rng.pick(['credit-bureau', 'banking', 'svc', 'a_b']) + i };
  const m = rng.chance(0.7) ? genMatch(rng) : undefined;
  if (m) s.match = m;
  if (rng.chance(0.4)) s.cluster = rng.pick(CLUSTERS);
  if (rng.chance(0.8)) s.failure_threshold = rng.pick([0, 1, 2, 3, 5]);
  if (rng.chance(0.3)) s.failure_rate_threshold = rng.pick([0, 50, 100, 33.3, 1]);
  if (rng.chance(0.2)) s.slow_call_rate_threshold = rng.pick([0, 50, 100]);
  if (rng.chance(0.3)) s.slow_call_duration = ms(rng.pick([1, 100, 2000]));
  if (rng.chance(0.4)) s.minimum_requests = rng.pick([1, 2, 5, 10]);
  if (rng.chance(0.4)) s.window = ms(rng.pick([100, 1000, 10_000, 60_000, 1050]));
  if (rng.chance(0.7)) s.open_duration = ms(rng.pick([1, 50, 1000, 5000, 60_000]));
  if (rng.chance(0.5)) s.half_open_requests = rng.pick([1, 2, 3]);
  if (rng.chance(0.3)) s.success_threshold = rng.pick([1, 2, 5]);
  if (rng.chance(0.3)) s.max_concurrent_requests = rng.pick([0, 1, 2, 5]);
  if (rng.chance(0.2)) s.failure_status = rng.pick([[500], [429, 503], [200], [100, 599], []]);
  if (rng.chance(0.3)) s.timeout = ms(rng.pick([1, 10_000, 1500]));
  if (rng.chance(0.2)) s.open_response = genOpenResponse(rng);
  if (rng.chance(0.15)) s.open_action = { fallback_filter_state: { key: 'wasm.cb_fallback', value: s.name } };
  if ((s.failure_threshold ?? 5) === 0 && !s.failure_rate_threshold && !s.slow_call_rate_threshold && !s.max_concurrent_requests) s.failure_threshold = 1;
  return s;
}

function genConfig(rng: Rng): BreakerConfig {
  const services: ServiceConfig[] = [];
  for (let i = 1 + rng.int(3); i > 0; i--) services.push(genService(rng, services.length));
  const c: BreakerConfig = { services };
  if (rng.chance(0.2)) c.stat_prefix = rng.pick(['circuit_breaker', 'cb', '_x1']);
  if (rng.chance(0.2)) c.open_response = genOpenResponse(rng);
  if (rng.chance(0.1)) c.open_action = { fallback_filter_state: { key: 'wasm.fallback', value: 'any' } };
  return c;
}

const servicesOf = (c: BreakerConfig): Array<[string, any]> => c.services.map((s, i) => [`services[${i}]`, s]);

const BREAKERS: Breaker[] = [
  unknownField((c) => [['', c], ...servicesOf(c)]),
  setField(servicesOf, 'name', (rng) => rng.pick(['', 'a.b', 'sp ace', 1])),
  setField(servicesOf, 'failure_threshold', (rng) => rng.pick([-1, 1_000_001, 2.5, '3'])),
  setField(servicesOf, 'failure_rate_threshold', (rng) => rng.pick([-1, 100.1, '50'])),
  setField(servicesOf, 'minimum_requests', (rng) => rng.pick([0, 1_000_001])),
  setField(servicesOf, 'window', (rng) => rng.pick(['0.099s', '86401s', 'x'])),
  setField(servicesOf, 'open_duration', (rng) => rng.pick(['0s', '86401s', 60])),
  setField(servicesOf, 'half_open_requests', (rng) => rng.pick([0, 10_001])),
  setField(servicesOf, 'failure_status', (rng) => rng.pick([[99], [600], ['500'], 500])),
  setField(servicesOf, 'timeout', (rng) => rng.pick(['0s', 'x', 10])),
  setField(servicesOf, 'cluster', (rng) => rng.pick(['', 5])),
  setField(servicesOf, 'open_response', (rng) => rng.pick([{ status: 199 }, { status: 600 }, { headers: { 'retry-after': '1' } }, { headers: { 'bad name': 'x' } }, { headers: { a: 'x\ny' } }, { body: 5 }])),
  setField(servicesOf, 'open_action', (rng) => rng.pick([{}, { fallback_header: { name: 'x', value: '1' } }, { fallback_filter_state: { key: 'x', value: 'v' } }, { fallback_filter_state: { key: 'wasm.a b', value: 'v' } }, { fallback_filter_state: { key: 'wasm.a', value: 'v\n' } }])),
  setField((c) => [['', c]], 'stat_prefix', (rng) => rng.pick(['', '1cb', 'a-b'])),
  setField((c) => [['', c]], 'services', (rng) => rng.pick([[], {}, 'x'])),
  (rng, c: BreakerConfig) => {
    const i = rng.int(c.services.length);
    Object.assign(c.services[i], { failure_threshold: 0, failure_rate_threshold: 0, slow_call_rate_threshold: 0, max_concurrent_requests: 0 });
    return `services[${i}]`;
  },
  (rng, c: BreakerConfig) => {
    if (c.services.length < 2) return null;
    c.services[1].name = c.services[0].name;
    return 'services[1].name';
  },
];

// ---- streams ------------------------------------------------------------------------

const STATUSES = ['200', '500', '502', '503', '504', '429', '404', '204'];

function genStart(rng: Rng, ref: number, workers: number): BreakerStep {
  const headers: Pair[] = [[':method', rng.pick(METHODS)], [':path', genPath(rng)], [':authority', 'mesh'], [':scheme', 'http']];
  if (rng.chance(0.1)) headers.push(['x-circuit-breaker', rng.pick(['fallback', 'open', ''])]);
  if (rng.chance(0.1)) headers.push(['x-envoy-upstream-rq-timeout-ms', rng.pick(['5', '', 'x'])]);
  if (rng.chance(0.3)) headers.push(['x-tier', rng.pick(['premium', 'free'])]);
  if (rng.chance(0.1)) headers.push(['content-type', 'application/grpc']);
  headers.push(...oddHeaders(rng, ['x-circuit-breaker', 'x-user'], 64, headers.length));
  const step: BreakerStep = { t: 'start', ref, w: rng.int(workers), headers };
  if (rng.chance(0.6)) step.cluster = rng.pick(CLUSTERS);
  return step;
}

function genFinish(rng: Rng, ref: number): BreakerStep {
  const step: BreakerStep = { t: 'finish', ref, response: 'reset' };
  if (rng.chance(0.1)) step.cluster = rng.chance(0.2) ? null : rng.pick(CLUSTERS);
  if (rng.chance(0.07)) return step;
  const grpc = rng.chance(0.15);
  const response: Pair[] = [[':status', grpc ? '200' : rng.chance(0.92) ? rng.pick(STATUSES) : oddValue(rng, 6)]];
  if (grpc) {
    response.push(['content-type', rng.pick(['application/grpc', 'application/grpc+proto', 'application/grpc-web'])]);
    if (rng.chance(0.5)) response.push(['grpc-status', rng.pick(['0', '14', '4', '13', '2', '16', '99', '', 'x', '014'])]);
    else if (rng.chance(0.7)) step.trailers = rng.chance(0.8) ? [['grpc-status', rng.pick(['0', '14', '4', '1'])]] : [];
  }
  if (rng.chance(0.05)) response.push(['x-circuit-breaker', 'upstream']);
  response.push(...oddHeaders(rng, [], 0, 2));
  step.response = response;
  if (!step.trailers && rng.chance(0.05)) step.trailers = [['x-t', 'v']];
  return step;
}

function generate(rng: Rng, streams: number): FuzzCase<BreakerStep> {
  const choice = chooseConfig(rng, genConfig(rng), BREAKERS);
  const workers = rng.chance(0.15) ? 2 + rng.int(2) : 1;
  const steps: BreakerStep[] = [];
  const open: number[] = [];
  let next = 0;
  const clocks = [1, 10, 50, 100, 500, 1000, 2000, 5000, 60_000];
  for (let i = 0; i < streams; i++) {
    if (rng.chance(0.15)) steps.push({ t: 'clock', ms: rng.pick(clocks) });
    const ref = next++;
    steps.push(genStart(rng, ref, workers));
    if (rng.chance(0.7)) {
      if (rng.chance(0.1)) steps.push({ t: 'clock', ms: rng.pick(clocks) });
      steps.push(genFinish(rng, ref));
    } else open.push(ref);
    while (open.length > (rng.chance(0.5) ? 0 : 8) || (open.length > 0 && rng.chance(0.2))) {
      const at = rng.int(open.length);
      steps.push(genFinish(rng, open[at]));
      open.splice(at, 1);
    }
  }
  for (const ref of open) steps.push(genFinish(rng, ref));
  return { ...choice, workers, steps };
}

// ---- the model ------------------------------------------------------------------------

enum State {
  Closed = 0,
  Open = 1,
  HalfOpen = 2,
}

const TRANSITIONS = ['closed_to_open', 'open_to_half_open', 'half_open_to_closed', 'half_open_to_open', 'half_open_restart'] as const;
type Transition = (typeof TRANSITIONS)[number];

interface Service {
  index: number;
  name: string;
  match?: Match;
  cluster?: string;
  failureThreshold: number;
  failureRate: number;
  slowRate: number;
  slowMs: number;
  minimumRequests: number;
  bucketMs: number;
  openMs: number;
  halfOpen: number;
  successThreshold: number;
  maxConcurrent: number;
  failures: Set<number>;
  timeoutMs?: string;
  reply: { status: number; body: string; headers: Array<[string, string]> };
  fallback: boolean;
}

/** A service's shared circuit (record.ts fields). */
class Circuit {
  state = State.Closed;
  generation = 0;
  consecutive = 0;
  probes = 0;
  successes = 0;
  inFlight = 0;
  openUntil = 0;
  probeActivity = 0;
  readonly numbers = new Array<number>(BUCKETS).fill(-1);
  readonly calls = new Array<number>(BUCKETS).fill(0);
  readonly failed = new Array<number>(BUCKETS).fill(0);
  readonly slow = new Array<number>(BUCKETS).fill(0);
  readonly counts: Record<string, number> = {};
  /** A step ran on it (its gauges are set from the first one on). */
  touched = false;

  constructor(readonly svc: Service) {}

  private transition(t: Transition): void {
    this.counts[t] = (this.counts[t] ?? 0) + 1;
  }

  private clearWindow(): void {
    this.numbers.fill(-1);
    this.calls.fill(0);
    this.failed.fill(0);
    this.slow.fill(0);
  }

  private open(now: number): void {
    this.state = State.Open;
    this.generation++;
    this.openUntil = now + this.svc.openMs;
    this.consecutive = this.probes = this.successes = 0;
    this.clearWindow();
  }

  private halfOpen(now: number): void {
    this.state = State.HalfOpen;
    this.generation++;
    this.probeActivity = now;
    this.probes = this.successes = 0;
  }

  /** Admission: 'admit' | 'probe' | ['open', retryAfter] | 'bulkhead'; a ticket when admitted. */
  admit(now: number): { kind: 'admit' | 'probe' | 'open' | 'bulkhead'; retryAfter?: number; ticket?: Ticket } {
    const svc = this.svc;
    this.touched = true;
    if (this.state === State.Open) {
      if (now < this.openUntil) return { kind: 'open', retryAfter: Math.max(1, Math.ceil((this.openUntil - now) / 1000)) };
      this.halfOpen(now);
      this.transition('open_to_half_open');
    }
    if (this.state === State.HalfOpen) {
      if (this.probes >= svc.halfOpen && now - this.probeActivity >= svc.openMs) {
        this.halfOpen(now);
        this.transition('half_open_restart');
      }
      if (this.probes >= svc.halfOpen) return { kind: 'open', retryAfter: 1 };
      if (!this.bulkhead()) return { kind: 'bulkhead' };
      this.probes++;
      this.probeActivity = now;
      return { kind: 'probe', ticket: { generation: this.generation, probe: true, bulkhead: svc.maxConcurrent > 0 } };
    }
    if (!this.bulkhead()) return { kind: 'bulkhead' };
    return { kind: 'admit', ticket: { generation: this.generation, probe: false, bulkhead: svc.maxConcurrent > 0 } };
  }

  private bulkhead(): boolean {
    if (this.svc.maxConcurrent === 0) return true;
    if (this.inFlight >= this.svc.maxConcurrent) return false;
    this.inFlight++;
    return true;
  }

  /** Completion of an admitted request (`ticket`), or of one it only served (`ticket` null: observe). */
  complete(ticket: Ticket | null, responded: boolean, failed: boolean, slow: boolean, now: number): void {
    const svc = this.svc;
    this.touched = true;
    if (ticket?.bulkhead && this.inFlight > 0) this.inFlight--;
    const current = ticket === null || ticket.generation === this.generation;
    if (this.state === State.HalfOpen) {
      if (!ticket?.probe || !current) return;
      if (this.probes > 0) this.probes--;
      this.probeActivity = now;
      if (!responded) return;
      if (failed || (slow && svc.slowRate > 0)) {
        this.open(now);
        this.transition('half_open_to_open');
        return;
      }
      if (++this.successes >= svc.successThreshold) {
        this.state = State.Closed;
        this.generation++;
        this.openUntil = 0;
        this.consecutive = this.probes = this.successes = 0;
        this.clearWindow();
        this.transition('half_open_to_closed');
      }
      return;
    }
    if (this.state !== State.Closed || !current || !responded) return;
    this.consecutive = failed ? this.consecutive + 1 : 0;
    if (svc.failureThreshold > 0 && this.consecutive >= svc.failureThreshold) {
      this.open(now);
      this.transition('closed_to_open');
      return;
    }
    if (svc.failureRate <= 0 && svc.slowRate <= 0) return;
    const slowCall = slow && svc.slowRate > 0;
    const number = Math.floor(Math.max(now, 0) / svc.bucketMs);
    const i = number % BUCKETS;
    if (this.numbers[i] !== number) {
      this.numbers[i] = number;
      this.calls[i] = this.failed[i] = this.slow[i] = 0;
    }
    this.calls[i]++;
    if (failed) this.failed[i]++;
    if (slowCall) this.slow[i]++;
    const current2 = Math.floor(now / svc.bucketMs);
    let calls = 0;
    let failures = 0;
    let slows = 0;
    for (let k = 0; k < BUCKETS; k++) {
      if (this.numbers[k] > current2 - BUCKETS && this.numbers[k] <= current2) {
        calls += this.calls[k];
        failures += this.failed[k];
        slows += this.slow[k];
      }
    }
    if (calls < svc.minimumRequests) return;
    if ((svc.failureRate > 0 && failures * 100 >= svc.failureRate * calls) || (svc.slowRate > 0 && slows * 100 >= svc.slowRate * calls)) {
      this.open(now);
      this.transition('closed_to_open');
    }
  }
}

interface Ticket {
  generation: number;
  probe: boolean;
  bulkhead: boolean;
}

/** A stream between its start and finish, as the model and the emulator know it. */
interface OpenStream {
  emuIndex: number;
  id: number;
  cluster: string | null;
  matched: boolean[];
  admitted: Circuit | null;
  ticket: Ticket | null;
  fallback: boolean;
  replied: boolean;
  startMs: number;
}

function openResponse(own: OpenResponseConfig | undefined, fallback: Service['reply']): Service['reply'] {
  if (!own) return fallback;
  const status = own.status ?? 503;
  if (own.headers === undefined && own.body === undefined) return { status, body: '{"error":"circuit_open"}', headers: [['content-type', 'application/json']] };
  return { status, body: own.body ?? '{"error":"circuit_open"}', headers: Object.entries(own.headers ?? {}).map(([k, v]) => [k.toLowerCase(), v]) };
}

function services(config: BreakerConfig): Service[] {
  const root = openResponse(config.open_response, { status: 503, body: '{"error":"circuit_open"}', headers: [['content-type', 'application/json']] });
  return config.services.map((s, index) => {
    const halfOpen = s.half_open_requests ?? 3;
    return {
      index,
      name: s.name,
      match: s.match,
      cluster: s.cluster,
      failureThreshold: s.failure_threshold ?? 5,
      failureRate: s.failure_rate_threshold ?? 0,
      slowRate: s.slow_call_rate_threshold ?? 0,
      slowMs: durationMs(s.slow_call_duration, 60_000),
      minimumRequests: s.minimum_requests ?? 10,
      bucketMs: Math.max(1, Math.floor(durationMs(s.window, 10_000) / BUCKETS)),
      openMs: durationMs(s.open_duration, 60_000),
      halfOpen,
      successThreshold: s.success_threshold ?? halfOpen,
      maxConcurrent: s.max_concurrent_requests ?? 0,
      failures: new Set(s.failure_status ?? [500, 502, 503, 504]),
      timeoutMs: s.timeout === undefined ? undefined : String(durationMs(s.timeout, 0)),
      reply: openResponse(s.open_response, root),
      fallback: (s.open_action ?? config.open_action) !== undefined,
    };
  });
}

/** The first service that holds for `cluster` and `matched` (select.ts `pickService`). */
function pick(list: Service[], cluster: string | null, matched: boolean[], byClusterOnly: boolean): Service | undefined {
  return list.find((s, i) => (s.cluster !== undefined ? cluster !== null && cluster === s.cluster : !byClusterOnly) && matched[i]);
}

/** Three ASCII digits, else 0 (index.ts `parseStatus`). */
const parseStatus = (v: string | undefined): number => (v !== undefined && /^[0-9]{3}$/.test(v) ? Number(v) : 0);
const parseGrpc = (v: string): number => (/^[0-9]{1,2}$/.test(v) ? Number(v) : 2);
const GRPC_HTTP = [200, 499, 500, 400, 504, 404, 409, 403, 429, 400, 409, 400, 501, 500, 503, 500, 401];
const grpcToHttp = (code: number): number => GRPC_HTTP[code] ?? 500;
const isGrpc = (v: string | undefined): boolean => v !== undefined && (v === 'application/grpc' || v.startsWith('application/grpc+'));

// ---- execution --------------------------------------------------------------------------

async function execute(c: FuzzCase<BreakerStep>, run: SessionRun): Promise<void> {
  const config = JSON.parse(c.config) as BreakerConfig;
  const list = services(config);
  const circuits = list.map((s) => new Circuit(s));
  const needsCluster = list.some((s) => s.cluster !== undefined);
  const prefix = config.stat_prefix ?? 'circuit_breaker';
  const counts: Record<string, number> = {};
  const add = (name: string) => void (counts[name] = (counts[name] ?? 0) + 1);
  const streams = new Map<number, OpenStream>();
  let mono = 0;
  for (const step of c.steps) {
    const now = START_MS + mono;
    if (step.t === 'clock') {
      run.emus[0].advanceClock(step.ms);
      mono += step.ms;
      run.afterStep('none');
      continue;
    }
    if (step.t === 'start') {
      const emuIndex = step.w % run.emus.length;
      const emu = run.emus[emuIndex];
      const view = new RequestView(step.headers);
      const cluster = step.cluster ?? null;
      const matched = list.map((s) => matches(s.match, view));
      const svc = needsCluster ? pick(list, cluster, matched, false) : list.find((s, i) => matched[i]);
      const s: OpenStream = { emuIndex, id: 0, cluster, matched, admitted: null, ticket: null, fallback: false, replied: false, startMs: now };
      const decision = svc ? circuits[svc.index].admit(now) : undefined;
      s.id = emu.initializeHttpContext(step.cluster !== undefined ? { clusterName: step.cluster } : {});
      emu.callOnRequestHeaders(s.id, step.headers, true);
      const reply = emu.getSentLocalResponse(s.id);
      const sent = emu.getCurrentRequestHeaders(s.id);
      const where = svc ? `service ${svc.name} (${State[circuits[svc.index].state]})` : 'no service';
      if (!svc || !decision) {
        run.count('no service');
        if (reply) run.fail(`${where}: the filter answered ${reply.status}`);
      } else if (decision.kind === 'admit' || decision.kind === 'probe') {
        run.count(decision.kind);
        add(`${svc.name}:admitted`);
        s.admitted = circuits[svc.index];
        s.ticket = decision.ticket!;
        if (reply) run.fail(`${where}: the model admits (${decision.kind}), the filter answered ${reply.status} ${reply.details}`);
        const timeout = headersOf(sent, 'x-envoy-upstream-rq-timeout-ms');
        const had = view.all('x-envoy-upstream-rq-timeout-ms');
        const want = svc.timeoutMs !== undefined && had.length === 0 ? [svc.timeoutMs] : had;
        if (timeout.join('\n') !== want.join('\n')) run.fail(`${where}: x-envoy-upstream-rq-timeout-ms ${JSON.stringify(timeout)}, expected ${JSON.stringify(want)}`);
      } else if (decision.kind === 'open' && svc.fallback) {
        run.count('fallback');
        add(`${svc.name}:fallback`);
        s.fallback = true;
        if (reply) run.fail(`${where}: the model fails over, the filter answered ${reply.status}`);
        if (headersOf(sent, 'x-circuit-breaker').length > 0) run.fail(`${where}: a client's x-circuit-breaker went on to the fail-over route`);
      } else {
        run.count(decision.kind === 'open' ? 'rejected open' : 'rejected bulkhead');
        add(`${svc.name}:rejected.${decision.kind}`);
        s.replied = true;
        if (!reply) run.fail(`${where}: the model rejects (${decision.kind}), the filter let the request through`);
        const problem = localReplyProblem(reply);
        if (problem) run.fail(problem);
        const want: Array<[string, string]> = [...svc.reply.headers.map(([k, v]): [string, string] => [k, utf8Bytes(v)]), ['x-circuit-breaker', decision.kind]];
        if (decision.kind === 'open') want.push(['retry-after', String(decision.retryAfter)]);
        const got = (reply.headers ?? []).map(([k, v]) => `${k}: ${v}`).join('\n');
        if (reply.status !== svc.reply.status || got !== want.map(([k, v]) => `${k}: ${v}`).join('\n')) {
          run.fail(`${where}: rejection ${reply.status} ${JSON.stringify(got)}, the model says ${svc.reply.status} ${JSON.stringify(want)}`);
        }
        const body = Buffer.from(reply.body as string | Uint8Array).toString('utf8');
        if (body !== svc.reply.body) run.fail(`${where}: open response body ${JSON.stringify(body)}, expected ${JSON.stringify(svc.reply.body)}`);
        if (reply.details !== (decision.kind === 'open' ? 'circuit_breaker_open' : 'circuit_breaker_bulkhead')) run.fail(`${where}: details ${reply.details}`);
      }
      streams.set(step.ref, s);
      if (svc && run.emus.length > 1) checkState(run, emu, prefix, circuits[svc.index]);
      run.afterStep('stream');
      continue;
    }
    // finish
    const s = streams.get(step.ref)!;
    streams.delete(step.ref);
    const emu = run.emus[s.emuIndex];
    if (step.cluster !== undefined) emu.getStreamInfo(s.id).clusterName = step.cluster ?? undefined;
    const finalCluster = step.cluster !== undefined ? step.cluster : s.cluster;
    let responded = false;
    let failed = false;
    let slow = false;
    let counted: Circuit | null = null;
    if (step.response !== 'reset' && !s.replied) {
      responded = true;
      const r = new RequestView(step.response);
      let svc: Service | undefined = s.fallback ? undefined : s.admitted?.svc;
      if (needsCluster && (s.fallback || finalCluster !== s.cluster)) svc = pick(list, finalCluster, s.matched, s.fallback);
      counted = svc ? circuits[svc.index] : null;
      if (svc) {
        const status = parseStatus(r.raw(':status'));
        const trailers = step.trailers !== undefined;
        if (status === 200 && isGrpc(r.raw('content-type'))) {
          const g = r.raw('grpc-status');
          if (g !== undefined) failed = svc.failures.has(grpcToHttp(parseGrpc(g)));
          else if (trailers) {
            const t = headerOf(new RequestView(step.trailers!).pairs, 'grpc-status');
            failed = svc.failures.has(grpcToHttp(t !== undefined ? parseGrpc(t) : 13));
          }
        } else failed = svc.failures.has(status);
        if (svc.slowRate > 0) slow = now - s.startMs > svc.slowMs;
      }
      emu.callOnResponseHeaders(s.id, step.response, step.trailers === undefined);
      if (s.fallback) {
        const marks = headersOf(emu.getCurrentResponseHeaders(s.id), 'x-circuit-breaker');
        if (marks.length !== 1 || marks[0] !== 'fallback') run.fail(`a failed-over response carries x-circuit-breaker ${JSON.stringify(marks)}`);
      }
      if (step.trailers) emu.callOnResponseTrailers(s.id, step.trailers);
    }
    emu.completeHttpContext(s.id);
    if (s.admitted && s.ticket) s.admitted.complete(s.ticket, responded && counted === s.admitted, failed, slow, now);
    if (counted && counted !== s.admitted) counted.complete(null, true, failed, slow, now);
    run.count(responded ? (failed ? 'failure' : 'success') : 'no response');
    if (run.emus.length > 1) {
      if (s.admitted) checkState(run, emu, prefix, s.admitted);
      if (counted && counted !== s.admitted) checkState(run, emu, prefix, counted);
    }
    run.afterStep('none');
  }
  for (const s of streams.values()) run.emus[s.emuIndex].completeHttpContext(s.id);
  // Every counter and the state gauges, in either spelling (session.ts `metricValue`).
  const emu = run.emus[0];
  for (const circuit of circuits) {
    const name = circuit.svc.name;
    const base = `${prefix}.${name}.`;
    const requests = (outcome: string) => tagged(`${prefix}_requests_total`, ['service', name, 'outcome', outcome]);
    expectMetric(run, emu, [`${base}rejected.open`, requests('rejected_open')], counts[`${name}:rejected.open`] ?? 0);
    expectMetric(run, emu, [`${base}rejected.bulkhead`, requests('rejected_bulkhead')], counts[`${name}:rejected.bulkhead`] ?? 0);
    expectMetric(run, emu, [`${base}fallback`, requests('fallback')], counts[`${name}:fallback`] ?? 0);
    const by = (ts: Transition[]) => ts.reduce((n, t) => n + (circuit.counts[t] ?? 0), 0);
    if (metricValue(emu, [`${base}transition.closed_to_open`]) !== undefined) {
      for (const t of TRANSITIONS) expectMetric(run, emu, [`${base}transition.${t}`], circuit.counts[t] ?? 0);
    } else {
      // Labelled families: requests admitted, transitions by the state entered.
      expectMetric(run, emu, [requests('admitted')], counts[`${name}:admitted`] ?? 0);
      const into: Record<string, Transition[]> = { closed: ['half_open_to_closed'], open: ['closed_to_open', 'half_open_to_open'], half_open: ['open_to_half_open', 'half_open_restart'] };
      STATE_LABELS.forEach((label) => expectMetric(run, emu, [tagged(`${prefix}_transitions_total`, ['service', name, 'state', label])], by(into[label])));
    }
    checkState(run, emu, prefix, circuit);
  }
}

const STATE_LABELS = ['closed', 'open', 'half_open'];

/**
 * The state gauge(s) of `circuit` show its state: the gauge `<prefix>.<service>.state`, or
 * of the labelled `<prefix>_state{service,state}` the one of its state 1 and the others 0
 * (all 0 before any request reached the service). Envoy's gauges are process wide: they
 * must show the circuit's state whichever worker moved it.
 */
function checkState(run: SessionRun, emu: WasmEmulator, prefix: string, circuit: Circuit): void {
  const name = circuit.svc.name;
  const gauge = metricValue(emu, [`${prefix}.${name}.state`]);
  if (gauge !== undefined) {
    if (gauge !== circuit.state) run.fail(`gauge ${prefix}.${name}.state is ${gauge}, the circuit is ${State[circuit.state]} (gauge: ${gauge}; ${run.emus.length} workers)`);
    return;
  }
  const gauges = STATE_LABELS.map((label) => metricValue(emu, [tagged(`${prefix}_state`, ['service', name, 'state', label])]));
  if (!circuit.touched && gauges.every((g) => g === 0)) return;
  STATE_LABELS.forEach((label, state) => {
    const want = state === circuit.state ? 1 : 0;
    if (gauges[state] !== want) {
      run.fail(`gauge ${tagged(`${prefix}_state`, ['service', name, 'state', label])} is ${gauges[state]}, the circuit is ${State[circuit.state]} (gauges closed/open/half_open: ${gauges.join('/')}; ${run.emus.length} workers)`);
    }
  });
}

export const circuitBreakerTarget: FilterTarget<BreakerStep> = {
  name: 'circuit-breaker',
  rootId: 'circuit-breaker',
  wasm: path.join(PROJECT_ROOT, 'build', 'circuit-breaker.wasm'),
  buildTargets: ['circuit-breaker'],
  generate,
  execute,
};
