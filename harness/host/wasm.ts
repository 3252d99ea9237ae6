/**
 * One VM: a linked, started module instance with its contexts, after proxy-wasm-cpp-host
 * `WasmBase` (src/wasm.cc) and its V8 backend (src/v8/v8.cc), and Envoy's `Wasm`
 * (source/extensions/common/wasm/wasm.cc).
 *
 * - Loading: the module must advertise an ABI (`proxy_abi_version_0_2_1` or `_0_2_0`);
 *   every import must be a host function of that ABI (or a WASI function Envoy
 *   provides) with the same signature, else the VM fails with cpp-host's message
 *   ("Failed to load Wasm module due to a missing import: env.foo").
 * - Starting: `_initialize` then `main` (or `__main_void`) when exported, else `_start`,
 *   with only logging, clock, random and WASI calls allowed (cpp-host `startVm`
 *   restricted callbacks); memory for returned data comes from `malloc`, else
 *   `proxy_on_memory_allocate` (cpp-host `getFunctions` looks for `malloc` first).
 * - Calls: every call into the module saves and sets the current context and resets
 *   the effective context (cpp-host `SaveRestoreContext`); a trap fails the VM for good
 *   (`FailState::RuntimeError`) with cpp-host's message ("Function: X failed: ...")
 *   plus the in-VM backtrace.
 * - Deferred actions: hostcalls that re-enter the filter manager (continue, local
 *   reply, close) queue an action that runs after the VM call returns (cpp-host
 *   `addAfterVmCallAction` / `DeferAfterCallActions`).
 */
import { createHash } from 'node:crypto';
import { AbiVersion, FailState, LogLevel, MetricType } from './abi.ts';
import { type HostContext, type HostFunctionTable, type HostVm, RestrictedCallback } from './host-interface.ts';
import { MemoryView } from './memory.ts';
import { type FuncType, type ModuleInfo, printTypes, readModuleInfo } from './module-info.ts';
import type { ResolvedServices, TimerHandle } from './services.ts';
import { CUSTOM_STAT_NAMESPACE } from './shared/metrics.ts';

/** A compiled module with what the host read from its bytes. */
export interface CompiledModule {
  module: WebAssembly.Module;
  info: ModuleInfo;
  /** SHA-256 of the code, hex. */
  codeHash: string;
  code: Uint8Array;
}

const compiledModules = new Map<string, Promise<CompiledModule>>();

/** Compiles `code` once per thread (modules are cached by SHA-256). */
export function compileModule(code: Uint8Array): Promise<CompiledModule> {
  const codeHash = createHash('sha256').update(code).digest('hex');
  let compiled = compiledModules.get(codeHash);
  if (!compiled) {
    compiled = (async () => {
      const info = readModuleInfo(code);
      const module = await WebAssembly.compile(code as Uint8Array<ArrayBuffer>);
      return { module, info, codeHash, code };
    })();
    compiledModules.set(codeHash, compiled);
    compiled.catch(() => compiledModules.delete(codeHash));
  }
  return compiled;
}

/** cpp-host `makeVmKey`: SHA-256 of vm_id, VM configuration and code. */
export function makeVmKey(vmId: string, vmConfiguration: Uint8Array, codeHash: string): string {
  return createHash('sha256').update(vmId).update('||').update(vmConfiguration).update('||').update(codeHash).digest('hex');
}

type WasmFn = (...args: number[]) => number;

/** Module exports the host calls, after cpp-host `FOR_ALL_MODULE_FUNCTIONS`. */
export interface ModuleFunctions {
  _initialize?: WasmFn;
  _start?: WasmFn;
  main?: WasmFn;
  __main_void?: WasmFn;
  malloc?: WasmFn;
  proxy_on_vm_start?: WasmFn;
  proxy_on_configure?: WasmFn;
  proxy_on_context_create?: WasmFn;
  proxy_on_tick?: WasmFn;
  proxy_on_request_headers?: WasmFn;
  proxy_on_request_body?: WasmFn;
  proxy_on_request_trailers?: WasmFn;
  proxy_on_response_headers?: WasmFn;
  proxy_on_response_body?: WasmFn;
  proxy_on_response_trailers?: WasmFn;
  proxy_on_http_call_response?: WasmFn;
  proxy_on_grpc_receive_initial_metadata?: WasmFn;
  proxy_on_grpc_receive?: WasmFn;
  proxy_on_grpc_receive_trailing_metadata?: WasmFn;
  proxy_on_grpc_close?: WasmFn;
  proxy_on_queue_ready?: WasmFn;
  proxy_on_foreign_function?: WasmFn;
  proxy_on_done?: WasmFn;
  proxy_on_log?: WasmFn;
  proxy_on_delete?: WasmFn;
}

