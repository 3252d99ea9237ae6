// Probe module for the host's fidelity tests (test/host/*.test.ts), run on Envoy too by
// test/host/envoy-agreement.test.ts (its log lines then come back through Envoy's log).
//
// The SDK dispatches the callbacks; each callback runs the lines of a small script that
// start with its phase name, and every line makes one raw hostcall (from
// assembly/proxy-wasm/abi/imports) and logs `<line> -> <status> [<value>]` at info, so a
// test sees the exact status code the host returned. The script is the plugin
// configuration (lines run in phases), the VM configuration adds `vm_start` lines, and
// `probe_set_script` replaces it at run time.
//
// Line: `<phase> <op> <args...>`; args are space-separated, `\s` in an arg is a space.
// Phases: vm_start configure tick queue_ready http_response grpc_receive grpc_close
//         create req_headers req_body req_trailers resp_headers resp_body resp_trailers
//         log done delete
// `<phase> return <n>` sets what that callback returns; `<phase> bench <n> <hostcall>`
// repeats one hostcall n times without logging (for round-trip timing). Property values
// are logged in hex, or as `<n> bytes` past 256 bytes; a `local_reply` body of `-` is empty.

export * from '../../../assembly/proxy-wasm/exports';

import {
  clock_time_get,
  environ_get,
  environ_sizes_get,
  fd_write,
  proxy_add_header_map_value,
  proxy_call_foreign_function,
  proxy_close_stream,
  proxy_continue_stream,
  proxy_define_metric,
  proxy_dequeue_shared_queue,
  proxy_done,
  proxy_enqueue_shared_queue,
  proxy_get_buffer_bytes,
  proxy_get_buffer_status,
  proxy_get_current_time_nanoseconds,
  proxy_get_header_map_pairs,
  proxy_get_header_map_size,
  proxy_get_header_map_value,
  proxy_get_log_level,
  proxy_get_metric,
  proxy_get_property,
  proxy_get_shared_data,
  proxy_get_status,
  proxy_grpc_call,
  proxy_grpc_cancel,
  proxy_grpc_close,
  proxy_grpc_send,
  proxy_grpc_stream,
  proxy_http_call,
  proxy_increment_metric,
  proxy_log,
  proxy_record_metric,
  proxy_register_shared_queue,
  proxy_remove_header_map_value,
  proxy_replace_header_map_value,
  proxy_resolve_shared_queue,
  proxy_send_local_response,
  proxy_set_buffer_bytes,
  proxy_set_effective_context,
  proxy_set_header_map_pairs,
  proxy_set_property,
  proxy_set_shared_data,
  proxy_set_tick_period_milliseconds,
  random_get,
} from '../../../assembly/proxy-wasm/abi/imports';
import { hostMemoryMark, releaseHostMemory } from '../../../assembly/proxy-wasm/abi/memory';
import {
  FilterDataStatus,
  FilterHeadersStatus,
  FilterTrailersStatus,
  HttpContext,
  LogLevel,
  RootContext,
  registerRootContext,
} from '../../../assembly/proxy-wasm';

// Out-parameters of the raw hostcalls.
const P_PTR: usize = memory.data(8, 8);
const P_SIZE: usize = memory.data(8, 8);
const P_AUX: usize = memory.data(8, 8);
const P_U64: usize = memory.data(8, 8);
// An address past the end of any memory this module will grow to.
const BAD: usize = 0xfffffff0;

let script: string[] = [];
let lastCas: u32 = 0;
let lastQueue: u32 = 0;
let lastStream: u32 = 0;
let rootId: u32 = 0;
const metricNames: string[] = [];
const metricIds: u32[] = [];

/** Bytes of a script argument (`\s` is a space). */
function bytes(s: string): ArrayBuffer {
  return String.UTF8.encode(s.replaceAll('\\s', ' '));
}

function ptr(b: ArrayBuffer): usize {
  return changetype<usize>(b);
}

function len(b: ArrayBuffer): usize {
  return <usize>b.byteLength;
}

function num(s: string): i32 {
  return <i32>parseInt(s);
}

