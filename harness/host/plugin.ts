/**
 * A Wasm HTTP filter plugin on one thread: its VM, root context and failure policy,
 * after Envoy's `PluginConfig` (source/extensions/common/wasm/wasm.cc) and
 * proxy-wasm-cpp-host `createWasm` / `getOrCreateThreadLocalPlugin` (src/wasm.cc).
 *
 * - VMs are shared on a thread by plugins with the same vm_id, VM configuration and
 *   code (cpp-host `makeVmKey`); each plugin has its own root context in it. A plugin
 *   joining a running VM is first configured in a throw-away VM (cpp-host `canary`),
 *   so that a configuration which traps or is rejected never takes the shared VM down.
 * - `proxy_on_configure` returning false (or trapping) rejects the plugin: the error's
 *   message is the plugin's own error log line (what `mesh-filters run` prints).
 * - Failure policy (Envoy >= 1.33 `failure_policy`, older `fail_open`): the stream that
 *   was in the VM when it trapped gets 503 `wasm_fail_stream` (cpp-host `CHECK_FAIL`),
 *   unless the legacy `fail_open: true` is set: Envoy hands cpp-host's `PluginBase` only
 *   that flag, so only it lets that stream go on. Later streams: FAIL_CLOSED answers them
 *   503 too, FAIL_OPEN (or `fail_open`) leaves the failed filter out of them (wasm.cc
 *   `PluginConfig::createContext`), FAIL_RELOAD makes a new VM for the next stream, at
 *   most once per back-off interval (Envoy `JitteredLowerBoundBackOffStrategy`: base to
 *   1.5 x base, base from `reload_config.backoff.base_interval`, default 1 s), answering
 *   503 while backing off (wasm.cc `PluginConfig::maybeReloadHandleIfNeeded`). Stats as Envoy
 *   names them: `wasm.<plugin>.vm_reload_backoff`, `_success`, `_failure`;
 *   `wasm.<plugin>.runtime_error` counts traps (Envoy only logs them; the counter is the
 *   host's addition).
 */
import { createHash } from 'node:crypto';
import type { HttpFilter, HttpFilterFactory, StreamInfo } from './filter.ts';
import { FailState, type FailurePolicy, LogLevel, MetricType } from './abi.ts';
import { Context, type PluginInfo } from './context.ts';
import { defaultHostFunctions } from './hostcalls.ts';
import { type HostServices, type ResolvedServices, resolveServices } from './services.ts';
import type { SharedState } from './shared/shared-state.ts';
import { type CompiledModule, compileModule, makeVmKey, Wasm } from './wasm.ts';

/** Envoy `envoy.extensions.filters.http.wasm.v3.Wasm` config, as the host needs it. */
export interface WasmPluginConfig {
  /** `config.name`. */
  name: string;
  /** `config.root_id` (default ''). */
  rootId?: string;
  /** `vm_config.vm_id` (default ''). */
  vmId?: string;
  /** The module bytes (`vm_config.code`). */
  code: Uint8Array;
  /** `config.configuration` (a StringValue's bytes). */
  configuration?: Uint8Array | string;
  /** `vm_config.configuration`. */
  vmConfiguration?: Uint8Array | string;
  /** `vm_config.environment_variables.key_values` (host_env_keys already resolved). */
  environmentVariables?: Record<string, string>;
  /** `config.failure_policy` (Envoy >= 1.33); exclusive with `failOpen`. */
  failurePolicy?: FailurePolicy;
  /** Legacy `config.fail_open`. */
  failOpen?: boolean;
  /** `config.reload_config.backoff.base_interval` in ms (FAIL_RELOAD; default 1000). */
  reloadBaseIntervalMs?: number;
  /** `config.allow_on_headers_stop_iteration` (default false: StopIteration becomes StopAllIterationAndWatermark). */
  allowOnHeadersStopIteration?: boolean;
}

