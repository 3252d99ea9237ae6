/**
 * The HTTP filter manager of one stream, after Envoy's source/common/http/filter_manager.cc
 * (FilterManager, DownstreamFilterManager, ActiveStreamFilterBase and its decoder/encoder
 * wrappers):
 *
 * - decoder filters run in configuration order, encoder filters in reverse order; a
 *   decoder-only filter (the router) is not on the encoder list;
 * - `StopIteration` stops headers only (data is buffered until `continueDecoding`);
 *   `StopAllIterationAndBuffer` / `...AndWatermark` stop everything and buffer;
 *   `StopIterationAndBuffer` buffers data, `StopIterationAndWatermark` buffers with flow
 *   control instead of an error, `StopIterationNoBuffer` drops nothing but buffers
 *   nothing; `continueDecoding()` / `continueEncoding()` resume from the next filter
 *   (from the current one after a StopAll), also later from a timer or a callout;
 * - a buffered body above the buffer limit (the listener's
 *   `per_connection_buffer_limit_bytes`) answers 413 on the request path and 500 on the
 *   response path, unless the buffering filter asked for watermarks;
 * - `sendLocalReply` ends the request path: inside a decoder callback the reply is
 *   prepared and sent when the callback returns; it then runs through every encoder
 *   filter (encodeHeaders from the start of the encoder list); once response headers
 *   exist it goes straight to the codec, and once they were sent it resets the stream;
 * - `onStreamComplete` (access-log time) then `onDestroy` run for every filter once,
 *   for completed and reset streams alike.
 */
import { BodyBuffer } from '../host/body-buffer.ts';
import {
  FilterDataStatus,
  FilterHeadersStatus,
  FilterTrailersStatus,
  type DecoderFilterCallbacks,
  type EncoderFilterCallbacks,
  type HttpFilter,
  type LocalReply,
  type StreamInfo,
} from '../host/filter.ts';
import { HeaderMap } from '../host/header-map.ts';
import { isGrpcContentType, prepareLocalReply, type PreparedLocalReply } from './local-reply.ts';

/** The route a request resolved to (what `DecoderFilterCallbacks.route()` returns, plus the config for the router). */
export interface ResolvedRoute<R = unknown> {
  name: string;
  clusterName: string;
  /** Opaque route entry the router reads. */
  entry: R;
}

/** What the filter manager needs from the connection manager and codec (Envoy `FilterManagerCallbacks`). */
export interface FilterManagerCallbacks {
  /** Response headers leave the filter chain (the HCM adds `date`, `server` and writes them). */
  encodeHeaders(headers: HeaderMap, endStream: boolean): void;
  encodeData(data: Buffer, endStream: boolean): void;
  encodeTrailers(trailers: HeaderMap): void;
  /** Resets the downstream stream (response already started, or a filter asked). */
  resetStream(): void;
  /** Route lookup for the current request headers. */
  resolveRoute(headers: HeaderMap): ResolvedRoute | null;
  /** Flow control toward the downstream connection (watermark buffering). */
  onDecoderAboveHighWatermark(): void;
  onDecoderBelowLowWatermark(): void;
  /** The stream is over and its filters destroyed. */
  onDone(): void;
}

/** A filter as configured on the chain: decoder, encoder or both (Envoy `addStreamFilter`...). */
export interface FilterEntry {
  name: string;
  filter: HttpFilter;
  decoder: boolean;
  encoder: boolean;
}

/** Extra callbacks Envoy gives decoder filters beyond the seam; the router uses them. */
export interface StreamDecoderCallbacks extends DecoderFilterCallbacks {
  encodeHeaders(headers: HeaderMap, endStream: boolean, details: string): void;
  encodeData(data: Buffer, endStream: boolean): void;
  encodeTrailers(trailers: HeaderMap): void;
  /** The route with its config (router). */
  resolvedRoute(): ResolvedRoute | null;
  /** Local reply with response headers added by the caller (router's `modify_headers`). */
  sendLocalReplyWith(reply: LocalReply, modifyHeaders?: (h: HeaderMap) => void): void;
  readonly bufferLimit: number;
  readonly isGrpcRequest: boolean;
}

const enum Iteration {
  Continue,
  StopSingle,
  StopAllBuffer,
  StopAllWatermark,
}

