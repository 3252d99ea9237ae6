// Context registry: root context factories, and the map from context id to object
// that the exported callbacks (exports.ts) dispatch through.

import { getPropertyString } from './host';
import { Context, ContextKind, RootContext } from './context';
import { enterContext, leaveContext } from './state';

/** Makes the root context of a plugin; called once per plugin per VM. */
export type RootContextFactory = (contextId: u32) => RootContext;

class Registration {
  constructor(readonly rootId: string, readonly factory: RootContextFactory) {}
}

// @ts-ignore: decorator
@lazy const registrations = new Array<Registration>();
let anyRootIdNamed = false;

/**
 * Registers the root context factory of the module, at the top level of the filter's
 * entry file (it runs in `_initialize`, where Envoy allows no hostcalls but logging, so
 * the factory is only stored). With `rootId`, the factory serves only the plugin whose
 * `root_id` matches (property `plugin_root_id`); "" serves any plugin without a match.
 */
export function registerRootContext(factory: RootContextFactory, rootId: string = ''): void {
  registrations.push(new Registration(rootId, factory));
  if (rootId.length > 0) anyRootIdNamed = true;
}

// @ts-ignore: decorator
@lazy const PLUGIN_ROOT_ID: string[] = ['plugin_root_id'];

function chooseFactory(): RootContextFactory | null {
  const n = registrations.length;
  if (n == 0) return null;
  if (!anyRootIdNamed) return unchecked(registrations[0]).factory;
  const rootId = getPropertyString(PLUGIN_ROOT_ID);
  let fallback: RootContextFactory | null = null;
  for (let i = 0; i < n; i++) {
    const r = unchecked(registrations[i]);
    if (rootId !== null && r.rootId == rootId) return r.factory;
    if (r.rootId.length == 0 && !fallback) fallback = r.factory;
  }
  return fallback;
}

// @ts-ignore: decorator
@lazy const contexts = new Map<u32, Context>();
// Consecutive callbacks mostly hit the same context: skip the hash lookup then.
let cachedId: u32 = 0;
let cachedContext: Context | null = null;

/** The live context with `contextId`, or null. */
export function findContext(contextId: u32): Context | null {
  const cached = cachedContext;
  if (cached && cachedId == contextId) return cached;
  if (!contexts.has(contextId)) return null;
  const found = contexts.get(contextId);
  cachedId = contextId;
  cachedContext = found;
  return found;
}

/** Number of live contexts (for tests and leak checks). */
export function contextCount(): i32 {
  return contexts.size;
}

/** `proxy_on_context_create`: a root context when `parentContextId` is 0, else a stream's. */
export function createContext(contextId: u32, parentContextId: u32): void {
  const saved = enterContext(contextId);
  if (parentContextId == 0) {
    const factory = chooseFactory();
    if (factory) contexts.set(contextId, factory(contextId));
  } else {
    const parent = findContext(parentContextId);
    if (parent && parent.contextKind == ContextKind.Root) {
      const root = changetype<RootContext>(parent);
      const http = root.createHttpContext(contextId);
      if (http) {
        contexts.set(contextId, http);
      } else {
        const stream = root.createStreamContext(contextId);
        if (stream) contexts.set(contextId, stream);
      }
    }
  }
  leaveContext(saved);
}

/** `proxy_on_delete`: the context's `onDelete`, then the SDK forgets it. */
export function deleteContext(contextId: u32): void {
  const context = findContext(contextId);
  if (!context) return;
  const saved = enterContext(contextId);
  context.onDelete();
  leaveContext(saved);
  context.markDeleted();
  contexts.delete(contextId);
  if (cachedId == contextId) cachedContext = null;
}
