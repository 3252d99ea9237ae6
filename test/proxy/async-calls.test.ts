// `proxy_http_call`, `proxy_grpc_call` and `proxy_grpc_stream` dispatch of a worker
// (harness/proxy/http-call.ts, grpc-call.ts, async-client.ts) against real upstreams, after
// Envoy's Http::AsyncClient and Grpc::AsyncClient (async_client_impl.cc): responses,
// request headers, unknown clusters, timeouts as the router's local replies, gRPC statuses.
import protobuf from 'protobufjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseBootstrap } from '../../harness/proxy/bootstrap.ts';
import { ClusterManager, type UpstreamHost } from '../../harness/proxy/cluster-manager.ts';
import { createGrpcCall, createGrpcStream, firstGrpcMessage, frameGrpcMessage, toGrpcTimeout } from '../../harness/proxy/grpc-call.ts';
import { createHttpCall, type HttpCallResponse } from '../../harness/proxy/http-call.ts';
import { ProxyStats } from '../../harness/proxy/stats.ts';
import { action, delay, echo, ECHO_PROTO, startGrpcUpstream, startUpstream, status as reply, type GrpcUpstream, type Upstream } from '../../harness/upstream/index.ts';
import { bootstrap } from '../integration/bootstrap.ts';

let http: Upstream;
let grpcUp: GrpcUpstream;
let clusters: ClusterManager;
let httpCall: ReturnType<typeof createHttpCall>;
let grpcCall: ReturnType<typeof createGrpcCall>;
let grpcStream: ReturnType<typeof createGrpcStream>;
const echoTypes = new protobuf.Root().loadSync(ECHO_PROTO, { keepCase: true });
const EchoRequest = echoTypes.lookupType('mesh.test.v1.EchoRequest');
const EchoResponse = echoTypes.lookupType('mesh.test.v1.EchoResponse');

const host = (address: string): UpstreamHost => {
  const [ip, port] = address.split(':');
  return { ip, port: Number(port), address, hostname: '' };
};

beforeAll(async () => {
  http = await startUpstream({ name: 'calls' });
  http.route('/', echo());
  http.route('/slow', delay(2000));
  http.route('/s.Svc/Plain503', reply(503, 'busy'));
  http.route('/s.Svc/Ok', () => ({ kind: 'respond', status: 200, headers: { 'content-type': 'application/grpc' }, body: frameGrpcMessage(Buffer.from('pong')), trailers: { 'grpc-status': '0' } }));
  http.route('/s.Svc/NoMessage', action({ kind: 'grpc-status', code: 0 }));
  http.route('/s.Svc/NoStatus', () => ({ kind: 'respond', status: 200, headers: { 'content-type': 'application/grpc' }, body: frameGrpcMessage(Buffer.from('x')), trailers: { 'x-other': '1' } }));
  grpcUp = await startGrpcUpstream();
  const b = parseBootstrap(
    bootstrap({
      virtualHosts: [{ routes: [{ match: { prefix: '/' }, route: { cluster: 'web' } }] }],
      clusters: { web: { endpoints: [http.address] }, web2: { endpoints: [http.address], http2: true }, grpc: { endpoints: [grpcUp.address], http2: true } },
    }),
  );
  const hosts = new Map([
    ['web', [host(http.address)]],
    ['web2', [host(http.address)]],
    ['grpc', [host(grpcUp.address)]],
  ]);
  const stats = ProxyStats.create(b, new Map([...hosts].map(([c, hs]) => [c, hs.map((h) => h.address)])));
  clusters = new ClusterManager(b.clusters, hosts, stats);
  httpCall = createHttpCall({ clusters, stats });
  grpcCall = createGrpcCall({ clusters, stats });
  grpcStream = createGrpcStream({ clusters, stats });
});

afterAll(async () => {
  clusters.close();
  await http.close();
  await grpcUp.close();
});

const call = (cluster: string, path: string, timeoutMs: number): Promise<HttpCallResponse | null> =>
  new Promise((resolve, reject) => {
    const r = httpCall(cluster, [[':method', 'GET'], [':path', path], [':authority', cluster], [':scheme', 'http']], new Uint8Array(), [], timeoutMs, resolve);
    if (r === false) reject(new Error('unknown cluster'));
  });

const status = (r: HttpCallResponse | null) => r?.headers.find(([k]) => k === ':status')?.[1];

