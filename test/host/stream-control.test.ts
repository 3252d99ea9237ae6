// Local replies, continue and close: proxy-wasm/spec v0.2.1 ("proxy_send_local_response",
// "proxy_continue_stream", "proxy_close_stream"), cpp-host src/exports.cc
// (send_local_response stops the iteration), Envoy context.cc (sendLocalResponse,
// continueStream and closeStream run after the VM call).
import { describe, expect, it } from 'vitest';
import { FilterHeadersStatus } from '../../harness/host/filter.ts';
import { GET, probe, result, status } from './probe.ts';

const BAD_ARGUMENT = 2;
const UNIMPLEMENTED = 12;

describe('proxy_send_local_response', () => {
  it('sends the reply after the callback returns, and stops iteration whatever the callback returned', async () => {
    const emu = await probe([
      'req_headers local_reply 403 denied\\sby\\sprobe {"error":"denied"} content-type=application/json;x-reason=probe',
      'req_headers get_header 0 :path',
      'req_headers return 0',
    ]);
    const id = emu.initializeHttpContext();
    expect(emu.callOnRequestHeaders(id, GET, false)).toBe(FilterHeadersStatus.StopAllIterationAndWatermark);
    // The request headers were still there after the reply was asked for: it was deferred.
    expect(result(emu, 'req_headers get_header 0 :path')).toBe('0 /items?id=7');
    const reply = emu.getSentLocalResponse(id);
    expect(reply).toMatchObject({ status: 403, details: 'denied_by_probe', grpcStatus: undefined });
    expect(Buffer.from(reply!.body as Uint8Array).toString()).toBe('{"error":"denied"}');
    expect(reply!.headers).toEqual([['content-type', 'application/json'], ['x-reason', 'probe']]);
  });

  it('a gRPC status 0..16 is kept; -1 means none (Envoy context.cc sendLocalResponse)', async () => {
    const emu = await probe(['req_headers local_reply 429 limited - - 8']);
    const id = emu.initializeHttpContext();
    emu.callOnRequestHeaders(id, GET, true);
    expect(emu.getSentLocalResponse(id)?.grpcStatus).toBe(8);
  });

  it('the filter sees its own local reply in proxy_on_response_headers, as in Envoy', async () => {
    const emu = await probe(['req_headers local_reply 401 no_token', 'resp_headers get_header 2 :status', 'resp_headers add_header 2 x-seen yes']);
    const id = emu.initializeHttpContext();
    emu.callOnRequestHeaders(id, GET, true);
    expect(result(emu, 'resp_headers get_header 2 :status')).toBe('0 401');
    expect(emu.getCurrentResponseHeaders(id)).toContainEqual(['x-seen', 'yes']);
  });

  it('a local reply from proxy_on_response_headers replaces the response; the filter\'s response path does not run again', async () => {
    const emu = await probe(['resp_headers local_reply 502 late replaced x-late=1', 'resp_body log 2 body']);
    const id = emu.initializeHttpContext();
    emu.callOnRequestHeaders(id, GET, true);
    expect(emu.callOnResponseHeaders(id, { ':status': '200', 'content-length': '8' }, false)).toBe(FilterHeadersStatus.StopAllIterationAndWatermark);
    expect(emu.getLogs().filter((l) => l.startsWith('on_response_headers'))).toHaveLength(1);
    // The rest of the upstream response is dropped (FilterManager::sendDirectLocalReply).
    emu.callOnResponseBody(id, 'upstream', true);
    expect(emu.getLogs()).not.toContain('body');
    expect(emu.getSentLocalResponse(id)?.status).toBe(502);
    expect(emu.getCurrentResponseHeaders(id)).toEqual([[':status', '502'], ['x-late', '1'], ['content-length', '8'], ['content-type', 'text/plain']]);
    expect(emu.getCurrentResponseBody(id).toString()).toBe('replaced');
  });

  it('a local reply after the response headers went downstream resets the stream', async () => {
    const emu = await probe(['resp_body local_reply 500 too\\slate']);
    const id = emu.initializeHttpContext();
    emu.callOnRequestHeaders(id, GET, true);
    expect(emu.callOnResponseHeaders(id, { ':status': '200' }, false)).toBe(FilterHeadersStatus.Continue);
    emu.callOnResponseBody(id, 'upstream', true);
    expect(emu.isStreamReset(id)).toBe(true);
    expect(emu.getCurrentResponseHeaders(id)).toEqual([[':status', '200']]);
    expect(emu.getStreamInfo(id).responseCodeDetails).toBe('too_late');
  });

  it('builds the reply as Envoy does: :status, the plugin\'s headers (inline ones joined), content-length, text/plain only without the plugin\'s content-type', async () => {
    const emu = await probe(['req_headers local_reply 403 denied forbidden x-a=1;cache-control=a;cache-control=b']);
    const id = emu.initializeHttpContext();
    emu.callOnRequestHeaders(id, GET, true);
    expect(emu.getCurrentResponseHeaders(id)).toEqual([[':status', '403'], ['x-a', '1'], ['cache-control', 'a,b'], ['content-length', '9'], ['content-type', 'text/plain']]);
    expect(emu.getCurrentResponseBody(id).toString()).toBe('forbidden');
    const own = await probe(['req_headers local_reply 403 denied {} content-type=application/json']);
    const other = own.initializeHttpContext();
    own.callOnRequestHeaders(other, GET, true);
    expect(own.getCurrentResponseHeaders(other)).toEqual([[':status', '403'], ['content-type', 'application/json'], ['content-length', '2']]);
  });

  it('a reply without a body has neither content-length nor content-type (the plugin\'s go too); HEAD gets the headers only', async () => {
    const emu = await probe(['req_headers local_reply 404 empty - content-type=text/x;content-length=5;x-a=1', 'resp_headers log 2 seen']);
    const id = emu.initializeHttpContext();
    emu.callOnRequestHeaders(id, GET, true);
    expect(emu.getCurrentResponseHeaders(id)).toEqual([[':status', '404'], ['x-a', '1']]);
    // The filter saw the reply end with its headers.
    expect(emu.getLogs()).toContain('on_response_headers 2 1 -> 0');
    const head = await probe(['req_headers local_reply 403 denied body']);
    const h = head.initializeHttpContext();
    head.callOnRequestHeaders(h, { ...GET, ':method': 'HEAD' }, true);
    expect(head.getCurrentResponseHeaders(h)).toEqual([[':status', '403'], ['content-length', '4'], ['content-type', 'text/plain']]);
    expect(head.getCurrentResponseBody(h).length).toBe(0);
  });

  it('a gRPC request gets a trailers-only reply: 200, application/grpc, grpc-status (given, else mapped from the HTTP status), grpc-message', async () => {
    const grpc = { ...GET, ':method': 'POST', 'content-type': 'application/grpc' };
    const emu = await probe(['req_headers local_reply 403 denied b%dé~ x-a=1;content-type=text/x']);
    const id = emu.initializeHttpContext();
    emu.callOnRequestHeaders(id, grpc, true);
    expect(emu.getCurrentResponseHeaders(id)).toEqual([
      [':status', '200'],
      ['x-a', '1'],
      ['content-type', 'application/grpc'],
      ['grpc-status', '7'], // PERMISSION_DENIED (Grpc::Utility::httpToGrpcStatus)
      ['grpc-message', 'b%25d%C3%A9%7E'],
    ]);
    expect(emu.getCurrentResponseBody(id).length).toBe(0);
    expect(emu.getStreamInfo(id).responseCode).toBe(200);
    const given = await probe(['req_headers local_reply 429 limited - - 8']);
    const g = given.initializeHttpContext();
    given.callOnRequestHeaders(g, { ...grpc, 'content-type': 'application/grpc+proto' }, true);
    expect(given.getCurrentResponseHeaders(g)).toEqual([[':status', '200'], ['content-type', 'application/grpc'], ['grpc-status', '8']]);
    // grpc-web is not gRPC (Grpc::Common::hasGrpcContentType).
    const web = given.initializeHttpContext();
    given.callOnRequestHeaders(web, { ...grpc, 'content-type': 'application/grpc-web' }, true);
    expect(given.getCurrentResponseHeaders(web)).toEqual([[':status', '429']]);
  });

  it('a second local reply in the same callback changes only response.code_details', async () => {
    const emu = await probe(['req_headers local_reply 401 denied first', 'req_headers local_reply 500 second other']);
    const id = emu.initializeHttpContext();
    emu.callOnRequestHeaders(id, GET, true);
    expect(emu.getSentLocalResponse(id)).toMatchObject({ status: 401, details: 'denied' });
    expect(emu.getCurrentResponseHeaders(id)[0]).toEqual([':status', '401']);
    expect(emu.getCurrentResponseBody(id).toString()).toBe('first');
    expect(emu.getStreamInfo(id).responseCodeDetails).toBe('second');
  });
});

