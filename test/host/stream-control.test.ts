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

  it('a local reply from proxy_on_response_headers replaces the upstream response', async () => {
    const emu = await probe(['resp_headers local_reply 502 replaced']);
    const id = emu.initializeHttpContext();
    emu.callOnRequestHeaders(id, GET, true);
    expect(emu.callOnResponseHeaders(id, { ':status': '200' }, true)).toBe(FilterHeadersStatus.StopAllIterationAndWatermark);
    expect(emu.getSentLocalResponse(id)?.status).toBe(502);
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
