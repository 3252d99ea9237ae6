/**
 * The wasm JSON parser (assembly/json/, through build/test/json.wasm) against V8:
 * acceptance agrees with `JSON.parse` (and `TextDecoder` with `fatal` for UTF-8) except
 * for the documented differences, values agree once re-serialized by the wasm writer,
 * and no input traps. Random inputs use a fresh seed per run (printed on failure;
 * JSON_FUZZ_SEED=<n> replays it).
 */
import { existsSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildAll } from '../../harness/build.ts';
import { EDGE_CASES, Rng, generateDocument, jwtPayload, midpointAbove, mutate } from '../../harness/fuzz/json-gen.ts';
import { disagreement, exactI64, expectationFor, type Limits } from '../../harness/fuzz/json-oracle.ts';
import { jsonWasmPath, loadJsonModule } from '../../harness/fuzz/json-module.ts';
import { DEFAULT_LIMITS, JsonChecker, runJsonFuzz } from '../../harness/fuzz/json.ts';

const seed = Number(process.env.JSON_FUZZ_SEED ?? (Date.now() >>> 0));
const encoder = new TextEncoder();

beforeAll(async () => {
  if (!existsSync(jsonWasmPath)) await buildAll({ tests: true, only: ['test-json'] });
});

/** Runs inputs through the checker; returns the problems (with the input) and the outcome counts. */
function runAll(inputs: Iterable<[Uint8Array, Limits]>) {
  const checker = new JsonChecker();
  const problems: string[] = [];
  const outcomes: Record<string, number> = {};
  let count = 0;
  for (const [input, limits] of inputs) {
    count++;
    const { problem, outcome } = checker.check(input, limits);
    outcomes[outcome] = (outcomes[outcome] ?? 0) + 1;
    if (problem && problems.length < 10) {
      problems.push(`${problem}\n    input: ${JSON.stringify(Buffer.from(input).toString('latin1')).slice(0, 300)} limits ${JSON.stringify(limits)}`);
    }
  }
  return { problems, outcomes, count, traps: checker.traps };
}

describe(`JSON differential test against V8 (seed ${seed})`, () => {
  it('agrees on the edge-case corpus', () => {
    const { problems, traps } = runAll(EDGE_CASES.map((s) => [encoder.encode(s), DEFAULT_LIMITS]));
    expect(problems).toEqual([]);
    expect(traps).toBe(0);
  });

  it('rejects exactly the documented cases that JSON.parse accepts', () => {
    const wasm = loadJsonModule();
    const cases: [string, string][] = [
      ['{"alg":"RS256","alg":"none"}', 'DuplicateKey'],
      ['{"a":1,"\\u0061":2}', 'DuplicateKey'],
      ['"\\ud800"', 'LoneSurrogate'],
      ['{"\\udfff":1}', 'LoneSurrogate'],
      ['1e400', 'NumberOutOfRange'],
      ['[-1.8e308]', 'NumberOutOfRange'],
      ['['.repeat(65) + ']'.repeat(65), 'TooDeep'],
    ];
    for (const [text, kind] of cases) {
      expect(() => JSON.parse(text), text).not.toThrow();
      const r = wasm.parse(encoder.encode(text));
      expect(r.ok ? 'accepted' : r.kind, text).toBe(kind);
    }
    // Just inside the limits is fine.
    expect(wasm.parse(encoder.encode('['.repeat(64) + ']'.repeat(64))).ok).toBe(true);
  });

  it('agrees on 3000 generated documents, values included', () => {
    const rng = new Rng(seed);
    const docs = Array.from({ length: 3000 }, () => encoder.encode(generateDocument(rng)));
    const { problems, outcomes, traps } = runAll(docs.map((d) => [d, DEFAULT_LIMITS]));
    expect(problems, `seed ${seed}`).toEqual([]);
    expect(traps).toBe(0);
    // Most generated documents are valid; the rest carry a documented difference.
    expect(outcomes.accepted).toBeGreaterThan(1500);
  });

  it('agrees on 6000 mutated documents and never traps', () => {
    const rng = new Rng(seed ^ 0x5bd1e995);
    function* inputs(): Generator<[Uint8Array, Limits]> {
      for (let i = 0; i < 1500; i++) {
        const doc = encoder.encode(generateDocument(rng, 4));
        let current: Uint8Array = doc;
        for (let j = 0; j < 4; j++) {
          current = mutate(rng, j % 2 ? current : doc);
          yield [current, DEFAULT_LIMITS];
        }
      }
    }
    const { problems, outcomes, count, traps } = runAll(inputs());
    expect(problems, `seed ${seed}`).toEqual([]);
    expect(traps).toBe(0);
    expect(count).toBe(6000);
    // The mutations reach most rejection paths.
    expect(Object.keys(outcomes).length, JSON.stringify(outcomes)).toBeGreaterThanOrEqual(10);
  });

  it('agrees on random bytes and small limits', () => {
    const rng = new Rng(seed ^ 0x27d4eb2f);
    function* inputs(): Generator<[Uint8Array, Limits]> {
      for (let i = 0; i < 1000; i++) {
        const bytes = new Uint8Array(rng.int(64));
        for (let k = 0; k < bytes.length; k++) bytes[k] = rng.int(256);
        yield [bytes, DEFAULT_LIMITS];
      }
      for (let i = 0; i < 1000; i++) {
        yield [encoder.encode(generateDocument(rng)), { maxDepth: rng.int(5), maxBytes: 8 + rng.int(300) }];
      }
    }
    const { problems, outcomes, traps } = runAll(inputs());
    expect(problems, `seed ${seed}`).toEqual([]);
    expect(traps).toBe(0);
    expect(outcomes.TooDeep).toBeGreaterThan(0);
    expect(outcomes.TooLarge).toBeGreaterThan(0);
  });

  it('rounds decimal midpoints between doubles like JSON.parse', () => {
    const rng = new Rng(seed ^ 0x1b873593);
    const view = new DataView(new ArrayBuffer(8));
    function* inputs(): Generator<[Uint8Array, Limits]> {
      for (let i = 0; i < 500; i++) {
        view.setUint32(0, rng.next() & 0x7fefffff);
        view.setUint32(4, rng.next());
        const d = view.getFloat64(0);
        if (!(d > 0)) continue;
        const mid = midpointAbove(d);
        yield [encoder.encode(mid), DEFAULT_LIMITS];
        // A hair above the midpoint: rounds up, where the midpoint itself rounds to even.
        const above = mid.includes('e') ? mid.replace('e', '.0000000000001e') : mid + '.0000000000001';
        yield [encoder.encode('[' + above + ']'), DEFAULT_LIMITS];
      }
    }
    const { problems, traps } = runAll(inputs());
    expect(problems, `seed ${seed}`).toEqual([]);
    expect(traps).toBe(0);
  });

  it('reads JWT payloads: parse, then exp/iss/sub', () => {
    const rng = new Rng(seed);
    const wasm = loadJsonModule();
    for (let i = 0; i < 200; i++) {
      const text = jwtPayload(rng);
      const bytes = encoder.encode(text);
      expect(bytes.length).toBeGreaterThanOrEqual(300);
      expect(bytes.length).toBeLessThanOrEqual(650);
      const [ptr, len] = wasm.place(bytes);
      expect(wasm.exports.parseClaims(ptr, len)).toBe(BigInt(JSON.parse(text).exp));
      wasm.free(ptr);
    }
  });

  it('the fuzz entry point finds nothing in a short budget', () => {
    const report = runJsonFuzz({ seconds: 2, seed });
    expect(report.failures.map((f) => `${f.problem} (${f.file})`), `seed ${seed}`).toEqual([]);
    expect(report.traps).toBe(0);
    expect(report.inputs).toBeGreaterThan(1000);
  });
});

