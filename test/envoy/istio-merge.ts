/**
 * An Istio `EnvoyFilter`'s MERGE patches applied to an Envoy bootstrap's static listeners
 * and route configurations, the way istiod applies them to what it generates
 * (`pilot/pkg/networking/core/envoyfilter`: `proto.Merge` of the patch into each matching
 * object), so that a test can run the result on Envoy. Only what the manifests under
 * envoy/istio use is modelled: `VIRTUAL_HOST`, `HTTP_ROUTE` (match on vhost name, route
 * name, route action) and `NETWORK_FILTER` (match on the filter's name) with `MERGE`;
 * anything else throws, so a manifest that outgrows this fails its test loudly.
 */

type Msg = Record<string, any>;

/**
 * `proto.Merge` on the JSON form of two messages: fields of `patch` set in `target`,
 * messages merged field by field, repeated fields appended, scalars (and `Duration`
 * strings) replaced. An `Any` (`@type`) of the same type merges like a message.
 */
export function protoMerge(target: Msg, patch: Msg): Msg {
  for (const [k, v] of Object.entries(patch)) {
    const cur = target[k];
    if (Array.isArray(v)) target[k] = [...(Array.isArray(cur) ? cur : []), ...structuredClone(v)];
    else if (v && typeof v === 'object' && cur && typeof cur === 'object' && !Array.isArray(cur)) protoMerge(cur, v);
    else target[k] = structuredClone(v);
  }
  return target;
}

const ACTIONS = { route: 'ROUTE', redirect: 'REDIRECT', direct_response: 'DIRECT_RESPONSE' } as const;

function routeAction(route: Msg): string {
  return Object.entries(ACTIONS).find(([k]) => k in route)?.[1] ?? 'ANY';
}

const HCM = 'envoy.filters.network.http_connection_manager';

/** Every HTTP connection manager filter of the bootstrap's static listeners. */
function connectionManagers(doc: Msg): Msg[] {
  return (doc.static_resources?.listeners ?? []).flatMap((l: Msg) => (l.filter_chains ?? []).flatMap((c: Msg) => (c.filters ?? []).filter((f: Msg) => f.name === HCM)));
}

/**
 * Applies `spec.configPatches` whose `match.context` is `context` to `doc` (in place), in
 * order. Returns how many objects each patch merged into, in patch order.
 */
export function applyEnvoyFilter(doc: Msg, spec: Msg, context: 'GATEWAY' | 'SIDECAR_INBOUND' | 'SIDECAR_OUTBOUND'): number[] {
  return (spec.configPatches as Msg[]).filter((p) => [context, 'ANY'].includes(p.match?.context ?? 'ANY')).map((p) => {
    if (p.patch?.operation !== 'MERGE') throw new Error(`not modelled: operation ${p.patch?.operation}`);
    const value = p.patch.value as Msg;
    let merged = 0;
    const merge = (target: Msg) => {
      protoMerge(target, value);
      merged++;
    };
    if (p.applyTo === 'NETWORK_FILTER') {
      const name = p.match?.listener?.filterChain?.filter?.name;
      if (name !== HCM) throw new Error(`not modelled: NETWORK_FILTER ${name}`);
      connectionManagers(doc).forEach(merge);
      return merged;
    }
    const vhostMatch = p.match?.routeConfiguration?.vhost ?? {};
    const routeMatch = vhostMatch.route ?? {};
    for (const hcm of connectionManagers(doc)) {
      for (const vhost of hcm.typed_config?.route_config?.virtual_hosts ?? []) {
        if (vhostMatch.name && vhost.name !== vhostMatch.name) continue;
        if (p.applyTo === 'VIRTUAL_HOST') merge(vhost);
        else if (p.applyTo === 'HTTP_ROUTE') {
          for (const route of vhost.routes ?? []) {
            if (routeMatch.name && route.name !== routeMatch.name) continue;
            if (routeMatch.action && routeMatch.action !== 'ANY' && routeAction(route) !== routeMatch.action) continue;
            merge(route);
          }
        } else throw new Error(`not modelled: applyTo ${p.applyTo}`);
      }
    }
    return merged;
  });
}