const CALL_DECODE_HEADERS = 1;
const CALL_DECODE_DATA = 2;
const CALL_DECODE_TRAILERS = 4;
const CALL_ENCODE_HEADERS = 8;
const CALL_ENCODE_DATA = 16;
const CALL_ENCODE_TRAILERS = 32;
const CALL_END_OF_STREAM = 64;
const DECODING = CALL_DECODE_HEADERS | CALL_DECODE_DATA | CALL_DECODE_TRAILERS;
const ENCODING = CALL_ENCODE_HEADERS | CALL_ENCODE_DATA | CALL_ENCODE_TRAILERS;

abstract class ActiveFilter {
  iteration = Iteration.Continue;
  headersContinued = false;
  endStream = false;
  iterateFromCurrent = false;
  index = 0;
  constructor(
    readonly fm: FilterManager,
    readonly entry: FilterEntry,
  ) {}

  get streamInfo(): StreamInfo {
    return this.fm.streamInfo;
  }

  canIterate(): boolean {
    return this.iteration === Iteration.Continue;
  }
  stoppedAll(): boolean {
    return this.iteration === Iteration.StopAllBuffer || this.iteration === Iteration.StopAllWatermark;
  }

  abstract canContinue(): boolean;
  abstract complete(): boolean;
  abstract buffered(): BodyBuffer | null;
  abstract setBuffered(b: BodyBuffer | null): void;
  abstract hasTrailers(): boolean;
  abstract doHeaders(endStream: boolean): void;
  abstract doData(endStream: boolean): void;
  abstract doTrailers(): void;
  abstract bufferTooLarge(): void;
  abstract bufferDrained(): void;
  /** Marks the buffered direction as streaming (watermarks) or not (413/500 on overflow). */
  abstract setStreaming(streaming: boolean): void;

  /** ActiveStreamFilterBase::commonContinue. */
  commonContinue(): void {
    if (!this.canContinue() || this.fm.destroyed) return;
    if (this.canIterate()) return; // nothing stopped
    if (this.stoppedAll()) this.iterateFromCurrent = true;
    this.iteration = Iteration.Continue;
    if (!this.headersContinued) {
      this.headersContinued = true;
      this.doHeaders(this.complete() && !this.buffered() && !this.hasTrailers());
    }
    const hadTrailers = this.hasTrailers();
    if (this.buffered()) this.doData(this.complete() && !hadTrailers);
    if (hadTrailers) this.doTrailers();
    this.iterateFromCurrent = false;
  }

  /** commonHandleAfterHeadersCallback: true = go on to the next filter. */
  afterHeaders(status: FilterHeadersStatus, endStream: { v: boolean }): boolean {
    switch (status) {
      case FilterHeadersStatus.StopIteration:
        this.iteration = Iteration.StopSingle;
        break;
      case FilterHeadersStatus.StopAllIterationAndBuffer:
        this.iteration = Iteration.StopAllBuffer;
        break;
      case FilterHeadersStatus.StopAllIterationAndWatermark:
        this.iteration = Iteration.StopAllWatermark;
        break;
      case FilterHeadersStatus.ContinueAndEndStream:
        // proxy-wasm's ContinueAndEndStream is Envoy's ContinueAndDontEndStream (value 2):
        // headers go on, the stream is not ended by them.
        endStream.v = false;
        this.headersContinued = true;
        break;
      default:
        this.headersContinued = true;
    }
    return !(this.stoppedAll() || status === FilterHeadersStatus.StopIteration);
  }

  /** commonHandleBufferData: moves `data` into the stream's buffer unless it is that buffer. */
  bufferData(data: BodyBuffer): void {
    let b = this.buffered();
    if (b === data) return;
    if (!b) {
      b = new BodyBuffer();
      this.setBuffered(b);
    }
    const before = b.length;
    b.append(data.drain());
    this.fm.checkWatermark(this, before, b.length);
  }

  /** commonHandleAfterDataCallback: true = go on to the next filter. */
  afterData(status: FilterDataStatus, data: BodyBuffer): boolean {
    if (status === FilterDataStatus.Continue) {
      if (this.iteration === Iteration.StopSingle) {
        this.bufferData(data);
        this.commonContinue();
        return false;
      }
      return true;
    }
    this.iteration = Iteration.StopSingle;
    if (status === FilterDataStatus.StopIterationAndBuffer || status === FilterDataStatus.StopIterationAndWatermark) {
      this.setStreaming(status === FilterDataStatus.StopIterationAndWatermark);
      this.bufferData(data);
    } else if (this.complete() && !this.hasTrailers() && !this.buffered() && !this.fm.destroyed) {
      // StopIterationNoBuffer on the last (possibly empty) frame: keep an empty buffer so
      // a later continue resumes with end_stream.
      this.setBuffered(new BodyBuffer());
    }
    return false;
  }

