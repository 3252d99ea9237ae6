/**
 * `mesh-filters demo` (`npm start`): builds the filters, starts one demo service per
 * cluster of the bootstrap (services.ts) on the port the cluster names, serves the
 * bootstrap (envoy/mesh.yaml) on the embedded data plane and prints where everything is,
 * with example requests. `stop()` shuts it all down.
 */
import path from 'node:path';
import { ConfigError, readConfigFile } from '../envoy/config-file.ts';
import { startProxy, type ProxyLogLevel, type RunningProxy } from '../proxy/index.ts';
import { formatIssue, validateBootstrap } from '../envoy/validate.ts';
import { DEMO_CLUSTERS, startDemoService, type DemoService } from './services.ts';

export interface DemoOptions {
  /** Bootstrap to serve, relative to `cwd`; default `envoy/mesh.yaml`. */
  bootstrap?: string;
  /** Worker threads of the data plane, default 2. */
  concurrency?: number;
  /** Build the filters first (default true). */
  build?: boolean;
  /** 0: every service, listener and admin on ephemeral ports (tests); default: the bootstrap's ports. */
  portOverride?: 0;
  logLevel?: ProxyLogLevel;
  /** Where the lines for the user go; default nowhere. */
  log?: (line: string) => void;
  cwd?: string;
}

export interface RunningDemo {
  /** `host:port` of the first listener. */
  readonly listenerAddress: string;
  /** `host:port` of the admin listener. */
  readonly adminAddress: string;
  readonly services: readonly DemoService[];
  stop(): Promise<void>;
}

type Msg = Record<string, any>;

/** Starts the demo; throws an Error with one line (port in use, bad bootstrap...) after undoing what it started. */
export async function startDemo(opts: DemoOptions = {}): Promise<RunningDemo> {
  const log = opts.log ?? (() => {});
  const cwd = opts.cwd ?? process.cwd();
  const file = opts.bootstrap ?? 'envoy/mesh.yaml';
  const bootstrap = readConfigFile(path.resolve(cwd, file)) as Msg;

  if (opts.build !== false) {
    const { buildAll } = await import('../build.ts');
    for (const r of await buildAll()) log(`built ${r.target.outFile} (${(r.bytes / 1024).toFixed(1)} KiB)`);
  }
  const report = await validateBootstrap(bootstrap, { source: file, cwd, plugins: false });
  if (report.errors.length) throw new ConfigError(formatIssue(file, report.errors[0]));

  const started = await startDemoServices(bootstrap, { portOverride: opts.portOverride, log });
  const services = started.services;
  const stopServices = started.stop;
  let proxy: RunningProxy;
  try {
    try {
      proxy = await startProxy({
        bootstrap: opts.portOverride === 0 ? bootstrap : path.resolve(cwd, file),
        concurrency: opts.concurrency ?? 2,
        logLevel: opts.logLevel ?? 'info',
        baseDir: cwd,
        ...(opts.portOverride === 0 ? { portOverride: 0 } : {}),
      });
    } catch (e) {
      throw portError(e, 'the data plane', bootstrap.static_resources?.listeners?.[0]?.address?.socket_address);
    }
  } catch (e) {
    await stopServices();
    throw e;
  }

  const listenerAddress = proxy.listeners[0]?.address ?? '';
  const adminAddress = proxy.admin?.address ?? '';
  for (const line of banner(file, listenerAddress, adminAddress, services, report.summary, opts.concurrency ?? 2)) log(line);
  return {
    listenerAddress,
    adminAddress,
    services,
    async stop() {
      await proxy.stop();
      await stopServices();
    },
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

function banner(file: string, listener: string, admin: string, services: readonly DemoService[], summary: string, workers: number): string[] {
  const base = `http://${listener}`;
  return [
    '',
    `mesh-filters demo: ${file} on the embedded data plane (${workers} workers; ${summary})`,
    `  listener  ${base}`,
    `  admin     http://${admin}   (/ready, /stats/prometheus, /clusters)`,
    ...services.map((s) => `  ${s.cluster.padEnd(14)}${s.address.padEnd(18)}${s.description}`),
    '',
    'Try:',
    `  curl -i ${base}/health`,
    `  curl -i ${base}/api/credit-bureau/report`,
    `  curl -i -X POST ${base}/api/credit-bureau/fail-test          # the service fails (503)`,
    `  curl -i ${base}/api/banking/accounts -H 'x-upstream-status: 503'`,
    `  curl -i '${base}/api/documents/slow?ms=2000'`,
    `  curl -i ${base}/api/credit-bureau/flap                        # 5 s up, 5 s down`,
    `  TOKEN=$(node bin/mesh-filters.js token --permissions credit:read --tier premium)`,
    `  curl -i ${base}/api/credit-bureau/report -H "authorization: Bearer $TOKEN"`,
    `  grpcurl -plaintext -import-path harness/demo -proto project.proto -d '{"name":"demo"}' ${listener} zoptal.project.v1.ProjectService/CreateProject`,
    `  curl -s http://${admin}/stats/prometheus | grep -E 'jwt_auth|rate_limit|circuit_breaker|retry|upstream_rq'`,
    '',
    'Ctrl-C stops everything.',
  ];
}
