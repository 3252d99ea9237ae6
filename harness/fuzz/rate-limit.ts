/**
 * Fuzz target `rate-limit` (build/rate-limit.wasm): generated and perturbed
 * configurations (rules, keys, limits down to 1 ms and up to uint32 tokens, small key
 * tables so that slots are reclaimed and overflow buckets used), requests with odd
 * headers, odd client addresses and `x-forwarded-for`, odd upstream answers, bodies in
 * odd chunks, the fake clock moving by 0 ms to an hour, one to three worker VMs, and
 * requests of one worker run between another's read of a page and its CAS write.
 *
 * The oracle is the spec's token bucket (filters.md "rate-limit"), in exact integers:
 * a limit's bucket holds `u / fill_interval_ns` tokens, starts full, gains
 * `tokens_per_fill` units per nanosecond up to `max_tokens × fill_interval_ns`; a request
 * of the first matching rule passes when every limit holds a whole token and then takes
 * one from each (all or nothing). Keys are what the filter reads (`header`/`claim` first
 * value as AssemblyScript decodes it, `remote_address` after `xff_num_trusted_hops`,
 * `path` without query, `generic`), encoded as descriptor.ts documents; which slot of the
 * bounded key table a key gets, when a full bucket's slot is reclaimed and when the
 * rule's overflow bucket decides follow bucket-page.ts (set-associative pages of 8 slots,
 * page = FNV-1a 64 of the key seeded with the configuration's hash), so that every
 * request's outcome is known exactly: allow or deny, `retry-after`, `x-ratelimit-limit`,
 * `-remaining`, `-reset`, and at the end of a session every counter.
 */
import { createHash } from 'node:crypto';
import path from 'node:path';
import { SharedState } from '../host/shared/shared-state.ts';
import { chooseConfig, setField, unknownField, type Breaker } from './configs.ts';
import type { Rng } from './json-gen.ts';
import { genMatch, genPath, matches, METHODS, pathLength, RequestView, type Match } from './match.ts';
import { asDecode, asEncode, oddChunks, oddHeaders, oddValue, utf8Bytes, type Pair } from './odd.ts';
import { expectMetric, PROJECT_ROOT, type FilterTarget, type FuzzCase, headersOf, localReplyProblem, metricValue, type SessionRun, tagged } from './session.ts';

interface LimitConfig {
  max_tokens: number;
  tokens_per_fill?: number;
  fill_interval: string;
}
type KeyPart = { header: string } | { claim: string } | { remote_address: Record<string, never> } | { path: Record<string, never> } | { generic: string };
interface RuleConfig {
  name: string;
  match?: Match;
  key?: KeyPart[];
  limits: LimitConfig[];
}
interface RateLimitConfig {
  stat_prefix?: string;
  rules: RuleConfig[];
  enforce?: boolean;
  response_headers?: boolean;
  status?: number;
  xff_num_trusted_hops?: number;
  max_keys?: number;
}

export type RateLimitStep =
  | {
      t: 'req';
      /** Worker VM. */
      w: number;
      headers: Pair[];
      /** `source.address` (null: none; absent: the emulator's default). */
      remote?: string | null;
      body?: string[];
      /** Upstream response (`:status` first); `reset`: none. */
      response: Pair[] | 'reset';
      responseBody?: string[];
      /**
       * Another worker's whole request, run while this one is between its read of the
       * key's page and its compare-and-swap write (at its clock read): the write must
       * fail and the decision be made again on the other worker's page.
       */
      during?: RateLimitStep;
    }
  | { t: 'clock'; ms: number };

const NS_PER_MS = 1_000_000n;
const MAX_UNITS = 1n << 62n;
const KEY_BYTES = 40;
const MAX_WAYS = 8;

// ---- configuration --------------------------------------------------------------

const INTERVALS_MS = [1, 3, 7, 250, 1000, 1500, 60_000, 3_600_000];

function duration(ms: number): string {
  const s = Math.floor(ms / 1000);
  const frac = ms % 1000;
  return frac === 0 ? `${s}s` : `${s}.${String(frac).padStart(3, '0')}s`;
}

