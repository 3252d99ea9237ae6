/**
 * `mesh-filters demo` (`npm start`): builds the filters the bootstrap loads (when their
 * sources changed since the last build), starts one demo service per cluster of the
 * bootstrap (services.ts) on the port the cluster names, runs the bootstrap
 * (envoy/mesh.yaml) on Envoy (../envoy/runner.ts) and prints where everything is, with
 * example requests (banner.ts). `stop()` shuts it all down.
 */
import path from 'node:path';
import { ensureEnvoy, envoyVersion } from '../envoy/binary.ts';
import { readConfigFile } from '../envoy/config-file.ts';
import { combineBootstrap } from '../envoy/combine.ts';
import { startEnvoy, startFailure, withPortOffset, type EnvoyProcess, type StartEnvoyOptions } from '../envoy/runner.ts';
import type { BuildTarget } from '../build.ts';
import { demoBanner } from './banner.ts';
import { DEMO_CLUSTERS, startDemoService, type DemoService } from './services.ts';

export interface DemoOptions {
  /** Bootstrap to serve, relative to `cwd`; default `envoy/mesh.yaml`. */
  bootstrap?: string;
  /** Envoy's worker threads (`--concurrency`), default 2. */
  concurrency?: number;
  /** Build the filters the bootstrap loads whose sources are newer than their module (default true). */
  build?: boolean;
  /** 0: every service, listener and admin on ephemeral ports (tests); default: the bootstrap's ports. */
  portOverride?: 0;
  /** Moves every port by this much: the listeners, the admin, and the demo services with their clusters' endpoints. */
  portOffset?: number;
  /** Envoy's `--log-level`, default `warn`. */
  logLevel?: string;
  /** Envoy's output (runner.ts): default `pipe`; `inherit` for the CLI. */
  stdio?: StartEnvoyOptions['stdio'];
  /** Envoy in a process group of its own (runner.ts), for the CLI. */
  detached?: boolean;
  /** Where the lines for the user go; default nowhere. */
  log?: (line: string) => void;
  /** Where Envoy runs: the bootstrap's `code.local.filename` paths are relative to it. Default `process.cwd()`. */
  cwd?: string;
  /** Serve the bootstrap with its chain of our filters as one plugin of the mesh module (harness/envoy/combine.ts). */
  oneModule?: boolean;
}

export interface RunningDemo {
  /** `host:port` of the first listener. */
  readonly listenerAddress: string;
  /** `host:port` of the admin listener. */
  readonly adminAddress: string;
  readonly services: readonly DemoService[];
  /** Envoy's process id. */
  readonly pid: number;
  /** Resolves with Envoy's exit code (or signal name) when it exits, by `stop()` or on its own. */
  readonly exited: Promise<number | string>;
  /** Stops Envoy, then the demo services; calling it again waits for the same stop. */
  stop(): Promise<void>;
}

type Msg = Record<string, any>;

/** Starts the demo; throws an Error with one line (port in use, bad bootstrap...) after undoing what it started. */
export async function startDemo(opts: DemoOptions = {}): Promise<RunningDemo> {
  const log = opts.log ?? (() => {});
  const cwd = opts.cwd ?? process.cwd();
  const file = path.resolve(cwd, opts.bootstrap ?? 'envoy/mesh.yaml');
  const shown = path.relative(cwd, file).startsWith('..') ? file : path.relative(cwd, file);
  let bootstrap = readConfigFile(file) as Msg;
  if (opts.oneModule) bootstrap = combineBootstrap(bootstrap).bootstrap;

  if (opts.build !== false) await buildStale(bootstrap, cwd, log);
  const envoy = await ensureEnvoy({ log });
  if (!envoy.ok) throw new Error(envoy.reason);
  if (opts.portOffset) bootstrap = withPortOffset(bootstrap, opts.portOffset, DEMO_CLUSTERS);

  const { services, stop: stopServices } = await startDemoServices(bootstrap, { portOverride: opts.portOverride, log });
  let proxy: EnvoyProcess;
  try {
    proxy = await startEnvoy({
      bootstrap,
      cwd,
      concurrency: opts.concurrency ?? 2,
      logLevel: opts.logLevel ?? 'warn',
      portOverride: opts.portOverride,
      stdio: opts.stdio ?? 'pipe',
      detached: opts.detached,
      availability: envoy,
    });
  } catch (e) {
    await stopServices();
    throw startFailure(e, shown);
  }

  const first = String(bootstrap.static_resources?.listeners?.[0]?.name ?? '');
  const listenerAddress = proxy.listeners[first] ?? Object.values(proxy.listeners)[0] ?? '';
  const banner = demoBanner({
    file: shown,
    envoy: `Envoy ${envoy.version ?? envoyVersion(envoy) ?? ''}`.trim(),
    pid: proxy.pid,
    listener: listenerAddress,
    admin: proxy.adminAddress,
    services,
    summary: summary(bootstrap),
    workers: opts.concurrency ?? 2,
    chain: httpFilterNames(bootstrap),
  });
  for (const line of banner) log(line);
  let stopped: Promise<void> | undefined;
  return {
    listenerAddress,
    adminAddress: proxy.adminAddress,
    services,
    pid: proxy.pid,
    exited: proxy.exited,
    stop: () =>
      (stopped ??= (async () => {
        await proxy.stop();
        await stopServices();
      })()),
  };
}

