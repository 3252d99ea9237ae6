/**
 * The host functions a module imports, one per ABI call, with the argument checks and
 * status codes of proxy-wasm-cpp-host `src/exports.cc` (the marshalling layer Envoy
 * uses) and Envoy's `source/extensions/common/wasm/context.cc` (the behaviour behind
 * it). Memory rules (cpp-host `getMemory` / `setWord`): reading or writing outside
 * linear memory gives `INVALID_MEMORY_ACCESS`. Returned data is copied into memory the
 * module allocates (`malloc` / `proxy_on_memory_allocate`).
 *
 * Which names are linked depends on the module's ABI (cpp-host `registerCallbacks`):
 * `proxy_continue_stream` / `proxy_close_stream` for 0.2.0 and 0.2.1,
 * `proxy_get_log_level` for 0.2.1 only, and the 0.1.0 names (`proxy_continue_request`,
 * `proxy_continue_response`, `proxy_clear_route_cache`, `proxy_get_configuration`) for
 * 0.1.0 only; a module importing a name its ABI lacks fails to load, as in Envoy.
 *
 * The WASI functions are in `wasi.ts`; both sets go through `HostFunctionTable` and reach
 * the host only through `HostVm` and `HostContext` (host-interface.ts).
 */
import { deflateSync, inflateSync } from 'node:zlib';
import { AbiVersion, LogLevel, MAX_BUFFER_TYPE, MAX_MAP_TYPE, MAX_STREAM_TYPE, MetricType, StreamType, WasmResult } from './abi.ts';
import { checkAllowed, type HostFunction, type HostFunctionTable, type HostVm } from './host-interface.ts';
import type { FuncType, ValType } from './module-info.ts';
import { readPairs, pairsSize, writePairs } from './pairs.ts';
import { wasiFunctions } from './wasi.ts';

const ALL = [AbiVersion.V0_1_0, AbiVersion.V0_2_0, AbiVersion.V0_2_1] as const;
const V02 = [AbiVersion.V0_2_0, AbiVersion.V0_2_1] as const;

/** `i32 x n -> i32` */
export function words(n: number): FuncType {
  return { params: Array<ValType>(n).fill('i32'), results: ['i32'] };
}

/** Foreign functions (`proxy_call_foreign_function`), after Envoy common/wasm/foreign.cc. */
export const foreignFunctions = new Map<string, (args: Uint8Array) => Uint8Array | WasmResult>([
  // zlib's compress()/uncompress(): the zlib format, as Envoy links it.
  ['compress', (args) => deflateSync(args)],
  [
    'uncompress',
    (args) => {
      try {
        return inflateSync(args);
      } catch {
        return WasmResult.SerializationFailure;
      }
    },
  ],
]);