describe('proxy_http_call dispatch (Envoy AsyncClient)', () => {
  it('answers with the upstream response', async () => {
    const r = await call('web', '/jwks', 1000);
    expect(status(r)).toBe('200');
    expect(JSON.parse(Buffer.from(r!.body).toString()).path).toBe('/jwks');
  });

  it('marks the request internal (x-envoy-internal: true, send_internal) and adds no x-forwarded-for (send_xff false)', async () => {
    const r = await call('web', '/who', 1000);
    const seen = JSON.parse(Buffer.from(r!.body).toString()) as { headers: Record<string, string> };
    expect(seen.headers['x-envoy-internal']).toBe('true');
    expect(seen.headers['x-forwarded-for']).toBeUndefined();
    expect(seen.headers['x-envoy-expected-rq-timeout-ms']).toBe('1000');
  });

  it('an unknown cluster is refused at once (the hostcall answers BAD_ARGUMENT)', () => {
    expect(httpCall('nowhere', [[':path', '/']], new Uint8Array(), [], 100, () => {})).toBe(false);
  });

  it("a timeout is the router's 504 local reply, not zero headers (async_client_impl.cc)", async () => {
    const r = await call('web', '/slow', 100);
    expect(status(r)).toBe('504');
    expect(Buffer.from(r!.body).toString()).toBe('upstream request timeout');
  });
});

describe('proxy_grpc_call dispatch (Envoy Grpc::AsyncClient, unary)', () => {
  const unary = (req: Record<string, unknown>, timeoutMs = 2000) =>
    new Promise<{ ok: true; message: Record<string, unknown> } | { ok: false; status: number; message: string }>((resolve, reject) => {
      const r = grpcCall(
        { cluster: 'grpc', service: 'mesh.test.v1.EchoService', method: 'Echo', initialMetadata: [['x-from', 'plugin']], message: EchoRequest.encode(EchoRequest.fromObject(req)).finish(), timeoutMs },
        {
          onSuccess: (m) => resolve({ ok: true, message: EchoResponse.toObject(EchoResponse.decode(m)) }),
          onFailure: (s, message) => resolve({ ok: false, status: s, message }),
        },
      );
      if (r === false) reject(new Error('unknown cluster'));
    });

  it('frames messages as gRPC length-prefixed messages', () => {
    const framed = frameGrpcMessage(Buffer.from('abc'));
    expect([...framed]).toEqual([0, 0, 0, 0, 3, 97, 98, 99]);
    expect(Buffer.from(firstGrpcMessage(framed)!).toString()).toBe('abc');
    expect(firstGrpcMessage(framed.subarray(0, 6))).toBeNull();
  });

  it('delivers the response message and sends the initial metadata', async () => {
    const r = await unary({ message: 'hi', key: 'ok' });
    expect(r).toMatchObject({ ok: true, message: { message: 'hi', attempt: 1 } });
    if (r.ok) expect((r.message.metadata as Record<string, string>)['x-from']).toBe('plugin');
  });

  it("a failing call reports the upstream's grpc-status and its grpc-message as sent (percent-encoded: Envoy's Common::getGrpcMessage does not decode)", async () => {
    const r = await unary({ message: 'x', key: 'fail', fail_code: 14 });
    expect(r).toEqual({ ok: false, status: 14, message: "failing%20call%201%20of%20key%20'fail'" });
  });

  it("a timeout is the router's local reply as gRPC: UNAVAILABLE `upstream request timeout`", async () => {
    const r = await unary({ message: 'x', key: 'slow', delay_ms: 1000 }, 100);
    expect(r).toEqual({ ok: false, status: 14, message: 'upstream request timeout' });
  });

  it('an unknown cluster is refused at once (the hostcall answers PARSE_FAILURE)', () => {
    const r = grpcCall({ cluster: 'nowhere', service: 's', method: 'm', initialMetadata: [], message: new Uint8Array(), timeoutMs: 0 }, { onSuccess() {}, onFailure() {} });
    expect(r).toBe(false);
  });

  const raw = (method: string, timeoutMs: number) =>
    new Promise<{ ok: boolean; status?: number; message: string }>((resolve) => {
      grpcCall(
        { cluster: 'web2', service: 's.Svc', method, initialMetadata: [['x-md', 'v']], message: Buffer.from('ping'), timeoutMs },
        { onSuccess: (m) => resolve({ ok: true, message: Buffer.from(m).toString() }), onFailure: (status, message) => resolve({ ok: false, status, message }) },
      );
    });

  it('request headers as Common::prepareHeaders writes them: grpc-timeout for any set timeout (0m included), te, content-type, :authority the cluster', async () => {
    http.clearRequests();
    expect(await raw('Ok', 250)).toEqual({ ok: true, message: 'pong' });
    expect(await raw('Ok', 0)).toEqual({ ok: true, message: 'pong' });
    const [a, b] = http.requests;
    expect(a).toMatchObject({ method: 'POST', path: '/s.Svc/Ok', protocol: 'HTTP/2' });
    expect(a.headers).toMatchObject({ 'grpc-timeout': '250m', te: 'trailers', 'content-type': 'application/grpc', 'x-md': 'v', 'x-envoy-internal': 'true' });
    expect(b.headers['grpc-timeout']).toBe('0m');
    expect(a.body.equals(frameGrpcMessage(Buffer.from('ping')))).toBe(true);
    expect([toGrpcTimeout(99_999_999), toGrpcTimeout(100_000_000), toGrpcTimeout(3_600_000_000_000), toGrpcTimeout(1e13)]).toEqual(['99999999m', '100000S', '60000000M', '2777777H']);
  });

  it('a non-200 response without grpc-status closes with Canceled and no message (the Google client rule Envoy follows)', async () => {
    expect(await raw('Plain503', 1000)).toEqual({ ok: false, status: 1, message: '' });
  });

  it('OK without a message is Internal; trailers without grpc-status are Unknown', async () => {
    expect(await raw('NoMessage', 1000)).toEqual({ ok: false, status: 13, message: '' });
    expect(await raw('NoStatus', 1000)).toEqual({ ok: false, status: 2, message: '' });
  });
});

