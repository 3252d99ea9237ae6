/**
 * `AuthRequest` over the proxy-wasm SDK: the request headers of one HTTP context at a
 * time. The root context keeps one and points it at the stream it evaluates (`use`), so
 * the request path allocates no view per request, and a stream paused for keys is
 * evaluated from the root exactly as from its own callback: every call makes that
 * stream's context the effective one first.
 *
 * The request is read as its whole header map (SDK `HeaderFields`: one
 * `proxy_get_header_map_pairs`, spec v0.2.1 "HTTP fields", into a buffer reused from
 * request to request): `proxy_get_header_map_value` answers the first value of a
 * repeated header only (Envoy context.cc `getHeaderMapValue`), and a second
 * `x-service-token` field must be checked too. One read serves `:path` and `:method`
 * (rule matching), every token location of an evaluation and the presence tests of the
 * headers jwt-auth removes (`hadHeader`); an edit makes the next value read fetch the
 * map again. Other headers a `match` reads come from assembly/match
 * `HostRequestHeaders`, once per stream; edits forget them.
 */
import { HostRequestHeaders } from "../../assembly/match/host";
import { HeaderFields, HttpContext } from "../../assembly/proxy-wasm";
import { AuthRequest, HeaderBytes, FieldName } from "./request";

const PATH = new FieldName(":path");
const METHOD = new FieldName(":method");

export class HostAuthRequest extends AuthRequest {
  private readonly view: HostRequestHeaders;
  /** `:path` and `:method` decoded from `fields`, until an edit. */
  private pathValue: string | null = null;
  private methodValue: string | null = null;
  /** The request header map as last read. */
  private readonly fields: HeaderFields = new HeaderFields();
  /** Whether `fields` was read in this evaluation. */
  private fieldsRead: bool = false;
  /** Whether `fields` is the map as it is now (no edit since it was read). */
  private fieldsCurrent: bool = false;
  /** Whether the last read of `fields` succeeded (else the map is read as empty). */
  private fieldsValid: bool = false;
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
    this.fieldsRead = false;
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
  headerValue(name: FieldName, nth: i32, out: HeaderBytes): bool {
    if (!this.fieldsCurrent) this.readFields();
    return this.find(name, nth, out);
  }

  hadHeader(name: FieldName): bool {
    if (this.fieldsRead) return this.fields.find(name.header);
    return this.stream.requestHeaders.has(name.header);
  }

  removeHeader(name: FieldName): void {
    this.stream.requestHeaders.remove(name.header);
    this.edited();
  }

  addHeaderBytes(name: FieldName, value: ArrayBuffer): void {
    this.stream.requestHeaders.addBytes(name.header, value);
    this.edited();
  }

  replaceHeaderBytes(name: FieldName, value: ArrayBuffer): void {
    this.stream.requestHeaders.replaceBytes(name.header, value);
    this.edited();
  }

  replaceHeader(name: FieldName, value: string): void {
    this.stream.requestHeaders.replace(name.header, value);
    this.edited();
  }

  /**
   * The first value of `name` as a string ("" when absent) as the SDK's copy of the map
   * decodes it (the copy `readFields` gave it, read again if an edit made it stale): no
   * hostcall when the evaluation read it, and the filters after this one in a chain get
   * the same string for `:path` and `:method`.
   */
  text(name: FieldName): string {
    if (!this.fieldsCurrent) this.readFields();
    // A map the host would not give (or gave malformed) is empty here, as for every other header.
    if (!this.fieldsValid) return "";
    const value = this.stream.requestHeaders.get(name.header);
    return value !== null ? value : "";
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

  /** Reads the request header map into `fields` (an empty map when the host has none, or sends a malformed one). */
  private readFields(): void {
    this.fieldsValid = this.fields.read(this.stream.requestHeaders);
    this.fieldsRead = true;
    this.fieldsCurrent = true;
  }

  /** Finds value `nth` of `name` in `fields`, into `out`. */
  private find(name: FieldName, nth: i32, out: HeaderBytes): bool {
    const fields = this.fields;
    if (!fields.find(name.header, nth)) return false;
    out.bytes = fields.bytes;
    out.start = fields.valueStart;
    out.end = fields.valueStart + fields.valueLength;
    return true;
  }
}
