/**
 * What every filter fuzz target shares: a session (one plugin configuration and the
 * steps driven through it), its execution on the proxy-wasm host (harness/host), and the
 * checks that hold for any filter:
 *
 * - a trap (the host marks the VM failed) is a failure, during configure or a stream;
 * - a configuration meant to be refused is refused with exactly one error line,
 *   `<filter>: <json.path>: <reason>` naming the path that was broken; a valid one is
 *   accepted; a garbled one (bytes mutated) either way, never with a trap;
 * - every local reply is well-formed (status, details without spaces, header names and
 *   values Envoy would send);
 * - VM memory does not double twice in the last part of a long session (runner.ts: it
 *   runs the same steps five times; the first three are the warm-up, where caches fill
 *   and buffers reach the largest input). Linear memory is what can be read from outside
 *   the module; the AssemblyScript allocator grows it by doubling, and the SDK paces
 *   collections by allocation, so that the same traffic can still take it one step
 *   higher late (one long session in about fifteen does: 8 → 16 MiB in its fourth pass,
 *   then flat for ten more). So a leak shows once it has eaten more than the heap's size,
 *   some hundreds of bytes a stream over the 18 000 streams measured; a sharper check
 *   needs the heap's live size after a collection, which the modules do not expose.
 *
 * A target adds its oracle (a model of the filter's rules) in `execute`, and throws
 * `FuzzFailure` at the first disagreement.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { FailState, LogLevel } from '../host/abi.ts';
import { WasmEmulator } from '../host/emulator.ts';
import type { LocalReply } from '../host/filter.ts';
import { WasmPlugin, WasmPluginError } from '../host/plugin.ts';
import { SharedState } from '../host/shared/shared-state.ts';
import { asMember } from '../host/testing.ts';
import type { Rng } from './json-gen.ts';

/** The repository root (harness/build.ts has it too, but loads the compiler with it). */
export const PROJECT_ROOT = path.resolve(import.meta.dirname, '../..');

/** Fake clock start of every session (2026-01-01T00:00:00Z, the emulator's default). */
export const START_MS = Date.UTC(2026, 0, 1);

/** A disagreement or broken invariant at step `step` of a session. */
export class FuzzFailure extends Error {
  readonly problem: string;

  constructor(
    problem: string,
    readonly step: number,
  ) {
    // Long values (a token repeated 40 times) are cut: the reproducer has them whole.
    const short = problem.length > 1500 ? `${problem.slice(0, 1500)}…` : problem;
    super(short);
    this.problem = short;
    this.name = 'FuzzFailure';
  }
}

/** One session: a configuration and what is driven through it. JSON-serializable (it is the reproducer). */
export interface FuzzCase<Step = unknown> {
  /** The plugin configuration (UTF-8 text); `configBase64` instead when it is not text. */
  config: string;
  configBase64?: string;
  /** accept: a valid configuration (the model applies); reject: broken on purpose at `rejectPath`; any: garbled bytes. */
  expect: 'accept' | 'reject' | 'any';
  rejectPath?: string;
  /** Worker VMs over one shared-data store (WasmEmulator.createWorkers), 1 for one VM. */
  workers: number;
  steps: Step[];
  /** A long session: VM memory is measured from this step to the end (leak check). */
  measureFrom?: number;
}

/** A fuzz target of one filter module. */
export interface FilterTarget<Step = unknown> {
  name: string;
  /** Root id (= vm_id) and the prefix of its error lines. */
  rootId: string;
  wasm: string;
  /** asconfig.json targets to build first. */
  buildTargets: string[];
  /** Work before the first session of a run (e.g. keys from the seed). */
  prepare?(seed: number): Promise<void>;
  /** A session from `rng`; `streams` is about how many streams it should drive. */
  generate(rng: Rng, streams: number): FuzzCase<Step>;
  /** Drives an accepted case's steps through `run.emus`, checking each against the target's oracle. */
  execute(c: FuzzCase<Step>, run: SessionRun): Promise<void>;
  /** Emulator options beside the common ones (clusters, a bigger shared-data store...). */
  emulatorOptions?(c: FuzzCase<Step>): { clusters?: string[]; shared?: SharedState };
}

