// The proxy-wasm host's stream context inside the embedded data plane's filter manager,
// in process: what the plugins of a chain see of each other, of local replies, of paused
// and buffered bodies and of route changes, against Envoy's filter_manager.cc and
// common/wasm/context.cc. The plugins are the probe module (test/wasm/host-probe).
import { beforeAll, describe, expect, it } from 'vitest';
import { FilterDataStatus, FilterHeadersStatus, FilterTrailersStatus, type HttpFilter, type StreamInfo } from '../../harness/host/filter.ts';
import { HeaderMap } from '../../harness/host/header-map.ts';
import { createWasmPlugin, SharedState, type HttpCallResponse, type WasmPlugin } from '../../harness/host/index.ts';
import { FilterManager, type FilterEntry, type ResolvedRoute, type StreamDecoderCallbacks } from '../../harness/proxy/filter-manager.ts';
import { ensureBuilt, PROBE_WASM, setScript } from '../host/probe.ts';
import { readFile } from 'node:fs/promises';

let code: Uint8Array;
beforeAll(async () => {
  await ensureBuilt('test-host-probe');
  code = await readFile(PROBE_WASM);
}, 300_000);

interface Harness {
  logs: string[];
  calls: Array<{ cluster: string; headers: [string, string][]; respond(r: HttpCallResponse | null): void }>;
  plugin(name: string, script: string[]): Promise<WasmPlugin>;
}

/** Plugins on one shared state, logging `<plugin>: <line>`, with HTTP calls the test answers. */
function harness(): Harness {
  const shared = SharedState.create({ data: { bytes: 1 << 20, buckets: 256 }, queues: { bytes: 1 << 16, maxQueues: 8 }, metrics: { maxMetrics: 256, nameBytes: 8192 } });
  const logs: string[] = [];
  const calls: Harness['calls'] = [];
  return {
    logs,
    calls,
    plugin: (name, script) =>
      createWasmPlugin(
        { name, rootId: name, vmId: name, code, configuration: script.join('\n') },
        {
          shared,
          logLevel: () => 0,
          log: (_level, message, source) => logs.push(`${source.plugin}: ${message}`),
          httpCall: (cluster, headers, _body, _trailers, _timeout, onResponse) => {
            calls.push({ cluster, headers, respond: onResponse });
            return { cancel() {} };
          },
        },
      ),
  };
}

/** Stands in for the router: records what reaches it; `respond()` answers 200 with the body it got. */
function upstream() {
  const seen: string[] = [];
  let cb!: StreamDecoderCallbacks;
  const body: Buffer[] = [];
  const filter: HttpFilter = {
    setDecoderFilterCallbacks: (c) => (cb = c as StreamDecoderCallbacks),
    setEncoderFilterCallbacks() {},
    decodeHeaders(h, end) {
      seen.push(`headers(${end}) route=${cb.route()?.clusterName ?? 'none'}`);
      return FilterHeadersStatus.StopIteration;
    },
    decodeData(d, end) {
      seen.push(`data(${d.bytes().toString()},${end})`);
      body.push(Buffer.from(d.drain()));
      return FilterDataStatus.StopIterationNoBuffer;
    },
    decodeTrailers() {
      seen.push('trailers');
      return FilterTrailersStatus.StopIteration;
    },
  };
  return {
    filter,
    seen,
    respond: () => {
      cb.encodeHeaders(new HeaderMap([[':status', '200']]), false, 'via_upstream');
      cb.encodeData(Buffer.concat(body), true);
    },
  };
}

