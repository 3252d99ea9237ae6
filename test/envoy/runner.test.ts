/**
 * The real-Envoy runner: how it finds Envoy (and says precisely what is missing), and its
 * plumbing (arguments, ephemeral ports, readiness, listener discovery, stop, failures),
 * driven against test/envoy/fake-envoy.mjs, a stand-in that speaks Envoy's command line
 * and admin endpoints. Real Envoy runs in real-envoy.test.ts where one is installed.
 */
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readConfigFile } from '../../harness/envoy/config-file.ts';
import { envoyAvailable, envoySuiteTitle, startEnvoy } from '../../harness/envoy/runner.ts';

const root = path.resolve(import.meta.dirname, '../..');
const fakeEnvoy = path.join(import.meta.dirname, 'fake-envoy.mjs');
const tmp = mkdtempSync(path.join(os.tmpdir(), 'mesh-filters-runner-test-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function executable(name: string, body = '#!/bin/sh\nexit 0\n'): string {
  const dir = mkdtempSync(path.join(tmp, 'bin-'));
  const file = path.join(dir, name);
  writeFileSync(file, body);
  chmodSync(file, 0o755);
  return dir;
}

describe('envoyAvailable', () => {
  it('says what is missing when there is no Envoy at all', () => {
    const a = envoyAvailable({ PATH: executable('not-envoy') });
    expect(a).toEqual({ ok: false, reason: 'no Envoy: ENVOY_BIN is not set and neither func-e nor envoy is on PATH' });
    expect(envoySuiteTitle('retry on real Envoy', a)).toBe(`retry on real Envoy (skipped: ${a.ok ? '' : a.reason})`);
  });

  it('names a bad ENVOY_BIN precisely', () => {
    expect(envoyAvailable({ ENVOY_BIN: path.join(tmp, 'nope') })).toEqual({ ok: false, reason: `ENVOY_BIN=${path.join(tmp, 'nope')} does not exist` });
    const plain = path.join(tmp, 'plain-file');
    writeFileSync(plain, '');
    chmodSync(plain, 0o644);
    expect(envoyAvailable({ ENVOY_BIN: plain })).toEqual({ ok: false, reason: `ENVOY_BIN=${plain} is not executable` });
    expect(envoyAvailable({ ENVOY_BIN: tmp })).toEqual({ ok: false, reason: `ENVOY_BIN=${tmp} is not a file` });
  });

  it('prefers ENVOY_BIN, then func-e run, then envoy on PATH', () => {
    const funcE = executable('func-e');
    const envoy = executable('envoy');
    const PATH = [envoy, funcE].join(path.delimiter);
    expect(envoyAvailable({ PATH, ENVOY_BIN: fakeEnvoy })).toEqual({ ok: true, command: [fakeEnvoy], via: 'ENVOY_BIN' });
    expect(envoyAvailable({ PATH })).toEqual({ ok: true, command: [path.join(funcE, 'func-e'), 'run'], via: 'func-e' });
    expect(envoyAvailable({ PATH: envoy })).toEqual({ ok: true, command: [path.join(envoy, 'envoy')], via: 'PATH' });
  });
});

describe('startEnvoy (against a stand-in binary)', () => {
  const availability = envoyAvailable({ ENVOY_BIN: fakeEnvoy });

  it('runs the bootstrap on ephemeral ports, waits for /ready and finds the listeners', async () => {
    const argsFile = path.join(tmp, 'args.json');
    process.env.FAKE_ENVOY_ARGS_FILE = argsFile;
    const envoy = await startEnvoy({ bootstrap: 'envoy/mesh.yaml', cwd: root, portOverride: 0, concurrency: 3, logLevel: 'debug', stdio: 'pipe', availability });
    delete process.env.FAKE_ENVOY_ARGS_FILE;
    try {
      expect(Object.keys(envoy.listeners)).toEqual(['ingress']);
      expect(envoy.listeners.ingress).not.toBe('127.0.0.1:10000'); // the file's port was overridden
      const res = await fetch(`http://${envoy.listeners.ingress}/`);
      expect(await res.text()).toBe('fake-envoy ingress');
      const args: string[] = JSON.parse(readFileSync(argsFile, 'utf8'));
      expect(args.slice(args.indexOf('--concurrency'), args.indexOf('--concurrency') + 2)).toEqual(['--concurrency', '3']);
      expect(args.slice(args.indexOf('--log-level'), args.indexOf('--log-level') + 2)).toEqual(['--log-level', 'debug']);
      expect(args).toContain('--use-dynamic-base-id');
    } finally {
      await envoy.stop();
    }
    expect(await envoy.exited).toBe(0);
    await expect(fetch(`http://${envoy.adminAddress}/ready`)).rejects.toThrow();
  });

  it('runs a bootstrap given as a document, from a file of its own removed once Envoy exits', async () => {
    const argsFile = path.join(tmp, 'doc-args.json');
    process.env.FAKE_ENVOY_ARGS_FILE = argsFile;
    const doc = readConfigFile(path.join(root, 'envoy/mesh.yaml')) as Record<string, unknown>;
    const envoy = await startEnvoy({ bootstrap: doc, cwd: root, portOverride: 0, stdio: 'pipe', availability });
    delete process.env.FAKE_ENVOY_ARGS_FILE;
    const args: string[] = JSON.parse(readFileSync(argsFile, 'utf8'));
    const config = args[args.indexOf('-c') + 1];
    try {
      expect(await (await fetch(`http://${envoy.listeners.ingress}/`)).text()).toBe('fake-envoy ingress');
      expect(existsSync(config)).toBe(true);
    } finally {
      await envoy.stop();
    }
    expect(existsSync(config)).toBe(false);
  });

  it("fails with Envoy's own error line when Envoy exits before it is ready", async () => {
    process.env.FAKE_ENVOY_FAIL = '1';
    try {
      await expect(startEnvoy({ bootstrap: 'envoy/mesh.yaml', cwd: root, portOverride: 0, stdio: 'pipe', availability })).rejects.toThrow(
        /^envoy exited \(1\) before it was ready: .*critical.*error initializing configuration/,
      );
    } finally {
      delete process.env.FAKE_ENVOY_FAIL;
    }
  });

  it('refuses to start without Envoy, with the reason', async () => {
    const none = envoyAvailable({ PATH: '' });
    await expect(startEnvoy({ bootstrap: 'envoy/mesh.yaml', cwd: root, availability: none })).rejects.toThrow(/^no Envoy: ENVOY_BIN is not set/);
  });
});
