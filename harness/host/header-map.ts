/**
 * An HTTP header map as Envoy keeps it: an ordered list of (name, value) pairs with
 * lower-case names, repeated names allowed, pseudo-headers (`:method`, `:path`,
 * `:authority`, `:scheme`, `:status`) first: the maps of the proxy-wasm host
 * (`proxy_*_header_map_*` hostcalls) and of the emulator's streams.
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
    const pairs = this.pairs;
    let i = 0;
    while (i < pairs.length && pairs[i][0] !== key) i++;
    if (i === pairs.length) {
      this.add(key, value);
      return;
    }
    pairs[i] = [key, value];
    this.compact(key, i + 1);
  }

  /** Removes every value of `name`; returns how many were removed. */
  remove(name: string): number {
    const key = name.toLowerCase();
    const pairs = this.pairs;
    let i = 0;
    while (i < pairs.length && pairs[i][0] !== key) i++;
    // Request paths remove many absent names: no allocation unless something goes.
    return i === pairs.length ? 0 : this.compact(key, i);
  }

  /** Drops pairs named `key` from index `from` on, in place; returns how many. */
  private compact(key: string, from: number): number {
    const pairs = this.pairs;
    let w = from;
    for (let r = from; r < pairs.length; r++) if (pairs[r][0] !== key) pairs[w++] = pairs[r];
    const removed = pairs.length - w;
    pairs.length = w;
    return removed;
  }

  /** Replaces the whole map. */
  replaceAll(pairs: Iterable<HeaderPair>): void {
    this.pairs = [];
    for (const [k, v] of pairs) this.add(k, v);
  }

  entries(): HeaderPair[] {
    return this.pairs.map(([k, v]) => [k, v]);
  }

  /**
   * A map from `[name0, value0, name1, value1, ...]` (Node's raw header layout; the form
   * headers cross threads in, one flat array being far cheaper to clone than pairs).
   */
  static fromFlat(flat: readonly string[]): HeaderMap {
    const map = new HeaderMap();
    for (let i = 0; i + 1 < flat.length; i += 2) map.add(flat[i], flat[i + 1]);
    return map;
  }

  /** The pairs as `[name0, value0, name1, value1, ...]`. */
  flat(): string[] {
    const out: string[] = new Array(this.pairs.length * 2);
    for (let i = 0; i < this.pairs.length; i++) {
      out[2 * i] = this.pairs[i][0];
      out[2 * i + 1] = this.pairs[i][1];
    }
    return out;
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
