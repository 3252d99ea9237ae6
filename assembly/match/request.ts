import { asciiLowerCase } from "../proxy-wasm";

/**
 * Whether a `content-type` value (bytes, null when absent) makes a request gRPC as
 * Envoy sees it (source/common/grpc/common.cc `hasGrpcContentType`): `application/grpc`
 * exactly or followed by '+' (`application/grpc+proto`); `application/grpc-web` is not.
 * Bytes, so the request path decodes no string.
 */
export function isGrpcContentType(value: ArrayBuffer | null): bool {
  return value !== null && isGrpcContentTypeAt(changetype<usize>(value), value.byteLength);
}

/** `isGrpcContentType` of the `n` bytes at `p` (a value inside a `HeaderFields` copy). */
export function isGrpcContentTypeAt(p: usize, n: i32): bool {
  const base = "application/grpc";
  const m = base.length;
  if (n < m) return false;
  for (let i = 0; i < m; i++) if (<i32>load<u8>(p + <usize>i) != base.charCodeAt(i)) return false;
  return n == m || load<u8>(p + <usize>m) == 0x2b; // '+'
}

/**
 * Whether a string reference is set, for the matchers and their request views. (`s !==
 * null` on a string compiles to a String.__eq call, on the request path too.)
 */
// @ts-ignore: decorator
@inline export function isSet(s: string | null): bool {
  return changetype<usize>(s) != 0;
}

/**
 * What a `RequestMatch` reads from a request: `:path`, `:method` and headers by
 * lower-case name. Filters implement it over the SDK, fetching each value only when a
 * matcher asks for it (and caching it for the next rule); specs implement it directly
 * with `HeaderList`.
 */
export abstract class RequestHeaders {
  /** The `:path` pseudo-header, query string included ("" when absent). */
  abstract path(): string;

  /** The `:method` pseudo-header ("" when absent). */
  abstract method(): string;

  /**
   * Value of header `name` (given in lower case), or null when the request has none.
   * For a header sent several times, Envoy's matchers see the values joined with ","
   * (HeaderUtility::getAllOfHeaderAsString, source/common/http/header_utility.cc).
   */
  abstract header(name: string): string | null;
}

/** A fixed list of headers: for specs, and for filters' logic tests. */
export class HeaderList extends RequestHeaders {
  private names: string[] = [];
  private values: string[] = [];

  constructor(private readonly pathValue: string = "/", private readonly methodValue: string = "GET") {
    super();
  }

  /** Adds a header (its name lower-cased, A–Z only, as header names are ASCII); returns this for chaining. */
  add(name: string, value: string): HeaderList {
    this.names.push(asciiLowerCase(name));
    this.values.push(value);
    return this;
  }

  path(): string {
    return this.pathValue;
  }

  method(): string {
    return this.methodValue;
  }

  header(name: string): string | null {
    let found: string | null = null;
    for (let i = 0; i < this.names.length; i++) {
      if (unchecked(this.names[i]) == name) {
        const v = unchecked(this.values[i]);
        found = found === null ? v : found + "," + v;
      }
    }
    return found;
  }
}