  /** commonHandleAfterTrailersCallback. */
  afterTrailers(status: FilterTrailersStatus): boolean {
    if (status === FilterTrailersStatus.Continue) {
      if (this.iteration === Iteration.StopSingle) {
        this.commonContinue();
        return false;
      }
      return true;
    }
    if (this.canIterate()) this.iteration = Iteration.StopSingle;
    return false;
  }
}

class ActiveDecoderFilter extends ActiveFilter implements StreamDecoderCallbacks {
  canContinue(): boolean {
    // A response already completed (e.g. a 413) stops continuation (filter_manager.cc).
    return !this.fm.localComplete;
  }
  complete(): boolean {
    return this.fm.remoteDecodeComplete;
  }
  buffered(): BodyBuffer | null {
    return this.fm.bufferedRequest;
  }
  setBuffered(b: BodyBuffer | null): void {
    this.fm.bufferedRequest = b;
  }
  hasTrailers(): boolean {
    return this.fm.requestTrailersMap !== null;
  }
  doHeaders(endStream: boolean): void {
    this.fm.decodeHeadersFrom(this, this.fm.requestHeadersMap!, endStream);
  }
  doData(endStream: boolean): void {
    this.fm.decodeDataFrom(this, this.fm.bufferedRequest!, endStream, true);
  }
  doTrailers(): void {
    this.fm.decodeTrailersFrom(this, this.fm.requestTrailersMap!);
  }
  bufferTooLarge(): void {
    // ActiveStreamDecoderFilter::requestDataTooLarge.
    if (this.fm.decoderStreaming) this.fm.callbacks.onDecoderAboveHighWatermark();
    else this.fm.sendLocalReply({ status: 413, body: 'Payload Too Large', details: 'request_payload_too_large' });
  }
  bufferDrained(): void {
    this.fm.callbacks.onDecoderBelowLowWatermark();
  }
  setStreaming(streaming: boolean): void {
    this.fm.decoderStreaming = streaming;
  }

  // DecoderFilterCallbacks
  continueDecoding(): void {
    this.commonContinue();
  }
  decodingBuffer(): BodyBuffer | null {
    return this.fm.bufferedRequest;
  }
  requestHeaders(): HeaderMap | null {
    return this.fm.requestHeadersMap;
  }
  requestTrailers(): HeaderMap | null {
    return this.fm.requestTrailersMap;
  }
  addDecodedTrailers(): HeaderMap {
    return this.fm.addDecodedTrailers();
  }
  sendLocalReply(reply: LocalReply): void {
    this.fm.sendLocalReply(reply);
  }
  sendLocalReplyWith(reply: LocalReply, modifyHeaders?: (h: HeaderMap) => void): void {
    this.fm.sendLocalReply(reply, modifyHeaders);
  }
  clearRouteCache(): void {
    this.fm.clearRouteCache();
  }
  route(): { name: string; clusterName: string } | null {
    const r = this.fm.route();
    return r ? { name: r.name, clusterName: r.clusterName } : null;
  }
  resolvedRoute(): ResolvedRoute | null {
    return this.fm.route();
  }
  resetStream(): void {
    this.fm.resetStream();
  }
  encodeHeaders(headers: HeaderMap, endStream: boolean, details: string): void {
    this.fm.streamInfo.responseCodeDetails = details;
    this.fm.responseHeadersMap = headers;
    this.fm.encodeHeadersFrom(null, headers, endStream);
  }
  encodeData(data: Buffer, endStream: boolean): void {
    this.fm.encodeDataFrom(null, new BodyBuffer(data), endStream, true);
  }
  encodeTrailers(trailers: HeaderMap): void {
    this.fm.responseTrailersMap = trailers;
    this.fm.encodeTrailersFrom(null, trailers);
  }
  addDecodedData(data: BodyBuffer, streaming: boolean): void {
    this.fm.addDecodedData(this, data, streaming);
  }
  get bufferLimit(): number {
    return this.fm.bufferLimit;
  }
  get isGrpcRequest(): boolean {
    return this.fm.isGrpcRequest;
  }
}

