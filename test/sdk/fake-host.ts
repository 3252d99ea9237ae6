/**
 * A deliberately small proxy-wasm host for the SDK's own tests: enough of ABI v0.2.1
 * (proxy-wasm/spec abi-versions/v0.2.1/README.md) to drive an SDK-built module and
 * observe what it asks of the host. It is not the project's host (`harness/host/`),
 * which owns fidelity to Envoy; this one records calls and lets a test inject faults
 * (bad pointers from the host, failing hostcalls) that a faithful host never produces.
 */
import { readFileSync } from 'node:fs';
import { BufferType, MapType, WasmResult } from '../../harness/host/abi.ts';

export type Pairs = [string, string][];

export interface LogLine { level: number; message: string }
export interface Metric { name: string; type: number; value: bigint }
export interface HttpCall {
  contextId: number; callId: number; cluster: string;
  headers: Pairs; body: Uint8Array; trailers: Pairs; timeoutMs: number;
}
export interface LocalResponse {
  contextId: number; status: number; details: string; body: string; headers: Pairs; grpcStatus: number;
}

const utf8 = new TextEncoder();
const fromUtf8 = new TextDecoder();

/** Serializes pairs in the spec's format (count, sizes, NUL-terminated bytes). */
export function serializePairs(pairs: Pairs): Uint8Array {
  const encoded = pairs.map(([k, v]) => [utf8.encode(k), utf8.encode(v)] as const);
  let size = 4;
  for (const [k, v] of encoded) size += 8 + k.length + v.length + 2;
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  view.setUint32(0, pairs.length, true);
  let pos = 4;
  for (const [k, v] of encoded) {
    view.setUint32(pos, k.length, true);
    view.setUint32(pos + 4, v.length, true);
    pos += 8;
  }
  for (const [k, v] of encoded) {
    out.set(k, pos); pos += k.length + 1;
    out.set(v, pos); pos += v.length + 1;
  }
  return out;
}

/** Parses the spec's pair format; throws on malformed input (the module must not send it). */
export function parsePairs(bytes: Uint8Array): Pairs {
  if (bytes.length === 0) return [];
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = view.getUint32(0, true);
  let pos = 4 + n * 8;
  const pairs: Pairs = [];
  for (let i = 0; i < n; i++) {
    const kl = view.getUint32(4 + i * 8, true);
    const vl = view.getUint32(8 + i * 8, true);
    const k = fromUtf8.decode(bytes.subarray(pos, pos + kl));
    if (bytes[pos + kl] !== 0) throw new Error('pairs: missing NUL after name');
    pos += kl + 1;
    const v = fromUtf8.decode(bytes.subarray(pos, pos + vl));
    if (bytes[pos + vl] !== 0) throw new Error('pairs: missing NUL after value');
    pos += vl + 1;
    pairs.push([k, v]);
  }
  if (pos !== bytes.length) throw new Error('pairs: trailing bytes');
  return pairs;
}

export class FakeHost {
  readonly instance: WebAssembly.Instance;
  readonly exports: Record<string, any>;
  readonly logs: LogLine[] = [];
  readonly metrics: Metric[] = [];
  readonly httpCalls: HttpCall[] = [];
  readonly localResponses: LocalResponse[] = [];
  readonly continued: { contextId: number; streamType: number }[] = [];
  readonly sharedData = new Map<string, { value: Uint8Array; cas: number }>();
  readonly properties = new Map<string, Uint8Array>();
  /** Header maps by `${contextId}:${mapType}`; call responses under context 0. */
  readonly maps = new Map<string, Pairs>();
  /** Buffers by `${contextId}:${bufferType}`; configurations under context 0. */
  readonly buffers = new Map<string, Uint8Array>();
  readonly effectiveContextCalls: number[] = [];
  logLevel = 0;
  timeNanos = 1_700_000_000_123_456_789n;
  tickPeriod = new Map<number, number>();
  /** Faults to inject: the next `proxy_get_*` returning data writes this pointer instead. */
  returnBogusPointer = false;
  allocations = 0;
  hostcalls = 0;
  /** Parent of each context (0 for roots), from proxy_on_context_create. */
  readonly parents = new Map<number, number>();
  private current = 0;
  private effective = 0;
  private nextCallId = 1;
  private cas = 1;

