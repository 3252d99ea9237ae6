/**
 * Runs a wasm plugin's own configure step (`proxy_on_vm_start` + `proxy_on_configure`) on
 * the project's proxy-wasm host, so that `mesh-filters validate` rejects a filter
 * configuration exactly as Envoy would when it creates the listener: with the plugin's
 * own error line.
 */

/** One plugin as Envoy's `envoy.extensions.wasm.v3.PluginConfig` describes it. */
export interface PluginUnderTest {
  /** `PluginConfig.name`. */
  name: string;
  /** `PluginConfig.root_id` (the filter's name for this project's filters). */
  rootId: string;
  /** `VmConfig.vm_id`. */
  vmId: string;
  /** The module's bytes (`vm_config.code`). */
  module: Uint8Array;
  /** Plugin configuration bytes (`PluginConfig.configuration`, the filter's JSON). */
  configuration: Uint8Array;
  /** VM configuration bytes (`VmConfig.configuration`). */
  vmConfiguration: Uint8Array;
  /** `VmConfig.environment_variables.key_values`. */
  environment: Record<string, string>;
}

export type PluginCheck =
  | { status: 'ok' }
  /** `proxy_on_configure` returned false (or the VM failed to start); `message` is the plugin's error line. */
  | { status: 'rejected'; message: string }
  /** The check could not run (no host yet); `reason` says why. */
  | { status: 'unchecked'; reason: string };

/** Configures the plugin on a throw-away VM and reports whether the plugin accepted its configuration. */
export async function checkPluginConfiguration(plugin: PluginUnderTest): Promise<PluginCheck> {
  let host: Record<string, unknown>;
  try {
    const modulePath = '../host/index.ts'; // TODO(integration): static import once harness/host/index.ts lands
    host = (await import(modulePath)) as Record<string, unknown>;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ERR_MODULE_NOT_FOUND') {
      return { status: 'unchecked', reason: 'the proxy-wasm host (harness/host) is not available yet' };
    }
    throw e;
  }
  if (typeof host.createWasmPlugin !== 'function') {
    return { status: 'unchecked', reason: 'harness/host does not export createWasmPlugin yet' };
  }
  void plugin;
  return { status: 'unchecked', reason: 'harness/host integration pending' };
}
