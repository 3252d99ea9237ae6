/**
 * envoy/mesh.yaml as an edge proxy, tried as an attacker on Envoy with the demo services:
 * what Envoy's edge-proxy guide (docs: configuration/best_practices/edge) asks of an edge
 * listener, request by request. Paths are sent as written (node:http does not resolve dot
 * segments, fetch would), headers as raw pairs so that a field may repeat.
 *
 * Found on Envoy 1.40 (the tests below hold either way):
 * - HTTP/1.1 with two `Host` fields: the codec joins them into one `:authority` `a,b` and
 *   forwards it (no codec option refuses it); the mesh's first route refuses an authority
 *   with a comma (400).
 * - HTTP/2 with `host` beside `:authority`: the codec drops `host` (codec_impl.cc, runtime
 *   guard `envoy.reloadable_features.http2_discard_host_header`, on by default), so no
 *   filter, route or upstream sees a second authority; nothing is left to refuse.
 */
import http from 'node:http';
import http2 from 'node:http2';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDemoServices } from '../../harness/demo/index.ts';
import type { DemoService } from '../../harness/demo/services.ts';
import { mintDemoToken } from '../../harness/demo/token.ts';
import { readConfigFile } from '../../harness/envoy/config-file.ts';
import { envoyAvailable, envoySuiteTitle, startEnvoy, type EnvoyProcess } from '../../harness/envoy/runner.ts';

const root = path.resolve(import.meta.dirname, '../..');
const envoy = envoyAvailable();

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

