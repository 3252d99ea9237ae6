// proxy_get_property / proxy_set_property as Envoy encodes attributes
// (source/extensions/filters/common/expr/context.cc, common/wasm/context.cc
// serializeValue: strings raw, integers int64 little endian, bools one byte,
// timestamps int64 nanoseconds, maps as serialized pairs).
import { describe, expect, it } from 'vitest';
import { encodePairs } from '../../harness/host/pairs.ts';
import { WasmResult } from '../../harness/host/abi.ts';
import { GET, probe, result, results, status } from './probe.ts';

const NOT_FOUND = 1;
const hexOf = (s: string) => Buffer.from(s).toString('hex');
const int64 = (n: number | bigint) => {
  const b = Buffer.alloc(8);
  b.writeBigInt64LE(BigInt(n));
  return b.toString('hex');
};

describe('properties', () => {
  it('plugin properties: plugin_name, plugin_root_id, plugin_vm_id (strings)', async () => {
    const emu = await probe(['configure property plugin_name', 'configure property plugin_root_id', 'configure property plugin_vm_id'], {
      name: 'my-plugin',
      rootId: 'my-root',
      vmId: 'my-vm',
    });
    expect(result(emu, 'configure property plugin_name')).toBe(`0 ${hexOf('my-plugin')}`);
    expect(result(emu, 'configure property plugin_root_id')).toBe(`0 ${hexOf('my-root')}`);
    expect(result(emu, 'configure property plugin_vm_id')).toBe(`0 ${hexOf('my-vm')}`);
  });

  it('request attributes from the request headers and stream info', async () => {
    const lines = [
      'request/path',
      'request/url_path',
      'request/query',
      'request/method',
      'request/host',
      'request/scheme',
      'request/id',
      'request/protocol',
      'request/headers/x-request-id',
      'request/time',
    ].map((p) => `req_headers property ${p}`);
    const emu = await probe(lines);
    const id = emu.initializeHttpContext({ protocol: 'HTTP/2' });
    emu.callOnRequestHeaders(id, GET, true);
    const got = lines.map((l) => result(emu, l).split(' ')[1]);
    expect(got).toEqual([
      hexOf('/items?id=7'),
      hexOf('/items'),
      hexOf('id=7'),
      hexOf('GET'),
      hexOf('example.com'),
      hexOf('http'),
      hexOf('r-1'),
      hexOf('HTTP/2'),
      hexOf('r-1'),
      int64(BigInt(emu.getStreamInfo(id).startTimeMs) * 1_000_000n),
    ]);
  });

  it('request.headers is a map serialized as pairs', async () => {
    const emu = await probe(['req_headers property request/headers']);
    const id = emu.initializeHttpContext();
    emu.callOnRequestHeaders(id, GET, true);
    expect(result(emu, 'req_headers property request/headers')).toBe(`0 ${encodePairs(Object.entries(GET)).toString('hex')}`);
  });

  it('connection and peer attributes: source/destination address and port, connection.mtls (bool)', async () => {
    const lines = ['source/address', 'source/port', 'destination/address', 'destination/port', 'connection/mtls', 'connection_id'].map((p) => `req_headers property ${p}`);
    const emu = await probe(lines);
    const id = emu.initializeHttpContext({ downstreamRemoteAddress: '192.0.2.7:41000', downstreamLocalAddress: '10.0.0.2:8080', mtls: true, connectionId: 12 });
    emu.callOnRequestHeaders(id, GET, true);
    expect(lines.map((l) => result(emu, l).split(' ')[1])).toEqual([
      hexOf('192.0.2.7:41000'),
      int64(41000),
      hexOf('10.0.0.2:8080'),
      int64(8080),
      '01',
      int64(12),
    ]);
  });

  it('xds route, cluster and node attributes, and upstream attributes', async () => {
    const lines = ['xds/route_name', 'xds/cluster_name', 'xds/node/id', 'upstream/address', 'upstream/port'].map((p) => `resp_headers property ${p}`);
    const emu = await probe(lines, { node: { id: 'sidecar~1', cluster: 'mesh' } });
    const id = emu.initializeHttpContext({ routeName: 'api', clusterName: 'backend' });
    emu.callOnRequestHeaders(id, GET, true);
    emu.getStreamInfo(id).upstreamAddress = '10.1.0.5:9000';
    emu.callOnResponseHeaders(id, { ':status': '200' }, true);
    expect(lines.map((l) => result(emu, l).split(' ')[1])).toEqual([hexOf('api'), hexOf('backend'), hexOf('sidecar~1'), hexOf('10.1.0.5:9000'), int64(9000)]);
  });

  it('xds.virtual_host_name is the route\'s virtual host (the emulator\'s virtualHostName, or the stream\'s); its metadata empty; NOT_FOUND without one', async () => {
    const lines = ['xds/virtual_host_name', 'xds/virtual_host_metadata'].map((p) => `req_headers property ${p}`);
    const emu = await probe(lines, { virtualHostName: 'mesh' });
    emu.callOnRequestHeaders(emu.initializeHttpContext({ routeName: 'api' }), GET, true);
    emu.callOnRequestHeaders(emu.initializeHttpContext({ routeName: 'api', virtualHostName: 'other' }), GET, true);
    expect(lines.flatMap((l) => results(emu, l))).toEqual([`0 ${hexOf('mesh')}`, `0 ${hexOf('other')}`, '0', '0']);
    const none = await probe(lines);
    none.callOnRequestHeaders(none.initializeHttpContext({ routeName: 'api' }), GET, true);
    expect(lines.map((l) => status(none, l))).toEqual([NOT_FOUND, NOT_FOUND]);
  });

  it('an unnamed route is an empty xds.route_name (Envoy routeName()), not NOT_FOUND', async () => {
    const emu = await probe(['req_headers property xds/route_name']);
    const id = emu.initializeHttpContext({ routeName: '', clusterName: 'backend' });
    emu.callOnRequestHeaders(id, GET, true);
    expect(result(emu, 'req_headers property xds/route_name')).toBe('0');
  });

  it('the top-level node, cluster_name, route_name Envoy 1.33 removed are NOT_FOUND, with no warning', async () => {
    const lines = ['req_headers property cluster_name', 'req_headers property route_name', 'req_headers property node/id', 'req_headers property node'];
    const emu = await probe(lines, { node: { id: 'sidecar~1', cluster: 'mesh' } });
    emu.callOnRequestHeaders(emu.initializeHttpContext({ routeName: 'api', clusterName: 'backend' }), GET, true);
    expect(lines.map((l) => status(emu, l))).toEqual([NOT_FOUND, NOT_FOUND, NOT_FOUND, NOT_FOUND]);
    expect(emu.getLogs(3)).toEqual([]);
  });

  it('a whole attribute group is SERIALIZATION_FAILURE (a message, not a value); on a root context NOT_FOUND', async () => {
    const groups = ['request', 'response', 'source', 'destination', 'connection', 'upstream', 'xds'];
    const emu = await probe([...groups.map((g) => `req_headers property ${g}`), 'configure property request']);
    emu.callOnRequestHeaders(emu.initializeHttpContext(), GET, true);
    expect(groups.map((g) => status(emu, `req_headers property ${g}`))).toEqual(groups.map(() => WasmResult.SerializationFailure));
    expect(status(emu, 'configure property request')).toBe(NOT_FOUND);
  });

  it('response.flags is Envoy\'s bit set (0 without flags); xds metadata, listener direction and filter chain name as Envoy answers them', async () => {
    const lines = ['response/flags', 'xds/route_metadata', 'xds/cluster_metadata', 'xds/listener_direction', 'xds/filter_chain_name'].map((p) => `log property ${p}`);
    const emu = await probe(lines);
    const direct = emu.initializeHttpContext({ routeName: 'direct' });
    emu.callOnRequestHeaders(direct, GET, true);
    emu.completeHttpContext(direct);
    expect(emu.getLogs().filter((l) => l.startsWith('log property'))).toEqual([
      `log property response/flags -> 0 ${int64(0)}`,
      'log property xds/route_metadata -> 0',
      'log property xds/cluster_metadata -> 1',
      `log property xds/listener_direction -> 0 ${int64(0)}`,
      'log property xds/filter_chain_name -> 0',
    ]);
    emu.clearLogs();
    const routed = emu.initializeHttpContext({ routeName: 'api', clusterName: 'backend', responseFlags: 'UF,URX' });
    emu.callOnRequestHeaders(routed, GET, true);
    emu.completeHttpContext(routed);
    // UpstreamConnectionFailure 0x20, UpstreamRetryLimitExceeded 0x8000.
    expect(result(emu, 'log property response/flags')).toBe(`0 ${int64(0x8020)}`);
    expect(result(emu, 'log property xds/cluster_metadata')).toBe('0');
  });

  it('request.headers_bytes and response.headers_bytes are the header maps\' byte sizes (int64)', async () => {
    const emu = await probe(['req_headers property request/headers_bytes', 'resp_headers property response/headers_bytes']);
    const id = emu.initializeHttpContext();
    emu.callOnRequestHeaders(id, GET, true);
    emu.callOnResponseHeaders(id, { ':status': '200', server: 'x' }, true);
    const size = (h: Record<string, string>) => Object.entries(h).reduce((n, [k, v]) => n + k.length + v.length, 0);
    expect(result(emu, 'req_headers property request/headers_bytes')).toBe(`0 ${int64(size(GET))}`);
    expect(result(emu, 'resp_headers property response/headers_bytes')).toBe(`0 ${int64(size({ ':status': '200', server: 'x' }))}`);
  });

  it('response.code is an int64 once the response is known', async () => {
    const emu = await probe(['req_headers property response/code', 'resp_headers property response/code']);
    const id = emu.initializeHttpContext();
    emu.callOnRequestHeaders(id, GET, true);
    emu.callOnResponseHeaders(id, { ':status': '503' }, true);
    expect(status(emu, 'req_headers property response/code')).toBe(NOT_FOUND);
    expect(result(emu, 'resp_headers property response/code')).toBe(`0 ${int64(503)}`);
  });

  it('request attributes read from headers are gone once the request continued, back in proxy_on_log', async () => {
    const emu = await probe(['resp_headers property request/path', 'log property request/path', 'log property request/duration']);
    const id = emu.initializeHttpContext();
    emu.callOnRequestHeaders(id, GET, true);
    emu.callOnResponseHeaders(id, { ':status': '200' }, true);
    emu.advanceClock(25);
    emu.completeHttpContext(id);
    expect(status(emu, 'resp_headers property request/path')).toBe(NOT_FOUND);
    expect(result(emu, 'log property request/path')).toBe(`0 ${hexOf('/items?id=7')}`);
    expect(result(emu, 'log property request/duration')).toBe(`0 ${int64(25_000_000)}`);
  });

  it('an unknown attribute is NOT_FOUND; stream attributes on the root context too', async () => {
    const emu = await probe(['configure property no/such/thing', 'configure property request/path']);
    expect(status(emu, 'configure property no/such/thing')).toBe(NOT_FOUND);
    expect(status(emu, 'configure property request/path')).toBe(NOT_FOUND);
  });

  it('proxy_set_property stores a value for the stream, read back by proxy_get_property; NOT_FOUND on a root', async () => {
    const emu = await probe(['configure set_property tier gold', 'req_headers set_property tier gold', 'resp_headers property tier']);
    expect(status(emu, 'configure set_property tier gold')).toBe(NOT_FOUND);
    const id = emu.initializeHttpContext();
    emu.callOnRequestHeaders(id, GET, true);
    emu.callOnResponseHeaders(id, { ':status': '200' }, true);
    expect(status(emu, 'req_headers set_property tier gold')).toBe(0);
    expect(result(emu, 'resp_headers property tier')).toBe(`0 ${hexOf('gold')}`);
  });

  it('an out-of-memory path is INVALID_MEMORY_ACCESS', async () => {
    const emu = await probe(['configure oob property']);
    expect(status(emu, 'configure oob property')).toBe(6);
  });
});
