// Header-map hostcalls against Envoy's behaviour: proxy-wasm/spec v0.2.1 "HTTP fields",
// proxy-wasm-cpp-host src/exports.cc (argument checks), Envoy
// source/extensions/common/wasm/context.cc (getMap/getConstMap, decodeHeaders...).
import { describe, expect, it } from 'vitest';
import { FilterDataStatus, FilterHeadersStatus } from '../../harness/host/filter.ts';
import { HeaderMap } from '../../harness/host/header-map.ts';
import { encodePairs } from '../../harness/host/pairs.ts';
import { GET, probe, result, results, status } from './probe.ts';

const OK = 0;
const NOT_FOUND = 1;
const BAD_ARGUMENT = 2;
const INVALID_MEMORY_ACCESS = 6;

describe('request headers (spec: HTTP_REQUEST_HEADERS readable and writable in proxy_on_request_headers)', () => {
  it('reads a value by lower-cased name, NOT_FOUND for a missing one', async () => {
    const emu = await probe([
      'req_headers get_header 0 :path',
      'req_headers get_header 0 X-Request-Id',
      'req_headers get_header 0 x-missing',
    ]);
    const id = emu.initializeHttpContext();
    emu.callOnRequestHeaders(id, GET, true);
    expect(result(emu, 'req_headers get_header 0 :path')).toBe('0 /items?id=7');
    expect(result(emu, 'req_headers get_header 0 X-Request-Id')).toBe('0 r-1');
    expect(status(emu, 'req_headers get_header 0 x-missing')).toBe(NOT_FOUND);
  });

  it('proxy_on_request_headers gets the number of headers and end_of_stream', async () => {
    const emu = await probe([]);
    const id = emu.initializeHttpContext();
    emu.callOnRequestHeaders(id, GET, false);
    expect(emu.getLogs()).toContain('on_request_headers 5 0 -> 0');
  });

  it('adds, replaces and removes headers, lower-casing names (Envoy LowerCaseString)', async () => {
    const emu = await probe([
      'req_headers add_header 0 X-Added one',
      'req_headers add_header 0 x-added two',
      'req_headers replace_header 0 x-request-id r-2',
      'req_headers replace_header 0 x-new fresh',
      'req_headers remove_header 0 :scheme',
      'req_headers remove_header 0 x-never-there',
    ]);
    const id = emu.initializeHttpContext();
    emu.callOnRequestHeaders(id, GET, true);
    for (const l of emu.getLogs().filter((x) => x.startsWith('req_headers'))) expect(l.endsWith('-> 0')).toBe(true);
    const h = new HeaderMap(emu.getCurrentRequestHeaders(id));
    expect(h.getAll('x-added')).toEqual(['one', 'two']);
    expect(h.get('x-request-id')).toBe('r-2');
    expect(h.get('x-new')).toBe('fresh');
    expect(h.has(':scheme')).toBe(false);
  });

  it('adding a header Envoy keeps inline joins its value with `,`; replacing moves the header to the end (HeaderMapImpl addCopy / setCopy)', async () => {
    const emu = await probe([
      'req_headers add_header 0 authorization b',
      'req_headers add_header 0 :path /more',
      'req_headers add_header 0 cookie d=2',
      'req_headers add_header 0 x-foo 2',
      'req_headers replace_header 0 x-request-id r-2',
      'resp_headers add_header 2 cache-control b',
      'resp_headers add_header 2 x-resp 2',
    ]);
    const id = emu.initializeHttpContext();
    emu.callOnRequestHeaders(id, { ...GET, authorization: 'a', cookie: 'c=1', 'x-foo': '1', accept: '*/*' }, true);
    expect(emu.getCurrentRequestHeaders(id)).toEqual([
      [':method', 'GET'],
      [':path', '/items?id=7,/more'],
      [':authority', 'example.com'],
      [':scheme', 'http'],
      ['authorization', 'a,b'],
      ['cookie', 'c=1'],
      ['x-foo', '1'],
      ['accept', '*/*'],
      ['cookie', 'd=2'],
      ['x-foo', '2'],
      ['x-request-id', 'r-2'],
    ]);
    emu.callOnResponseHeaders(id, { ':status': '200', 'cache-control': 'a', 'x-resp': '1' }, true);
    expect(emu.getCurrentResponseHeaders(id)).toEqual([
      [':status', '200'],
      ['cache-control', 'a,b'],
      ['x-resp', '1'],
      ['x-resp', '2'],
    ]);
  });

  it('returns all pairs in the serialized format of the spec, and replaces them all', async () => {
    const emu = await probe(['req_headers get_pairs 0', 'req_headers set_pairs 0 :method=POST;:path=/new;x-only=1']);
    const id = emu.initializeHttpContext();
    emu.callOnRequestHeaders(id, GET, true);
    const [size, pairs] = result(emu, 'req_headers get_pairs 0').split(' ').slice(1);
    expect(Number(size)).toBe(encodePairs(Object.entries(GET)).length);
    expect(pairs).toBe(Object.entries(GET).map(([k, v]) => `${k}=${v}`).join(';'));
    expect(emu.getCurrentRequestHeaders(id)).toEqual([[':method', 'POST'], [':path', '/new'], ['x-only', '1']]);
  });

  it('proxy_get_header_map_size answers the map byte size, as Envoy (HeaderMap::byteSize)', async () => {
    const emu = await probe(['req_headers map_size 0']);
    const id = emu.initializeHttpContext();
    emu.callOnRequestHeaders(id, GET, true);
    expect(result(emu, 'req_headers map_size 0')).toBe(`0 ${new HeaderMap(Object.entries(GET)).byteSize()}`);
  });

  it('an unknown map type is BAD_ARGUMENT (cpp-host exports.cc: type > MAX)', async () => {
    const emu = await probe(['req_headers get_header 8 :path', 'req_headers add_header 8 a b', 'req_headers get_pairs 9']);
    const id = emu.initializeHttpContext();
    emu.callOnRequestHeaders(id, GET, true);
    expect(status(emu, 'req_headers get_header 8 :path')).toBe(BAD_ARGUMENT);
    expect(status(emu, 'req_headers add_header 8 a b')).toBe(BAD_ARGUMENT);
    expect(status(emu, 'req_headers get_pairs 9')).toBe(BAD_ARGUMENT);
  });

  it('after the filter continued the request, request headers are gone: BAD_ARGUMENT (context.cc decodeHeaders)', async () => {
    const emu = await probe(['req_body get_header 0 :path', 'req_body add_header 0 x-late 1', 'req_body get_pairs 0']);
    const id = emu.initializeHttpContext();
    expect(emu.callOnRequestHeaders(id, GET, false)).toBe(FilterHeadersStatus.Continue);
    emu.callOnRequestBody(id, 'abc', true);
    expect(status(emu, 'req_body get_header 0 :path')).toBe(BAD_ARGUMENT);
    expect(status(emu, 'req_body add_header 0 x-late 1')).toBe(BAD_ARGUMENT);
    // getHeaderMapPairs of a map that is not there is an empty list, not an error.
    expect(result(emu, 'req_body get_pairs 0')).toBe('0 0 ');
  });

  it('while the request is paused, its headers stay writable (spec: "or for as long as request processing is paused")', async () => {
    const emu = await probe(['req_headers return 1', 'req_body get_header 0 :path']);
    const id = emu.initializeHttpContext();
    // StopIteration becomes StopAllIterationAndWatermark (cpp-host convertVmCallResultToFilterHeadersStatus).
    expect(emu.callOnRequestHeaders(id, GET, false)).toBe(FilterHeadersStatus.StopAllIterationAndWatermark);
    emu.callOnRequestBody(id, 'abc', true);
    expect(result(emu, 'req_body get_header 0 :path')).toBe('0 /items?id=7');
  });

  it('modifying request headers clears the route cache; response headers do not', async () => {
    const emu = await probe(['req_headers add_header 0 x-a 1', 'resp_headers add_header 2 x-b 1']);
    const id = emu.initializeHttpContext();
    emu.callOnRequestHeaders(id, GET, true);
    expect(emu.getRouteCacheClears(id)).toBe(1);
    emu.callOnResponseHeaders(id, { ':status': '200' }, true);
    expect(emu.getRouteCacheClears(id)).toBe(1);
  });

  it('reading only does not clear the route cache', async () => {
    const emu = await probe(['req_headers get_header 0 :path', 'req_headers get_pairs 0']);
    const id = emu.initializeHttpContext();
    emu.callOnRequestHeaders(id, GET, true);
    expect(emu.getRouteCacheClears(id)).toBe(0);
  });

  it('response headers: readable and writable in proxy_on_response_headers only', async () => {
    const emu = await probe([
      'req_headers get_header 2 :status',
      'resp_headers get_header 2 :status',
      'resp_headers add_header 2 x-resp yes',
      'resp_body get_header 2 :status',
    ]);
    const id = emu.initializeHttpContext();
    emu.callOnRequestHeaders(id, GET, true);
    emu.callOnResponseHeaders(id, { ':status': '201' }, false);
    emu.callOnResponseBody(id, 'x', true);
    expect(status(emu, 'req_headers get_header 2 :status')).toBe(BAD_ARGUMENT);
    expect(result(emu, 'resp_headers get_header 2 :status')).toBe('0 201');
    expect(emu.getCurrentResponseHeaders(id)).toContainEqual(['x-resp', 'yes']);
    expect(status(emu, 'resp_body get_header 2 :status')).toBe(BAD_ARGUMENT);
  });

  it('trailers can be added in the last body callback of a stream without them, not before', async () => {
    const emu = await probe(['req_body add_header 1 x-trailer t']);
    const id = emu.initializeHttpContext();
    emu.callOnRequestHeaders(id, GET, false);
    emu.callOnRequestBody(id, 'a', false);
    emu.callOnRequestBody(id, 'b', true);
    expect(results(emu, 'req_body add_header 1 x-trailer t')).toEqual([String(BAD_ARGUMENT), String(OK)]);
    expect(emu.getCurrentRequestTrailers(id)).toEqual([['x-trailer', 't']]);
  });

  it('request trailers: readable in proxy_on_request_trailers, with their count', async () => {
    const emu = await probe(['req_trailers get_header 1 grpc-status', 'req_trailers replace_header 1 grpc-status 0']);
    const id = emu.initializeHttpContext();
    emu.callOnRequestHeaders(id, GET, false);
    emu.callOnRequestBody(id, 'a', false);
    emu.callOnRequestTrailers(id, { 'grpc-status': '2', other: 'x' });
    expect(emu.getLogs()).toContain('on_request_trailers 2 -> 0');
    expect(result(emu, 'req_trailers get_header 1 grpc-status')).toBe('0 2');
    expect(emu.getCurrentRequestTrailers(id)).toContainEqual(['grpc-status', '0']);
  });

  it('proxy_on_log reads request and response headers; writes are refused', async () => {
    const emu = await probe(['log get_header 0 :path', 'log get_header 2 :status', 'log add_header 0 x 1', 'log get_header 0 x-missing']);
    const id = emu.initializeHttpContext();
    emu.callOnRequestHeaders(id, GET, true);
    emu.callOnResponseHeaders(id, { ':status': '200' }, true);
    emu.completeHttpContext(id);
    expect(result(emu, 'log get_header 0 :path')).toBe('0 /items?id=7');
    expect(result(emu, 'log get_header 2 :status')).toBe('0 200');
    expect(status(emu, 'log add_header 0 x 1')).toBe(BAD_ARGUMENT);
    expect(status(emu, 'log get_header 0 x-missing')).toBe(NOT_FOUND);
  });

  it('pointers outside memory are INVALID_MEMORY_ACCESS, and the VM keeps running', async () => {
    const emu = await probe(['req_headers oob get_header', 'req_headers oob get_header_ret', 'req_headers oob pairs']);
    const id = emu.initializeHttpContext();
    emu.callOnRequestHeaders(id, GET, true);
    expect(status(emu, 'req_headers oob get_header')).toBe(INVALID_MEMORY_ACCESS);
    expect(status(emu, 'req_headers oob get_header_ret')).toBe(INVALID_MEMORY_ACCESS);
    expect(status(emu, 'req_headers oob pairs')).toBe(INVALID_MEMORY_ACCESS);
    expect(emu.vmFailed).toBe(false);
  });

  it('header bytes round-trip unchanged (latin1, one char per octet)', async () => {
    const emu = await probe(['req_headers get_header 0 x-bin']);
    const id = emu.initializeHttpContext();
    const value = Buffer.from([0xc3, 0xa9, 0x7e]).toString('latin1');
    emu.callOnRequestHeaders(id, { ...GET, 'x-bin': value }, true);
    // The probe decodes as UTF-8: the two octets c3 a9 are "é".
    expect(result(emu, 'req_headers get_header 0 x-bin')).toBe('0 é~');
  });

  it('a body callback after Continue sees the chunk size and end_of_stream', async () => {
    const emu = await probe([]);
    const id = emu.initializeHttpContext();
    emu.callOnRequestHeaders(id, GET, false);
    expect(emu.callOnRequestBody(id, 'hello', false)).toBe(FilterDataStatus.Continue);
    expect(emu.getLogs()).toContain('on_request_body 5 0 -> 0');
  });
});
