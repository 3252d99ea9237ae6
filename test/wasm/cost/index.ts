// The cost of one hostcall on Envoy: per request, `count` calls of one kind, named by the
// plugin configuration `<kind> <count>` (e.g. `shared-get 20`). The Envoy bench's
// `hostcall` group (harness/bench/envoy/configs.ts) runs each kind against `none 0`, so
// (CPU per request − the baseline's) / count is what one call costs, V8's crossing and
// Envoy's work together (docs/PERFORMANCE.md "What one hostcall costs").
export * from '../../../assembly/proxy-wasm/exports-core';
export { proxy_on_request_headers } from '../../../assembly/proxy-wasm/exports';

// The raw ABI for `pairs`: the SDK's HeaderFields answers a second read in one callback
// from its copy (headers.ts MapSnapshot), which would measure nothing.
import { proxy_get_header_map_pairs } from '../../../assembly/proxy-wasm/abi/imports';
import { RET_PTR, RET_SIZE, hostMemoryMark, releaseHostMemory } from '../../../assembly/proxy-wasm/abi/memory';
import {
  Counter, FilterHeadersStatus, HeaderName, MapType, HttpContext, RootContext, ascii, getCurrentTimeNanoseconds, getProperty,
  getSharedDataBytes, logError, registerRootContext, setSharedDataBytes,
} from '../../../assembly/proxy-wasm';

const KINDS: string[] = ['none', 'header', 'header-missing', 'pairs', 'replace', 'shared-get', 'shared-set', 'metric', 'time', 'property', 'insert'];
const PATH = changetype<HeaderName>(ascii.bytes(':path'));
const ABSENT = changetype<HeaderName>(ascii.bytes('x-absent'));
const WRITTEN = changetype<HeaderName>(ascii.bytes('x-cost'));
const SOURCE_ADDRESS: string[] = ['source', 'address'];

class CostRoot extends RootContext {
  /** An index of KINDS. */
  call: i32 = 0;
  count: i32 = 0;
  readonly key: ArrayBuffer = String.UTF8.encode('cost/record');
  readonly value: ArrayBuffer = new ArrayBuffer(64);
  counter: Counter | null = null;
  /** `insert`: a header name per call (`x-cost-<i>`), so that every write adds an entry. */
  inserted: HeaderName[] = [];

  onConfigure(size: usize): bool {
    const text = this.getPluginConfigurationString();
    const parts = text !== null ? text.trim().split(' ') : [];
    this.call = parts.length == 2 ? KINDS.indexOf(parts[0]) : -1;
    if (this.call < 0) {
      logError('cost: expected "<kind> <count>", kind one of ' + KINDS.join(', '));
      return false;
    }
    this.count = I32.parseInt(parts[1]);
    for (let i = 0; i < this.count; i++) this.inserted.push(changetype<HeaderName>(ascii.bytes('x-cost-' + i.toString())));
    this.counter = Counter.define('cost_calls_total');
    setSharedDataBytes(this.key, this.value, 0);
    return true;
  }

  createHttpContext(contextId: u32): HttpContext | null {
    return new CostStream(contextId, this);
  }
}

class CostStream extends HttpContext {
  constructor(contextId: u32, readonly plugin: CostRoot) {
    super(contextId, plugin);
  }

  onRequestHeaders(numHeaders: u32, endOfStream: bool): FilterHeadersStatus {
    const p = this.plugin;
    const headers = this.requestHeaders;
    for (let i = 0, n = p.count; i < n; i++) {
      switch (p.call) {
        case 1: headers.getBytes(PATH); break;
        case 2: headers.getBytes(ABSENT); break;
        case 3: {
          const mark = hostMemoryMark();
          proxy_get_header_map_pairs(MapType.HttpRequestHeaders, RET_PTR, RET_SIZE);
          releaseHostMemory(mark);
          break;
        }
        case 4: headers.replace(WRITTEN, 'v'); break;
        case 5: getSharedDataBytes(p.key); break;
        case 6: setSharedDataBytes(p.key, p.value, 0); break;
        case 7: p.counter!.increment(); break;
        case 8: getCurrentTimeNanoseconds(); break;
        case 9: getProperty(SOURCE_ADDRESS); break;
        case 10: headers.replace(unchecked(p.inserted[i]), 'v'); break;
      }
    }
    return FilterHeadersStatus.Continue;
  }
}

registerRootContext((contextId: u32): RootContext => new CostRoot(contextId));
