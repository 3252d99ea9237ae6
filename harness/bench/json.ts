/**
 * JSON parse time in the wasm test module (build/test/json.wasm, the parser of
 * assembly/json/) against V8's JSON.parse in the same run. The case that matters is
 * jwt-auth's request path: a JWT claims set of ~300–600 bytes. The wasm side parses
 * bytes already in its memory (as the host hands them); V8 is timed on a JS string and,
 * to compare like with like, on the same bytes decoded first.
 */
import { Rng, jwtPayload } from '../fuzz/json-gen.ts';
import { loadJsonModule, type JsonModule } from '../fuzz/json-module.ts';
import { microsInTurns, round, type BenchSuite } from './report.ts';

function jwks(rng: Rng): string {
  const b64 = (n: number) => {
    let s = '';
    const abc = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    for (let i = 0; i < n; i++) s += abc[rng.int(64)];
    return s;
  };
  return JSON.stringify({
    keys: [
      { kty: 'RSA', kid: b64(43), use: 'sig', alg: 'RS256', n: b64(342), e: 'AQAB', x5t: b64(27) },
      { kty: 'RSA', kid: b64(43), use: 'sig', alg: 'RS256', n: b64(342), e: 'AQAB', x5t: b64(27) },
      { kty: 'EC', kid: b64(43), use: 'sig', alg: 'ES256', crv: 'P-256', x: b64(43), y: b64(43) },
    ],
  });
}

const RATE_LIMIT_CONFIG = JSON.stringify({
  stat_prefix: 'rate_limit',
  rules: ['premium', 'authenticated', 'anonymous'].map((tier, i) => ({
    name: tier,
    match: { headers: [{ name: 'x-user-tier', exact: tier }] },
    key: [{ header: 'x-user-id' }],
    limits: [
      { max_tokens: 100 * (i + 1), tokens_per_fill: 100 * (i + 1), fill_interval: '60s' },
      { max_tokens: 2000 * (i + 1), tokens_per_fill: 2000 * (i + 1), fill_interval: '3600s' },
    ],
  })),
  enforce: true,
  response_headers: true,
  status: 429,
  xff_num_trusted_hops: 0,
  max_keys: 100000,
});

interface CaseResult extends Record<string, unknown> {
  bytes: number;
  wasm_us: number;
  node_json_parse_us: number;
  node_decode_and_parse_us: number;
  /** wasm_us / node_decode_and_parse_us: both start from UTF-8 bytes. */
  ratio: number;
  /** wasm_us / node_json_parse_us: V8 starting from a JS string it already holds. */
  ratio_vs_string: number;
}

function measure(wasm: JsonModule, texts: string[], iterations: number): CaseResult {
  const bytes = texts.map((t) => new TextEncoder().encode(t));
  const placed = bytes.map((b) => wasm.place(b));
  for (const [ptr, len] of placed) {
    if (wasm.exports.parseOnly(ptr, len) !== 0) throw new Error('bench input rejected by the wasm parser');
  }
  const decoder = new TextDecoder();
  const n = texts.length;
  let i = 0;
  // Alternating batches: a busy machine slows every side alike (the ratios are what the report is for).
  const { wasm: wasmUs, node: nodeUs, nodeBytes: nodeBytesUs } = microsInTurns({
    wasm: () => {
      const [ptr, len] = placed[i++ % n];
      return wasm.exports.parseOnly(ptr, len);
    },
    node: () => JSON.parse(texts[i++ % n]),
    nodeBytes: () => JSON.parse(decoder.decode(bytes[i++ % n])),
  }, iterations, { rounds: 11 });
  for (const [ptr] of placed) wasm.free(ptr);
  return {
    bytes: Math.round(bytes.reduce((s, b) => s + b.length, 0) / n),
    wasm_us: round(wasmUs),
    node_json_parse_us: round(nodeUs),
    node_decode_and_parse_us: round(nodeBytesUs),
    ratio: round(wasmUs / nodeBytesUs),
    ratio_vs_string: round(wasmUs / nodeUs),
  };
}

export const suite: BenchSuite = {
  name: 'json',
  description: 'assembly/json parse time per document (wasm) vs JSON.parse (V8), same run',
  async run() {
    const rng = new Rng(20240601);
    const payloads = Array.from({ length: 32 }, () => jwtPayload(rng));
    // One instance for every case, warmed up first: V8 compiles wasm with a baseline
    // tier and optimizes hot functions in the background.
    const wasm = loadJsonModule();
    const placed = payloads.map((t) => wasm.place(new TextEncoder().encode(t)));
    let i = 0;
    for (const until = performance.now() + 1000; performance.now() < until; ) {
      const [ptr, len] = placed[i++ % placed.length];
      wasm.exports.parseClaims(ptr, len);
    }
    // jwt-auth's use: parse, then read exp (integer), iss and sub (strings).
    const { wasm: claimsUs, node: claimsNodeUs } = microsInTurns({
      wasm: () => {
        const [ptr, len] = placed[i++ % placed.length];
        return wasm.exports.parseClaims(ptr, len);
      },
      node: () => {
        const c = JSON.parse(payloads[i++ % payloads.length]);
        return c.exp + c.iss.length + c.sub.length;
      },
    }, 10000, { rounds: 11 });
    return {
      jwt_payload: measure(wasm, payloads, 10000),
      jwt_payload_read_claims: {
        wasm_us: round(claimsUs),
        node_json_parse_us: round(claimsNodeUs),
        ratio_vs_string: round(claimsUs / claimsNodeUs),
      },
      jwks_3_keys: measure(wasm, Array.from({ length: 8 }, () => jwks(rng)), 5000),
      rate_limit_config: measure(wasm, [RATE_LIMIT_CONFIG], 5000),
    };
  },
};
