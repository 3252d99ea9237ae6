// asc transform (asconfig.json "transform"): stores the messages written as
// `ascii.text("...")` (assembly/proxy-wasm/format.ts) in half the bytes.
//
// AssemblyScript keeps every string literal as a UTF-16 object, two bytes a character
// plus a header and a data segment each; error and log messages are most of a filter's
// static data. This rewrites `ascii.text("literal")`, when the literal is ASCII without
// NUL, into `__ascii_packed("…")` whose literal holds two characters per UTF-16 code unit
// (low byte first, a NUL pad when the length is odd); `__ascii_packed` widens it back when
// the message is made. Builds without the transform (as-pect specs) run `ascii.text`,
// which returns its argument: the same strings either way.
//
// Messages handed to the config reader's `fail`/`failHere` and to the SDK's log
// functions are packed the same way without being written as `ascii.text`: their string
// literals (also those joined by `+` or chosen by `?:`) become `__ascii_packed("…")`
// too (a global of format.ts: no import needed). Only literals of MIN_PACKED characters
// or more, where the halved data outweighs the call, and only in programs that hold
// format.ts (every SDK module does).
//
// Constant byte strings written `ascii.bytes("...")` (header names) become static data:
// for an ASCII literal there the source gets a global `const __ascii_bytes_N:
// StaticArray<u8> = [...]`, which the compiler lays out as a static object, one byte a
// character (a const global's constant array literal is not copied at start), and the
// call becomes `changetype<ArrayBuffer>(__ascii_bytes_N)` (an ArrayBuffer reads only the
// header's rtSize). Without the transform `ascii.bytes` encodes the UTF-16 literal at
// start: the same bytes, twice the data and a copy.
//
// Plain JavaScript, so that asc loads it however it is started (npx asc, tsx, vitest).
import { CommonFlags, LiteralKind, Node, NodeKind, Runtime, SourceKind, Token } from 'assemblyscript';

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

// Whether `node` is a call `ascii.<method>(<string literal>)`.
function isAsciiCall(node, method) {
  if (node.kind !== NodeKind.Call || node.args.length !== 1) return false;
  const callee = node.expression;
  const arg = node.args[0];
  return callee.kind === NodeKind.PropertyAccess &&
    callee.property.text === method &&
    callee.expression.kind === NodeKind.Identifier &&
    callee.expression.text === 'ascii' &&
    arg.kind === NodeKind.Literal &&
    arg.literalKind === LiteralKind.String;
}

function isAscii(text) {
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) > 0x7f) return false;
  return true;
}

function namedType(name, typeArguments, range) {
  return Node.createNamedType(Node.createSimpleTypeName(name, range), typeArguments, false, range);
}

// `const <name>: StaticArray<u8> = [bytes of text]` for an ASCII `text`.
function staticBytesDeclaration(name, text, range) {
  const elements = [];
  for (let i = 0; i < text.length; i++) {
    elements.push(Node.createIntegerLiteralExpression(globalThis.i64_new(text.charCodeAt(i), 0), range));
  }
  const declaration = Node.createVariableDeclaration(
    Node.createIdentifierExpression(name, range), null, CommonFlags.Const,
    namedType('StaticArray', [namedType('u8', null, range)], range),
    Node.createArrayLiteralExpression(elements, range), range,
  );
  return Node.createVariableStatement(null, [declaration], range);
}

// Calls whose arguments are messages: ConfigReader/ConfigObject/ConfigArray `fail`,
// `failHere` (assembly/config/reader.ts) and the SDK's log functions (log.ts).
const MESSAGE_METHODS = new Set(['fail', 'failHere']);
const MESSAGE_FUNCTIONS = new Set(['logTrace', 'logDebug', 'logInfo', 'logWarn', 'logError', 'logCritical']);
const MIN_PACKED = 8;
const PACKED_GLOBAL = '__ascii_packed';
const FORMAT_SOURCE = 'assembly/proxy-wasm/format';