function intervalNs(text: string): bigint {
  const [s, f = ''] = text.slice(0, -1).split('.');
  return BigInt(s) * 1_000_000_000n + BigInt((f + '000000000').slice(0, 9));
}

const gcd = (a: bigint, b: bigint): bigint => (b === 0n ? a : gcd(b, a % b));

/** Whether the filter can hold `max_tokens` in exact units (config.ts `Limit.of`). */
function limitFits(l: LimitConfig): boolean {
  const I = intervalNs(l.fill_interval);
  const perToken = I / gcd(BigInt(l.tokens_per_fill ?? 1), I);
  return BigInt(l.max_tokens) <= MAX_UNITS / perToken;
}

const KEY_HEADERS = ['x-user', 'x-tier', 'x-h1', 'X-User', 'x-user-id'];

function genKeyPart(rng: Rng): KeyPart {
  switch (rng.int(6)) {
    case 0:
    case 1:
      return { header: rng.pick(KEY_HEADERS) };
    case 2:
      return { claim: rng.pick(['x-user-id', 'x-user']) };
    case 3:
      return { remote_address: {} };
    case 4:
      return { path: {} };
    default:
      return { generic: rng.pick(['k', 'é', 'long-'.repeat(10)]) };
  }
}

function genLimit(rng: Rng): LimitConfig {
  for (;;) {
    const max = rng.chance(0.05) ? rng.pick([4294967295, 1 << 30, 100_000]) : rng.pick([1, 1, 2, 3, 5, 10, 100]);
    const l: LimitConfig = { max_tokens: max, fill_interval: duration(rng.pick(INTERVALS_MS)) };
    if (rng.chance(0.7)) l.tokens_per_fill = rng.chance(0.1) ? rng.pick([4294967295, 1000]) : 1 + rng.int(5);
    if (limitFits(l)) return l;
  }
}

function genConfig(rng: Rng): RateLimitConfig {
  const rules: RuleConfig[] = [];
  for (let i = 1 + rng.int(rng.chance(0.1) ? 12 : 4); i > 0; i--) {
    const r: RuleConfig = { name: `r${rules.length}${rng.chance(0.2) ? '_x' : ''}`, limits: [] };
    const m = i === 1 && rng.chance(0.5) ? undefined : genMatch(rng);
    if (m) r.match = m;
    if (rng.chance(0.85)) {
      r.key = [];
      for (let k = rng.int(rng.chance(0.05) ? 9 : 4); k > 0; k--) r.key.push(genKeyPart(rng));
    }
    for (let k = 1 + rng.int(rng.chance(0.05) ? 8 : 3); k > 0; k--) r.limits.push(genLimit(rng));
    rules.push(r);
  }
  const c: RateLimitConfig = { rules };
  if (rng.chance(0.3)) c.stat_prefix = rng.pick(['rate_limit', 'rl', 'edge_rate_limit', 'A1']);
  if (rng.chance(0.3)) c.enforce = rng.chance(0.7);
  if (rng.chance(0.6)) c.response_headers = rng.chance(0.7);
  if (rng.chance(0.2)) c.status = rng.pick([400, 429, 503, 599]);
  if (rng.chance(0.3)) c.xff_num_trusted_hops = rng.pick([0, 1, 2, 3, 64]);
  c.max_keys = rng.chance(0.1) ? rng.pick([100_000, 20_000]) : rng.pick([1, 2, 7, 8, 9, 16, 64, 1000]);
  return c;
}

const rulesOf = (c: RateLimitConfig): Array<[string, any]> => c.rules.map((r, i) => [`rules[${i}]`, r]);
const limitsOf = (c: RateLimitConfig): Array<[string, any]> => c.rules.flatMap((r, i) => r.limits.map((l, j): [string, any] => [`rules[${i}].limits[${j}]`, l]));

