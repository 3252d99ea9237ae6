// The filter manager against Envoy's source/common/http/filter_manager.cc semantics, in process.
import { describe, expect, it } from 'vitest';
import { BodyBuffer } from '../../harness/host/body-buffer.ts';
import {
  FilterDataStatus,
  FilterHeadersStatus,
  FilterTrailersStatus,
  type DecoderFilterCallbacks,
  type EncoderFilterCallbacks,
  type HttpFilter,
  type StreamInfo,
} from '../../harness/host/filter.ts';
import { HeaderMap } from '../../harness/host/header-map.ts';
import { FilterManager, type FilterEntry, type ResolvedRoute, type StreamDecoderCallbacks } from '../../harness/proxy/filter-manager.ts';

type Events = string[];

/** A filter that records every call into `events` and does what `behave` says. */
function filter(name: string, events: Events, behave: Partial<HttpFilter> & { init?(d: DecoderFilterCallbacks, e: EncoderFilterCallbacks): void } = {}): HttpFilter & { d: DecoderFilterCallbacks; e: EncoderFilterCallbacks } {
  const f = {
    d: undefined as unknown as DecoderFilterCallbacks,
    e: undefined as unknown as EncoderFilterCallbacks,
    setDecoderFilterCallbacks(c: DecoderFilterCallbacks) {
      f.d = c;
    },
    setEncoderFilterCallbacks(c: EncoderFilterCallbacks) {
      f.e = c;
      behave.init?.(f.d, f.e);
    },
    decodeHeaders(h: HeaderMap, end: boolean) {
      events.push(`${name}.decodeHeaders(${end})`);
      return behave.decodeHeaders ? behave.decodeHeaders(h, end) : FilterHeadersStatus.Continue;
    },
    decodeData(d: BodyBuffer, end: boolean) {
      events.push(`${name}.decodeData(${d.bytes().toString()},${end})`);
      return behave.decodeData ? behave.decodeData(d, end) : FilterDataStatus.Continue;
    },
    decodeTrailers(t: HeaderMap) {
      events.push(`${name}.decodeTrailers`);
      return behave.decodeTrailers ? behave.decodeTrailers(t) : FilterTrailersStatus.Continue;
    },
    encodeHeaders(h: HeaderMap, end: boolean) {
      events.push(`${name}.encodeHeaders(${h.get(':status')},${end})`);
      return behave.encodeHeaders ? behave.encodeHeaders(h, end) : FilterHeadersStatus.Continue;
    },
    encodeData(d: BodyBuffer, end: boolean) {
      events.push(`${name}.encodeData(${d.bytes().toString()},${end})`);
      return behave.encodeData ? behave.encodeData(d, end) : FilterDataStatus.Continue;
    },
    onStreamComplete() {
      events.push(`${name}.onStreamComplete`);
    },
    onDestroy() {
      events.push(`${name}.onDestroy`);
    },
  };
  return f;
}

/** A decoder-only terminal filter standing in for the router: answers 200 with the request body it got. */
function terminal(events: Events, opts: { respond?: boolean; trailers?: boolean } = {}) {
  const body: Buffer[] = [];
  let cb!: StreamDecoderCallbacks;
  const respond = (): void => {
    if (opts.respond === false) return;
    cb.encodeHeaders(new HeaderMap([[':status', '200']]), false, 'via_upstream');
    if (opts.trailers) {
      cb.encodeData(Buffer.concat(body), false);
      cb.encodeTrailers(new HeaderMap([['grpc-status', '0']]));
    } else cb.encodeData(Buffer.concat(body), true);
  };
  const f: HttpFilter & { cb(): StreamDecoderCallbacks } = {
    cb: () => cb,
    setDecoderFilterCallbacks(c) {
      cb = c as StreamDecoderCallbacks;
    },
    setEncoderFilterCallbacks() {},
    decodeHeaders(_h, end) {
      events.push(`router.decodeHeaders(${end})`);
      if (end) respond();
      return FilterHeadersStatus.StopIteration;
    },
    decodeData(d, end) {
      events.push(`router.decodeData(${d.bytes().toString()},${end})`);
      body.push(Buffer.from(d.drain()));
      if (end) respond();
      return FilterDataStatus.StopIterationNoBuffer;
    },
    decodeTrailers() {
      events.push('router.decodeTrailers');
      respond();
      return FilterTrailersStatus.StopIteration;
    },
    onDestroy() {
      events.push('router.onDestroy');
    },
  };
  return f;
}