  constructor(file: string) {
    const module = new WebAssembly.Module(readFileSync(file));
    const env: Record<string, Function> = {};
    const wasi: Record<string, Function> = {};
    for (const imp of WebAssembly.Module.imports(module)) {
      if (typeof (this as any)[imp.name] !== 'function') throw new Error(`fake host lacks ${imp.module}.${imp.name}`);
      // Looked up per call, so that a test can replace one hostcall on the instance.
      // Wasm i32 arguments arrive signed; the ABI's are uint32_t/size_t.
      const fn = (...args: any[]) => {
        this.hostcalls++;
        return (this as any)[imp.name](...args.map((a) => (typeof a === 'number' ? a >>> 0 : a)));
      };
      (imp.module === 'env' ? env : wasi)[imp.name] = fn;
    }
    this.instance = new WebAssembly.Instance(module, { env, wasi_snapshot_preview1: wasi });
    this.exports = this.instance.exports as Record<string, any>;
    this.exports._initialize?.();
  }

  get memory(): WebAssembly.Memory { return this.exports.memory as WebAssembly.Memory; }
  private view() { return new DataView(this.memory.buffer); }
  private bytes(ptr: number, len: number) { return new Uint8Array(this.memory.buffer, ptr, len).slice(); }
  private string(ptr: number, len: number) { return fromUtf8.decode(this.bytes(ptr, len)); }
  private context() { return this.effective || this.current; }

  /** Calls export `name` as the host does: `contextId` is the first argument. */
  call(name: string, ...args: (number | boolean | bigint)[]): any {
    const fn = this.exports[name];
    if (typeof fn !== 'function') throw new Error(`module does not export ${name}`);
    if (name === 'proxy_on_context_create') this.parents.set(Number(args[0]), Number(args[1]));
    const savedCurrent = this.current, savedEffective = this.effective;
    this.current = Number(args[0] ?? 0);
    this.effective = 0;
    try {
      return fn(...args.map((a) => (typeof a === 'boolean' ? (a ? 1 : 0) : a)));
    } finally {
      this.current = savedCurrent;
      this.effective = savedEffective;
    }
  }

  // Root context `rootId` with its configuration, as Envoy starts a plugin.
  startPlugin(rootId: number, configuration: string, vmConfiguration = ''): boolean {
    this.call('proxy_on_context_create', rootId, 0);
    this.buffers.set(`0:${BufferType.VmConfiguration}`, utf8.encode(vmConfiguration));
    const vmOk = this.call('proxy_on_vm_start', rootId, utf8.encode(vmConfiguration).length);
    this.buffers.set(`0:${BufferType.PluginConfiguration}`, utf8.encode(configuration));
    const ok = this.call('proxy_on_configure', rootId, utf8.encode(configuration).length);
    this.buffers.delete(`0:${BufferType.PluginConfiguration}`);
    return vmOk === 1 && ok === 1;
  }

  setMap(contextId: number, mapType: number, pairs: Pairs) { this.maps.set(`${contextId}:${mapType}`, pairs); }
  getMap(contextId: number, mapType: number): Pairs { return this.maps.get(`${contextId}:${mapType}`) ?? []; }

