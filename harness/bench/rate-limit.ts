/**
 * rate-limit benchmark: the filter's cost per request, CAS on shared data included, on
 * the project's host (V8, the same engine as Envoy's default runtime). Requests are
 * driven through the emulator's stream API — `proxy_on_request_headers`,
 * `proxy_on_response_headers` and the stream's end, as Envoy's filter manager calls
 * them — so HTTP and the proxy are not in the figures:
 *
 * - one thread: allowed (key found, tokens taken, page written with CAS), denied (no
 *   write), no rule matching (matching only), and the SDK example filter
 *   (build/test/example.wasm: one header added each way) timed in the same run as the
 *   reference; "decision" = rate-limit minus example, the part the filter adds.
 * - four threads, one shared store: four worker threads each run their own VM of the
 *   filter (as Envoy's workers do) and hammer the same shared data at once, on one key
 *   (every request a CAS on the same page: the worst contention) and on keys of their
 *   own; µs per request per thread, and requests per second in all. The figures depend on
 *   free cores: they are reported with the machine's core count.
 * - the size of build/rate-limit.wasm against the 40 KB goal.
 */
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { projectRoot } from '../build.ts';
import { WasmEmulator } from '../host/emulator.ts';
import { SharedState } from '../host/shared/shared-state.ts';
import { moduleSize, round, timeMicros, type BenchSuite } from './report.ts';
import type { BenchWorkerInit } from './rate-limit/worker.ts';

const WASM = path.join(projectRoot, 'build', 'rate-limit.wasm');
const EXAMPLE = path.join(projectRoot, 'build', 'test', 'example.wasm');
const SIZE_GOAL = 40 * 1024;

/** Buckets no bench run can empty: every request is allowed and written. */
const WIDE_OPEN = JSON.stringify({
  rules: [
    { name: 'users', match: { prefix: '/api/' }, key: [{ header: 'x-user-id' }], limits: [{ max_tokens: 4_000_000_000, tokens_per_fill: 1000, fill_interval: '1s' }, { max_tokens: 4_000_000_000, tokens_per_fill: 100000, fill_interval: '3600s' }] },
  ],
  response_headers: true,
  max_keys: 100000,
});

function sharedState(): SharedState {
  return SharedState.create({ data: { bytes: 64 << 20, buckets: 65536 }, queues: { bytes: 1 << 16, maxQueues: 8 }, metrics: { maxMetrics: 1024, nameBytes: 65536 } });
}

type Step = () => void;

/** One request through `emu` with these request headers. */
function requestOf(emu: WasmEmulator, headers: () => Record<string, string>): Step {
  return () => {
    const id = emu.initializeHttpContext();
    emu.callOnRequestHeaders(id, { ':method': 'GET', ':authority': 'bench', ...headers() }, true);
    if (!emu.getSentLocalResponse(id)) emu.callOnResponseHeaders(id, { ':status': '200' }, true);
    emu.completeHttpContext(id);
  };
}

/** Median µs per call of each step, measured in alternating passes (a busy machine slows all alike). */
function alternating(steps: Record<string, Step>, iterations: number, passes = 3): Record<string, number> {
  const best: Record<string, number> = {};
  for (let p = 0; p < passes; p++) {
    for (const [name, step] of Object.entries(steps)) {
      const us = timeMicros(step, iterations, { rounds: 5 });
      best[name] = Math.min(best[name] ?? Infinity, us);
    }
  }
  return best;
}

