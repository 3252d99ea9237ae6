/**
 * The `match` object every filter takes (filters.md "Common rules"), as the fuzzers
 * generate it and as their models evaluate it: `prefix` / `path` / `suffix` on the path
 * without query and fragment, `methods`, `headers` (`exact`, `prefix`, `present`,
 * `absent`) on the first value of a header; all present conditions must hold.
 *
 * The model reads a request as an AssemblyScript filter does (`RequestView`): header
 * names lower-cased by the host, the first value of each, decoded by AssemblyScript's
 * UTF-8 decoder (odd.ts `asDecode`), `:path` and `:method` "" when absent.
 */
import { HeaderMap } from '../host/header-map.ts';
import type { Rng } from './json-gen.ts';
import { asDecode, type Pair } from './odd.ts';

export interface HeaderCondition {
  name: string;
  exact?: string;
  prefix?: string;
  present?: true;
  absent?: true;
}

export interface Match {
  prefix?: string;
  path?: string;
  suffix?: string;
  methods?: string[];
  headers?: HeaderCondition[];
}

/** A request as a filter reads it. */
export class RequestView {
  /** The header map as the host holds it (names lower case, pseudo-headers first). */
  readonly pairs: Pair[];
  private readonly first = new Map<string, string>();
  private readonly decoded = new Map<string, string | null>();

  constructor(pairs: readonly Pair[]) {
    this.pairs = new HeaderMap(pairs).entries();
    for (const [k, v] of this.pairs) if (!this.first.has(k)) this.first.set(k, v);
  }

  /** The first value's bytes, or undefined. */
  raw(name: string): string | undefined {
    return this.first.get(name);
  }

  /** Every value's bytes, in order. */
  all(name: string): string[] {
    return this.pairs.filter(([k]) => k === name).map(([, v]) => v);
  }

  /** The first value as the filter's string, or null when absent. */
  header(name: string): string | null {
    let v = this.decoded.get(name);
    if (v === undefined) {
      const raw = this.first.get(name);
      v = raw === undefined ? null : asDecode(raw);
      this.decoded.set(name, v);
    }
    return v;
  }

  get path(): string {
    return this.header(':path') ?? '';
  }

  get method(): string {
    return this.header(':method') ?? '';
  }
}

/** The length of `path` before its query string or fragment. */
export function pathLength(path: string): number {
  for (let i = 0; i < path.length; i++) {
    const c = path.charCodeAt(i);
    if (c === 0x3f || c === 0x23) return i;
  }
  return path.length;
}

/** Whether `match` (undefined: match all) selects the request. */
export function matches(match: Match | undefined, r: RequestView): boolean {
  if (!match) return true;
  if (match.methods && match.methods.length > 0 && !match.methods.includes(r.method)) return false;
  if (match.prefix !== undefined || match.path !== undefined || match.suffix !== undefined) {
    const full = r.path;
    const path = full.slice(0, pathLength(full));
    if (match.path !== undefined && path !== match.path) return false;
    if (match.prefix !== undefined && !path.startsWith(match.prefix)) return false;
    if (match.suffix !== undefined && !path.endsWith(match.suffix)) return false;
  }
  for (const h of match.headers ?? []) {
    const v = r.header(h.name.toLowerCase());
    if (v === null) {
      if (!h.absent) return false;
      continue;
    }
    if (h.absent) return false;
    if (h.exact !== undefined && v !== h.exact) return false;
    if (h.prefix !== undefined && !v.startsWith(h.prefix)) return false;
  }
  return true;
}

/** Words the generators share, so that generated matches meet generated requests. */
export const PATHS = ['/', '/api', '/api/', '/api/a', '/api/b/c', '/health', '/x.json', '/api/a.json', '/Api', '/api//a', '/é', ''];
export const METHODS = ['GET', 'POST', 'PUT', 'DELETE', 'HEAD', 'OPTIONS', 'PATCH', 'get', 'BREW'];
export const MATCH_HEADERS = ['x-tier', 'x-user', 'x-h1', 'content-type'];
export const HEADER_WORDS = ['premium', 'free', 'a', '', 'application/grpc', 'application/json', 'x'];

/** A `match` object (undefined: none) from the shared vocabulary. */
export function genMatch(rng: Rng): Match | undefined {
  if (rng.chance(0.25)) return undefined;
  const m: Match = {};
  if (rng.chance(0.4)) m.prefix = rng.pick(['/api', '/api/', '/', '/h', '/x', '/api/a']);
  if (rng.chance(0.1)) m.path = rng.pick(PATHS.filter((p) => p !== ''));
  if (rng.chance(0.15)) m.suffix = rng.pick(['.json', '/c', 'a']);
  if (rng.chance(0.3)) {
    m.methods = [];
    for (let i = 1 + rng.int(3); i > 0; i--) m.methods.push(rng.pick(METHODS));
  }
  if (rng.chance(0.35)) {
    m.headers = [];
    for (let i = 1 + rng.int(2); i > 0; i--) {
      const name = rng.pick(MATCH_HEADERS);
      const kind = rng.int(4);
      if (kind === 0) m.headers.push({ name, exact: rng.pick(HEADER_WORDS) });
      else if (kind === 1) m.headers.push({ name, prefix: rng.pick(HEADER_WORDS.filter((w) => w !== '')) });
      else if (kind === 2) m.headers.push({ name, present: true });
      else m.headers.push({ name, absent: true });
    }
  }
  return m;
}

/** A request path: mostly from the vocabulary, with query strings, fragments and odd bytes. */
export function genPath(rng: Rng): string {
  let p = rng.pick(PATHS);
  if (p === '/é') p = '/\xc3\xa9';
  if (rng.chance(0.2)) p += rng.pick(['?a=1', '?', '#f', '?x=%2F&y', '?access_token=', '/../x']);
  if (rng.chance(0.05)) p += rng.pick(['\xff', '\x01', '%00', ' ', '\t', '\x7f']);
  return p;
}