  // Writes `data` into module memory obtained from proxy_on_memory_allocate, and its
  // pointer and size into the module's return slots (size 0: pointer 0, as Envoy does).
  private copyOut(data: Uint8Array, ptrPtr: number, sizePtr: number): WasmResult {
    let ptr = 0;
    if (data.length > 0) {
      ptr = this.exports.proxy_on_memory_allocate(data.length) as number;
      this.allocations++;
      if (ptr === 0) return WasmResult.InvalidMemoryAccess;
      new Uint8Array(this.memory.buffer, ptr, data.length).set(data);
    }
    let size = data.length;
    if (this.returnBogusPointer) {
      // A pointer the module never handed out (its static data), as a broken host might.
      this.returnBogusPointer = false;
      ptr = 8;
      size = Math.max(size, 16);
    }
    this.view().setUint32(ptrPtr, ptr, true);
    this.view().setUint32(sizePtr, size, true);
    return WasmResult.Ok;
  }

  // ---- hostcalls (names as imported) ----
  proxy_log(level: number, ptr: number, len: number) { this.logs.push({ level, message: this.string(ptr, len) }); return 0; }
  proxy_get_log_level(ret: number) { this.view().setUint32(ret, this.logLevel, true); return 0; }
  proxy_get_current_time_nanoseconds(ret: number) { this.view().setBigUint64(ret, this.timeNanos, true); return 0; }
  proxy_set_tick_period_milliseconds(ms: number) { this.tickPeriod.set(this.context(), ms); return 0; }
  proxy_set_effective_context(id: number) { this.effectiveContextCalls.push(id); this.effective = id; return 0; }
  proxy_done() { return 0; }

  proxy_get_buffer_bytes(type: number, start: number, max: number, ptrPtr: number, sizePtr: number) {
    const buf = this.buffers.get(`${this.context()}:${type}`) ?? this.buffers.get(`0:${type}`);
    if (!buf) return WasmResult.NotFound;
    return this.copyOut(buf.subarray(start, start + max), ptrPtr, sizePtr);
  }
  proxy_get_buffer_status(type: number, sizePtr: number, _flags: number) {
    const buf = this.buffers.get(`${this.context()}:${type}`) ?? this.buffers.get(`0:${type}`);
    if (!buf) return WasmResult.NotFound;
    this.view().setUint32(sizePtr, buf.length, true);
    return 0;
  }
  proxy_set_buffer_bytes(type: number, start: number, size: number, ptr: number, len: number) {
    const key = `${this.context()}:${type}`;
    const old = this.buffers.get(key) ?? new Uint8Array();
    const value = this.bytes(ptr, len);
    const s = Math.min(start, old.length);
    const out = new Uint8Array([...old.subarray(0, s), ...value, ...old.subarray(Math.min(old.length, s + size))]);
    this.buffers.set(key, out);
    return 0;
  }

  private mapFor(type: number): Pairs | undefined {
    const ctx = type >= 4 ? 0 : this.context();
    return this.maps.get(`${ctx}:${type}`);
  }
  proxy_get_header_map_value(type: number, kp: number, kl: number, ptrPtr: number, sizePtr: number) {
    const map = this.mapFor(type);
    if (!map) return WasmResult.BadArgument;
    const key = this.string(kp, kl);
    const hit = map.find(([k]) => k === key);
    if (!hit) return WasmResult.NotFound;
    return this.copyOut(utf8.encode(hit[1]), ptrPtr, sizePtr);
  }
  proxy_get_header_map_pairs(type: number, ptrPtr: number, sizePtr: number) {
    const map = this.mapFor(type);
    if (!map) return WasmResult.BadArgument;
    return this.copyOut(serializePairs(map), ptrPtr, sizePtr);
  }
  proxy_set_header_map_pairs(type: number, ptr: number, len: number) {
    this.maps.set(`${this.context()}:${type}`, parsePairs(this.bytes(ptr, len)));
    return 0;
  }
  proxy_get_header_map_size(type: number, ret: number) {
    const map = this.mapFor(type);
    if (!map) return WasmResult.BadArgument;
    this.view().setUint32(ret, serializePairs(map).length, true);
    return 0;
  }
  proxy_add_header_map_value(type: number, kp: number, kl: number, vp: number, vl: number) {
    const key = `${this.context()}:${type}`;
    const map = this.maps.get(key) ?? [];
    map.push([this.string(kp, kl), this.string(vp, vl)]);
    this.maps.set(key, map);
    return 0;
  }
  proxy_replace_header_map_value(type: number, kp: number, kl: number, vp: number, vl: number) {
    const key = `${this.context()}:${type}`;
    const name = this.string(kp, kl);
    const map = (this.maps.get(key) ?? []).filter(([k]) => k !== name);
    map.push([name, this.string(vp, vl)]);
    this.maps.set(key, map);
    return 0;
  }
  proxy_remove_header_map_value(type: number, kp: number, kl: number) {
    const key = `${this.context()}:${type}`;
    const name = this.string(kp, kl);
    this.maps.set(key, (this.maps.get(key) ?? []).filter(([k]) => k !== name));
    return 0;
  }