describe('callback results', () => {
  it('headers: StopIteration becomes StopAllIterationAndWatermark, ContinueAndEndStream Continue, unknown values stop', async () => {
    const results: number[] = [];
    for (const r of [0, 1, 2, 3, 4, 9]) {
      const emu = await probe([`req_headers return ${r}`]);
      const id = emu.initializeHttpContext();
      results.push(emu.callOnRequestHeaders(id, GET, false));
    }
    expect(results).toEqual([0, 4, 0, 3, 4, 4]);
  });

  it('headers: with allow_on_headers_stop_iteration, StopIteration stays StopIteration (cpp-host allow_on_headers_stop_iteration_)', async () => {
    const emu = await probe(['req_headers return 1', 'resp_headers return 1'], { allowOnHeadersStopIteration: true });
    const id = emu.initializeHttpContext();
    expect(emu.callOnRequestHeaders(id, GET, false)).toBe(1);
    expect(emu.callOnResponseHeaders(id, { ':status': '200' }, false)).toBe(1);
  });

  it('bodies: values pass through, unknown ones become StopIterationNoBuffer; trailers likewise', async () => {
    const results: number[] = [];
    for (const r of [0, 1, 2, 3, 7]) {
      const emu = await probe([`req_body return ${r}`, `req_trailers return ${r}`]);
      const id = emu.initializeHttpContext();
      emu.callOnRequestHeaders(id, GET, false);
      results.push(emu.callOnRequestBody(id, 'x', false), emu.callOnRequestTrailers(id, { t: '1' }));
    }
    expect(results).toEqual([0, 0, 1, 1, 2, 1, 3, 1, 3, 1]);
  });
});

