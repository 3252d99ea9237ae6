/**
 * Helpers for the host fidelity suites: the probe module (test/wasm/host-probe), which
 * runs a script of raw hostcalls in its callbacks and logs `<line> -> <status> [value]`,
 * driven through the emulator.
 */
import path from 'node:path';
import { projectRoot } from '../../harness/build.ts';
import { type EmulatorOptions, WasmEmulator } from '../../harness/host/emulator.ts';
import type { WasmPlugin } from '../../harness/host/plugin.ts';
import { testModule } from '../../harness/host/testing.ts';

export const PROBE_WASM = path.join(projectRoot, 'build/test/host-probe.wasm');
export const EXAMPLE_WASM = path.join(projectRoot, 'build/test/example.wasm');

export interface Probe extends WasmEmulator {}

/** A probe plugin whose configuration is `script` (lines `<phase> <op> <args>`). */
export async function probe(script: string[] | string, options: Partial<EmulatorOptions> = {}): Promise<WasmEmulator> {
  await testModule('test-host-probe');
  return WasmEmulator.create({
    wasm: PROBE_WASM,
    pluginConfiguration: Array.isArray(script) ? script.join('\n') : script,
    ...options,
  });
}

/**
 * What the probe logged for script line `line` (everything after ` -> `), in order:
 * e.g. `['0 /', '1']` for two runs of a get_header line.
 */
export function results(emu: WasmEmulator, line: string): string[] {
  const prefix = `${line} -> `;
  return emu.getLogs().filter((l) => l.startsWith(prefix)).map((l) => l.slice(prefix.length));
}

/** The single result of `line`; fails the test if it ran a different number of times. */
export function result(emu: WasmEmulator, line: string): string {
  const r = results(emu, line);
  if (r.length !== 1) throw new Error(`expected one result for "${line}", got ${JSON.stringify(r)}\nlogs:\n${emu.getLogs().join('\n')}`);
  return r[0];
}

/** The status code part of a result. */
export function status(emu: WasmEmulator, line: string): number {
  return Number(result(emu, line).split(' ')[0]);
}

/** Replaces a probe plugin's script at run time (through its `probe_set_script` export). */
export function setScript(plugin: WasmPlugin, script: string[]): void {
  const wasm = plugin.wasm;
  const exports = wasm.exports as { probe_alloc(n: number): number; probe_set_script(p: number, n: number): void };
  const bytes = Buffer.from(script.join('\n'));
  const ptr = exports.probe_alloc(bytes.length);
  wasm.mem.refresh();
  wasm.mem.u8.set(bytes, ptr);
  exports.probe_set_script(ptr, bytes.length);
}

/** Standard request headers. */
export const GET = { ':method': 'GET', ':path': '/items?id=7', ':authority': 'example.com', ':scheme': 'http', 'x-request-id': 'r-1' };
