/**
 * The subset of PromQL the Grafana dashboard (envoy/grafana/mesh-filters.json) uses,
 * evaluated against two scrapes of Envoy's `/stats/prometheus` (samples at `t0` and `t1`):
 *
 *   selectors        name{label="v", label!="v", label=~"re", label!~"re"} (regexes anchored, as Prometheus's)
 *   rate, increase   over name{...}[range]: (v1 − v0) / (t1 − t0) and v1 − v0 (v1 alone after a
 *                    counter reset); a series needs a sample in both scrapes (Prometheus: two in the range)
 *   aggregations     sum, max, min, avg, count, with `by (...)` or `without (...)` before or after
 *   arithmetic       + - * / between scalars and vectors; vector-vector one-to-one on all labels
 *   numbers, parentheses; Grafana's $__rate_interval, $__interval and $__range (any range works here)
 *
 * Anything else is a parse error, so that the dashboard stays within what is checked. An
 * aggregation `by` a label no input series has throws (a misspelt label would otherwise fold
 * every series into one). Sources: prometheus.io docs, "Querying basics", "Operators",
 * "Functions" (rate, increase), "Aggregation operators".
 */
import type { Sample } from '../integration/envoy-stats.ts';

export type Labels = Record<string, string>;
export interface Series {
  labels: Labels;
  value: number;
}
export type Value = number | Series[];

/** Two scrapes `seconds` apart: the range functions' first and last samples. */
export interface Scrapes {
  t0: Sample[];
  t1: Sample[];
  seconds: number;
}

type Node =
  | { kind: 'number'; value: number }
  | { kind: 'selector'; name?: string; matchers: Matcher[]; range?: string }
  | { kind: 'call'; fn: 'rate' | 'increase'; arg: Node }
  | { kind: 'aggregate'; op: string; by?: string[]; without?: string[]; arg: Node }
  | { kind: 'binary'; op: string; left: Node; right: Node };
interface Matcher {
  label: string;
  op: '=' | '!=' | '=~' | '!~';
  value: string;
}

const AGGREGATIONS = ['sum', 'max', 'min', 'avg', 'count'];
const TOKEN = /\s*(?:(\d+(?:\.\d+)?(?:e[+-]?\d+)?)|([a-zA-Z_:][a-zA-Z0-9_:]*)|("(?:[^"\\]|\\.)*")|(\[[^\]]*\])|(=~|!~|!=|[-+*/(){},=]))/y;

function tokenize(expr: string): string[] {
  const out: string[] = [];
  TOKEN.lastIndex = 0;
  const s = expr.trimEnd();
  while (TOKEN.lastIndex < s.length) {
    const at = TOKEN.lastIndex;
    const m = TOKEN.exec(s);
    if (!m) throw new Error(`PromQL: cannot read ${JSON.stringify(s.slice(at))} in ${expr}`);
    out.push(m[0].trim());
  }
  return out;
}

/** Parses `expr` (Grafana's interval variables replaced) into the subset's tree; throws on anything else. */
export function parse(expr: string): Node {
  const tokens = tokenize(expr.replace(/\$__(rate_interval|interval|range)\b/g, '5m'));
  let i = 0;
  const peek = () => tokens[i];
  const take = (want?: string) => {
    const t = tokens[i++];
    if (t === undefined || (want !== undefined && t !== want)) throw new Error(`PromQL: expected ${want ?? 'more'} at token ${i} of ${expr}, got ${t}`);
    return t;
  };
  const labelList = (): string[] => {
    take('(');
    const out: string[] = [];
    while (peek() !== ')') {
      out.push(take());
      if (peek() === ',') take(',');
    }
    take(')');
    return out;
  };
  const matchers = (): Matcher[] => {
    take('{');
    const out: Matcher[] = [];
    while (peek() !== '}') {
      const label = take();
      const op = take() as Matcher['op'];
      if (!['=', '!=', '=~', '!~'].includes(op)) throw new Error(`PromQL: bad matcher ${label}${op} in ${expr}`);
      const value = take();
      if (!value.startsWith('"')) throw new Error(`PromQL: expected a string after ${label}${op} in ${expr}`);
      out.push({ label, op, value: JSON.parse(value) as string });
      if (peek() === ',') take(',');
    }
    take('}');
    return out;
  };
  const primary = (): Node => {
    const t = peek();
    if (t === undefined) throw new Error(`PromQL: unexpected end of ${expr}`);
    if (/^\d/.test(t)) return { kind: 'number', value: Number(take()) };
    if (t === '(') {
      take('(');
      const inner = sum();
      take(')');
      return inner;
    }
    if (t === '-') {
      take('-');
      return { kind: 'binary', op: '*', left: { kind: 'number', value: -1 }, right: primary() };
    }
    if (AGGREGATIONS.includes(t)) {
      const op = take();
      const node: Node = { kind: 'aggregate', op, arg: { kind: 'number', value: 0 } };
      const modifier = () => {
        if (peek() === 'by') (take(), (node.by = labelList()));
        else if (peek() === 'without') (take(), (node.without = labelList()));
      };
      modifier();
      take('(');
      node.arg = sum();
      take(')');
      if (!node.by && !node.without) modifier();
      return node;
    }
    if (t === 'rate' || t === 'increase') {
      take();
      take('(');
      const arg = primary();
      take(')');
      if (arg.kind !== 'selector' || !arg.range) throw new Error(`PromQL: ${t}() takes a range selector, in ${expr}`);
      return { kind: 'call', fn: t, arg };
    }
    if (t === '{' || /^[a-zA-Z_:]/.test(t)) {
      const name = t === '{' ? undefined : take();
      const node: Node = { kind: 'selector', name, matchers: peek() === '{' ? matchers() : [] };
      if (peek()?.startsWith('[')) node.range = take().slice(1, -1);
      return node;
    }
    throw new Error(`PromQL: unexpected ${t} in ${expr}`);
  };
  const product = (): Node => {
    let left = primary();
    while (peek() === '*' || peek() === '/') left = { kind: 'binary', op: take(), left, right: primary() };
    return left;
  };
  const sum = (): Node => {
    let left = product();
    while (peek() === '+' || peek() === '-') left = { kind: 'binary', op: take(), left, right: product() };
    return left;
  };
  const tree = sum();
  if (i !== tokens.length) throw new Error(`PromQL: unexpected ${tokens[i]} in ${expr}`);
  return tree;
}

