/**
 * `RequestHeaders` over the SDK's request header map, for filters:
 *
 * ```ts
 * onRequestHeaders(n: u32, end: bool): FilterHeadersStatus {
 *   const request = new HostRequestHeaders(this.requestHeaders);
 *   for (let i = 0; i < rules.length; i++) if (rules[i].match.matches(request)) ...
 * }
 * ```
 *
 * Each value is fetched from the host (`proxy_get_header_map_value`) the first time a
 * matcher asks for it and kept for this object's life, so rules that test the same
 * header cost one hostcall. Make a new one (or call `forget()`) after the filter
 * changes request headers. Kept apart from match.ts so that pure code and specs do
 * not link the SDK.
 */
import { HeaderMap, HeaderName, ascii } from "../proxy-wasm";
import { RequestHeaders, isSet } from "./request";

const PATH = changetype<HeaderName>(ascii.bytes(":path"));
const METHOD = changetype<HeaderName>(ascii.bytes(":method"));

export class HostRequestHeaders extends RequestHeaders {
  private pathValue: string | null = null;
  private methodValue: string | null = null;
  private names: string[] = [];
  private values: Array<string | null> = [];

  constructor(private readonly map: HeaderMap) {
    super();
  }

  path(): string {
    const cached = this.pathValue;
    if (isSet(cached)) return changetype<string>(cached);
    const got = this.map.get(PATH);
    const v = isSet(got) ? changetype<string>(got) : "";
    this.pathValue = v;
    return v;
  }

  method(): string {
    const cached = this.methodValue;
    if (isSet(cached)) return changetype<string>(cached);
    const got = this.map.get(METHOD);
    const v = isSet(got) ? changetype<string>(got) : "";
    this.methodValue = v;
    return v;
  }

  /** The header's (first) value as the host returns it, or null when absent; absence is remembered too. */
  header(name: string): string | null {
    const names = this.names;
    for (let i = 0, n = names.length; i < n; i++) {
      if (unchecked(names[i]) == name) return unchecked(this.values[i]);
    }
    // Configured matcher names arrive as strings (RequestHeaders): the slow path, once per name.
    const value = this.map.getNamed(name);
    names.push(name);
    this.values.push(value);
    return value;
  }

  /** Drops what was fetched (after the filter changed request headers). */
  forget(): void {
    this.pathValue = null;
    this.methodValue = null;
    this.names.length = 0;
    this.values.length = 0;
  }
}
