/**
 * Inputs for the JSON differential test and fuzzer: seeded random documents (with number
 * literals chosen to stress correct rounding and i64 exactness, every string escape,
 * raw UTF-8, occasional duplicate names and lone surrogates), byte-level mutations, and
 * a corpus of hand-written edge cases.
 */

/** xorshift32: small, seedable, good enough to drive a fuzzer. */
export class Rng {
  private state: number;
  constructor(seed: number) {
    this.state = seed >>> 0 || 0x9e3779b9;
  }
  next(): number {
    let x = this.state;
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    this.state = x >>> 0;
    return this.state;
  }
  /** Integer in [0, n). */
  int(n: number): number {
    return Math.floor((this.next() / 0x100000000) * n);
  }
  chance(p: number): boolean {
    return this.next() / 0x100000000 < p;
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)];
  }
  digits(n: number): string {
    let s = '';
    for (let i = 0; i < n; i++) s += String(this.int(10));
    return s;
  }
}

const view = new DataView(new ArrayBuffer(8));

function randomFiniteDouble(rng: Rng): number {
  for (;;) {
    view.setUint32(0, rng.next());
    view.setUint32(4, rng.next());
    const d = view.getFloat64(0);
    if (Number.isFinite(d)) return d;
  }
}

/** Exact decimal of the midpoint between positive double `d` and the next double up. */
export function midpointAbove(d: number): string {
  view.setFloat64(0, d);
  const bits = view.getBigUint64(0);
  const biased = Number((bits >> 52n) & 0x7ffn);
  let m = bits & 0xfffffffffffffn;
  let e: number;
  if (biased === 0) e = -1074;
  else {
    m |= 1n << 52n;
    e = biased - 1075;
  }
  const odd = 2n * m + 1n; // midpoint = odd · 2^(e-1)
  if (e - 1 >= 0) return String(odd << BigInt(e - 1));
  const k = 1 - e; // odd / 2^k = odd · 5^k / 10^k
  return `${odd * 5n ** BigInt(k)}e-${k}`;
}

/** A number literal (always valid RFC 8259 grammar). */
export function numberLiteral(rng: Rng): string {
  const sign = rng.chance(0.3) ? '-' : '';
  switch (rng.int(13)) {
    case 0:
      return String(rng.int(2001) - 1000);
    case 1: // around 2^53
      return sign + String(2n ** 53n + BigInt(rng.int(9) - 4));
    case 2: // around the i64 limits
      return sign + String(2n ** 63n + BigInt(rng.int(9) - 4));
    case 3:
      return String(randomFiniteDouble(rng));
    case 4:
      return randomFiniteDouble(rng).toExponential(rng.int(21));
    case 5:
      return sign + (rng.next() / 0x100000000).toFixed(rng.int(21));
    case 6: { // long mantissa
      const int = rng.chance(0.5) ? '0' : String(1 + rng.int(9)) + rng.digits(rng.int(30));
      const frac = rng.chance(0.7) ? '.' + rng.digits(1 + rng.int(40)) : '';
      const exp = rng.chance(0.5) ? `e${rng.pick(['', '+', '-'])}${rng.int(330)}` : '';
      return sign + int + frac + exp;
    }
    case 7: { // exactly halfway between two doubles, or just off it
      const d = Math.abs(randomFiniteDouble(rng));
      if (d === 0 || d === Number.MAX_VALUE) return '0';
      const mid = midpointAbove(d);
      const at = mid.indexOf('e');
      const [mant, exp] = at < 0 ? [mid, ''] : [mid.slice(0, at), mid.slice(at)];
      const nudge = rng.int(3);
      if (nudge === 0) return sign + mid;
      if (nudge === 1) return sign + mant + '.0000000000000000000000001' + exp; // just above
      const below = (BigInt(mant) - 1n).toString();
      return sign + below + '.9999999999999999999999' + exp; // just below
    }
    case 8:
      return rng.pick(['-0', '0.0', '-0.0', '1E+2', '1e-2', '0e10', '10e-1', '1.0', '1.7e9', '25E-1', '2500e-2', '0.5e1', '1e007']);
    case 9:
      return sign + rng.pick(['1e308', '1.8e308', '1.7976931348623157e308', '1.7976931348623158e308', '1.7976931348623159e308',
        '4.9e-324', '2.4703282292062328e-324', '2.4703282292062327e-324', '2e-324', '1e-400', '123e-330',
        '2.2250738585072011e-308', '2.2250738585072014e-308', '1e400', '9e99999']);
    case 10: // NumericDate
      return String(1600000000 + rng.int(300000000));
    case 11:
      return sign + String(1 + rng.int(9)) + rng.digits(rng.int(25));
    default:
      return sign + rng.digits(1 + rng.int(3)).replace(/^0+(?=\d)/, '') + '.' + rng.digits(1 + rng.int(6));
  }
}

const ESCAPES = ['\\"', '\\\\', '\\/', '\\b', '\\f', '\\n', '\\r', '\\t'];
const RAW = ['é', '€', '😀', 'ß', '中', '\u007f', '\u0080', '\u07ff', '\u0800', '\uffff', '\u{10ffff}', '\u2028'];

