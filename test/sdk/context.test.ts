/**
 * The SDK's dispatch and hostcall wrappers, driven through the small fake host of
 * fake-host.ts: the example filter, then the probe module (test/wasm/example/probe.ts)
 * whose `x-probe` request header selects the SDK feature a request exercises.
 */
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { BufferType, MapType } from '../../harness/host/abi.ts';
import { testModule } from '../../harness/host/testing.ts';
import { FakeHost, type Pairs } from './fake-host.ts';

const ROOT = 1;
let nextStream = 100;

// Runs one request through proxy_on_context_create .. proxy_on_request_headers.
function request(host: FakeHost, headers: Pairs): { id: number; action: number } {
  const id = nextStream++;
  host.call('proxy_on_context_create', id, ROOT);
  host.setMap(id, MapType.HttpRequestHeaders, headers);
  const action = host.call('proxy_on_request_headers', id, headers.length, true);
  return { id, action };
}

function finish(host: FakeHost, id: number) {
  expect(host.call('proxy_on_done', id)).toBe(1);
  host.call('proxy_on_log', id);
  host.call('proxy_on_delete', id);
}

function header(host: FakeHost, id: number, name: string, map: number = MapType.HttpRequestHeaders) {
  return host.getMap(id, map).find(([k]) => k === name)?.[1];
}

// The `nth` call of hostcall `name` answers with a pointer the module never allocated (FakeHost `returnBogusPointer`).
function bogusPointerAt(host: FakeHost, name: 'proxy_get_header_map_value' | 'proxy_get_shared_data', nth: number) {
  const original = host[name].bind(host);
  let calls = 0;
  host[name] = (...args: [number, number, number, number, number]) => {
    if (++calls === nth) host.returnBogusPointer = true;
    return original(...args);
  };
}

describe('example filter', () => {
  let file = '';
  beforeAll(async () => { file = await testModule('test-example'); }, 180_000);

  it('adds the configured request and response headers and counts requests', () => {
    const host = new FakeHost(file);
    expect(host.startPlugin(ROOT, 'request_header=X-Tenant\nrequest_value=blue\n# comment\nresponse_header=x-served-by\nresponse_value=mesh\ncounter=example_total')).toBe(true);
    for (let i = 0; i < 3; i++) {
      const { id, action } = request(host, [[':path', '/'], ['x-tenant', 'forged']]);
      expect(action).toBe(0);
      // add keeps the client's value and appends ours (the example does not strip).
      expect(host.getMap(id, MapType.HttpRequestHeaders).filter(([k]) => k === 'x-tenant').map(([, v]) => v))
        .toEqual(['forged', 'blue']);
      host.setMap(id, MapType.HttpResponseHeaders, [[':status', '200']]);
      expect(host.call('proxy_on_response_headers', id, 1, false)).toBe(0);
      expect(header(host, id, 'x-served-by', MapType.HttpResponseHeaders)).toBe('mesh');
      finish(host, id);
    }
    expect(host.metrics).toEqual([{ name: 'example_total', type: 0, value: 3n }]);
  });

  it('uses its defaults with an empty configuration', () => {
    const host = new FakeHost(file);
    expect(host.startPlugin(ROOT, '')).toBe(true);
    const { id } = request(host, [[':path', '/']]);
    expect(header(host, id, 'x-example-request')).toBe('1');
    expect(host.metrics[0]?.name).toBe('example_requests_total');
  });

  it('rejects an unknown key with an error log naming it', () => {
    const host = new FakeHost(file);
    expect(host.startPlugin(ROOT, 'request_header=x-a\nreqest_value=1')).toBe(false);
    expect(host.logs).toContainEqual({ level: 4, message: 'example: line 2: unknown key "reqest_value"' });
  });
});

