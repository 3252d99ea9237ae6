// Buffer hostcalls: proxy-wasm/spec v0.2.1 "Buffers", cpp-host src/exports.cc
// (get_buffer_bytes bounds), Envoy context.cc (getBuffer, Buffer::copyFrom, decodeData
// buffering).
import { describe, expect, it } from 'vitest';
import { FilterDataStatus } from '../../harness/host/filter.ts';
import { GET, probe, result, results, status } from './probe.ts';

const NOT_FOUND = 1;
const BAD_ARGUMENT = 2;

describe('request and response bodies', () => {
  it('reads the current chunk with start/max_size clamped to the buffer', async () => {
    const emu = await probe(['req_body get_buffer 0 0 100', 'req_body get_buffer 0 2 3', 'req_body get_buffer 0 50 10', 'req_body buffer_status 0']);
    const id = emu.initializeHttpContext();
    emu.callOnRequestHeaders(id, GET, false);
    emu.callOnRequestBody(id, 'hello world', true);
    expect(result(emu, 'req_body get_buffer 0 0 100')).toBe('0 [hello world]');
    expect(result(emu, 'req_body get_buffer 0 2 3')).toBe('0 [llo]');
    expect(result(emu, 'req_body get_buffer 0 50 10')).toBe('0 []');
    expect(result(emu, 'req_body buffer_status 0')).toBe('0 11');
  });

  it('a range past the end is clamped, not refused (cpp-host adds start + max_size in 64 bits)', async () => {
    const emu = await probe(['req_body get_buffer 0 1 4294967295', 'req_body get_buffer 0 3 1']);
    const id = emu.initializeHttpContext();
    emu.callOnRequestHeaders(id, GET, false);
    emu.callOnRequestBody(id, 'abc', true);
    expect(result(emu, 'req_body get_buffer 0 1 4294967295')).toBe('0 [bc]');
    expect(result(emu, 'req_body get_buffer 0 3 1')).toBe('0 []');
  });

  it('set_buffer_bytes: start 0 size 0 prepends, start past the end appends, start 0 size n replaces', async () => {
    const emu = await probe(['req_body set_buffer 0 0 0 <<', 'req_body set_buffer 0 4294967295 0 >>', 'resp_body set_buffer 1 0 5 HELLO']);
    const id = emu.initializeHttpContext();
    emu.callOnRequestHeaders(id, GET, false);
    emu.callOnRequestBody(id, 'body', true);
    expect(emu.getCurrentRequestBody(id).toString()).toBe('<<body>>');
    emu.callOnResponseHeaders(id, { ':status': '200' }, false);
    emu.callOnResponseBody(id, 'hello world', true);
    expect(emu.getCurrentResponseBody(id).toString()).toBe('HELLO world');
  });

  it('set_buffer_bytes in the middle of a body is BAD_ARGUMENT (Envoy Buffer::copyFrom)', async () => {
    const emu = await probe(['req_body set_buffer 0 2 1 X']);
    const id = emu.initializeHttpContext();
    emu.callOnRequestHeaders(id, GET, false);
    emu.callOnRequestBody(id, 'body', true);
    expect(status(emu, 'req_body set_buffer 0 2 1 X')).toBe(BAD_ARGUMENT);
    expect(emu.getCurrentRequestBody(id).toString()).toBe('body');
  });

  it('StopIterationAndBuffer: the next callback sees the whole body buffered so far', async () => {
    const emu = await probe(['req_body return 1', 'req_body get_buffer 0 0 100']);
    const id = emu.initializeHttpContext();
    emu.callOnRequestHeaders(id, GET, false);
    expect(emu.callOnRequestBody(id, 'abc', false)).toBe(FilterDataStatus.StopIterationAndBuffer);
    emu.callOnRequestBody(id, 'def', false);
    emu.callOnRequestBody(id, 'gh', true);
    expect(emu.getLogs().filter((l) => l.startsWith('on_request_body'))).toEqual([
      'on_request_body 3 0 -> 0',
      'on_request_body 6 0 -> 0',
      'on_request_body 8 1 -> 0',
    ]);
    expect(results(emu, 'req_body get_buffer 0 0 100')).toEqual(['0 [abc]', '0 [abcdef]', '0 [abcdefgh]']);
  });

  it('a body can be rewritten once it is fully buffered', async () => {
    const emu = await probe(['req_body return 1', 'req_body set_buffer 0 0 4294967295 replaced']);
    const id = emu.initializeHttpContext();
    emu.callOnRequestHeaders(id, GET, false);
    emu.callOnRequestBody(id, 'one', false);
    emu.callOnRequestBody(id, 'two', true);
    expect(emu.getCurrentRequestBody(id).toString()).toBe('replaced');
  });

  it('outside body callbacks the request body is empty (Envoy getBuffer with no chunk)', async () => {
    const emu = await probe(['req_headers get_buffer 0 0 10', 'req_headers set_buffer 0 0 0 x']);
    const id = emu.initializeHttpContext();
    emu.callOnRequestHeaders(id, GET, false);
    expect(result(emu, 'req_headers get_buffer 0 0 10')).toBe('0 []');
    expect(status(emu, 'req_headers set_buffer 0 0 0 x')).toBe(BAD_ARGUMENT);
  });
});

describe('configuration buffers', () => {
  it('PLUGIN_CONFIGURATION is readable in proxy_on_configure only; VM_CONFIGURATION always', async () => {
    const emu = await probe(['configure buffer_status 7', 'tick buffer_status 7', 'tick get_buffer 6 0 100'], {
      vmConfiguration: 'vm_start buffer_status 6\nvm_start get_buffer 7 0 10',
    });
    emu.tick();
    expect(result(emu, 'configure buffer_status 7')).toBe(`0 ${['configure buffer_status 7', 'tick buffer_status 7', 'tick get_buffer 6 0 100'].join('\n').length}`);
    expect(status(emu, 'tick buffer_status 7')).toBe(NOT_FOUND);
    expect(result(emu, 'vm_start buffer_status 6')).toBe('0 51');
    expect(status(emu, 'vm_start get_buffer 7 0 10')).toBe(NOT_FOUND);
    expect(result(emu, 'tick get_buffer 6 0 100')).toBe('0 [vm_start buffer_status 6\nvm_start get_buffer 7 0 10]');
  });

  it('configuration buffers are read-only (BAD_ARGUMENT), an unknown buffer type too', async () => {
    const emu = await probe(['configure set_buffer 7 0 0 x', 'configure set_buffer 6 0 0 x', 'configure get_buffer 9 0 1']);
    expect(status(emu, 'configure set_buffer 7 0 0 x')).toBe(BAD_ARGUMENT);
    expect(status(emu, 'configure set_buffer 6 0 0 x')).toBe(BAD_ARGUMENT);
    expect(status(emu, 'configure get_buffer 9 0 1')).toBe(BAD_ARGUMENT);
  });

  it('the HTTP call response body is NOT_FOUND outside proxy_on_http_call_response', async () => {
    const emu = await probe(['tick get_buffer 4 0 10']);
    emu.tick();
    expect(status(emu, 'tick get_buffer 4 0 10')).toBe(NOT_FOUND);
  });
});
