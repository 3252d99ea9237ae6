// Bootstrap reading: the typed model, defaults, one-line errors naming the path, warnings.
import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { parseBootstrap, ProxyConfigError } from '../../harness/proxy/bootstrap.ts';
import { startProxy } from '../../harness/proxy/index.ts';
import { bootstrap } from '../integration/bootstrap.ts';

const base = () => bootstrap({ virtualHosts: [{ routes: [{ match: { prefix: '/' }, route: { cluster: 'b', retry_policy: { retry_on: '5xx,unavailable', per_try_timeout: '0.25s', retry_back_off: { base_interval: '0.1s' } } } }] }], clusters: { b: { endpoints: ['127.0.0.1:9'], http2: true } } });

function hcm(doc: Record<string, unknown>): Record<string, unknown> {
  const l = (doc.static_resources as { listeners: Record<string, unknown>[] }).listeners[0];
  return ((l.filter_chains as Record<string, unknown>[])[0].filters as Record<string, unknown>[])[0].typed_config as Record<string, unknown>;
}

describe('bootstrap', () => {
  it('reads listeners, routes with retry policy, clusters and their protocol', () => {
    const b = parseBootstrap(base());
    const route = b.listeners[0].hcm.routeConfig.virtualHosts[0].routes[0];
    expect(route.action.kind).toBe('route');
    if (route.action.kind !== 'route') return;
    expect(route.action.timeoutMs).toBe(15_000);
    expect(route.action.retryPolicy).toMatchObject({ numRetries: 1, perTryTimeoutMs: 250, baseIntervalMs: 100 });
    expect(b.clusters.get('b')).toMatchObject({ protocol: 'HTTP2', connectTimeoutMs: 1000, maxRetries: 3 });
    expect(b.listeners[0].bufferLimitBytes).toBe(1 << 20);
    expect(b.warnings).toEqual([]);
  });

  it('rejects a route to an unknown cluster with the path', () => {
    const doc = base();
    (doc.static_resources as { clusters: unknown[] }).clusters = [];
    expect(() => parseBootstrap(doc)).toThrow(ProxyConfigError);
    expect(() => parseBootstrap(doc)).toThrow(/^static_resources\.listeners\[0\]\.filter_chains\[0\]\.filters\[0\]\.typed_config\.route_config\.virtual_hosts\[0\]\.routes\[0\]\.route\.cluster: unknown cluster 'b'$/);
  });

  it('rejects a missing wasm file, naming the field and the file', () => {
    const doc = base();
    (hcm(doc).http_filters as unknown[]).unshift({
      name: 'envoy.filters.http.wasm',
      typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm', config: { name: 'x', root_id: 'x', vm_config: { runtime: 'envoy.wasm.runtime.v8', code: { local: { filename: 'build/nope.wasm' } } } } },
    });
    expect(() => parseBootstrap(doc)).toThrow(/http_filters\[0\]\.typed_config\.config\.vm_config\.code\.local\.filename: cannot read wasm file build\/nope\.wasm/);
  });

  it('rejects fail_open together with failure_policy, as Envoy (wasm.cc PluginConfig)', () => {
    const doc = base();
    const wasm = (policy: Record<string, unknown>) => ({
      name: 'envoy.filters.http.wasm',
      typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm', config: { name: 'x', root_id: 'x', vm_config: { code: { local: { inline_bytes: '' } } }, ...policy } },
    });
    (hcm(doc).http_filters as unknown[]).unshift(wasm({ fail_open: true, failure_policy: 'FAIL_RELOAD' }));
    expect(() => parseBootstrap(doc)).toThrow(/http_filters\[0\]\.typed_config\.config: only one of fail_open or failure_policy can be set$/);
    (hcm(doc).http_filters as unknown[])[0] = wasm({ failure_policy: 'FAIL_RELOAD', reload_config: { backoff: { base_interval: '0.2s' } } });
    const plugin = parseBootstrap(doc).listeners[0].hcm.httpFilters[0];
    expect(plugin).toMatchObject({ kind: 'wasm', plugin: { failurePolicy: 'FAIL_RELOAD', reloadBaseIntervalMs: 200 } });
    (hcm(doc).http_filters as unknown[])[0] = wasm({ fail_open: true });
    expect(parseBootstrap(doc).listeners[0].hcm.httpFilters[0]).toMatchObject({ plugin: { failurePolicy: 'FAIL_OPEN' } });
  });

  it('rejects bad durations and unknown retry conditions', () => {
    const doc = base();
    const r = ((hcm(doc).route_config as { virtual_hosts: { routes: { route: Record<string, unknown> }[] }[] }).virtual_hosts[0].routes[0].route);
    r.timeout = '15';
    expect(() => parseBootstrap(doc)).toThrow(/routes\[0\]\.route\.timeout: expected a duration like "0\.25s"/);
    r.timeout = '1s';
    (r.retry_policy as Record<string, unknown>).retry_on = '5xx,typo';
    expect(() => parseBootstrap(doc)).toThrow(/retry_policy\.retry_on: unknown retry condition 'typo'/);
  });

  it('warns once per ignored field that changes behaviour', () => {
    const doc = base();
    (doc.static_resources as { clusters: Record<string, unknown>[] }).clusters[0].outlier_detection = { consecutive_5xx: 5 };
    hcm(doc).stream_idle_timeout = '1s';
    const b = parseBootstrap(doc);
    expect(b.warnings).toEqual([
      'static_resources.clusters[0].outlier_detection: not implemented by the embedded data plane; ignored',
      'static_resources.listeners[0].filter_chains[0].filters[0].typed_config.stream_idle_timeout: not implemented by the embedded data plane; ignored',
    ]);
  });

  it('a port in use fails the start with one line naming the listener', async () => {
    const blocker = net.createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', () => r()));
    const port = (blocker.address() as net.AddressInfo).port;
    try {
      const doc = bootstrap({ listenerPort: port, virtualHosts: [{ routes: [{ match: { prefix: '/' }, direct_response: { status: 200 } }] }], clusters: {} });
      await expect(startProxy({ bootstrap: doc, concurrency: 1, logLevel: 'off' })).rejects.toThrow(`static_resources.listeners[0].address: cannot bind 127.0.0.1:${port}: address already in use`);
    } finally {
      blocker.close();
    }
  });
});
