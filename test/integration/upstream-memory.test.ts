// The demo services keep no request bodies: 50 MB POSTs through Envoy to the echo service,
// run in a child process so that its resident memory can be read from /proc. Before the
// upstreams counted body bytes instead of keeping them, five such POSTs took the service
// from 88 to 611 MiB; since, from 91-99 to 124-131 MiB at most (2026-12-07, 2 cores).
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { envoyAvailable, envoySuiteTitle, startEnvoy, type EnvoyProcess } from '../../harness/envoy/runner.ts';
import { bootstrap } from './bootstrap.ts';

const root = path.resolve(import.meta.dirname, '../..');
const envoy = envoyAvailable();
const MiB = 1024 * 1024;
const BODY_BYTES = 50 * MiB;
const POSTS = 5;
/**
 * How much the service's RSS may grow over all the POSTs: read buffers in flight and
 * garbage not yet collected (up to 36 MiB seen), less than one body kept.
 */
const RSS_BOUND = 48 * MiB;

/** VmRSS of process `pid`, in bytes. */
function rss(pid: number): number {
  const kb = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!kb) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(kb[1]) * 1024;
}

describe.skipIf(!envoy.ok)(envoySuiteTitle('the demo echo service keeps no request bodies (50 MB POSTs through Envoy)', envoy), () => {
  let service: ChildProcess;
  let proxy: EnvoyProcess;

  beforeAll(async () => {
    service = spawn(process.execPath, ['--import', 'tsx', path.join(root, 'test/upstream/demo-service-process.ts'), 'echo'], { cwd: root, stdio: ['pipe', 'pipe', 'inherit'] });
    const first = await new Promise<string>((resolve, reject) => {
      createInterface({ input: service.stdout! }).once('line', resolve);
      service.once('exit', (code) => reject(new Error(`demo service exited (${code}) before listening`)));
    });
    const { address } = JSON.parse(first) as { address: string };
    proxy = await startEnvoy({
      bootstrap: bootstrap({ virtualHosts: [{ routes: [{ match: { prefix: '/' }, route: { cluster: 'echo', timeout: '60s' } }] }], clusters: { echo: { endpoints: [address] } } }),
      portOverride: 0,
      concurrency: 1,
      availability: envoy,
    });
  });
  afterAll(async () => {
    await proxy?.stop();
    if (service && service.exitCode === null) {
      const exited = new Promise((r) => service.once('exit', r));
      service.stdin!.end();
      await exited;
    }
  });

  /** POSTs `body` to `/api/upload` through Envoy; the status and the echoed request. */
  async function post(body: Buffer): Promise<{ status: number; echoed: Record<string, unknown>; bytes: number }> {
    const res = await request(`http://${proxy.listeners.ingress}/api/upload`, { method: 'POST', body, headers: { 'content-type': 'application/octet-stream' } });
    const text = await res.body.text();
    return { status: res.statusCode, echoed: JSON.parse(text) as Record<string, unknown>, bytes: Buffer.byteLength(text) };
  }

  it(`${POSTS} POSTs of 50 MB: each echoed as its size, the service's RSS within ${RSS_BOUND / MiB} MiB of its value before`, async () => {
    const small = await post(Buffer.from('hello'));
    expect([small.status, small.echoed.body]).toEqual([200, 'hello']);
    const before = rss(service.pid!);
    const big = Buffer.alloc(BODY_BYTES, 'a');
    const answers: Array<[number, unknown, unknown, boolean]> = [];
    let peak = before;
    for (let i = 0; i < POSTS; i++) {
      const r = await post(big);
      answers.push([r.status, r.echoed.bodyBytes, r.echoed.body, r.bytes < 64 * 1024]);
      peak = Math.max(peak, rss(service.pid!));
    }
    expect(peak - before, `RSS ${(before / MiB).toFixed(0)} MiB before, ${(peak / MiB).toFixed(0)} MiB at most after ${POSTS} POSTs`).toBeLessThan(RSS_BOUND);
    // The echo names the body's size, and leaves the bytes of a large one out.
    expect(small.echoed.bodyBytes).toBe(5);
    expect(answers).toEqual(Array.from({ length: POSTS }, () => [200, BODY_BYTES, undefined, true]));
  });
});
