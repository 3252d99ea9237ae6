/**
 * The config reader and the `match` object inside a real proxy-wasm module on the
 * project's host (harness/host WasmEmulator): configuration errors come out of
 * proxy_on_configure as the reader's one line, and matchers read the request through
 * HostRequestHeaders (assembly/match/host.ts). The module is
 * assembly/match/__tests__/fixtures/match-filter.ts, compiled here with the project's
 * asconfig options.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import asc from 'assemblyscript/asc';
import { beforeAll, describe, expect, it } from 'vitest';
import { projectRoot } from '../../harness/build.ts';
import { WasmEmulator, WasmPluginError } from '../../harness/host/index.ts';

const wasm = path.join(mkdtempSync(path.join(tmpdir(), 'match-filter-')), 'match-filter.wasm');

beforeAll(async () => {
  let diagnostics = '';
  const sink = { write: (s: string) => { diagnostics += s; return true; } } as never;
  const { error } = await asc.main(
    ['assembly/match/__tests__/fixtures/match-filter.ts', '--config', 'asconfig.json', '--baseDir', projectRoot, '-o', wasm],
    { stdout: sink, stderr: sink },
  );
  if (error) throw new Error(`${error.message}\n${diagnostics}`);
}, 180_000);

const RULES = {
  rules: [
    { name: 'health', match: { path: '/health' } },
    { name: 'premium', match: { headers: [{ name: 'x-user-tier', exact: 'premium' }] } },
    { name: 'writes', match: { prefix: '/api/transactions', methods: ['POST', 'PUT'] } },
    { name: 'anonymous', match: { headers: [{ name: 'authorization', absent: true }] } },
    { name: 'json', match: { suffix: '.json' } },
  ],
};

async function matchedRule(headers: Record<string, string>, config: unknown = RULES): Promise<string | undefined> {
  const emu = await WasmEmulator.create({ wasm, pluginConfiguration: JSON.stringify(config) });
  const id = emu.initializeHttpContext();
  emu.callOnRequestHeaders(id, { ':method': 'GET', ':authority': 'api', ...headers }, true);
  return emu.getCurrentRequestHeaders(id).find(([k]) => k === 'x-matched-rule')?.[1];
}

describe('match objects on the proxy-wasm host', () => {
  it('picks the first rule whose match holds', async () => {
    expect(await matchedRule({ ':path': '/health?probe=1', authorization: 'Bearer x' })).toBe('health');
    expect(await matchedRule({ ':path': '/api/x', 'x-user-tier': 'premium' })).toBe('premium');
    expect(await matchedRule({ ':path': '/api/transactions/7', ':method': 'POST', authorization: 'Bearer x' })).toBe('writes');
    expect(await matchedRule({ ':path': '/api/transactions/7', ':method': 'GET', authorization: 'Bearer x' })).toBe('none');
    expect(await matchedRule({ ':path': '/api/transactions/7', ':method': 'GET' })).toBe('anonymous');
    expect(await matchedRule({ ':path': '/docs/a.json?x=1', authorization: 'Bearer x' })).toBe('json');
  });

  it('rejects a bad configuration with the reader\'s one line', async () => {
    const bad = { rules: [{ name: 'a', match: { headers: [{ name: 'x', exact: 'y', present: true }] } }] };
    const error = await WasmEmulator.create({ wasm, pluginConfiguration: JSON.stringify(bad) }).catch((e) => e);
    expect(error).toBeInstanceOf(WasmPluginError);
    expect(error.message).toBe('match-test: rules[0].match.headers[0]: expected exactly one of "exact", "prefix", "present", "absent"');
    const typo = await WasmEmulator.create({ wasm, pluginConfiguration: '{"rules":[{"name":"a","match":{"prefx":"/"}}]}' }).catch((e) => e);
    expect(typo.message).toBe('match-test: rules[0].match.prefx: unknown field');
    const syntax = await WasmEmulator.create({ wasm, pluginConfiguration: '{"rules":[{"name":"a",}]}' }).catch((e) => e);
    expect(syntax.message).toBe('match-test: invalid JSON: trailing comma (line 1, column 22)');
  });
});