const i32 = 'i32' as const;
const sig = (params: number, result: boolean): FuncType => ({
  params: Array(params).fill(i32),
  results: result ? [i32] : [],
});

/** Expected signatures of module functions (cpp-host `WasmCallWord<N>` / `WasmCallVoid<N>`). */
function moduleSignatures(abi: AbiVersion): Record<keyof ModuleFunctions, FuncType> {
  const headers = abi === AbiVersion.V0_1_0 ? sig(2, true) : sig(3, true);
  return {
    _initialize: sig(0, false),
    _start: sig(0, false),
    main: sig(2, true),
    __main_void: sig(0, true),
    malloc: sig(1, true),
    proxy_on_vm_start: sig(2, true),
    proxy_on_configure: sig(2, true),
    proxy_on_context_create: sig(2, false),
    proxy_on_tick: sig(1, false),
    proxy_on_request_headers: headers,
    proxy_on_request_body: sig(3, true),
    proxy_on_request_trailers: sig(2, true),
    proxy_on_response_headers: headers,
    proxy_on_response_body: sig(3, true),
    proxy_on_response_trailers: sig(2, true),
    proxy_on_http_call_response: sig(5, false),
    proxy_on_grpc_receive_initial_metadata: sig(3, false),
    proxy_on_grpc_receive: sig(3, false),
    proxy_on_grpc_receive_trailing_metadata: sig(3, false),
    proxy_on_grpc_close: sig(3, false),
    proxy_on_queue_ready: sig(2, false),
    proxy_on_foreign_function: sig(3, false),
    proxy_on_done: sig(1, true),
    proxy_on_log: sig(1, false),
    proxy_on_delete: sig(1, false),
  };
}

/** Hostcalls allowed while the VM starts (cpp-host `WasmBase::startVm`): logging, clocks, random, WASI. */
export const START_ALLOWED = new Set([
  'env.proxy_log',
  'env.emscripten_notify_memory_growth',
  'wasi.*',
]);
/** Hostcalls allowed inside `malloc` (cpp-host `WasmBase::allocMemory`). */
export const MALLOC_ALLOWED = new Set([
  'env.proxy_log',
  'wasi_snapshot_preview1.fd_write',
  'wasi_unstable.fd_write',
  'wasi_snapshot_preview1.clock_time_get',
  'wasi_unstable.clock_time_get',
  'wasi_snapshot_preview1.poll_oneoff',
  'wasi_unstable.poll_oneoff',
]);

export interface WasmOptions {
  compiled: CompiledModule;
  vmId: string;
  vmConfiguration: Uint8Array;
  /** `environment_variables` of the VM config, for WASI `environ_get`. */
  envs: ReadonlyArray<readonly [string, string]>;
  services: ResolvedServices;
  /** Name of the plugin that created the VM, for VM-level log lines. */
  pluginName: string;
}

/** What the VM asks of its contexts: what hostcalls ask, and the tick it drives. */
export interface VmContext extends HostContext {
  onTick(): void;
}

/** One VM; `C` is its contexts' type (context.ts `Context`). */
export class Wasm<C extends VmContext = VmContext> implements HostVm {
  readonly vmId: string;
  readonly vmIdBytes: Buffer;
  readonly vmConfiguration: Uint8Array;
  readonly vmKey: string;
  readonly envs: ReadonlyArray<readonly [string, string]>;
  readonly services: ResolvedServices;
  readonly abiVersion: AbiVersion | undefined;
  readonly mem = new MemoryView();
  readonly fns: ModuleFunctions = {};
  /** All exports of the instance (tests call probe helpers through it). */
  exports: WebAssembly.Exports = {};
  readonly pluginName: string;
  private readonly hasNames: boolean;

