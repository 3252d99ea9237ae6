/**
 * Everything one Envoy worker owns, built from the bootstrap: the cluster manager, the
 * router context, each listener's HTTP filter chain (wasm plugins through the host's
 * `createWasmPlugin`, one VM per plugin on this thread; native test filters), and a
 * connection manager per listener. Used by worker threads (worker.ts) and, without a
 * thread, by in-process tests.
 */
import { pathToFileURL } from 'node:url';
import type { HttpFilterFactory } from '../http/filter.ts';
import type { HttpFilterConfig, WasmPluginConfig } from './bootstrap.ts';
import { ClusterManager, type UpstreamHost } from './cluster-manager.ts';
import { ConnectionManager, routerFactory, streamFilterFactory, type FilterFactoryEntry, type StreamSink } from './connection-manager.ts';
import { createHttpCall } from './http-call.ts';
import type { WorkerInit } from './messages.ts';
import type { RouterContext } from './router.ts';
import { ProxyStats } from './stats.ts';

export interface WorkerRuntime {
  managers: ConnectionManager[];
  clusters: ClusterManager;
  router: RouterContext;
  close(): void;
}

/** The host's plugin factory, loaded lazily so the proxy runs filterless configs without it. */
type CreateWasmPlugin = (config: unknown, services: unknown) => Promise<HttpFilterFactory & { close?(): void; destroy?(): void }>;

async function loadHost(): Promise<{ createWasmPlugin: CreateWasmPlugin; [k: string]: unknown }> {
  // A variable specifier: the host may not be there yet, and filterless configs need none.
  const specifier = '../host/index.ts';
  const mod = (await import(specifier)) as Record<string, unknown>;
  if (typeof mod.createWasmPlugin !== 'function') throw new Error('harness/host/index.ts does not export createWasmPlugin');
  return mod as { createWasmPlugin: CreateWasmPlugin };
}

/** The plugin config as the host's `createWasmPlugin` takes it. */
function hostPluginConfig(p: WasmPluginConfig): Record<string, unknown> {
  return {
    name: p.name,
    rootId: p.rootId,
    vmId: p.vmId,
    runtime: p.runtime,
    module: p.code,
    code: p.code,
    pluginConfiguration: p.pluginConfiguration,
    vmConfiguration: p.vmConfiguration,
    environmentVariables: p.environmentVariables,
    failurePolicy: p.failurePolicy,
  };
}

export async function buildWorkerRuntime(init: WorkerInit, sink: StreamSink): Promise<WorkerRuntime> {
  const stats = ProxyStats.attach(init.stats);
  const hosts = new Map<string, UpstreamHost[]>(init.hosts);
  const clusters = new ClusterManager(init.bootstrap.clusters, hosts, stats);
  const router: RouterContext = { clusters, stats, openRetries: new Map() };
  const httpCall = createHttpCall(router);
  const closers: (() => void)[] = [];
  let host: Awaited<ReturnType<typeof loadHost>> | undefined;
  let services: Record<string, unknown> | undefined;

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
    services ??= {
      node: { id: init.bootstrap.node.id, cluster: init.bootstrap.node.cluster },
      httpCall,
      ...(init.shared !== undefined && typeof host.attachSharedState === 'function' ? { shared: (host.attachSharedState as (h: unknown) => unknown)(init.shared) } : {}),
    };
    const plugin = await host.createWasmPlugin(hostPluginConfig(f.plugin), services);
    closers.push(() => (plugin.close ?? plugin.destroy)?.call(plugin));
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
