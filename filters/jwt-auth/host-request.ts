/**
 * `AuthRequest` over the proxy-wasm SDK: the request headers of one HTTP context at a
 * time. The root context keeps one and points it at the stream it evaluates (`use`), so
 * the request path allocates no view per request, and a stream paused for keys is
 * evaluated from the root exactly as from its own callback: every call makes that
 * stream's context the effective one first. Values read for `match` conditions are
 * fetched once per stream (assembly/match `HostRequestHeaders`); edits forget them.
 *
 * Token headers are read as bytes into buffers this view reuses from request to request
 * (no allocation per token), once per name per evaluation however many providers read
 * them; `restart` starts an evaluation. The two raw reads below (`proxy_get_header_map_value`
 * into a caller's buffer, and a presence test) stand in for SDK `HeaderMap` methods the
 * SDK does not have yet (it copies every value into a new ArrayBuffer, and tests
 * presence only by a string name it encodes per call).
 */
import { HostRequestHeaders } from "../../assembly/match/host";
import { HttpContext, MapType, WasmResult } from "../../assembly/proxy-wasm";
import { proxy_get_header_map_value } from "../../assembly/proxy-wasm/abi/imports";
import { RET_PTR, RET_SIZE, hostMemoryMark, releaseHostMemory, returnedRange } from "../../assembly/proxy-wasm/abi/memory";
import { AuthRequest, HeaderBytes, HeaderName } from "./request";

/** Most header names remembered per evaluation (a provider reads a handful). */
const MAX_READS = 16;

export class HostAuthRequest extends AuthRequest {
  private readonly view: HostRequestHeaders;
  /** Values read in this evaluation, by name (null: absent); cleared by edits. */
  private readonly readNames: StaticArray<HeaderName | null> = new StaticArray<HeaderName | null>(MAX_READS);
  private readonly readValues: StaticArray<HeaderBytes | null> = new StaticArray<HeaderBytes | null>(MAX_READS);
  private reads: i32 = 0;
  /** Buffers for the values read in this evaluation, reused by the next one. */
  private readonly pool: HeaderBytes[] = [];
  private pooled: i32 = 0;
  /** Whether the match view may hold values read since it was last cleared. */
  private viewUsed: bool = false;

  constructor(private stream: HttpContext) {
    super();
    this.view = new HostRequestHeaders(stream.requestHeaders);
  }

  /** Points this view at `stream` (forgetting what it read from another one). */
  use(stream: HttpContext): HostAuthRequest {
    if (stream !== this.stream) {
      this.stream = stream;
      this.restart();
    }
    return this;
  }

  /** Starts an evaluation: forgets every value read, and reuses their buffers. */
  restart(): HostAuthRequest {
    this.forgetView();
    this.reads = 0;
    this.pooled = 0;
    return this;
  }

  path(): string {
    this.stream.activate();
    this.viewUsed = true;
    return this.view.path();
  }

  method(): string {
    this.stream.activate();
    this.viewUsed = true;
    return this.view.method();
  }

  header(name: string): string | null {
    this.stream.activate();
    this.viewUsed = true;
    return this.view.header(name);
  }

  headerBytes(name: HeaderName): HeaderBytes | null {
    const n = this.reads;
    for (let i = 0; i < n; i++) if (unchecked(this.readNames[i]) === name) return unchecked(this.readValues[i]);
    this.stream.activate();
    const utf8 = name.utf8;
    const mark = hostMemoryMark();
    const r = proxy_get_header_map_value(MapType.HttpRequestHeaders, changetype<usize>(utf8), <usize>utf8.byteLength, RET_PTR, RET_SIZE);
    let value: HeaderBytes | null = null;
    if (r == WasmResult.Ok && returnedRange(mark)) {
      const size = <i32>load<usize>(RET_SIZE);
      value = this.buffer(size);
      memory.copy(value.bytes.dataStart, load<usize>(RET_PTR), <usize>size);
    }
    releaseHostMemory(mark);
    if (n < MAX_READS) {
      unchecked((this.readNames[n] = name));
      unchecked((this.readValues[n] = value));
      this.reads = n + 1;
    }
    return value;
  }

  hasHeader(name: HeaderName): bool {
    this.stream.activate();
    const utf8 = name.utf8;
    const mark = hostMemoryMark();
    const r = proxy_get_header_map_value(MapType.HttpRequestHeaders, changetype<usize>(utf8), <usize>utf8.byteLength, RET_PTR, RET_SIZE);
    releaseHostMemory(mark);
    return r == WasmResult.Ok;
  }

  removeHeader(name: HeaderName): void {
    this.stream.requestHeaders.removeBytes(name.utf8);
    this.edited();
  }

  addHeaderBytes(name: HeaderName, value: ArrayBuffer): void {
    this.stream.requestHeaders.addBytes(name.utf8, value);
    this.edited();
  }

  replaceHeaderBytes(name: HeaderName, value: ArrayBuffer): void {
    this.stream.requestHeaders.replaceBytes(name.utf8, value);
    this.edited();
  }

  replaceHeader(name: HeaderName, value: string): void {
    this.stream.requestHeaders.replaceByName(name.utf8, value);
    this.edited();
  }

  /** After an edit: values read before may be stale (their buffers stay theirs until `restart`). */
  private edited(): void {
    this.forgetView();
    this.reads = 0;
  }

  private forgetView(): void {
    if (this.viewUsed) {
      this.view.forget();
      this.viewUsed = false;
    }
  }

  /** The next pooled buffer, holding at least `size` bytes, with its length set to `size`. */
  private buffer(size: i32): HeaderBytes {
    const pool = this.pool;
    const i = this.pooled++;
    if (i == pool.length) pool.push(new HeaderBytes(new Uint8Array(size < 256 ? 256 : size), size));
    const b = unchecked(pool[i]);
    if (b.bytes.length < size) {
      let capacity = b.bytes.length << 1;
      while (capacity < size) capacity <<= 1;
      b.bytes = new Uint8Array(capacity);
    }
    b.length = size;
    return b;
  }
}
