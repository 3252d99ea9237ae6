/**
 * Everything one Envoy worker owns, built from the bootstrap: the cluster manager, the
 * router context, each listener's HTTP filter chain (wasm plugins through the host's
 * `createWasmPlugin`, one VM per plugin on this thread; native test filters), and a
 * connection manager per listener. Used by worker threads (worker.ts) and, without a
 * thread, by in-process tests.
 */
import { pathToFileURL } from 'node:url';
import type { HttpFilterFactory } from '../host/filter.ts';
import { LOG_LEVEL_NAMES, type LogLevelName } from '../host/abi.ts';
import type { HttpFilterConfig, WasmPluginConfig } from './bootstrap.ts';
import { ClusterManager, type UpstreamHost } from './cluster-manager.ts';
import { ConnectionManager, routerFactory, streamFilterFactory, type FilterFactoryEntry, type StreamSink } from './connection-manager.ts';
import { createGrpcCall, createGrpcStream } from './grpc-call.ts';
import { createHttpCall } from './http-call.ts';
import type { ProxyLogLevel } from './index.ts';
import type { WorkerInit } from './messages.ts';
import type { RouterContext } from './router.ts';
import { ProxyStats } from './stats.ts';

export interface WorkerRuntime {
  managers: ConnectionManager[];
  clusters: ClusterManager;
  router: RouterContext;
  close(): void;
}

type Host = typeof import('../host/index.ts');

/** The proxy-wasm host, loaded on first use so that filterless configs start without it. */
async function loadHost(): Promise<Host> {
  return import('../host/index.ts');
}

/** The plugin config as the host's `createWasmPlugin` takes it. */
function hostPluginConfig(p: WasmPluginConfig): Parameters<Host['createWasmPlugin']>[0] {
  return {
    name: p.name,
    rootId: p.rootId,
    vmId: p.vmId,
    code: p.code,
    pluginConfiguration: p.pluginConfiguration,
    vmConfiguration: p.vmConfiguration,
    environmentVariables: p.environmentVariables,
    failurePolicy: p.failurePolicy,
    reloadBaseIntervalMs: p.reloadBaseIntervalMs,
    allowOnHeadersStopIteration: p.allowOnHeadersStopIteration,
  };
}

/** `--log-level` as the host's `proxy_get_log_level` answers it ('off' silences plugins). */
function hostLogLevel(level: ProxyLogLevel): number {
  return level === 'off' ? LOG_LEVEL_NAMES.length : LOG_LEVEL_NAMES.indexOf(level);
}

/** Where a worker's log lines go (worker.ts: to the main thread's log). */
export type WorkerLog = (level: LogLevelName, line: string) => void;

const stderrLog: WorkerLog = (level, line) => void process.stderr.write(`[${level}] ${line}\n`);

export async function buildWorkerRuntime(init: WorkerInit, sink: StreamSink, log: WorkerLog = stderrLog): Promise<WorkerRuntime> {
  const stats = ProxyStats.attach(init.stats);
  const hosts = new Map<string, UpstreamHost[]>(init.hosts);
  const clusters = new ClusterManager(init.bootstrap.clusters, hosts, stats);
  const router: RouterContext = { clusters, stats };
  const httpCall = createHttpCall(router);
  const grpcCall = createGrpcCall(router);
  const grpcStream = createGrpcStream(router);
  const closers: (() => void)[] = [];
  let host: Host | undefined;
  let services: Parameters<Host['createWasmPlugin']>[1] | undefined;

  const factoryFor = async (f: HttpFilterConfig): Promise<FilterFactoryEntry> => {
    if (f.kind === 'router') return routerFactory(router);
    if (f.kind === 'native') {
      const mod = (await import(pathToFileURL(f.module).href)) as Record<string, unknown>;
      const make = mod[f.exportName];
      if (typeof make !== 'function') throw new Error(`${f.name}: ${f.module} does not export a function ${f.exportName}`);
      const factory = (await (make as (c: unknown) => HttpFilterFactory | Promise<HttpFilterFactory>)(f.config)) as HttpFilterFactory;
      return streamFilterFactory(f.name, (info) => factory.createFilter(info));
    }
    host ??= await loadHost();
    const level = hostLogLevel(init.logLevel);
    const { formatLogLine } = host;
    services ??= {
      node: { id: init.bootstrap.node.id, cluster: init.bootstrap.node.cluster },
      httpCall,
      grpcCall,
      grpcStream,
      logLevel: () => level,
      // Plugin lines below the level never reach here; host lines (traps) are filtered too.
      log: (l, message, source) => {
        if (l >= level) log(LOG_LEVEL_NAMES[l], formatLogLine(message, source));
      },
      ...(init.shared !== undefined ? { shared: host.attachSharedState(init.shared) } : {}),
    };
    const plugin = await host.createWasmPlugin(hostPluginConfig(f.plugin), services);
    closers.push(() => plugin.close());
    return streamFilterFactory(f.name, (info) => plugin.createFilter(info));
  };

  const managers: ConnectionManager[] = [];
  for (const l of init.bootstrap.listeners) {
    const factories: FilterFactoryEntry[] = [];
    for (const f of l.hcm.httpFilters) factories.push(await factoryFor(f));
    managers.push(new ConnectionManager(l, factories, router, stats, sink, init.bootstrap.node));
  }
  return {
    managers,
    clusters,
    router,
    close() {
      for (const m of managers) m.resetAll();
      clusters.close();
      for (const c of closers) {
        try {
          c();
        } catch {
          /* closing */
        }
      }
    },
  };
}
