/** The emulator (harness/host/emulator.ts, fake clock) set up as the filter suites run a filter. */
import { WasmEmulator, type EmulatorOptions } from '../../harness/host/emulator.ts';

/**
 * Runs `wasm` under `rootId` (also its vm_id) with `config` as plugin configuration (an
 * object is written as JSON); `options` adds to or overrides the rest.
 */
export function filterEmulator(rootId: string, wasm: string, config: unknown, options: Partial<EmulatorOptions> = {}): Promise<WasmEmulator> {
  return WasmEmulator.create({
    wasm,
    rootId,
    vmId: rootId,
    pluginConfiguration: typeof config === 'string' ? config : JSON.stringify(config),
    ...options,
  });
}
