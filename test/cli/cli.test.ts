/**
 * The `mesh-filters` command, run as users run it (bin/mesh-filters.js in a child
 * process): bad input ends with exactly one line on stderr and a non-zero exit, never a
 * stack trace; `validate`, `run --envoy` without Envoy, `token`.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { decodeJwt, decodeProtectedHeader, importJWK, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { buildAll } from '../../harness/build.ts';
import { DEMO_AUDIENCE, DEMO_HS256_SECRET, DEMO_ISSUER, demoJwks } from '../../harness/demo/keys.ts';

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

  it('unknown cluster, naming the route', async () => {
    const file = meshVariant('unknown-cluster.yaml', (d) => {
      d.static_resources.listeners[0].filter_chains[0].filters[0].typed_config.route_config.virtual_hosts[0].routes[1].route.cluster = 'credit';
    });
    expect(oneLineFailure(await cli(['validate', '-c', file]))).toBe(
      `${file}: static_resources.listeners[0].filter_chains[0].filters[0].typed_config.route_config.virtual_hosts[0].routes[1].route.cluster: unknown cluster 'credit'`,
    );
  });

  it('run refuses a bootstrap Envoy would refuse, with its first error', async () => {
    const file = meshVariant('typo.yaml', (d) => {
      d.static_resources.clusters[0].conect_timeout = '1s';
    });
    expect(oneLineFailure(await cli(['run', '-c', file]))).toBe(
      `mesh-filters: ${file}: static_resources.clusters[0].conect_timeout: unknown field (did you mean "connect_timeout"?)`,
    );
  });

  it("bad filter configuration: the plugin's own error line, for validate and for run", async () => {
    const file = meshVariant('bad-filter.yaml', (d) => {
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
    });
    const at = 'static_resources.listeners[0].filter_chains[0].filters[0].typed_config.http_filters[0].typed_config.config.configuration';
    expect(oneLineFailure(await cli(['validate', '-c', file]))).toBe(`${file}: ${at}: example: line 1: unknown key "colour"`);
    expect(oneLineFailure(await cli(['run', '-c', file]))).toBe(`mesh-filters: ${file}: ${at}: example: line 1: unknown key "colour"`);
  });

  it('port in use (demo service)', async () => {
    const blocker = net.createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
    const port = (blocker.address() as net.AddressInfo).port;
    try {
      const file = meshVariant('busy.yaml', (d) => {
        d.static_resources.clusters[0].load_assignment.endpoints[0].lb_endpoints[0].endpoint.address.socket_address.port_value = port;
      });
      expect(oneLineFailure(await cli(['demo', '--no-build', '-c', file]))).toBe(
        `mesh-filters: cannot start the echo demo service: 127.0.0.1:${port} is already in use (is another demo or proxy running?)`,
      );
    } finally {
      blocker.close();
    }
  });

  it('port in use (listener)', async () => {
    const blocker = net.createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
    const port = (blocker.address() as net.AddressInfo).port;
    try {
      const file = meshVariant('busy-listener.yaml', (d) => {
        d.static_resources.listeners[0].address.socket_address.port_value = port;
        d.admin.address.socket_address.port_value = 0;
      });
      // The workers start (and jwt-auth fetches its JWKS from a demo service that is not
      // running) before the listeners bind: at the default level the data plane's own
      // warning about that fetch may reach stderr before the error. The error line is
      // printed at any level.
      const line = oneLineFailure(await cli(['run', '--concurrency', '1', '--log-level', 'error', '-c', file]));
      expect(line.startsWith(`mesh-filters: ${file}: static_resources.listeners[0].address: `), line).toBe(true);
      expect(line).toMatch(new RegExp(`127\\.0\\.0\\.1:${port}.*in use`));
    } finally {
      blocker.close();
    }
  });

  it('usage errors: unknown command, missing option, bad value', async () => {
    expect(oneLineFailure(await cli(['serve']))).toMatch(/^mesh-filters: unknown command 'serve'/);
    expect(oneLineFailure(await cli(['run']))).toBe("mesh-filters: required option '-c, --config <file>' not specified");
    expect(oneLineFailure(await cli(['token', '--alg', 'none']))).toMatch(/^mesh-filters: option '--alg <alg>' argument 'none' is invalid/);
  });
});

describe('mesh-filters run --envoy', () => {
  it('says that no Envoy is present, and exits non-zero', async () => {
    const line = oneLineFailure(await cli(['run', '--envoy', '-c', 'envoy/mesh.yaml'], { PATH: '', ENVOY_BIN: '' }));
    expect(line).toBe(
      'mesh-filters: cannot run real Envoy: no Envoy: ENVOY_BIN is not set and neither func-e nor envoy is on PATH ' +
        '(none can be downloaded here; drop --envoy to use the embedded data plane)',
    );
  });

  it('names a wrong ENVOY_BIN', async () => {
    const line = oneLineFailure(await cli(['run', '--envoy', '-c', 'envoy/mesh.yaml'], { ENVOY_BIN: '/opt/envoy/bin/envoy' }));
    expect(line).toMatch(/ENVOY_BIN=\/opt\/envoy\/bin\/envoy does not exist/);
  });
});

describe('mesh-filters validate', () => {
  it('accepts envoy/mesh.yaml and the Istio manifests', async () => {
    const r = await cli(['validate', '-c', 'envoy/mesh.yaml', 'envoy/istio/jwt-auth.yaml', 'envoy/istio/retry.yaml']);
    expect(r.code, r.stderr).toBe(0);
    // The filters land in envoy/mesh.yaml one by one: any count of them.
    expect(r.stdout).toMatch(/envoy\/mesh\.yaml: valid \(1 listener, 6 clusters, \d+ wasm filters?\)/);
    expect(r.stdout).toContain('envoy/istio/jwt-auth.yaml: valid');
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
