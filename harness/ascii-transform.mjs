// asc transform (asconfig.json "transform"): stores the messages written as
// `ascii.text("...")` (assembly/proxy-wasm/format.ts) in half the bytes.
//
// AssemblyScript keeps every string literal as a UTF-16 object, two bytes a character
// plus a header and a data segment each; error and log messages are most of a filter's
// static data. This rewrites `ascii.text("literal")`, when the literal is ASCII without
// NUL, into `ascii.packed("…")` whose literal holds two characters per UTF-16 code unit
// (low byte first, a NUL pad when the length is odd); `ascii.packed` widens it back when
// the message is made. Builds without the transform (as-pect specs) run `ascii.text`,
// which returns its argument: the same strings either way.
//
// Plain JavaScript, so that asc loads it however it is started (npx asc, tsx, vitest).
import { LiteralKind, Node, NodeKind, SourceKind } from 'assemblyscript';

/** `text` as two ASCII characters per UTF-16 code unit, or null when it is not packable. */
export function packAscii(text) {
  let out = '';
  for (let i = 0; i < text.length; i += 2) {
    const lo = text.charCodeAt(i);
    const hi = i + 1 < text.length ? text.charCodeAt(i + 1) : 0;
    if (lo === 0 || lo > 0x7f || (i + 1 < text.length && (hi === 0 || hi > 0x7f))) return null;
    out += String.fromCharCode(lo | (hi << 8));
  }
  return out;
}

// Whether `node` is a call `ascii.text(<string literal>)`.
function isAsciiText(node) {
  if (node.kind !== NodeKind.Call || node.args.length !== 1) return false;
  const callee = node.expression;
  const arg = node.args[0];
  return callee.kind === NodeKind.PropertyAccess &&
    callee.property.text === 'text' &&
    callee.expression.kind === NodeKind.Identifier &&
    callee.expression.text === 'ascii' &&
    arg.kind === NodeKind.Literal &&
    arg.literalKind === LiteralKind.String;
}

// Visits every AST node reachable from `node` (source ranges are not followed).
function walk(node, visit, seen) {
  if (node === null || typeof node !== 'object' || seen.has(node)) return;
  seen.add(node);
  if (Array.isArray(node)) {
    for (const item of node) walk(item, visit, seen);
    return;
  }
  if (!(node instanceof Node)) return;
  visit(node);
  for (const key of Object.keys(node)) {
    if (key !== 'range') walk(node[key], visit, seen);
  }
}

export default class AsciiTransform {
  afterParse(parser) {
    const seen = new Set();
    for (const source of parser.sources) {
      if (source.sourceKind !== SourceKind.User && source.sourceKind !== SourceKind.UserEntry) continue;
      walk(source.statements, (node) => {
        if (!isAsciiText(node)) return;
        const literal = node.args[0];
        const packed = packAscii(literal.value);
        if (packed === null) return;
        node.expression.property = Node.createIdentifierExpression('packed', node.expression.property.range);
        node.args[0] = Node.createStringLiteralExpression(packed, literal.range);
      }, seen);
    }
  }
}
