// The connection manager's request header mutation against Envoy's
// source/common/http/conn_manager_utility.cc (mutateRequestHeaders, cleanInternalHeaders)
// and conn_manager_impl.cc (the downstream remote address a filter sees as
// `source.address`), in process: a capture filter records what the first HTTP filter gets.
import { describe, expect, it } from 'vitest';
import { FilterHeadersStatus, type DecoderFilterCallbacks, type HttpFilter, type StreamInfo } from '../../harness/host/filter.ts';
import type { HeaderMap, HeaderPair } from '../../harness/host/header-map.ts';
import { parseBootstrap } from '../../harness/proxy/bootstrap.ts';
import { ClusterManager } from '../../harness/proxy/cluster-manager.ts';
import { ConnectionManager, streamFilterFactory } from '../../harness/proxy/connection-manager.ts';
import { ProxyStats } from '../../harness/proxy/stats.ts';
import { bootstrap } from '../integration/bootstrap.ts';

interface Seen {
  headers: Record<string, string>;
  source: string;
}

/** One request through a connection manager configured with `hcm`; what the first filter saw. */
function send(hcm: Record<string, unknown>, remote: string, headers: HeaderPair[]): Seen {
  const b = parseBootstrap(bootstrap({ virtualHosts: [{ routes: [{ match: { prefix: '/' }, route: { cluster: 'c' } }] }], clusters: { c: { endpoints: ['127.0.0.1:1'] } }, hcm }));
  const stats = ProxyStats.create(b, new Map());
  let seen: Seen | undefined;
  const capture = (info: StreamInfo): HttpFilter => {
    let cb!: DecoderFilterCallbacks;
    return {
      setDecoderFilterCallbacks: (c) => (cb = c),
      setEncoderFilterCallbacks() {},
      decodeHeaders(h: HeaderMap) {
        seen = { headers: Object.fromEntries(h.entries()), source: info.downstreamRemoteAddress };
        cb.sendLocalReply({ status: 200, body: '', details: 'captured' });
        return FilterHeadersStatus.StopIteration;
      },
    };
  };
  const noop = () => {};
  const cm = new ConnectionManager(
    b.listeners[0],
    [streamFilterFactory('capture', capture)],
    { clusters: new ClusterManager(b.clusters, new Map(), stats), stats },
    stats,
    { headers: noop, data: noop, trailers: noop, reset: noop, pauseReading: noop, resumeReading: noop },
    b.node,
  );
  cm.onHeaders({ id: 1, connectionId: 1, protocol: 'HTTP/1.1', remote, local: '192.0.2.100:8080', endStream: true, headers: [[':method', 'GET'], [':path', '/'], [':authority', 'svc'], [':scheme', 'http'], ...headers].flat() });
  if (!seen) throw new Error('the filter saw no request');
  return seen;
}

const RETRY: HeaderPair = ['x-envoy-retry-on', '5xx'];

describe('internal and external requests (mutateRequestHeaders)', () => {
  it('defaults (Envoy >= 1.33): no internal_address_config trusts nobody, loopback and RFC1918 included', () => {
    for (const remote of ['127.0.0.1:5000', '10.1.2.3:5000']) {
      const seen = send({}, remote, [RETRY, ['x-forwarded-for', remote.split(':')[0]]]);
      expect(seen.headers['x-envoy-retry-on']).toBeUndefined();
      expect(seen.headers['x-envoy-internal']).toBeUndefined();
    }
  });

  it('use_remote_address false: the client is the last XFF address, internal when it is the only one and inside internal_address_config', () => {
    const hcm = { internal_address_config: { cidr_ranges: [{ address_prefix: '10.0.0.0', prefix_len: 8 }] } };
    const internal = send(hcm, '192.0.2.1:4000', [RETRY, ['x-forwarded-for', '10.1.2.3']]);
    expect(internal.headers).toMatchObject({ 'x-envoy-internal': 'true', 'x-envoy-retry-on': '5xx', 'x-forwarded-proto': 'http' });
    // An address parsed from XFF has port 0 (Utility::getLastAddressFromXFF), and becomes the downstream remote address.
    expect(internal.source).toBe('10.1.2.3:0');
    const twoHops = send(hcm, '192.0.2.1:4000', [RETRY, ['x-forwarded-for', '10.9.9.9, 10.1.2.3']]);
    expect(twoHops.headers['x-envoy-internal']).toBeUndefined();
    expect(twoHops.headers['x-envoy-retry-on']).toBeUndefined();
    const noXff = send(hcm, '10.1.2.3:4000', [RETRY]);
    expect(noXff.headers['x-envoy-retry-on']).toBeUndefined();
    expect(noXff.source).toBe('10.1.2.3:4000');
  });

  it('use_remote_address: the peer is the client (XFF appended), an edge request gets x-envoy-external-address and a fresh x-request-id', () => {
    const seen = send({ use_remote_address: true }, '198.51.100.7:4000', [RETRY, ['x-forwarded-for', '203.0.113.1'], ['x-forwarded-proto', 'https'], ['x-request-id', 'client-chosen']]);
    expect(seen.headers['x-forwarded-for']).toBe('203.0.113.1,198.51.100.7');
    expect(seen.headers['x-forwarded-proto']).toBe('http');
    expect(seen.headers['x-envoy-external-address']).toBe('198.51.100.7');
    expect(seen.headers['x-envoy-retry-on']).toBeUndefined();
    expect(seen.headers['x-request-id']).not.toBe('client-chosen');
    expect(seen.source).toBe('198.51.100.7:4000');
    const kept = send({ use_remote_address: true, preserve_external_request_id: true }, '198.51.100.7:4000', [['x-request-id', 'client-chosen']]);
    expect(kept.headers['x-request-id']).toBe('client-chosen');
  });

  it('use_remote_address with xff_num_trusted_hops: the client comes from XFF (port 0) and a trusted x-forwarded-proto stays', () => {
    const seen = send({ use_remote_address: true, xff_num_trusted_hops: 1 }, '198.51.100.7:4000', [['x-forwarded-for', '203.0.113.1'], ['x-forwarded-proto', 'https']]);
    expect(seen.headers['x-forwarded-proto']).toBe('https');
    expect(seen.headers['x-envoy-external-address']).toBe('203.0.113.1');
    expect(seen.source).toBe('203.0.113.1:0');
  });

  it('a loopback peer is appended to XFF as the listener address; internal_address_config makes it internal', () => {
    const seen = send({ use_remote_address: true, internal_address_config: { cidr_ranges: [{ address_prefix: '127.0.0.0', prefix_len: 8 }] } }, '127.0.0.1:4000', [RETRY]);
    expect(seen.headers['x-forwarded-for']).toBe('192.0.2.100');
    expect(seen.headers).toMatchObject({ 'x-envoy-internal': 'true', 'x-envoy-retry-on': '5xx' });
    expect(seen.headers['x-envoy-external-address']).toBeUndefined();
  });
});
