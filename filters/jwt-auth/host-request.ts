/**
 * `AuthRequest` over the proxy-wasm SDK: the request headers of one HTTP context at a
 * time. The root context keeps one and points it at the stream it evaluates (`use`), so
 * the request path allocates no view per request, and a stream paused for keys is
 * evaluated from the root exactly as from its own callback: every call makes that
 * stream's context the effective one first.
 *
 * The request is read as its whole header map (`proxy_get_header_map_pairs`, spec
 * v0.2.1 "HTTP fields"), copied into a buffer this view reuses from request to request:
 * `proxy_get_header_map_value` answers the first value of a repeated header only (Envoy
 * context.cc `getHeaderMapValue`), and a second `x-service-token` field must be checked
 * too. One read serves `:path` and `:method` (rule matching), every token location of an
 * evaluation and the presence tests of the headers jwt-auth removes (`hadHeader`); an
 * edit makes the next value read fetch the map again. Other headers a `match` reads
 * come from assembly/match `HostRequestHeaders`, once per stream; edits forget them.
 * These raw reads stand in for SDK `HeaderMap` methods the SDK does not have (its
 * `getAll` decodes every entry into new strings).
 */
import { HostRequestHeaders } from "../../assembly/match/host";
import { HttpContext, MapType, WasmResult } from "../../assembly/proxy-wasm";
import { proxy_get_header_map_pairs, proxy_get_header_map_value } from "../../assembly/proxy-wasm/abi/imports";
import { RET_PTR, RET_SIZE, hostMemoryMark, releaseHostMemory, returnedRange } from "../../assembly/proxy-wasm/abi/memory";
import { validatePairs } from "../../assembly/proxy-wasm/abi/pairs";
import { sameBytes } from "./bytes";
import { AuthRequest, HeaderBytes, HeaderName } from "./request";

const PATH = new HeaderName(":path");
const METHOD = new HeaderName(":method");

export class HostAuthRequest extends AuthRequest {
  private readonly view: HostRequestHeaders;
  /** `:path` and `:method` decoded from `fields`, until an edit. */
  private pathValue: string | null = null;
  private methodValue: string | null = null;
  private readonly scratch: HeaderBytes = new HeaderBytes();
  /** The serialized request header map (spec "Serialization"), `fieldsSize` bytes; -1: not read in this evaluation. */
  private fields: Uint8Array = new Uint8Array(1024);
  private fieldsSize: i32 = -1;
  /** Whether `fields` is the map as it is now (no edit since it was read). */
  private fieldsCurrent: bool = false;
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

  /** Starts an evaluation: forgets every value read (their buffer is reused). */
  restart(): HostAuthRequest {
    this.edited();
    this.fieldsSize = -1;
    return this;
  }

  path(): string {
    let path = this.pathValue;
    if (path === null) this.pathValue = path = this.text(PATH);
    return path;
  }

  method(): string {
    let method = this.methodValue;
    if (method === null) this.methodValue = method = this.text(METHOD);
    return method;
  }

  header(name: string): string | null {
    this.stream.activate();
    this.viewUsed = true;
    return this.view.header(name);
  }

  /** Views into the copy of the header map: valid until the next read after an edit. */
  headerValue(name: HeaderName, nth: i32, out: HeaderBytes): bool {
    if (!this.fieldsCurrent) this.readFields();
    return this.find(name, nth, out);
  }

  hadHeader(name: HeaderName): bool {
    if (this.fieldsSize >= 0) return this.find(name, 0, null);
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

  /**
   * The first value of `name` as a string ("" when absent), from the copy of the header
   * map (read now if an edit made it stale): no hostcall when the evaluation read it.
   */
  text(name: HeaderName): string {
    const value = this.scratch;
    if (!this.headerValue(name, 0, value)) return "";
    return String.UTF8.decodeUnsafe(value.bytes.dataStart + <usize>value.start, <usize>(value.end - value.start));
  }

  /** After an edit: what was read may be stale. */
  private edited(): void {
    this.fieldsCurrent = false;
    this.pathValue = null;
    this.methodValue = null;
    if (this.viewUsed) {
      this.view.forget();
      this.viewUsed = false;
    }
  }

  /** Copies the request header map into `fields` (an empty map when the host has none, or sends a malformed one). */
  private readFields(): void {
    this.stream.activate();
    const mark = hostMemoryMark();
    let size = 0;
    if (returnedRange(mark, proxy_get_header_map_pairs(MapType.HttpRequestHeaders, RET_PTR, RET_SIZE))) {
      const ptr = load<usize>(RET_PTR);
      const got = load<usize>(RET_SIZE);
      if (validatePairs(ptr, got) > 0) {
        size = <i32>got;
        if (this.fields.length < size) {
          let capacity = this.fields.length << 1;
          while (capacity < size) capacity <<= 1;
          this.fields = new Uint8Array(capacity);
        }
        memory.copy(this.fields.dataStart, ptr, got);
      }
      releaseHostMemory(mark);
    }
    this.fieldsSize = size;
    this.fieldsCurrent = true;
  }

  /** Finds value `nth` of `name` in `fields` (validated when read), into `out` when given. */
  private find(name: HeaderName, nth: i32, out: HeaderBytes | null): bool {
    if (this.fieldsSize == 0) return false;
    const base = this.fields.dataStart;
    const want = changetype<usize>(name.utf8);
    const wantLen = <u32>name.utf8.byteLength;
    const n = load<u32>(base);
    let sizes = base + 4;
    let data = sizes + (<usize>n << 3);
    for (let i: u32 = 0; i < n; i++, sizes += 8) {
      const nameLen = load<u32>(sizes);
      const valueLen = load<u32>(sizes, 4);
      if (nameLen == wantLen && sameBytes(data, want, <i32>wantLen) && nth-- == 0) {
        if (out !== null) {
          out.bytes = this.fields;
          out.start = <i32>(data + <usize>nameLen + 1 - base);
          out.end = out.start + <i32>valueLen;
        }
        return true;
      }
      data += <usize>nameLen + <usize>valueLen + 2;
    }
    return false;
  }
}
