/**
 * Runs a wasm plugin's own configure step (`proxy_on_vm_start` + `proxy_on_configure`) on
 * the project's proxy-wasm host (harness/host `createWasmPlugin`), so that `mesh-filters
 * validate` can name a rejected filter configuration with the plugin's own error line and
 * the filter's JSON path (Envoy's validate mode runs the same step but reports only
 * `Unable to create Wasm plugin <name>`, and stops at the first).
 *
 * The VM gets the services a configure step may touch: a clock and timers (real), HTTP
 * and gRPC calls that are accepted for the bootstrap's clusters and never answered
 * (unknown clusters are refused, as Envoy refuses them when it serves), and a log sink that
 * keeps the plugin's lines out of the user's way (the host reports the failing line itself).
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
  /** Clusters that `proxy_http_call` may name; undefined: any (an Istio manifest, whose clusters are Istio's). */
  clusters?: ReadonlySet<string>;
  /** The bootstrap's `node`. */
  node?: { id: string; cluster: string };
}

export type PluginCheck =
  | { status: 'ok' }
  /** `proxy_on_vm_start` or `proxy_on_configure` returned false: `message` is the plugin's error line. */
  | { status: 'rejected'; message: string }
  /** The module did not load, start or link (`Unable to create Wasm plugin <name>: <why>`). */
  | { status: 'unloadable'; message: string };

/** Configures the plugin on a throw-away VM and reports whether the plugin accepted its configuration. */
export async function checkPluginConfiguration(plugin: PluginUnderTest): Promise<PluginCheck> {
  // Loaded on first use: the host is not needed to check a bootstrap without wasm filters.
  const { createWasmPlugin, WasmPluginError } = await import('../host/index.ts');
  const { FailState } = await import('../host/abi.ts');
  const known = (cluster: string) => !plugin.clusters || plugin.clusters.has(cluster);
  const pending = { cancel() {} };
  try {
    const instance = await createWasmPlugin(
      {
        name: plugin.name,
        rootId: plugin.rootId,
        vmId: plugin.vmId,
        code: plugin.module,
        configuration: plugin.configuration,
        vmConfiguration: plugin.vmConfiguration,
        environmentVariables: plugin.environment,
      },
      {
        log: () => {},
        httpCall: (cluster) => (known(cluster) ? pending : false),
        grpcCall: (request) => (known(request.cluster) ? pending : false),
        grpcStream: (request) => (known(request.cluster) ? { ...pending, send() {}, close() {} } : false),
        node: plugin.node ?? { id: 'mesh-filters-validate', cluster: 'mesh-filters' },
      },
    );
    instance.close();
    return { status: 'ok' };
  } catch (e) {
    if (e instanceof WasmPluginError) return { status: e.failState === FailState.ConfigureFailed ? 'rejected' : 'unloadable', message: e.message };
    throw e;
  }
}