/** A plugin that failed to load or configure; `message` is the line users should see. */
export class WasmPluginError extends Error {
  constructor(
    message: string,
    readonly pluginName: string,
    readonly failState: FailState,
  ) {
    super(message);
    this.name = 'WasmPluginError';
  }
}

/** The filter of a plugin whose failed VM lets streams through (FAIL_OPEN). */
const PASS_THROUGH: HttpFilter = {
  setDecoderFilterCallbacks() {},
  setEncoderFilterCallbacks() {},
};

interface VmEntry {
  wasm: Wasm<Context>;
  users: number;
}

/**
 * This thread's VMs by VM key (cpp-host `local_wasms`), per shared state: plugins given
 * the same `services.shared` (one worker) share VMs; emulators stay apart.
 */
const registries = new WeakMap<SharedState, Map<string, VmEntry>>();

function vmRegistry(shared: SharedState): Map<string, VmEntry> {
  let registry = registries.get(shared);
  if (!registry) {
    const vms = new Map<string, VmEntry>();
    registry = vms;
    registries.set(shared, vms);
    // proxy_on_queue_ready goes to the registering root context, on this thread.
    shared.queues.listen((vmKey, contextId, token) => vms.get(vmKey)?.wasm.contexts.get(contextId)?.onQueueReady(token));
  }
  return registry;
}

interface PluginStats {
  runtimeError: number;
  reloadBackoff: number;
  reloadSuccess: number;
  reloadFailure: number;
}

export class WasmPlugin implements HttpFilterFactory {
  readonly name: string;
  readonly info: PluginInfo;
  readonly failurePolicy: FailurePolicy;
  private wasmRef: Wasm<Context>;
  private rootRef: Context;
  private lastLoadMs: number;
  private closed = false;
  private readonly stats: PluginStats;

  private constructor(
    private readonly compiled: CompiledModule,
    private readonly services: ResolvedServices,
    info: PluginInfo,
    policy: FailurePolicy,
    private readonly reloadBaseMs: number,
    private readonly vmSetup: VmSetup,
    wasm: Wasm<Context>,
    root: Context,
  ) {
    this.name = info.name;
    this.info = info;
    this.failurePolicy = policy;
    this.wasmRef = wasm;
    this.rootRef = root;
    this.lastLoadMs = services.clock.monotonic();
    const metrics = services.shared.metrics;
    const stat = (what: string): number => metrics.define(`wasm.${info.name}.${what}`, MetricType.Counter);
    this.stats = {
      runtimeError: stat('runtime_error'),
      reloadBackoff: stat('vm_reload_backoff'),
      reloadSuccess: stat('vm_reload_success'),
      reloadFailure: stat('vm_reload_failure'),
    };
    this.watch(wasm);
  }

