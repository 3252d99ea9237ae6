/**
 * The demo (`npm start`): every cluster of envoy/mesh.yaml gets its demo service, the
 * embedded data plane serves the bootstrap, and each filter of the chain shows its work on
 * real HTTP and gRPC traffic (test/envoy/mesh-traffic.ts, the checks real Envoy gets too).
 * Ephemeral ports, so that it runs beside a developer's own `npm start`.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { startDemo, type RunningDemo } from '../../harness/demo/index.ts';
import { meshChecks, type MeshContext } from '../envoy/mesh-traffic.ts';

const root = path.resolve(import.meta.dirname, '../..');

describe('demo on the embedded data plane', () => {
  let demo: RunningDemo;
  let ctx: MeshContext;
  const lines: string[] = [];

  beforeAll(async () => {
    demo = await startDemo({ cwd: root, build: false, portOverride: 0, concurrency: 2, logLevel: 'error', log: (l) => lines.push(l) });
    ctx = { listener: demo.listenerAddress, admin: demo.adminAddress, services: demo.services };
  });
  afterAll(async () => {
    await demo?.stop();
  });

  it('starts a service for every cluster and prints where everything is, and the filter chain', () => {
    expect(demo.services.map((s) => s.cluster).sort()).toEqual(['banking', 'credit-bureau', 'documents', 'echo', 'jwks', 'projects']);
    const text = lines.join('\n');
    expect(text).toContain(`listener  http://${demo.listenerAddress}   rate-limit-edge -> jwt-auth -> rate-limit -> circuit-breaker -> retry -> router`);
    expect(text).toContain(`admin     http://${demo.adminAddress}`);
    for (const s of demo.services) expect(text).toContain(`  ${s.cluster.padEnd(14)}${s.address}`);
  });

  for (const check of meshChecks) it(check.name, () => check.run(ctx));

  it('serves the demo JWKS (public keys only) through the jwks cluster address', async () => {
    const jwks = demo.services.find((s) => s.cluster === 'jwks')!;
    const res = await fetch(`http://${jwks.address}/.well-known/jwks.json`);
    const body = (await res.json()) as { keys: Array<Record<string, unknown>> };
    expect(body.keys.map((k) => k.kid)).toEqual(['demo-rs256', 'demo-es256']);
    expect(body.keys.every((k) => k.d === undefined)).toBe(true);
  });

  it('has an admin that answers /ready', async () => {
    const res = await fetch(`http://${demo.adminAddress}/ready`);
    expect(res.status).toBe(200);
    expect((await res.text()).trim()).toBe('LIVE');
  });
});

/** The JSON configuration of the wasm plugin `name` in envoy/mesh.yaml. */
function meshPluginConfig(name: string): Record<string, any> {
  const doc = YAML.parse(readFileSync(path.join(root, 'envoy/mesh.yaml'), 'utf8'));
  const hcm = doc.static_resources.listeners[0].filter_chains[0].filters[0].typed_config;
  const plugin = hcm.http_filters.find((f: any) => f.typed_config?.config?.name === name);
  return JSON.parse(plugin.typed_config.config.configuration.value);
}

function istioPluginConfig(file: string): Record<string, any> {
  return YAML.parse(readFileSync(path.join(root, 'envoy/istio', file), 'utf8')).spec.pluginConfig;
}

describe('envoy/istio manifests and envoy/mesh.yaml', () => {
  it("hold the same jwt-auth rules (Istio's providers eva and service are the mesh's users and services)", () => {
    const names: Record<string, string> = { eva: 'users', service: 'services' };
    const rename = (v: unknown): unknown =>
      Array.isArray(v) ? v.map(rename)
      : v && typeof v === 'object' ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, k === 'provider_name' ? names[x as string] : rename(x)]))
      : v;
    expect(rename(istioPluginConfig('jwt-auth.yaml').rules)).toEqual(meshPluginConfig('jwt-auth').rules);
  });

  it('hold the same rate-limit tiers and edge limit', () => {
    expect(istioPluginConfig('rate-limit.yaml').rules).toEqual(meshPluginConfig('rate-limit').rules);
    expect(istioPluginConfig('rate-limit-edge.yaml').rules).toEqual(meshPluginConfig('rate-limit-edge').rules);
  });
});