  failState = FailState.Ok;
  failMessage = '';
  private readonly failCallbacks: Array<(state: FailState) => void> = [];

  /** Every live context by id; 0 is the VM context (cpp-host `contexts_`). */
  readonly contexts = new Map<number, C>();
  /** Root contexts by plugin key (cpp-host `root_contexts_`). */
  readonly rootContexts = new Map<string, C>();
  private nextContextId = 1;
  vmContext!: C;

  /** Context of the VM call in progress (cpp-host `current_context_`). */
  current: C | null = null;
  /** Set by `proxy_set_effective_context`, reset on every VM call. */
  effectiveContextId = 0;
  /** cpp-host `stop_iteration_`: a local reply was sent, stop whatever the module returns. */
  stopIteration = false;
  private readonly afterVmCallActions: Array<() => void> = [];
  /** Hostcalls allowed in the current phase, or null when unrestricted. */
  restricted: Set<string> | null = null;

  // Metric ids: the type in the low 2 bits, as cpp-host `nextCounterMetricId` etc.
  private nextCounterId = MetricType.Counter;
  private nextGaugeId = MetricType.Gauge;
  private nextHistogramId = MetricType.Histogram;
  /** Metric id → index in the shared metric store (ids are small: an array, not a Map, for `metricIndex`). */
  private readonly metricIndexes: number[] = [];
  // Callout ids: HTTP call 0, gRPC call 1, gRPC stream 2 in the low 2 bits.
  private nextHttpCallId = 0;
  private nextGrpcCallId = 1;
  private nextGrpcStreamId = 2;

  /** Tick timers per root context id (Envoy `Wasm::setTimerPeriod`). */
  private readonly tickPeriods = new Map<number, number>();
  private readonly tickTimers = new Map<number, TimerHandle>();
  private readonly lifecycle: { created: number; active: number };

  constructor(options: WasmOptions) {
    this.vmId = options.vmId;
    this.vmIdBytes = Buffer.from(options.vmId);
    this.vmConfiguration = options.vmConfiguration;
    this.envs = options.envs;
    this.services = options.services;
    this.pluginName = options.pluginName;
    this.abiVersion = options.compiled.info.abiVersion;
    this.hasNames = options.compiled.info.hasNames;
    this.vmKey = makeVmKey(options.vmId, options.vmConfiguration, options.compiled.codeHash);
    // Envoy's LifecycleStatsHandler: wasm.<runtime>.created / .active.
    const metrics = this.services.shared.metrics;
    this.lifecycle = {
      created: metrics.define('wasm.envoy.wasm.runtime.v8.created', MetricType.Counter),
      active: metrics.define('wasm.envoy.wasm.runtime.v8.active', MetricType.Gauge),
    };
    if (this.lifecycle.created >= 0) metrics.add(this.lifecycle.created, 1n);
    if (this.lifecycle.active >= 0) metrics.add(this.lifecycle.active, 1n);
  }

  get failed(): boolean {
    return this.failState !== FailState.Ok;
  }

  /** cpp-host `WasmVm::fail`: log at error, mark failed, notify. */
  fail(state: FailState, message: string): void {
    this.services.log(LogLevel.Error, message, { plugin: this.pluginName, rootId: '', vmId: this.vmId, host: true });
    if (this.failState === FailState.Ok) {
      this.failState = state;
      this.failMessage = message;
    }
    for (const cb of this.failCallbacks) cb(state);
  }

  onFail(callback: (state: FailState) => void): void {
    this.failCallbacks.push(callback);
  }

