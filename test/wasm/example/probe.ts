// SDK probe: one filter that exercises every part of the SDK API, for test/sdk/*.test.ts.
// The request header `x-probe` picks what a request does; each action says what it
// exercises. Not an example to copy (index.ts is): it packs many features in one file.

export * from '../../../assembly/proxy-wasm/exports';

import {
  Counter,
  HeaderFields,
  FilterDataStatus,
  FilterHeadersStatus,
  Gauge,
  HeaderPair,
  Histogram,
  HttpContext,
  LogLevel,
  FilterStatus,
  PeerType,
  RootContext,
  StreamContext,
  WasmResult,
  getCurrentTimeNanoseconds,
  getPropertyBool,
  getPropertyInt64,
  getPropertyString,
  dequeueSharedQueue,
  enqueueSharedQueueString,
  getSharedData,
  grpcMessage,
  httpCallResponseBody,
  httpCallResponseHeaders,
  isLogEnabled,
  lastResult,
  logDebug,
  logInfo,
  registerRootContext,
  registerSharedQueue,
  resolveSharedQueue,
  setSharedDataString,
  SharedDataReader,
  HeaderName,
  utf8,
  wasmResultName,
} from '../../../assembly/proxy-wasm';

const X_PROBE = HeaderName.of('x-probe');
const SOURCE_ADDRESS: string[] = ['source', 'address'];
const REQUEST_SIZE: string[] = ['request', 'size'];
const CONNECTION_MTLS: string[] = ['connection', 'mtls'];

class ProbeRoot extends RootContext {
  requests: Counter | null = null;
  gauge: Gauge | null = null;
  histogram: Histogram | null = null;
  waiting: ProbeStream[] = [];
  fetchInFlight: bool = false;
  ticks: i32 = 0;
  queueId: u32 = 0;

  onConfigure(size: usize): bool {
    const config = this.getPluginConfigurationString();
    if (config === null || config == 'fail') return false;
    this.tcp = config == 'tcp';
    this.requests = Counter.define('probe_requests');
    this.gauge = Gauge.define('probe_gauge');
    this.histogram = Histogram.define('probe_histogram');
    logInfo('configured: ' + config);
    if (isLogEnabled(LogLevel.Debug)) logDebug('debug detail');
    this.setTickPeriodMilliseconds(1000);
    const queue = registerSharedQueue('probe-queue');
    if (!queue.ok) logInfo('queue: ' + wasmResultName(queue.status));
    this.queueId = queue.queueId;
    return true;
  }

  // Drains the queue: one log line per item, then the status that ended the loop.
  onQueueReady(queueId: u32): void {
    for (let item = dequeueSharedQueue(queueId); item !== null; item = dequeueSharedQueue(queueId)) {
      logInfo('dequeued ' + String.UTF8.decode(item));
    }
    logInfo('queue drained: ' + wasmResultName(lastResult()));
  }

  onTick(): void {
    this.ticks++;
    logInfo('tick ' + this.ticks.toString());
  }

  tcp: bool = false;

  createHttpContext(contextId: u32): HttpContext | null {
    return this.tcp ? null : new ProbeStream(contextId, this);
  }

  // With configuration "tcp" the probe is a network filter.
  createStreamContext(contextId: u32): StreamContext | null {
    return new ProbeConnection(contextId, this);
  }

  // Fetches "keys" once for all waiting streams (the JWKS pattern).
  fetch(): void {
    if (this.fetchInFlight) return;
    const call = this.httpCall('keys', [
      new HeaderPair(':method', 'GET'),
      new HeaderPair(':path', '/keys'),
      new HeaderPair(':authority', 'keys.internal'),
    ], null, null, 500);
    this.fetchInFlight = call.ok;
    if (!call.ok) this.finish(null);
  }

  onHttpCallResponse(callId: u32, numHeaders: u32, bodySize: usize, numTrailers: u32): void {
    this.fetchInFlight = false;
    this.finish(numHeaders == 0 ? null : httpCallResponseBody.getString());
  }

