// The ABI enums exist once on each side of the boundary and agree: the SDK's
// (assembly/proxy-wasm/abi/types.ts, read from its source) and the host's
// (harness/host/abi.ts and filter.ts, as the host runs them), name by name and value by value.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import * as hostAbi from '../../harness/host/abi.ts';
import * as hostFilter from '../../harness/host/filter.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');
const SDK_TYPES = 'assembly/proxy-wasm/abi/types.ts';

/** Enums only one side has, and why. */
const ONE_SIDED: Record<string, string> = {
  Action: "the spec's `proxy_action_t`; the host speaks Envoy's filter statuses",
  PeerType: 'TCP callbacks, which the host does not drive',
  FilterStatus: 'TCP callbacks, which the host does not drive',
};

type Members = Record<string, number>;

/** `export enum X { A = 1, B = -1 }` declarations of an AssemblyScript file; every member needs a literal value. */
function asEnums(source: string): Record<string, Members> {
  const code = source.replace(/\/\*[\s\S]*?\*\/|\/\/[^\n]*/g, '');
  const enums: Record<string, Members> = {};
  for (const [, name, body] of code.matchAll(/\benum\s+(\w+)\s*\{([^}]*)\}/g)) {
    const members: Members = {};
    for (const entry of body.split(',').map((e) => e.trim()).filter(Boolean)) {
      const m = /^(\w+)\s*=\s*(-?\d+)$/.exec(entry);
      if (!m) throw new Error(`${SDK_TYPES}: ${name} member \`${entry}\` has no integer literal value`);
      members[m[1]] = Number(m[2]);
    }
    enums[name] = members;
  }
  return enums;
}

/** The numeric enums a host module exports (TypeScript enum objects: names → values, plus values → names). */
function tsEnums(module: Record<string, unknown>): Record<string, Members> {
  const enums: Record<string, Members> = {};
  for (const [name, value] of Object.entries(module)) {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) continue;
    const record = value as Record<string, unknown>;
    const keys = Object.keys(record);
    const names = keys.filter((k) => !/^-?\d+$/.test(k));
    const values = keys.filter((k) => /^-?\d+$/.test(k));
    if (values.length === 0 || !names.every((k) => typeof record[k] === 'number')) continue;
    if (!values.every((v) => names.includes(record[v] as string))) continue;
    enums[name] = Object.fromEntries(names.map((k) => [k, record[k] as number]));
  }
  return enums;
}

const sdk = asEnums(readFileSync(path.join(ROOT, SDK_TYPES), 'utf8'));
const host = { ...tsEnums(hostAbi), ...tsEnums(hostFilter) };

describe('ABI enums, SDK and host', () => {
  it('reads the enums of both sides', () => {
    expect(Object.keys(sdk)).toContain('WasmResult');
    expect(sdk.GrpcStatus.None).toBe(-1);
    expect(Object.keys(host)).toEqual(expect.arrayContaining(['WasmResult', 'FilterHeadersStatus']));
    // String enums (AbiVersion, FailState) are the host's own, not wire values.
    expect(host).not.toHaveProperty('AbiVersion');
  });

  it('has the same enums on both sides, but for the one-sided ones listed', () => {
    const onlySdk = Object.keys(sdk).filter((n) => !(n in host));
    const onlyHost = Object.keys(host).filter((n) => !(n in sdk));
    expect(onlySdk.sort()).toEqual(Object.keys(ONE_SIDED).sort());
    expect(onlyHost).toEqual([]);
  });

  for (const name of Object.keys(sdk).filter((n) => !(n in ONE_SIDED))) {
    it(`${name}: the same members and values`, () => {
      expect(host[name], `${name} in the host (harness/host/abi.ts or filter.ts)`).toEqual(sdk[name]);
    });
  }

  it('declares each ABI enum once per side', () => {
    // This file is left out: the next test's examples are duplicates on purpose.
    const scanned = sourceFiles(['assembly', 'filters', 'harness', 'test', 'scripts']).filter((f) => f !== 'test/host/abi-enums.test.ts');
    const files = Object.fromEntries(scanned.map((f) => [f, readFileSync(path.join(ROOT, f), 'utf8')]));
    expect(duplicates(files)).toEqual([]);
  });

  it('would see a second declaration, as an enum or as an object standing in for one', () => {
    const files = {
      [SDK_TYPES]: 'export enum WasmResult { Ok = 0 }',
      'harness/host/abi.ts': 'export enum WasmResult { Ok = 0 }\nexport enum MapType { HttpRequestHeaders = 0 }',
      'test/sdk/fake-host.ts': 'export const enum WasmResult { Ok = 0 }\nexport const MapType = { HttpRequestHeaders: 0 } as const;',
      'test/wasm/example/index.ts': 'enum MapType { HttpRequestHeaders = 0 }',
    };
    expect(duplicates(files)).toEqual([
      'host MapType: harness/host/abi.ts, test/sdk/fake-host.ts',
      'host WasmResult: harness/host/abi.ts, test/sdk/fake-host.ts',
      'sdk MapType: test/wasm/example/index.ts',
    ]);
  });
});

const CANONICAL = new Set([SDK_TYPES, 'harness/host/abi.ts', 'harness/host/filter.ts']);

/**
 * `<side> <enum>: <files>` for each ABI enum declared more than once on a side, or outside
 * its side's canonical file (`enum X {`, or `const X = {` standing in for one). The SDK side
 * is what compiles to wasm (assembly/, filters/, test/wasm/); the rest is the host's.
 */
function duplicates(files: Record<string, string>): string[] {
  const names = [...new Set([...Object.keys(sdk), ...Object.keys(host)])].join('|');
  const declaration = new RegExp(`\\b(?:enum\\s+(${names})\\s*\\{|(?:const|let|var)\\s+(${names})\\s*=\\s*\\{)`, 'g');
  const where: Record<string, string[]> = {};
  for (const [file, text] of Object.entries(files)) {
    for (const m of text.matchAll(declaration)) {
      const side = file.startsWith('assembly/') || file.startsWith('filters/') || file.startsWith('test/wasm/') ? 'sdk' : 'host';
      (where[`${side} ${m[1] ?? m[2]}`] ??= []).push(file);
    }
  }
  return Object.entries(where)
    .filter(([, found]) => found.length > 1 || !CANONICAL.has(found[0]))
    .map(([key, found]) => `${key}: ${found.join(', ')}`)
    .sort();
}

function sourceFiles(dirs: string[]): string[] {
  const out: string[] = [];
  const walk = (dir: string): void => {
    for (const e of readdirSync(path.join(ROOT, dir), { withFileTypes: true })) {
      const rel = `${dir}/${e.name}`;
      if (e.isDirectory()) {
        if (e.name !== 'node_modules' && rel !== 'test/fixtures') walk(rel);
      } else if (e.name.endsWith('.ts')) out.push(rel);
    }
  };
  for (const d of dirs) walk(d);
  return out.sort();
}
