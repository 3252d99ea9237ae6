/**
 * What jwt-auth reads and writes on a request, apart from the SDK, so that the logic
 * (extraction, requirements, header writes) runs the same on the host
 * (host-request.ts) and in as-pect specs (a list of headers).
 */
import { RequestHeaders } from "../../assembly/match";

/** A header name in lower case, with its UTF-8 bytes computed once (configuration time). */
export class HeaderName {
  readonly utf8: ArrayBuffer;

  constructor(readonly name: string) {
    this.utf8 = String.UTF8.encode(name);
  }
}

/** The request as jwt-auth sees it: `RequestHeaders` (match conditions) plus token bytes and edits. */
export abstract class AuthRequest extends RequestHeaders {
  /** The first value of header `name` as bytes, or null when absent. */
  abstract headerBytes(name: HeaderName): Uint8Array | null;

  /** Removes every value of `name`. */
  abstract removeHeader(name: HeaderName): void;

  /** Adds a value of `name` (incoming copies were removed first, so this is the only one). */
  abstract addHeader(name: HeaderName, value: string): void;

  /** As `addHeader`, with UTF-8 bytes. */
  abstract addHeaderBytes(name: HeaderName, value: ArrayBuffer): void;

  /** Sets `name` to `value`, replacing what was there. */
  abstract replaceHeader(name: HeaderName, value: string): void;
}