/** The value the host returned in (P_PTR, P_SIZE), as text. */
function returned(): string {
  const size = load<u32>(P_SIZE);
  if (size == 0) return '';
  return String.UTF8.decodeUnsafe(<usize>load<u32>(P_PTR), <usize>size);
}

function returnedBytes(): ArrayBuffer {
  const size = load<u32>(P_SIZE);
  const out = new ArrayBuffer(<i32>size);
  if (size > 0) memory.copy(changetype<usize>(out), <usize>load<u32>(P_PTR), <usize>size);
  return out;
}

function hex(b: ArrayBuffer): string {
  const digits = '0123456789abcdef';
  const u8 = Uint8Array.wrap(b);
  let s = '';
  for (let i = 0; i < u8.length; i++) s += digits.charAt(u8[i] >> 4) + digits.charAt(u8[i] & 15);
  return s;
}

/** Hex of a value, or `<n> bytes` past 256 bytes (Envoy's xds.node is kilobytes). */
function hexOrSize(b: ArrayBuffer): string {
  return b.byteLength > 256 ? b.byteLength.toString() + ' bytes' : hex(b);
}

/** `k=v;k=v` → serialized pairs (spec "Serialization"). */
function pairs(spec: string): ArrayBuffer {
  const items = spec.length == 0 || spec == '-' ? new Array<string>(0) : spec.split(';');
  let size = 4;
  const keys = new Array<ArrayBuffer>(items.length);
  const values = new Array<ArrayBuffer>(items.length);
  for (let i = 0; i < items.length; i++) {
    const eq = items[i].indexOf('=');
    keys[i] = bytes(items[i].substring(0, eq));
    values[i] = bytes(items[i].substring(eq + 1));
    size += 8 + keys[i].byteLength + values[i].byteLength + 2;
  }
  const out = new ArrayBuffer(size);
  const base = changetype<usize>(out);
  store<u32>(base, items.length);
  let sizes = base + 4;
  let data = base + 4 + <usize>items.length * 8;
  for (let i = 0; i < items.length; i++) {
    store<u32>(sizes, keys[i].byteLength);
    store<u32>(sizes + 4, values[i].byteLength);
    sizes += 8;
    memory.copy(data, changetype<usize>(keys[i]), keys[i].byteLength);
    data += keys[i].byteLength;
    store<u8>(data++, 0);
    memory.copy(data, changetype<usize>(values[i]), values[i].byteLength);
    data += values[i].byteLength;
    store<u8>(data++, 0);
  }
  return out;
}

/** Serialized pairs at (P_PTR, P_SIZE) → `k=v;k=v`. */
function returnedPairs(): string {
  const size = load<u32>(P_SIZE);
  if (size < 4) return '';
  const base = <usize>load<u32>(P_PTR);
  const n = load<u32>(base);
  let data = base + 4 + <usize>n * 8;
  let s = '';
  for (let i: u32 = 0; i < n; i++) {
    const kl = load<u32>(base + 4 + <usize>i * 8);
    const vl = load<u32>(base + 8 + <usize>i * 8);
    const k = String.UTF8.decodeUnsafe(data, kl);
    data += kl + 1;
    const v = String.UTF8.decodeUnsafe(data, vl);
    data += vl + 1;
    s += (i > 0 ? ';' : '') + k + '=' + v;
  }
  return s;
}

function report(line: string, status: i32, value: string = ''): void {
  const text = line + ' -> ' + status.toString() + (value.length > 0 ? ' ' + value : '');
  const b = String.UTF8.encode(text);
  proxy_log(LogLevel.Info, changetype<usize>(b), <usize>b.byteLength);
}

function metricId(name: string): u32 {
  for (let i = 0; i < metricNames.length; i++) if (metricNames[i] == name) return metricIds[i];
  return <u32>parseInt(name);
}

function token(s: string): u32 {
  return s == 'last' ? lastQueue : <u32>parseInt(s);
}

function contextArg(s: string, self: u32): u32 {
  if (s == 'root') return rootId;
  if (s == 'self') return self;
  if (s == 'stream') return lastStream;
  return <u32>parseInt(s);
}