function isMessageCall(node) {
  if (node.kind !== NodeKind.Call) return false;
  const callee = node.expression;
  if (callee.kind === NodeKind.PropertyAccess) return MESSAGE_METHODS.has(callee.property.text);
  return callee.kind === NodeKind.Identifier && MESSAGE_FUNCTIONS.has(callee.text);
}

// `expr` with its long ASCII string literals (through `+`, `?:` and parentheses) packed.
function packMessage(expr) {
  switch (expr.kind) {
    case NodeKind.Literal: {
      if (expr.literalKind !== LiteralKind.String || expr.value.length < MIN_PACKED) return expr;
      const packed = packAscii(expr.value);
      if (packed === null) return expr;
      return Node.createCallExpression(
        Node.createIdentifierExpression(PACKED_GLOBAL, expr.range), null,
        [Node.createStringLiteralExpression(packed, expr.range)], expr.range,
      );
    }
    case NodeKind.Binary:
      if (expr.operator === Token.Plus) {
        expr.left = packMessage(expr.left);
        expr.right = packMessage(expr.right);
      }
      return expr;
    case NodeKind.Ternary:
      expr.ifThen = packMessage(expr.ifThen);
      expr.ifElse = packMessage(expr.ifElse);
      return expr;
    case NodeKind.Parenthesized:
      expr.expression = packMessage(expr.expression);
      return expr;
    default:
      return expr;
  }
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
  // Static objects (string literals, constant arrays) with an mmInfo of 0. The compiler
  // gives each static object the block header of a heap block, whose first word (mmInfo,
  // the block size) is followed by zeros, so binaryen's memory packing splits every one
  // into a 1-byte segment and the rest: about 7 bytes of segment header per literal.
  // Under the minimal runtime nothing reads a static block's size: rt/tcms.ts counts,
  // frees and reallocates only blocks at or above __heap_base (__renew copies a static
  // object into a new block, sized by rtSize). rt/itcms.ts's __renew does read it, so
  // the incremental runtime keeps the compiler's header.
  afterInitialize(program) {
    if (program.options.runtime !== Runtime.Minimal) return; // collector rt/tcms.ts
    const object = program.OBJECTInstance;
    const writeField = object.writeField;
    object.writeField = function (name, value, buffer, baseOffset) {
      if (name === 'mmInfo') return true;
      return writeField.call(this, name, value, buffer, baseOffset);
    };
  }

  afterParse(parser) {
    const seen = new Set();
    const hasFormat = parser.sources.some((source) => source.internalPath === FORMAT_SOURCE);
    for (const source of parser.sources) {
      if (source.sourceKind !== SourceKind.User && source.sourceKind !== SourceKind.UserEntry) continue;
      const byteGlobals = new Map(); // literal -> global name, per source (globals are file-scoped)
      const declarations = [];
      walk(source.statements, (node) => {
        if (hasFormat && isMessageCall(node)) {
          for (let i = 0; i < node.args.length; i++) node.args[i] = packMessage(node.args[i]);
          return;
        }
        if (isAsciiCall(node, 'bytes')) {
          const literal = node.args[0];
          if (!isAscii(literal.value)) return;
          let name = byteGlobals.get(literal.value);
          if (name === undefined) {
            name = `__ascii_bytes_${byteGlobals.size}`;
            byteGlobals.set(literal.value, name);
            declarations.push(staticBytesDeclaration(name, literal.value, literal.range));
          }
          node.expression = Node.createIdentifierExpression('changetype', node.range);
          node.typeArguments = [namedType('ArrayBuffer', null, node.range)];
          node.args = [Node.createIdentifierExpression(name, node.range)];
          return;
        }
        if (!isAsciiCall(node, 'text')) return;
        const literal = node.args[0];
        const packed = packAscii(literal.value);
        if (packed === null) return;
        node.expression = Node.createIdentifierExpression(PACKED_GLOBAL, node.expression.range);
        node.args[0] = Node.createStringLiteralExpression(packed, literal.range);
      }, seen);
      source.statements.unshift(...declarations);
    }
  }
}