describe('SDK through the probe module', () => {
  let file = '';
  let host: FakeHost;
  beforeAll(async () => { file = await testModule('test-sdk-probe'); }, 180_000);
  beforeEach(() => {
    host = new FakeHost(file);
    expect(host.startPlugin(ROOT, 'probe config')).toBe(true);
  });

  it('configures: reads the plugin configuration, logs, sets the tick period, defines metrics', () => {
    expect(host.logs).toContainEqual({ level: 2, message: 'configured: probe config' });
    expect(host.tickPeriod.get(ROOT)).toBe(1000);
    expect(host.metrics.map((m) => [m.name, m.type])).toEqual([
      ['probe_requests', 0], ['probe_gauge', 1], ['probe_histogram', 2],
    ]);
    host.call('proxy_on_tick', ROOT);
    host.call('proxy_on_tick', ROOT);
    expect(host.logs.at(-1)).toEqual({ level: 2, message: 'tick 2' });
  });

  it('fails configuration when onConfigure returns false', () => {
    const other = new FakeHost(file);
    expect(other.startPlugin(ROOT, 'fail')).toBe(false);
  });

  it('skips log lines below the host level, and the work guarded by isLogEnabled', () => {
    expect(host.logs.map((l) => l.message)).toContain('debug detail');
    const quiet = new FakeHost(file);
    quiet.logLevel = 2;
    expect(quiet.startPlugin(ROOT, 'x')).toBe(true);
    expect(quiet.logs.map((l) => l.message)).toEqual(['configured: x']);
    const silent = new FakeHost(file);
    silent.logLevel = 3;
    const before = silent.hostcalls;
    expect(silent.startPlugin(ROOT, 'x')).toBe(true);
    expect(silent.logs).toEqual([]);
    expect(silent.hostcalls).toBeGreaterThan(before);
  });

  it('pauses streams, fetches once from the root, then resumes each stream from the root', () => {
    const a = request(host, [['x-probe', 'pause']]);
    const b = request(host, [['x-probe', 'pause']]);
    expect(a.action).toBe(4);
    expect(b.action).toBe(4);
    expect(host.httpCalls).toHaveLength(1);
    const call = host.httpCalls[0]!;
    expect(call.contextId).toBe(ROOT);
    expect(call.cluster).toBe('keys');
    expect(call.headers).toEqual([[':method', 'GET'], [':path', '/keys'], [':authority', 'keys.internal']]);
    expect(call.timeoutMs).toBe(500);
    host.respondHttpCall(call, [[':status', '200']], '{"keys":[]}');
    expect(host.continued).toEqual([{ contextId: a.id, streamType: 0 }, { contextId: b.id, streamType: 0 }]);
    expect(header(host, a.id, 'x-keys')).toBe('{"keys":[]}');
    expect(header(host, b.id, 'x-keys')).toBe('{"keys":[]}');
    // The stream's fetch switched to the root once; the root switched to each stream.
    expect(host.effectiveContextCalls).toEqual([ROOT, a.id, b.id]);
  });

  it('answers paused streams from the root when the fetch fails (zero headers), skipping deleted ones', () => {
    const a = request(host, [['x-probe', 'pause']]);
    const gone = request(host, [['x-probe', 'pause']]);
    finish(host, gone.id);
    host.respondHttpCall(host.httpCalls[0]!, [], '');
    expect(host.localResponses).toEqual([{
      contextId: a.id, status: 503, details: 'keys_unavailable', body: 'no keys',
      headers: [['x-probe', 'failed']], grpcStatus: -1,
    }]);
    expect(host.continued).toEqual([]);
  });

  it('sends a local response with body, headers and no gRPC status', () => {
    const { id, action } = request(host, [['x-probe', 'reply']]);
    expect(action).toBe(4);
    expect(host.localResponses).toEqual([{
      contextId: id, status: 403, details: 'probe_denied', body: '{"error":"denied"}',
      headers: [['content-type', 'application/json']], grpcStatus: -1,
    }]);
  });

  it('gets and sets whole header maps, with non-ASCII names and values and empty values', () => {
    const { id } = request(host, [['x-probe', 'echo-all'], ['x-empty', ''], ['x-ünï', 'välue ✓ 😀']]);
    expect(host.getMap(id, MapType.HttpRequestHeaders)).toEqual([
      ['x-ünï', 'välue ✓ 😀'], ['x-empty', ''], ['x-probe', 'echo-all'], ['x-count', '3'],
    ]);
  });

  it("answers header lookups from the map's copy with this callback's edits, without a hostcall; the next callback asks the host again", () => {
    const lookups: string[] = [];
    const original = (host as any).proxy_get_header_map_value.bind(host);
    (host as any).proxy_get_header_map_value = (...args: number[]) => {
      lookups.push('get');
      return original(...args);
    };
    const { id } = request(host, [[':method', 'GET'], ['x-probe', 'snapshot'], ['x-a', 'old'], ['x-b', 'gone'], ['x-d', 'first'], ['x-e', 'e']]);
    // replace wins, remove clears, add shows only where there was no value, remove then add shows
    // the add; a name is looked up lower-cased, as Envoy does.
    expect(header(host, id, 'x-seen')).toBe('replaced,-,added,first,back,GET,-,replaced');
    expect(header(host, id, 'x-reused')).toBe('one');
    expect(header(host, id, 'x-grown')).toBe('one,a value long enough to make the copy of the edits grow past its first size,h');
    expect(lookups).toEqual(['get']); // the probe's x-probe, read before the copy
    host.setMap(id, MapType.HttpResponseHeaders, [[':status', '200']]);
    host.call('proxy_on_response_headers', id, 1, 1); // a later callback: the copy is stale, the host asked
    expect(lookups).toEqual(['get', 'get']);
    expect(header(host, id, 'x-later', MapType.HttpResponseHeaders)).toBe('replaced');
  });

  it('tells a missing header (NOT_FOUND) from a present one', () => {
    const { id } = request(host, [['x-probe', 'missing']]);
    expect(header(host, id, 'x-missing')).toBe('NOT_FOUND');
    expect(header(host, id, 'x-has')).toBe('yes');
  });

  it('rejects a pointer the module did not allocate, without trapping or leaking', () => {
    const id = nextStream++;
    host.call('proxy_on_context_create', id, ROOT);
    host.setMap(id, MapType.HttpRequestHeaders, [['x-probe', 'bogus']]);
    // The first lookup (x-probe) is honest; the probe's second get receives the bogus pointer.
    bogusPointerAt(host, 'proxy_get_header_map_value', 2);
    expect(host.call('proxy_on_request_headers', id, 1, true)).toBe(0);
    expect(header(host, id, 'x-bogus')).toBe('INVALID_MEMORY_ACCESS');
  });

  it('updates shared data with CAS, retrying when another writer got there first', () => {
    expect(header(host, request(host, [['x-probe', 'shared']]).id, 'x-hits')).toBe('1');
    expect(header(host, request(host, [['x-probe', 'shared']]).id, 'x-hits')).toBe('2');
    // Another VM writes between our read and our write, once.
    const original = host.proxy_set_shared_data.bind(host);
    let raced = false;
    host.proxy_set_shared_data = (kp: number, kl: number, vp: number, vl: number, cas: number) => {
      if (!raced) {
        raced = true;
        host.sharedData.set('hits', { value: new TextEncoder().encode('10'), cas: 999 });
      }
      return original(kp, kl, vp, vl, cas);
    };
    expect(header(host, request(host, [['x-probe', 'shared']]).id, 'x-hits')).toBe('11');
    expect(new TextDecoder().decode(host.sharedData.get('hits')!.value)).toBe('11');
  });

  it('reads shared data into buffers kept per size (SharedDataReader)', () => {
    host.sharedData.set('reader-a', { value: new TextEncoder().encode('first'), cas: 7 });
    host.sharedData.set('reader-b', { value: new TextEncoder().encode('longer value'), cas: 8 });
    const id = request(host, [['x-probe', 'shared-reader']]).id;
    expect(header(host, id, 'x-a')).toBe('first');
    expect(header(host, id, 'x-a-cas')).toBe('7');
    expect(header(host, id, 'x-b')).toBe('longer value');
    expect(header(host, id, 'x-b-own-buffer')).toBe('yes');
    // The same size again: the first read's buffer, now holding the new value.
    expect(header(host, id, 'x-a-again')).toBe('again');
    expect(header(host, id, 'x-a-same-buffer')).toBe('yes');
    expect(header(host, id, 'x-a-first-now')).toBe('again');
    expect(header(host, id, 'x-missing')).toBe('NOT_FOUND null 0');
    expect(header(host, id, 'x-bounded')).toBe('found null 8');
  });

  it('a shared-data read the host answers with memory the module never allocated is an error, not a trap', () => {
    host.sharedData.set('reader-a', { value: new TextEncoder().encode('first'), cas: 7 });
    bogusPointerAt(host, 'proxy_get_shared_data', 1);
    const { id } = request(host, [['x-probe', 'shared-reader']]);
    expect(header(host, id, 'x-a')).toBe('null');
    expect(header(host, id, 'x-a-cas')).toBe('0');
  });

  it('reads properties by NUL-joined path and decodes Envoy encodings', () => {
    host.properties.set('source\0address', new TextEncoder().encode('10.0.0.7:52000'));
    const size = new Uint8Array(8);
    new DataView(size.buffer).setBigInt64(0, 1234567890123n, true);
    host.properties.set('request\0size', size);
    host.properties.set('connection\0mtls', new Uint8Array([1]));
    const { id } = request(host, [['x-probe', 'property']]);
    expect(header(host, id, 'x-source')).toBe('10.0.0.7:52000');
    expect(header(host, id, 'x-size')).toBe('1234567890123');
    expect(header(host, id, 'x-mtls')).toBe('yes');
    expect(header(host, id, 'x-missing')).toBe('NOT_FOUND');
    expect(header(host, id, 'x-nul')).toBe('BAD_ARGUMENT');
  });

  it('falls back when a property has the wrong size for its type', () => {
    host.properties.set('request\0size', new Uint8Array([1, 2, 3]));
    host.properties.set('connection\0mtls', new Uint8Array([1, 1]));
    const { id } = request(host, [['x-probe', 'property']]);
    expect(header(host, id, 'x-size')).toBe('-1');
    expect(header(host, id, 'x-mtls')).toBe('no');
  });

  it('reads the host clock', () => {
    host.timeNanos = 1_712_345_678_901_234_567n;
    expect(header(host, request(host, [['x-probe', 'time']]).id, 'x-time')).toBe('1712345678901234567');
  });

  it('makes HTTP calls from a stream and delivers the response, which the host sends to the root, to that stream', () => {
    const { id, action } = request(host, [['x-probe', 'call']]);
    expect(header(host, id, 'x-call-unknown')).toBe('BAD_ARGUMENT');
    expect(action).toBe(4);
    const call = host.httpCalls[0]!;
    expect(call).toMatchObject({
      contextId: ROOT, cluster: 'upstream', timeoutMs: 250,
      headers: [[':method', 'POST'], [':path', '/check'], [':authority', 'upstream']],
      trailers: [['x-trailer', 't']],
    });
    expect(new TextDecoder().decode(call.body)).toBe('ping');
    host.respondHttpCall(call, [[':status', '201']], 'pong');
    expect(header(host, id, 'x-call-status')).toBe('201');
    expect(header(host, id, 'x-call-body')).toBe('pong');
    expect(header(host, id, 'x-call-get-status')).toBe('14 upstream unavailable');
    expect(host.continued).toEqual([{ contextId: id, streamType: 0 }]);
    expect(host.effectiveContextCalls).toEqual([id]);
  });

  it('drops the response of a call whose stream is gone', () => {
    const { id } = request(host, [['x-probe', 'call']]);
    finish(host, id);
    const logs = host.logs.length;
    host.respondHttpCall(host.httpCalls[0]!, [[':status', '200']], 'late');
    expect(host.continued).toEqual([]);
    expect(host.localResponses).toEqual([]);
    expect(host.logs.length).toBe(logs);
  });

  it('answers locally when its own call times out (zero headers)', () => {
    const { id } = request(host, [['x-probe', 'call']]);
    host.respondHttpCall(host.httpCalls[0]!, [], '');
    expect(host.localResponses).toMatchObject([{ contextId: id, status: 504, details: 'call_failed', body: 'timeout' }]);
  });

  it('registers a queue at configure, enqueues from a stream, drains it on queue-ready', () => {
    const { id } = request(host, [['x-probe', 'enqueue']]);
    expect(header(host, id, 'x-enqueue')).toBe('OK');
    expect(header(host, id, 'x-resolve')).toBe('NOT_FOUND');
    request(host, [['x-probe', 'enqueue']]);
    host.deliverQueue(1);
    expect(host.logs.slice(-3).map((l) => l.message)).toEqual([
      `dequeued item-${id}`, `dequeued item-${id + 1}`, 'queue drained: EMPTY',
    ]);
  });

  it('makes a unary gRPC call from a stream and delivers its reply to that stream', () => {
    const { id, action } = request(host, [['x-probe', 'grpc']]);
    expect(action).toBe(4);
    const call = host.grpcCalls[0]!;
    expect(call).toMatchObject({
      contextId: ROOT, cluster: 'grpc-backend', service: 'probe.Echo', method: 'Say',
      metadata: [['x-md', '1']], timeoutMs: 300,
    });
    expect(new TextDecoder().decode(call.message)).toBe('hi');
    host.buffers.set(`0:${BufferType.GrpcCallMessage}`, new TextEncoder().encode('hello back'));
    host.call('proxy_on_grpc_receive', ROOT, call.callId, 10);
    expect(header(host, id, 'x-grpc-message')).toBe('hello back');
    expect(host.continued).toEqual([{ contextId: id, streamType: 0 }]);
    // The reply ended the unary call: a later event with its id goes to the root.
    host.call('proxy_on_grpc_close', ROOT, call.callId, 14);
    expect(header(host, id, 'x-grpc-status')).toBeUndefined();
  });

  it('delivers the failure of a unary gRPC call (close with a status) to its stream', () => {
    const { id } = request(host, [['x-probe', 'grpc']]);
    host.call('proxy_on_grpc_close', ROOT, host.grpcCalls[0]!.callId, 14);
    expect(header(host, id, 'x-grpc-status')).toBe('14 upstream unavailable');
    expect(host.continued).toEqual([{ contextId: id, streamType: 0 }]);
  });

  it('updates counters, gauges and histograms', () => {
    request(host, [['x-probe', 'none']]);
    const { id } = request(host, [['x-probe', 'metrics']]);
    expect(header(host, id, 'x-counter')).toBe('2');
    expect(header(host, id, 'x-gauge')).toBe('5');
    expect(host.metrics.find((m) => m.name === 'probe_histogram')!.value).toBe(42n);
  });

  it('reads and rewrites a buffered request body', () => {
    const id = nextStream++;
    host.call('proxy_on_context_create', id, ROOT);
    host.setMap(id, MapType.HttpRequestHeaders, [['x-probe', 'body']]);
    expect(host.call('proxy_on_request_headers', id, 1, false)).toBe(0);
    host.buffers.set(`${id}:${BufferType.HttpRequestBody}`, new TextEncoder().encode('hello '));
    expect(host.call('proxy_on_request_body', id, 6, false)).toBe(1);
    host.buffers.set(`${id}:${BufferType.HttpRequestBody}`, new TextEncoder().encode('hello wörld'));
    expect(host.call('proxy_on_request_body', id, 12, true)).toBe(0);
    expect(new TextDecoder().decode(host.buffers.get(`${id}:${BufferType.HttpRequestBody}`))).toBe('HELLO WÖRLD!');
  });

  it('logs an abort at critical level with its message and place, then traps', () => {
    const id = nextStream++;
    host.call('proxy_on_context_create', id, ROOT);
    host.setMap(id, MapType.HttpRequestHeaders, [['x-probe', 'abort']]);
    expect(() => host.call('proxy_on_request_headers', id, 1, true)).toThrow(WebAssembly.RuntimeError);
    expect(host.logs.at(-1)?.level).toBe(5);
    expect(host.logs.at(-1)?.message).toMatch(/^abort: probe assertion at test\/wasm\/example\/probe\.ts:\d+:\d+$/);
  });

  it('ignores callbacks for contexts it does not know, without trapping', () => {
    expect(host.call('proxy_on_request_headers', 9999, 0, true)).toBe(0);
    expect(host.call('proxy_on_response_body', 9999, 10, true)).toBe(0);
    expect(host.call('proxy_on_done', 9999)).toBe(1);
    host.call('proxy_on_log', 9999);
    host.call('proxy_on_delete', 9999);
    host.call('proxy_on_http_call_response', 9999, 1, 0, 0, 0);
    host.call('proxy_on_tick', 9999);
    expect(host.call('proxy_on_configure', 9999, 0)).toBe(0);
    expect(host.logs.at(-1)).toEqual({
      level: 5, message: 'proxy_on_configure: no root context 9999 (registerRootContext not called?)',
    });
  });

  it('access-logs on proxy_on_log and forgets the context on delete', () => {
    const { id } = request(host, [['x-probe', 'none']]);
    finish(host, id);
    expect(host.logs.at(-1)).toEqual({ level: 2, message: `log ${id} none` });
    // A deleted context's callbacks are ignored.
    host.call('proxy_on_log', id);
    expect(host.logs.at(-1)).toEqual({ level: 2, message: `log ${id} none` });
  });

  it('runs as a network filter: TCP callbacks and the downstream data buffer', () => {
    const tcp = new FakeHost(file);
    expect(tcp.startPlugin(ROOT, 'tcp')).toBe(true);
    tcp.call('proxy_on_context_create', 50, ROOT);
    expect(tcp.call('proxy_on_new_connection', 50)).toBe(0);
    tcp.buffers.set(`50:${BufferType.DownstreamData}`, new TextEncoder().encode('ping ü'));
    expect(tcp.call('proxy_on_downstream_data', 50, 7, false)).toBe(0);
    expect(new TextDecoder().decode(tcp.buffers.get(`50:${BufferType.DownstreamData}`))).toBe('PING Ü');
    tcp.call('proxy_on_downstream_connection_close', 50, 2);
    expect(tcp.logs.slice(-2).map((l) => l.message)).toEqual(['tcp new 50', 'tcp closed by remote']);
    // No HTTP context was made: HTTP callbacks for that id do nothing.
    expect(tcp.call('proxy_on_request_headers', 50, 0, true)).toBe(0);
  });

  it('frees every block the host allocated: memory stays flat over many requests', () => {
    const run = (n: number) => {
      for (let i = 0; i < n; i++) {
        const { id } = request(host, [['x-probe', i % 2 ? 'missing' : 'echo-all'], ['x-pad', 'v'.repeat(200)]]);
        host.setMap(id, MapType.HttpResponseHeaders, [[':status', '200']]);
        host.call('proxy_on_response_headers', id, 1, true);
        finish(host, id);
      }
    };
    run(3000);
    const warm = host.memory.buffer.byteLength;
    const allocationsBefore = host.allocations;
    run(20000);
    expect(host.allocations - allocationsBefore).toBeGreaterThan(20000);
    expect(host.memory.buffer.byteLength).toBe(warm);
  });
});