  /**
   * Links and instantiates the module and runs its start functions (cpp-host
   * `WasmBase::load` + `initialize` + `startVm`). On failure `failed` is set and
   * `failMessage` says why. `makeVmContext` creates context 0.
   */
  initialize(compiled: CompiledModule, makeVmContext: (wasm: Wasm<C>) => C, hostFunctions: HostFunctionTable): void {
    if (!this.abiVersion) {
      this.fail(FailState.UnableToInitializeCode, 'Missing or unknown Proxy-Wasm ABI version');
      return;
    }
    this.vmContext = makeVmContext(this);
    const imports = this.link(compiled, hostFunctions);
    if (!imports) return;
    let instance: WebAssembly.Instance;
    const saved = this.current;
    this.current = this.vmContext;
    try {
      instance = new WebAssembly.Instance(compiled.module, imports);
    } catch (err) {
      this.fail(FailState.UnableToInitializeCode, `Failed to create new Wasm instance: ${describeError(err)}`);
      return;
    } finally {
      this.current = saved;
    }
    this.exports = instance.exports;
    for (const value of Object.values(instance.exports)) {
      if (value instanceof WebAssembly.Memory) {
        this.mem.attach(value);
        break;
      }
    }
    if (this.mem.size === 0 && !Object.values(instance.exports).some((v) => v instanceof WebAssembly.Memory)) {
      const imported = Object.values(imports).flatMap((m) => Object.values(m)).find((v) => v instanceof WebAssembly.Memory);
      if (imported) this.mem.attach(imported as WebAssembly.Memory);
    }
    if (!this.getFunctions(instance, compiled.info)) return;
    this.startVm();
  }

  private link(compiled: CompiledModule, table: HostFunctionTable): WebAssembly.Imports | null {
    const imports: Record<string, Record<string, WebAssembly.ImportValue>> = {};
    for (const imp of compiled.info.imports) {
      const ns = (imports[imp.module] ??= {});
      const key = `${imp.module}.${imp.name}`;
      if (imp.kind === 'function') {
        const host = table.get(key);
        if (!host || !host.abis.includes(this.abiVersion!)) {
          this.fail(FailState.UnableToInitializeCode, `Failed to load Wasm module due to a missing import: ${key}`);
          return null;
        }
        if (!sameTypes(imp.type.params, host.type.params) || !sameTypes(imp.type.results, host.type.results)) {
          this.fail(
            FailState.UnableToInitializeCode,
            `Failed to load Wasm module due to an import type mismatch: ${key}, want: ` +
              `${printTypes(imp.type.params)} -> ${printTypes(imp.type.results)}, but host exports: ` +
              `${printTypes(host.type.params)} -> ${printTypes(host.type.results)}`,
          );
          return null;
        }
        const fn = host.make(this) as (...args: Array<number | bigint>) => number | void;
        const observe = this.services.onHostcall;
        ns[imp.name] = observe === null ? fn : (...args: Array<number | bigint>) => {
          observe(key, args, this);
          return fn(...args);
        };
      } else if (imp.kind === 'memory') {
        ns[imp.name] = new WebAssembly.Memory({
          initial: imp.limits.initial,
          maximum: imp.limits.maximum,
          shared: imp.limits.shared,
        } as WebAssembly.MemoryDescriptor);
      } else if (imp.kind === 'table') {
        ns[imp.name] = new WebAssembly.Table({
          element: imp.element === 'externref' ? 'externref' : 'anyfunc',
          initial: imp.limits.initial,
          maximum: imp.limits.maximum,
        });
      } else {
        // cpp-host links no globals (or tags): they count as missing imports.
        this.fail(FailState.UnableToInitializeCode, `Failed to load Wasm module due to a missing import: ${key}`);
        return null;
      }
    }
    return imports;
  }