  proxy_continue_stream(streamType: number) { this.continued.push({ contextId: this.context(), streamType }); return 0; }
  proxy_close_stream(_streamType: number) { return 0; }
  proxy_get_status(codePtr: number, ptrPtr: number, sizePtr: number) {
    this.view().setUint32(codePtr, 14, true);
    return this.copyOut(utf8.encode('upstream unavailable'), ptrPtr, sizePtr);
  }
  proxy_send_local_response(status: number, dp: number, dl: number, bp: number, bl: number, hp: number, hl: number, grpc: number) {
    this.localResponses.push({
      contextId: this.context(), status, details: this.string(dp, dl), body: this.string(bp, bl),
      headers: parsePairs(this.bytes(hp, hl)), grpcStatus: grpc | 0,
    });
    return 0;
  }
  private rootOf(id: number): number {
    const parent = this.parents.get(id) ?? 0;
    return parent === 0 ? id : parent;
  }

  // Like Envoy (cpp-host exports.cc http_call: `->root_context()`), the call belongs to
  // the root context, which is the one called back.
  proxy_http_call(up: number, ul: number, hp: number, hl: number, bp: number, bl: number, tp: number, tl: number, timeout: number, ret: number) {
    const cluster = this.string(up, ul);
    if (cluster === 'unknown') return WasmResult.BadArgument;
    const callId = this.nextCallId++;
    this.httpCalls.push({
      contextId: this.rootOf(this.context()), callId, cluster, headers: parsePairs(this.bytes(hp, hl)),
      body: this.bytes(bp, bl), trailers: parsePairs(this.bytes(tp, tl)), timeoutMs: timeout,
    });
    this.view().setUint32(ret, callId, true);
    return 0;
  }

  /** Answers HTTP call `call` as Envoy does: to its root context, maps readable during the callback. */
  respondHttpCall(call: HttpCall, headers: Pairs, body: string, trailers: Pairs = []) {
    this.maps.set(`0:${MapType.HttpCallResponseHeaders}`, headers);
    this.maps.set(`0:${MapType.HttpCallResponseTrailers}`, trailers);
    const bytes = utf8.encode(body);
    this.buffers.set(`0:${BufferType.HttpCallResponseBody}`, bytes);
    try {
      this.call('proxy_on_http_call_response', call.contextId, call.callId, headers.length, bytes.length, trailers.length);
    } finally {
      this.maps.delete(`0:${MapType.HttpCallResponseHeaders}`);
      this.maps.delete(`0:${MapType.HttpCallResponseTrailers}`);
      this.buffers.delete(`0:${BufferType.HttpCallResponseBody}`);
    }
  }

  proxy_get_shared_data(kp: number, kl: number, ptrPtr: number, sizePtr: number, casPtr: number) {
    const entry = this.sharedData.get(this.string(kp, kl));
    if (!entry) return WasmResult.NotFound;
    this.view().setUint32(casPtr, entry.cas, true);
    return this.copyOut(entry.value, ptrPtr, sizePtr);
  }
  proxy_set_shared_data(kp: number, kl: number, vp: number, vl: number, cas: number) {
    const key = this.string(kp, kl);
    const entry = this.sharedData.get(key);
    if (cas !== 0 && entry && entry.cas !== cas) return WasmResult.CasMismatch;
    this.sharedData.set(key, { value: this.bytes(vp, vl), cas: ++this.cas });
    return 0;
  }

