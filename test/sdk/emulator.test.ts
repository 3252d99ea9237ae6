/**
 * The SDK on the project's own proxy-wasm host (harness/host, which follows Envoy): the
 * probe module's main paths, so that SDK and host agree on the ABI, not only the SDK
 * and the small fake host of context.test.ts.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { WasmEmulator } from '../../harness/host/emulator.ts';
import { testModule } from '../../harness/host/testing.ts';

const value = (pairs: [string, string][], name: string) => pairs.find(([k]) => k === name)?.[1];

describe('SDK probe on the project host (WasmEmulator)', () => {
  let wasm = '';
  beforeAll(async () => { wasm = await testModule('test-sdk-probe'); }, 180_000);

  it('configures, logs and counts', async () => {
    const emu = await WasmEmulator.create({ wasm, pluginConfiguration: 'on the host' });
    expect(emu.getLogs()).toContain('configured: on the host');
    const id = emu.initializeHttpContext();
    emu.callOnRequestHeaders(id, { ':path': '/', 'x-probe': 'none' }, true);
    expect(emu.getCounterValue('probe_requests')).toBe(1n);
  });

  it('pauses a stream, fetches from the root, resumes the stream from the root', async () => {
    const emu = await WasmEmulator.create({ wasm, pluginConfiguration: 'x' });
    const id = emu.initializeHttpContext();
    expect(emu.callOnRequestHeaders(id, { ':path': '/', 'x-probe': 'pause' }, true)).not.toBe(0);
    const [call] = emu.getPendingHttpCalls();
    expect(call).toMatchObject({ cluster: 'keys', timeoutMs: 500 });
    emu.respondHttpCall({ status: 200, body: '{"keys":[1]}' });
    expect(value(emu.getCurrentRequestHeaders(id), 'x-keys')).toBe('{"keys":[1]}');
    expect(emu.getContinueCalls(id).request).toBe(1);
  });

  it('answers the paused stream from the root when the fetch fails', async () => {
    const emu = await WasmEmulator.create({ wasm, pluginConfiguration: 'x' });
    const id = emu.initializeHttpContext();
    emu.callOnRequestHeaders(id, { ':path': '/', 'x-probe': 'pause' }, true);
    emu.failHttpCall();
    const reply = emu.getSentLocalResponse(id)!;
    expect(reply).toMatchObject({ status: 503, details: 'keys_unavailable' });
    expect(Buffer.from(reply.body).toString()).toBe('no keys');
  });

  it('sends a local reply with its headers', async () => {
    const emu = await WasmEmulator.create({ wasm, pluginConfiguration: 'x' });
    const id = emu.initializeHttpContext();
    emu.callOnRequestHeaders(id, { ':path': '/', 'x-probe': 'reply' }, true);
    const reply = emu.getSentLocalResponse(id)!;
    expect(reply).toMatchObject({ status: 403, details: 'probe_denied' });
    expect(Buffer.from(reply.body).toString()).toBe('{"error":"denied"}');
    expect(reply.headers).toContainEqual(['content-type', 'application/json']);
  });

  it('counts through shared data with CAS, and reads Envoy-encoded properties', async () => {
    const emu = await WasmEmulator.create({ wasm, pluginConfiguration: 'x' });
    for (const expected of ['1', '2']) {
      const id = emu.initializeHttpContext();
      emu.callOnRequestHeaders(id, { ':path': '/', 'x-probe': 'shared' }, true);
      expect(value(emu.getCurrentRequestHeaders(id), 'x-hits')).toBe(expected);
    }
    const id = emu.initializeHttpContext({ downstreamRemoteAddress: '10.1.2.3:4567', mtls: true });
    emu.callOnRequestHeaders(id, { ':path': '/', 'x-probe': 'property' }, true);
    const headers = emu.getCurrentRequestHeaders(id);
    expect(value(headers, 'x-source')).toBe('10.1.2.3:4567');
    expect(value(headers, 'x-mtls')).toBe('yes');
    expect(value(headers, 'x-missing')).toBe('NOT_FOUND');
  });

  it('makes an HTTP call from a stream and gets the response there', async () => {
    const emu = await WasmEmulator.create({ wasm, pluginConfiguration: 'x' });
    const id = emu.initializeHttpContext();
    emu.callOnRequestHeaders(id, { ':path': '/', 'x-probe': 'call' }, true);
    const calls = emu.getPendingHttpCalls();
    expect(calls.map((c) => c.cluster)).toEqual(['upstream']);
    expect(calls[0]!.body.toString()).toBe('ping');
    emu.respondHttpCall({ status: 201, body: 'pong' });
    const headers = emu.getCurrentRequestHeaders(id);
    expect(value(headers, 'x-call-status')).toBe('201');
    expect(value(headers, 'x-call-body')).toBe('pong');
    expect(emu.getContinueCalls(id).request).toBe(1);
  });

  it('drains a shared queue on queue-ready', async () => {
    const emu = await WasmEmulator.create({ wasm, pluginConfiguration: 'x' });
    expect(emu.enqueue('probe-queue', 'from-test')).toBe(true);
    expect(emu.getLogs()).toContain('dequeued from-test');
    expect(emu.getLogs()).toContain('queue drained: EMPTY');
  });

  it('makes a unary gRPC call from a stream and gets its reply, or its failure, there', async () => {
    const emu = await WasmEmulator.create({ wasm, pluginConfiguration: 'x' });
    const ok = emu.initializeHttpContext();
    emu.callOnRequestHeaders(ok, { ':path': '/', 'x-probe': 'grpc' }, true);
    expect(emu.getPendingGrpcCalls()).toHaveLength(1);
    emu.respondGrpcCall(new TextEncoder().encode('hello back'));
    expect(value(emu.getCurrentRequestHeaders(ok), 'x-grpc-message')).toBe('hello back');
    expect(emu.getContinueCalls(ok).request).toBe(1);
    const failed = emu.initializeHttpContext();
    emu.callOnRequestHeaders(failed, { ':path': '/', 'x-probe': 'grpc' }, true);
    emu.failGrpcCall(14, 'no healthy upstream');
    expect(value(emu.getCurrentRequestHeaders(failed), 'x-grpc-status')).toBe('14 no healthy upstream');
    expect(emu.getContinueCalls(failed).request).toBe(1);
  });

  it('logs an abort at critical level before the trap', async () => {
    const emu = await WasmEmulator.create({ wasm, pluginConfiguration: 'x', failurePolicy: 'FAIL_CLOSED' });
    const id = emu.initializeHttpContext();
    emu.callOnRequestHeaders(id, { ':path': '/', 'x-probe': 'abort' }, true);
    expect(emu.getLogs().some((l) => /abort: probe assertion at test\/wasm\/example\/probe\.ts:\d+:\d+/.test(l))).toBe(true);
    expect(emu.vmFailed).toBe(true);
  });
});