const BREAKERS: Breaker[] = [
  unknownField((c) => [['', c], ...rulesOf(c), ...limitsOf(c)]),
  setField(limitsOf, 'fill_interval', (rng) => rng.pick(['60', '1m', '0s', '0.0001s', '31708800s', 'abc', 5])),
  setField(limitsOf, 'max_tokens', (rng) => rng.pick([0, -1, 4294967296, 1.5, '5', true])),
  setField(limitsOf, 'tokens_per_fill', (rng) => rng.pick([0, 4294967296, 'x', 2.5])),
  setField(rulesOf, 'name', (rng) => rng.pick(['', 'a-b', 'has space', 7, 'é'])),
  setField(rulesOf, 'limits', (rng) => rng.pick([[], {}, 'x'])),
  setField(rulesOf, 'key', (rng) => rng.pick([[{}], [{ header: 'a', path: {} }], [{ header: 'bad name' }], [{ remote_address: { x: 1 } }], {}])),
  setField((c) => [['', c]], 'max_keys', (rng) => rng.pick([0, 1_000_001, -5, '10'])),
  setField((c) => [['', c]], 'status', (rng) => rng.pick([200, 399, 600, '429'])),
  setField((c) => [['', c]], 'xff_num_trusted_hops', (rng) => rng.pick([65, -1, 1.5])),
  setField((c) => [['', c]], 'stat_prefix', (rng) => rng.pick(['', 'a.b', 'x-y'])),
  setField((c) => [['', c]], 'enforce', (rng) => rng.pick(['true', 1, 'no'])),
  setField((c) => [['', c]], 'rules', (rng) => rng.pick([[], {}, new Array(257).fill({ name: 'a', limits: [{ max_tokens: 1, fill_interval: '1s' }] })])),
  (rng, c: RateLimitConfig) => {
    // max_tokens too large for exact refill
    const i = rng.int(c.rules.length);
    c.rules[i].limits[0] = { max_tokens: 4294967295, tokens_per_fill: 1, fill_interval: '3600s' };
    return `rules[${i}].limits[0].max_tokens`;
  },
  (rng, c: RateLimitConfig) => {
    if (c.rules.length < 2) return null;
    c.rules[1].name = c.rules[0].name;
    return 'rules[1].name';
  },
  (rng, c: RateLimitConfig) => {
    const i = rng.int(c.rules.length);
    c.rules[i].match = { headers: [{ name: 'x', exact: 'a', absent: true } as never] };
    return `rules[${i}].match.headers[0]`;
  },
];

// ---- requests -----------------------------------------------------------------

const VALUES = ['u1', 'u2', 'u3', 'premium', '', ' u1', 'u1 ', 'U1', '\xff', '\xc3\xa9', '\xe9', 'a,b'];
const ADDRESSES = [
  '10.0.0.1:50000', '10.0.0.2:1', '192.168.1.9:80', '[::1]:8080', '[::ffff:10.0.0.1]:1', '[2001:db8::1]:443', '1.2.3.4',
  '::1', 'fe80::1%eth0', 'unix:/tmp/sock', '', '01.2.3.4:5', '[::1', 'garbage:1:2', '256.1.1.1:1', '\xff:1', null,
];
const XFF = ['1.2.3.4', '1.2.3.4, 5.6.7.8', ' 9.9.9.9 ,10.0.0.1', '::1, 2001:db8::2', 'bogus, 1.2.3.4', ',,', '', '1.2.3.4,', ' , \t', '01.2.3.4', '1:2:3:4:5:6:7:8, 1.1.1.1'];