const key = (labels: Labels) => JSON.stringify(Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : 1)));
const withoutName = ({ __name__, ...rest }: Labels) => rest;

function selects(m: Matcher[], labels: Labels): boolean {
  return m.every(({ label, op, value }) => {
    const v = labels[label] ?? '';
    if (op === '=') return v === value;
    if (op === '!=') return v !== value;
    const full = new RegExp(`^(?:${value})$`).test(v);
    return op === '=~' ? full : !full;
  });
}

function select(samples: Sample[], node: Extract<Node, { kind: 'selector' }>): Series[] {
  return samples
    .map((s) => ({ labels: { __name__: s.name, ...s.labels }, value: s.value }))
    .filter((s) => (node.name === undefined || s.labels.__name__ === node.name) && selects(node.matchers, s.labels));
}

function arith(op: string, a: number, b: number): number {
  return op === '+' ? a + b : op === '-' ? a - b : op === '*' ? a * b : a / b;
}

/** Evaluates `expr` at the second scrape. */
export function evaluate(expr: string | Node, scrapes: Scrapes): Value {
  const node = typeof expr === 'string' ? parse(expr) : expr;
  switch (node.kind) {
    case 'number':
      return node.value;
    case 'selector':
      if (node.range) throw new Error('PromQL: a range selector outside rate() or increase()');
      return select(scrapes.t1, node);
    case 'call': {
      const sel = node.arg as Extract<Node, { kind: 'selector' }>;
      const before = new Map(select(scrapes.t0, sel).map((s) => [key(s.labels), s.value]));
      return select(scrapes.t1, sel).flatMap((s) => {
        const v0 = before.get(key(s.labels));
        if (v0 === undefined) return [];
        const delta = s.value >= v0 ? s.value - v0 : s.value;
        return [{ labels: withoutName(s.labels), value: node.fn === 'rate' ? delta / scrapes.seconds : delta }];
      });
    }
    case 'aggregate': {
      const input = evaluate(node.arg, scrapes);
      if (typeof input === 'number') throw new Error(`PromQL: ${node.op}() of a scalar`);
      for (const l of node.by ?? []) if (!input.some((s) => l in s.labels)) throw new Error(`PromQL: ${node.op} by (${l}): no series has a ${l} label`);
      const groups = new Map<string, { labels: Labels; values: number[] }>();
      for (const s of input) {
        const base = withoutName(s.labels);
        const labels: Labels = node.by
          ? Object.fromEntries(node.by.filter((l) => base[l] !== undefined).map((l) => [l, base[l]]))
          : Object.fromEntries(Object.entries(base).filter(([l]) => !(node.without ?? Object.keys(base)).includes(l)));
        const g = groups.get(key(labels)) ?? { labels, values: [] };
        g.values.push(s.value);
        groups.set(key(labels), g);
      }
      return [...groups.values()].map(({ labels, values }) => {
        const total = values.reduce((a, b) => a + b, 0);
        const value = { sum: total, max: Math.max(...values), min: Math.min(...values), avg: total / values.length, count: values.length }[node.op]!;
        return { labels, value };
      });
    }
    case 'binary': {
      const a = evaluate(node.left, scrapes);
      const b = evaluate(node.right, scrapes);
      if (typeof a === 'number' && typeof b === 'number') return arith(node.op, a, b);
      if (typeof a === 'number') return (b as Series[]).map((s) => ({ labels: withoutName(s.labels), value: arith(node.op, a, s.value) }));
      if (typeof b === 'number') return a.map((s) => ({ labels: withoutName(s.labels), value: arith(node.op, s.value, b) }));
      const right = new Map(b.map((s) => [key(withoutName(s.labels)), s.value]));
      return a.flatMap((s) => {
        const labels = withoutName(s.labels);
        const v = right.get(key(labels));
        return v === undefined ? [] : [{ labels, value: arith(node.op, s.value, v) }];
      });
    }
  }
}
