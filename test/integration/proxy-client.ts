/** Client side of the embedded-proxy suites (proxy.test.ts, retry-router.test.ts). */
import net from 'node:net';
import { request } from 'undici';
import type { RunningProxy } from '../../harness/proxy/index.ts';

/** A loopback port nothing listens on (bound, then closed), for connect-failure cases. */
export async function closedPort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** One request (GET unless `opts.method`) to the proxy's first listener; the whole body read. */
export async function get(proxy: RunningProxy, path: string, headers: Record<string, string> = {}, opts: { method?: string; body?: string | Buffer } = {}) {
  const res = await request(`http://${proxy.listeners[0].address}${path}`, { method: (opts.method ?? 'GET') as 'GET', headers, body: opts.body });
  const text = await res.body.text();
  return { status: res.statusCode, headers: res.headers as Record<string, string>, text, json: () => JSON.parse(text) };
}