function genRequest(rng: Rng, workers: number): RateLimitStep {
  const headers: Pair[] = [[':method', rng.pick(METHODS)], [':path', genPath(rng)], [':authority', 'mesh'], [':scheme', 'http']];
  if (rng.chance(0.02)) headers.splice(rng.int(headers.length), 1);
  for (const name of ['x-user', 'x-tier', 'x-user-id', 'x-h1']) {
    if (rng.chance(0.5)) headers.push([name, rng.chance(0.85) ? rng.pick(VALUES) : oddValue(rng)]);
    if (rng.chance(0.03)) headers.push([name, rng.pick(VALUES)]);
  }
  if (rng.chance(0.2)) headers.push(['x-forwarded-for', rng.chance(0.9) ? rng.pick(XFF) : oddValue(rng)]);
  headers.push(...oddHeaders(rng, ['x-user', 'X-Tier', 'x-ratelimit-remaining'], 64, headers.length));
  const step: RateLimitStep = { t: 'req', w: rng.int(workers), headers, response: 'reset' };
  if (rng.chance(0.6)) step.remote = rng.pick(ADDRESSES);
  if (rng.chance(0.05)) step.body = oddChunks(rng);
  if (rng.chance(0.95)) {
    const response: Pair[] = [[':status', rng.chance(0.9) ? rng.pick(['200', '503', '429', '204']) : oddValue(rng, 8)]];
    if (rng.chance(0.1)) response.push(['x-ratelimit-remaining', '999'], ['x-ratelimit-limit', 'x']);
    response.push(...oddHeaders(rng, [], 0, 1));
    step.response = response;
    if (rng.chance(0.05)) step.responseBody = oddChunks(rng);
  }
  return step;
}

function generate(rng: Rng, streams: number): FuzzCase<RateLimitStep> {
  const config = genConfig(rng);
  const choice = chooseConfig(rng, config, BREAKERS);
  const workers = rng.chance(0.15) ? 2 + rng.int(2) : 1;
  const steps: RateLimitStep[] = [];
  const clocks = [0, 1, 1, 3, 10, 100, 999, 1000, 5000, 60_000, 3_600_000];
  for (let i = 0; i < streams; i++) {
    if (rng.chance(0.15)) steps.push({ t: 'clock', ms: rng.pick(clocks) });
    const step = genRequest(rng, workers);
    if (step.t === 'req' && workers > 1 && rng.chance(0.1)) {
      // Usually the same client (one key, one page: the CAS race), on another worker.
      const other = rng.chance(0.7) ? { ...step, response: 'reset' as const } : (genRequest(rng, workers) as typeof step);
      step.during = { ...other, w: (step.w + 1 + rng.int(workers - 1)) % workers };
    }
    steps.push(step);
  }
  return { ...choice, workers, steps };
}

// ---- the model ----------------------------------------------------------------

/** A limit in the spec's units: a bucket holds u / I tokens (I = fill_interval in ns). */
class Limit {
  readonly I: bigint;
  readonly max: bigint;
  readonly tpf: bigint;
  readonly full: bigint;
  constructor(l: LimitConfig) {
    this.I = intervalNs(l.fill_interval);
    this.max = BigInt(l.max_tokens);
    this.tpf = BigInt(l.tokens_per_fill ?? 1);
    this.full = this.max * this.I;
  }
  /** ns until the bucket holds `units` (rounded up). */
  until(u: bigint, units: bigint): bigint {
    const missing = units - u;
    return missing <= 0n ? 0n : (missing + this.tpf - 1n) / this.tpf;
  }
}

interface Bucket {
  u: bigint;
  last: bigint;
}

interface Slot {
  rule: number;
  key: string;
  fullAt: bigint;
  buckets: Bucket[];
}

interface Rule {
  index: number;
  name: string;
  match?: Match;
  key: KeyPart[];
  limits: Limit[];
  /** `x-ratelimit-limit` per reported limit. */
  limitValues: string[];
}

interface Decision {
  allowed: boolean;
  overflow: boolean;
  reported: number;
  remaining: bigint;
  reset: bigint;
  retryAfter: bigint;
}

const ceilSeconds = (ns: bigint): bigint => (ns <= 0n ? 0n : (ns + 999_999_999n) / 1_000_000_000n);

/** FNV-1a 64 as two 32-bit halves (the page hash). */
function fnv(bytes: string, hi: number, lo: number): [number, number] {
  for (let i = 0; i < bytes.length; i++) {
    lo = (lo ^ bytes.charCodeAt(i)) >>> 0;
    const x = lo * 0x1b3;
    const carry = Math.floor(x / 0x100000000);
    const nlo = x - carry * 0x100000000;
    hi = (Math.imul(hi, 0x1b3) + carry + (lo << 8)) >>> 0;
    lo = nlo >>> 0;
  }
  return [hi, lo];
}

