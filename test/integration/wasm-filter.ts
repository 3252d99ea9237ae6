/**
 * The `envoy.filters.http.wasm` entry the integration suites put in a bootstrap
 * (envoy.extensions.filters.http.wasm.v3.Wasm), as users write it.
 */
import { asMember } from '../../harness/host/testing.ts';

const STRING_VALUE = 'type.googleapis.com/google.protobuf.StringValue';

/**
 * Runs `wasm` under `rootId` (also the plugin name and vm_id) with `config` as its plugin
 * configuration (JSON, or a string as it is: the plain-text configurations of the SDK
 * example and other SDKs' modules), `vmConfiguration`, when given, as the VM
 * configuration, and `plugin`'s fields (`name`, `failure_policy`, ...) over the plugin's.
 */
export function wasmHttpFilter(rootId: string, filterWasm: string, filterConfig: unknown, vmConfiguration?: string, plugin: Record<string, unknown> = {}): Record<string, unknown> {
  // The vitest project `as-member`: the filter as the mesh module's one member.
  const { wasm, config } = asMember(rootId, filterWasm, filterConfig);
  const vm: Record<string, unknown> = { vm_id: rootId, runtime: 'envoy.wasm.runtime.v8', code: { local: { filename: wasm } } };
  if (vmConfiguration !== undefined) vm.configuration = { '@type': STRING_VALUE, value: vmConfiguration };
  const value = typeof config === 'string' ? config : JSON.stringify(config);
  return {
    name: 'envoy.filters.http.wasm',
    typed_config: {
      '@type': 'type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm',
      config: { name: rootId, root_id: rootId, vm_config: vm, configuration: { '@type': STRING_VALUE, value }, ...plugin },
    },
  };
}
