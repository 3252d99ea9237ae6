/**
 * The proxy-wasm host: runs Proxy-Wasm (ABI v0.2.1 / v0.2.0) modules on Node's
 * WebAssembly (V8, like Envoy's default runtime) with Envoy's hostcall behaviour.
 *
 * - `createWasmPlugin(config, services)` loads, starts and configures a plugin on the
 *   calling thread and returns a `WasmPlugin`, the `HttpFilterFactory` the filter
 *   manager asks for one `HttpFilter` per stream.
 * - `SharedState` holds shared data, shared queues and metrics in SharedArrayBuffers:
 *   create it once, pass `state.handle` to workers in `workerData`, `attach` there, and
 *   give it to every plugin through `services.shared`.
 * - `renderPrometheus(state.metrics)` is the wasm part of `/stats/prometheus`.
 * - `WasmEmulator` (emulator.ts) drives one plugin by hand in tests.
 */
export { createWasmPlugin, WasmPlugin, WasmPluginError, type WasmPluginConfig } from './plugin.ts';
export {
  type CallHandle,
  type Clock,
  type GrpcCallCallbacks,
  type GrpcCallRequest,
  type GrpcStreamCallbacks,
  type GrpcStreamHandle,
  type GrpcStreamRequest,
  type HostServices,
  type HttpCallFn,
  type HttpCallResponse,
  type LogSink,
  type LogSource,
  type NodeInfo,
  type TimerHandle,
  type Timers,
  consoleLogSink,
  formatLogLine,
  logPrefix,
  realClock,
  realTimers,
} from './services.ts';
export { SharedState, type SharedStateHandle, type SharedStateOptions } from './shared/shared-state.ts';
import { SharedState, type SharedStateHandle } from './shared/shared-state.ts';

/** Maps the shared state made by `SharedState.create()` in another thread (give it to `services.shared`). */
export function attachSharedState(handle: SharedStateHandle): SharedState {
  return SharedState.attach(handle);
}
export { SharedDataStore } from './shared/shared-data.ts';
export { SharedQueueStore } from './shared/shared-queue.ts';
export { MetricStore, type MetricSnapshot, HISTOGRAM_BUCKETS } from './shared/metrics.ts';
export { renderPrometheus, prometheusName } from './shared/prometheus.ts';
export { AbiVersion, FailState, type FailurePolicy, LOG_LEVEL_NAMES, LogLevel, MetricType, WasmResult } from './abi.ts';
export { WasmEmulator, type EmulatorOptions } from './emulator.ts';
