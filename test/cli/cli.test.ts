/**
 * The `mesh-filters` command, run as users run it (bin/mesh-filters.js in a child
 * process): bad input ends with exactly one line on stderr and a non-zero exit, never a
 * stack trace; `validate`, `run` on Envoy, `token`.
 */
import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { decodeJwt, decodeProtectedHeader, importJWK, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { buildAll } from '../../harness/build.ts';
import { wasmImage } from '../../harness/package/oci.ts';
import { freePorts } from '../../harness/process.ts';
import { DEMO_AUDIENCE, DEMO_HS256_SECRET, DEMO_ISSUER, demoJwks } from '../../harness/demo/keys.ts';
import { envoyAvailable, envoySuiteTitle } from '../../harness/envoy/runner.ts';

const root = path.resolve(import.meta.dirname, '../..');
const bin = path.join(root, 'bin/mesh-filters.js');
const tmp = mkdtempSync(path.join(os.tmpdir(), 'mesh-filters-cli-test-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
beforeAll(async () => {
  // The SDK's example filter, for the bad-filter-configuration case (npm test builds it first).
  if (!existsSync(path.join(root, 'build/test/example.wasm'))) await buildAll({ only: ['test-example'] });
});

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

async function cli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<Run> {
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [bin, ...args], {
      cwd: root,
      env: { ...process.env, MESH_FILTERS_DEBUG: '', ...env },
      timeout: 60_000,
    });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof err.code === 'number' ? err.code : -1, stdout: err.stdout ?? '', stderr: err.stderr ?? '' };
  }
}

/** Asserts the run failed with one line on stderr (and no stack trace); returns that line. */
function oneLineFailure(r: Run): string {
  expect(r.code, `exit code; stderr: ${r.stderr}`).not.toBe(0);
  const lines = r.stderr.split('\n').filter((l) => l.trim());
  expect(lines, r.stderr).toHaveLength(1);
  expect(r.stderr).not.toMatch(/^\s+at /m);
  return lines[0];
}

/** A copy of envoy/mesh.yaml changed by `edit`, written to a temp file. */
function meshVariant(name: string, edit: (doc: any) => void): string {
  const doc = YAML.parse(readFileSync(path.join(root, 'envoy/mesh.yaml'), 'utf8'));
  edit(doc);
  const file = path.join(tmp, name);
  writeFileSync(file, YAML.stringify(doc));
  return file;
}

describe('mesh-filters: bad input gives one line and a non-zero exit', () => {
  it('missing file', async () => {
    expect(oneLineFailure(await cli(['validate', '-c', 'envoy/nope.yaml']))).toBe('mesh-filters: envoy/nope.yaml: cannot read: no such file');
  });

  it('YAML error, with line and column', async () => {
    const file = path.join(tmp, 'broken.yaml');
    writeFileSync(file, 'static_resources:\n  clusters: [\n    { name: a\n');
    expect(oneLineFailure(await cli(['validate', '-c', file]))).toMatch(new RegExp(`^mesh-filters: ${file}:\\d+:\\d+: YAML error: `));
  });

  it("unknown cluster: Envoy's own reason", async () => {
    const file = meshVariant('unknown-cluster.yaml', (d) => {
      d.static_resources.listeners[0].filter_chains[0].filters[0].typed_config.route_config.virtual_hosts[0].routes[1].route.cluster = 'credit';
    });
    expect(oneLineFailure(await cli(['validate', '-c', file]))).toBe(
      `${file}: route: unknown cluster 'credit'`,
    );
  });

  it("bad filter configuration: the plugin's own error line", async () => {
    const file = meshVariant('bad-filter.yaml', badFilter);
    const at = 'static_resources.listeners[0].filter_chains[0].filters[0].typed_config.http_filters[0].typed_config.config.configuration';
    expect(oneLineFailure(await cli(['validate', '-c', file]))).toBe(`${file}: ${at}: example: line 1: unknown key "colour"`);
  });

  it('run: a missing file, or a wrong ENVOY_BIN', async () => {
    expect(oneLineFailure(await cli(['run', '-c', 'envoy/nope.yaml']))).toBe('mesh-filters: envoy/nope.yaml: cannot read: no such file');
    expect(oneLineFailure(await cli(['run', '-c', 'envoy/mesh.yaml'], { ENVOY_BIN: '/opt/envoy/bin/envoy' }))).toBe('mesh-filters: ENVOY_BIN=/opt/envoy/bin/envoy does not exist');
  });

  it('usage errors: unknown command, missing option, bad value', async () => {
    expect(oneLineFailure(await cli(['serve']))).toMatch(/^mesh-filters: unknown command 'serve'/);
    expect(oneLineFailure(await cli(['run']))).toBe("mesh-filters: required option '-c, --config <file>' not specified");
    expect(oneLineFailure(await cli(['token', '--alg', 'none']))).toMatch(/^mesh-filters: option '--alg <alg>' argument 'none' is invalid/);
  });
});