/** Runs the lines of `phase`; returns the `return` value it sets, or -1. */
function run(phase: string, self: u32): i32 {
  let result: i32 = -1;
  for (let i = 0; i < script.length; i++) {
    const line = script[i];
    const a = line.split(' ');
    if (a.length < 2 || a[0] != phase) continue;
    const mark = hostMemoryMark();
    const op = a[1];
    if (op == 'return') {
      result = num(a[2]);
    } else if (op == 'get_header') {
      const k = bytes(a[3]);
      const r = proxy_get_header_map_value(<u32>num(a[2]), ptr(k), len(k), P_PTR, P_SIZE);
      report(line, r, r == 0 ? returned() : '');
    } else if (op == 'add_header' || op == 'replace_header') {
      const k = bytes(a[3]);
      const v = bytes(a[4]);
      const r = op == 'add_header'
        ? proxy_add_header_map_value(<u32>num(a[2]), ptr(k), len(k), ptr(v), len(v))
        : proxy_replace_header_map_value(<u32>num(a[2]), ptr(k), len(k), ptr(v), len(v));
      report(line, r);
    } else if (op == 'remove_header') {
      const k = bytes(a[3]);
      report(line, proxy_remove_header_map_value(<u32>num(a[2]), ptr(k), len(k)));
    } else if (op == 'get_pairs') {
      const r = proxy_get_header_map_pairs(<u32>num(a[2]), P_PTR, P_SIZE);
      report(line, r, r == 0 ? load<u32>(P_SIZE).toString() + ' ' + returnedPairs() : '');
    } else if (op == 'set_pairs') {
      const p = pairs(a.length > 3 ? a[3] : '');
      report(line, proxy_set_header_map_pairs(<u32>num(a[2]), ptr(p), len(p)));
    } else if (op == 'map_size') {
      const r = proxy_get_header_map_size(<u32>num(a[2]), P_SIZE);
      report(line, r, r == 0 ? load<u32>(P_SIZE).toString() : '');
    } else if (op == 'get_buffer') {
      const r = proxy_get_buffer_bytes(<u32>num(a[2]), <usize>num(a[3]), <usize>num(a[4]), P_PTR, P_SIZE);
      report(line, r, r == 0 ? '[' + returned() + ']' : '');
    } else if (op == 'set_buffer') {
      const v = bytes(a[5]);
      report(line, proxy_set_buffer_bytes(<u32>num(a[2]), <usize>num(a[3]), <usize>num(a[4]), ptr(v), len(v)));
    } else if (op == 'buffer_status') {
      const r = proxy_get_buffer_status(<u32>num(a[2]), P_SIZE, P_AUX);
      report(line, r, r == 0 ? load<u32>(P_SIZE).toString() : '');
    } else if (op == 'local_reply') {
      const details = bytes(a[3]);
      const body = bytes(a.length > 4 && a[4] != '-' ? a[4] : '');
      const h = pairs(a.length > 5 ? a[5] : '');
      const grpc = a.length > 6 ? num(a[6]) : -1;
      report(line, proxy_send_local_response(<u32>num(a[2]), ptr(details), len(details), ptr(body), len(body), ptr(h), len(h), grpc));
    } else if (op == 'continue') {
      report(line, proxy_continue_stream(<u32>num(a[2])));
    } else if (op == 'close') {
      report(line, proxy_close_stream(<u32>num(a[2])));
    } else if (op == 'http_call') {
      // http_call <cluster> <path> <timeout> [<headers k=v;...> replacing the defaults]
      const cluster = bytes(a[2]);
      const h = pairs(a.length > 5 ? a[5] : ':method=GET;:path=' + a[3] + ';:authority=upstream');
      const body = bytes(a.length > 6 ? a[6] : '');
      const r = proxy_http_call(ptr(cluster), len(cluster), ptr(h), len(h), ptr(body), len(body), 0, 0, <u32>num(a[4]), P_AUX);
      report(line, r, r == 0 ? load<u32>(P_AUX).toString() : '');
    } else if (op == 'grpc_call') {
      const cluster = bytes(a[2]);
      const service = bytes(a[3]);
      const method = bytes(a[4]);
      const message = bytes(a[6]);
      const r = proxy_grpc_call(ptr(cluster), len(cluster), ptr(service), len(service), ptr(method), len(method), 0, 0, ptr(message), len(message), <u32>num(a[5]), P_AUX);
      report(line, r, r == 0 ? load<u32>(P_AUX).toString() : '');
    } else if (op == 'grpc_stream') {
      const cluster = bytes(a[2]);
      const service = bytes(a[3]);
      const method = bytes(a[4]);
      const md = pairs(a.length > 5 ? a[5] : '');
      const r = proxy_grpc_stream(ptr(cluster), len(cluster), ptr(service), len(service), ptr(method), len(method), ptr(md), len(md), P_AUX);
      if (r == 0) lastQueue = load<u32>(P_AUX);
      report(line, r, r == 0 ? load<u32>(P_AUX).toString() : '');
    } else if (op == 'grpc_send') {
      const message = bytes(a[3]);
      report(line, proxy_grpc_send(token(a[2]), ptr(message), len(message), a.length > 4 && a[4] == 'end'));
    } else if (op == 'grpc_cancel') {
      report(line, proxy_grpc_cancel(token(a[2])));
    } else if (op == 'grpc_close') {
      report(line, proxy_grpc_close(token(a[2])));
    } else if (op == 'status') {
      const r = proxy_get_status(P_AUX, P_PTR, P_SIZE);
      report(line, r, load<u32>(P_AUX).toString() + ' ' + returned());
    } else if (op == 'shared_get') {
      const k = bytes(a[2]);
      const r = proxy_get_shared_data(ptr(k), len(k), P_PTR, P_SIZE, P_AUX);
      if (r == 0) lastCas = load<u32>(P_AUX);
      report(line, r, r == 0 ? returned() + ' cas=' + lastCas.toString() : '');
    } else if (op == 'shared_set') {
      const k = bytes(a[2]);
      const v = bytes(a[3]);
      const cas = a[4] == 'last' ? lastCas : <u32>parseInt(a[4]);
      report(line, proxy_set_shared_data(ptr(k), len(k), ptr(v), len(v), cas));
    } else if (op == 'cas_increment' || op == 'naive_increment') {
      // <key> <times>: read-modify-write a decimal counter; CAS retries on mismatch.
      const k = bytes(a[2]);
      const times = num(a[3]);
      const useCas = op == 'cas_increment';
      let retries = 0;
      for (let n = 0; n < times; n++) {
        for (;;) {
          const m = hostMemoryMark();
          const r = proxy_get_shared_data(ptr(k), len(k), P_PTR, P_SIZE, P_AUX);
          const current: i64 = r == 0 ? I64.parseInt(returned()) : 0;
          const cas = r == 0 ? load<u32>(P_AUX) : 0;
          releaseHostMemory(m);
          const v = String.UTF8.encode((current + 1).toString());
          const w = proxy_set_shared_data(ptr(k), len(k), changetype<usize>(v), <usize>v.byteLength, useCas ? cas : 0);
          if (w == 0) break;
          retries++;
        }
      }
      report(line, 0, 'retries=' + retries.toString());
    } else if (op == 'queue_register') {
      const name = bytes(a[2]);
      const r = proxy_register_shared_queue(ptr(name), len(name), P_AUX);
      if (r == 0) lastQueue = load<u32>(P_AUX);
      report(line, r, r == 0 ? lastQueue.toString() : '');
    } else if (op == 'queue_resolve') {
      const vm = bytes(a[2] == '-' ? '' : a[2]);
      const name = bytes(a[3]);
      const r = proxy_resolve_shared_queue(ptr(vm), len(vm), ptr(name), len(name), P_AUX);
      if (r == 0) lastQueue = load<u32>(P_AUX);
      report(line, r, r == 0 ? lastQueue.toString() : '');
    } else if (op == 'queue_enqueue') {
      const v = bytes(a[3]);
      report(line, proxy_enqueue_shared_queue(token(a[2]), ptr(v), len(v)));
    } else if (op == 'queue_dequeue') {
      const r = proxy_dequeue_shared_queue(token(a[2]), P_PTR, P_SIZE);
      report(line, r, r == 0 ? returned() : '');
    } else if (op == 'metric_define') {
      const name = bytes(a[3]);
      const r = proxy_define_metric(<u32>num(a[2]), ptr(name), len(name), P_AUX);
      if (r == 0) {
        metricNames.push(a[3]);
        metricIds.push(load<u32>(P_AUX));
      }
      report(line, r, r == 0 ? load<u32>(P_AUX).toString() : '');
    } else if (op == 'metric_inc') {
      report(line, proxy_increment_metric(metricId(a[2]), I64.parseInt(a[3])));
    } else if (op == 'metric_record') {
      report(line, proxy_record_metric(metricId(a[2]), U64.parseInt(a[3])));
    } else if (op == 'metric_get') {
      const r = proxy_get_metric(metricId(a[2]), P_U64);
      report(line, r, r == 0 ? load<u64>(P_U64).toString() : '');
    } else if (op == 'property') {
      const path = bytes(a[2].replaceAll('/', '\0'));
      const r = proxy_get_property(ptr(path), len(path), P_PTR, P_SIZE);
      report(line, r, r == 0 ? hexOrSize(returnedBytes()) : '');
    } else if (op == 'set_property') {
      const path = bytes(a[2]);
      const v = bytes(a[3]);
      report(line, proxy_set_property(ptr(path), len(path), ptr(v), len(v)));
    } else if (op == 'tick_period') {
      report(line, proxy_set_tick_period_milliseconds(<u32>num(a[2])));
    } else if (op == 'time') {
      const r = proxy_get_current_time_nanoseconds(P_U64);
      report(line, r, load<u64>(P_U64).toString());
    } else if (op == 'log') {
      const m = bytes(a[3]);
      report(line, proxy_log(<u32>num(a[2]), ptr(m), len(m)));
    } else if (op == 'log_level') {
      const r = proxy_get_log_level(P_AUX);
      report(line, r, load<u32>(P_AUX).toString());
    } else if (op == 'effective') {
      report(line, proxy_set_effective_context(contextArg(a[2], self)));
    } else if (op == 'done') {
      report(line, proxy_done());
    } else if (op == 'foreign') {
      const name = bytes(a[2]);
      const args = bytes(a[3]);
      const r = proxy_call_foreign_function(ptr(name), len(name), ptr(args), len(args), P_PTR, P_SIZE);
      report(line, r, r == 0 ? hex(returnedBytes()) : '');
    } else if (op == 'trap') {
      unreachable();
    } else if (op == 'fd_write') {
      const m = bytes(a[3]);
      store<u32>(P_PTR, <u32>changetype<usize>(m));
      store<u32>(P_PTR + 4, <u32>m.byteLength);
      const r = fd_write(<u32>num(a[2]), P_PTR, 1, P_AUX);
      report(line, r, load<u32>(P_AUX).toString());
    } else if (op == 'clock') {
      const r = clock_time_get(<u32>num(a[2]), 1, P_U64);
      report(line, r, r == 0 ? load<u64>(P_U64).toString() : '');
    } else if (op == 'random') {
      const buf = new ArrayBuffer(num(a[2]));
      report(line, random_get(changetype<usize>(buf), <usize>buf.byteLength));
    } else if (op == 'environ') {
      environ_sizes_get(P_AUX, P_SIZE);
      const count = load<u32>(P_AUX);
      const size = load<u32>(P_SIZE);
      const array = new ArrayBuffer(<i32>count * 4);
      const buf = new ArrayBuffer(<i32>size);
      const r = environ_get(changetype<usize>(array), changetype<usize>(buf));
      let s = '';
      for (let j: u32 = 0; j < count; j++) {
        const p = <usize>load<u32>(changetype<usize>(array) + <usize>j * 4);
        let e = p;
        while (load<u8>(e) != 0) e++;
        s += (j > 0 ? ';' : '') + String.UTF8.decodeUnsafe(p, e - p);
      }
      report(line, r, count.toString() + ' ' + s);
    } else if (op == 'bench') {
      // bench <n> <hostcall> [arg]: the hostcall n times, nothing logged (round-trip timing).
      const n = num(a[2]);
      const what = a[3];
      const k = bytes(a.length > 4 ? a[4] : ':path');
      let failures = 0;
      for (let j = 0; j < n; j++) {
        const m = hostMemoryMark();
        let r: i32 = 0;
        if (what == 'get_header') r = proxy_get_header_map_value(0, ptr(k), len(k), P_PTR, P_SIZE);
        else if (what == 'add_header') r = proxy_add_header_map_value(2, ptr(k), len(k), ptr(k), len(k));
        else if (what == 'log') r = proxy_log(LogLevel.Trace, ptr(k), len(k));
        else if (what == 'time') r = proxy_get_current_time_nanoseconds(P_U64);
        else if (what == 'shared_get') r = proxy_get_shared_data(ptr(k), len(k), P_PTR, P_SIZE, P_AUX);
        else if (what == 'metric_inc') r = proxy_increment_metric(metricId(a[4]), 1);
        else if (what == 'property') r = proxy_get_property(ptr(k), len(k), P_PTR, P_SIZE);
        if (r != 0) failures++;
        releaseHostMemory(m);
      }
      report(line, failures);
    } else if (op == 'oob') {
      // Out-of-memory pointers: the host must answer INVALID_MEMORY_ACCESS, not trap.
      const what = a[2];
      let r: i32 = -1;
      if (what == 'log') r = proxy_log(LogLevel.Info, BAD, 64);
      else if (what == 'get_header') r = proxy_get_header_map_value(0, BAD, 64, P_PTR, P_SIZE);
      else if (what == 'get_header_ret') {
        const k = bytes(':path');
        r = proxy_get_header_map_value(0, ptr(k), len(k), BAD, P_SIZE);
      } else if (what == 'shared_set') r = proxy_set_shared_data(BAD, 64, BAD, 64, 0);
      else if (what == 'property') r = proxy_get_property(BAD, 64, P_PTR, P_SIZE);
      else if (what == 'pairs') r = proxy_get_header_map_pairs(0, BAD, P_SIZE);
      else if (what == 'time') r = proxy_get_current_time_nanoseconds(BAD);
      else if (what == 'fd_write') r = fd_write(1, BAD, 1, P_AUX);
      report(line, r);
    }
    releaseHostMemory(mark);
  }
  return result;
}