function varint(n: number): string {
  let s = '';
  while (n >= 0x80) {
    s += String.fromCharCode((n & 0x7f) | 0x80);
    n >>>= 7;
  }
  return s + String.fromCharCode(n);
}

const text = (tag: number, s: string): string => {
  const enc = asEncode(s);
  return String.fromCharCode(tag) + varint(enc.length) + enc;
};

/** inet_pton-strict IPv4 (no leading zeros): 4 bytes, or null. */
function ipv4(s: string): number[] | null {
  const parts = s.split('.');
  if (parts.length !== 4) return null;
  const out: number[] = [];
  for (const p of parts) {
    if (!/^\d{1,3}$/.test(p) || (p.length > 1 && p[0] === '0') || Number(p) > 255) return null;
    out.push(Number(p));
  }
  return out;
}

/** RFC 4291 §2.2 IPv6 text (`::`, a trailing dotted quad; no zone): 16 bytes, or null. */
function ipv6(s: string): number[] | null {
  const halves = s.split('::');
  if (halves.length > 2) return null;
  const groups = (side: string, last: boolean): number[] | null => {
    if (side === '') return [];
    const out: number[] = [];
    const parts = side.split(':');
    for (let i = 0; i < parts.length; i++) {
      const p = parts[i];
      if (last && i === parts.length - 1 && p.includes('.')) {
        const v4 = ipv4(p);
        if (!v4) return null;
        out.push((v4[0] << 8) | v4[1], (v4[2] << 8) | v4[3]);
      } else if (/^[0-9a-fA-F]{1,4}$/.test(p)) out.push(parseInt(p, 16));
      else return null;
    }
    return out;
  };
  const left = groups(halves[0], halves.length === 1);
  const right = halves.length === 2 ? groups(halves[1], true) : [];
  if (!left || !right) return null;
  let all: number[];
  if (halves.length === 1) {
    if (left.length !== 8) return null;
    all = left;
  } else {
    if (left.length + right.length > 7) return null;
    all = [...left, ...new Array(8 - left.length - right.length).fill(0), ...right];
  }
  return all.flatMap((g) => [g >> 8, g & 0xff]);
}

/** The address in `s` as key bytes (tag + 4 or 16 bytes), or null (client-address.ts `parseIp`). */
function ipKey(s: string): string | null {
  if (s.length < 2) return null;
  const bytes = s.includes(':') ? ipv6(s) : ipv4(s);
  if (!bytes) return null;
  return String.fromCharCode(bytes.length === 4 ? 0x02 : 0x03, ...bytes);
}

const trimSpaces = (s: string): string => s.replace(/^[ \t]+|[ \t]+$/g, '');

class RateLimitModel {
  readonly rules: Rule[];
  readonly enforce: boolean;
  readonly responseHeaders: boolean;
  readonly status: number;
  readonly hops: number;
  readonly ways: number;
  readonly pages: number;
  private readonly seeds: Array<[number, number]>;
  private readonly table = new Map<number, Slot[]>();
  private readonly overflow = new Map<number, Slot>();
  readonly counts: Record<string, number> = {};

  constructor(readonly config: RateLimitConfig, configText: string) {
    this.enforce = config.enforce ?? true;
    this.responseHeaders = config.response_headers ?? false;
    this.status = config.status ?? 429;
    this.hops = config.xff_num_trusted_hops ?? 0;
    const maxKeys = config.max_keys ?? 100_000;
    this.ways = Math.min(MAX_WAYS, maxKeys);
    this.pages = Math.floor(maxKeys / this.ways);
    const [chi, clo] = fnv(utf8Bytes(configText), 0xcbf29ce4, 0x84222325);
    const seed = (BigInt(chi) << 32n) | BigInt(clo);
    this.rules = config.rules.map((r, index) => {
      const limits = r.limits.map((l) => new Limit(l));
      const policies = limits.filter((l) => l.I % 1_000_000_000n === 0n).map((l) => `, ${l.tpf};w=${l.I / 1_000_000_000n}`).join('');
      return { index, name: r.name, match: r.match, key: r.key ?? [], limits, limitValues: limits.map((l) => `${l.max}${policies}`) };
    });
    this.seeds = this.rules.map((r) => {
      const s = BigInt.asUintN(64, seed ^ BigInt.asUintN(64, BigInt(r.index) * 0x9e3779b97f4a7c15n));
      return [Number(s >> 32n), Number(s & 0xffffffffn)];
    });
  }