class ActiveEncoderFilter extends ActiveFilter implements EncoderFilterCallbacks {
  canContinue(): boolean {
    return !this.fm.remoteEncodeComplete;
  }
  complete(): boolean {
    return this.fm.localComplete;
  }
  buffered(): BodyBuffer | null {
    return this.fm.bufferedResponse;
  }
  setBuffered(b: BodyBuffer | null): void {
    this.fm.bufferedResponse = b;
  }
  hasTrailers(): boolean {
    return this.fm.responseTrailersMap !== null;
  }
  doHeaders(endStream: boolean): void {
    this.fm.encodeHeadersFrom(this, this.fm.responseHeadersMap!, endStream);
  }
  doData(endStream: boolean): void {
    this.fm.encodeDataFrom(this, this.fm.bufferedResponse!, endStream, true);
  }
  doTrailers(): void {
    this.fm.encodeTrailersFrom(this, this.fm.responseTrailersMap!);
  }
  bufferTooLarge(): void {
    // ActiveStreamEncoderFilter::responseDataTooLarge: 500 straight to the codec (headers exist) or reset.
    if (this.fm.encoderStreaming) return; // upstream flow control is not modelled
    this.fm.sendLocalReply({ status: 500, body: 'Internal Server Error', details: 'response_payload_too_large' });
  }
  bufferDrained(): void {}
  setStreaming(streaming: boolean): void {
    this.fm.encoderStreaming = streaming;
  }

  // EncoderFilterCallbacks
  continueEncoding(): void {
    this.commonContinue();
  }
  encodingBuffer(): BodyBuffer | null {
    return this.fm.bufferedResponse;
  }
  addEncodedData(data: BodyBuffer, streaming: boolean): void {
    this.fm.addEncodedData(this, data, streaming);
  }
  responseHeaders(): HeaderMap | null {
    return this.fm.responseHeadersMap;
  }
  responseTrailers(): HeaderMap | null {
    return this.fm.responseTrailersMap;
  }
  addEncodedTrailers(): HeaderMap {
    return this.fm.addEncodedTrailers();
  }
  sendLocalReply(reply: LocalReply): void {
    this.fm.sendLocalReply(reply);
  }
  resetStream(): void {
    this.fm.resetStream();
  }
}

/** One stream's filter chain. The connection manager feeds `decode*`; the router calls back into `encode*`. */
export class FilterManager {
  readonly decoders: ActiveDecoderFilter[] = [];
  readonly encoders: ActiveEncoderFilter[] = [];
  requestHeadersMap: HeaderMap | null = null;
  requestTrailersMap: HeaderMap | null = null;
  responseHeadersMap: HeaderMap | null = null;
  responseTrailersMap: HeaderMap | null = null;
  bufferedRequest: BodyBuffer | null = null;
  bufferedResponse: BodyBuffer | null = null;

  /** The whole request was received from downstream. */
  remoteDecodeComplete = false;
  /** The response's end of stream entered the encoder chain (Envoy `local_complete_`). */
  localComplete = false;
  /** The response's end of stream left for the codec (Envoy `remote_encode_complete_`). */
  remoteEncodeComplete = false;
  /** Non-1xx response headers were written to the codec. */
  responseHeadersEncoded = false;
  decoderStreaming = false;
  encoderStreaming = false;
  destroyed = false;
  sawDownstreamReset = false;
  isGrpcRequest = false;
  isHeadRequest = false;
  private callState = 0;
  private decoderChainAborted = false;
  private encoderChainAborted = false;
  private prepared: PreparedLocalReply | null = null;
  private aboveWatermark = false;
  private cachedRoute: ResolvedRoute | null | undefined = undefined;
  private completed = false;

  constructor(
    readonly streamInfo: StreamInfo,
    readonly callbacks: FilterManagerCallbacks,
    filters: FilterEntry[],
    readonly bufferLimit: number,
  ) {
    for (const f of filters) {
      if (f.decoder) {
        const a = new ActiveDecoderFilter(this, f);
        a.index = this.decoders.length;
        this.decoders.push(a);
        f.filter.setDecoderFilterCallbacks(a);
      }
    }
    // Encoder filters run in reverse configuration order (FilterChainFactoryCallbacksImpl).
    for (let i = filters.length - 1; i >= 0; i--) {
      const f = filters[i];
      if (f.encoder) {
        const a = new ActiveEncoderFilter(this, f);
        a.index = this.encoders.length;
        this.encoders.push(a);
        f.filter.setEncoderFilterCallbacks(a);
      }
    }
    this.filters = filters;
  }

