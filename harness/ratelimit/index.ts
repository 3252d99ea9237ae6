/**
 * Envoy's reference rate limit service, envoyproxy/ratelimit (the server of
 * `envoy.service.ratelimit.v3.RateLimitService`), and the Redis it keeps its counters in, for
 * tests and benchmarks: found, installed when missing, started on loopback and stopped.
 *
 * ```ts
 * const tools = rateLimitToolsAvailable(); // test/setup/ratelimit.ts installed them before the suites
 * describe.skipIf(!tools.ok)(rateLimitSuiteTitle('global limits', tools), () => {
 *   let redis: RedisServer;
 *   let service: RateLimitService;
 *   beforeAll(async () => {
 *     redis = await startRedis();
 *     service = await startRateLimitService({ config: { domain: 'mesh', descriptors: [...] }, redis });
 *   });
 *   afterAll(async () => { await service?.stop(); await redis?.stop(); });
 *   ... a cluster on service.grpcAddress (HTTP/2) ...
 * });
 * ```
 *
 * Where they come from:
 * - `redis-server`: `REDIS_SERVER_BIN`, else on PATH, else (root, with apt-get) Debian's
 *   `redis-server` package of the 7.0 line (`REDIS_APT_VERSION`; its system service is never
 *   used: each test starts its own `redis-server --port <free> --bind 127.0.0.1 --save ''
 *   --appendonly no`, nothing written to disk);
 * - the service: `RATELIMIT_BIN`, else `.cache/ratelimit/<version>/service_cmd`, built there
 *   by `go install` of the pinned module version (`RATELIMIT_MODULE@RATELIMIT_VERSION`, about
 *   a minute; Go's modules kept in `.cache/ratelimit/go/mod`; git ignores `.cache/`) with
 *   `GO`, go on PATH, or /usr/local/go/bin/go.
 *
 * A fresh Debian 12 machine (2 cores): 88 s for both, of which the Go build most; then 1 s.
 *
 * The service's settings are its environment (src/settings/settings.go of the pinned
 * version): every listener on 127.0.0.1 (`HOST`, `DEBUG_HOST`, `GRPC_HOST`) on ports found
 * free (`PORT`, `DEBUG_PORT`, `GRPC_PORT`: it binds with SO_REUSEPORT, so a port in use
 * would be shared, not refused); `REDIS_SOCKET_TYPE=tcp`, `REDIS_URL`; the configuration
 * files in `RUNTIME_ROOT/RUNTIME_SUBDIRECTORY/RUNTIME_APPDIRECTORY/` (with
 * `RUNTIME_WATCH_ROOT=false` every file there is loaded and watched;
 * src/provider/file_provider.go); `USE_STATSD=false` (no statsd sink).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { stringify } from 'yaml';
import { aptInstall, canAptInstall, freePort, freePorts, isExecutable, onPath } from '../process.ts';

/** The Go package of the service's command and the pinned version (a pseudo-version of envoyproxy/ratelimit's main, 2026-01-22). */
export const RATELIMIT_MODULE = 'github.com/envoyproxy/ratelimit/src/service_cmd';
export const RATELIMIT_VERSION = 'v1.4.1-0.20260122083618-3fb702589d36';

const projectRoot = path.resolve(import.meta.dirname, '../..');
/** Where `go install` puts the service, one folder per version. */
export const RATELIMIT_CACHE = path.join(projectRoot, '.cache', 'ratelimit');
const BINARY = 'service_cmd';

export type RateLimitTools =
  | { ok: true; redisServer: string; ratelimit: string }
  | {
      ok: false;
      /** What is missing, in one sentence. */
      reason: string;
    };


function findRedis(env: NodeJS.ProcessEnv): string | { reason: string } {
  if (env.REDIS_SERVER_BIN) return isExecutable(env.REDIS_SERVER_BIN) ? path.resolve(env.REDIS_SERVER_BIN) : { reason: `REDIS_SERVER_BIN=${env.REDIS_SERVER_BIN} is not an executable file` };
  return onPath('redis-server', env) ?? { reason: 'redis-server is not on PATH (Debian: apt-get install redis-server)' };
}

