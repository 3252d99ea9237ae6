/**
 * `AuthRequest` over the proxy-wasm SDK: the request headers of one HTTP context. Every
 * call makes that context the effective one first, so the root context can evaluate a
 * stream it paused (while waiting for keys) exactly as the stream itself does. Values
 * read for `match` conditions are fetched once (assembly/match `HostRequestHeaders`);
 * edits forget them.
 */
import { HostRequestHeaders } from "../../assembly/match/host";
import { HttpContext } from "../../assembly/proxy-wasm";
import { AuthRequest, HeaderName } from "./request";

export class HostAuthRequest extends AuthRequest {
  private readonly view: HostRequestHeaders;

  constructor(readonly stream: HttpContext) {
    super();
    this.view = new HostRequestHeaders(stream.requestHeaders);
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