  private readonly filters: FilterEntry[];

  // ---- entry points from the connection manager ----

  /** Request headers from downstream (ActiveStream::decodeHeaders → FilterManager::decodeHeaders). */
  decodeHeaders(headers: HeaderMap, endStream: boolean): void {
    this.requestHeadersMap = headers;
    this.isGrpcRequest = isGrpcContentType(headers.get('content-type'));
    this.isHeadRequest = headers.get(':method') === 'HEAD';
    if (endStream) this.remoteDecodeComplete = true;
    // Envoy resolves the route before the filter chain runs (conn_manager_impl.cc
    // ActiveStream::decodeHeaders → refreshCachedRoute), so filters read `cluster_name`
    // and `route_name` from their first callback.
    this.route();
    this.decodeHeadersFrom(null, headers, endStream);
  }

  decodeData(data: Buffer, endStream: boolean): void {
    if (endStream) this.remoteDecodeComplete = true;
    this.streamInfo.requestBodyBytes += data.length;
    this.decodeDataFrom(null, new BodyBuffer(data), endStream, false);
  }

  decodeTrailers(trailers: HeaderMap): void {
    this.remoteDecodeComplete = true;
    this.requestTrailersMap = trailers;
    this.decodeTrailersFrom(null, trailers);
  }

  /** The downstream reset the stream (client went away): filters are told at completion. */
  onDownstreamReset(): void {
    if (this.completed) return;
    this.sawDownstreamReset = true;
    this.complete();
  }

  // ---- decode path ----

  decodeHeadersFrom(from: ActiveDecoderFilter | null, headers: HeaderMap, endStream: boolean): void {
    let i = from ? from.index + 1 : 0;
    let continueDataEntry: ActiveDecoderFilter | null = null;
    for (; i < this.decoders.length; i++) {
      const e = this.decoders[i];
      e.endStream = endStream && continueDataEntry === null;
      this.callState |= CALL_DECODE_HEADERS | (e.endStream ? CALL_END_OF_STREAM : 0);
      let status = e.entry.filter.decodeHeaders ? e.entry.filter.decodeHeaders(headers, e.endStream) : FilterHeadersStatus.Continue;
      this.callState &= ~(CALL_DECODE_HEADERS | CALL_END_OF_STREAM);
      if (this.decoderChainAborted) {
        this.executePreparedLocalReply();
        status = FilterHeadersStatus.StopIteration;
      }
      const end = { v: endStream };
      const goOn = e.afterHeaders(status, end);
      endStream = end.v;
      if (this.destroyed) return;
      if (this.localComplete && i + 1 < this.decoders.length) {
        this.maybeContinueDecoding(continueDataEntry);
        return;
      }
      if (!goOn && i + 1 < this.decoders.length) {
        this.maybeContinueDecoding(continueDataEntry);
        return;
      }
      // A filter added a body to a header-only request: later filters see end_stream=false.
      if (endStream && this.bufferedRequest && continueDataEntry === null) continueDataEntry = e;
    }
    this.maybeContinueDecoding(continueDataEntry);
  }

  private maybeContinueDecoding(entry: ActiveDecoderFilter | null): void {
    if (entry) {
      entry.iteration = Iteration.StopSingle;
      entry.continueDecoding();
    }
  }

  decodeDataFrom(from: ActiveDecoderFilter | null, data: BodyBuffer, endStream: boolean, canStartFromCurrent: boolean): void {
    if (this.localComplete || this.destroyed) return;
    const trailersAtStart = this.requestTrailersMap !== null;
    let trailersAddedAt: ActiveDecoderFilter | null = null;
    let i = from ? (canStartFromCurrent && from.iterateFromCurrent ? from.index : from.index + 1) : 0;
    for (; i < this.decoders.length; i++) {
      const e = this.decoders[i];
      if (e.stoppedAll()) {
        this.decoderStreaming = e.iteration === Iteration.StopAllWatermark;
        e.bufferData(data);
        return;
      }
      if (e.endStream) return;
      e.endStream = endStream && this.requestTrailersMap === null;
      this.callState |= CALL_DECODE_DATA | (endStream ? CALL_END_OF_STREAM : 0);
      let status = e.entry.filter.decodeData ? e.entry.filter.decodeData(data, e.endStream) : FilterDataStatus.Continue;
      this.callState &= ~(CALL_DECODE_DATA | CALL_END_OF_STREAM);
      if (this.decoderChainAborted) {
        this.executePreparedLocalReply();
        return;
      }
      if (!trailersAtStart && this.requestTrailersMap && !trailersAddedAt) {
        endStream = false;
        trailersAddedAt = e;
      }
      const goOn = e.afterData(status, data);
      if (this.destroyed) return;
      if (!goOn && i + 1 < this.decoders.length) break;
      void status;
    }
    if (trailersAddedAt) this.decodeTrailersFrom(trailersAddedAt, this.requestTrailersMap!);
  }