  proxy_define_metric(type: number, np: number, nl: number, ret: number) {
    const name = this.string(np, nl);
    let id = this.metrics.findIndex((m) => m.name === name);
    if (id < 0) id = this.metrics.push({ name, type, value: 0n }) - 1;
    this.view().setUint32(ret, id, true);
    return 0;
  }
  proxy_increment_metric(id: number, delta: bigint) {
    const m = this.metrics[id];
    if (!m) return WasmResult.NotFound;
    m.value += delta;
    return 0;
  }
  proxy_record_metric(id: number, value: bigint) {
    const m = this.metrics[id];
    if (!m) return WasmResult.NotFound;
    m.value = value;
    return 0;
  }
  proxy_get_metric(id: number, ret: number) {
    const m = this.metrics[id];
    if (!m) return WasmResult.NotFound;
    this.view().setBigUint64(ret, m.value, true);
    return 0;
  }

  readonly queues = new Map<number, { name: string; items: Uint8Array[]; owner: number }>();
  readonly grpcCalls: { contextId: number; callId: number; cluster: string; service: string; method: string; metadata: Pairs; message: Uint8Array; timeoutMs: number }[] = [];

  proxy_register_shared_queue(np: number, nl: number, ret: number) {
    const name = this.string(np, nl);
    let id = [...this.queues].find(([, q]) => q.name === name)?.[0];
    if (id === undefined) {
      id = this.queues.size + 1;
      this.queues.set(id, { name, items: [], owner: this.rootOf(this.context()) });
    }
    this.view().setUint32(ret, id, true);
    return 0;
  }
  proxy_resolve_shared_queue(_vp: number, _vl: number, np: number, nl: number, ret: number) {
    const name = this.string(np, nl);
    const id = [...this.queues].find(([, q]) => q.name === name)?.[0];
    if (id === undefined) return WasmResult.NotFound;
    this.view().setUint32(ret, id, true);
    return 0;
  }
  proxy_enqueue_shared_queue(id: number, vp: number, vl: number) {
    const q = this.queues.get(id);
    if (!q) return WasmResult.NotFound;
    q.items.push(this.bytes(vp, vl));
    return 0;
  }
  proxy_dequeue_shared_queue(id: number, ptrPtr: number, sizePtr: number) {
    const q = this.queues.get(id);
    if (!q) return WasmResult.NotFound;
    const item = q.items.shift();
    if (!item) return WasmResult.Empty;
    return this.copyOut(item, ptrPtr, sizePtr);
  }
  /** Calls proxy_on_queue_ready on the queue's root context, as Envoy does after an enqueue. */
  deliverQueue(id: number) { this.call('proxy_on_queue_ready', this.queues.get(id)!.owner, id); }

  proxy_grpc_call(up: number, ul: number, sp: number, sl: number, mp: number, ml: number, hp: number, hl: number, bp: number, bl: number, timeout: number, ret: number) {
    const callId = this.nextCallId++;
    this.grpcCalls.push({
      contextId: this.rootOf(this.context()), callId, cluster: this.string(up, ul), service: this.string(sp, sl),
      method: this.string(mp, ml), metadata: parsePairs(this.bytes(hp, hl)), message: this.bytes(bp, bl), timeoutMs: timeout,
    });
    this.view().setUint32(ret, callId, true);
    return 0;
  }

  proxy_get_property(pp: number, pl: number, ptrPtr: number, sizePtr: number) {
    const value = this.properties.get(this.string(pp, pl));
    if (!value) return WasmResult.NotFound;
    return this.copyOut(value, ptrPtr, sizePtr);
  }
  proxy_set_property(pp: number, pl: number, vp: number, vl: number) {
    this.properties.set(this.string(pp, pl), this.bytes(vp, vl));
    return 0;
  }
}