describe('JSON differential oracle', () => {
  const accept = expectationFor(encoder.encode('{"a":[1,2.5,"x"],"n":9007199254740993}'), DEFAULT_LIMITS);

  it('accepts an agreeing result', () => {
    expect(disagreement(accept, { ok: true, json: '{"a":[1,2.5,"x"],"n":9007199254740993}' })).toBeNull();
  });

  it('catches wrong values, order, exactness and acceptance', () => {
    expect(disagreement(accept, { ok: true, json: '{"a":[1,2.5,"y"],"n":9007199254740993}' })).toMatch(/string/);
    expect(disagreement(accept, { ok: true, json: '{"n":9007199254740993,"a":[1,2.5,"x"]}' })).not.toBeNull();
    expect(disagreement(accept, { ok: true, json: '{"a":[1,2.5,"x"],"n":9007199254740992}' })).toMatch(/exactly/);
    expect(disagreement(accept, { ok: false, kind: 'UnexpectedEnd', offset: 0, message: 'x' })).toMatch(/JSON.parse accepts/);
    const dup = expectationFor(encoder.encode('{"a":1,"a":2}'), DEFAULT_LIMITS);
    expect(disagreement(dup, { ok: true, json: '{"a":2}' })).toMatch(/expected rejection/);
    expect(disagreement(dup, { ok: false, kind: 'TrailingComma', offset: 0, message: 'x' })).toMatch(/DuplicateKey/);
    const badUtf8 = expectationFor(Uint8Array.of(0x22, 0xc0, 0x80, 0x22), DEFAULT_LIMITS);
    expect(badUtf8.accept).toBe(false);
  });

  it('knows which literals are exact i64 integers', () => {
    expect(exactI64('1.7e9')).toBe(1700000000n);
    expect(exactI64('-9223372036854775808')).toBe(-(2n ** 63n));
    expect(exactI64('9223372036854775808')).toBeNull();
    expect(exactI64('1.5')).toBeNull();
    expect(exactI64('-0.0')).toBe(0n);
    expect(exactI64('100e-2')).toBe(1n);
  });
});