  /** Loads (or joins), starts and configures the plugin; rejects with `WasmPluginError`. */
  static async create(config: WasmPluginConfig, services: HostServices = {}): Promise<WasmPlugin> {
    if (config.failOpen && config.failurePolicy !== undefined) {
      throw new WasmPluginError('only one of fail_open or failure_policy can be set', config.name, FailState.Ok);
    }
    const policy: FailurePolicy = config.failOpen ? 'FAIL_OPEN' : (config.failurePolicy ?? 'FAIL_CLOSED');
    const resolved = resolveServices(services);
    let compiled: CompiledModule;
    try {
      compiled = await compileModule(config.code);
    } catch (err) {
      const reason = err instanceof Error ? err.message : String(err);
      throw new WasmPluginError(`Unable to create Wasm plugin ${config.name}: ${reason}`, config.name, FailState.UnableToInitializeCode);
    }
    const rootId = config.rootId ?? '';
    const vmId = config.vmId ?? '';
    const configuration = bytes(config.configuration);
    const vmConfiguration = bytes(config.vmConfiguration);
    const envs = Object.entries(config.environmentVariables ?? {});
    const vmKey = makeVmKey(vmId, vmConfiguration, compiled.codeHash);
    const info: PluginInfo = {
      name: config.name,
      rootId,
      vmId,
      configuration,
      key: createHash('sha256').update(rootId).update('||').update(configuration).update('||').update(vmKey).digest('hex'),
      failOpen: config.failOpen === true,
      allowOnHeadersStopIteration: config.allowOnHeadersStopIteration ?? false,
      logSource: { plugin: config.name, rootId, vmId },
    };
    const setup: VmSetup = { compiled, vmId, vmConfiguration, envs, services: resolved, pluginName: config.name };

    // Join this thread's VM for the key if it runs, after a canary configuration.
    const localVms = vmRegistry(resolved.shared);
    const shared = localVms.get(vmKey);
    if (shared && !shared.wasm.failed) {
      const canary = newVm(setup);
      const check = startPlugin(canary, info);
      canary.destroy();
      if (typeof check === 'string') throw new WasmPluginError(check, config.name, FailState.ConfigureFailed);
      const root = startPlugin(shared.wasm, info);
      if (typeof root === 'string') throw new WasmPluginError(root, config.name, FailState.ConfigureFailed);
      shared.users++;
      return new WasmPlugin(compiled, resolved, info, policy, config.reloadBaseIntervalMs ?? 1000, setup, shared.wasm, root);
    }

    const wasm = newVm(setup);
    if (wasm.failed) {
      wasm.destroy();
      throw new WasmPluginError(`Unable to create Wasm plugin ${config.name}: ${wasm.failMessage}`, config.name, wasm.failState);
    }
    const root = startPlugin(wasm, info);
    if (typeof root === 'string') {
      wasm.destroy();
      throw new WasmPluginError(root, config.name, wasm.failed ? wasm.failState : FailState.ConfigureFailed);
    }
    localVms.set(wasm.vmKey, { wasm, users: 1 });
    return new WasmPlugin(compiled, resolved, info, policy, config.reloadBaseIntervalMs ?? 1000, setup, wasm, root);
  }

  /** The VM serving new streams (after a reload, the new one). */
  get wasm(): Wasm<Context> {
    return this.wasmRef;
  }

  /** This plugin's root context. */
  get rootContext(): Context {
    return this.rootRef;
  }

  /** One filter per stream (Envoy `PluginConfig::createContext`). */
  createFilter(streamInfo: StreamInfo): HttpFilter {
    const wasm = this.currentVm();
    if (wasm.failed && this.failurePolicy === 'FAIL_OPEN') return PASS_THROUGH;
    // A failed VM gives a context whose callbacks answer 503 (fail closed).
    return new Context(wasm, this.info, this.rootRef, streamInfo);
  }

  /** Ends the root context and releases the VM when no plugin uses it any more. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    const wasm = this.wasmRef;
    const root = this.rootRef;
    wasm.rootContexts.delete(this.info.key);
    if (!wasm.failed) {
      root.shutdown();
      // A root context kept by proxy_on_done keeps its VM until the plugin calls proxy_done.
      if (root.awaitingDone) {
        root.onReleased = () => this.releaseVm(wasm);
        return;
      }
    }
    this.releaseVm(wasm);
  }

  private releaseVm(wasm: Wasm<Context>): void {
    const localVms = vmRegistry(this.services.shared);
    const entry = localVms.get(wasm.vmKey);
    if (entry && entry.wasm === wasm) {
      if (--entry.users === 0) {
        localVms.delete(wasm.vmKey);
        wasm.destroy();
      }
    } else {
      wasm.destroy();
    }
  }

  /** Envoy `maybeReloadHandleIfNeeded`: FAIL_RELOAD swaps in a new VM after a trap. */
  private currentVm(): Wasm<Context> {
    const wasm = this.wasmRef;
    if (!wasm.failed || wasm.failState !== FailState.RuntimeError || this.failurePolicy !== 'FAIL_RELOAD') return wasm;
    const metrics = this.services.shared.metrics;
    const interval = this.reloadBaseMs + Math.floor(Math.random() * (this.reloadBaseMs / 2));
    const now = this.services.clock.monotonic();
    if (now - this.lastLoadMs < interval) {
      metrics.add(this.stats.reloadBackoff, 1n);
      return wasm;
    }
    this.lastLoadMs = now;
    const fresh = newVm(this.vmSetup);
    const root = fresh.failed ? 'failed' : startPlugin(fresh, this.info);
    if (typeof root === 'string') {
      fresh.destroy();
      metrics.add(this.stats.reloadFailure, 1n);
      return wasm;
    }
    metrics.add(this.stats.reloadSuccess, 1n);
    this.services.log(LogLevel.Info, `reloaded the Wasm VM of plugin ${this.name} after a runtime error`, { ...this.info.logSource, host: true });
    this.release(wasm);
    vmRegistry(this.services.shared).set(fresh.vmKey, { wasm: fresh, users: 1 });
    this.wasmRef = fresh;
    this.rootRef = root;
    this.watch(fresh);
    return fresh;
  }

