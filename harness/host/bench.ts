/**
 * Host micro-benchmarks (a `BenchSuite`, see harness/bench/report.ts):
 *
 * - hostcall round trip: the probe module (test/wasm/host-probe) repeats one raw hostcall
 *   N times inside `proxy_on_request_headers`; (time(N) - time(0)) / N is the cost of one
 *   call from the VM into the host and back, returned data copied into VM memory;
 * - per-stream cost through one filter: the SDK example (test/wasm/example: adds a
 *   request and a response header, increments a counter) driven as the filter manager
 *   drives a filter (create, decodeHeaders, encodeHeaders, onStreamComplete, onDestroy),
 *   against the same calls on a native TypeScript filter that adds the same headers.
 *
 * Run from the bench runner (`harness/bench/host.ts` re-exporting `suite`), or directly:
 * `npx tsx harness/host/bench.ts`.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { BodyBuffer } from './body-buffer.ts';
import { LogLevel } from './abi.ts';
import { type DecoderFilterCallbacks, type EncoderFilterCallbacks, FilterHeadersStatus, type HttpFilter, type StreamInfo } from './filter.ts';
import { HeaderMap } from './header-map.ts';
import { round, timeMicros } from '../bench/report.ts';
import { WasmEmulator } from './emulator.ts';
import { WasmPlugin } from './plugin.ts';
import { SharedState } from './shared/shared-state.ts';

const root = path.resolve(import.meta.dirname, '..', '..');
const PROBE = path.join(root, 'build/test/host-probe.wasm');
const EXAMPLE = path.join(root, 'build/test/example.wasm');

const HEADERS: Array<[string, string]> = [
  [':method', 'GET'],
  [':path', '/api/items?id=7'],
  [':authority', 'example.com'],
  [':scheme', 'http'],
  ['user-agent', 'bench'],
  ['x-request-id', 'r-1'],
];

/** ns per hostcall for each measured call. */
export async function hostcallRoundTrips(n = 2000): Promise<Record<string, number>> {
  const calls: Array<[string, string]> = [
    ['get_header', 'bench N get_header :path'],
    ['add_header', 'bench N add_header x-b'],
    ['log (below level)', 'bench N log x'],
    ['get_current_time', 'bench N time'],
    ['get_shared_data', 'bench N shared_get k'],
    ['increment_metric', 'bench N metric_inc hits'],
    ['get_property', 'bench N property plugin_name'],
  ];
  const out: Record<string, number> = {};
  for (const [name, op] of calls) {
    const phase = name === 'add_header' ? 'resp_headers' : 'req_headers';
    const make = (count: number) =>
      WasmEmulator.create({
        wasm: PROBE,
        logLevel: LogLevel.Info,
        pluginConfiguration: ['configure shared_set k value 0', 'configure metric_define 0 hits', `${phase} ${op.replace('N', String(count))}`].join('\n'),
      });
    const [empty, full] = await Promise.all([make(0), make(n)]);
    const stream = (emu: WasmEmulator) => () => {
      const id = emu.initializeHttpContext();
      emu.callOnRequestHeaders(id, HEADERS, true);
      if (phase === 'resp_headers') emu.callOnResponseHeaders(id, [[':status', '200']], true);
      emu.completeHttpContext(id);
    };
    const base = timeMicros(stream(empty), 200);
    const loaded = timeMicros(stream(full), 20);
    out[name] = round(((loaded - base) * 1000) / n);
  }
  return out;
}

class Callbacks implements DecoderFilterCallbacks, EncoderFilterCallbacks {
  constructor(readonly streamInfo: StreamInfo, private readonly request: HeaderMap, private readonly response: HeaderMap) {}
  continueDecoding(): void {}
  continueEncoding(): void {}
  decodingBuffer(): BodyBuffer | null {
    return null;
  }
  encodingBuffer(): BodyBuffer | null {
    return null;
  }
  addDecodedData(): void {}
  addEncodedData(): void {}
  requestHeaders(): HeaderMap {
    return this.request;
  }
  responseHeaders(): HeaderMap {
    return this.response;
  }
  requestTrailers(): HeaderMap | null {
    return null;
  }
  responseTrailers(): HeaderMap | null {
    return null;
  }
  addDecodedTrailers(): HeaderMap {
    return new HeaderMap();
  }
  addEncodedTrailers(): HeaderMap {
    return new HeaderMap();
  }
  sendLocalReply(): void {}
  clearRouteCache(): void {}
  route(): null {
    return null;
  }
  resetStream(): void {}
}

function streamInfo(id: number): StreamInfo {
  return {
    streamId: id,
    connectionId: 1,
    startTimeMs: Date.now(),
    protocol: 'HTTP/1.1',
    downstreamRemoteAddress: '127.0.0.1:5000',
    downstreamLocalAddress: '127.0.0.1:8080',
    mtls: false,
    nodeId: 'bench',
    nodeCluster: 'bench',
    requestBodyBytes: 0,
    responseBodyBytes: 0,
  };
}

/** One stream through `make()`'s filter, as the filter manager calls it. */
function runStream(make: (info: StreamInfo) => HttpFilter, id: number): void {
  const info = streamInfo(id);
  const request = new HeaderMap(HEADERS);
  const response = new HeaderMap([[':status', '200'], ['content-length', '0']]);
  const callbacks = new Callbacks(info, request, response);
  const filter = make(info);
  filter.setDecoderFilterCallbacks(callbacks);
  filter.setEncoderFilterCallbacks(callbacks);
  filter.decodeHeaders?.(request, true);
  filter.encodeHeaders?.(response, true);
  filter.onStreamComplete?.();
  filter.onDestroy?.();
}

/** Microseconds per stream through the example wasm filter vs a native one doing the same. */
export async function perStream(iterations = 5000): Promise<Record<string, number>> {
  const plugin = await WasmPlugin.create(
    { name: 'example', rootId: 'example', code: await readFile(EXAMPLE) },
    { shared: SharedState.create(), log: () => {} },
  );
  const native: HttpFilter = {
    setDecoderFilterCallbacks() {},
    setEncoderFilterCallbacks() {},
    decodeHeaders(h) {
      h.add('x-example-request', '1');
      return FilterHeadersStatus.Continue;
    },
    encodeHeaders(h) {
      h.add('x-example-response', '1');
      return FilterHeadersStatus.Continue;
    },
  };
  let id = 0;
  const wasm = timeMicros(() => runStream((info) => plugin.createFilter(info), ++id), iterations);
  const js = timeMicros(() => runStream(() => native, ++id), iterations);
  plugin.close();
  return { wasm_filter_us: round(wasm), native_filter_us: round(js), added_by_wasm_us: round(wasm - js), ratio: round(wasm / js) };
}

export const suite = {
  name: 'host',
  description: 'proxy-wasm host: ns per hostcall round trip; µs per stream through the SDK example filter vs a native filter',
  async run(): Promise<Record<string, unknown>> {
    return { hostcall_round_trip_ns: await hostcallRoundTrips(), per_stream: await perStream() };
  },
};

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(JSON.stringify(await suite.run(), null, 2));
}