  private getFunctions(instance: WebAssembly.Instance, info: ModuleInfo): boolean {
    const exports = instance.exports as Record<string, unknown>;
    const expected = moduleSignatures(this.abiVersion!);
    const take = (name: keyof ModuleFunctions, exportName: string = name): boolean => {
      const fn = exports[exportName];
      if (typeof fn !== 'function') return true;
      const want = expected[name];
      const have = info.functions.get(exportName);
      if (have && (!sameTypes(have.params, want.params) || !sameTypes(have.results, want.results))) {
        this.fail(
          FailState.UnableToInitializeCode,
          `Bad function signature for: ${exportName}, want: ${printTypes(want.params)} -> ${printTypes(want.results)}, ` +
            `but the module exports: ${printTypes(have.params)} -> ${printTypes(have.results)}`,
        );
        return false;
      }
      this.fns[name] = fn as WasmFn;
      return true;
    };
    let ok = take('_initialize');
    if (this.fns._initialize) ok &&= take('main') && take('__main_void');
    else ok &&= take('_start');
    ok &&= take('malloc');
    if (!this.fns.malloc) ok &&= take('malloc', 'proxy_on_memory_allocate');
    if (!ok) return false;
    if (!this.fns.malloc) {
      this.fail(FailState.MissingFunction, 'Wasm module is missing malloc function.');
      return false;
    }
    for (const name of Object.keys(expected) as Array<keyof ModuleFunctions>) {
      if (name.startsWith('proxy_on_') && !take(name)) return false;
    }
    return true;
  }

  private startVm(): void {
    this.restricted = START_ALLOWED;
    try {
      if (this.fns._initialize) {
        this.call0(this.vmContext, '_initialize', this.fns._initialize);
        if (this.failed) return;
        if (this.fns.main) this.call2(this.vmContext, 'main', this.fns.main, 0, 0);
        else if (this.fns.__main_void) this.call0(this.vmContext, '__main_void', this.fns.__main_void);
      } else if (this.fns._start) {
        this.call0(this.vmContext, '_start', this.fns._start);
      }
    } finally {
      this.restricted = null;
    }
  }

  /** True when the hostcall `name` (`module.field`) may run now. */
  allowed(name: string): boolean {
    const r = this.restricted;
    if (r === null) return true;
    return r.has(name) || (r.has('wasi.*') && !name.startsWith('env.'));
  }

  // --- calls into the module -------------------------------------------------------
  // One method per arity on purpose: every callback of every stream goes through these,
  // and a rest-parameter version allocates an argument array per call.

  call0(ctx: C, name: string, fn: WasmFn): number {
    const savedContext = this.current;
    const savedEffective = this.effectiveContextId;
    this.current = ctx;
    this.effectiveContextId = 0;
    try {
      return fn() >>> 0;
    } catch (err) {
      this.trap(name, err);
      return 0;
    } finally {
      this.current = savedContext;
      this.effectiveContextId = savedEffective;
    }
  }

  call1(ctx: C, name: string, fn: WasmFn, a: number): number {
    const savedContext = this.current;
    const savedEffective = this.effectiveContextId;
    this.current = ctx;
    this.effectiveContextId = 0;
    try {
      return fn(a) >>> 0;
    } catch (err) {
      this.trap(name, err);
      return 0;
    } finally {
      this.current = savedContext;
      this.effectiveContextId = savedEffective;
    }
  }

  call2(ctx: C, name: string, fn: WasmFn, a: number, b: number): number {
    const savedContext = this.current;
    const savedEffective = this.effectiveContextId;
    this.current = ctx;
    this.effectiveContextId = 0;
    try {
      return fn(a, b) >>> 0;
    } catch (err) {
      this.trap(name, err);
      return 0;
    } finally {
      this.current = savedContext;
      this.effectiveContextId = savedEffective;
    }
  }

  call3(ctx: C, name: string, fn: WasmFn, a: number, b: number, c: number): number {
    const savedContext = this.current;
    const savedEffective = this.effectiveContextId;
    this.current = ctx;
    this.effectiveContextId = 0;
    try {
      return fn(a, b, c) >>> 0;
    } catch (err) {
      this.trap(name, err);
      return 0;
    } finally {
      this.current = savedContext;
      this.effectiveContextId = savedEffective;
    }
  }

  call5(ctx: C, name: string, fn: WasmFn, a: number, b: number, c: number, d: number, e: number): number {
    const savedContext = this.current;
    const savedEffective = this.effectiveContextId;
    this.current = ctx;
    this.effectiveContextId = 0;
    try {
      return fn(a, b, c, d, e) >>> 0;
    } catch (err) {
      this.trap(name, err);
      return 0;
    } finally {
      this.current = savedContext;
      this.effectiveContextId = savedEffective;
    }
  }