  rule(view: RequestView): Rule | undefined {
    return this.rules.find((r) => matches(r.match, view));
  }

  /** The descriptor key's bytes (descriptor.ts). */
  key(rule: Rule, view: RequestView, remote: string | null): string {
    let out = '';
    for (const part of rule.key) {
      if ('header' in part || 'claim' in part) {
        const v = view.header(('header' in part ? part.header : part.claim).toLowerCase());
        out += v === null ? '\x00' : text(0x01, v);
      } else if ('remote_address' in part) out += this.address(view, remote);
      else if ('path' in part) {
        const p = view.path;
        out += text(0x05, p.slice(0, pathLength(p)));
      } else out += text(0x06, part.generic);
    }
    return out;
  }

  private address(view: RequestView, remote: string | null): string {
    if (this.hops > 0) {
      const xff = view.header('x-forwarded-for');
      if (xff !== null) {
        let end = xff.length;
        let ok = true;
        for (let skip = 1; skip < this.hops && ok; skip++) {
          const comma = end > 0 ? xff.lastIndexOf(',', end - 1) : -1;
          if (comma < 0) ok = false;
          else end = comma;
        }
        if (ok) {
          const comma = end > 0 ? xff.lastIndexOf(',', end - 1) : -1;
          const ip = ipKey(trimSpaces(xff.slice(comma + 1, end)));
          if (ip) return ip;
        }
      }
    }
    if (remote === null) return '\x00';
    let host: string;
    if (remote.startsWith('[')) {
      const close = remote.indexOf(']');
      host = remote.slice(1, close > 0 ? close : remote.length);
    } else {
      const colon = remote.indexOf(':');
      host = colon >= 0 && remote.indexOf(':', colon + 1) < 0 ? remote.slice(0, colon) : remote;
    }
    return ipKey(host) ?? text(0x04, remote);
  }

  /** Decides a request of `rule` with key bytes `key` at monotonic `now` ns. */
  decide(rule: Rule, key: string, now: bigint): Decision {
    const stored = key.length <= KEY_BYTES ? key : createHash('sha256').update(Buffer.from(key, 'latin1')).digest().toString('latin1');
    const form = key.length <= KEY_BYTES ? key.length : 0xff;
    const [hi, lo] = fnv(stored, ...this.seeds[rule.index]);
    const pageIndex = ((hi % this.pages) * 0x100000000 + lo) % this.pages;
    let page = this.table.get(pageIndex);
    if (!page) this.table.set(pageIndex, (page = []));
    const id = `${form}:${stored}`;
    let slot = page.find((s) => s.rule === rule.index && s.key === id);
    let overflow = false;
    if (!slot) {
      let at = page.length < this.ways ? page.length : page.findIndex((s) => s.fullAt <= now);
      if (at >= 0) {
        slot = this.fresh(rule, id, now);
        page[at] = slot;
      } else {
        overflow = true;
        slot = this.overflow.get(rule.index);
        if (!slot || slot.fullAt <= now) this.overflow.set(rule.index, (slot = this.fresh(rule, '', now)));
      }
    }
    return { ...this.take(rule, slot, now), overflow };
  }

  private fresh(rule: Rule, key: string, now: bigint): Slot {
    return { rule: rule.index, key, fullAt: now, buckets: rule.limits.map((l) => ({ u: l.full, last: now })) };
  }