function hex4(n: number, rng: Rng): string {
  const h = n.toString(16).padStart(4, '0');
  return rng.chance(0.5) ? h.toUpperCase() : h;
}

/** The body of a string literal (without quotes). */
export function stringBody(rng: Rng, maxPieces = 8): string {
  let s = '';
  const pieces = rng.int(maxPieces + 1);
  for (let i = 0; i < pieces; i++) {
    switch (rng.int(8)) {
      case 0:
        s += rng.pick(ESCAPES);
        break;
      case 1: {
        let cu = rng.int(0x10000);
        if (cu >= 0xd800 && cu <= 0xdfff) cu -= 0x800;
        s += '\\u' + hex4(cu, rng);
        break;
      }
      case 2: { // surrogate pair escape
        const cp = 0x10000 + rng.int(0x100000);
        s += '\\u' + hex4(0xd800 + ((cp - 0x10000) >> 10), rng) + '\\u' + hex4(0xdc00 + ((cp - 0x10000) & 0x3ff), rng);
        break;
      }
      case 3:
        s += rng.pick(RAW);
        break;
      case 4: { // random code point, raw
        let cp = rng.chance(0.5) ? 0xa0 + rng.int(0xff00) : 0x10000 + rng.int(0x100000);
        if (cp >= 0xd800 && cp <= 0xdfff) cp = 0xe000;
        s += String.fromCodePoint(cp);
        break;
      }
      case 5:
        if (rng.chance(0.05)) s += '\\u' + hex4(0xd800 + rng.int(0x800), rng); // lone surrogate: rejected
        else s += 'x';
        break;
      default: { // ASCII run
        const n = 1 + rng.int(12);
        for (let j = 0; j < n; j++) {
          const c = 0x20 + rng.int(0x5f);
          s += c === 0x22 || c === 0x5c ? 'q' : String.fromCharCode(c);
        }
      }
    }
  }
  return s;
}

function ws(rng: Rng): string {
  if (!rng.chance(0.2)) return '';
  let s = '';
  for (let n = 1 + rng.int(3); n > 0; n--) s += rng.pick([' ', '\t', '\n', '\r']);
  return s;
}

/** A random JSON document as text (valid except for rare duplicate names / lone surrogates / out-of-range numbers). */
export function generateDocument(rng: Rng, maxDepth = 5): string {
  const value = (depth: number): string => {
    const k = depth >= maxDepth ? rng.int(4) : rng.int(7);
    switch (k) {
      case 0:
        return rng.pick(['null', 'true', 'false']);
      case 1:
      case 2:
        return numberLiteral(rng);
      case 3:
        return '"' + stringBody(rng) + '"';
      case 4:
      case 5: {
        const n = rng.chance(0.05) ? 12 + rng.int(30) : rng.int(7);
        const names: string[] = [];
        const members: string[] = [];
        for (let i = 0; i < n; i++) {
          let name = rng.chance(0.5) ? rng.pick(['iss', 'sub', 'aud', 'exp', 'iat', 'nbf', 'alg', 'kid', 'scope', 'a']) + (rng.chance(0.7) ? String(i) : '') : stringBody(rng, 3);
          if (names.length && rng.chance(0.02)) name = rng.pick(names); // duplicate: rejected
          names.push(name);
          members.push(ws(rng) + '"' + name + '"' + ws(rng) + ':' + ws(rng) + value(depth + 1) + ws(rng));
        }
        return '{' + members.join(',') + (n ? '' : ws(rng)) + '}';
      }
      default: {
        const n = rng.int(7);
        const items: string[] = [];
        for (let i = 0; i < n; i++) items.push(ws(rng) + value(depth + 1) + ws(rng));
        return '[' + items.join(',') + (n ? '' : ws(rng)) + ']';
      }
    }
  };
  return ws(rng) + value(0) + ws(rng);
}

/** A JWT claims set like the ones jwt-auth parses (roughly 300–600 bytes). */
export function jwtPayload(rng: Rng): string {
  const now = 1700000000 + rng.int(10000000);
  const claims: Record<string, unknown> = {
    iss: 'https://auth.example.com/realms/' + ['eva', 'banking', 'documents'][rng.int(3)],
    sub: 'f' + rng.digits(7) + '-1b2c-4d5e-8f90-' + rng.digits(12),
    aud: ['eva-api', 'account'],
    exp: now + 3600,
    iat: now,
    nbf: now,
    jti: rng.digits(8) + '-' + rng.digits(4) + '-' + rng.digits(4) + '-' + rng.digits(12),
    azp: 'web-frontend',
    scope: 'openid profile email credit:read transactions:write',
    permissions: ['credit:read', 'credit:write', 'documents:read'].slice(0, 1 + rng.int(3)),
    tier: ['anonymous', 'authenticated', 'premium'][rng.int(3)],
    email: 'user' + rng.digits(4) + '@example.com',
    email_verified: rng.chance(0.5),
    realm_access: { roles: ['offline_access', 'uma_authorization', 'user'] },
    name: 'Eva Müller',
  };
  return JSON.stringify(claims);
}

