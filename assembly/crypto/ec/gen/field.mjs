// Generates the straight-line field arithmetic of assembly/crypto/ec/p256-field.ts and
// p384-field.ts: `node assembly/crypto/ec/gen/field.mjs` rewrites both files.
//
// Elements are N little-endian 32-bit words in linear memory, fully reduced (< p), in
// Montgomery form (x·R mod p, R = 2^(32N)). Both primes are ≡ -1 mod 2^32, so the
// Montgomery factor -p^-1 mod 2^32 is 1 and each reduction step adds m·p with m the
// column's low word; p is written as a short signed sum of powers of 2^32, so m·p is a
// few additions of m, not multiplications (the idea of OpenSSL's ecp_nistz256).
// Products are 32×32→64-bit in i64; each is split into its low and high halves, so
// column sums stay far below 2^63 and need no carry detection.
import { writeFileSync } from 'node:fs';
import path from 'node:path';

const here = import.meta.dirname;

const PRIMES = [
  {
    name: 'p256',
    limbs: 8,
    // p = 2^256 - 2^224 + 2^192 + 2^96 - 1 (FIPS 186-4 D.1.2.3): word index -> ±1
    sparse: { 0: -1, 3: 1, 6: 1, 7: -1, 8: 1 },
    source: 'FIPS 186-4 D.1.2.3 (SEC 2 secp256r1)',
  },
  {
    name: 'p384',
    limbs: 12,
    // p = 2^384 - 2^128 - 2^96 + 2^32 - 1 (FIPS 186-4 D.1.2.4)
    sparse: { 0: -1, 1: 1, 3: -1, 4: -1, 12: 1 },
    source: 'FIPS 186-4 D.1.2.4 (SEC 2 secp384r1)',
  },
];

const hex32 = (x) => '0x' + x.toString(16).padStart(8, '0');

function primeValue({ sparse }) {
  let p = 0n;
  for (const [k, c] of Object.entries(sparse)) p += BigInt(c) << BigInt(32 * Number(k));
  return p;
}

function words(x, n) {
  const w = [];
  for (let i = 0; i < n; i++) w.push(Number((x >> BigInt(32 * i)) & 0xffffffffn));
  return w;
}

/** Lines that load a_i (and b_i) as i64 locals. */
function loads(N, names) {
  const out = [];
  for (const [v, ptr] of names)
    for (let i = 0; i < N; i++) out.push(`  const ${v}${i}: i64 = <i64>load<u32>(${ptr}, ${4 * i});`);
  return out;
}

/**
 * Column c's Montgomery terms: + coeff·m_(c-k) for each sparse word k ≥ 1 of p whose
 * m index is in range. Returns the expression terms.
 */
function reductionTerms(prime, c) {
  const terms = [];
  for (const [ks, coeff] of Object.entries(prime.sparse)) {
    const k = Number(ks);
    if (k === 0) continue;
    const j = c - k;
    if (j >= 0 && j < prime.limbs) terms.push(`${coeff > 0 ? '+' : '-'} m${j}`);
  }
  return terms;
}

/** The end of a column: Montgomery digit m_c (c < N) or result word r_(c-N), carry on. */
function closeColumn(prime, c, lines) {
  const N = prime.limbs;
  const red = reductionTerms(prime, c);
  if (red.length) lines.push(`  acc = acc ${red.join(' ')};`);
  if (c < N) lines.push(`  const m${c}: i64 = acc & 0xffffffff;`);
  else lines.push(`  const r${c - N}: i64 = acc & 0xffffffff;`);
  // Word 0 of p is -1: adding -m_c clears the low word, so the carry is acc >> 32 (signed).
  lines.push(`  acc = acc >> 32;`);
}

/** Final step shared by mul/sqr/add: r (N words) + top·2^(32N) < 2p; subtract p if ≥ p. */
function conditionalSubtract(prime, lines, topExpr) {
  const N = prime.limbs;
  const pw = words(primeValue(prime), N);
  lines.push(`  // Subtract p when the result is ≥ p, chosen by mask (no data-dependent branch).`);
  lines.push(`  let d: i64 = 0;`);
  for (let i = 0; i < N; i++) {
    lines.push(`  d += r${i} - ${hex32(pw[i])};`);
    lines.push(`  const s${i}: i64 = d & 0xffffffff;`);
    lines.push(`  d = d >> 32;`);
  }
  lines.push(`  const keep: i64 = (d + ${topExpr}) >> 63; // -1: result < p, keep r; 0: take r - p`);
  for (let i = 0; i < N; i++)
    lines.push(`  store<u32>(out, <u32>(s${i} ^ ((s${i} ^ r${i}) & keep)), ${4 * i});`);
}

