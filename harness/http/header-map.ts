/**
 * An HTTP header map as Envoy keeps it: an ordered list of (name, value) pairs with
 * lower-case names, repeated names allowed, pseudo-headers (`:method`, `:path`,
 * `:authority`, `:scheme`, `:status`) first. Shared by the proxy (codecs, filter
 * manager, router) and the proxy-wasm host (`proxy_*_header_map_*` hostcalls).
 *
 * Values are JS strings holding bytes as latin1 (one char per octet), so that any
 * header bytes round-trip through the ABI unchanged.
 */
export type HeaderPair = [name: string, value: string];

export class HeaderMap {
  private pairs: HeaderPair[];

  constructor(pairs: Iterable<HeaderPair> = []) {
    this.pairs = [];
    for (const [k, v] of pairs) this.add(k, v);
  }

  /** Number of pairs (a repeated name counts once per value). */
  get size(): number {
    return this.pairs.length;
  }

  /** First value of `name`, or undefined. */
  get(name: string): string | undefined {
    const key = name.toLowerCase();
    for (const [k, v] of this.pairs) if (k === key) return v;
    return undefined;
  }

  /** All values of `name`, in order. */
  getAll(name: string): string[] {
    const key = name.toLowerCase();
    return this.pairs.filter(([k]) => k === key).map(([, v]) => v);
  }

  has(name: string): boolean {
    return this.get(name) !== undefined;
  }

  /** Appends a pair; pseudo-headers are kept ahead of regular headers. */
  add(name: string, value: string): void {
    const key = name.toLowerCase();
    if (key.startsWith(':')) {
      const firstRegular = this.pairs.findIndex(([k]) => !k.startsWith(':'));
      if (firstRegular >= 0) {
        this.pairs.splice(firstRegular, 0, [key, value]);
        return;
      }
    }
    this.pairs.push([key, value]);
  }

  /** Replaces every value of `name` with one value (Envoy `setCopy`). */
  set(name: string, value: string): void {
    const key = name.toLowerCase();
    const i = this.pairs.findIndex(([k]) => k === key);
    if (i < 0) {
      this.add(key, value);
      return;
    }
    this.pairs[i] = [key, value];
    this.pairs = this.pairs.filter(([k], j) => j <= i || k !== key);
  }

  /** Removes every value of `name`; returns how many were removed. */
  remove(name: string): number {
    const key = name.toLowerCase();
    const before = this.pairs.length;
    this.pairs = this.pairs.filter(([k]) => k !== key);
    return before - this.pairs.length;
  }

  /** Replaces the whole map. */
  replaceAll(pairs: Iterable<HeaderPair>): void {
    this.pairs = [];
    for (const [k, v] of pairs) this.add(k, v);
  }

  entries(): HeaderPair[] {
    return this.pairs.map(([k, v]) => [k, v]);
  }

  [Symbol.iterator](): IterableIterator<HeaderPair> {
    return this.entries()[Symbol.iterator]();
  }

  clone(): HeaderMap {
    return new HeaderMap(this.pairs);
  }

  /** Approximate size in bytes, as Envoy counts it against `max_request_headers_kb`. */
  byteSize(): number {
    let n = 0;
    for (const [k, v] of this.pairs) n += k.length + v.length;
    return n;
  }
}
