// HTTP and gRPC callouts: proxy-wasm/spec v0.2.1 ("proxy_http_call", "proxy_grpc_call"),
// cpp-host src/exports.cc (http_call / grpc_call on the root context) and wasm.h (call
// ids: the callout type in the low 2 bits), Envoy context.cc (httpCall checks,
// onHttpCallSuccess/Failure, grpcCall returns PARSE_FAILURE for an unknown cluster).
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { WasmPlugin } from '../../harness/host/plugin.ts';
import { testModule } from '../../harness/host/testing.ts';
import { GET, probe, result, results, status } from './probe.ts';

const BAD_ARGUMENT = 2;
const PARSE_FAILURE = 4;
const NOT_FOUND = 1;
const BROKEN_CONNECTION = 11;
const INTERNAL_FAILURE = 10;

describe('proxy_http_call', () => {
  it('an unknown cluster is BAD_ARGUMENT', async () => {
    const emu = await probe(['tick http_call nowhere / 100'], { clusters: ['auth'] });
    emu.tick();
    expect(status(emu, 'tick http_call nowhere / 100')).toBe(BAD_ARGUMENT);
    expect(emu.getPendingHttpCalls()).toEqual([]);
  });

  it('an unknown cluster takes no call id: the next call still gets 4 (Envoy context.cc httpCall checks the cluster first)', async () => {
    const emu = await probe(['tick http_call nowhere / 100', 'tick http_call auth / 100'], { clusters: ['auth'] });
    emu.tick();
    expect(result(emu, 'tick http_call auth / 100')).toBe('0 4');
  });

  it('a call answered before the hostcall returns (a cluster without hosts) is INTERNAL_FAILURE, and never called back', async () => {
    const logs: string[] = [];
    const plugin = await WasmPlugin.create(
      { name: 'inline', code: readFileSync(await testModule('test-host-probe')), configuration: 'tick http_call empty / 100\ntick http_call empty / 100' },
      {
        log: (_level, message) => logs.push(message),
        // Envoy's router answers 503 `no healthy upstream` inside AsyncClient::send.
        httpCall: (_cluster, _headers, _body, _trailers, _timeout, onResponse) => {
          onResponse({ headers: [[':status', '503']], body: Buffer.from('no healthy upstream'), trailers: [] });
          return { cancel() {} };
        },
      },
    );
    plugin.rootContext.onTick();
    expect(logs).toEqual(['tick http_call empty / 100 -> 10', 'tick http_call empty / 100 -> 10']);
    plugin.close();
  });

  it('the emulator\'s clustersWithoutHosts answer at once, as Envoy\'s router does: INTERNAL_FAILURE, no call waits, no callback', async () => {
    const emu = await probe(['tick http_call empty / 100', 'http_response status'], { clusters: ['auth'], clustersWithoutHosts: ['empty'] });
    emu.tick();
    expect(status(emu, 'tick http_call empty / 100')).toBe(INTERNAL_FAILURE);
    expect(emu.getPendingHttpCalls()).toEqual([]);
    emu.advanceClock(1000);
    expect(results(emu, 'http_response status')).toEqual([]);
  });

  it('headers without :method, :path or :authority are BAD_ARGUMENT', async () => {
    const emu = await probe(['tick http_call auth / 100 :method=GET;:path=/', 'tick http_call auth / 100 :path=/;:authority=a']);
    emu.tick();
    expect(status(emu, 'tick http_call auth / 100 :method=GET;:path=/')).toBe(BAD_ARGUMENT);
    expect(status(emu, 'tick http_call auth / 100 :path=/;:authority=a')).toBe(BAD_ARGUMENT);
  });

  it('a timeout of 2^32-1 (-1 as Envoy\'s int) is BAD_ARGUMENT', async () => {
    const emu = await probe(['tick http_call auth / -1']);
    emu.tick();
    expect(status(emu, 'tick http_call auth / -1')).toBe(BAD_ARGUMENT);
  });

  it('sends the request (content-length added for a body) and returns call ids 4, 8, ...', async () => {
    const emu = await probe([
      'tick http_call auth /a 500 :method=POST;:path=/a;:authority=auth.local payload',
      'tick http_call auth /b 0',
    ]);
    emu.tick();
    expect(result(emu, 'tick http_call auth /a 500 :method=POST;:path=/a;:authority=auth.local payload')).toBe('0 4');
    expect(result(emu, 'tick http_call auth /b 0')).toBe('0 8');
    const [a, b] = emu.getPendingHttpCalls();
    expect(a).toMatchObject({ cluster: 'auth', timeoutMs: 500 });
    expect(a.headers).toEqual([[':method', 'POST'], [':path', '/a'], [':authority', 'auth.local'], ['content-length', '7']]);
    expect(a.body.toString()).toBe('payload');
    expect(b.timeoutMs).toBe(0);
  });

  it('the response reaches the root context with header, body and trailer counts; readable only then', async () => {
    const emu = await probe([
      'tick http_call auth /jwks 1000',
      'http_response get_header 6 :status',
      'http_response get_pairs 6',
      'http_response get_buffer 4 0 100',
      'http_response get_header 7 grpc-status',
      'tick get_header 6 :status',
    ]);
    emu.tick();
    expect(status(emu, 'tick get_header 6 :status')).toBe(BAD_ARGUMENT);
    emu.respondHttpCall({ status: 200, headers: { 'content-type': 'application/json' }, body: '{"keys":[]}', trailers: { 'grpc-status': '0' } });
    expect(emu.getLogs()).toContain('on_http_call_response 4 2 11 1 -> 0');
    expect(result(emu, 'http_response get_header 6 :status')).toBe('0 200');
    expect(result(emu, 'http_response get_pairs 6').split(' ')[2]).toBe(':status=200;content-type=application/json');
    expect(result(emu, 'http_response get_buffer 4 0 100')).toBe('0 [{"keys":[]}]');
    expect(result(emu, 'http_response get_header 7 grpc-status')).toBe('0 0');
  });

  it('a stream context\'s call is answered on its root context', async () => {
    const emu = await probe(['req_headers http_call auth /x 100', 'http_response status']);
    const id = emu.initializeHttpContext();
    emu.callOnRequestHeaders(id, GET, true);
    emu.respondHttpCall({ status: 204 });
    expect(emu.getLogs().some((l) => l.startsWith('on_http_call_response 4 1 0 0'))).toBe(true);
  });

  it('a timeout answers 504 `upstream request timeout`, as Envoy\'s async client does (async_client_impl.cc sendLocalReply)', async () => {
    const emu = await probe(['tick http_call auth / 250', 'http_response get_header 6 :status', 'http_response get_buffer 4 0 100']);
    emu.tick();
    emu.advanceClock(249);
    expect(emu.getLogs().filter((l) => l.startsWith('on_http_call_response'))).toEqual([]);
    emu.advanceClock(1);
    expect(emu.getLogs()).toContain('on_http_call_response 4 3 24 0 -> 0');
    expect(result(emu, 'http_response get_header 6 :status')).toBe('0 504');
    expect(result(emu, 'http_response get_buffer 4 0 100')).toBe('0 [upstream request timeout]');
    expect(emu.getPendingHttpCalls()).toEqual([]);
  });

  it('a reset calls back with zero headers; proxy_get_status says BrokenConnection "reset"', async () => {
    const emu = await probe(['tick http_call auth / 1000', 'http_response status', 'http_response get_buffer 4 0 10']);
    emu.tick();
    emu.failHttpCall();
    expect(emu.getLogs()).toContain('on_http_call_response 4 0 0 0 -> 0');
    expect(result(emu, 'http_response status')).toBe(`0 ${BROKEN_CONNECTION} reset`);
    expect(status(emu, 'http_response get_buffer 4 0 10')).toBe(NOT_FOUND);
  });

});