describe('proxy_continue_stream', () => {
  it('resumes a paused request from the root context after an HTTP call (set_effective_context)', async () => {
    const emu = await probe([
      'req_headers http_call auth /check 1000',
      'req_headers return 1',
      'http_response effective stream',
      'http_response add_header 0 x-auth ok',
      'http_response continue 0',
    ]);
    const id = emu.initializeHttpContext();
    expect(emu.callOnRequestHeaders(id, GET, false)).toBe(FilterHeadersStatus.StopAllIterationAndWatermark);
    expect(emu.getContinueCalls(id).request).toBe(0);
    emu.respondHttpCall({ status: 200 });
    expect(result(emu, 'http_response effective stream')).toBe('0');
    expect(result(emu, 'http_response add_header 0 x-auth ok')).toBe('0');
    expect(emu.getContinueCalls(id).request).toBe(1);
    expect(emu.getCurrentRequestHeaders(id)).toContainEqual(['x-auth', 'ok']);
  });

  it('continue runs after the callback; the request state is released as Envoy does', async () => {
    const emu = await probe(['req_headers continue 0', 'req_headers get_header 0 :path']);
    const id = emu.initializeHttpContext();
    emu.callOnRequestHeaders(id, GET, false);
    expect(emu.getContinueCalls(id).request).toBe(1);
    // Envoy clears request_headers_ in continueStream: later access in the same call fails.
    expect(status(emu, 'req_headers get_header 0 :path')).toBe(BAD_ARGUMENT);
  });

  it('an unknown stream type is BAD_ARGUMENT; UPSTREAM is UNIMPLEMENTED', async () => {
    const emu = await probe(['req_headers continue 9', 'req_headers continue 3', 'req_headers close 9']);
    const id = emu.initializeHttpContext();
    emu.callOnRequestHeaders(id, GET, true);
    expect(status(emu, 'req_headers continue 9')).toBe(BAD_ARGUMENT);
    expect(status(emu, 'req_headers continue 3')).toBe(UNIMPLEMENTED);
    expect(status(emu, 'req_headers close 9')).toBe(BAD_ARGUMENT);
  });
});

describe('proxy_close_stream', () => {
  it('resets the stream after the callback, with details wasm_close_stream', async () => {
    const emu = await probe(['req_headers close 0']);
    const id = emu.initializeHttpContext();
    emu.callOnRequestHeaders(id, GET, true);
    expect(status(emu, 'req_headers close 0')).toBe(0);
    expect(emu.isStreamReset(id)).toBe(true);
    expect(emu.getStreamInfo(id).responseCodeDetails).toBe('wasm_close_stream');
  });
});