function stream(plugins: WasmPlugin[], router: HttpFilter, opts: { limit?: number; route?: (h: HeaderMap) => ResolvedRoute | null } = {}) {
  const out = { status: '', body: '', end: false, paused: 0 };
  const info: StreamInfo = {
    streamId: 1,
    connectionId: 1,
    startTimeMs: Date.now(),
    protocol: 'HTTP/1.1',
    downstreamRemoteAddress: '192.0.2.1:5000',
    downstreamLocalAddress: '192.0.2.2:8080',
    mtls: false,
    nodeId: 'n',
    nodeCluster: 'c',
    requestBodyBytes: 0,
    responseBodyBytes: 0,
  };
  const entries: FilterEntry[] = plugins.map((p) => ({ name: p.name, filter: p.createFilter(info), decoder: true, encoder: true }));
  entries.push({ name: 'router', filter: router, decoder: true, encoder: false });
  const fm = new FilterManager(
    info,
    {
      encodeHeaders: (h, end) => {
        out.status = h.get(':status') ?? '';
        out.end = end;
      },
      encodeData: (d, end) => {
        out.body += d.toString();
        out.end = end;
      },
      encodeTrailers: () => void (out.end = true),
      resetStream: () => {},
      resolveRoute: opts.route ?? (() => ({ name: 'r', clusterName: 'backend', entry: null })),
      onDecoderAboveHighWatermark: () => void out.paused++,
      onDecoderBelowLowWatermark: () => {},
      onDone: () => {},
    },
    entries,
    opts.limit ?? 1 << 20,
  );
  return { fm, out, info };
}

const POST = (): HeaderMap => new HeaderMap([[':method', 'POST'], [':path', '/pay'], [':authority', 'bank'], [':scheme', 'http']]);
const chunk = (s: string): Buffer => Buffer.from(s);

describe('local replies through a chain of wasm filters (filter_manager.cc sendLocalReply)', () => {
  it("a plugin's own local reply runs through every encoder filter, its own proxy_on_response_headers included, inner first", async () => {
    const h = harness();
    const outer = await h.plugin('outer', ['resp_headers get_header 2 :status']);
    const inner = await h.plugin('inner', ['req_headers local_reply 403 denied_by_inner no', 'resp_headers get_header 2 :status']);
    const up = upstream();
    const { fm, out } = stream([outer, inner], up.filter);
    fm.decodeHeaders(POST(), false);
    fm.decodeData(chunk('late body'), true);
    expect(out).toMatchObject({ status: '403', body: 'no', end: true });
    expect(up.seen).toEqual([]);
    expect(h.logs.filter((l) => l.includes('get_header 2 :status'))).toEqual(['inner: resp_headers get_header 2 :status -> 0 403', 'outer: resp_headers get_header 2 :status -> 0 403']);
    // The request path ended at the reply: no plugin saw the body that came later.
    expect(h.logs.some((l) => l.includes('on_request_body'))).toBe(false);
  });
});

describe('bodies a plugin buffers (context.cc decodeData: addDecodedData)', () => {
  it('StopIterationAndBuffer over several chunks: the buffer limit still answers 413 through the encoders', async () => {
    const h = harness();
    const p = await h.plugin('buffering', ['req_body return 1', 'resp_headers get_header 2 :status']);
    const up = upstream();
    const { fm, out } = stream([p], up.filter, { limit: 100 });
    fm.decodeHeaders(POST(), false);
    for (let i = 0; i < 3; i++) fm.decodeData(chunk('x'.repeat(40)), false);
    expect(out).toMatchObject({ status: '413', body: 'Payload Too Large', end: true });
    expect(h.logs).toContain('buffering: resp_headers get_header 2 :status -> 0 413');
    // Headers went on (the plugin continued them); no body byte did.
    expect(up.seen).toEqual(['headers(false) route=backend']);
  });

  it('StopIterationAndBuffer, then Continue: the next filter gets the whole buffered body once, later chunks after it', async () => {
    const h = harness();
    const p = await h.plugin('buffering', ['req_body return 1']);
    const up = upstream();
    const { fm } = stream([p], up.filter);
    fm.decodeHeaders(POST(), false);
    fm.decodeData(chunk('ab'), false);
    fm.decodeData(chunk('cd'), false);
    setScript(p, ['req_body return 0']);
    fm.decodeData(chunk('ef'), false);
    fm.decodeData(chunk('gh'), true);
    expect(h.logs.filter((l) => l.includes('on_request_body'))).toEqual([
      'buffering: on_request_body 2 0 -> 0',
      'buffering: on_request_body 4 0 -> 0',
      'buffering: on_request_body 6 0 -> 0',
      'buffering: on_request_body 2 1 -> 0',
    ]);
    expect(up.seen).toEqual(['headers(false) route=backend', 'data(abcdef,false)', 'data(gh,true)']);
  });
});

