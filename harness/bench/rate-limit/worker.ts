/**
 * One "Envoy worker" of the rate-limit bench: its own VM of build/rate-limit.wasm on the
 * shared state it is given, driven by the emulator's stream API (no HTTP). Waits for the
 * start flag so that every worker hammers the shared store at once, times `requests`
 * requests, and posts the microseconds per request.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { WasmEmulator } from '../../host/emulator.ts';
import { attachSharedState, type SharedStateHandle } from '../../host/index.ts';

export interface BenchWorkerInit {
  shared: SharedStateHandle;
  wasm: string;
  configuration: string;
  /** `x-user-id` of request i is keys[i % keys.length]. */
  keys: string[];
  requests: number;
  warmup: number;
  start: SharedArrayBuffer;
}

const init = workerData as BenchWorkerInit;
const shared = attachSharedState(init.shared);
const emu = await WasmEmulator.create({ wasm: init.wasm, name: 'rate-limit', rootId: 'rate-limit', vmId: 'rate-limit', pluginConfiguration: init.configuration, shared });
const run = (n: number, offset: number): void => {
  for (let i = 0; i < n; i++) {
    const id = emu.initializeHttpContext();
    emu.callOnRequestHeaders(id, { ':method': 'GET', ':path': '/api/x', ':authority': 'bench', 'x-user-id': init.keys[(offset + i) % init.keys.length] }, true);
    emu.callOnResponseHeaders(id, { ':status': '200' }, true);
    emu.completeHttpContext(id);
  }
};
run(init.warmup, 0);
parentPort!.postMessage({ type: 'ready' });
Atomics.wait(new Int32Array(init.start), 0, 0);
const t0 = process.hrtime.bigint();
run(init.requests, init.warmup);
const micros = Number(process.hrtime.bigint() - t0) / 1e3 / init.requests;
parentPort!.postMessage({ type: 'done', micros });
emu.close();
shared.close();
parentPort!.close();