/** envoy/mesh.yaml with the SDK's example filter first, configured with a key it does not know. */
function badFilter(d: any): void {
  d.static_resources.listeners[0].filter_chains[0].filters[0].typed_config.http_filters.unshift({
    name: 'envoy.filters.http.wasm',
    typed_config: {
      '@type': 'type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm',
      config: {
        name: 'example',
        root_id: 'example',
        vm_config: { runtime: 'envoy.wasm.runtime.v8', code: { local: { filename: 'build/test/example.wasm' } } },
        configuration: { '@type': 'type.googleapis.com/google.protobuf.StringValue', value: 'colour=red' },
      },
    },
  });
}

function canBind(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.createServer().once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

async function withBlockedPort<T>(use: (port: number) => Promise<T>): Promise<T> {
  const blocker = net.createServer();
  await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
  try {
    return await use((blocker.address() as net.AddressInfo).port);
  } finally {
    blocker.close();
  }
}

const envoy = envoyAvailable();

describe.skipIf(!envoy.ok)(envoySuiteTitle('mesh-filters run and demo on Envoy', envoy), () => {
  it("a bootstrap Envoy refuses: Envoy's own error, one line", async () => {
    const typo = meshVariant('typo.yaml', (d) => {
      d.static_resources.clusters[0].conect_timeout = '1s';
    });
    const line = oneLineFailure(await cli(['run', '--concurrency', '1', '-c', typo]));
    expect(line.startsWith(`mesh-filters: ${typo}: `), line).toBe(true);
    expect(line).toMatch(/no such field: 'conect_timeout'/);
    const unknown = meshVariant('unknown-cluster.yaml', (d) => {
      d.static_resources.listeners[0].filter_chains[0].filters[0].typed_config.route_config.virtual_hosts[0].routes[1].route.cluster = 'credit';
    });
    expect(oneLineFailure(await cli(['run', '--concurrency', '1', '-c', unknown]))).toBe(`mesh-filters: ${unknown}: route: unknown cluster 'credit'`);
  });

  it("a filter configuration the plugin refuses: Envoy's error with the plugin's own line", async () => {
    const file = meshVariant('bad-filter.yaml', badFilter);
    expect(oneLineFailure(await cli(['run', '--concurrency', '1', '-c', file]))).toBe(
      `mesh-filters: ${file}: Unable to create Wasm plugin example: example: line 1: unknown key "colour"`,
    );
  });

  it('a port offset that moves a port past 65535', async () => {
    expect(oneLineFailure(await cli(['run', '--port-offset', '60000', '-c', 'envoy/mesh.yaml']))).toBe(
      'mesh-filters: port offset 60000 moves 127.0.0.1:9901 to 69901, outside 1-65535',
    );
  });

  it("a listener's port in use: the address, in one line", async () => {
    await withBlockedPort(async (port) => {
      const file = meshVariant('busy-listener.yaml', (d) => {
        d.static_resources.listeners[0].address.socket_address.port_value = port;
        d.admin.address.socket_address.port_value = 0;
      });
      expect(oneLineFailure(await cli(['run', '--concurrency', '1', '-c', file]))).toBe(
        `mesh-filters: cannot start Envoy: 127.0.0.1:${port} is already in use (is another demo or proxy running?)`,
      );
    });
  });

  it("a demo service's port in use (demo)", async () => {
    await withBlockedPort(async (port) => {
      const file = meshVariant('busy.yaml', (d) => {
        d.static_resources.clusters[0].load_assignment.endpoints[0].lb_endpoints[0].endpoint.address.socket_address.port_value = port;
      });
      expect(oneLineFailure(await cli(['demo', '--no-build', '-c', file]))).toBe(
        `mesh-filters: cannot start the echo demo service: 127.0.0.1:${port} is already in use (is another demo or proxy running?)`,
      );
    });
  });

  it("`run --port-offset N` serves the file on Envoy, its listener and admin N ports up, Envoy's output on the terminal; Ctrl-C exits 0", async () => {
    const offset = 1000;
    const [listener, admin] = await freePorts(2);
    const file = meshVariant('run.yaml', (d) => {
      d.static_resources.listeners[0].address.socket_address.port_value = listener - offset;
      d.admin.address.socket_address.port_value = admin - offset;
    });
    const child = spawn(process.execPath, [bin, 'run', '--concurrency', '1', '--port-offset', String(offset), '-c', file], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    let stdout = '';
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d));
    try {
      await new Promise<void>((resolve, reject) => {
        child.stdout.on('data', (d: Buffer) => {
          stdout += d;
          if (stdout.includes('listener  ingress')) resolve();
        });
        void exited.then(() => reject(new Error(`run exited before it served:\n${stdout}${stderr}`)));
      });
      expect(stdout).toContain(`admin     http://127.0.0.1:${admin}\n`);
      expect(stdout).toContain(`listener  ingress  http://127.0.0.1:${listener}\n`);
      expect(stderr).toMatch(/\[info\]\[main\].*starting main dispatch loop/); // Envoy's own log, at --log-level info
      const health = await fetch(`http://127.0.0.1:${listener}/health`);
      expect(health.status).toBe(200);
      expect(health.headers.get('server')).toBe('envoy');
      child.kill('SIGINT');
      expect(await exited).toBe(0);
      expect(await canBind(listener)).toBe(true);
      expect(await canBind(admin)).toBe(true);
    } finally {
      if (child.exitCode === null) child.kill('SIGTERM'); // run stops its Envoy (in a process group of its own)
    }
  });
});