  private release(wasm: Wasm<Context>): void {
    const localVms = vmRegistry(this.services.shared);
    const entry = localVms.get(wasm.vmKey);
    if (entry && entry.wasm === wasm && --entry.users === 0) localVms.delete(wasm.vmKey);
  }

  private watch(wasm: Wasm<Context>): void {
    wasm.onFail((state) => {
      if (state !== FailState.RuntimeError) return;
      if (this.stats.runtimeError >= 0) this.services.shared.metrics.add(this.stats.runtimeError, 1n);
      wasm.stopTimers();
      // A failed VM is never handed to a new plugin (cpp-host erases it from local_wasms).
      const localVms = vmRegistry(this.services.shared);
      const entry = localVms.get(wasm.vmKey);
      if (entry?.wasm === wasm) localVms.delete(wasm.vmKey);
    });
  }

  /** The compiled module (shared by reloads). */
  get module(): CompiledModule {
    return this.compiled;
  }
}

/** Everything needed to make another VM like this plugin's. */
interface VmSetup {
  compiled: CompiledModule;
  vmId: string;
  vmConfiguration: Uint8Array;
  envs: Array<[string, string]>;
  services: ResolvedServices;
  pluginName: string;
}

function newVm(setup: VmSetup): Wasm<Context> {
  const wasm = new Wasm<Context>(setup);
  wasm.initialize(setup.compiled, (w) => new Context(w, null, null), defaultHostFunctions());
  return wasm;
}

/**
 * Creates (or reuses) the plugin's root context, starts and configures it. Returns the
 * root context, or the message to report: the plugin's last error log line from
 * `proxy_on_configure`, else the VM failure, else Envoy's generic text.
 */
function startPlugin(wasm: Wasm<Context>, info: PluginInfo): Context | string {
  const existing = wasm.rootContexts.get(info.key);
  if (existing) return existing;
  const root = new Context(wasm, info, null);
  wasm.rootContexts.set(info.key, root);
  info.configureErrors = [];
  const started = root.onStart();
  const configured = started && root.onConfigure(info.configuration) && !wasm.failed;
  const errors = info.configureErrors;
  info.configureErrors = undefined;
  if (configured) return root;
  wasm.rootContexts.delete(info.key);
  wasm.contexts.delete(root.id);
  if (errors.length > 0) return errors[errors.length - 1];
  if (wasm.failed) return wasm.failMessage;
  return started ? `Failed to configure Wasm plugin ${info.name}` : `Failed to start Wasm plugin ${info.name}`;
}

function bytes(value: Uint8Array | string | undefined): Uint8Array {
  if (value === undefined) return new Uint8Array(0);
  return typeof value === 'string' ? Buffer.from(value) : value;
}

/** Loads a plugin for this thread (see `WasmPlugin`). */
export function createWasmPlugin(config: WasmPluginConfig, services?: HostServices): Promise<WasmPlugin> {
  return WasmPlugin.create(config, services);
}