  decodeTrailersFrom(from: ActiveDecoderFilter | null, trailers: HeaderMap): void {
    if (this.localComplete || this.destroyed) return;
    let i = from ? (from.iterateFromCurrent ? from.index : from.index + 1) : 0;
    for (; i < this.decoders.length; i++) {
      const e = this.decoders[i];
      if (e.stoppedAll()) return;
      this.callState |= CALL_DECODE_TRAILERS;
      let status = e.entry.filter.decodeTrailers ? e.entry.filter.decodeTrailers(trailers) : FilterTrailersStatus.Continue;
      e.endStream = true;
      this.callState &= ~CALL_DECODE_TRAILERS;
      if (this.decoderChainAborted) {
        this.executePreparedLocalReply();
        status = FilterTrailersStatus.StopIteration;
      }
      if (!e.afterTrailers(status)) return;
    }
  }

  addDecodedTrailers(): HeaderMap {
    this.requestTrailersMap = new HeaderMap();
    return this.requestTrailersMap;
  }

  /** FilterManager::addDecodedData. */
  addDecodedData(filter: ActiveDecoderFilter, data: BodyBuffer, streaming: boolean): void {
    if (this.callState === 0 || this.callState & (CALL_DECODE_HEADERS | CALL_DECODE_DATA) || (this.callState & CALL_DECODE_TRAILERS && !filter.canIterate())) {
      this.decoderStreaming = streaming;
      filter.bufferData(data);
    } else if (this.callState & CALL_DECODE_TRAILERS) {
      this.decodeDataFrom(filter, data, false, false);
    } else {
      this.sendLocalReply({ status: 502, body: 'Filter error', details: 'filter_added_invalid_request_data' });
    }
  }

  // ---- encode path ----

  private encodePrefix(from: ActiveEncoderFilter | null, endStream: boolean, canStartFromCurrent: boolean): number {
    if (from === null) {
      this.localComplete = endStream;
      return 0;
    }
    return canStartFromCurrent && from.iterateFromCurrent ? from.index : from.index + 1;
  }

  encodeHeadersFrom(from: ActiveEncoderFilter | null, headers: HeaderMap, endStream: boolean): void {
    if (this.destroyed) return;
    let i = this.encodePrefix(from, endStream, false);
    let continueDataEntry: ActiveEncoderFilter | null = null;
    for (; i < this.encoders.length; i++) {
      const e = this.encoders[i];
      e.endStream = endStream && continueDataEntry === null;
      this.callState |= CALL_ENCODE_HEADERS | (e.endStream ? CALL_END_OF_STREAM : 0);
      let status = e.entry.filter.encodeHeaders ? e.entry.filter.encodeHeaders(headers, e.endStream) : FilterHeadersStatus.Continue;
      this.callState &= ~(CALL_ENCODE_HEADERS | CALL_END_OF_STREAM);
      if (this.encoderChainAborted) status = FilterHeadersStatus.StopIteration;
      const end = { v: endStream };
      const goOn = e.afterHeaders(status, end);
      endStream = end.v;
      if (this.destroyed) return;
      if (!goOn) {
        if (!e.endStream) this.maybeContinueEncoding(continueDataEntry);
        return;
      }
      if (endStream && this.bufferedResponse && continueDataEntry === null) continueDataEntry = e;
    }
    // HeaderUtility::checkRequiredResponseHeaders: a filter must not remove :status.
    const st = headers.get(':status');
    if (!st || !/^\d{3}$/.test(st)) {
      this.sendLocalReply({ status: 502, body: 'missing required header: :status', details: 'filter_removed_required_response_headers{missing_required_header:_:status}' });
      return;
    }
    const end = endStream && continueDataEntry === null;
    this.responseHeadersEncoded = true;
    this.streamInfo.responseCode = Number(st);
    this.callbacks.encodeHeaders(headers, end);
    if (this.sawDownstreamReset) return;
    this.maybeEndEncode(end);
    if (!end) this.maybeContinueEncoding(continueDataEntry);
  }

