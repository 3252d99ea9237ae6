/**
 * The reference for the wasm JSON parser (assembly/json/): what it must do with a given
 * input, decided by V8 (`TextDecoder` with `fatal`, `JSON.parse`, `Number`) plus the
 * documented differences, which `JSON.parse` does not check:
 *
 * - duplicate member names are rejected (RFC 7515 §4)          → DuplicateKey
 * - `\u` escapes of lone surrogates are rejected (RFC 7493 §2.1) → LoneSurrogate
 * - numbers that round to ±Infinity are rejected (RFC 8259 §6)  → NumberOutOfRange
 * - nesting deeper than maxDepth                                → TooDeep
 * - input longer than maxBytes                                  → TooLarge
 *
 * Values are compared token by token against the wasm writer's re-serialization: the
 * same structure and member order, strings equal once decoded, numbers equal as
 * doubles, and integers that fit i64 equal exactly.
 */
import type { JsonErrorKindName, WasmParseResult } from './json-module.ts';

export interface Limits {
  maxDepth: number;
  maxBytes: number;
}

export type Expectation =
  | { accept: true; text: string }
  | { accept: false; kinds: JsonErrorKindName[] | 'any'; why: string };

const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
// With the u flag a well-formed pair is one code point, so only lone halves match.
const LONE_SURROGATE = /\p{Cs}/u;

/** What the wasm parser must do with `input` under `limits`. */
export function expectationFor(input: Uint8Array, limits: Limits): Expectation {
  if (input.length > limits.maxBytes) return { accept: false, kinds: ['TooLarge'], why: 'over maxBytes' };
  let text: string;
  try {
    text = decoder.decode(input);
  } catch {
    return { accept: false, kinds: 'any', why: 'not well-formed UTF-8' };
  }
  try {
    JSON.parse(text);
  } catch (e) {
    return { accept: false, kinds: 'any', why: `JSON.parse: ${(e as Error).message}` };
  }
  const kinds = new Set<JsonErrorKindName>();
  const reasons: string[] = [];
  let depth = 0;
  // Per open container: null for arrays, the names seen so far for objects.
  const stack: (Set<string> | null)[] = [];
  let expectName = false;
  for (const t of tokenize(text)) {
    if (t.type === '{' || t.type === '[') {
      depth++;
      if (depth > limits.maxDepth) {
        kinds.add('TooDeep');
        reasons.push(`depth ${depth}`);
        break; // the parser stops at the first container too deep
      }
      stack.push(t.type === '{' ? new Set() : null);
      expectName = t.type === '{';
    } else if (t.type === '}' || t.type === ']') {
      depth--;
      stack.pop();
      expectName = false;
    } else if (t.type === ',') {
      expectName = stack.length > 0 && stack[stack.length - 1] !== null;
    } else if (t.type === ':') {
      expectName = false;
    } else if (t.type === 'string') {
      const value = JSON.parse(t.text) as string;
      if (LONE_SURROGATE.test(value)) {
        kinds.add('LoneSurrogate');
        reasons.push('lone surrogate');
      }
      if (expectName) {
        const names = stack[stack.length - 1]!;
        if (names.has(value)) {
          kinds.add('DuplicateKey');
          reasons.push(`duplicate ${JSON.stringify(value)}`);
        }
        names.add(value);
        expectName = false;
      }
    } else if (t.type === 'number') {
      if (!Number.isFinite(Number(t.text))) {
        kinds.add('NumberOutOfRange');
        reasons.push(`out of range ${t.text.slice(0, 40)}`);
      }
    }
  }
  if (kinds.size) return { accept: false, kinds: [...kinds], why: reasons.join(', ') };
  return { accept: true, text };
}

export interface Token {
  type: '{' | '}' | '[' | ']' | ':' | ',' | 'string' | 'number' | 'literal';
  text: string;
}

const TOKEN = /[ \t\n\r]*(?:([{}[\]:,])|("(?:[^"\\]|\\.)*")|(-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?)|(true|false|null))/y;

