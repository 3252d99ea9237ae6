/**
 * hello: the smallest complete filter, in the shape every filter here has:
 *
 * - `index.ts`: the module's exports (the ABI callbacks Envoy calls) and registration;
 * - `config.ts`: `parseConfig(reader): ConfigResult<T>`, the plugin's JSON read once;
 * - `plugin.ts`: the root context and the stream contexts;
 * - `stats.ts`: the metrics, named in one place.
 *
 * Its tests are beside it (`hello.test.ts`, on the project's proxy-wasm host and on Envoy).
 * It sets a greeting header on each request and answers 403 under a configured path prefix.
 */
// Only the callbacks hello handles: Envoy skips a callback a module does not export.
export * from "../../assembly/proxy-wasm/exports-core";
export { proxy_on_request_headers } from "../../assembly/proxy-wasm/exports";

import { RootContext, registerRootContext } from "../../assembly/proxy-wasm";
import { HelloRoot } from "./plugin";

registerRootContext((contextId: u32): RootContext => new HelloRoot(contextId));