  // Resumes (with the keys in a header) or answers every waiting stream, from the root.
  private finish(keys: string | null): void {
    const waiting = this.waiting;
    this.waiting = [];
    for (let i = 0; i < waiting.length; i++) {
      const stream = waiting[i];
      if (stream.deleted) continue;
      if (keys === null) {
        stream.sendLocalResponse(503, 'keys_unavailable', 'no keys', [new HeaderPair('x-probe', 'failed')]);
      } else {
        stream.requestHeaders.replaceNamed('x-keys', keys);
        stream.resumeRequest();
      }
    }
  }
}

class ProbeStream extends HttpContext {
  action: string = '';

  constructor(contextId: u32, readonly plugin: ProbeRoot) {
    super(contextId, plugin);
  }

  onResponseHeaders(numHeaders: u32, endOfStream: bool): FilterHeadersStatus {
    // A later callback: the request's copy from onRequestHeaders no longer answers.
    if (this.action == 'snapshot') {
      const a = this.requestHeaders.getNamed('x-a');
      this.responseHeaders.replaceNamed('x-later', a === null ? '-' : a);
    }
    return FilterHeadersStatus.Continue;
  }

  onRequestHeaders(numHeaders: u32, endOfStream: bool): FilterHeadersStatus {
    const requests = this.plugin.requests;
    if (requests) requests.increment();
    const action = this.requestHeaders.get(X_PROBE);
    this.action = action !== null ? action : '';
    const headers = this.requestHeaders;
    if (this.action == 'pause') {
      // Paused until the root's fetch completes; the root resumes or answers us.
      this.plugin.waiting.push(this);
      this.plugin.fetch();
      return FilterHeadersStatus.StopAllIterationAndWatermark;
    }
    if (this.action == 'reply') {
      this.sendLocalResponse(403, 'probe_denied', '{"error":"denied"}', [
        new HeaderPair('content-type', 'application/json'),
      ]);
      return FilterHeadersStatus.StopAllIterationAndWatermark;
    }
    if (this.action == 'echo-all') {
      const all = headers.getAll();
      if (all !== null) {
        const reversed = all.reverse();
        reversed.push(new HeaderPair('x-count', all.length.toString()));
        headers.setAll(reversed);
      }
    } else if (this.action == 'shared') {
      headers.replaceNamed('x-hits', incrementShared('hits').toString());
    } else if (this.action == 'shared-reader') {
      // Reads into buffers kept per size: a second read of a size reuses the first's buffer.
      const reader = sharedReader;
      reader.read(READER_A);
      const first = reader.value;
      headers.replaceNamed('x-a', first !== null ? String.UTF8.decode(first) : 'null');
      headers.replaceNamed('x-a-cas', reader.cas.toString());
      reader.read(READER_B);
      const b = reader.value;
      headers.replaceNamed('x-b', b !== null ? String.UTF8.decode(b) : 'null');
      headers.replaceNamed('x-b-own-buffer', b !== first ? 'yes' : 'no');
      setSharedDataString('reader-a', 'again');
      reader.read(READER_A);
      const again = reader.value;
      headers.replaceNamed('x-a-again', again !== null ? String.UTF8.decode(again) : 'null');
      headers.replaceNamed('x-a-same-buffer', again === first ? 'yes' : 'no');
      headers.replaceNamed('x-a-first-now', first !== null ? String.UTF8.decode(first) : 'null');
      // A reader of values up to 8 bytes finds the 12-byte one but copies nothing.
      const bounded = boundedReader.read(READER_B);
      headers.replaceNamed('x-bounded', (bounded ? 'found ' : '') + (boundedReader.value === null ? 'null' : 'value') + ' ' + boundedReader.cas.toString());
      const found = reader.read(READER_MISSING);
      headers.replaceNamed('x-missing', (found ? 'found ' : '') + wasmResultName(reader.status) + ' ' + (reader.value === null ? 'null' : 'value') + ' ' + reader.cas.toString());
    } else if (this.action == 'property') {
      const source = getPropertyString(SOURCE_ADDRESS);
      headers.replaceNamed('x-source', source !== null ? source : 'none');
      headers.replaceNamed('x-size', getPropertyInt64(REQUEST_SIZE, -1).toString());
      headers.replaceNamed('x-mtls', getPropertyBool(CONNECTION_MTLS, false) ? 'yes' : 'no');
      const missing = getPropertyString(['no', 'such']);
      headers.replaceNamed('x-missing', missing === null ? wasmResultName(lastResult()) : missing);
      const nul = getPropertyString(['bad\0segment']);
      headers.replaceNamed('x-nul', nul === null ? wasmResultName(lastResult()) : nul);
    } else if (this.action == 'time') {
      headers.replaceNamed('x-time', getCurrentTimeNanoseconds().toString());
    } else if (this.action == 'bogus') {
      // The host is told (by the test) to return a pointer we never allocated.
      const value = headers.get(X_PROBE);
      headers.replaceNamed('x-bogus', value === null ? wasmResultName(lastResult()) : 'accepted');
    } else if (this.action == 'snapshot') {
      // One copy of the map, then edits, then lookups: the lookups see the edits and make
      // no hostcall (the test counts the host's lookups).
      new HeaderFields().read(headers);
      headers.replaceNamed('x-a', 'replaced');
      headers.removeNamed('x-b');
      headers.addNamed('x-c', 'added');
      headers.addNamed('x-d', 'second');
      headers.removeNamed('x-e');
      headers.addNamed('x-e', 'back');
      const seen = [headers.getNamed('x-a'), headers.getNamed('x-b'), headers.getNamed('x-c'), headers.getNamed('x-d'),
        headers.getNamed('x-e'), headers.getNamed(':method'), headers.getNamed('x-never'), headers.getNamed('X-A')];
      let out = '';
      for (let i = 0; i < seen.length; i++) out += (i > 0 ? ',' : '') + (seen[i] === null ? '-' : seen[i]!);
      headers.replaceNamed('x-seen', out);
      // A value passed as bytes is the caller's buffer to reuse once the call returns.
      const reused = utf8('one');
      headers.replaceBytes(HeaderName.of('x-f'), reused);
      store<u8>(changetype<usize>(reused), 0x4f);
      const f = headers.getNamed('x-f');
      headers.replaceNamed('x-reused', f === null ? '-' : f);
      // More values as bytes than the first edits' room: earlier ones are kept as they were.
      headers.replaceBytes(HeaderName.of('x-g'), utf8('a value long enough to make the copy of the edits grow past its first size'));
      headers.addBytes(HeaderName.of('x-h'), utf8('h'));
      const f2 = headers.getNamed('x-f');
      const g = headers.getBytes(HeaderName.of('x-g'));
      const h = headers.getNamed('x-h');
      headers.replaceNamed('x-grown', (f2 === null ? '-' : f2) + ',' + (g === null ? '-' : String.UTF8.decode(g)) + ',' + (h === null ? '-' : h));
    } else if (this.action == 'missing') {
      const value = headers.getNamed('x-absent');
      headers.replaceNamed('x-missing', value === null ? wasmResultName(lastResult()) : value);
      headers.replaceNamed('x-has', headers.has(X_PROBE) ? 'yes' : 'no');
    } else if (this.action == 'call') {
      const call = this.httpCall('unknown', [new HeaderPair(':method', 'GET')], null, null, 100);
      headers.replaceNamed('x-call-unknown', wasmResultName(call.status));
      const ok = this.httpCall('upstream', [
        new HeaderPair(':method', 'POST'),
        new HeaderPair(':path', '/check'),
        new HeaderPair(':authority', 'upstream'),
      ], utf8('ping'), [new HeaderPair('x-trailer', 't')], 250);
      return ok.ok ? FilterHeadersStatus.StopAllIterationAndWatermark : FilterHeadersStatus.Continue;
    } else if (this.action == 'metrics') {
      const gauge = this.plugin.gauge;
      const histogram = this.plugin.histogram;
      if (gauge) gauge.set(7);
      if (gauge) gauge.add(-2);
      if (histogram) histogram.record(42);
      const requests = this.plugin.requests;
      headers.replaceNamed('x-counter', requests ? requests.get().toString() : 'none');
      headers.replaceNamed('x-gauge', gauge ? gauge.get().toString() : 'none');
    } else if (this.action == 'enqueue') {
      const r = enqueueSharedQueueString(this.plugin.queueId, 'item-' + this.contextId.toString());
      headers.replaceNamed('x-enqueue', wasmResultName(r));
      headers.replaceNamed('x-resolve', wasmResultName(resolveSharedQueue('no-such-vm', 'no-such-queue').status));
    } else if (this.action == 'grpc') {
      const call = this.grpcCall('grpc-backend', 'probe.Echo', 'Say', [new HeaderPair('x-md', '1')], utf8('hi'), 300);
      headers.replaceNamed('x-grpc-call', wasmResultName(call.status));
      if (call.ok) return FilterHeadersStatus.StopAllIterationAndWatermark;
    } else if (this.action == 'abort') {
      assert(false, 'probe assertion');
    }
    return FilterHeadersStatus.Continue;
  }

