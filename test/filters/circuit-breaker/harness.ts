/**
 * Shared helpers of the circuit-breaker emulator suites: load build/circuit-breaker.wasm
 * in a `WasmEmulator` (fake clock) and drive whole requests through it.
 */
import { WasmEmulator, type EmulatorOptions } from '../../../harness/host/emulator.ts';
import type { HostcallObserver } from '../../../harness/host/services.ts';
import type { SharedState } from '../../../harness/host/shared/shared-state.ts';
import type { LocalReply, StreamInfo } from '../../../harness/host/filter.ts';
import { ensureBuilt } from '../../sdk/build.ts';
import { statName } from '../../integration/envoy-stats.ts';
import { filterEmulator } from '../emulator.ts';

export const ROOT_ID = 'circuit-breaker';

/** Builds the module if stale; returns its path. */
export const buildBreaker = (): Promise<string> => ensureBuilt('circuit-breaker');

/** The seeds' credit bureau: open after 3 failures, retry after 60 s, 3 probes, 10 s timeout. */
export const CREDIT_BUREAU = {
  name: 'credit-bureau',
  match: { prefix: '/api/credit-bureau' },
  failure_threshold: 3,
  open_duration: '60s',
  half_open_requests: 3,
  success_threshold: 3,
  timeout: '10s',
};

export async function breaker(wasm: string, config: unknown, opts: Partial<EmulatorOptions> & { shared?: SharedState } = {}): Promise<WasmEmulator> {
  return filterEmulator(ROOT_ID, wasm, config, opts);
}

/** One hostcall the module made: `proxy_get_property` and `proxy_set_property` with their path (and value). */
export interface Hostcall {
  name: string;
  path?: string;
  value?: string;
}

/**
 * Records the module's hostcalls (names without `env.`): pass `onHostcall` to `breaker`,
 * read `calls`, `clear()` between the steps a test compares.
 */
export function hostcallLog(): { onHostcall: HostcallObserver; calls: Hostcall[]; clear(): void; count(name: string): number } {
  const calls: Hostcall[] = [];
  const text = (wasm: Parameters<HostcallObserver>[2], ptr: number | bigint, len: number | bigint) =>
    wasm.mem.bytes(Number(ptr), Number(len))?.toString('latin1').replaceAll('\0', '.');
  return {
    calls,
    onHostcall: (key, args, wasm) => {
      const name = key.replace(/^env\./, '');
      if (name === 'proxy_get_property') calls.push({ name, path: text(wasm, args[0], args[1]) });
      else if (name === 'proxy_set_property') calls.push({ name, path: text(wasm, args[0], args[1]), value: text(wasm, args[2], args[3]) });
      else calls.push({ name });
    },
    clear: () => void calls.splice(0),
    count: (name) => calls.filter((c) => c.name === name).length,
  };
}

/** Sets the cluster the router resolved the stream's route to (`xds.cluster_name` from now on). */
export function routeTo(emu: WasmEmulator, ex: Exchange, cluster: string | undefined): void {
  emu.getStreamInfo(ex.id).clusterName = cluster;
}

/**
 * `count` workers' VMs of the filter with `config` (`WasmEmulator.createWorkers`: one
 * shared-data store, one fake clock), as Envoy runs it on `count` worker threads.
 */
export function breakerWorkers(count: number, wasm: string, config: unknown): Promise<WasmEmulator[]> {
  return WasmEmulator.createWorkers(count, { wasm, rootId: ROOT_ID, vmId: ROOT_ID, pluginConfiguration: JSON.stringify(config) });
}

export interface Exchange {
  id: number;
  /** The filter's local reply, when it answered itself. */
  reply?: LocalReply;
  /** Request headers as they left the filter. */
  upstreamHeaders: [string, string][];
}

/** Sends request headers only (the stream stays open): the caller answers and completes it. */
export function start(emu: WasmEmulator, path: string, headers: Record<string, string> = {}, info: Partial<StreamInfo> = {}): Exchange {
  const id = emu.initializeHttpContext(info);
  emu.callOnRequestHeaders(id, { ':method': 'GET', ':path': path, ':authority': 'mesh.local', ':scheme': 'http', ...headers }, true);
  return { id, reply: emu.getSentLocalResponse(id), upstreamHeaders: emu.getCurrentRequestHeaders(id) };
}

/** Answers an admitted stream with `status` (unless the filter replied itself) and ends it. */
export function finish(emu: WasmEmulator, ex: Exchange, status: number): void {
  if (!ex.reply) emu.callOnResponseHeaders(ex.id, { ':status': String(status) }, true);
  emu.completeHttpContext(ex.id);
}

/** One whole request answered by the upstream with `status`; returns what happened. */
export function call(emu: WasmEmulator, path: string, status: number, headers: Record<string, string> = {}, info: Partial<StreamInfo> = {}): Exchange {
  const ex = start(emu, path, headers, info);
  finish(emu, ex, status);
  return ex;
}

export const header = (pairs: [string, string][] | undefined, name: string): string | undefined => pairs?.find(([k]) => k === name)?.[1];

/** The value of the shared-data record's `state` (offset 4), or undefined. */
export function sharedState(emu: WasmEmulator, service: string, statPrefix = 'circuit_breaker'): number | undefined {
  const entry = emu.getSharedData(`circuit-breaker/${statPrefix}/${service}`);
  return entry ? entry.value.readUInt32LE(4) : undefined;
}

/** The name of `service`'s `circuit_breaker_requests_total{service,outcome}` counter. */
export const requestsCounter = (service: string, outcome: 'admitted' | 'rejected_open' | 'rejected_bulkhead' | 'fallback'): string =>
  statName('circuit_breaker_requests_total', { service, outcome });

/** The name of `service`'s `circuit_breaker_transitions_total{service,state}` counter: transitions into `state`. */
export const transitionsCounter = (service: string, state: 'closed' | 'open' | 'half_open'): string => statName('circuit_breaker_transitions_total', { service, state });

/** The states whose `circuit_breaker_state{service,state}` gauge is 1 (one, when the gauges agree), comma-joined. */
export function gaugedState(emu: WasmEmulator, service: string): string {
  return ['closed', 'open', 'half_open'].filter((state) => emu.getGaugeValue(statName('circuit_breaker_state', { service, state })) === 1n).join(',');
}
