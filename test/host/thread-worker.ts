/**
 * One "Envoy worker" for threads.test.ts: attaches the shared state it is given, loads
 * the probe plugin on this thread with a script, then either
 * - waits for the start flag (all workers start together) and runs `proxy_on_tick`, or
 * - (`waitForQueue`) stays alive until it has received that many `proxy_on_queue_ready`,
 * and posts the plugin's log lines back.
 */
import { readFile } from 'node:fs/promises';
import { parentPort, workerData } from 'node:worker_threads';
import { attachSharedState, createWasmPlugin } from '../../harness/host/index.ts';

interface Init {
  shared: Parameters<typeof attachSharedState>[0];
  wasm: string;
  script: string[];
  vmId: string;
  rootId: string;
  start: SharedArrayBuffer;
  waitForQueue?: number;
}

const init = workerData as Init;
const shared = attachSharedState(init.shared);
const logs: string[] = [];
let queueReady = 0;
const plugin = await createWasmPlugin(
  { name: `worker-${init.rootId}`, rootId: init.rootId, vmId: init.vmId, code: await readFile(init.wasm), configuration: init.script.join('\n') },
  {
    shared,
    log: (_level, message) => {
      logs.push(message);
      if (message.startsWith('on_queue_ready') && ++queueReady === init.waitForQueue) {
        // Report once this last proxy_on_queue_ready has finished.
        setImmediate(() => {
          parentPort!.postMessage({ type: 'done', logs });
          shared.close();
          parentPort!.close();
        });
      }
    },
  },
);
parentPort!.postMessage({ type: 'ready' });
// Like a proxy worker, stay alive while the parent may still talk to us.
parentPort!.on('message', () => {});
if (init.waitForQueue === undefined) {
  Atomics.wait(new Int32Array(init.start), 0, 0);
  plugin.rootContext.onTick();
  parentPort!.postMessage({ type: 'done', logs });
  plugin.close();
  shared.close();
  parentPort!.close();
}