async function singleThread(): Promise<Record<string, unknown>> {
  const rl = await WasmEmulator.create({ wasm: WASM, name: 'rate-limit', rootId: 'rate-limit', vmId: 'rate-limit', pluginConfiguration: WIDE_OPEN, shared: sharedState() });
  const denying = await WasmEmulator.create({
    wasm: WASM, name: 'rate-limit', rootId: 'rate-limit', vmId: 'rate-limit-denying', shared: sharedState(),
    pluginConfiguration: JSON.stringify({ rules: [{ name: 'one', key: [{ header: 'x-user-id' }], limits: [{ max_tokens: 1, fill_interval: '3600s' }] }], response_headers: true }),
  });
  const example = await WasmEmulator.create({ wasm: EXAMPLE, pluginConfiguration: '' });
  let n = 0;
  const steps: Record<string, Step> = {
    example: requestOf(example, () => ({ ':path': '/api/x' })),
    allowed: requestOf(rl, () => ({ ':path': '/api/x', 'x-user-id': `user-${n++ % 1000}` })),
    denied: requestOf(denying, () => ({ ':path': '/api/x', 'x-user-id': 'exhausted' })),
    no_rule: requestOf(rl, () => ({ ':path': '/health' })),
  };
  const us = alternating(steps, 5000);
  for (const e of [rl, denying, example]) e.close();
  return {
    example_us: round(us.example),
    allowed_us: round(us.allowed),
    denied_us: round(us.denied),
    no_rule_us: round(us.no_rule),
    decision_allowed_us: round(us.allowed - us.example),
    decision_denied_us: round(us.denied - us.example),
    allowed_vs_example: round(us.allowed / us.example, 2),
  };
}

/** `threads` workers on one shared store; each worker's keys from `keysOf(worker)`. */
async function threaded(threads: number, keysOf: (worker: number) => string[], requests: number): Promise<{ perThreadUs: number; requestsPerSecond: number }> {
  const state = sharedState();
  const start = new SharedArrayBuffer(4);
  const workers = Array.from({ length: threads }, (_, i) => {
    const init: BenchWorkerInit = { shared: state.handle, wasm: WASM, configuration: WIDE_OPEN, keys: keysOf(i), requests, warmup: 3000, start };
    return new Worker(new URL('./rate-limit/worker-entry.mjs', import.meta.url), { workerData: init });
  });
  try {
    const message = (w: Worker, type: string) => new Promise<Record<string, number>>((resolve, reject) => {
      const on = (m: Record<string, unknown>) => {
        if (m.type === type) {
          w.off('message', on);
          resolve(m as Record<string, number>);
        }
      };
      w.on('message', on);
      w.once('error', reject);
    });
    await Promise.all(workers.map((w) => message(w, 'ready')));
    const done = workers.map((w) => message(w, 'done'));
    const t0 = performance.now();
    Atomics.store(new Int32Array(start), 0, 1);
    Atomics.notify(new Int32Array(start), 0);
    const results = await Promise.all(done);
    const seconds = (performance.now() - t0) / 1000;
    const perThread = results.map((r) => r.micros).sort((a, b) => a - b);
    return { perThreadUs: perThread[perThread.length >> 1], requestsPerSecond: (threads * requests) / seconds };
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
    state.close();
  }
}

export const suite: BenchSuite = {
  name: 'rate-limit',
  description: 'rate-limit decision cost per request (µs, CAS included) on 1 and 4 threads sharing one store, vs the SDK example filter; build/rate-limit.wasm size',
  async run() {
    if (!existsSync(WASM) || !existsSync(EXAMPLE)) return { skipped: `${existsSync(WASM) ? EXAMPLE : WASM} not built (npm run build -- --tests)` };
    const single = await singleThread();
    const requests = 20000;
    const own = (w: number) => Array.from({ length: 250 }, (_, i) => `w${w}-user-${i}`);
    const one = () => ['everyone'];
    const t1 = await threaded(1, own, requests);
    const t4own = await threaded(4, own, requests);
    const t4one = await threaded(4, one, requests);
    return {
      method: 'emulator stream API (no HTTP); median of alternating passes; threads: one VM per worker thread on one SharedArrayBuffer store',
      cores: os.cpus().length,
      single_thread: single,
      threads_1: { per_request_us: round(t1.perThreadUs), requests_per_s: Math.round(t1.requestsPerSecond) },
      threads_4_own_keys: { per_request_us: round(t4own.perThreadUs), requests_per_s: Math.round(t4own.requestsPerSecond) },
      threads_4_one_key: { per_request_us: round(t4one.perThreadUs), requests_per_s: Math.round(t4one.requestsPerSecond) },
      // Same run, same load: what contention on one page (CAS retries) adds, and how throughput scales.
      one_key_vs_own_keys: round(t4one.perThreadUs / t4own.perThreadUs, 2),
      throughput_4_vs_1: round(t4own.requestsPerSecond / t1.requestsPerSecond, 2),
      ...moduleSize(WASM, SIZE_GOAL),
    };
  },
};