function genMul(prime) {
  const N = prime.limbs;
  const P = prime.name.toUpperCase();
  const lines = [];
  lines.push(`/**`);
  lines.push(` * Montgomery product: out = a·b·2^-${32 * N} mod p (all ${N}-word elements < p; out may alias a or b).`);
  lines.push(` * Product scanning with the reduction folded into each column.`);
  lines.push(` */`);
  lines.push(`export function ${prime.name}Mul(out: usize, a: usize, b: usize): void {`);
  lines.push(...loads(N, [['a', 'a'], ['b', 'b']]));
  lines.push(`  let t: i64, acc: i64 = 0, hi: i64 = 0;`);
  for (let c = 0; c < 2 * N; c++) {
    lines.push(`  // column ${c}`);
    lines.push(`  acc += hi;`);
    lines.push(`  hi = 0;`);
    for (let i = Math.max(0, c - N + 1); i <= Math.min(c, N - 1); i++) {
      const j = c - i;
      lines.push(`  t = a${i} * b${j}; acc += t & 0xffffffff; hi += t >>> 32;`);
    }
    closeColumn(prime, c, lines);
  }
  lines.push(`  acc += hi;`);
  conditionalSubtract(prime, lines, 'acc');
  lines.push(`}`);
  return lines.join('\n');
}

function genSqr(prime) {
  const N = prime.limbs;
  const lines = [];
  lines.push(`/** Montgomery square: out = a²·2^-${32 * N} mod p (out may alias a). Cross products are summed once and doubled. */`);
  lines.push(`export function ${prime.name}Sqr(out: usize, a: usize): void {`);
  lines.push(...loads(N, [['a', 'a']]));
  lines.push(`  let t: i64, acc: i64 = 0, x: i64 = 0, hi: i64 = 0, dhi: i64 = 0;`);
  for (let c = 0; c < 2 * N; c++) {
    lines.push(`  // column ${c}`);
    lines.push(`  x = hi;`);
    lines.push(`  hi = 0;`);
    for (let i = Math.max(0, c - N + 1); i <= Math.min(c, N - 1); i++) {
      const j = c - i;
      if (i >= j) continue;
      lines.push(`  t = a${i} * a${j}; x += t & 0xffffffff; hi += t >>> 32;`);
    }
    lines.push(`  acc += (x << 1) + dhi;`);
    if (c % 2 === 0) {
      const i = c / 2;
      lines.push(`  t = a${i} * a${i}; acc += t & 0xffffffff; dhi = t >>> 32;`);
    } else {
      lines.push(`  dhi = 0;`);
    }
    closeColumn(prime, c, lines);
  }
  lines.push(`  acc += (hi << 1) + dhi;`);
  conditionalSubtract(prime, lines, 'acc');
  lines.push(`}`);
  return lines.join('\n');
}

function genAdd(prime) {
  const N = prime.limbs;
  const lines = [];
  lines.push(`/** out = a + b mod p (elements < p; out may alias a or b). */`);
  lines.push(`export function ${prime.name}Add(out: usize, a: usize, b: usize): void {`);
  lines.push(`  let acc: i64 = 0;`);
  for (let i = 0; i < N; i++) {
    lines.push(`  acc += <i64>load<u32>(a, ${4 * i}) + <i64>load<u32>(b, ${4 * i});`);
    lines.push(`  const r${i}: i64 = acc & 0xffffffff;`);
    lines.push(`  acc = acc >> 32;`);
  }
  conditionalSubtract(prime, lines, 'acc');
  lines.push(`}`);
  return lines.join('\n');
}

function genSub(prime) {
  const N = prime.limbs;
  const pw = words(primeValue(prime), N);
  const lines = [];
  lines.push(`/** out = a - b mod p (elements < p; out may alias a or b). */`);
  lines.push(`export function ${prime.name}Sub(out: usize, a: usize, b: usize): void {`);
  lines.push(`  let acc: i64 = 0;`);
  for (let i = 0; i < N; i++) {
    lines.push(`  acc += <i64>load<u32>(a, ${4 * i}) - <i64>load<u32>(b, ${4 * i});`);
    lines.push(`  const r${i}: i64 = acc & 0xffffffff;`);
    lines.push(`  acc = acc >> 32;`);
  }
  lines.push(`  // A borrow (acc = -1) adds p back, selected by mask.`);
  lines.push(`  const borrow: i64 = acc;`);
  lines.push(`  acc = 0;`);
  for (let i = 0; i < N; i++) {
    const term = pw[i] === 0 ? '' : ` + (${hex32(pw[i])} & borrow)`;
    lines.push(`  acc += r${i}${term};`);
    lines.push(`  store<u32>(out, <u32>acc, ${4 * i});`);
    if (i < N - 1) lines.push(`  acc = acc >> 32;`);
  }
  lines.push(`}`);
  return lines.join('\n');
}

for (const prime of PRIMES) {
  const p = primeValue(prime);
  const file = path.join(here, '..', `${prime.name}-field.ts`);
  const text = [
    `// GENERATED by assembly/crypto/ec/gen/field.mjs — edit the generator, not this file.`,
    `//`,
    `// Arithmetic modulo the ${prime.name.toUpperCase()} prime p = 0x${p.toString(16)}`,
    `// (${prime.source}) on ${prime.limbs} little-endian 32-bit words in Montgomery form,`,
    `// R = 2^${32 * prime.limbs}. Straight-line code: Wasm engines keep the words in registers.`,
    ``,
    genMul(prime),
    ``,
    genSqr(prime),
    ``,
    genAdd(prime),
    ``,
    genSub(prime),
    ``,
  ].join('\n');
  writeFileSync(file, text);
  console.log(`wrote ${path.relative(process.cwd(), file)}`);
}