describe('proxy_grpc_call', () => {
  it('an unknown cluster is PARSE_FAILURE (Envoy context.cc grpcCall)', async () => {
    const emu = await probe(['tick grpc_call nowhere pkg.Svc Get 100 m'], { clusters: ['grpc'] });
    emu.tick();
    expect(status(emu, 'tick grpc_call nowhere pkg.Svc Get 100 m')).toBe(PARSE_FAILURE);
  });

  it('a reply goes to proxy_on_grpc_receive; call ids end in 01 (cpp-host CalloutType::GrpcCall)', async () => {
    const emu = await probe(['tick grpc_call grpc pkg.Svc Get 100 request', 'grpc_receive get_buffer 5 0 100']);
    emu.tick();
    expect(result(emu, 'tick grpc_call grpc pkg.Svc Get 100 request')).toBe('0 5');
    const [call] = emu.getPendingGrpcCalls();
    expect(call.request).toMatchObject({ cluster: 'grpc', service: 'pkg.Svc', method: 'Get', timeoutMs: 100 });
    expect(Buffer.from(call.request.message).toString()).toBe('request');
    emu.respondGrpcCall(Buffer.from('reply'));
    expect(emu.getLogs()).toContain('on_grpc_receive 5 5 -> 0');
    expect(result(emu, 'grpc_receive get_buffer 5 0 100')).toBe('0 [reply]');
  });

  it('a failure goes to proxy_on_grpc_close with the status; proxy_get_status has the message', async () => {
    const emu = await probe(['tick grpc_call grpc pkg.Svc Get 100 m', 'grpc_close status']);
    emu.tick();
    emu.failGrpcCall(14, 'upstream down');
    expect(emu.getLogs()).toContain('on_grpc_close 5 14 -> 0');
    expect(results(emu, 'grpc_close status')).toEqual(['0 14 upstream down']);
  });
});