const TOKENS = [',', ']', '}', '[', '{', '"', '\\', '\\u', '\\ud800', '\\udc00', '//', '/*', '-', '0', '01', '1e', 'e', '.', ':',
  'true', 'nul', ' ', '\t', '1e400', '9'.repeat(30), '\u0000', '\u001f', '\ufeff'];
const BYTES = [0x00, 0x0a, 0x1f, 0x20, 0x22, 0x2c, 0x2d, 0x2e, 0x30, 0x31, 0x3a, 0x45, 0x5b, 0x5c, 0x5d, 0x65, 0x75, 0x7b, 0x7d,
  0x7f, 0x80, 0xbf, 0xc0, 0xc2, 0xdf, 0xe0, 0xed, 0xef, 0xf0, 0xf4, 0xf5, 0xff];
const ILL_FORMED = [[0xc0, 0x80], [0xed, 0xa0, 0x80], [0xf4, 0x90, 0x80, 0x80], [0xe0, 0x80, 0x80], [0xf0, 0x80, 0x80, 0x80], [0xc3], [0xe2, 0x82]];
const encoder = new TextEncoder();

/** One to three random byte-level edits of `input`. */
export function mutate(rng: Rng, input: Uint8Array): Uint8Array {
  let b = Array.from(input);
  for (let ops = 1 + rng.int(3); ops > 0; ops--) {
    const at = rng.int(b.length + 1);
    switch (rng.int(9)) {
      case 0:
        if (b.length) b[Math.min(at, b.length - 1)] = rng.chance(0.7) ? rng.pick(BYTES) : rng.int(256);
        break;
      case 1:
        b.splice(at, 0, rng.pick(BYTES));
        break;
      case 2:
        b.splice(at, 1 + rng.int(4));
        break;
      case 3:
        b = b.slice(0, at);
        break;
      case 4: { // duplicate a slice
        const from = rng.int(b.length + 1);
        b.splice(at, 0, ...b.slice(from, from + 1 + rng.int(16)));
        break;
      }
      case 5:
        b.splice(at, 0, ...encoder.encode(rng.pick(TOKENS)));
        break;
      case 6:
        b.splice(at, 0, ...rng.pick(ILL_FORMED));
        break;
      case 7: { // swap two bytes
        if (b.length > 1) {
          const j = rng.int(b.length);
          const i = Math.min(at, b.length - 1);
          [b[i], b[j]] = [b[j], b[i]];
        }
        break;
      }
      default: { // replace a digit with a number literal
        const i = b.findIndex((c, k) => k >= at && c >= 0x30 && c <= 0x39);
        if (i >= 0) b.splice(i, 1, ...encoder.encode(numberLiteral(rng)));
      }
    }
  }
  return Uint8Array.from(b);
}

/** Hand-written edge cases, each a complete input. */
export const EDGE_CASES: readonly string[] = [
  '', ' ', 'null', 'true', 'false', '0', '-0', '1', '-1', '""', '[]', '{}', '[[]]', '{"a":{}}',
  '01', '-01', '00', '+1', '.5', '1.', '1.e1', '1e', '1e+', '-', '--1', '0x1', 'NaN', 'Infinity', '-Infinity',
  '1e400', '-1e400', '1e-400', '1.7976931348623157e308', '1.7976931348623159e308', '4.9e-324', '2e-324',
  '9007199254740993', '9223372036854775807', '9223372036854775808', '-9223372036854775808', '-9223372036854775809',
  '[1,]', '{"a":1,}', '[,]', '[1,,2]', '{,}', '{"a"}', '{"a":}', '{"a" 1}', '{1:1}', "{'a':1}", '[1 2]', '[1}', '{"a":1]',
  '// c\n1', '/* c */1', '1 // c', '[1]/**/', '{} {}', '1 2', '"a" "b"', 'nul', 'nulll', 'True', 'tru', 'f',
  '"', '"abc', '"\\', '"\\u', '"\\u12', '"\\u123"', '"\\uZZZZ"', '"\\x"', '"\\a"', '"\\\'"', '"\\U0041"',
  '"\\ud800"', '"\\udc00"', '"\\ud800\\ud800"', '"\\ud800\\u0041"', '"\\ud83d\\ude00"', '"\\uDBFF\\uDFFF"', '"\\ud800x"', '"\\ud800\\',
  '"a\nb"', '"\t"', '"\u0000"', '"\u001f"', '"\u007f"', '"é"', '"😀"', '\ufeff1', '"\u2028\u2029"',
  '{"a":1,"a":2}', '{"a":1,"\\u0061":2}', '{"alg":"RS256","typ":"JWT","alg":"none"}', '[{"a":1},{"a":2}]',
  '{"":1,"":2}', '{"a":{"b":1,"b":2}}', '[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]',
  '[' + '1,'.repeat(1000) + '1]', '"' + 'x'.repeat(10000) + '"', '1.' + '0'.repeat(3000) + '1', '9'.repeat(400),
  '1' + '0'.repeat(308), '1' + '0'.repeat(309), '0.' + '0'.repeat(323) + '5', ' \t\r\n1 \t\r\n',
];