/**
 * Starts the demo service of each cluster of `bootstrap` (a parsed bootstrap) on the port
 * its first endpoint names. With `portOverride: 0` the services take ephemeral ports and
 * `bootstrap` is changed in place to point the clusters at them. Throws (after closing what
 * it started) with one line when a port is in use.
 */
export async function startDemoServices(
  bootstrap: Msg,
  opts: { portOverride?: 0; log?: (line: string) => void } = {},
): Promise<{ services: DemoService[]; stop: () => Promise<void> }> {
  const services: DemoService[] = [];
  const stop = async () => {
    await Promise.all(services.map((s) => s.close().catch(() => {})));
  };
  try {
    for (const cluster of (bootstrap.static_resources?.clusters ?? []) as Msg[]) {
      const endpoint = cluster.load_assignment?.endpoints?.[0]?.lb_endpoints?.[0]?.endpoint?.address?.socket_address as Msg | undefined;
      if (!endpoint) continue;
      if (!DEMO_CLUSTERS.includes(cluster.name)) {
        opts.log?.(`note: no demo service for cluster '${cluster.name}'`);
        continue;
      }
      let service: DemoService | undefined;
      try {
        service = await startDemoService(cluster.name, opts.portOverride === 0 ? 0 : Number(endpoint.port_value), String(endpoint.address));
      } catch (e) {
        throw portError(e, `the ${cluster.name} demo service`, endpoint);
      }
      if (!service) continue;
      services.push(service);
      if (opts.portOverride === 0) endpoint.port_value = Number(service.address.split(':').pop());
    }
  } catch (e) {
    await stop();
    throw e;
  }
  return { services, stop };
}

function portError(e: unknown, what: string, sock: Msg | undefined): Error {
  const err = e as NodeJS.ErrnoException;
  if (err?.code === 'EADDRINUSE' || /EADDRINUSE|address already in use/i.test(String(err?.message))) {
    const where = sock ? `${sock.address}:${sock.port_value}` : 'its port';
    return new Error(`cannot start ${what}: ${where} is already in use (is another demo or proxy running?)`);
  }
  return err instanceof Error ? err : new Error(String(e));
}

/** `1 listener, 6 clusters, 5 wasm filters`. */
function summary(bootstrap: Msg): string {
  const count = (n: number, what: string) => `${n} ${what}${n === 1 ? '' : 's'}`;
  const wasm = hcmFilters(bootstrap).filter((f) => String(f.typed_config?.['@type']).endsWith('.wasm.v3.Wasm')).length;
  return [
    count(bootstrap.static_resources?.listeners?.length ?? 0, 'listener'),
    count(bootstrap.static_resources?.clusters?.length ?? 0, 'cluster'),
    count(wasm, 'wasm filter'),
  ].join(', ');
}

/** The wasm modules (`code.local.filename`) of every wasm filter in `bootstrap`. */
function wasmFiles(bootstrap: Msg): string[] {
  const files: string[] = [];
  for (const f of hcmFilters(bootstrap)) {
    const file = f.typed_config?.config?.vm_config?.code?.local?.filename;
    if (typeof file === 'string') files.push(path.normalize(file));
  }
  return files;
}

/** The HTTP filters of the first listener's connection manager. */
function hcmFilters(bootstrap: Msg): Msg[] {
  const chain = bootstrap.static_resources?.listeners?.[0]?.filter_chains?.[0]?.filters ?? [];
  const hcm = (chain as Msg[]).find((f) => f.name === 'envoy.filters.network.http_connection_manager');
  return (hcm?.typed_config?.http_filters ?? []) as Msg[];
}

/** `rate-limit-edge`, `jwt-auth`, ..., `router`: the plugin names, in order. */
function httpFilterNames(bootstrap: Msg): string[] {
  return hcmFilters(bootstrap).map((f) => String(f.typed_config?.config?.name ?? String(f.name).replace(/^envoy\.filters\.http\./, '')));
}

/**
 * Builds the targets `staleTargets` finds, saying so first (a first run takes about a
 * minute), or says the filters are up to date.
 */
async function buildStale(bootstrap: Msg, cwd: string, log: (line: string) => void): Promise<void> {
  const { buildAll } = await import('../build.ts');
  const { used, stale } = await staleTargets(wasmFiles(bootstrap).map((f) => path.resolve(cwd, f)));
  if (!stale.length) {
    if (used.length) log(`filters up to date: ${used.map((t) => t.outFile).join(', ')} (npm run build rebuilds them)`);
    return;
  }
  log(`building ${stale.map((t) => t.name).join(', ')} (AssemblyScript; about a minute on a first run)...`);
  for (const r of (await buildAll({ only: stale.map((t) => t.name) })).built) log(`built ${r.target.outFile} (${(r.bytes / 1024).toFixed(1)} KiB, ${(r.millis / 1000).toFixed(1)} s)`);
}

/**
 * The non-test targets of `root`'s asconfig.json whose module is one of `modules`
 * (absolute paths), and among them those to build (`isStale` in ../build.ts).
 */
export async function staleTargets(modules: string[], root?: string): Promise<{ used: BuildTarget[]; stale: BuildTarget[] }> {
  const build = await import('../build.ts');
  const base = root ?? build.projectRoot;
  const wanted = new Set(modules.map((m) => path.resolve(m)));
  const used = (await build.listTargets(base)).filter((t) => !t.test && wanted.has(path.resolve(base, t.outFile)));
  return { used, stale: used.filter((t) => build.isStale(t, base)) };
}