describe('mesh-filters validate', () => {
  describe.skipIf(!envoy.ok)(envoySuiteTitle('asking Envoy', envoy), () => {
    it('exit 0: envoy/mesh.yaml and the Istio manifests are valid', async () => {
      const r = await cli(['validate', '-c', 'envoy/mesh.yaml', 'envoy/istio/jwt-auth.yaml', 'envoy/istio/retry.yaml']);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr).toBe('');
      expect(r.stdout).toMatch(/^envoy\/mesh\.yaml: valid \(1 listener, 6 clusters, 5 wasm filters\)$/m);
      expect(r.stdout).toMatch(/^envoy\/istio\/jwt-auth\.yaml: valid/m);
      expect(r.stdout).toMatch(/^envoy\/istio\/retry\.yaml: valid/m);
    });

    it("exit 1: a broken bootstrap is Envoy's reason in one line; the other files are still checked", async () => {
      const file = meshVariant('validate-duration.yaml', (d) => {
        d.static_resources.clusters[1].connect_timeout = '250ms';
      });
      const r = await cli(['validate', '-c', file, 'envoy/istio/retry.yaml']);
      expect(r.code).toBe(1);
      expect(r.stderr.trim().split('\n')).toEqual([
        `${file}: Unable to parse JSON as proto (INVALID_ARGUMENT: invalid JSON in envoy.config.bootstrap.v3.Bootstrap @ static_resources.clusters[1].connect_timeout: message google.protobuf.Duration: duration must end with a single 's')`,
      ]);
      expect(r.stdout).toMatch(/^envoy\/istio\/retry\.yaml: valid/m);
    });

    it("exit 0 with Envoy's warnings on stderr", async () => {
      const file = meshVariant('validate-deprecated.yaml', (d) => {
        d.static_resources.clusters[0].http2_protocol_options = {};
      });
      const r = await cli(['validate', '-c', file]);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr).toMatch(new RegExp(`^warning: ${file}: Deprecated field: .*http2_protocol_options`));
      expect(r.stdout).toContain(`${file}: valid`);
    });
  });

  it('exit 1 in one line when no Envoy can be run; Istio manifests need none', async () => {
    const noEnvoy = { ENVOY_BIN: path.join(tmp, 'no-envoy') };
    expect(oneLineFailure(await cli(['validate', '-c', 'envoy/mesh.yaml'], noEnvoy))).toBe(
      `envoy/mesh.yaml: cannot ask Envoy: ENVOY_BIN=${noEnvoy.ENVOY_BIN} does not exist`,
    );
    const r = await cli(['validate', '-c', 'envoy/istio/retry.yaml'], noEnvoy);
    expect(r.code, r.stderr).toBe(0);
  });

  it('exit 1 when given no file', async () => {
    expect(oneLineFailure(await cli(['validate']))).toBe('mesh-filters: nothing to validate: give a file with -c <file>');
  });
});

