/**
 * One plugin instead of several: rewrites a bootstrap's consecutive `envoy.filters.http.wasm`
 * entries of this project's filters (jwt-auth, rate-limit, circuit-breaker, retry, each with
 * its `build/<filter>.wasm`) into one entry of the mesh module (`build/mesh.wasm`,
 * filters/mesh), configured with their configurations in the same order. Envoy then pays
 * its per-plugin cost (a proxy-wasm context per stream, a VM entry per callback) once per
 * request instead of once per filter; the filters behave as they did
 * (assembly/proxy-wasm/chain.ts). `mesh-filters combine` and `run|demo --one-module` use it.
 * `combineWasmPlugins` does the same for Istio: the `WasmPlugin`s of our filters that select
 * the same workloads and traffic become one `WasmPlugin` of the mesh image.
 */
import path from 'node:path';

type Doc = Record<string, any>;

/** The project's filters, which the mesh module holds (filters/mesh/config.ts `FILTER_NAMES`). */
export const MESH_MEMBERS = ['jwt-auth', 'rate-limit', 'circuit-breaker', 'retry'] as const;

/** Whether `name` is one of our filters (`MESH_MEMBERS`). */
function isMember(name: unknown): boolean {
  return (MESH_MEMBERS as readonly unknown[]).includes(name);
}

/** Whether `file` is the module of our filter `name` (`<dir>/<name>.wasm`), which the mesh module can stand in for. */
export function isMemberModule(name: string, file: string): boolean {
  return isMember(name) && path.basename(file) === `${name}.wasm`;
}

/** The mesh module's configuration: `members` (each a filter's name and its configuration) in order. */
export function meshConfiguration(members: readonly { name: string; config: unknown }[]): { filters: { name: string; config: unknown }[] } {
  return { filters: members.map((m) => ({ name: m.name, config: m.config })) };
}

const WASM_FILTER = 'envoy.filters.http.wasm';
const STRING_VALUE = 'type.googleapis.com/google.protobuf.StringValue';

/** The member a wasm entry is (its `root_id`), when it runs this project's module of that name; else null. */
function memberOf(entry: Doc): { name: string; config: unknown; plugin: Doc } | null {
  if (entry?.name !== WASM_FILTER) return null;
  const plugin = entry.typed_config?.config;
  const rootId = plugin?.root_id;
  const file: unknown = plugin?.vm_config?.code?.local?.filename;
  if (typeof rootId !== 'string' || typeof file !== 'string' || !isMemberModule(rootId, file)) return null;
  const value = plugin.configuration?.value;
  return { name: rootId, config: typeof value === 'string' ? JSON.parse(value) : {}, plugin };
}

// Envoy's PluginConfig failure policies, least strict first; unset is FAIL_CLOSED
// (envoy.extensions.wasm.v3.PluginConfig: `fail_open` is the older spelling of FAIL_OPEN).
const FAILURE_POLICIES = ['FAIL_OPEN', 'FAIL_RELOAD', 'FAIL_CLOSED'] as const;

function failurePolicy(plugin: Doc): (typeof FAILURE_POLICIES)[number] {
  if (plugin.fail_open === true) return 'FAIL_OPEN';
  const policy = plugin.failure_policy;
  return policy === 'FAIL_OPEN' || policy === 'FAIL_RELOAD' ? policy : 'FAIL_CLOSED';
}

/**
 * The mesh plugin's entry for `members`: the first's plugin fields (runtime, VM settings),
 * `build/mesh.wasm` beside the first's module, and the strictest of the members' failure
 * policies (one module fails as a whole: a fail-closed jwt-auth must not be let open by a
 * fail-open rate-limit beside it).
 */
function meshEntry(members: { name: string; config: unknown; plugin: Doc }[]): Doc {
  const { fail_open: _open, failure_policy: _policy, ...first } = members[0].plugin;
  const file: string = first.vm_config.code.local.filename;
  const configuration = meshConfiguration(members);
  const strictest = Math.max(...members.map((m) => FAILURE_POLICIES.indexOf(failurePolicy(m.plugin))));
  return {
    name: WASM_FILTER,
    typed_config: {
      '@type': 'type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm',
      config: {
        ...first,
        failure_policy: FAILURE_POLICIES[strictest],
        name: 'mesh',
        root_id: 'mesh',
        vm_config: { ...first.vm_config, vm_id: 'mesh', code: { local: { filename: path.join(path.dirname(file), 'mesh.wasm') } } },
        configuration: { '@type': STRING_VALUE, value: JSON.stringify(configuration, null, 2) },
      },
    },
  };
}

/** `filters` with each run of two or more consecutive members replaced by one mesh entry; `runs` counts them. */
export function combineHttpFilters(filters: Doc[]): { filters: Doc[]; runs: number } {
  const out: Doc[] = [];
  let runs = 0;
  for (let i = 0; i < filters.length; ) {
    const run: { name: string; config: unknown; plugin: Doc }[] = [];
    let j = i;
    for (let m = memberOf(filters[j]); m !== null; m = memberOf(filters[j])) {
      run.push(m);
      j++;
    }
    if (run.length >= 2) {
      out.push(meshEntry(run));
      runs++;
      i = j;
    } else {
      out.push(filters[i]);
      i++;
    }
  }
  return { filters: out, runs };
}