/** Replaces the script with `size` bytes at `data` (the test writes them). */
export function probe_set_script(data: usize, size: usize): void {
  script = String.UTF8.decodeUnsafe(data, size).split('\n');
}

/** A block for `probe_set_script`. */
export function probe_alloc(size: usize): usize {
  return heap.alloc(size);
}

class ProbeRoot extends RootContext {
  onVmStart(vmConfigurationSize: usize): bool {
    rootId = this.contextId;
    const mark = hostMemoryMark();
    if (vmConfigurationSize > 0 && proxy_get_buffer_bytes(6, 0, vmConfigurationSize, P_PTR, P_SIZE) == 0) {
      script = returned().split('\n');
    }
    releaseHostMemory(mark);
    return run('vm_start', this.contextId) != 0;
  }

  onConfigure(pluginConfigurationSize: usize): bool {
    rootId = this.contextId;
    const mark = hostMemoryMark();
    if (pluginConfigurationSize > 0 && proxy_get_buffer_bytes(7, 0, pluginConfigurationSize, P_PTR, P_SIZE) == 0) {
      const lines = returned().split('\n');
      for (let i = 0; i < lines.length; i++) script.push(lines[i]);
    }
    releaseHostMemory(mark);
    return run('configure', this.contextId) != 0;
  }