/** A listening socket on an ephemeral loopback port (a port "already in use"). */
async function occupy(): Promise<net.Server> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return server;
}

const close = (s: net.Server) => new Promise((resolve) => s.close(resolve));

function canBind(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.createServer().once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

/**
 * envoy/mesh.yaml with every address (listener, admin, clusters) on a free port, found by
 * binding them all at once; the sockets are returned still bound, for the caller to close.
 */
async function meshOnFreePorts(): Promise<{ doc: any; addresses: any[]; held: net.Server[] }> {
  const doc = YAML.parse(readFileSync(path.join(root, 'envoy/mesh.yaml'), 'utf8'));
  const addresses = [
    doc.static_resources.listeners[0].address.socket_address,
    doc.admin.address.socket_address,
    ...doc.static_resources.clusters.map((c: any) => c.load_assignment.endpoints[0].lb_endpoints[0].endpoint.address.socket_address),
  ];
  const held = await Promise.all(addresses.map(() => occupy()));
  addresses.forEach((a, i) => (a.port_value = (held[i].address() as net.AddressInfo).port));
  return { doc, addresses, held };
}

describe('demo start-up and shut-down on the bootstrap ports', () => {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'mesh-filters-demo-ports-'));
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));

  /** Starts the demo with the address `take` picks already in use; its error, and whether everything else was closed again. */
  async function startWithTaken(take: (doc: any) => any): Promise<{ message: string; taken: number; freed: boolean }> {
    const { doc, addresses, held } = await meshOnFreePorts();
    const victim = take(doc);
    const blocker = held[addresses.indexOf(victim)];
    await Promise.all(held.filter((s) => s !== blocker).map(close));
    const file = path.join(tmp, 'taken.yaml');
    writeFileSync(file, YAML.stringify(doc));
    try {
      const error = await startDemo({ cwd: root, bootstrap: file, build: false, concurrency: 1, logLevel: 'off' }).then(
        async (d) => {
          await d.stop();
          return new Error('started');
        },
        (e: Error) => e,
      );
      const others = addresses.filter((a) => a !== victim);
      const freed = (await Promise.all(others.map((a) => canBind(a.port_value)))).every(Boolean);
      return { message: error.message, taken: victim.port_value, freed };
    } finally {
      await close(blocker);
    }
  }

  it("names the admin's address, in one line, and closes the demo services it had started", async () => {
    const r = await startWithTaken((doc) => doc.admin.address.socket_address);
    expect(r.message).toBe(`cannot start the data plane: 127.0.0.1:${r.taken} is already in use (is another demo or proxy running?)`);
    expect(r.freed).toBe(true);
  });

  it("names a demo service's address", async () => {
    const r = await startWithTaken((doc) => doc.static_resources.clusters.find((c: any) => c.name === 'banking').load_assignment.endpoints[0].lb_endpoints[0].endpoint.address.socket_address);
    expect(r.message).toBe(`cannot start the banking demo service: 127.0.0.1:${r.taken} is already in use (is another demo or proxy running?)`);
    expect(r.freed).toBe(true);
  });

  it('`mesh-filters demo`: Ctrl-C (SIGINT) stops the data plane and every demo service, exit code 0', async () => {
    const { doc, addresses, held } = await meshOnFreePorts();
    await Promise.all(held.map(close));
    const file = path.join(tmp, 'sigint.yaml');
    writeFileSync(file, YAML.stringify(doc));
    const child = spawn(process.execPath, ['bin/mesh-filters.js', 'demo', '--no-build', '--concurrency', '1', '-c', file], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
    try {
      let out = '';
      await new Promise<void>((resolve, reject) => {
        const onData = (d: Buffer) => {
          out += d;
          if (out.includes('Ctrl-C stops everything.')) resolve();
        };
        child.stdout.on('data', onData);
        child.stderr.on('data', onData);
        exited.then(() => reject(new Error(`the demo exited before it was ready:\n${out}`)));
      });
      expect(await canBind(addresses[0].port_value)).toBe(false); // serving
      child.kill('SIGINT'); // the handler is in place before anything is started
      expect(await exited).toEqual({ code: 0, signal: null });
      expect((await Promise.all(addresses.map((a) => canBind(a.port_value)))).every(Boolean)).toBe(true);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });
});