/**
 * A copy of `bootstrap` whose every HTTP connection manager (static listeners) has its runs of
 * member filters combined; `combined` counts the mesh entries made (0: nothing to combine).
 */
export function combineBootstrap(bootstrap: Doc): { bootstrap: Doc; combined: number } {
  const doc = structuredClone(bootstrap);
  let combined = 0;
  for (const listener of doc.static_resources?.listeners ?? []) {
    for (const chain of listener.filter_chains ?? []) {
      for (const filter of chain.filters ?? []) {
        const hcm = filter.typed_config;
        if (filter.name !== 'envoy.filters.network.http_connection_manager' || !Array.isArray(hcm?.http_filters)) continue;
        const { filters, runs } = combineHttpFilters(hcm.http_filters);
        hcm.http_filters = filters;
        combined += runs;
      }
    }
  }
  return { bootstrap: doc, combined };
}

// --- Istio ------------------------------------------------------------------------

// Istio's chain order: by phase (UNSPECIFIED_PHASE goes last, before the router), then by
// priority, higher first (extensions.istio.io/v1alpha1 WasmPlugin `phase`, `priority`).
const PHASES = ['AUTHN', 'AUTHZ', 'STATS', 'UNSPECIFIED_PHASE'];
const phaseRank = (spec: Doc) => Math.max(0, PHASES.indexOf(spec.phase ?? 'UNSPECIFIED_PHASE'));

/** Whether `doc` is a WasmPlugin of one of our filters, by its `pluginName` and its image's name. */
function isMemberPlugin(doc: Doc): boolean {
  if (doc?.kind !== 'WasmPlugin') return false;
  const spec = doc.spec ?? {};
  const image = typeof spec.url === 'string' ? spec.url.split('/').pop()!.split(/[:@]/)[0] : '';
  return isMember(spec.pluginName) && image === spec.pluginName;
}

/**
 * `docs` with the WasmPlugins of our filters that apply to the same traffic (namespace,
 * `selector`/`targetRefs`, `match`, `type`) replaced, where there are two or more, by one
 * WasmPlugin of the mesh image (`url` with the image name `mesh`, `sha256` `meshDigest`):
 * the members in Istio's order, placed at the first one's phase and priority (so the
 * members after it move up to it, ahead of other filters between), failing closed if any
 * member does (Istio's default `failStrategy` is FAIL_CLOSE). Other documents stay as they are.
 */
export function combineWasmPlugins(docs: Doc[], meshDigest?: string): { docs: Doc[]; combined: number } {
  const groups = new Map<string, Doc[]>();
  for (const doc of docs.filter(isMemberPlugin)) {
    const s = doc.spec;
    const key = JSON.stringify([doc.metadata?.namespace, s.selector, s.targetRefs ?? s.targetRef, s.match, s.type]);
    groups.set(key, [...(groups.get(key) ?? []), doc]);
  }
  const replaced = new Map<Doc, Doc | null>();
  const several = [...groups.values()].filter((g) => g.length >= 2).length > 1;
  for (const group of groups.values()) {
    if (group.length < 2) continue;
    const ordered = [...group].sort((a, b) => phaseRank(a.spec) - phaseRank(b.spec) || (b.spec.priority ?? 0) - (a.spec.priority ?? 0));
    const first = ordered[0];
    const { pluginConfig: _config, failStrategy: _fail, sha256: _sha, ...spec } = first.spec;
    const closed = ordered.some((d) => (d.spec.failStrategy ?? 'FAIL_CLOSE') === 'FAIL_CLOSE');
    const mesh: Doc = {
      apiVersion: first.apiVersion,
      kind: 'WasmPlugin',
      // One per group, named after its first member where there are several (sidecars: inbound, outbound).
      metadata: { name: several ? `mesh-${first.metadata?.name}` : 'mesh', ...(first.metadata?.namespace ? { namespace: first.metadata.namespace } : {}) },
      spec: {
        ...spec,
        url: spec.url.replace(/\/[^/]+$/, (last: string) => last.replace(/^\/[^:@]+/, '/mesh')),
        ...(meshDigest ? { sha256: meshDigest } : {}),
        pluginName: 'mesh',
        failStrategy: closed ? 'FAIL_CLOSE' : 'FAIL_OPEN',
        pluginConfig: meshConfiguration(ordered.map((d) => ({ name: d.spec.pluginName, config: d.spec.pluginConfig ?? {} }))),
      },
    };
    replaced.set(group[0], mesh);
    for (const d of group.slice(1)) replaced.set(d, null);
  }
  const out: Doc[] = [];
  for (const doc of docs) {
    if (!replaced.has(doc)) out.push(doc);
    else if (replaced.get(doc)) out.push(replaced.get(doc)!);
  }
  return { docs: out, combined: [...replaced.values()].filter(Boolean).length };
}
