/**
 * A mutable byte buffer for one body chunk or for the body buffered so far (Envoy's
 * `Buffer::Instance` as the filter manager hands it to filters). The proxy-wasm host
 * reads and edits it for `proxy_get_buffer_bytes` / `proxy_set_buffer_bytes`.
 */
export class BodyBuffer {
  private data: Buffer;

  constructor(data: Uint8Array = new Uint8Array(0)) {
    this.data = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  }

  get length(): number {
    return this.data.length;
  }

  /** The current bytes (a view; copy before keeping it past the next edit). */
  bytes(): Buffer {
    return this.data;
  }

  /** Up to `maxSize` bytes from `start`. */
  slice(start: number, maxSize: number): Buffer {
    return this.data.subarray(start, Math.min(this.data.length, start + maxSize));
  }

  /**
   * Replaces `size` bytes at `start` with `value`: prepend (`start`=0, `size`=0),
   * append (`start` ≥ length), replace or inject otherwise. ABI v0.2.1
   * `proxy_set_buffer_bytes` semantics.
   */
  replace(start: number, size: number, value: Uint8Array): void {
    const at = Math.min(start, this.data.length);
    const end = Math.min(this.data.length, at + size);
    this.data = Buffer.concat([this.data.subarray(0, at), value, this.data.subarray(end)]);
  }

  append(value: Uint8Array): void {
    this.data = Buffer.concat([this.data, value]);
  }

  /** Empties the buffer and returns what it held. */
  drain(): Buffer {
    const out = this.data;
    this.data = Buffer.alloc(0);
    return out;
  }
}