describe('proxy_grpc_stream dispatch (Envoy Grpc::AsyncStreamImpl, bidirectional)', () => {
  interface Events {
    log: string[];
    closed: Promise<void>;
  }
  const open = (metadata: [string, string][] = []): { handle: ReturnType<typeof grpcStream>; events: Events } => {
    const log: string[] = [];
    let done!: () => void;
    const closed = new Promise<void>((r) => (done = r));
    const handle = grpcStream(
      { cluster: 'grpc', service: 'mesh.test.v1.EchoService', method: 'EchoStream', initialMetadata: metadata },
      {
        onInitialMetadata: (md) => log.push(`initial ${md.find(([k]) => k === ':status')?.[1] ?? '-'}`),
        onMessage: (m) => {
          const r = EchoResponse.toObject(EchoResponse.decode(m)) as { message: string; attempt: number; metadata: Record<string, string> };
          log.push(`message ${r.message} #${r.attempt} md=${r.metadata['x-from'] ?? ''}`);
        },
        onTrailingMetadata: (md) => log.push(`trailing x-echoed=${md.find(([k]) => k === 'x-echoed')?.[1] ?? '-'}`),
        onClose: (s, message) => {
          log.push(`close ${s} ${message}`);
          done();
        },
      },
    );
    return { handle, events: { log, closed } };
  };
  const msg = (o: Record<string, unknown>) => EchoRequest.encode(EchoRequest.fromObject(o)).finish();

  it('sends messages, half-closes, and receives initial metadata, each message, trailing metadata and the OK close', async () => {
    const { handle, events } = open([['x-from', 'plugin']]);
    expect(handle).not.toBe(false);
    if (handle === false) return;
    handle.send(msg({ message: 'one' }), false);
    handle.send(msg({ message: 'two' }), false);
    handle.close();
    await events.closed;
    expect(events.log).toEqual(['initial 200', 'message one #1 md=plugin', 'message two #2 md=plugin', 'trailing x-echoed=2', 'close 0 OK']);
  });

  it('a failing stream closes with the status and message of its trailers', async () => {
    const { handle, events } = open();
    if (handle === false) throw new Error('no stream');
    handle.send(msg({ message: 'one' }), false);
    handle.send(msg({ message: 'x', fail_code: 8 }), false);
    await events.closed;
    expect(events.log.at(-1)).toBe('close 8 failing%20stream%20after%201%20messages');
  });

  it('cancel resets the stream and calls nothing back; an unknown cluster is refused', async () => {
    const { handle, events } = open();
    if (handle === false) throw new Error('no stream');
    handle.cancel();
    await new Promise((r) => setTimeout(r, 50));
    expect(events.log.filter((l) => l.startsWith('close'))).toEqual([]);
    expect(grpcStream({ cluster: 'nowhere', service: 's', method: 'm', initialMetadata: [] }, { onInitialMetadata() {}, onMessage() {}, onTrailingMetadata() {}, onClose() {} })).toBe(false);
  });
});