  onTick(): void {
    run('tick', this.contextId);
  }

  onQueueReady(queueId: u32): void {
    report('on_queue_ready ' + queueId.toString(), 0);
    run('queue_ready', this.contextId);
  }

  onHttpCallResponse(callId: u32, numHeaders: u32, bodySize: usize, numTrailers: u32): void {
    report('on_http_call_response ' + callId.toString() + ' ' + numHeaders.toString() + ' ' + bodySize.toString() + ' ' + numTrailers.toString(), 0);
    run('http_response', this.contextId);
  }

  onGrpcReceive(callId: u32, messageSize: usize): void {
    report('on_grpc_receive ' + callId.toString() + ' ' + messageSize.toString(), 0);
    run('grpc_receive', this.contextId);
  }

  onGrpcReceiveInitialMetadata(callId: u32, numElements: u32): void {
    report('on_grpc_receive_initial_metadata ' + callId.toString() + ' ' + numElements.toString(), 0);
    run('grpc_initial', this.contextId);
  }

  onGrpcReceiveTrailingMetadata(callId: u32, numElements: u32): void {
    report('on_grpc_receive_trailing_metadata ' + callId.toString() + ' ' + numElements.toString(), 0);
    run('grpc_trailing', this.contextId);
  }

  onGrpcClose(callId: u32, statusCode: u32): void {
    report('on_grpc_close ' + callId.toString() + ' ' + statusCode.toString(), 0);
    run('grpc_close', this.contextId);
  }