describe('mesh-filters token', () => {
  it('mints HS256 tokens with the demo secret and the requested claims', async () => {
    const r = await cli(['token', '--sub', 'alice', '--permissions', 'credit:read,documents:write', '--tier', 'premium', '--scope', 'read write', '--exp', '15m']);
    expect(r.code, r.stderr).toBe(0);
    const token = r.stdout.trim();
    const { payload, protectedHeader } = await jwtVerify(token, new TextEncoder().encode(DEMO_HS256_SECRET), {
      issuer: DEMO_ISSUER,
      audience: DEMO_AUDIENCE,
    });
    expect(protectedHeader).toMatchObject({ alg: 'HS256', typ: 'JWT', kid: 'demo-hs256' });
    expect(payload).toMatchObject({ sub: 'alice', permissions: ['credit:read', 'documents:write'], tier: 'premium', scope: 'read write' });
    expect(payload.exp! - payload.iat!).toBe(900);
  });

  it('mints RS256 and ES256 tokens that verify against the demo JWKS, and expired ones on request', async () => {
    for (const alg of ['RS256', 'ES256'] as const) {
      const r = await cli(['token', '--alg', alg, '--exp', '-1h', '--claim', 'serviceId=eva-frontend', '--claim', 'level=3']);
      expect(r.code, r.stderr).toBe(0);
      const token = r.stdout.trim();
      const kid = decodeProtectedHeader(token).kid;
      const jwk = (await demoJwks()).keys.find((k) => k.kid === kid)!;
      expect(jwk.d).toBeUndefined(); // the JWKS carries public keys only
      const claims = decodeJwt(token);
      expect(claims.exp!).toBeLessThan(Date.now() / 1000);
      expect(claims).toMatchObject({ serviceId: 'eva-frontend', level: 3 });
      await expect(jwtVerify(token, await importJWK(jwk, alg))).rejects.toThrow(/"exp" claim timestamp check failed/);
      await expect(jwtVerify(token, await importJWK(jwk, alg), { currentDate: new Date((claims.iat! + 10) * 1000) })).resolves.toBeTruthy();
    }
  });
});

describe('mesh-filters combine', () => {
  it('writes envoy/mesh.yaml as one entry of the mesh module before the router, which validate accepts', async () => {
    const out = path.join(tmp, 'one.yaml');
    const r = await cli(['combine', 'envoy/mesh.yaml', '-o', out]);
    expect(r).toMatchObject({ code: 0, stderr: '' });
    const doc = YAML.parse(readFileSync(out, 'utf8'));
    const names = doc.static_resources.listeners[0].filter_chains[0].filters[0].typed_config.http_filters.map((f: { name: string; typed_config: { config?: { name: string } } }) => f.typed_config.config?.name ?? f.name);
    expect(names).toEqual(['mesh', 'envoy.filters.http.router']);
    const v = await cli(['validate', '--no-plugins', '-c', out]);
    expect(v.code, v.stderr).toBe(0);
  });

  it("prints the gateway's WasmPlugins as one of the mesh image, pinned to the digest `package` gives it", async () => {
    const r = await cli(['combine', ...['rate-limit-edge', 'jwt-auth', 'rate-limit', 'circuit-breaker', 'retry'].map((f) => `envoy/istio/${f}.yaml`)]);
    expect(r.code, r.stderr).toBe(0);
    const [plugin, ...rest] = YAML.parseAllDocuments(r.stdout).map((d) => d.toJS());
    expect(rest).toEqual([]);
    expect(plugin.spec.pluginName).toBe('mesh');
    const image = await wasmImage(readFileSync(path.join(root, 'build/mesh.wasm')), 'mesh');
    expect(`sha256:${plugin.spec.sha256}`).toBe(image.manifest.digest);
  });

  it('says so when there is nothing to combine', async () => {
    const r = await cli(['combine', 'envoy/istio/jwt-auth.yaml']);
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toBe("mesh-filters: envoy/istio/jwt-auth.yaml: no two WasmPlugins of this project's filters for the same traffic to combine");
  });
});