/** What a session counted. */
export interface SessionResult {
  streams: number;
  /** Configurations tried (1), HTTP call answers and the like: inputs that are not streams. */
  other: number;
  /** Outcome counts by name (the target's words), for the report. */
  outcomes: Record<string, number>;
  /** VM memory after the warm-up and at the end (long sessions only). */
  memory?: { warm: number; end: number };
}

/** The state of an accepted session, handed to `FilterTarget.execute`. */
export class SessionRun {
  readonly result: SessionResult = { streams: 0, other: 1, outcomes: {} };
  step = 0;
  private warm = -1;
  private readonly warmAt: number;

  constructor(
    readonly emus: WasmEmulator[],
    readonly c: FuzzCase,
  ) {
    this.warmAt = c.measureFrom ?? -1;
  }

  /** Fails the session at the current step (a trap, when a VM trapped: what it did next is the host's 503). */
  fail(problem: string): never {
    const trapped = this.emus.find((e) => e.vmFailed);
    throw new FuzzFailure(trapped ? `trap: ${trapped.plugin.wasm.failMessage}` : problem, this.step);
  }

  count(outcome: string): void {
    this.result.outcomes[outcome] = (this.result.outcomes[outcome] ?? 0) + 1;
  }

  /** After every step (`stream`: one stream; `input`: another input, e.g. a call answered; `none`: the clock moved, or the rest of a stream): traps, and the memory checkpoint. */
  afterStep(kind: 'stream' | 'input' | 'none'): void {
    if (kind === 'stream') this.result.streams++;
    else if (kind === 'input') this.result.other++;
    if (this.emus.some((e) => e.vmFailed)) this.fail('trap');
    if (this.step === this.warmAt) this.warm = this.memory();
    this.step++;
  }

  /** After the last step: the leak check (at most one doubling after the warm-up). */
  finish(): void {
    if (this.warm < 0) return;
    const end = this.memory();
    this.result.memory = { warm: this.warm, end };
    if (end > 2 * this.warm) {
      this.step = this.c.steps.length;
      this.fail(`leak: VM memory grew from ${this.warm} to ${end} bytes over the last ${this.c.steps.length - this.warmAt} steps (bound: ${2 * this.warm}, one doubling)`);
    }
  }

  private memory(): number {
    return Math.max(...this.emus.map((e) => e.plugin.wasm.mem.size));
  }
}

/** The configuration bytes of a case. */
export function configBytes(c: FuzzCase): Uint8Array {
  return c.configBase64 !== undefined ? Buffer.from(c.configBase64, 'base64') : Buffer.from(c.config);
}

// The vitest project `as-member` (MESH_FILTERS_AS_MEMBER=1): a filter's cases run with the
// filter as the one member of the mesh module (filters/mesh), its configuration text embedded
// as it is in the mesh's. Only a target running the filter's own module is moved.
let meshModule: Uint8Array | undefined;

/** What runs a case: the module, its plugin configuration, and whether it is the mesh module (testing.ts `asMember`). */
function casePlugin(target: FilterTarget, c: FuzzCase, wasmBytes: Uint8Array): { wasm: Uint8Array; config: Uint8Array; mesh: boolean; wrapped: boolean } {
  const config = configBytes(c);
  const member = asMember(target.rootId, target.wasm, Buffer.from(config).toString('utf8'));
  if (!member.mesh) return { wasm: wasmBytes, config, mesh: false, wrapped: false };
  meshModule ??= readFileSync(member.wasm);
  // Not a JSON object: the case's own bytes, which the mesh refuses.
  return { wasm: meshModule, config: member.wrapped ? Buffer.from(member.config as string) : config, mesh: true, wrapped: member.wrapped };
}

/**
 * Runs one case: the configuration, then (when accepted) the target's steps and oracle.
 * Throws `FuzzFailure`.
 */