describe('a request paused from proxy_on_request_headers and resumed from the root context (JWKS fetch)', () => {
  it('StopIteration holds headers and body (StopAllIterationAndWatermark); proxy_continue_stream from the call response resumes both in order', async () => {
    const h = harness();
    const p = await h.plugin('auth', [
      'req_headers http_call jwks /keys 1000',
      'req_headers return 1',
      'http_response effective stream',
      'http_response add_header 0 x-verified yes',
      'http_response continue 0',
    ]);
    const up = upstream();
    const { fm } = stream([p], up.filter, { limit: 16 });
    fm.decodeHeaders(POST(), false);
    fm.decodeData(chunk('0123456789'), false);
    fm.decodeData(chunk('abcdefghij'), true);
    // Paused: nothing reached the router, and the body was held (a watermark, not a 413).
    expect(up.seen).toEqual([]);
    expect(h.calls).toHaveLength(1);
    h.calls[0].respond({ headers: [[':status', '200']], body: Buffer.from('{}'), trailers: [] });
    expect(h.logs).toContain('auth: http_response add_header 0 x-verified yes -> 0');
    expect(up.seen).toEqual(['headers(false) route=backend', 'data(0123456789abcdefghij,true)']);
    expect(h.logs.filter((l) => l.includes('on_request_body'))).toEqual(['auth: on_request_body 20 1 -> 0']);
  });
});

describe('route changes (context.cc onHeadersModified → clearRouteCache)', () => {
  const route = (h: HeaderMap): ResolvedRoute | null => {
    const to = h.get('x-route');
    if (to === 'none') return null;
    return { name: to ? `to-${to}` : 'default', clusterName: to ?? 'backend', entry: null };
  };

  it('a header a plugin sets picks a new route; xds.cluster_name and xds.route_name follow it', async () => {
    const h = harness();
    const p = await h.plugin('steer', ['req_headers property xds/cluster_name', 'req_headers replace_header 0 x-route fallback', 'resp_headers property xds/cluster_name', 'resp_headers property xds/route_name']);
    const up = upstream();
    const { fm } = stream([p], up.filter, { route });
    fm.decodeHeaders(POST(), true);
    expect(up.seen).toEqual(['headers(true) route=fallback']);
    up.respond();
    const hex = (s: string) => Buffer.from(s).toString('hex');
    expect(h.logs).toContain(`steer: req_headers property xds/cluster_name -> 0 ${hex('backend')}`);
    expect(h.logs).toContain(`steer: resp_headers property xds/cluster_name -> 0 ${hex('fallback')}`);
    expect(h.logs).toContain(`steer: resp_headers property xds/route_name -> 0 ${hex('to-fallback')}`);
  });

  it('when the changed headers match no route, xds.cluster_name is NOT_FOUND and the request gets no route', async () => {
    const h = harness();
    const p = await h.plugin('steer', ['req_headers replace_header 0 x-route none', 'resp_headers property xds/cluster_name']);
    const up = upstream();
    const { fm } = stream([p], up.filter, { route });
    fm.decodeHeaders(POST(), true);
    expect(up.seen).toEqual(['headers(true) route=none']);
    fm.sendLocalReply({ status: 404, body: '', details: 'route_not_found' });
    expect(h.logs).toContain('steer: resp_headers property xds/cluster_name -> 1');
  });
});