function findRateLimit(env: NodeJS.ProcessEnv, cache: string): string | { reason: string } {
  if (env.RATELIMIT_BIN) return isExecutable(env.RATELIMIT_BIN) ? path.resolve(env.RATELIMIT_BIN) : { reason: `RATELIMIT_BIN=${env.RATELIMIT_BIN} is not an executable file` };
  const built = path.join(cache, RATELIMIT_VERSION, BINARY);
  return isExecutable(built)
    ? built
    : { reason: `envoyproxy/ratelimit is not built (no RATELIMIT_BIN, nothing in ${path.relative(process.cwd(), built) || built}; go install ${RATELIMIT_MODULE}@${RATELIMIT_VERSION} builds it)` };
}

/** Finds redis-server and the rate limit service. Never installs anything. */
export function rateLimitToolsAvailable(env: NodeJS.ProcessEnv = process.env, cache = RATELIMIT_CACHE): RateLimitTools {
  const redis = findRedis(env);
  if (typeof redis !== 'string') return { ok: false, reason: redis.reason };
  const ratelimit = findRateLimit(env, cache);
  if (typeof ratelimit !== 'string') return { ok: false, reason: ratelimit.reason };
  return { ok: true, redisServer: redis, ratelimit };
}

/**
 * `rateLimitToolsAvailable`, after installing what is missing: redis-server with apt-get
 * (only as root), the service with `go install` into `.cache/ratelimit/<version>/`. `log`
 * gets one line before each install.
 */
export function ensureRateLimitTools(opts: { env?: NodeJS.ProcessEnv; cache?: string; log?: (line: string) => void } = {}): RateLimitTools {
  const env = opts.env ?? process.env;
  const cache = opts.cache ?? RATELIMIT_CACHE;
  const log = opts.log ?? (() => {});
  const redis = findRedis(env);
  if (typeof redis !== 'string' && !env.REDIS_SERVER_BIN) {
    const problem = installRedis(env, log);
    if (problem) return { ok: false, reason: problem };
  }
  const ratelimit = findRateLimit(env, cache);
  if (typeof ratelimit !== 'string' && !env.RATELIMIT_BIN) {
    const problem = installRateLimit(env, cache, log);
    if (problem) return { ok: false, reason: problem };
  }
  return rateLimitToolsAvailable(env, cache);
}

/** A suite title that says why it is skipped, or what it runs on. */
export function rateLimitSuiteTitle(title: string, tools: RateLimitTools = rateLimitToolsAvailable()): string {
  return tools.ok ? `${title} (envoyproxy/ratelimit ${RATELIMIT_VERSION.slice(-12)}, Redis)` : `${title} (skipped: ${tools.reason})`;
}

/** Where Go's official tarball installs it (go.dev/doc/install; CI machines have it there, not on PATH). */
const GO_FALLBACK = '/usr/local/go/bin/go';

/** `GO`, else go on PATH, else GO_FALLBACK. */
function findGo(env: NodeJS.ProcessEnv): string | undefined {
  if (env.GO) return isExecutable(env.GO) ? env.GO : undefined;
  return onPath('go', env) ?? (isExecutable(GO_FALLBACK) ? GO_FALLBACK : undefined);
}

/**
 * The Debian package version installed: Redis 7.0, bookworm's line (security updates
 * within it are taken; another line fails the install rather than testing on it unseen).
 */
export const REDIS_APT_VERSION = '5:7.0.*';

/** Installs Debian's redis-server; '' or why it could not. */
function installRedis(env: NodeJS.ProcessEnv, log: (line: string) => void): string {
  if (!canAptInstall(env)) return 'redis-server is not on PATH, and this is not root with apt-get to install it (Debian: apt-get install redis-server)';
  const pkg = `redis-server=${REDIS_APT_VERSION}`;
  log(`redis-server is not on PATH: installing it with apt-get install -y --no-install-recommends '${pkg}'`);
  if (!aptInstall(pkg, { env, noRecommends: true })) return `redis-server is not on PATH and apt-get install -y '${pkg}' failed`;
  return typeof findRedis(env) === 'string' ? '' : 'apt-get installed redis-server, but it is not on PATH';
}