export async function executeCase<S>(target: FilterTarget<S>, c: FuzzCase<S>, wasmBytes: Uint8Array): Promise<SessionResult> {
  if (c.expect !== 'accept') return checkConfigure(target, c, wasmBytes);
  const extra = target.emulatorOptions?.(c) ?? {};
  const plugin = casePlugin(target, c, wasmBytes);
  const options = {
    wasm: plugin.wasm,
    name: target.rootId,
    rootId: target.rootId,
    vmId: target.rootId,
    pluginConfiguration: plugin.config,
    startTimeMs: START_MS,
    logLevel: LogLevel.Info,
    ...extra,
  };
  let emus: WasmEmulator[];
  try {
    emus = c.workers > 1 ? await WasmEmulator.createWorkers(c.workers, options) : [await WasmEmulator.create(options)];
  } catch (e) {
    if (!(e instanceof WasmPluginError)) throw e;
    const trapped = e.failState === FailState.RuntimeError;
    throw new FuzzFailure(`${trapped ? 'trap during configure' : 'valid configuration refused'}: ${e.message}`, 0);
  }
  const run = new SessionRun(emus, c);
  try {
    await target.execute(c, run);
    run.finish();
  } finally {
    for (const emu of emus) emu.close();
  }
  return run.result;
}

/** A configuration broken on purpose (or garbled): refused with one line naming the path, never a trap. */
async function checkConfigure(target: FilterTarget, c: FuzzCase, wasmBytes: Uint8Array): Promise<SessionResult> {
  const errors: string[] = [];
  let accepted = false;
  let trap = '';
  const form = casePlugin(target, c, wasmBytes);
  try {
    const plugin = await WasmPlugin.create(
      { name: target.rootId, rootId: target.rootId, vmId: target.rootId, code: form.wasm, configuration: form.config },
      {
        shared: SharedState.create({ data: { bytes: 8 << 20, buckets: 4096 }, queues: { bytes: 1 << 14, maxQueues: 8 }, metrics: { maxMetrics: 4096, nameBytes: 1 << 18 } }),
        logLevel: () => LogLevel.Info,
        log: (level, message, source) => {
          if (level >= LogLevel.Error && !source.host) errors.push(message);
        },
      },
    );
    accepted = true;
    if (plugin.wasm.failed) trap = plugin.wasm.failMessage;
    plugin.close();
  } catch (e) {
    if (!(e instanceof WasmPluginError)) throw e;
    if (e.failState === FailState.RuntimeError || e.failState === FailState.UnableToInitializeCode) trap = e.message;
  }
  const outcome = accepted ? 'config accepted' : 'config refused';
  const result: SessionResult = { streams: 0, other: 1, outcomes: { [outcome]: 1 } };
  if (trap) throw new FuzzFailure(`trap during configure: ${trap}`, 0);
  if (accepted) {
    if (c.expect === 'reject') throw new FuzzFailure(`configuration broken at ${c.rejectPath || '(top)'} was accepted`, 0);
    return result;
  }
  if (errors.length !== 1) throw new FuzzFailure(`refused with ${errors.length} error lines, expected 1: ${JSON.stringify(errors)}`, 0);
  const line = errors[0];
  // As a member, a configuration the mesh cannot read as a chain (not a JSON object, or
  // JSON this project's parser refuses where JSON.parse does not: a duplicate name, a lone
  // surrogate, a number out of range) is refused by the mesh's own line, without the
  // member's path; any other configuration is the member's to refuse, with its own line.
  if (form.mesh && line.startsWith('mesh: ') && !line.includes('\n')) {
    if (!form.wrapped || / at byte \d+$/.test(line)) return result;
    throw new FuzzFailure(`a member's configuration refused by the mesh, not the member: ${JSON.stringify(line)}`, 0);
  }
  const prefix = `${target.rootId}: `;
  if (!line.startsWith(prefix) || line.includes('\n')) throw new FuzzFailure(`error line not "${prefix}<path>: <reason>": ${JSON.stringify(line)}`, 0);
  if (c.expect === 'reject' && c.rejectPath) {
    const after = line.charAt(prefix.length + c.rejectPath.length);
    if (!line.startsWith(prefix + c.rejectPath) || !':.['.includes(after)) {
      throw new FuzzFailure(`error line does not name ${c.rejectPath}: ${JSON.stringify(line)}`, 0);
    }
  }
  return result;
}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9a-z]+$/;