  /** Refill, all-or-nothing take, and the numbers the headers report (decision.ts). */
  private take(rule: Rule, slot: Slot, now: bigint): Omit<Decision, 'overflow'> {
    const limits = rule.limits;
    let every = true;
    limits.forEach((l, i) => {
      const b = slot.buckets[i];
      if (now > b.last) {
        const refilled = b.u + (now - b.last) * l.tpf;
        b.u = refilled > l.full ? l.full : refilled;
      }
      b.last = now;
      if (b.u < l.I) every = false;
    });
    if (every) {
      let fullAt = now;
      limits.forEach((l, i) => {
        slot.buckets[i].u -= l.I;
        const at = now + l.until(slot.buckets[i].u, l.full);
        if (at > fullAt) fullAt = at;
      });
      slot.fullAt = fullAt;
    }
    let reported = 0;
    let fewest = -1n;
    let retry = 0n;
    limits.forEach((l, i) => {
      const u = slot.buckets[i].u;
      const tokens = u / l.I;
      if (fewest < 0n || tokens < fewest) {
        fewest = tokens;
        reported = i;
      }
      if (!every) {
        const wait = l.until(u, l.I);
        if (wait > retry) retry = wait;
      }
    });
    const l = limits[reported];
    const reset = ceilSeconds(l.until(slot.buckets[reported].u, l.full));
    const retryAfter = every ? 0n : ceilSeconds(retry) > 1n ? ceilSeconds(retry) : 1n;
    return { allowed: every, reported, remaining: fewest, reset, retryAfter };
  }
}

// ---- execution ------------------------------------------------------------------

async function execute(c: FuzzCase<RateLimitStep>, run: SessionRun): Promise<void> {
  const config = JSON.parse(c.config) as RateLimitConfig;
  const model = new RateLimitModel(config, c.config);
  const prefix = config.stat_prefix ?? 'rate_limit';
  let mono = 0n;
  /** One whole request: the model's decision, the filter's, the response. */
  const exchange = (step: Extract<RateLimitStep, { t: 'req' }>): void => {
    const emu = run.emus[step.w % run.emus.length];
    const view = new RequestView(step.headers);
    const rule = model.rule(view);
    const remote = step.remote === undefined ? '10.0.0.1:50000' : step.remote === null ? null : step.remote;
    const decide = () => (rule ? model.decide(rule, model.key(rule, view, remote === null ? null : asDecode(remote)), mono) : undefined);
    const id = emu.initializeHttpContext(step.remote === undefined ? {} : { downstreamRemoteAddress: step.remote ?? undefined });
    let d: Decision | undefined;
    const during = step.during;
    if (during?.t === 'req' && rule && run.emus.length > 1) {
      // The other worker's request comes first, in the model as in the filter (which loses the CAS and decides again).
      let ran = false;
      emu.beforeNextHostcall('wasi_snapshot_preview1.clock_time_get', () => {
        exchange(during);
        run.result.streams++;
        ran = true;
      });
      emu.callOnRequestHeaders(id, step.headers, !step.body);
      if (!ran) run.fail(`rule ${rule.name}: the filter decided without reading the clock`);
      run.count('interleaved');
      d = decide();
    } else {
      d = decide();
      emu.callOnRequestHeaders(id, step.headers, !step.body);
    }
    const reply = emu.getSentLocalResponse(id);
    const denied = d !== undefined && !d.allowed;
    if (rule && d) {
      const what = d.allowed ? 'allowed' : model.enforce ? 'denied' : 'shadow_denied';
      model.counts[`${rule.name}:${what}`] = (model.counts[`${rule.name}:${what}`] ?? 0) + 1;
      if (d.overflow) model.counts[`${rule.name}:overflow`] = (model.counts[`${rule.name}:overflow`] ?? 0) + 1;
      run.count(d.overflow ? `${what} (overflow)` : what);
    } else run.count('no rule');
    if (denied && model.enforce) {
      if (!reply) run.fail(`rule ${rule!.name}: the model denies (key bucket empty), the filter let the request through`);
      const problem = localReplyProblem(reply);
      if (problem) run.fail(problem);
      if (reply.status !== model.status || reply.details !== 'local_rate_limited') run.fail(`denial ${reply.status} ${reply.details}, expected ${model.status} local_rate_limited`);
      expectHeaders(run, reply.headers ?? [], model, rule!, d!, true);
    } else {
      if (reply) run.fail(`${rule ? `rule ${rule.name}` : 'no rule'}: the model lets the request through, the filter answered ${reply.status}`);
      for (const chunk of step.body ?? []) emu.callOnRequestBody(id, chunk, false);
      if (step.body) emu.callOnRequestBody(id, '', true);
      if (step.response !== 'reset') {
        emu.callOnResponseHeaders(id, step.response, !step.responseBody);
        const sent = emu.getCurrentResponseHeaders(id);
        if (rule && d && model.responseHeaders) expectHeaders(run, sent, model, rule, d, false);
        else {
          const upstream = step.response.filter(([k]) => k.toLowerCase().startsWith('x-ratelimit-')).length;
          const now = sent.filter(([k]) => k.startsWith('x-ratelimit-')).length;
          if (upstream !== now) run.fail(`x-ratelimit-* headers added to a response the filter does not report on`);
        }
        for (const chunk of step.responseBody ?? []) emu.callOnResponseBody(id, chunk, false);
        if (step.responseBody) emu.callOnResponseBody(id, '', true);
      }
    }
    emu.completeHttpContext(id);
  };
  for (const step of c.steps) {
    if (step.t === 'clock') {
      run.emus[0].advanceClock(step.ms);
      mono += BigInt(step.ms) * NS_PER_MS;
      run.afterStep('none');
      continue;
    }
    exchange(step);
    run.afterStep('stream');
  }
  // Every counter, in either spelling (session.ts `metricValue`).
  const emu = run.emus[0];
  for (const rule of model.rules) {
    for (const what of ['allowed', 'denied', 'shadow_denied']) {
      expectMetric(run, emu, [`${prefix}_${rule.name}_${what}`, tagged(`${prefix}_requests_total`, ['rule', rule.name, 'outcome', what])], model.counts[`${rule.name}:${what}`] ?? 0);
    }
    expectMetric(run, emu, [`${prefix}_${rule.name}_overflow`, tagged(`${prefix}_overflow_requests_total`, ['rule', rule.name])], model.counts[`${rule.name}:overflow`] ?? 0);
    const failOpen = metricValue(emu, [tagged(`${prefix}_requests_total`, ['rule', rule.name, 'outcome', 'fail_open'])]) ?? 0;
    if (failOpen !== 0) run.fail('requests were let through because shared data failed');
  }
  if ((metricValue(emu, [`${prefix}_fail_open`]) ?? 0) !== 0) run.fail('requests were let through because shared data failed');
}