  onDone(): bool {
    report('on_done root', 0);
    return run('root_done', this.contextId) != 0;
  }

  onDelete(): void {
    report('on_delete root', 0);
  }

  createHttpContext(contextId: u32): HttpContext | null {
    lastStream = contextId;
    report('on_context_create ' + contextId.toString() + ' ' + this.contextId.toString(), 0);
    run('create', contextId);
    return new ProbeStream(contextId, this);
  }
}

class ProbeStream extends HttpContext {
  constructor(contextId: u32, root: ProbeRoot) {
    super(contextId, root);
  }

  onRequestHeaders(numHeaders: u32, endOfStream: bool): FilterHeadersStatus {
    report('on_request_headers ' + numHeaders.toString() + ' ' + (endOfStream ? '1' : '0'), 0);
    const r = run('req_headers', this.contextId);
    return r < 0 ? FilterHeadersStatus.Continue : <FilterHeadersStatus>r;
  }

  onRequestBody(bodySize: usize, endOfStream: bool): FilterDataStatus {
    report('on_request_body ' + bodySize.toString() + ' ' + (endOfStream ? '1' : '0'), 0);
    const r = run('req_body', this.contextId);
    return r < 0 ? FilterDataStatus.Continue : <FilterDataStatus>r;
  }

  onRequestTrailers(numTrailers: u32): FilterTrailersStatus {
    report('on_request_trailers ' + numTrailers.toString(), 0);
    const r = run('req_trailers', this.contextId);
    return r < 0 ? FilterTrailersStatus.Continue : <FilterTrailersStatus>r;
  }

