/**
 * Route selection for one `route_config`, after Envoy's source/common/router/config_impl.cc:
 * the virtual host by `:authority` (exact domain, then the longest `*.suffix` wildcard,
 * then the longest `prefix.*`, then `*`; the port is ignored only with
 * `ignore_port_in_host_matching`), then the first route whose `match` holds: path
 * specifier (`prefix` / `path` on the path without query, `safe_regex` on the same),
 * `case_sensitive`, every `headers` matcher, and `grpc`.
 */
import type { HeaderMap } from '../host/header-map.ts';
import type { HeaderMatcherConfig, RouteConfig, RouteConfiguration, VirtualHostConfig } from './bootstrap.ts';
import type { ResolvedRoute } from './filter-manager.ts';
import { isGrpcContentType } from './local-reply.ts';
import type { RouteEntry } from './router.ts';

function headerMatches(m: HeaderMatcherConfig, headers: HeaderMap): boolean {
  // Multiple values are matched joined with ',' (HeaderUtility::getAllOfHeaderAsString).
  const values = headers.getAll(m.name);
  let result: boolean;
  if (!values.length) result = m.present === false;
  else {
    let v = values.join(',');
    if (m.present !== undefined) result = m.present;
    else {
      let exact = m.exact, prefix = m.prefix, suffix = m.suffix, contains = m.contains;
      if (m.ignoreCase) {
        v = v.toLowerCase();
        exact = exact?.toLowerCase();
        prefix = prefix?.toLowerCase();
        suffix = suffix?.toLowerCase();
        contains = contains?.toLowerCase();
      }
      if (exact !== undefined) result = v === exact;
      else if (prefix !== undefined) result = v.startsWith(prefix);
      else if (suffix !== undefined) result = v.endsWith(suffix);
      else if (contains !== undefined) result = v.includes(contains);
      else if (m.regex) result = m.regex.test(v);
      else result = true; // name only: presence
    }
  }
  return m.invert ? !result : result;
}

function routeMatches(r: RouteConfig, path: string, headers: HeaderMap): boolean {
  const m = r.match;
  const p = m.caseSensitive ? path : path.toLowerCase();
  if (m.prefix !== undefined) {
    if (!p.startsWith(m.caseSensitive ? m.prefix : m.prefix.toLowerCase())) return false;
  } else if (m.path !== undefined) {
    if (p !== (m.caseSensitive ? m.path : m.path.toLowerCase())) return false;
  } else if (m.safeRegex && !m.safeRegex.test(path)) return false;
  if (m.grpc && !isGrpcContentType(headers.get('content-type'))) return false;
  for (const h of m.headers) if (!headerMatches(h, headers)) return false;
  return true;
}

export class RouteTable {
  private readonly exact = new Map<string, VirtualHostConfig>();
  private readonly suffixes: [string, VirtualHostConfig][] = [];
  private readonly prefixes: [string, VirtualHostConfig][] = [];
  private wildcard: VirtualHostConfig | undefined;
  private readonly entries = new Map<RouteConfig, ResolvedRoute<RouteEntry>>();

  constructor(readonly config: RouteConfiguration) {
    for (const vh of config.virtualHosts) {
      for (const d of vh.domains) {
        if (d === '*') this.wildcard ??= vh;
        else if (d.startsWith('*')) this.suffixes.push([d.slice(1), vh]);
        else if (d.endsWith('*')) this.prefixes.push([d.slice(0, -1), vh]);
        else if (!this.exact.has(d)) this.exact.set(d, vh);
      }
      vh.routes.forEach((r) => {
        this.entries.set(r, {
          name: r.name,
          clusterName: r.action.kind === 'route' ? r.action.cluster : '',
          entry: { action: r.action, virtualHost: vh, prefix: r.match.prefix },
        });
      });
    }
    // Longest wildcard first (config_impl.cc keeps them in maps ordered by length, descending).
    this.suffixes.sort((a, b) => b[0].length - a[0].length);
    this.prefixes.sort((a, b) => b[0].length - a[0].length);
  }

  /** RouteMatcher::findVirtualHost. */
  findVirtualHost(authority: string): VirtualHostConfig | undefined {
    let host = authority.toLowerCase();
    if (this.config.ignorePortInHostMatching) {
      const colon = host.lastIndexOf(':');
      if (colon > 0 && !host.endsWith(']')) host = host.slice(0, colon);
    }
    const exact = this.exact.get(host);
    if (exact) return exact;
    for (const [suffix, vh] of this.suffixes) if (host.length > suffix.length && host.endsWith(suffix)) return vh;
    for (const [prefix, vh] of this.prefixes) if (host.length > prefix.length && host.startsWith(prefix)) return vh;
    return this.wildcard;
  }

  /** The route for a request, or null (no virtual host or no route matches). */
  resolve(headers: HeaderMap): ResolvedRoute<RouteEntry> | null {
    const vh = this.findVirtualHost(headers.get(':authority') ?? headers.get('host') ?? '');
    if (!vh) return null;
    const full = headers.get(':path') ?? '/';
    const q = full.indexOf('?');
    const path = q >= 0 ? full.slice(0, q) : full;
    for (const r of vh.routes) if (routeMatches(r, path, headers)) return this.entries.get(r)!;
    return null;
  }
}
