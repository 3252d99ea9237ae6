/**
 * `AuthRequest` over the proxy-wasm SDK: the request headers of one HTTP context at a
 * time. The root context keeps one and points it at the stream it evaluates (`use`), so
 * the request path allocates no view per request, and a stream paused for keys is
 * evaluated from the root exactly as from its own callback: every call makes that
 * stream's context the effective one first. Values read for `match` conditions are
 * fetched once per stream (assembly/match `HostRequestHeaders`); edits forget them.
 */
import { HostRequestHeaders } from "../../assembly/match/host";
import { HttpContext } from "../../assembly/proxy-wasm";
import { AuthRequest, HeaderName } from "./request";

export class HostAuthRequest extends AuthRequest {
  private readonly view: HostRequestHeaders;

  constructor(private stream: HttpContext) {
    super();
    this.view = new HostRequestHeaders(stream.requestHeaders);
  }

  /** Points this view at `stream` (forgetting what it read from another one). */
  use(stream: HttpContext): HostAuthRequest {
    if (stream !== this.stream) {
      this.stream = stream;
      this.view.forget();
    }
    return this;
  }

  path(): string {
    this.stream.activate();
    return this.view.path();
  }

  method(): string {
    this.stream.activate();
    return this.view.method();
  }

  header(name: string): string | null {
    this.stream.activate();
    return this.view.header(name);
  }

  headerBytes(name: HeaderName): Uint8Array | null {
    const value = this.stream.requestHeaders.getBytes(name.utf8);
    return value === null ? null : Uint8Array.wrap(value);
  }

  removeHeader(name: HeaderName): void {
    this.stream.requestHeaders.removeBytes(name.utf8);
    this.view.forget();
  }

  addHeader(name: HeaderName, value: string): void {
    this.stream.requestHeaders.addBytes(name.utf8, String.UTF8.encode(value));
    this.view.forget();
  }

  addHeaderBytes(name: HeaderName, value: ArrayBuffer): void {
    this.stream.requestHeaders.addBytes(name.utf8, value);
    this.view.forget();
  }

  replaceHeader(name: HeaderName, value: string): void {
    this.stream.requestHeaders.replaceByName(name.utf8, value);
    this.view.forget();
  }
}
