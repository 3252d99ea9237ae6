/**
 * One worker thread: an Envoy worker. It builds the filter chains of every listener (one
 * VM per wasm plugin on this thread), the router and its own cluster manager, then runs
 * the streams the main thread forwards, answering with response events.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { Outbox, transferable, type FromWorker, type ToWorker, type WorkerInit } from './messages.ts';
import { buildWorkerRuntime } from './worker-runtime.ts';

const init = workerData as WorkerInit;
const port = parentPort!;
const outbox = new Outbox<FromWorker>(port);
const post = (m: FromWorker, transfer?: ArrayBuffer): void => outbox.push(m, transfer);
/** Start-up and shutdown messages go out at once. */
const postNow = (m: FromWorker): void => {
  outbox.push(m);
  outbox.flush();
};

try {
  const runtime = await buildWorkerRuntime(init, {
    headers: (id, headers, end) => post({ t: 'headers', id, headers, end }),
    data: (id, data, end) => {
      const d = transferable(data);
      post({ t: 'data', id, data: d, end }, d.buffer as ArrayBuffer);
    },
    trailers: (id, trailers) => post({ t: 'trailers', id, trailers }),
    reset: (id) => post({ t: 'reset', id }),
    pauseReading: (id) => post({ t: 'pause', id }),
    resumeReading: (id) => post({ t: 'resume', id }),
  }, (level, line) => post({ t: 'log', level, line }));
  const handle = (m: ToWorker): void => {
    switch (m.t) {
      case 'headers':
        runtime.managers[m.listener].onHeaders(m.start);
        break;
      case 'data': {
        const id = m.id;
        runtime.managers[m.listener].onData(id, Buffer.from(m.data.buffer, m.data.byteOffset, m.data.byteLength), m.end);
        break;
      }
      case 'trailers':
        runtime.managers[m.listener].onTrailers(m.id, m.trailers);
        break;
      case 'reset':
        runtime.managers[m.listener].onReset(m.id);
        break;
      case 'stop':
        runtime.close();
        postNow({ t: 'stopped' });
        port.close();
        break;
    }
  };
  port.on('message', (batch: ToWorker[]) => {
    for (const m of batch) handle(m);
  });
  postNow({ t: 'ready' });
} catch (e) {
  postNow({ t: 'fatal', message: (e as Error).message });
}