  onResponseHeaders(numHeaders: u32, endOfStream: bool): FilterHeadersStatus {
    report('on_response_headers ' + numHeaders.toString() + ' ' + (endOfStream ? '1' : '0'), 0);
    const r = run('resp_headers', this.contextId);
    return r < 0 ? FilterHeadersStatus.Continue : <FilterHeadersStatus>r;
  }

  onResponseBody(bodySize: usize, endOfStream: bool): FilterDataStatus {
    report('on_response_body ' + bodySize.toString() + ' ' + (endOfStream ? '1' : '0'), 0);
    const r = run('resp_body', this.contextId);
    return r < 0 ? FilterDataStatus.Continue : <FilterDataStatus>r;
  }

  onResponseTrailers(numTrailers: u32): FilterTrailersStatus {
    report('on_response_trailers ' + numTrailers.toString(), 0);
    const r = run('resp_trailers', this.contextId);
    return r < 0 ? FilterTrailersStatus.Continue : <FilterTrailersStatus>r;
  }

  onLog(): void {
    report('on_log ' + this.contextId.toString(), 0);
    run('log', this.contextId);
  }

  onDone(): bool {
    report('on_done ' + this.contextId.toString(), 0);
    run('done', this.contextId);
    return true;
  }

  onDelete(): void {
    report('on_delete ' + this.contextId.toString(), 0);
  }
}

registerRootContext((contextId: u32) => new ProbeRoot(contextId));