/**
 * Why `reply` is not a local reply Envoy would send, or null: a 2xx-5xx status, details
 * without whitespace (Envoy asserts it), lower-case token header names (no pseudo-headers),
 * values without CR, LF or NUL.
 */
export function localReplyProblem(reply: LocalReply): string | null {
  if (!Number.isInteger(reply.status) || reply.status < 200 || reply.status > 599) return `local reply status ${reply.status}`;
  if (!reply.details || /\s/.test(reply.details)) return `local reply details ${JSON.stringify(reply.details)}`;
  for (const [k, v] of reply.headers ?? []) {
    if (!TOKEN.test(k)) return `local reply header name ${JSON.stringify(k)}`;
    if (/[\r\n\0]/.test(v)) return `local reply header ${k} value ${JSON.stringify(v)}`;
  }
  return null;
}

/** The first value of header `name` in `pairs`. */
export function headerOf(pairs: readonly (readonly [string, string])[] | undefined, name: string): string | undefined {
  if (!pairs) return undefined;
  for (const [k, v] of pairs) if (k === name) return v;
  return undefined;
}

/** Every value of header `name` in `pairs`. */
export function headersOf(pairs: readonly (readonly [string, string])[] | undefined, name: string): string[] {
  const out: string[] = [];
  if (pairs) for (const [k, v] of pairs) if (k === name) out.push(v);
  return out;
}

/**
 * The value of the first metric of `names` the plugin defined, or undefined. The filters'
 * metric names are changing from dotted names (`jwt_auth.allowed`) to labelled families
 * (`jwt_auth_allowed_total`, labels in the name as `tagged` writes them): the targets
 * list both spellings, so that they check whichever the module has.
 */
export function metricValue(emu: WasmEmulator, names: readonly string[]): number | undefined {
  const store = emu.shared.metrics;
  let indexes = metricIndexes.get(emu);
  if (!indexes) metricIndexes.set(emu, (indexes = new Map()));
  for (const name of names) {
    // As `WasmEmulator.getMetric` looks them up (the plugin's own under `wasmcustom.`), by index once found.
    let i = indexes.get(name);
    if (i === undefined) {
      i = store.find(`wasmcustom.${name}`);
      if (i < 0) i = store.find(name);
      if (i >= 0) indexes.set(name, i);
    }
    if (i >= 0) return Number(store.get(i));
  }
  return undefined;
}

const metricIndexes = new WeakMap<WasmEmulator, Map<string, number>>();

/** A labelled metric name as the SDK's `metricName` writes it: `<label>=.=<value>;.;` before the family. */
export function tagged(family: string, labels: readonly string[]): string {
  let out = '';
  for (let i = 0; i + 1 < labels.length; i += 2) out += `${labels[i]}=.=${labels[i + 1]};.;`;
  return out + family;
}

/** Fails `run` unless the metric spelled one of `names` holds `want`. */
export function expectMetric(run: SessionRun, emu: WasmEmulator, names: readonly string[], want: number): void {
  const got = metricValue(emu, names);
  if (got === undefined) run.fail(`no metric ${names.join(' or ')}`);
  if (got !== want) run.fail(`metric ${names[0]} is ${got}, the model counted ${want}`);
}

/** JSON path of member `name` of `parent`, spelled as the config reader spells it (assembly/config/reader.ts). */
export function memberPath(parent: string, name: string): string {
  if (!/^[A-Za-z_-][A-Za-z0-9_-]*$/.test(name)) return `${parent}[${JSON.stringify(name)}]`;
  return parent ? `${parent}.${name}` : name;
}