  onRequestBody(bodySize: usize, endOfStream: bool): FilterDataStatus {
    if (this.action != 'body') return FilterDataStatus.Continue;
    if (!endOfStream) return FilterDataStatus.StopIterationAndBuffer;
    const body = this.requestBody.getString();
    this.requestBody.replaceString(body !== null ? body.toUpperCase() : 'NULL');
    this.requestBody.appendString('!');
    return FilterDataStatus.Continue;
  }

  onHttpCallResponse(callId: u32, numHeaders: u32, bodySize: usize, numTrailers: u32): void {
    if (numHeaders == 0) {
      this.sendLocalResponse(504, 'call_failed', 'timeout');
      return;
    }
    const status = httpCallResponseHeaders.getNamed(':status');
    const body = httpCallResponseBody.getString();
    const call = this.getCallStatus();
    this.requestHeaders.replaceNamed('x-call-status', status !== null ? status : 'none');
    this.requestHeaders.replaceNamed('x-call-body', body !== null ? body : 'none');
    this.requestHeaders.replaceNamed('x-call-get-status', call.code.toString() + ' ' + call.message);
    this.resumeRequest();
  }

  // A unary call ends with exactly one of these two.
  onGrpcReceive(callId: u32, messageSize: usize): void {
    const message = grpcMessage.getString();
    this.requestHeaders.replaceNamed('x-grpc-message', message !== null ? message : 'none');
    this.resumeRequest();
  }

