/**
 * Drives build/rate-limit.wasm in the emulator (harness/host/emulator.ts): one call per
 * request, as Envoy's filter manager would run it, with the fake monotonic clock.
 */
import { WasmEmulator, type EmulatorOptions } from '../../../harness/host/emulator.ts';
import { SharedState } from '../../../harness/host/shared/shared-state.ts';
import { statName } from '../../integration/envoy-stats.ts';
import { filterEmulator } from '../emulator.ts';
import { ensureRateLimit } from './build.ts';

export interface Outcome {
  /** 200 when the request went on (the emulated upstream answers 200), else the local reply's status. */
  status: number;
  /** Response headers as the client gets them (lower-case names; repeated names joined with ","). */
  headers: Record<string, string>;
  body: string;
  details?: string;
}

export interface RequestSpec {
  path?: string;
  method?: string;
  headers?: Record<string, string>;
  /** The connection's address (`source.address`). */
  remote?: string;
  /** Headers the emulated upstream answers with. */
  upstream?: Record<string, string>;
}

/** An emulator running the rate-limit filter with `config` (an object is written as JSON). */
export async function rateLimitEmulator(config: unknown, options: Partial<EmulatorOptions> = {}): Promise<WasmEmulator> {
  const wasm = await ensureRateLimit();
  return filterEmulator('rate-limit', wasm, config, { name: 'rate-limit', shared: options.shared ?? bigSharedState(), ...options });
}

/**
 * `count` workers' VMs of the rate-limit filter (`WasmEmulator.createWorkers`) with
 * `config`, over one shared-data store and clock, as Envoy runs the plugin on `count`
 * worker threads; `options` adds to or overrides the rest (`wasm`: the no-CAS control).
 */
export async function rateLimitWorkers(count: number, config: unknown, options: Partial<EmulatorOptions> = {}): Promise<WasmEmulator[]> {
  return WasmEmulator.createWorkers(count, {
    wasm: await ensureRateLimit(),
    name: 'rate-limit',
    rootId: 'rate-limit',
    vmId: 'rate-limit',
    pluginConfiguration: JSON.stringify(config),
    ...options,
  });
}

/** A shared state with room for the default 100000-key table (the emulator's default store is 4 MiB). */
export function bigSharedState(bytes = 32 << 20): SharedState {
  return SharedState.create({ data: { bytes, buckets: 65536 }, queues: { bytes: 1 << 16, maxQueues: 8 }, metrics: { maxMetrics: 1024, nameBytes: 65536 } });
}

/** Sends one request through the filter and completes the stream. */
export function send(emu: WasmEmulator, spec: RequestSpec = {}): Outcome {
  const id = emu.initializeHttpContext(spec.remote ? { downstreamRemoteAddress: spec.remote } : {});
  emu.callOnRequestHeaders(id, { ':method': spec.method ?? 'GET', ':path': spec.path ?? '/', ':authority': 'mesh', ...spec.headers }, true);
  const reply = emu.getSentLocalResponse(id);
  if (!reply) emu.callOnResponseHeaders(id, { ':status': '200', ...spec.upstream }, true);
  const headers: Record<string, string> = {};
  for (const [k, v] of emu.getCurrentResponseHeaders(id)) headers[k] = k in headers ? `${headers[k]},${v}` : v;
  const body = reply ? Buffer.from(reply.body ?? '').toString() : '';
  emu.completeHttpContext(id);
  return { status: reply ? reply.status : 200, headers, body, details: reply?.details };
}

/** Sends `n` identical requests; returns how many went on. */
export function allowedOf(emu: WasmEmulator, n: number, spec: RequestSpec = {}): number {
  let allowed = 0;
  for (let i = 0; i < n; i++) if (send(emu, spec).status === 200) allowed++;
  return allowed;
}

/** A counter's value by the name the filter defined (`ruleCounter`; 0 until incremented), -1 when the filter defined no such counter. */
export function counter(emu: WasmEmulator, name: string): number {
  return Number(emu.getCounterValue(name) ?? -1n);
}

/**
 * The name of rule `rule`'s counter of `outcome` (`<prefix>_requests_total{rule,outcome}`),
 * or of its overflow requests (`<prefix>_overflow_requests_total{rule}`).
 */
export function ruleCounter(rule: string, outcome: 'allowed' | 'denied' | 'shadow_denied' | 'fail_open' | 'overflow', prefix = 'rate_limit'): string {
  return outcome === 'overflow' ? statName(`${prefix}_overflow_requests_total`, { rule }) : statName(`${prefix}_requests_total`, { rule, outcome });
}

/** The seeds' tiers (anonymous 5/min and 50/h, authenticated 30/min and 500/h, premium 100/min and 2000/h). */
export const TIERS = {
  stat_prefix: 'rate_limit',
  rules: [
    {
      name: 'premium',
      match: { headers: [{ name: 'x-user-tier', exact: 'premium' }] },
      key: [{ claim: 'x-user-id' }],
      limits: [
        { max_tokens: 100, tokens_per_fill: 100, fill_interval: '60s' },
        { max_tokens: 2000, tokens_per_fill: 2000, fill_interval: '3600s' },
      ],
    },
    {
      name: 'authenticated',
      match: { headers: [{ name: 'x-user-id', present: true }] },
      key: [{ claim: 'x-user-id' }],
      limits: [
        { max_tokens: 30, tokens_per_fill: 30, fill_interval: '60s' },
        { max_tokens: 500, tokens_per_fill: 500, fill_interval: '3600s' },
      ],
    },
    {
      name: 'anonymous',
      match: { headers: [{ name: 'x-user-id', absent: true }] },
      key: [{ remote_address: {} }],
      limits: [
        { max_tokens: 5, tokens_per_fill: 5, fill_interval: '60s' },
        { max_tokens: 50, tokens_per_fill: 50, fill_interval: '3600s' },
      ],
    },
  ],
  response_headers: true,
  max_keys: 1024,
};