  private trap(name: string, err: unknown): void {
    if (this.failed) return; // a nested call already failed the VM
    this.fail(FailState.RuntimeError, failMessage(name, err, this.hasNames));
  }

  // --- memory ----------------------------------------------------------------------

  /**
   * Allocates `size` bytes in the VM (cpp-host `WasmBase::allocMemory`): returns the
   * address, or 0 when `malloc` fails or traps. The views are valid afterwards even if
   * `malloc` grew memory (the bounds check refreshes them).
   */
  allocMemory(size: number): number {
    const malloc = this.fns.malloc;
    if (!malloc || this.failState !== FailState.Ok) return 0;
    // call1's context switch, written out: this runs for every value a hostcall returns.
    const savedRestricted = this.restricted;
    const savedContext = this.current;
    const savedEffective = this.effectiveContextId;
    this.restricted = MALLOC_ALLOWED;
    this.current = this.vmContext;
    this.effectiveContextId = 0;
    let ptr = 0;
    try {
      ptr = malloc(size) >>> 0;
    } catch (err) {
      this.trap('malloc', err);
    } finally {
      this.restricted = savedRestricted;
      this.current = savedContext;
      this.effectiveContextId = savedEffective;
    }
    // inBounds refreshes the views when `malloc` grew memory (the old ones read as length 0).
    if (ptr === 0 || !this.mem.inBounds(ptr, size)) return 0;
    return ptr;
  }

  /**
   * cpp-host `copyToPointerSize`: copies `bytes` into VM memory and writes its address
   * and size to `ptrPtr` / `sizePtr` (an empty value writes 0, 0 without allocating).
   */
  copyToPointerSize(bytes: Uint8Array, ptrPtr: number, sizePtr: number): boolean {
    let ptr = 0;
    if (bytes.length > 0) {
      ptr = this.allocMemory(bytes.length);
      if (ptr === 0) return false;
      this.mem.u8.set(bytes, ptr);
    }
    return this.mem.setU32(ptrPtr, ptr) && this.mem.setU32(sizePtr, bytes.length);
  }

  /** Same as `copyToPointerSize` for a latin1 string (header values). */
  copyLatin1ToPointerSize(s: string, ptrPtr: number, sizePtr: number): boolean {
    let ptr = 0;
    if (s.length > 0) {
      ptr = this.allocMemory(s.length);
      if (ptr === 0) return false;
      this.mem.writeLatin1Unchecked(ptr, s);
    }
    return this.mem.setU32(ptrPtr, ptr) && this.mem.setU32(sizePtr, s.length);
  }

  // --- deferred actions ------------------------------------------------------------

  addAfterVmCallAction(action: () => void): void {
    this.afterVmCallActions.push(action);
  }

  /** cpp-host `DeferAfterCallActions` destructor: reset stop-iteration, run deferred actions. */
  afterVmCall(): void {
    this.stopIteration = false;
    const actions = this.afterVmCallActions;
    while (actions.length > 0) actions.shift()!();
  }

  // --- contexts --------------------------------------------------------------------

  allocContextId(): number {
    while (this.contexts.has(this.nextContextId)) this.nextContextId++;
    return this.nextContextId++;
  }

  /** The context hostcalls act on (cpp-host `contextOrEffectiveContext`). */
  effectiveContext(): C {
    const current = this.current ?? this.vmContext;
    if (this.effectiveContextId === 0) return current;
    return this.contexts.get(this.effectiveContextId) ?? current;
  }

  // --- ids -------------------------------------------------------------------------

  nextMetricId(type: MetricType): number {
    if (type === MetricType.Counter) return (this.nextCounterId += 4);
    if (type === MetricType.Gauge) return (this.nextGaugeId += 4);
    return (this.nextHistogramId += 4);
  }

  httpCallId(): number {
    return (this.nextHttpCallId += 4) >>> 0;
  }

  /** Gives back the HTTP call id just taken (Envoy takes one only once the cluster is known). */
  returnHttpCallId(token: number): void {
    if (token === this.nextHttpCallId >>> 0) this.nextHttpCallId -= 4;
  }

  grpcCallId(): number {
    return (this.nextGrpcCallId += 4) >>> 0;
  }

