/**
 * What jwt-auth reads and writes on a request, apart from the SDK, so that the logic
 * (extraction, requirements, header writes) runs the same on the host
 * (host-request.ts) and in as-pect specs (a list of headers).
 */
import { RequestHeaders } from "../../assembly/match";
import { HeaderName } from "../../assembly/proxy-wasm";

/**
 * A name jwt-auth reads or writes: a header name (lower case, as config.ts gives it), or
 * the name of a query parameter or cookie a token is read from; with the SDK's
 * `HeaderName` of it, encoded once (configuration time), and jwt-auth's own bookkeeping.
 */
export class FieldName {
  /**
   * `name` as the SDK's header name. Encoded as given, not `HeaderName.of` (which lowers
   * it): cookie names are case-sensitive (RFC 6265 §4.1.1) and compared byte for byte.
   */
  readonly header: HeaderName;
  /**
   * Index in `JwtAuthConfig.sanitizedHeaders` when jwt-auth writes this header for
   * upstream (config.ts `checkHeaderUse`), else -1.
   */
  sanitizedIndex: i32 = -1;

  constructor(readonly name: string) {
    this.header = HeaderName.wrap(String.UTF8.encode(name));
  }
}

/**
 * A header value as bytes: `bytes[start..end)`. `bytes` may be longer (a buffer the
 * request reuses); the value stays valid for the evaluation it was read in.
 */
export class HeaderBytes {
  constructor(public bytes: Uint8Array = new Uint8Array(0), public start: i32 = 0, public end: i32 = 0) {}
}

/** The request as jwt-auth sees it: `RequestHeaders` (match conditions) plus token bytes and edits. */
export abstract class AuthRequest extends RequestHeaders {
  /**
   * Value number `nth` (from 0, in the order of the request's fields) of header `name`
   * into `out`; false when the header has fewer values. Every field of a repeated header
   * counts: Envoy's `proxy_get_header_map_value` gives only the first one.
   */
  abstract headerValue(name: FieldName, nth: i32, out: HeaderBytes): bool;

  /**
   * Whether the request has header `name` (its value is not read), as of the last read
   * of the request in this evaluation: for the headers jwt-auth removes unless it wrote
   * them (`JwtAuthStream.sanitize`), which its own edits never touch.
   */
  abstract hadHeader(name: FieldName): bool;

  /** Removes every value of `name`. */
  abstract removeHeader(name: FieldName): void;

  /** Adds a value of `name` (UTF-8), keeping the values already there. */
  abstract addHeaderBytes(name: FieldName, value: ArrayBuffer): void;

  /** Sets `name` to `value` (UTF-8), replacing every value there was. */
  abstract replaceHeaderBytes(name: FieldName, value: ArrayBuffer): void;

  /** Sets `name` to `value`, replacing what was there. */
  abstract replaceHeader(name: FieldName, value: string): void;
}
