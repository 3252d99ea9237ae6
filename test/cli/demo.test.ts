/**
 * The demo (`npm start`, `mesh-filters demo`) as a user runs it: on Envoy, with one demo
 * service per cluster; Ctrl-C stops everything, a port in use is one line, `--port-offset`
 * moves every port, Envoy exiting on its own ends the demo. (The traffic through it is
 * test/envoy/real-envoy.test.ts, its banner's commands demo-banner.test.ts.)
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { startDemo } from '../../harness/demo/index.ts';
import { mintDemoToken } from '../../harness/demo/token.ts';
import { envoyAvailable, envoySuiteTitle } from '../../harness/envoy/runner.ts';

const root = path.resolve(import.meta.dirname, '../..');
const envoy = envoyAvailable();

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

/** `mesh-filters demo` in a child process, as a user starts it; `ready` resolves with its output once the banner is out. */
function demoCli(args: string[]): { child: ChildProcess; ready: Promise<string>; exited: Promise<{ code: number | null; signal: string | null; stderr: string }> } {
  const child = spawn(process.execPath, ['bin/mesh-filters.js', 'demo', '--no-build', '--concurrency', '1', ...args], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (out += d));
  child.stderr!.on('data', (d: Buffer) => ((out += d), (stderr += d)));
  const exited = new Promise<{ code: number | null; signal: string | null; stderr: string }>((resolve) =>
    child.once('exit', (code, signal) => setImmediate(() => resolve({ code, signal, stderr }))),
  );
  const ready = new Promise<string>((resolve, reject) => {
    child.stdout!.on('data', () => out.includes('Ctrl-C stops everything.') && resolve(out));
    void exited.then(() => reject(new Error(`the demo exited before it was ready:\n${out}`)));
  });
  return { child, ready, exited };
}

describe.skipIf(!envoy.ok)(envoySuiteTitle('demo start-up and shut-down on the bootstrap ports', envoy), () => {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'mesh-filters-demo-ports-'));
  const children: ChildProcess[] = [];
  afterAll(() => {
    // SIGTERM, not SIGKILL: the demo's Envoy runs in its own process group, and the demo stops it.
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGTERM');
    rmSync(tmp, { recursive: true, force: true });
  });

  /** envoy/mesh.yaml on free ports (each moved down by `offset`), as a file; its addresses as the demo will bind them. */
  async function meshFile(name: string, offset = 0): Promise<{ file: string; ports: number[] }> {
    const { doc, addresses, held } = await meshOnFreePorts();
    await Promise.all(held.map(close));
    const ports = addresses.map((a) => a.port_value);
    for (const a of addresses) a.port_value -= offset;
    const file = path.join(tmp, name);
    writeFileSync(file, YAML.stringify(doc));
    return { file, ports };
  }

  const allFree = async (ports: number[]) => (await Promise.all(ports.map(canBind))).every(Boolean);

  /** Starts the demo with the address `take` picks already in use; its error, and whether everything else was closed again. */
  async function startWithTaken(take: (doc: any) => any): Promise<{ message: string; taken: number; freed: boolean }> {
    const { doc, addresses, held } = await meshOnFreePorts();
    const victim = take(doc);
    const blocker = held[addresses.indexOf(victim)];
    await Promise.all(held.filter((s) => s !== blocker).map(close));
    const file = path.join(tmp, 'taken.yaml');
    writeFileSync(file, YAML.stringify(doc));
    try {
      const error = await startDemo({ cwd: root, bootstrap: file, build: false, concurrency: 1, logLevel: 'error' }).then(
        async (d) => {
          await d.stop();
          return new Error('started');
        },
        (e: Error) => e,
      );
      const freed = await allFree(addresses.filter((a) => a !== victim).map((a) => a.port_value));
      return { message: error.message, taken: victim.port_value, freed };
    } finally {
      await close(blocker);
    }
  }

  it("names the listener's address that Envoy could not bind, in one line, and stops the demo services it had started", async () => {
    const r = await startWithTaken((doc) => doc.static_resources.listeners[0].address.socket_address);
    expect(r.message).toBe(`cannot start Envoy: 127.0.0.1:${r.taken} is already in use (is another demo or proxy running?)`);
    expect(r.freed).toBe(true);
  });

  it("names the admin's address", async () => {
    const r = await startWithTaken((doc) => doc.admin.address.socket_address);
    expect(r.message).toBe(`cannot start Envoy: 127.0.0.1:${r.taken} is already in use (is another demo or proxy running?)`);
    expect(r.freed).toBe(true);
  });

  it("names a demo service's address", async () => {
    const r = await startWithTaken((doc) => doc.static_resources.clusters.find((c: any) => c.name === 'banking').load_assignment.endpoints[0].lb_endpoints[0].endpoint.address.socket_address);
    expect(r.message).toBe(`cannot start the banking demo service: 127.0.0.1:${r.taken} is already in use (is another demo or proxy running?)`);
    expect(r.freed).toBe(true);
  });

  it('`mesh-filters demo`: Ctrl-C (SIGINT) stops Envoy and every demo service, exit code 0', async () => {
    const { file, ports } = await meshFile('sigint.yaml');
    const demo = demoCli(['-c', file]);
    children.push(demo.child);
    await demo.ready;
    expect((await Promise.all(ports.map(canBind))).some(Boolean)).toBe(false); // all serving
    demo.child.kill('SIGINT'); // the handler is in place before anything is started
    expect(await demo.exited).toMatchObject({ code: 0, signal: null });
    expect(await allFree(ports)).toBe(true);
  });

  it('`--port-offset N` moves the listener, the admin and every demo service N ports up; the banner shows where', async () => {
    const offset = 1000;
    const { file, ports } = await meshFile('offset.yaml', offset);
    const [listener, admin, ...services] = ports;
    const demo = demoCli(['-c', file, '--port-offset', String(offset)]);
    children.push(demo.child);
    const out = await demo.ready;
    expect((await Promise.all(ports.map(canBind))).some(Boolean)).toBe(false);
    expect(out).toContain(`listener  http://127.0.0.1:${listener}   `);
    expect(out).toContain(`admin     http://127.0.0.1:${admin}   `);
    for (const port of services) expect(out).toMatch(new RegExp(`^  [a-z-]+ +127\\.0\\.0\\.1:${port} `, 'm'));
    // Envoy reaches the moved services: the echo service, with a user token whose key jwt-auth fetched from the moved JWKS service.
    const token = await mintDemoToken({ alg: 'RS256', sub: 'offset-user' });
    const res = await fetch(`http://127.0.0.1:${listener}/api/port-offset`, { headers: { authorization: `Bearer ${token}` } });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ upstream: 'echo', path: '/api/port-offset', headers: { 'x-user-id': 'offset-user' } });
    demo.child.kill('SIGINT');
    expect(await demo.exited).toMatchObject({ code: 0 });
    expect(await allFree(ports)).toBe(true);
  });

  it('Envoy exiting on its own ends the demo: the services stopped, one line, a non-zero exit', async () => {
    const { file, ports } = await meshFile('envoy-exits.yaml');
    const demo = demoCli(['-c', file]);
    children.push(demo.child);
    const pid = Number(/\(pid (\d+),/.exec(await demo.ready)?.[1]);
    process.kill(pid, 'SIGKILL');
    const exit = await demo.exited;
    expect(exit.code).toBe(1);
    expect(exit.stderr.trim().split('\n').at(-1)).toBe('mesh-filters: Envoy exited on its own (SIGKILL)');
    expect(await allFree(ports)).toBe(true);
  });
});