  private maybeContinueEncoding(entry: ActiveEncoderFilter | null): void {
    if (entry) {
      entry.iteration = Iteration.StopSingle;
      entry.continueEncoding();
    }
  }

  encodeDataFrom(from: ActiveEncoderFilter | null, data: BodyBuffer, endStream: boolean, canStartFromCurrent: boolean): void {
    if (this.destroyed) return;
    let i = this.encodePrefix(from, endStream, canStartFromCurrent);
    const trailersAtStart = this.responseTrailersMap !== null;
    let trailersAddedAt: ActiveEncoderFilter | null = null;
    for (; i < this.encoders.length; i++) {
      const e = this.encoders[i];
      if (e.stoppedAll()) {
        this.encoderStreaming = e.iteration === Iteration.StopAllWatermark;
        e.bufferData(data);
        return;
      }
      if (e.endStream) return;
      this.callState |= CALL_ENCODE_DATA | (endStream ? CALL_END_OF_STREAM : 0);
      e.endStream = endStream && this.responseTrailersMap === null;
      let status = e.entry.filter.encodeData ? e.entry.filter.encodeData(data, e.endStream) : FilterDataStatus.Continue;
      this.callState &= ~(CALL_ENCODE_DATA | CALL_END_OF_STREAM);
      if (this.encoderChainAborted) status = FilterDataStatus.StopIterationNoBuffer;
      if (!trailersAtStart && this.responseTrailersMap && !trailersAddedAt) trailersAddedAt = e;
      const goOn = e.afterData(status, data);
      if (this.destroyed || !goOn) return;
    }
    const end = endStream && trailersAddedAt === null;
    const bytes = data.drain();
    this.streamInfo.responseBodyBytes += bytes.length;
    this.callbacks.encodeData(bytes, end);
    if (this.sawDownstreamReset) return;
    this.maybeEndEncode(end);
    if (trailersAddedAt) this.encodeTrailersFrom(trailersAddedAt, this.responseTrailersMap!);
  }

  encodeTrailersFrom(from: ActiveEncoderFilter | null, trailers: HeaderMap): void {
    if (this.destroyed) return;
    let i = this.encodePrefix(from, true, true);
    for (; i < this.encoders.length; i++) {
      const e = this.encoders[i];
      if (e.stoppedAll()) return;
      this.callState |= CALL_ENCODE_TRAILERS;
      const status = e.entry.filter.encodeTrailers ? e.entry.filter.encodeTrailers(trailers) : FilterTrailersStatus.Continue;
      e.endStream = true;
      this.callState &= ~CALL_ENCODE_TRAILERS;
      if (!e.afterTrailers(status)) return;
    }
    this.callbacks.encodeTrailers(trailers);
    if (this.sawDownstreamReset) return;
    this.maybeEndEncode(true);
  }

  addEncodedTrailers(): HeaderMap {
    this.responseTrailersMap = new HeaderMap();
    return this.responseTrailersMap;
  }

  /** FilterManager::addEncodedData. */
  addEncodedData(filter: ActiveEncoderFilter, data: BodyBuffer, streaming: boolean): void {
    if (this.callState === 0 || this.callState & (CALL_ENCODE_HEADERS | CALL_ENCODE_DATA) || (this.callState & CALL_ENCODE_TRAILERS && !filter.canIterate())) {
      this.encoderStreaming = streaming;
      filter.bufferData(data);
    } else if (this.callState & CALL_ENCODE_TRAILERS) {
      this.encodeDataFrom(filter, data, false, false);
    } else {
      this.sendLocalReply({ status: 502, body: 'Filter error', details: 'filter_added_invalid_response_data' });
    }
  }

  private maybeEndEncode(end: boolean): void {
    if (!end || this.remoteEncodeComplete) return;
    this.remoteEncodeComplete = true;
    this.complete();
  }

  // ---- buffers ----

  /** Watermark buffer accounting: crossing the limit calls the filter's too-large handler once. */
  checkWatermark(filter: ActiveFilter, before: number, after: number): void {
    if (after > this.bufferLimit && before <= this.bufferLimit) {
      if (filter instanceof ActiveDecoderFilter) this.aboveWatermark = this.decoderStreaming;
      filter.bufferTooLarge();
    }
  }