interface Out {
  headers: HeaderMap | null;
  body: string;
  trailers: HeaderMap | null;
  end: boolean;
  reset: boolean;
  paused: number;
  resumed: number;
}

function stream(filters: HttpFilter[], opts: { limit?: number; route?: (h: HeaderMap) => ResolvedRoute | null } = {}) {
  const out: Out = { headers: null, body: '', trailers: null, end: false, reset: false, paused: 0, resumed: 0 };
  const info: StreamInfo = {
    streamId: 1,
    connectionId: 1,
    startTimeMs: Date.now(),
    protocol: 'HTTP/1.1',
    downstreamRemoteAddress: '127.0.0.1:1',
    downstreamLocalAddress: '127.0.0.1:2',
    mtls: false,
    nodeId: 'n',
    nodeCluster: 'c',
    requestBodyBytes: 0,
    responseBodyBytes: 0,
  };
  const entries: FilterEntry[] = filters.map((f, i) => ({ name: `f${i}`, filter: f, decoder: true, encoder: i < filters.length - 1 }));
  const fm = new FilterManager(
    info,
    {
      encodeHeaders: (h, end) => {
        out.headers = h;
        out.end = end;
      },
      encodeData: (d, end) => {
        out.body += d.toString();
        out.end = end;
      },
      encodeTrailers: (t) => {
        out.trailers = t;
        out.end = true;
      },
      resetStream: () => (out.reset = true),
      resolveRoute: opts.route ?? (() => ({ name: 'r', clusterName: 'c', entry: null })),
      onDecoderAboveHighWatermark: () => out.paused++,
      onDecoderBelowLowWatermark: () => out.resumed++,
      onDone: () => {},
    },
    entries,
    opts.limit ?? 1 << 20,
  );
  return { fm, out, info };
}

const req = (extra: [string, string][] = []): HeaderMap => new HeaderMap([[':method', 'POST'], [':path', '/x'], [':authority', 'h'], ...extra]);