describe.skipIf(!envoy.ok)(envoySuiteTitle('envoy/mesh.yaml as an edge proxy (Envoy edge-proxy guide)', envoy), () => {
  let proxy: EnvoyProcess;
  let services: DemoService[] = [];
  let stopServices = async () => {};
  const output: string[] = [];

  beforeAll(async () => {
    const bootstrap = readConfigFile(path.join(root, 'envoy/mesh.yaml')) as Record<string, any>;
    ({ services, stop: stopServices } = await startDemoServices(bootstrap, { portOverride: 0 }));
    proxy = await startEnvoy({ bootstrap, cwd: root, portOverride: 0, concurrency: 1, onOutput: (line) => output.push(line) });
  });
  afterAll(async () => {
    await proxy?.stop();
    await stopServices();
  });

  const service = (cluster: string) => services.find((s) => s.cluster === cluster)!;

  /** One HTTP/1.1 GET of `target` as written, with `headers` as raw name/value pairs (a name may repeat). */
  function get(target: string, headers: string[] = []): Promise<Reply> {
    const [host, port] = proxy.listeners.ingress.split(':');
    const raw = headers.some((h, i) => i % 2 === 0 && h.toLowerCase() === 'host') ? headers : ['host', 'mesh.test', ...headers];
    return new Promise((resolve, reject) => {
      const req = http.request({ host, port: Number(port), path: target, headers: raw, setHost: false, agent: false }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      });
      req.on('error', reject);
      req.end();
    });
  }

  /** One HTTP/2 (h2c) GET; `reset` when Envoy resets the stream instead of answering. */
  async function get2(headers: http2.OutgoingHttpHeaders): Promise<Reply | 'reset'> {
    const session = http2.connect(`http://${proxy.listeners.ingress}`);
    try {
      return await new Promise((resolve, reject) => {
        const req = session.request(headers);
        let body = '';
        let status = 0;
        let head: http.IncomingHttpHeaders = {};
        req.on('response', (h) => {
          status = Number(h[':status']);
          head = h as http.IncomingHttpHeaders;
        });
        req.setEncoding('utf8');
        req.on('data', (c: string) => (body += c));
        req.on('end', () => resolve({ status, headers: head, body }));
        req.on('error', (e: NodeJS.ErrnoException) => (e.code === 'ERR_HTTP2_STREAM_ERROR' ? resolve('reset') : reject(e)));
        req.end();
      });
    } finally {
      session.close();
    }
  }

  /** What the upstream received, from the demo service's echo. */
  const echoed = (reply: Reply) => JSON.parse(reply.body) as { upstream: string; path: string; headers: Record<string, string> };

  it('answers /health without a token, and only /health: /healthz-admin is an ordinary path whose token is checked', async () => {
    const forged = ['authorization', 'Bearer not.a.token'];
    expect((await get('/health')).status).toBe(200);
    expect((await get('/health', forged)).status).toBe(200); // health checks need nothing, not even a good token
    const admin = await get('/healthz-admin', forged);
    expect(admin.status).toBe(401);
    expect(admin.headers['www-authenticate']).toContain('error="invalid_token"');
    expect(service('echo').received('/healthz-admin')).toBe(0);
  });

  it('normalizes the path (dot segments, repeated slashes) before jwt-auth, rate-limit and the routes see it', async () => {
    const bureau = service('credit-bureau');
    const before = bureau.received();
    // The credit bureau wants credit:read, however the path is spelled.
    for (const target of ['/health/../api/credit-bureau/report', '/health/..//api//credit-bureau/report', '//api/credit-bureau/./report']) {
      const res = await get(target);
      expect(res.status, target).toBe(401);
      expect(res.headers['x-jwt-auth-reason'], target).toBe('jwt_missing');
    }
    expect(bureau.received()).toBe(before);

    const token = await mintDemoToken({ sub: 'edge-normalized', permissions: ['credit:read'] });
    const allowed = await get('/health/../api/credit-bureau/report', ['authorization', `Bearer ${token}`]);
    expect(allowed.status).toBe(200);
    expect(echoed(allowed)).toMatchObject({ upstream: 'credit-bureau', path: '/api/credit-bureau/report' });

    // Anonymous /api/ requests are rate limited per client, however the path is spelled.
    const anonymous = await get('/health/../api/edge-test');
    expect(anonymous.status).toBe(200);
    expect(echoed(anonymous).path).toBe('/api/edge-test');
    expect(anonymous.headers['x-ratelimit-limit']).toBe('5, 5;w=60, 50;w=3600');
  });

  it('refuses a path with an escaped slash (400): no second spelling of a path reaches a filter or a service', async () => {
    const before = services.reduce((n, s) => n + s.received(), 0);
    for (const target of ['/api%2Fcredit-bureau/report', '/api/credit-bureau%2freport', '/health%5C..%5Capi']) {
      expect((await get(target)).status, target).toBe(400);
    }
    expect(services.reduce((n, s) => n + s.received(), 0)).toBe(before);
  });

  it('refuses a header name with an underscore (HTTP/1.1 400, HTTP/2 stream reset) before it reaches a service', async () => {
    const res = await get('/edge/underscore', ['x_user_id', 'x']);
    expect(res.status).toBe(400);
    expect(await get2({ ':path': '/edge/underscore', x_user_id: 'x' })).toBe('reset');
    expect(service('echo').received('/edge/underscore')).toBe(0);
    // The same header with a dash is jwt-auth's own, removed from what clients send.
    const dashed = await get('/edge/dashed', ['x-user-id', 'x']);
    expect(dashed.status).toBe(200);
    expect(echoed(dashed).headers['x-user-id']).toBeUndefined();
  });

  it('refuses two Host fields over HTTP/1.1 (400); over HTTP/2 Envoy drops a host beside :authority', async () => {
    for (const hosts of [['host', 'a.test', 'host', 'b.test'], ['host', 'a.test', 'host', 'a.test']]) {
      expect((await get('/edge/two-hosts', hosts)).status, hosts.join(' ')).toBe(400);
    }
    expect(service('echo').received('/edge/two-hosts')).toBe(0);

    const h2 = await get2({ ':path': '/edge/authority', ':authority': 'a.test', host: 'b.test' });
    expect(h2).not.toBe('reset');
    expect((h2 as Reply).status).toBe(200);
    expect(echoed(h2 as Reply).headers.host).toBe('a.test');
  });

  it('refuses too many request headers (431) before any filter or service', async () => {
    const many = Array.from({ length: 80 }, (_, i) => [`x-edge-${i}`, String(i)]).flat();
    const res = await get('/edge/many-headers', many);
    expect(res.status).toBe(431);
    expect(service('echo').received('/edge/many-headers')).toBe(0);
    // 30 is fine.
    expect((await get('/edge/some-headers', many.slice(0, 60))).status).toBe(200);
  });

  it('refuses a header block over max_request_headers_kb (431) itself, not the service', async () => {
    const res = await get('/edge/large-headers', ['x-edge-large', 'a'.repeat(20 * 1024)]);
    expect(res.status).toBe(431);
    // A reply of the service (whose own limit is 16 KiB) would carry the router's timing header.
    expect(res.headers['x-envoy-upstream-service-time']).toBeUndefined();
    expect(service('echo').received('/edge/large-headers')).toBe(0);
  });

  it("offers HTTP/2 clients the guide's limits: 100 concurrent streams, a 64 KiB stream window, a 1 MiB connection window", async () => {
    const session = http2.connect(`http://${proxy.listeners.ingress}`);
    try {
      const settings = await new Promise<http2.Settings>((resolve) => session.once('remoteSettings', resolve));
      expect(settings.maxConcurrentStreams).toBe(100);
      expect(settings.initialWindowSize).toBe(65536);
      // The connection window is raised with a WINDOW_UPDATE after the SETTINGS.
      await new Promise<void>((resolve, reject) => {
        const req = session.request({ ':path': '/health' });
        req.on('error', reject);
        req.resume();
        req.on('end', resolve);
        req.end();
      });
      expect(session.state.remoteWindowSize).toBe(1024 * 1024);
    } finally {
      session.close();
    }
  });

  it('limits downstream connections (the overload manager), so Envoy does not warn that nothing does', () => {
    expect(output.filter((l) => l.includes('no configured limit to the number of allowed active downstream connections'))).toEqual([]);
  });
});