  /** Called when the router has taken the request body: lets a paused downstream resume. */
  requestBufferDrained(): void {
    if (this.aboveWatermark) {
      this.aboveWatermark = false;
      this.callbacks.onDecoderBelowLowWatermark();
    }
  }

  // ---- routes ----

  route(): ResolvedRoute | null {
    if (this.cachedRoute === undefined) {
      const route = this.requestHeadersMap ? this.callbacks.resolveRoute(this.requestHeadersMap) : null;
      this.cachedRoute = route;
      // conn_manager_impl.cc setRoute: the stream info follows the refreshed route, so
      // `xds.route_name` / `xds.cluster_name` are gone when the new headers match none.
      this.streamInfo.routeName = route?.name;
      this.streamInfo.clusterName = route?.clusterName || undefined; // direct responses have no cluster
    }
    return this.cachedRoute;
  }

  clearRouteCache(): void {
    this.cachedRoute = undefined;
  }

  // ---- local replies and resets ----

  /**
   * DownstreamFilterManager::sendLocalReply. `modifyHeaders` adds response headers (the
   * router's `x-envoy-attempt-count`).
   */
  sendLocalReply(reply: LocalReply, modifyHeaders?: (h: HeaderMap) => void): void {
    if (this.destroyed) return;
    if (this.callState & DECODING) this.decoderChainAborted = true;
    else if (this.callState & ENCODING) this.encoderChainAborted = true;
    this.streamInfo.responseCodeDetails = reply.details;
    if (!this.responseHeadersMap) {
      // The route is resolved (if still possible) so the response path need not do it.
      this.route();
      const prepared = prepareLocalReply(reply, this.isGrpcRequest, this.isHeadRequest);
      if (modifyHeaders) modifyHeaders(prepared.headers);
      if (this.callState & DECODING) {
        // Sent when the running decoder callback returns (prepareLocalReplyViaFilterChain).
        if (!this.prepared) this.prepared = prepared;
        return;
      }
      this.encodeLocalReply(prepared);
    } else if (!this.responseHeadersEncoded) {
      // Headers entered the chain but were not sent: bypass the filters (sendDirectLocalReply).
      const prepared = prepareLocalReply(reply, this.isGrpcRequest, this.isHeadRequest);
      if (modifyHeaders) modifyHeaders(prepared.headers);
      this.encoderStreaming = true;
      this.responseHeadersMap = prepared.headers;
      const end = prepared.body.length === 0;
      this.responseHeadersEncoded = true;
      this.streamInfo.responseCode = Number(prepared.headers.get(':status'));
      this.localComplete = true;
      this.callbacks.encodeHeaders(prepared.headers, end);
      if (this.sawDownstreamReset) return;
      if (!end) this.callbacks.encodeData(prepared.body, true);
      this.maybeEndEncode(true);
    } else {
      this.resetStream();
    }
  }

  private executePreparedLocalReply(): void {
    const p = this.prepared;
    if (!p) return;
    this.prepared = null;
    this.encodeLocalReply(p);
  }

  /** Utility::encodeLocalReply through the encoder filters. */
  private encodeLocalReply(p: PreparedLocalReply): void {
    this.responseHeadersMap = p.headers;
    const end = p.body.length === 0;
    this.encodeHeadersFrom(null, p.headers, end);
    if (!end && !this.destroyed && !this.sawDownstreamReset) this.encodeDataFrom(null, new BodyBuffer(p.body), true, true);
  }

  /** A filter or the router resets the downstream stream. */
  resetStream(): void {
    if (this.destroyed) return;
    if (this.callState & DECODING) this.decoderChainAborted = true;
    else if (this.callState & ENCODING) this.encoderChainAborted = true;
    this.callbacks.resetStream();
    this.sawDownstreamReset = true;
    this.complete();
  }

  /** End of the stream: access-log time for every filter, then destruction (conn_manager_impl.cc doEndStream/doDeferredStreamDestroy). */
  private complete(): void {
    if (this.completed) return;
    this.completed = true;
    for (const f of this.filters) {
      try {
        f.filter.onStreamComplete?.();
      } catch {
        /* a failing filter must not keep others from logging */
      }
    }
    this.destroyed = true;
    for (const f of this.filters) {
      try {
        f.filter.onDestroy?.();
      } catch {
        /* as above */
      }
    }
    this.callbacks.onDone();
  }

  /** True once the stream completed and its filters were destroyed. */
  get done(): boolean {
    return this.completed;
  }
}
