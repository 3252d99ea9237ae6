/**
 * Finding and installing the programs the harness runs (Envoy's wheel aside): one lookup
 * on PATH, and one way to install a Debian package when this process may (root, with
 * apt-get), for wrk (soak, bench) and redis-server (the rate limit service's store); and
 * free loopback ports for the servers tests start.
 */
import { spawnSync } from 'node:child_process';
import { accessSync, constants, statSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';

/** '' when `file` is an executable file, else what is wrong with it. */
export function notExecutable(file: string): string {
  let isFile = false;
  try {
    isFile = statSync(file).isFile();
  } catch {
    return 'does not exist';
  }
  if (!isFile) return 'is not a file';
  try {
    accessSync(file, constants.X_OK);
  } catch {
    return 'is not executable';
  }
  return '';
}

/** Whether `file` is an executable file. */
export function isExecutable(file: string): boolean {
  return !notExecutable(file);
}

/** The first executable `name` on `env.PATH` (on Windows also `name.exe`, `name.cmd`). */
export function onPath(name: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const exts = process.platform === 'win32' ? ['.exe', '.cmd', ''] : [''];
  for (const dir of (env.PATH ?? '').split(path.delimiter)) {
    if (!dir) continue;
    for (const ext of exts) {
      const candidate = path.join(dir, name + ext);
      if (!notExecutable(candidate)) return candidate;
    }
  }
  return undefined;
}

/** Whether this process may install Debian packages: root, with apt-get on PATH. */
export function canAptInstall(env: NodeJS.ProcessEnv = process.env): boolean {
  return process.getuid?.() === 0 && onPath('apt-get', env) !== undefined;
}

/**
 * `apt-get install -y` of `spec` (`wrk`, `redis-server=5:7.0.*`), non-interactive, quiet;
 * a fresh machine has no package lists, so a failed install is tried once more after
 * `apt-get update`. Returns whether it installed. Each apt-get run is bounded by 10 min.
 */
export function aptInstall(spec: string, opts: { env?: NodeJS.ProcessEnv; noRecommends?: boolean } = {}): boolean {
  const env = { ...process.env, ...opts.env, DEBIAN_FRONTEND: 'noninteractive' };
  const run = (args: string[]) => spawnSync('apt-get', args, { stdio: 'ignore', env, timeout: 600_000 }).status === 0;
  const install = () => run(['install', '-y', '-q', ...(opts.noRecommends ? ['--no-install-recommends'] : []), spec]);
  if (install()) return true;
  run(['update', '-q']);
  return install();
}

/** A TCP port free on 127.0.0.1 now (the kernel's pick, released at once). */
export async function freePort(): Promise<number> {
  return (await freePorts(1))[0];
}

/**
 * `n` distinct TCP ports free on 127.0.0.1 now: all are held until the last is picked, so
 * the kernel cannot hand one out twice (as `freePort()` called in a row could).
 */
export async function freePorts(n: number): Promise<number[]> {
  const servers: net.Server[] = [];
  try {
    for (let i = 0; i < n; i++) {
      const server = net.createServer();
      servers.push(server);
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(0, '127.0.0.1', () => resolve());
      });
    }
    return servers.map((s) => (s.address() as net.AddressInfo).port);
  } finally {
    await Promise.all(servers.map((s) => new Promise<void>((resolve) => (s.listening ? s.close(() => resolve()) : resolve()))));
  }
}