/** Tokens of a text that JSON.parse accepted. */
export function* tokenize(text: string): Generator<Token> {
  TOKEN.lastIndex = 0;
  for (;;) {
    const start = TOKEN.lastIndex;
    const m = TOKEN.exec(text);
    if (!m) {
      if (/^[ \t\n\r]*$/.test(text.slice(start))) return;
      throw new Error(`oracle tokenizer stuck at ${start}`);
    }
    if (m[1]) yield { type: m[1] as Token['type'], text: m[1] };
    else if (m[2]) yield { type: 'string', text: m[2] };
    else if (m[3]) yield { type: 'number', text: m[3] };
    else yield { type: 'literal', text: m[4] };
  }
}

const I64_MIN = -(2n ** 63n);
const I64_MAX = 2n ** 63n - 1n;

/** The exact integer a number literal denotes when it is integral and fits i64, else null. */
export function exactI64(literal: string): bigint | null {
  const m = /^(-?)(\d+)(?:\.(\d+))?(?:[eE]([+-]?\d+))?$/.exec(literal)!;
  let digits = (m[2] + (m[3] ?? '')).replace(/^0+/, '');
  let exp = -(m[3]?.length ?? 0) + Number(m[4] ?? 0);
  if (digits === '') return 0n;
  const trailing = digits.length - digits.replace(/0+$/, '').length;
  digits = digits.slice(0, digits.length - trailing);
  exp += trailing;
  if (exp < 0 || digits.length + exp > 20) return null;
  let value = BigInt(digits) * 10n ** BigInt(exp);
  if (m[1]) value = -value;
  return value >= I64_MIN && value <= I64_MAX ? value : null;
}

/** Why the wasm result disagrees with the expectation, or null when it agrees. */
export function disagreement(expected: Expectation, actual: WasmParseResult): string | null {
  if (!expected.accept) {
    if (actual.ok) return `accepted, but expected rejection (${expected.why})`;
    if (expected.kinds !== 'any' && !expected.kinds.includes(actual.kind)) {
      return `rejected as ${actual.kind} (${actual.message} at ${actual.offset}), expected ${expected.kinds.join('|')} (${expected.why})`;
    }
    return null;
  }
  if (!actual.ok) return `rejected as ${actual.kind} (${actual.message} at byte ${actual.offset}), JSON.parse accepts it`;
  let expectedTokens: Token[];
  let actualTokens: Token[];
  try {
    JSON.parse(actual.json);
    expectedTokens = [...tokenize(expected.text)];
    actualTokens = [...tokenize(actual.json)];
  } catch (e) {
    return `wasm writer output is not JSON: ${(e as Error).message}: ${actual.json.slice(0, 200)}`;
  }
  if (expectedTokens.length !== actualTokens.length) {
    return `token count ${actualTokens.length}, expected ${expectedTokens.length}: ${actual.json.slice(0, 200)}`;
  }
  for (let i = 0; i < expectedTokens.length; i++) {
    const e = expectedTokens[i];
    const a = actualTokens[i];
    if (e.type !== a.type) return `token ${i}: ${a.type} ${a.text}, expected ${e.type} ${e.text}`;
    if (e.type === 'string') {
      if (JSON.parse(e.text) !== JSON.parse(a.text)) return `token ${i}: string ${a.text}, expected ${e.text}`;
    } else if (e.type === 'number') {
      const exact = exactI64(e.text);
      if (exact !== null) {
        if (!/^-?\d+$/.test(a.text) || BigInt(a.text) !== exact) return `token ${i}: integer ${a.text}, expected exactly ${exact}`;
      } else if (Number(a.text) !== Number(e.text)) {
        return `token ${i}: number ${a.text} (${Number(a.text)}), expected ${e.text.slice(0, 60)} (${Number(e.text)})`;
      }
    } else if (e.text !== a.text) {
      return `token ${i}: ${a.text}, expected ${e.text}`;
    }
  }
  return null;
}
