// `proxy_http_call` and `proxy_grpc_call` dispatch of a worker (harness/proxy/http-call.ts,
// grpc-call.ts) against real upstreams, after Envoy's Http::AsyncClient and
// Grpc::AsyncClient: responses, unknown clusters, timeouts as the router's local replies.
import protobuf from 'protobufjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseBootstrap } from '../../harness/proxy/bootstrap.ts';
import { ClusterManager, type UpstreamHost } from '../../harness/proxy/cluster-manager.ts';
import { createGrpcCall, firstGrpcMessage, frameGrpcMessage } from '../../harness/proxy/grpc-call.ts';
import { createHttpCall, type HttpCallResponse } from '../../harness/proxy/http-call.ts';
import { ProxyStats } from '../../harness/proxy/stats.ts';
import { delay, echo, ECHO_PROTO, startGrpcUpstream, startUpstream, type GrpcUpstream, type Upstream } from '../../harness/upstream/index.ts';
import { bootstrap } from './bootstrap-builder.ts';

let http: Upstream;
let grpcUp: GrpcUpstream;
let clusters: ClusterManager;
let httpCall: ReturnType<typeof createHttpCall>;
let grpcCall: ReturnType<typeof createGrpcCall>;
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
  grpcUp = await startGrpcUpstream();
  const b = parseBootstrap(
    bootstrap({
      virtualHosts: [{ routes: [{ match: { prefix: '/' }, route: { cluster: 'web' } }] }],
      clusters: { web: { endpoints: [http.address] }, grpc: { endpoints: [grpcUp.address], http2: true } },
    }),
  );
  const hosts = new Map([
    ['web', [host(http.address)]],
    ['grpc', [host(grpcUp.address)]],
  ]);
  const stats = ProxyStats.create(b, new Map([...hosts].map(([c, hs]) => [c, hs.map((h) => h.address)])));
  clusters = new ClusterManager(b.clusters, hosts, stats);
  httpCall = createHttpCall({ clusters, stats });
  grpcCall = createGrpcCall(httpCall);
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

  it("a failing call reports the upstream's grpc-status and grpc-message", async () => {
    const r = await unary({ message: 'x', key: 'fail', fail_code: 14 });
    expect(r).toEqual({ ok: false, status: 14, message: "failing call 1 of key 'fail'" });
  });

  it("a timeout is the router's local reply as gRPC: UNAVAILABLE `upstream request timeout`", async () => {
    const r = await unary({ message: 'x', key: 'slow', delay_ms: 1000 }, 100);
    expect(r).toEqual({ ok: false, status: 14, message: 'upstream request timeout' });
  });

  it('an unknown cluster is refused at once (the hostcall answers PARSE_FAILURE)', () => {
    const r = grpcCall({ cluster: 'nowhere', service: 's', method: 'm', initialMetadata: [], message: new Uint8Array(), timeoutMs: 0 }, { onSuccess() {}, onFailure() {} });
    expect(r).toBe(false);
  });
});