/** Builds the table of every host function the host can link. */
export function hostFunctionTable(): HostFunctionTable {
  const table: HostFunctionTable = new Map();
  const env = (name: string, type: FuncType, abis: readonly AbiVersion[], make: HostFunction['make']): void => {
    table.set(`env.${name}`, { type, abis, make });
  };

  // --- logging, configuration, status -------------------------------------------

  env('proxy_log', words(3), ALL, (w) => (level: number, ptr: number, size: number) => {
    checkAllowed(w, 'env.proxy_log');
    if (level >>> 0 > LogLevel.Critical) return WasmResult.BadArgument;
    // Below the host's level nothing is decoded (errors still count while configuring).
    if (level < LogLevel.Error && level < w.services.logLevel()) {
      return w.mem.inBounds(ptr, size) ? WasmResult.Ok : WasmResult.InvalidMemoryAccess;
    }
    const c = w.effectiveContext();
    const message = w.mem.utf8(ptr, size);
    if (message === null) return WasmResult.InvalidMemoryAccess;
    return c.log(level, message);
  });

  env('proxy_get_log_level', words(1), [AbiVersion.V0_2_1], (w) => (ptr: number) => {
    checkAllowed(w, 'env.proxy_get_log_level');
    return w.mem.setU32(ptr, w.services.logLevel()) ? WasmResult.Ok : WasmResult.InvalidMemoryAccess;
  });

  env('proxy_get_configuration', words(2), [AbiVersion.V0_1_0], (w) => (ptrPtr: number, sizePtr: number) => {
    checkAllowed(w, 'env.proxy_get_configuration');
    const c = w.effectiveContext();
    return w.copyToPointerSize(c.getConfiguration(), ptrPtr, sizePtr) ? WasmResult.Ok : WasmResult.InvalidMemoryAccess;
  });

  env('proxy_get_status', words(3), ALL, (w) => (codePtr: number, ptrPtr: number, sizePtr: number) => {
    checkAllowed(w, 'env.proxy_get_status');
    const root = w.effectiveContext().root;
    if (!w.mem.setU32(codePtr, root.statusCode)) return WasmResult.InvalidMemoryAccess;
    return w.copyLatin1ToPointerSize(root.statusMessage, ptrPtr, sizePtr) ? WasmResult.Ok : WasmResult.InvalidMemoryAccess;
  });

  // --- properties ---------------------------------------------------------------

  env('proxy_get_property', words(4), ALL, (w) => (pathPtr: number, pathSize: number, ptrPtr: number, sizePtr: number) => {
    checkAllowed(w, 'env.proxy_get_property');
    const c = w.effectiveContext();
    const path = w.mem.latin1(pathPtr, pathSize);
    if (path === null) return WasmResult.InvalidMemoryAccess;
    const value = c.getProperty(path);
    if (typeof value === 'number') return value;
    return w.copyToPointerSize(value, ptrPtr, sizePtr) ? WasmResult.Ok : WasmResult.InvalidMemoryAccess;
  });

  env('proxy_set_property', words(4), ALL, (w) => (pathPtr: number, pathSize: number, valuePtr: number, valueSize: number) => {
    checkAllowed(w, 'env.proxy_set_property');
    const c = w.effectiveContext();
    const path = w.mem.latin1(pathPtr, pathSize);
    const value = w.mem.bytes(valuePtr, valueSize);
    if (path === null || value === null) return WasmResult.InvalidMemoryAccess;
    return c.setProperty(path, Buffer.from(value));
  });

  // --- stream control -----------------------------------------------------------

  const continueStream = (w: HostVm, type: number): number => {
    if (type >>> 0 > MAX_STREAM_TYPE) return WasmResult.BadArgument;
    return w.effectiveContext().continueStream(type);
  };
  env('proxy_continue_stream', words(1), V02, (w) => (type: number) => {
    checkAllowed(w, 'env.proxy_continue_stream');
    return continueStream(w, type);
  });
  env('proxy_close_stream', words(1), V02, (w) => (type: number) => {
    checkAllowed(w, 'env.proxy_close_stream');
    if (type >>> 0 > MAX_STREAM_TYPE) return WasmResult.BadArgument;
    return w.effectiveContext().closeStream(type);
  });
  env('proxy_continue_request', words(0), [AbiVersion.V0_1_0], (w) => () => {
    checkAllowed(w, 'env.proxy_continue_request');
    return continueStream(w, StreamType.HttpRequest);
  });
  env('proxy_continue_response', words(0), [AbiVersion.V0_1_0], (w) => () => {
    checkAllowed(w, 'env.proxy_continue_response');
    return continueStream(w, StreamType.HttpResponse);
  });
  env('proxy_clear_route_cache', words(0), [AbiVersion.V0_1_0], (w) => () => {
    checkAllowed(w, 'env.proxy_clear_route_cache');
    w.effectiveContext().clearRouteCache();
    return WasmResult.Ok;
  });

  env(
    'proxy_send_local_response',
    words(8),
    ALL,
    (w) =>
      (status: number, detailsPtr: number, detailsSize: number, bodyPtr: number, bodySize: number, headersPtr: number, headersSize: number, grpcStatus: number) => {
        checkAllowed(w, 'env.proxy_send_local_response');
        const c = w.effectiveContext();
        const details = w.mem.latin1(detailsPtr, detailsSize);
        const body = w.mem.bytes(bodyPtr, bodySize);
        const headers = w.mem.bytes(headersPtr, headersSize);
        if (details === null || body === null || headers === null) return WasmResult.InvalidMemoryAccess;
        c.sendLocalResponse(status >>> 0, Buffer.from(body), readPairs(headers), grpcStatus, details);
        w.stopIteration = true;
        return WasmResult.Ok;
      },
  );

  env('proxy_set_effective_context', words(1), ALL, (w) => (contextId: number) => {
    checkAllowed(w, 'env.proxy_set_effective_context');
    const id = contextId >>> 0;
    if (!w.contexts.has(id)) return WasmResult.BadArgument;
    w.effectiveContextId = id;
    return WasmResult.Ok;
  });

  env('proxy_done', words(0), ALL, (w) => () => {
    checkAllowed(w, 'env.proxy_done');
    return w.effectiveContext().done();
  });

  // --- header maps --------------------------------------------------------------

  env('proxy_get_header_map_value', words(5), ALL, (w) => (type: number, keyPtr: number, keySize: number, ptrPtr: number, sizePtr: number) => {
    checkAllowed(w, 'env.proxy_get_header_map_value');
    if (type >>> 0 > MAX_MAP_TYPE) return WasmResult.BadArgument;
    const c = w.effectiveContext();
    const key = w.mem.latin1(keyPtr, keySize);
    if (key === null) return WasmResult.InvalidMemoryAccess;
    const value = c.getHeaderMapValue(type, key);
    if (typeof value === 'number') return value;
    return w.copyLatin1ToPointerSize(value, ptrPtr, sizePtr) ? WasmResult.Ok : WasmResult.InvalidMemoryAccess;
  });

  const mutate = (name: string, op: 'add' | 'replace') => (w: HostVm) => (type: number, keyPtr: number, keySize: number, valuePtr: number, valueSize: number) => {
    checkAllowed(w, name);
    if (type >>> 0 > MAX_MAP_TYPE) return WasmResult.BadArgument;
    const c = w.effectiveContext();
    const key = w.mem.latin1(keyPtr, keySize);
    const value = w.mem.latin1(valuePtr, valueSize);
    if (key === null || value === null) return WasmResult.InvalidMemoryAccess;
    return op === 'add' ? c.addHeaderMapValue(type, key, value) : c.replaceHeaderMapValue(type, key, value);
  };
  env('proxy_add_header_map_value', words(5), ALL, mutate('env.proxy_add_header_map_value', 'add'));
  env('proxy_replace_header_map_value', words(5), ALL, mutate('env.proxy_replace_header_map_value', 'replace'));

  env('proxy_remove_header_map_value', words(3), ALL, (w) => (type: number, keyPtr: number, keySize: number) => {
    checkAllowed(w, 'env.proxy_remove_header_map_value');
    if (type >>> 0 > MAX_MAP_TYPE) return WasmResult.BadArgument;
    const c = w.effectiveContext();
    const key = w.mem.latin1(keyPtr, keySize);
    if (key === null) return WasmResult.InvalidMemoryAccess;
    return c.removeHeaderMapValue(type, key);
  });

  env('proxy_get_header_map_pairs', words(3), ALL, (w) => (type: number, ptrPtr: number, sizePtr: number) => {
    checkAllowed(w, 'env.proxy_get_header_map_pairs');
    if (type >>> 0 > MAX_MAP_TYPE) return WasmResult.BadArgument;
    const c = w.effectiveContext();
    const map = c.getConstMap(type);
    const pairs = map === null ? EMPTY_PAIRS : map.entries();
    if (pairs.length === 0) {
      return w.mem.setU32(ptrPtr, 0) && w.mem.setU32(sizePtr, 0) ? WasmResult.Ok : WasmResult.InvalidMemoryAccess;
    }
    const size = pairsSize(pairs);
    const ptr = w.allocMemory(size);
    if (ptr === 0) return WasmResult.InvalidMemoryAccess;
    writePairs(w.mem, ptr, pairs);
    return w.mem.setU32(ptrPtr, ptr) && w.mem.setU32(sizePtr, size) ? WasmResult.Ok : WasmResult.InvalidMemoryAccess;
  });

  env('proxy_set_header_map_pairs', words(3), ALL, (w) => (type: number, ptr: number, size: number) => {
    checkAllowed(w, 'env.proxy_set_header_map_pairs');
    if (type >>> 0 > MAX_MAP_TYPE) return WasmResult.BadArgument;
    const c = w.effectiveContext();
    const data = w.mem.bytes(ptr, size);
    if (data === null) return WasmResult.InvalidMemoryAccess;
    return c.setHeaderMapPairs(type, readPairs(data));
  });

  env('proxy_get_header_map_size', words(2), ALL, (w) => (type: number, sizePtr: number) => {
    checkAllowed(w, 'env.proxy_get_header_map_size');
    if (type >>> 0 > MAX_MAP_TYPE) return WasmResult.BadArgument;
    const size = w.effectiveContext().getHeaderMapSize(type);
    if (size < 0) return WasmResult.BadArgument;
    return w.mem.setU32(sizePtr, size) ? WasmResult.Ok : WasmResult.InvalidMemoryAccess;
  });

  // --- buffers ------------------------------------------------------------------

  env('proxy_get_buffer_status', words(3), ALL, (w) => (type: number, lengthPtr: number, flagsPtr: number) => {
    checkAllowed(w, 'env.proxy_get_buffer_status');
    if (type >>> 0 > MAX_BUFFER_TYPE) return WasmResult.BadArgument;
    const buffer = w.effectiveContext().getBuffer(type);
    if (buffer === null) return WasmResult.NotFound;
    if (!w.mem.setU32(lengthPtr, buffer.length)) return WasmResult.InvalidMemoryAccess;
    return w.mem.setU32(flagsPtr, 0) ? WasmResult.Ok : WasmResult.InvalidMemoryAccess;
  });

  env('proxy_get_buffer_bytes', words(5), ALL, (w) => (type: number, start: number, length: number, ptrPtr: number, sizePtr: number) => {
    checkAllowed(w, 'env.proxy_get_buffer_bytes');
    if (type >>> 0 > MAX_BUFFER_TYPE) return WasmResult.BadArgument;
    const buffer = w.effectiveContext().getBuffer(type);
    if (buffer === null) return WasmResult.NotFound;
    start >>>= 0;
    length >>>= 0;
    // cpp-host checks `start > start + length` on 64-bit words, which 32-bit arguments
    // never overflow: a range past the end is clamped (to empty), not refused.
    const total = buffer.length;
    if (start > total) length = 0;
    else if (start + length > total) length = total - start;
    if (length === 0) {
      return w.mem.setU32(ptrPtr, 0) && w.mem.setU32(sizePtr, 0) ? WasmResult.Ok : WasmResult.InvalidMemoryAccess;
    }
    const bytes = 'bytes' in buffer ? buffer.bytes() : buffer;
    return w.copyToPointerSize(bytes.subarray(start, start + length), ptrPtr, sizePtr)
      ? WasmResult.Ok
      : WasmResult.InvalidMemoryAccess;
  });

  env('proxy_set_buffer_bytes', words(5), ALL, (w) => (type: number, start: number, length: number, ptr: number, size: number) => {
    checkAllowed(w, 'env.proxy_set_buffer_bytes');
    if (type >>> 0 > MAX_BUFFER_TYPE) return WasmResult.BadArgument;
    const c = w.effectiveContext();
    const buffer = c.getBuffer(type);
    if (buffer === null) return WasmResult.NotFound;
    const data = w.mem.bytes(ptr, size);
    if (data === null) return WasmResult.InvalidMemoryAccess;
    return c.setBufferBytes(buffer, start >>> 0, length >>> 0, data);
  });

  // --- HTTP and gRPC callouts ---------------------------------------------------

  env(
    'proxy_http_call',
    words(10),
    ALL,
    (w) =>
      (
        uriPtr: number, uriSize: number, headersPtr: number, headersSize: number, bodyPtr: number, bodySize: number,
        trailersPtr: number, trailersSize: number, timeout: number, tokenPtr: number,
      ) => {
        checkAllowed(w, 'env.proxy_http_call');
        const root = w.effectiveContext().root;
        const cluster = w.mem.utf8(uriPtr, uriSize);
        const body = w.mem.bytes(bodyPtr, bodySize);
        const headers = w.mem.bytes(headersPtr, headersSize);
        const trailers = w.mem.bytes(trailersPtr, trailersSize);
        if (cluster === null || body === null || headers === null || trailers === null) return WasmResult.InvalidMemoryAccess;
        // cpp-host writes the token first, to check the memory before the call starts.
        if (!w.mem.setU32(tokenPtr, 0)) return WasmResult.InvalidMemoryAccess;
        const result = root.httpCall(cluster, readPairs(headers), Buffer.from(body), readPairs(trailers), timeout | 0);
        if (result < 0) return -result;
        w.mem.setU32(tokenPtr, result);
        return WasmResult.Ok;
      },
  );

  env(
    'proxy_grpc_call',
    words(12),
    ALL,
    (w) =>
      (
        servicePtr: number, serviceSize: number, serviceNamePtr: number, serviceNameSize: number, methodPtr: number,
        methodSize: number, metadataPtr: number, metadataSize: number, messagePtr: number, messageSize: number,
        timeout: number, tokenPtr: number,
      ) => {
        checkAllowed(w, 'env.proxy_grpc_call');
        const root = w.effectiveContext().root;
        const cluster = w.mem.utf8(servicePtr, serviceSize);
        const service = w.mem.utf8(serviceNamePtr, serviceNameSize);
        const method = w.mem.utf8(methodPtr, methodSize);
        const metadata = w.mem.bytes(metadataPtr, metadataSize);
        const message = w.mem.bytes(messagePtr, messageSize);
        if (cluster === null || service === null || method === null || metadata === null || message === null) {
          return WasmResult.InvalidMemoryAccess;
        }
        const result = root.grpcCall(cluster, service, method, readPairs(metadata), Buffer.from(message), timeout >>> 0);
        if (result < 0) return -result;
        return w.mem.setU32(tokenPtr, result) ? WasmResult.Ok : WasmResult.InvalidMemoryAccess;
      },
  );

  env(
    'proxy_grpc_stream',
    words(9),
    ALL,
    (w) =>
      (
        servicePtr: number, serviceSize: number, serviceNamePtr: number, serviceNameSize: number, methodPtr: number,
        methodSize: number, metadataPtr: number, metadataSize: number, tokenPtr: number,
      ) => {
        checkAllowed(w, 'env.proxy_grpc_stream');
        const root = w.effectiveContext().root;
        const cluster = w.mem.utf8(servicePtr, serviceSize);
        const service = w.mem.utf8(serviceNamePtr, serviceNameSize);
        const method = w.mem.utf8(methodPtr, methodSize);
        const metadata = w.mem.bytes(metadataPtr, metadataSize);
        if (cluster === null || service === null || method === null || metadata === null) return WasmResult.InvalidMemoryAccess;
        const result = root.grpcStream(cluster, service, method, readPairs(metadata));
        if (result < 0) return -result;
        return w.mem.setU32(tokenPtr, result) ? WasmResult.Ok : WasmResult.InvalidMemoryAccess;
      },
  );

  env('proxy_grpc_send', words(4), ALL, (w) => (token: number, ptr: number, size: number, endStream: number) => {
    checkAllowed(w, 'env.proxy_grpc_send');
    const root = w.effectiveContext().root;
    const message = w.mem.bytes(ptr, size);
    if (message === null) return WasmResult.InvalidMemoryAccess;
    return root.grpcSend(token >>> 0, Buffer.from(message), endStream !== 0);
  });
  env('proxy_grpc_cancel', words(1), ALL, (w) => (token: number) => {
    checkAllowed(w, 'env.proxy_grpc_cancel');
    return w.effectiveContext().root.grpcCancel(token >>> 0);
  });
  env('proxy_grpc_close', words(1), ALL, (w) => (token: number) => {
    checkAllowed(w, 'env.proxy_grpc_close');
    return w.effectiveContext().root.grpcClose(token >>> 0);
  });

  // --- shared data and queues ---------------------------------------------------

  env('proxy_get_shared_data', words(5), ALL, (w) => (keyPtr: number, keySize: number, ptrPtr: number, sizePtr: number, casPtr: number) => {
    checkAllowed(w, 'env.proxy_get_shared_data');
    const key = w.mem.bytes(keyPtr, keySize);
    if (key === null) return WasmResult.InvalidMemoryAccess;
    const store = w.services.shared.data;
    const len = store.get(w.vmIdBytes, key);
    if (len < 0) return WasmResult.NotFound;
    const cas = store.lastCas;
    if (!w.copyToPointerSize(store.scratch.subarray(0, len), ptrPtr, sizePtr)) return WasmResult.InvalidMemoryAccess;
    return w.mem.setU32(casPtr, cas) ? WasmResult.Ok : WasmResult.InvalidMemoryAccess;
  });

  env('proxy_set_shared_data', words(5), ALL, (w) => (keyPtr: number, keySize: number, valuePtr: number, valueSize: number, cas: number) => {
    checkAllowed(w, 'env.proxy_set_shared_data');
    const key = w.mem.bytes(keyPtr, keySize);
    const value = w.mem.bytes(valuePtr, valueSize);
    if (key === null || value === null) return WasmResult.InvalidMemoryAccess;
    return w.services.shared.data.set(w.vmIdBytes, key, value, cas >>> 0);
  });

  env('proxy_register_shared_queue', words(3), ALL, (w) => (namePtr: number, nameSize: number, tokenPtr: number) => {
    checkAllowed(w, 'env.proxy_register_shared_queue');
    const c = w.effectiveContext();
    const name = w.mem.bytes(namePtr, nameSize);
    if (name === null) return WasmResult.InvalidMemoryAccess;
    // onQueueReady goes to the root context (cpp-host `registerSharedQueue`).
    const token = w.services.shared.queues.register(w.vmIdBytes, name, w.vmKey, c.root.id);
    if (token === 0) return WasmResult.InternalFailure;
    return w.mem.setU32(tokenPtr, token) ? WasmResult.Ok : WasmResult.InvalidMemoryAccess;
  });

  env('proxy_resolve_shared_queue', words(5), ALL, (w) => (vmIdPtr: number, vmIdSize: number, namePtr: number, nameSize: number, tokenPtr: number) => {
    checkAllowed(w, 'env.proxy_resolve_shared_queue');
    const vmId = w.mem.bytes(vmIdPtr, vmIdSize);
    const name = w.mem.bytes(namePtr, nameSize);
    if (vmId === null || name === null) return WasmResult.InvalidMemoryAccess;
    // An empty vm_id means this VM's (cpp-host `lookupSharedQueue`).
    const token = w.services.shared.queues.resolve(vmId.length === 0 ? w.vmIdBytes : vmId, name);
    if (w.failed || token === 0) return WasmResult.NotFound;
    return w.mem.setU32(tokenPtr, token) ? WasmResult.Ok : WasmResult.InvalidMemoryAccess;
  });

  env('proxy_enqueue_shared_queue', words(3), ALL, (w) => (token: number, ptr: number, size: number) => {
    checkAllowed(w, 'env.proxy_enqueue_shared_queue');
    const value = w.mem.bytes(ptr, size);
    if (value === null) return WasmResult.InvalidMemoryAccess;
    return w.services.shared.queues.enqueue(token >>> 0, value);
  });

  env('proxy_dequeue_shared_queue', words(3), ALL, (w) => (token: number, ptrPtr: number, sizePtr: number) => {
    checkAllowed(w, 'env.proxy_dequeue_shared_queue');
    const store = w.services.shared.queues;
    const len = store.dequeue(token >>> 0);
    if (len === -1) return WasmResult.NotFound;
    if (len === -2) return WasmResult.Empty;
    return w.copyToPointerSize(store.scratch.subarray(0, len), ptrPtr, sizePtr) ? WasmResult.Ok : WasmResult.InvalidMemoryAccess;
  });

  // --- metrics ------------------------------------------------------------------

  env('proxy_define_metric', words(4), ALL, (w) => (type: number, namePtr: number, nameSize: number, idPtr: number) => {
    checkAllowed(w, 'env.proxy_define_metric');
    const name = w.mem.utf8(namePtr, nameSize);
    if (name === null) return WasmResult.InvalidMemoryAccess;
    if (type >>> 0 > MetricType.Histogram) return WasmResult.BadArgument;
    const id = w.defineMetric(type, name);
    if (id < 0) return WasmResult.InternalFailure;
    return w.mem.setU32(idPtr, id) ? WasmResult.Ok : WasmResult.InvalidMemoryAccess;
  });

  const i64 = { params: ['i32', 'i64'] as ValType[], results: ['i32'] as ValType[] };
  env('proxy_increment_metric', i64, ALL, (w) => (id: number, offset: bigint) => {
    checkAllowed(w, 'env.proxy_increment_metric');
    const metricId = id >>> 0;
    const type = metricId & 3;
    const index = w.metricIndex(metricId);
    // Envoy context.cc `incrementMetric`: counters take positive deltas only.
    if (type === MetricType.Counter) {
      if (index < 0) return WasmResult.NotFound;
      if (offset <= 0n) return WasmResult.BadArgument;
      w.services.shared.metrics.add(index, offset);
      return WasmResult.Ok;
    }
    if (type === MetricType.Gauge) {
      if (index < 0) return WasmResult.NotFound;
      w.services.shared.metrics.add(index, offset);
      return WasmResult.Ok;
    }
    return WasmResult.BadArgument;
  });

  env('proxy_record_metric', i64, ALL, (w) => (id: number, value: bigint) => {
    checkAllowed(w, 'env.proxy_record_metric');
    const metricId = id >>> 0;
    const index = w.metricIndex(metricId);
    if (index < 0) return WasmResult.NotFound;
    const metrics = w.services.shared.metrics;
    // Envoy context.cc `recordMetric`: counters add, gauges set, histograms record.
    switch (metricId & 3) {
      case MetricType.Counter:
        metrics.add(index, BigInt.asUintN(64, value));
        return WasmResult.Ok;
      case MetricType.Gauge:
        metrics.set(index, value);
        return WasmResult.Ok;
      case MetricType.Histogram:
        metrics.record(index, BigInt.asUintN(64, value));
        return WasmResult.Ok;
      default:
        return WasmResult.NotFound;
    }
  });

  env('proxy_get_metric', words(2), ALL, (w) => (id: number, resultPtr: number) => {
    checkAllowed(w, 'env.proxy_get_metric');
    const metricId = id >>> 0;
    const type = metricId & 3;
    if (type !== MetricType.Counter && type !== MetricType.Gauge) return WasmResult.BadArgument;
    const index = w.metricIndex(metricId);
    if (index < 0) return WasmResult.NotFound;
    return w.mem.setU64(resultPtr, w.services.shared.metrics.get(index)) ? WasmResult.Ok : WasmResult.InvalidMemoryAccess;
  });

  // --- time ---------------------------------------------------------------------

  env('proxy_set_tick_period_milliseconds', words(1), ALL, (w) => (period: number) => {
    checkAllowed(w, 'env.proxy_set_tick_period_milliseconds');
    w.setTickPeriod(w.effectiveContext().root.id, period >>> 0);
    return WasmResult.Ok;
  });

  env('proxy_get_current_time_nanoseconds', words(1), ALL, (w) => (ptr: number) => {
    checkAllowed(w, 'env.proxy_get_current_time_nanoseconds');
    return w.mem.setNanosFromMillis(ptr, w.services.clock.now()) ? WasmResult.Ok : WasmResult.InvalidMemoryAccess;
  });

  // --- foreign functions --------------------------------------------------------

  env(
    'proxy_call_foreign_function',
    words(6),
    ALL,
    (w) => (namePtr: number, nameSize: number, argsPtr: number, argsSize: number, resultsPtr: number, resultsSizePtr: number) => {
      checkAllowed(w, 'env.proxy_call_foreign_function');
      const name = w.mem.utf8(namePtr, nameSize);
      if (name === null) return WasmResult.InvalidMemoryAccess;
      const args = w.mem.bytes(argsPtr, argsSize);
      if (args === null) return WasmResult.InvalidMemoryAccess;
      const fn = foreignFunctions.get(name);
      if (!fn) return WasmResult.NotFound;
      const result = fn(Buffer.from(args));
      if (typeof result === 'number') return result;
      // cpp-host: results go to VM memory only when the module asked for them.
      let address = 0;
      if (resultsPtr !== 0 && result.length > 0) {
        address = w.allocMemory(result.length);
        if (address === 0) return WasmResult.InvalidMemoryAccess;
        w.mem.u8.set(result, address);
      }
      if (resultsPtr !== 0 && !w.mem.setU32(resultsPtr, address)) return WasmResult.InvalidMemoryAccess;
      if (resultsSizePtr !== 0 && !w.mem.setU32(resultsSizePtr, result.length)) return WasmResult.InvalidMemoryAccess;
      return WasmResult.Ok;
    },
  );

  // --- Emscripten / Envoy extras (cpp-host and Envoy `registerCallbacks`) ------------

  env('pthread_equal', words(2), ALL, () => (a: number, b: number) => (a === b ? 1 : 0));
  env('emscripten_notify_memory_growth', { params: ['i32'], results: [] }, ALL, (w) => () => {
    w.mem.refresh();
  });
  env('envoy_resolve_dns', words(3), ALL, (w) => () => {
    checkAllowed(w, 'env.envoy_resolve_dns');
    // Envoy resolves through its DNS resolver; the host has none.
    return WasmResult.Unimplemented;
  });

  for (const [name, fn] of wasiFunctions()) {
    table.set(`wasi_snapshot_preview1.${name}`, fn);
    table.set(`wasi_unstable.${name}`, fn);
  }
  return table;
}

const EMPTY_PAIRS: readonly [string, string][] = [];

let sharedTable: HostFunctionTable | undefined;

/** The host function table (built once per thread). */
export function defaultHostFunctions(): HostFunctionTable {
  sharedTable ??= hostFunctionTable();
  return sharedTable;
}
