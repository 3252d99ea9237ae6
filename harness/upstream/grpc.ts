/**
 * A small gRPC upstream (`mesh.test.v1.EchoService`, harness/upstream/echo.proto) on
 * @grpc/grpc-js, for gRPC tests through the proxy: `Echo` echoes, fails with a chosen
 * status the first N calls of a key, or delays, as each request asks; `EchoStream` echoes
 * every message of a bidirectional stream.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

export const ECHO_PROTO = path.join(path.dirname(fileURLToPath(import.meta.url)), 'echo.proto');
export const ECHO_METHOD = '/mesh.test.v1.EchoService/Echo';
export const ECHO_STREAM_METHOD = '/mesh.test.v1.EchoService/EchoStream';

export interface EchoRequest {
  message?: string;
  fail_code?: number;
  fail_times?: number;
  delay_ms?: number;
  key?: string;
}
export interface EchoResponse {
  message: string;
  attempt: number;
  metadata: Record<string, string>;
}

/** Loads the EchoService definition (for servers and clients). */
export function loadEchoService(): grpc.ServiceClientConstructor {
  const def = protoLoader.loadSync(ECHO_PROTO, { keepCase: true, defaults: true });
  const pkg = grpc.loadPackageDefinition(def) as unknown as { mesh: { test: { v1: { EchoService: grpc.ServiceClientConstructor } } } };
  return pkg.mesh.test.v1.EchoService;
}

export interface GrpcUpstream {
  readonly port: number;
  readonly address: string;
  /** Calls received per `key` (empty key counted under ''). */
  calls(key?: string): number;
  close(): Promise<void>;
}

/** Starts the EchoService on `host:port` (port 0: ephemeral). */
export async function startGrpcUpstream(opts: { host?: string; port?: number } = {}): Promise<GrpcUpstream> {
  const Echo = loadEchoService();
  const counts = new Map<string, number>();
  const server = new grpc.Server();
  server.addService(Echo.service, {
    Echo(call: grpc.ServerUnaryCall<EchoRequest, EchoResponse>, callback: grpc.sendUnaryData<EchoResponse>) {
      const req = call.request;
      const key = req.key ?? '';
      const n = (counts.get(key) ?? 0) + 1;
      counts.set(key, n);
      const metadata: Record<string, string> = {};
      for (const [k, v] of Object.entries(call.metadata.getMap())) metadata[k] = String(v);
      const answer = (): void => {
        const fails = (req.fail_code ?? 0) !== 0 && (!req.fail_times || n <= req.fail_times);
        if (fails) callback({ code: req.fail_code!, details: `failing call ${n} of key '${key}'` });
        else callback(null, { message: req.message ?? '', attempt: n, metadata });
      };
      if (req.delay_ms) setTimeout(answer, req.delay_ms);
      else answer();
    },
    EchoStream(call: grpc.ServerDuplexStream<EchoRequest, EchoResponse>) {
      const metadata: Record<string, string> = {};
      for (const [k, v] of Object.entries(call.metadata.getMap())) metadata[k] = String(v);
      let echoed = 0;
      let ended = false;
      call.on('data', (req: EchoRequest) => {
        if (ended) return;
        if ((req.fail_code ?? 0) !== 0) {
          ended = true;
          call.emit('error', { code: req.fail_code!, details: `failing stream after ${echoed} messages` });
          return;
        }
        echoed++;
        call.write({ message: req.message ?? '', attempt: echoed, metadata });
      });
      call.on('end', () => {
        if (ended) return;
        ended = true;
        const trailing = new grpc.Metadata();
        trailing.set('x-echoed', String(echoed));
        call.end(trailing);
      });
    },
  });
  const host = opts.host ?? '127.0.0.1';
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`${host}:${opts.port ?? 0}`, grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  );
  return {
    port,
    address: `${host}:${port}`,
    calls: (key) => (key === undefined ? [...counts.values()].reduce((a, b) => a + b, 0) : counts.get(key) ?? 0),
    close: () => new Promise((resolve) => server.tryShutdown(() => resolve())),
  };
}

/** A client of the EchoService at `address` (`host:port`), e.g. the proxy's listener. */
export function echoClient(address: string): grpc.Client & {
  Echo(req: EchoRequest, md: grpc.Metadata, opts: grpc.CallOptions, cb: (err: grpc.ServiceError | null, res?: EchoResponse) => void): grpc.ClientUnaryCall;
} {
  const Echo = loadEchoService();
  return new Echo(address, grpc.credentials.createInsecure()) as never;
}

/** Promise form of one Echo call. */
export function callEcho(
  client: ReturnType<typeof echoClient>,
  req: EchoRequest,
  metadata: Record<string, string> = {},
  deadlineMs = 5000,
): Promise<EchoResponse> {
  const md = new grpc.Metadata();
  for (const [k, v] of Object.entries(metadata)) md.set(k, v);
  return new Promise((resolve, reject) =>
    client.Echo(req, md, { deadline: Date.now() + deadlineMs }, (err, res) => (err ? reject(err) : resolve(res!))),
  );
}