  grpcStreamId(): number {
    return (this.nextGrpcStreamId += 4) >>> 0;
  }

  /** Defines a module metric in the shared store under Envoy's custom namespace. */
  defineMetric(type: MetricType, name: string): number {
    const index = this.services.shared.metrics.define(CUSTOM_STAT_NAMESPACE + name, type);
    if (index < 0) return -1;
    const id = this.nextMetricId(type);
    this.metricIndexes[id] = index;
    return id;
  }

  /** Index in the shared metric store of metric `id` (unsigned), or -1 when this VM defined no such metric. */
  metricIndex(id: number): number {
    const index = this.metricIndexes[id];
    return index === undefined ? -1 : index;
  }

  // --- ticks -----------------------------------------------------------------------

  /**
   * Envoy `Wasm::setTimerPeriod` / `tickHandler`: one timer per root context, re-armed
   * after each `proxy_on_tick`; period 0 stops it.
   */
  setTickPeriod(rootContextId: number, periodMs: number): void {
    const timers = this.services.timers;
    const running = this.tickTimers.get(rootContextId);
    if (running !== undefined) {
      timers.clearTimer(running);
      this.tickTimers.delete(rootContextId);
    }
    this.tickPeriods.set(rootContextId, periodMs);
    if (periodMs > 0) this.armTick(rootContextId, periodMs);
  }

  private armTick(rootContextId: number, periodMs: number): void {
    const handle = this.services.timers.setTimer(() => {
      this.tickTimers.delete(rootContextId);
      if (!this.fns.proxy_on_tick) return;
      const ctx = this.contexts.get(rootContextId);
      if (ctx) ctx.onTick();
      const period = this.tickPeriods.get(rootContextId) ?? 0;
      if (period > 0 && !this.tickTimers.has(rootContextId) && !this.failed) this.armTick(rootContextId, period);
    }, periodMs);
    this.tickTimers.set(rootContextId, handle);
  }

  /** Stops every timer of the VM (shutdown, failure). */
  stopTimers(): void {
    for (const handle of this.tickTimers.values()) this.services.timers.clearTimer(handle);
    this.tickTimers.clear();
    this.tickPeriods.clear();
  }

  /** Releases the VM: timers stop and the active-VM gauge goes down (Envoy `~Wasm`). */
  destroy(): void {
    this.stopTimers();
    if (this.lifecycle.active >= 0) this.services.shared.metrics.add(this.lifecycle.active, -1n);
  }
}

function sameTypes(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((t, i) => t === b[i]);
}

function describeError(err: unknown): string {
  if (err instanceof RestrictedCallback) return err.message;
  if (err instanceof Error) return `Uncaught ${err.name === 'RuntimeError' ? 'RuntimeError' : err.name}: ${err.message}`;
  return String(err);
}

const WASM_FRAME = /at (?:(\S+) \()?wasm:\/\/wasm\/[^:]*:wasm-function\[(\d+)\]:0x([0-9a-f]+)\)?/;

/**
 * cpp-host `V8::getFailMessage`: "Function: <name> failed: <trap>" and, when the
 * module has function names, "Proxy-Wasm plugin in-VM backtrace:" with
 * "  0:  0x1a2b - fn" lines.
 */
export function failMessage(name: string, err: unknown, withBacktrace = true): string {
  let message = `Function: ${name} failed: ${describeError(err)}`;
  if (!withBacktrace) return message;
  const stack = err instanceof Error && typeof err.stack === 'string' ? err.stack.split('\n') : [];
  const frames: string[] = [];
  for (const line of stack) {
    const m = WASM_FRAME.exec(line);
    if (!m) continue;
    const fn = m[1] && !/^\$?\d+$/.test(m[1]) ? m[1].replace(/^\$/, '') : `unknown(function index:${m[2]})`;
    frames.push(`${String(frames.length).padStart(3)}:  0x${m[3]} - ${fn}`);
    if (frames.length === 20) break;
  }
  if (frames.length > 0) message += `\nProxy-Wasm plugin in-VM backtrace:\n${frames.join('\n')}`;
  return message;
}

