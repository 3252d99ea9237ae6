// The programmable upstreams (harness/upstream) that the integration suites and the demo use.
import http2 from 'node:http2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import * as grpc from '@grpc/grpc-js';
import { action, callEcho, delay, echoClient, failTimes, startGrpcUpstream, startUpstream, status, type Upstream } from '../../harness/upstream/index.ts';

function h2Request(address: string, headers: http2.OutgoingHttpHeaders, body?: string): Promise<{ headers: http2.IncomingHttpHeaders; body: string; error?: Error }> {
  return new Promise((resolve) => {
    const session = http2.connect(`http://${address}`);
    session.on('error', () => {});
    const req = session.request(headers, { endStream: body === undefined });
    let out = '';
    let resHeaders: http2.IncomingHttpHeaders = {};
    req.on('response', (h) => (resHeaders = h));
    req.setEncoding('utf8');
    req.on('data', (c) => (out += c));
    req.on('end', () => {
      session.close();
      resolve({ headers: resHeaders, body: out });
    });
    req.on('error', (error) => {
      session.destroy();
      resolve({ headers: resHeaders, body: out, error });
    });
    if (body !== undefined) req.end(body);
  });
}

describe('programmable HTTP upstream', () => {
  let up: Upstream;
  beforeAll(async () => {
    up = await startUpstream({ name: 'u1' });
    up.route('/fail', failTimes(2, status(503, 'down')));
    up.route('/slow', delay(50));
    up.route('/reset', action({ kind: 'reset' }));
    up.route('/refuse', action({ kind: 'refuse' }));
    up.route('/grpc', action({ kind: 'grpc-status', code: 14, message: 'try later' }));
  });
  afterAll(() => up.close());

  it('echoes method, path, headers and body over HTTP/1.1', async () => {
    const res = await request(`http://${up.address}/echo?x=1`, { method: 'POST', headers: { 'x-a': 'b' }, body: 'hello' });
    const json = (await res.body.json()) as Record<string, unknown>;
    expect(res.statusCode).toBe(200);
    expect(json).toMatchObject({ upstream: 'u1', method: 'POST', path: '/echo?x=1', body: 'hello', protocol: 'HTTP/1.1' });
    expect((json.headers as Record<string, string>)['x-a']).toBe('b');
  });

  it('speaks h2c with prior knowledge on the same port', async () => {
    const res = await h2Request(up.address, { ':method': 'POST', ':path': '/echo' }, 'abc');
    expect(res.headers[':status']).toBe(200);
    expect(JSON.parse(res.body)).toMatchObject({ protocol: 'HTTP/2', body: 'abc' });
  });

  it('fails N times then succeeds, counting per path', async () => {
    const codes: number[] = [];
    for (let i = 0; i < 4; i++) {
      const res = await request(`http://${up.address}/fail/x`);
      await res.body.text();
      codes.push(res.statusCode);
    }
    expect(codes).toEqual([503, 503, 200, 200]);
    expect(up.count('/fail')).toBe(4);
  });

  it('resets HTTP/1.1 connections and refuses HTTP/2 streams', async () => {
    await expect(request(`http://${up.address}/reset`).then((r) => r.body.text())).rejects.toThrow();
    const res = await h2Request(up.address, { ':method': 'GET', ':path': '/refuse' });
    expect(res.error?.message).toMatch(/REFUSED_STREAM|code 7/);
  });

  it('answers request-driven status and trailers-only gRPC errors', async () => {
    const res = await request(`http://${up.address}/any`, { headers: { 'x-upstream-status': '418' } });
    await res.body.text();
    expect(res.statusCode).toBe(418);
    const g = await h2Request(up.address, { ':method': 'POST', ':path': '/grpc', 'content-type': 'application/grpc' }, '');
    expect(g.headers['grpc-status']).toBe('14');
    expect(g.headers[':status']).toBe(200);
  });
});

describe('what an upstream keeps', () => {
  it('keeps the latest maxRecorded requests with the first maxBodyBytes of their bodies, and counts them all', async () => {
    const up = await startUpstream({ maxRecorded: 3, maxBodyBytes: 4 });
    try {
      for (let i = 0; i < 5; i++) {
        const res = await request(`http://${up.address}/r/${i}?q=${i}`, { method: 'POST', body: `body-${i}` });
        expect((await res.body.json()) as Record<string, unknown>).toMatchObject({ bodyBytes: 6 });
      }
      expect(up.requests.map((r) => [r.path, r.body.toString(), r.bodyBytes])).toEqual([
        ['/r/2?q=2', 'body', 6],
        ['/r/3?q=3', 'body', 6],
        ['/r/4?q=4', 'body', 6],
      ]);
      expect([up.count(), up.count('/r/'), up.count('/r/0'), up.count('/s')]).toEqual([5, 5, 1, 0]);
      up.clearRequests();
      expect([up.requests.length, up.count(), up.count('/r/0')]).toEqual([0, 0, 0]);
    } finally {
      await up.close();
    }
  });

  it('echoes a body larger than it keeps as its size only', async () => {
    const up = await startUpstream({ maxBodyBytes: 1024 });
    try {
      const res = await request(`http://${up.address}/big`, { method: 'POST', body: Buffer.alloc(3 * 1024 * 1024, 'x') });
      const json = (await res.body.json()) as Record<string, unknown>;
      expect([json.bodyBytes, 'body' in json]).toEqual([3 * 1024 * 1024, false]);
      expect([up.requests[0].body.length, up.requests[0].bodyBytes]).toEqual([1024, 3 * 1024 * 1024]);
    } finally {
      await up.close();
    }
  });
});

describe('gRPC upstream', () => {
  it('echoes and fails the first N calls of a key with the asked status', async () => {
    const g = await startGrpcUpstream();
    const client = echoClient(g.address);
    try {
      const ok = await callEcho(client, { message: 'hi' }, { 'x-m': 'v' });
      expect(ok.message).toBe('hi');
      expect(ok.metadata['x-m']).toBe('v');
      await expect(callEcho(client, { key: 'k', fail_code: grpc.status.UNAVAILABLE, fail_times: 1 })).rejects.toMatchObject({ code: grpc.status.UNAVAILABLE });
      const second = await callEcho(client, { key: 'k', fail_code: grpc.status.UNAVAILABLE, fail_times: 1 });
      expect(second.attempt).toBe(2);
      expect(g.calls('k')).toBe(2);
    } finally {
      client.close();
      await g.close();
    }
  });
});