  onGrpcClose(callId: u32, statusCode: u32): void {
    this.requestHeaders.replaceNamed('x-grpc-status', statusCode.toString() + ' ' + this.getCallStatus().message);
    this.resumeRequest();
  }

  onLog(): void {
    logInfo('log ' + this.contextId.toString() + ' ' + this.action);
  }
}

// TCP: upper-cases what the client sends, logs the connection's events.
class ProbeConnection extends StreamContext {
  onNewConnection(): FilterStatus {
    logInfo('tcp new ' + this.contextId.toString());
    return FilterStatus.Continue;
  }

  onDownstreamData(dataSize: usize, endOfStream: bool): FilterStatus {
    const data = this.downstreamData.getString(0, dataSize);
    if (data !== null) this.downstreamData.replaceString(data.toUpperCase());
    return FilterStatus.Continue;
  }

  onDownstreamConnectionClose(peerType: PeerType): void {
    logInfo('tcp closed by ' + (peerType == PeerType.Remote ? 'remote' : 'local'));
  }
}

const sharedReader = new SharedDataReader();
const boundedReader = new SharedDataReader(16, 8);
const READER_A = String.UTF8.encode('reader-a');
const READER_B = String.UTF8.encode('reader-b');
const READER_MISSING = String.UTF8.encode('reader-missing');

// Read-modify-write of a shared decimal counter with CAS, retried on conflict.
function incrementShared(key: string): u32 {
  for (let attempt = 0; attempt < 8; attempt++) {
    const current = getSharedData(key);
    const text = current.valueString();
    const next = (text !== null ? <u32>parseInt(text) : 0) + 1;
    const r = setSharedDataString(key, next.toString(), current.cas);
    if (r == WasmResult.Ok) return next;
  }
  return 0;
}

registerRootContext((contextId: u32): RootContext => new ProbeRoot(contextId));