describe('filter manager (Envoy filter_manager.cc)', () => {
  it('decodes in configuration order, encodes in reverse, and completes every filter once', () => {
    const ev: Events = [];
    const { fm, out } = stream([filter('a', ev), filter('b', ev), terminal(ev)]);
    fm.decodeHeaders(req(), false);
    fm.decodeData(Buffer.from('hi'), true);
    expect(ev).toEqual([
      'a.decodeHeaders(false)',
      'b.decodeHeaders(false)',
      'router.decodeHeaders(false)',
      'a.decodeData(hi,true)',
      'b.decodeData(hi,true)',
      'router.decodeData(hi,true)',
      'b.encodeHeaders(200,false)',
      'a.encodeHeaders(200,false)',
      'b.encodeData(hi,true)',
      'a.encodeData(hi,true)',
      'a.onStreamComplete',
      'b.onStreamComplete',
      'a.onDestroy',
      'b.onDestroy',
      'router.onDestroy',
    ]);
    expect(out.body).toBe('hi');
    expect(out.end).toBe(true);
  });

  it('StopIteration holds headers and buffers data until continueDecoding, then resumes at the next filter', () => {
    const ev: Events = [];
    // Data stopped too: a Continue from decodeData would resume iteration at once, as in Envoy.
    const a = filter('a', ev, { decodeHeaders: () => FilterHeadersStatus.StopIteration, decodeData: () => FilterDataStatus.StopIterationAndBuffer });
    const { fm, out } = stream([a, filter('b', ev), terminal(ev)]);
    fm.decodeHeaders(req(), false);
    fm.decodeData(Buffer.from('1'), false);
    fm.decodeData(Buffer.from('2'), true);
    expect(ev).toEqual(['a.decodeHeaders(false)', 'a.decodeData(1,false)', 'a.decodeData(2,true)']);
    a.d.continueDecoding();
    expect(ev.slice(3)).toEqual(['b.decodeHeaders(false)', 'router.decodeHeaders(false)', 'b.decodeData(12,true)', 'router.decodeData(12,true)', 'b.encodeHeaders(200,false)', 'a.encodeHeaders(200,false)', 'b.encodeData(12,true)', 'a.encodeData(12,true)', 'a.onStreamComplete', 'b.onStreamComplete', 'a.onDestroy', 'b.onDestroy', 'router.onDestroy']);
    expect(out.body).toBe('12');
  });

  it('StopAllIterationAndBuffer resumes from the same filter with the buffered body', () => {
    const ev: Events = [];
    const a = filter('a', ev, { decodeHeaders: () => FilterHeadersStatus.StopAllIterationAndBuffer });
    const { fm } = stream([a, terminal(ev)]);
    fm.decodeHeaders(req(), false);
    fm.decodeData(Buffer.from('xy'), true);
    expect(ev).toEqual(['a.decodeHeaders(false)']);
    a.d.continueDecoding();
    expect(ev.slice(1, 4)).toEqual(['router.decodeHeaders(false)', 'a.decodeData(xy,true)', 'router.decodeData(xy,true)']);
  });

  it('StopIterationAndBuffer lets a filter see the whole body and edit it', () => {
    const ev: Events = [];
    const a = filter('a', ev, {
      decodeData: (d, end) => {
        if (!end) return FilterDataStatus.StopIterationAndBuffer;
        const whole = a.d.decodingBuffer()!;
        whole.replace(0, whole.length, Buffer.from(whole.bytes().toString().toUpperCase() + d.bytes().toString().toUpperCase()));
        d.drain();
        return FilterDataStatus.Continue;
      },
    });
    const { fm, out } = stream([a, terminal(ev)]);
    fm.decodeHeaders(req(), false);
    fm.decodeData(Buffer.from('ab'), false);
    fm.decodeData(Buffer.from('cd'), true);
    expect(out.body).toBe('ABCD');
  });

  it('a buffered request over the buffer limit gets 413 Payload Too Large through the encoder filters', () => {
    const ev: Events = [];
    const a = filter('a', ev, { decodeData: () => FilterDataStatus.StopIterationAndBuffer });
    const { fm, out } = stream([a, terminal(ev)], { limit: 4 });
    fm.decodeHeaders(req(), false);
    fm.decodeData(Buffer.from('123'), false);
    expect(out.headers).toBeNull();
    fm.decodeData(Buffer.from('45'), false);
    expect(out.headers?.get(':status')).toBe('413');
    expect(out.body).toBe('Payload Too Large');
    expect(ev).toContain('a.encodeHeaders(413,false)');
  });

  it('StopIterationAndWatermark over the limit pauses the downstream instead of failing', () => {
    const ev: Events = [];
    const a = filter('a', ev, { decodeData: () => FilterDataStatus.StopIterationAndWatermark });
    const { fm, out } = stream([a, terminal(ev)], { limit: 4 });
    fm.decodeHeaders(req(), false);
    fm.decodeData(Buffer.from('123456'), false);
    expect(out.headers).toBeNull();
    expect(out.paused).toBe(1);
  });

  it('a local reply from decodeHeaders stops the request path; every encoder filter sees it', () => {
    const ev: Events = [];
    const a = filter('a', ev);
    const b = filter('b', ev, {
      decodeHeaders: () => {
        b.d.sendLocalReply({ status: 403, body: 'denied', headers: [['x-why', 'test']], details: 'test_denied' });
        ev.push('b.returned');
        return FilterHeadersStatus.StopIteration;
      },
    });
    const c = filter('c', ev);
    const { fm, out, info } = stream([a, b, c, terminal(ev)]);
    fm.decodeHeaders(req(), false);
    fm.decodeData(Buffer.from('ignored'), true);
    // The reply is sent after b's callback returns (prepareLocalReplyViaFilterChain).
    expect(ev.slice(0, 6)).toEqual(['a.decodeHeaders(false)', 'b.decodeHeaders(false)', 'b.returned', 'c.encodeHeaders(403,false)', 'b.encodeHeaders(403,false)', 'a.encodeHeaders(403,false)']);
    expect(ev).not.toContain('c.decodeHeaders(false)');
    expect(ev.filter((e) => e.includes('decodeData'))).toEqual([]);
    expect(out.headers?.get('x-why')).toBe('test');
    expect(out.headers?.get('content-type')).toBe('text/plain');
    expect(out.body).toBe('denied');
    expect(info.responseCodeDetails).toBe('test_denied');
  });

  it('a local reply to a gRPC request is trailers-only with the mapped grpc-status and percent-encoded grpc-message', () => {
    const ev: Events = [];
    const a = filter('a', ev, {
      decodeHeaders: () => {
        a.d.sendLocalReply({ status: 401, body: 'no token: 100%', details: 'x' });
        return FilterHeadersStatus.StopIteration;
      },
    });
    const { fm, out } = stream([a, terminal(ev)]);
    fm.decodeHeaders(req([['content-type', 'application/grpc+proto']]), false);
    expect(out.headers?.get(':status')).toBe('200');
    expect(out.headers?.get('grpc-status')).toBe('16');
    expect(out.headers?.get('grpc-message')).toBe('no token: 100%25');
    expect(out.headers?.get('content-type')).toBe('application/grpc');
    expect(out.end).toBe(true);
    expect(out.body).toBe('');
  });

  it('a gRPC status given by the filter wins over the mapping', () => {
    const ev: Events = [];
    const a = filter('a', ev, {
      decodeHeaders: () => {
        a.d.sendLocalReply({ status: 429, body: '', grpcStatus: 8, details: 'x' });
        return FilterHeadersStatus.StopIteration;
      },
    });
    const { fm, out } = stream([a, terminal(ev)]);
    fm.decodeHeaders(req([['content-type', 'application/grpc']]), true);
    expect(out.headers?.get('grpc-status')).toBe('8');
  });

  it('a local reply after the response headers were sent resets the stream', () => {
    const ev: Events = [];
    const a = filter('a', ev);
    const t = terminal(ev, { respond: false });
    const { fm, out } = stream([a, t]);
    fm.decodeHeaders(req(), true);
    t.cb().encodeHeaders(new HeaderMap([[':status', '200']]), false, 'via_upstream');
    a.d.sendLocalReply({ status: 503, body: 'late', details: 'late' });
    expect(out.reset).toBe(true);
    expect(ev).toContain('a.onDestroy');
  });

  it('a response body over the limit while a filter buffers it gets 500 straight to the codec', () => {
    const ev: Events = [];
    const a = filter('a', ev, { encodeData: () => FilterDataStatus.StopIterationAndBuffer, encodeHeaders: () => FilterHeadersStatus.StopIteration });
    const t = terminal(ev, { respond: false });
    const { fm, out } = stream([a, t], { limit: 3 });
    fm.decodeHeaders(req(), true);
    t.cb().encodeHeaders(new HeaderMap([[':status', '200']]), false, 'via_upstream');
    t.cb().encodeData(Buffer.from('12345'), false);
    expect(out.headers?.get(':status')).toBe('500');
    expect(out.body).toBe('Internal Server Error');
    expect(ev.filter((e) => e.includes('(500'))).toEqual([]);
  });

  it('a Continue from decodeData after StopIteration headers resumes iteration (commonHandleAfterDataCallback)', () => {
    const ev: Events = [];
    const a = filter('a', ev, { decodeHeaders: () => FilterHeadersStatus.StopIteration });
    const { fm } = stream([a, terminal(ev, { respond: false })]);
    fm.decodeHeaders(req(), false);
    fm.decodeData(Buffer.from('1'), false);
    expect(ev).toEqual(['a.decodeHeaders(false)', 'a.decodeData(1,false)', 'router.decodeHeaders(false)', 'router.decodeData(1,false)']);
  });

  it('encoder StopIteration holds the response until continueEncoding, from a timer', async () => {
    const ev: Events = [];
    const a = filter('a', ev, {
      encodeData: () => FilterDataStatus.StopIterationAndBuffer,
      encodeHeaders: (h) => {
        setTimeout(() => {
          h.set('x-late', '1');
          a.e.continueEncoding();
        }, 5);
        return FilterHeadersStatus.StopIteration;
      },
    });
    const { fm, out } = stream([a, terminal(ev)]);
    fm.decodeHeaders(req(), false);
    fm.decodeData(Buffer.from('body'), true);
    expect(out.headers).toBeNull();
    await new Promise((r) => setTimeout(r, 20));
    expect(out.headers?.get('x-late')).toBe('1');
    expect(out.body).toBe('body');
    expect(out.end).toBe(true);
  });

  it('clearRouteCache makes route() look again at the (changed) headers', () => {
    const ev: Events = [];
    let lookups = 0;
    const a = filter('a', ev, {
      decodeHeaders: (h) => {
        expect(a.d.route()?.name).toBe('/x');
        h.set(':path', '/y');
        expect(a.d.route()?.name).toBe('/x');
        a.d.clearRouteCache();
        expect(a.d.route()?.name).toBe('/y');
        return FilterHeadersStatus.Continue;
      },
    });
    const { fm } = stream([a, terminal(ev)], {
      route: (h) => {
        lookups++;
        return { name: h.get(':path')!, clusterName: 'c', entry: null };
      },
    });
    fm.decodeHeaders(req(), true);
    expect(lookups).toBe(2);
  });

  it('addDecodedTrailers during the last decodeData turns end_stream off for later filters and sends trailers', () => {
    const ev: Events = [];
    const a = filter('a', ev, {
      decodeData: (_d, end) => {
        if (end) a.d.addDecodedTrailers().add('x-t', 'v');
        return FilterDataStatus.Continue;
      },
    });
    const { fm } = stream([a, terminal(ev)]);
    fm.decodeHeaders(req(), false);
    fm.decodeData(Buffer.from('b'), true);
    expect(ev.slice(0, 4)).toEqual(['a.decodeHeaders(false)', 'router.decodeHeaders(false)', 'a.decodeData(b,true)', 'router.decodeData(b,false)']);
    expect(ev).toContain('router.decodeTrailers');
  });

  it('a downstream reset completes and destroys every filter once, mid-stream', () => {
    const ev: Events = [];
    const { fm } = stream([filter('a', ev), terminal(ev, { respond: false })]);
    fm.decodeHeaders(req(), false);
    fm.onDownstreamReset();
    fm.onDownstreamReset();
    fm.decodeData(Buffer.from('late'), true);
    expect(ev).toEqual(['a.decodeHeaders(false)', 'router.decodeHeaders(false)', 'a.onStreamComplete', 'a.onDestroy', 'router.onDestroy']);
  });

  it('ContinueAndEndStream (Envoy ContinueAndDontEndStream) passes headers on without ending the stream', () => {
    const ev: Events = [];
    const a = filter('a', ev, { decodeHeaders: () => FilterHeadersStatus.ContinueAndEndStream });
    const { fm } = stream([a, terminal(ev, { respond: false })]);
    fm.decodeHeaders(req(), true);
    expect(ev).toEqual(['a.decodeHeaders(true)', 'router.decodeHeaders(false)']);
  });
});