describe('gRPC streams (proxy_grpc_stream / _send / _close / _cancel)', () => {
  it('opens a stream (ids end in 10), sends on it, and receives metadata, messages and the close', async () => {
    const emu = await probe([
      'tick grpc_stream grpc pkg.Svc Watch x-md=1',
      'tick grpc_send last hello',
      'tick grpc_send last bye end',
      'grpc_initial get_header 4 x-server',
      'grpc_receive get_buffer 5 0 100',
      'grpc_trailing get_header 5 grpc-status',
      'grpc_close status',
    ]);
    emu.tick();
    expect(result(emu, 'tick grpc_stream grpc pkg.Svc Watch x-md=1')).toBe('0 6');
    const [stream] = emu.getGrpcStreams();
    expect(stream.request).toEqual({ cluster: 'grpc', service: 'pkg.Svc', method: 'Watch', initialMetadata: [['x-md', '1']] });
    expect(stream.sent.map(String)).toEqual(['hello', 'bye']);
    expect(stream.localClosed).toBe(true);
    emu.grpcStreamEvent(stream.id, { initialMetadata: [['x-server', 's1']] });
    emu.grpcStreamEvent(stream.id, { message: Buffer.from('event-1') });
    emu.grpcStreamEvent(stream.id, { trailingMetadata: [['grpc-status', '0']] });
    emu.grpcStreamEvent(stream.id, { close: { status: 0, message: '' } });
    expect(result(emu, 'grpc_initial get_header 4 x-server')).toBe('0 s1');
    expect(result(emu, 'grpc_receive get_buffer 5 0 100')).toBe('0 [event-1]');
    expect(result(emu, 'grpc_trailing get_header 5 grpc-status')).toBe('0 0');
    expect(emu.getLogs()).toContain('on_grpc_close 6 0 -> 0');
  });

  it('send to an unknown stream is NOT_FOUND, to a call id BAD_ARGUMENT; cancel and close check ids (Envoy grpcSend/grpcClose/grpcCancel)', async () => {
    const emu = await probe(['tick grpc_send 10 x', 'tick grpc_send 5 x', 'tick grpc_cancel 9', 'tick grpc_close 4', 'tick grpc_stream grpc S M', 'tick grpc_cancel last', 'tick grpc_cancel last']);
    emu.tick();
    expect(status(emu, 'tick grpc_send 10 x')).toBe(NOT_FOUND);
    expect(status(emu, 'tick grpc_send 5 x')).toBe(BAD_ARGUMENT);
    expect(status(emu, 'tick grpc_cancel 9')).toBe(NOT_FOUND);
    expect(status(emu, 'tick grpc_close 4')).toBe(BAD_ARGUMENT);
    expect(results(emu, 'tick grpc_cancel last')).toEqual(['0', String(NOT_FOUND)]);
    expect(emu.getGrpcStreams()[0].cancelled).toBe(true);
  });
});