/** The x-ratelimit-* (and on denials retry-after) headers the decision implies. */
function expectHeaders(run: SessionRun, pairs: readonly Pair[], model: RateLimitModel, rule: Rule, d: Decision, denial: boolean): void {
  const want: Array<[string, string]> = [];
  if (denial) want.push(['x-envoy-ratelimited', 'true'], ['retry-after', String(d.retryAfter)]);
  if (model.responseHeaders) {
    want.push(['x-ratelimit-limit', utf8Bytes(rule.limitValues[d.reported])], ['x-ratelimit-remaining', String(d.remaining)], ['x-ratelimit-reset', String(d.reset)]);
  }
  for (const [name, value] of want) {
    const got = headersOf(pairs, name);
    if (got.length !== 1 || got[0] !== value) {
      run.fail(`rule ${rule.name}${d.overflow ? ' (overflow bucket)' : ''}: ${name} ${JSON.stringify(got)}, the model says ${JSON.stringify(value)}`);
    }
  }
}

export const rateLimitTarget: FilterTarget<RateLimitStep> = {
  name: 'rate-limit',
  rootId: 'rate-limit',
  wasm: path.join(PROJECT_ROOT, 'build', 'rate-limit.wasm'),
  buildTargets: ['rate-limit'],
  generate,
  execute,
  emulatorOptions(c) {
    const maxKeys = c.expect === 'accept' ? ((JSON.parse(c.config) as RateLimitConfig).max_keys ?? 100_000) : 0;
    if (maxKeys <= 4096) return {};
    return { shared: SharedState.create({ data: { bytes: 48 << 20, buckets: 65536 }, queues: { bytes: 1 << 16, maxQueues: 8 }, metrics: { maxMetrics: 4096, nameBytes: 1 << 18 } }) };
  },
};