/** Builds the service with `go install` into `cache/<version>/`; '' or why it could not. */
function installRateLimit(env: NodeJS.ProcessEnv, cache: string, log: (line: string) => void): string {
  const go = findGo(env);
  if (!go) return `envoyproxy/ratelimit is not built, and there is no Go to build it with (GO, go on PATH, ${GO_FALLBACK}; or set RATELIMIT_BIN)`;
  const dir = path.join(cache, RATELIMIT_VERSION);
  mkdirSync(cache, { recursive: true });
  // Built beside, then renamed into place: parallel installers never see half a binary.
  const staging = mkdtempSync(path.join(cache, `.installing-${process.pid}-`));
  log(`building envoyproxy/ratelimit (go install ${RATELIMIT_MODULE}@${RATELIMIT_VERSION}, about a minute) into ${path.relative(process.cwd(), dir) || dir}`);
  try {
    const run = spawnSync(go, ['install', `${RATELIMIT_MODULE}@${RATELIMIT_VERSION}`], {
      cwd: staging, // outside any go.mod
      encoding: 'utf8',
      // Modules and build cache under cache/go too: one directory for CI to keep between runs.
      env: {
        ...process.env,
        ...env,
        GOBIN: staging,
        GOMODCACHE: path.join(cache, 'go', 'mod'),
        GOCACHE: path.join(cache, 'go', 'build'),
        GOFLAGS: '-buildvcs=false -modcacherw',
        CGO_ENABLED: '0',
      },
      timeout: 900_000,
    });
    if (run.status !== 0) {
      const last = `${run.stderr ?? ''}${run.error?.message ?? ''}`.split('\n').map((l) => l.trim()).filter(Boolean).pop();
      return `go install ${RATELIMIT_MODULE}@${RATELIMIT_VERSION} failed${last ? `: ${last}` : ''}`;
    }
    if (!existsSync(dir)) {
      try {
        renameSync(staging, dir);
      } catch {
        // another installer won the rename: its binary is the same
      }
    }
    // The binary is what is kept; Go's build cache (~280 MB) is not needed again. The
    // modules (~190 MB) stay, for a rebuild without the network.
    rmSync(path.join(cache, 'go', 'build'), { recursive: true, force: true });
    return isExecutable(path.join(dir, BINARY)) ? '' : `go install ran, but ${path.join(dir, BINARY)} is not there`;
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
}

/** Whether something accepts TCP connections on 127.0.0.1:`port`. */
function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** A child process with its last output lines, for error messages. */
interface Child {
  process: ChildProcess;
  exited: Promise<number | string>;
  tail: string[];
}

/** Children still running: killed when this process exits, so that a failed run leaves no Redis or service behind. */
const running = new Set<ChildProcess>();
let exitHook = false;

/** Spawns `command args`, after `prefix` when given (`['taskset', '-c', '1']`). */
function spawnChild(command: string, args: string[], env: NodeJS.ProcessEnv, onOutput?: (line: string) => void, prefix: string[] = []): Child {
  const [cmd, ...rest] = [...prefix, command, ...args];
  const child = spawn(cmd, rest, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  running.add(child);
  if (!exitHook) {
    exitHook = true;
    process.once('exit', () => {
      for (const c of running) c.kill('SIGKILL');
    });
  }
  const tail: string[] = [];
  const take = (chunk: Buffer) => {
    for (const line of chunk.toString('utf8').split('\n')) {
      if (!line.trim()) continue;
      tail.push(line);
      if (tail.length > 20) tail.shift();
      onOutput?.(line);
    }
  };
  child.stdout!.on('data', take);
  child.stderr!.on('data', take);
  const exited = new Promise<number | string>((resolve) => {
    child.once('exit', (code, signal) => {
      running.delete(child);
      resolve(code ?? signal ?? 'unknown');
    });
    child.once('error', (e) => {
      tail.push(e.message);
      resolve('spawn error');
    });
  });
  return { process: child, exited, tail };
}

/** SIGTERM, then SIGKILL after 5 s; resolves once the process is gone. */
async function stopChild(child: Child): Promise<void> {
  if (child.process.exitCode !== null || child.process.signalCode !== null) return;
  child.process.kill('SIGTERM');
  const timer = setTimeout(() => child.process.kill('SIGKILL'), 5000);
  await child.exited;
  clearTimeout(timer);
}

/** Polls `ready` every 50 ms until it holds, the child exits, or `timeoutMs` passes (then throws with the child's last lines). */
async function waitFor(what: string, child: Child, ready: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let gone: number | string | undefined;
  void child.exited.then((code) => (gone = code));
  for (;;) {
    if (gone !== undefined) throw new Error(`${what} exited (${gone}) before it was ready: ${child.tail.slice(-3).join(' | ')}`);
    if (await ready()) return;
    if (Date.now() > deadline) {
      await stopChild(child);
      throw new Error(`${what} was not ready after ${timeoutMs} ms: ${child.tail.slice(-3).join(' | ')}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

export interface RedisServer {
  /** `127.0.0.1:<port>`. */
  readonly address: string;
  readonly port: number;
  /** Stops it (SIGTERM: no data is saved, none was asked for). */
  stop(): Promise<void>;
  /** Starts it again on the same port, empty (after `stop`). */
  start(): Promise<void>;
}

/** The process id, while it runs (CPU accounting). */
export interface HasPid {
  readonly pid: number | undefined;
}

/**
 * Starts `redis-server` on 127.0.0.1 on a free port (or `port`), without persistence;
 * `prefix` goes before the command (`['taskset', '-c', '1']`).
 */
export async function startRedis(opts: { port?: number; tools?: RateLimitTools; prefix?: string[] } = {}): Promise<RedisServer & HasPid> {
  const tools = opts.tools ?? rateLimitToolsAvailable();
  if (!tools.ok) throw new Error(tools.reason);
  const port = opts.port ?? (await freePort());
  let child: Child | undefined;
  const start = async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'mesh-filters-redis-'));
    child = spawnChild(tools.redisServer, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, '--daemonize', 'no'], process.env, undefined, opts.prefix);
    void child.exited.then(() => rmSync(dir, { recursive: true, force: true }));
    await waitFor(`redis-server on 127.0.0.1:${port}`, child, () => accepts(port), 15_000);
  };
  await start();
  return {
    address: `127.0.0.1:${port}`,
    port,
    get pid() {
      return child?.process.exitCode === null && child.process.signalCode === null ? child.process.pid : undefined;
    },
    stop: async () => {
      if (child) await stopChild(child);
    },
    start,
  };
}

/** A domain of the service's configuration (README "The configuration format" of envoyproxy/ratelimit). */
export interface RateLimitDomain {
  domain: string;
  descriptors: RateLimitDescriptorConfig[];
}

export interface RateLimitDescriptorConfig {
  key: string;
  value?: string;
  rate_limit?: { unit: 'second' | 'minute' | 'hour' | 'day' | 'week' | 'month' | 'year'; requests_per_unit: number; name?: string; unlimited?: boolean };
  shadow_mode?: boolean;
  descriptors?: RateLimitDescriptorConfig[];
}

let services = 0;

export interface RateLimitService {
  /** `127.0.0.1:<port>` of the gRPC listener (`RateLimitService/ShouldRateLimit`, HTTP/2). */
  readonly grpcAddress: string;
  /** `127.0.0.1:<port>` of the HTTP listener (`/healthcheck`, `/json`). */
  readonly httpAddress: string;
  /** `127.0.0.1:<port>` of the debug listener (`/rlconfig`, `/stats`). */
  readonly debugAddress: string;
  /** Stops it; `start()` runs it again on the same ports. */
  stop(): Promise<void>;
  start(): Promise<void>;
}

/**
 * Starts the rate limit service with `config` (one domain, or YAML text) written to a
 * temporary runtime directory, or with every file of the directory `config.directory`
 * (as users run it: envoy/ratelimit), its counters in `redis`; resolves once `/rlconfig`
 * lists the configuration. `env` adds settings (e.g. `LOG_LEVEL`).
 */
export async function startRateLimitService(opts: {
  config: RateLimitDomain | string | { directory: string };
  redis: RedisServer;
  env?: Record<string, string>;
  tools?: RateLimitTools;
  onOutput?: (line: string) => void;
  /** Before the command (`['taskset', '-c', '1']`). */
  prefix?: string[];
}): Promise<RateLimitService & HasPid> {
  const tools = opts.tools ?? rateLimitToolsAvailable();
  if (!tools.ok) throw new Error(tools.reason);
  const runtime = path.join(os.tmpdir(), `mesh-filters-ratelimit-${process.pid}-${++services}`);
  const [grpcPort, httpPort, debugPort] = await freePorts(3);
  // Without RUNTIME_WATCH_ROOT the service loads every file of RUNTIME_ROOT/RUNTIME_SUBDIRECTORY/RUNTIME_APPDIRECTORY.
  const given = typeof opts.config === 'object' && 'directory' in opts.config ? path.resolve(opts.config.directory) : undefined;
  const files = given
    ? { RUNTIME_ROOT: path.dirname(path.dirname(given)), RUNTIME_SUBDIRECTORY: path.basename(path.dirname(given)), RUNTIME_APPDIRECTORY: path.basename(given) }
    : { RUNTIME_ROOT: runtime, RUNTIME_SUBDIRECTORY: 'ratelimit', RUNTIME_APPDIRECTORY: 'config' };
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOST: '127.0.0.1',
    PORT: String(httpPort),
    DEBUG_HOST: '127.0.0.1',
    DEBUG_PORT: String(debugPort),
    GRPC_HOST: '127.0.0.1',
    GRPC_PORT: String(grpcPort),
    REDIS_SOCKET_TYPE: 'tcp',
    REDIS_URL: opts.redis.address,
    ...files,
    RUNTIME_WATCH_ROOT: 'false',
    USE_STATSD: 'false',
    LOG_LEVEL: 'warn',
    ...opts.env,
  };
  let child: Child | undefined;
  const start = async () => {
    if (!given) {
      const configDir = path.join(runtime, 'ratelimit', 'config');
      mkdirSync(configDir, { recursive: true });
      writeFileSync(path.join(configDir, 'config.yaml'), typeof opts.config === 'string' ? opts.config : stringify(opts.config));
    }
    child = spawnChild(tools.ratelimit, [], env, opts.onOutput, opts.prefix);
    await waitFor(`envoyproxy/ratelimit (gRPC 127.0.0.1:${grpcPort})`, child, async () => {
      if (!(await accepts(grpcPort))) return false;
      try {
        const res = await fetch(`http://127.0.0.1:${debugPort}/rlconfig`);
        return res.ok && (await res.text()).trim().length > 0;
      } catch {
        return false;
      }
    }, 30_000);
  };
  await start();
  return {
    grpcAddress: `127.0.0.1:${grpcPort}`,
    httpAddress: `127.0.0.1:${httpPort}`,
    debugAddress: `127.0.0.1:${debugPort}`,
    get pid() {
      return child?.process.exitCode === null && child.process.signalCode === null ? child.process.pid : undefined;
    },
    stop: async () => {
      if (child) await stopChild(child);
      rmSync(runtime, { recursive: true, force: true });
    },
    start,
  };
}

/** Stops what was started, services first; never throws. */
export async function stopAll(...things: Array<{ stop(): Promise<void> } | undefined>): Promise<void> {
  for (const t of things) await t?.stop().catch(() => {});
}
