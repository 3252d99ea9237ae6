/**
 * Checks a JSON value (a parsed YAML/JSON config) against an Envoy API message the way
 * Envoy loads configuration: YAML → JSON → protobuf's JSON parser with unknown fields
 * rejected (`MessageUtil::loadFromYaml`, source/common/protobuf/utility.cc), then the
 * protoc-gen-validate rules (`MessageUtil::validate`).
 *
 * The proto3 JSON mapping (https://protobuf.dev/programming-guides/json/): fields by proto
 * name or lowerCamel JSON name; `null` means unset; enums by name or number; 64-bit and
 * 32-bit integers as numbers or decimal strings; `bytes` as base64; `Any` as
 * `{"@type": url, ...fields}` (well-known types inside `Any` under `"value"`); Duration as
 * `"1.5s"`; Timestamp as RFC 3339; wrappers as their bare value; Struct/Value as any JSON.
 *
 * Every problem is reported with the path of the value as written in the file, e.g.
 * `static_resources.clusters[0].connect_timeout: expected a duration string like "0.25s"`.
 */
import type { EnumSchema, EnvoySchema, FieldSchema, MessageSchema } from './schema.ts';

export interface Issue {
  /** Path of the value in the document, e.g. `static_resources.listeners[0].name`. */
  path: string;
  message: string;
}

export interface CheckContext {
  schema: EnvoySchema;
  errors: Issue[];
  warnings: Issue[];
  /**
   * Called for every message once its fields are checked, with its value normalized to
   * proto field names (`Any` keeps `@type` plus the normalized fields of its type).
   * `typeName` is the full message name without leading dot.
   */
  onMessage?: (typeName: string, value: Record<string, unknown>, path: string) => void;
}

const TYPE_URL_PREFIX = 'type.googleapis.com/';

/** Appends `key` to `path` as `a.b`, or `a["odd key"]` when the key is not an identifier. */
export function joinPath(path: string, key: string | number): string {
  if (typeof key === 'number') return `${path}[${key}]`;
  if (/^[A-Za-z_][A-Za-z0-9_]*$/.test(key)) return path ? `${path}.${key}` : key;
  return `${path}[${JSON.stringify(key)}]`;
}

/** The message name an `Any` type URL names (`type.googleapis.com/a.b.C` → `a.b.C`). */
export function typeNameOfUrl(url: string): string {
  return url.slice(url.lastIndexOf('/') + 1);
}

/**
 * Checks `value` as a message of `typeName`; returns the normalized value (or undefined
 * when it is not an object). Problems are appended to `ctx.errors` / `ctx.warnings`.
 */
export function checkMessage(ctx: CheckContext, typeName: string, value: unknown, path: string): Record<string, unknown> | undefined {
  const wkt = checkWellKnown(ctx, typeName, value, path);
  if (wkt !== NOT_WKT) return wkt as Record<string, unknown> | undefined;
  const schema = ctx.schema.types[typeName];
  if (!schema || schema.kind !== 'message') {
    ctx.errors.push({ path, message: `no message type ${typeName} in the Envoy API` });
    return undefined;
  }
  if (!isPlainObject(value)) {
    ctx.errors.push({ path, message: `expected an object (${typeName}), got ${describe(value)}` });
    return undefined;
  }
  const out = checkFields(ctx, typeName, schema, value, path, []);
  ctx.onMessage?.(typeName, out, path);
  return out;
}

function checkFields(
  ctx: CheckContext,
  typeName: string,
  schema: MessageSchema,
  value: Record<string, unknown>,
  path: string,
  skipKeys: string[],
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const seenOneof = new Map<string, string>();
  for (const [key, raw] of Object.entries(value)) {
    if (skipKeys.includes(key)) continue;
    const fieldPath = joinPath(path, key);
    const name = fieldName(schema, key);
    if (!name) {
      ctx.errors.push({ path: fieldPath, message: `unknown field${suggest(key, schema)}` });
      continue;
    }
    if (name in out) {
      ctx.errors.push({ path: fieldPath, message: `field "${name}" is set twice (by proto name and JSON name)` });
      continue;
    }
    const field = schema.fields[name];
    if (raw === null && field.type !== 'google.protobuf.Value') continue; // null = unset
    if (field.disallowed) {
      ctx.errors.push({ path: fieldPath, message: `field is deprecated and disallowed by default in ${typeName}` });
    } else if (field.deprecated) {
      ctx.warnings.push({ path: fieldPath, message: `deprecated field of ${typeName}` });
    }
    if (field.oneof) {
      const other = seenOneof.get(field.oneof);
      if (other) {
        ctx.errors.push({ path: fieldPath, message: `oneof "${field.oneof}" is already set by "${other}"` });
        continue;
      }
      seenOneof.set(field.oneof, name);
    }
    out[name] = checkField(ctx, field, raw, fieldPath);
  }
  // PGV: per-field rules (including `required`) and required oneofs.
  for (const [name, field] of Object.entries(schema.fields)) {
    if (field.rules) applyRules(ctx, field, out[name], joinPath(path, name), name in out);
  }
  for (const [oneof, o] of Object.entries(schema.oneofs ?? {})) {
    if (o.required && !seenOneof.has(oneof)) {
      ctx.errors.push({ path: path || '(root)', message: `one of ${o.fields.map((f) => `"${f}"`).join(', ')} is required` });
    }
  }
  return out;
}

function fieldName(schema: MessageSchema, key: string): string | undefined {
  if (Object.hasOwn(schema.fields, key)) return key;
  for (const [name, f] of Object.entries(schema.fields)) if (f.jsonName === key) return name;
  return undefined;
}

function checkField(ctx: CheckContext, field: FieldSchema, raw: unknown, path: string): unknown {
  if (field.mapKey) {
    if (!isPlainObject(raw)) {
      ctx.errors.push({ path, message: `expected an object (map<${field.mapKey}, ${shortType(field)}>), got ${describe(raw)}` });
      return undefined;
    }
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(raw)) {
      const p = joinPath(path, k);
      checkMapKey(ctx, field.mapKey, k, p);
      out[k] = checkSingle(ctx, field, v, p);
    }
    return out;
  }
  if (field.repeated) {
    if (!Array.isArray(raw)) {
      ctx.errors.push({ path, message: `expected a list of ${shortType(field)}, got ${describe(raw)}` });
      return undefined;
    }
    return raw.map((item, i) => {
      const p = joinPath(path, i);
      if (item === null && field.type !== 'google.protobuf.Value') {
        ctx.errors.push({ path: p, message: 'null is not allowed in a list' });
        return undefined;
      }
      return checkSingle(ctx, field, item, p);
    });
  }
  return checkSingle(ctx, field, raw, path);
}

function checkSingle(ctx: CheckContext, field: FieldSchema, raw: unknown, path: string): unknown {
  if (field.kind === 'scalar') return checkScalar(ctx, field.type, raw, path) ? raw : undefined;
  if (field.kind === 'enum') return checkEnum(ctx, field.type, raw, path);
  return checkMessage(ctx, field.type, raw, path);
}

function checkMapKey(ctx: CheckContext, keyType: string, key: string, path: string): void {
  if (keyType === 'string') return;
  if (keyType === 'bool') {
    if (key !== 'true' && key !== 'false') ctx.errors.push({ path, message: `map key must be "true" or "false"` });
    return;
  }
  checkScalar(ctx, keyType, key, path);
}

// ---- scalars ---------------------------------------------------------------------------

const INT_RANGES: Record<string, [bigint, bigint]> = {
  int32: [-(2n ** 31n), 2n ** 31n - 1n],
  sint32: [-(2n ** 31n), 2n ** 31n - 1n],
  sfixed32: [-(2n ** 31n), 2n ** 31n - 1n],
  uint32: [0n, 2n ** 32n - 1n],
  fixed32: [0n, 2n ** 32n - 1n],
  int64: [-(2n ** 63n), 2n ** 63n - 1n],
  sint64: [-(2n ** 63n), 2n ** 63n - 1n],
  sfixed64: [-(2n ** 63n), 2n ** 63n - 1n],
  uint64: [0n, 2n ** 64n - 1n],
  fixed64: [0n, 2n ** 64n - 1n],
};

/** Checks a scalar per the proto3 JSON mapping; returns whether it is acceptable. */
function checkScalar(ctx: CheckContext, type: string, raw: unknown, path: string): boolean {
  const fail = (expected: string) => {
    ctx.errors.push({ path, message: `expected ${expected}, got ${describe(raw)}${boolHint(type, raw)}` });
    return false;
  };
  switch (type) {
    case 'string':
      return typeof raw === 'string' || fail('a string');
    case 'bool':
      return typeof raw === 'boolean' || fail('a bool (true or false)');
    case 'bytes':
      return (typeof raw === 'string' && /^[A-Za-z0-9+/_-]*={0,2}$/.test(raw)) || fail('base64 bytes');
    case 'double':
    case 'float': {
      let n: number;
      if (typeof raw === 'number') n = raw;
      else if (typeof raw === 'string' && /^(NaN|-?Infinity|[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?)$/.test(raw)) n = Number(raw);
      else return fail(`a number (${type})`);
      if (type === 'float' && Number.isFinite(n) && Math.abs(n) > 3.4028234663852886e38) {
        ctx.errors.push({ path, message: `${raw} is out of range for float` });
        return false;
      }
      return true;
    }
    default: {
      const range = INT_RANGES[type];
      if (!range) return fail(type);
      let n: bigint;
      if (typeof raw === 'number' && Number.isInteger(raw)) n = BigInt(raw);
      else if (typeof raw === 'string' && /^-?\d+$/.test(raw)) n = BigInt(raw);
      else return fail(`an integer (${type})`);
      if (n < range[0] || n > range[1]) {
        ctx.errors.push({ path, message: `${raw} is out of range for ${type}` });
        return false;
      }
      return true;
    }
  }
}

function boolHint(type: string, raw: unknown): string {
  // YAML 1.1 (Envoy's yaml-cpp) reads yes/no/on/off as booleans; YAML 1.2 does not.
  if (type === 'bool' && typeof raw === 'string' && /^(yes|no|on|off|y|n)$/i.test(raw)) return ' (write true or false)';
  return '';
}

function checkEnum(ctx: CheckContext, typeName: string, raw: unknown, path: string): unknown {
  if (typeName === 'google.protobuf.NullValue') {
    if (raw !== null && raw !== 'NULL_VALUE') ctx.errors.push({ path, message: `expected null, got ${describe(raw)}` });
    return raw;
  }
  const schema = ctx.schema.types[typeName] as EnumSchema | undefined;
  if (!schema || schema.kind !== 'enum') {
    ctx.errors.push({ path, message: `no enum type ${typeName} in the Envoy API` });
    return undefined;
  }
  if (typeof raw === 'string') {
    if (!Object.hasOwn(schema.values, raw)) {
      const names = Object.keys(schema.values);
      ctx.errors.push({
        path,
        message: `unknown enum value "${raw}" of ${typeName} (one of ${names.slice(0, 12).join(', ')}${names.length > 12 ? ', ...' : ''})`,
      });
      return undefined;
    }
    if (schema.deprecated?.includes(raw)) ctx.warnings.push({ path, message: `deprecated enum value ${raw} of ${typeName}` });
    return raw;
  }
  if (typeof raw === 'number' && Number.isInteger(raw)) return raw; // numbers are accepted as is; PGV defined_only checks them
  ctx.errors.push({ path, message: `expected an enum name of ${typeName}, got ${describe(raw)}` });
  return undefined;
}

// ---- well-known types ------------------------------------------------------------------

const NOT_WKT = Symbol('not a well-known type');

const WRAPPERS: Record<string, string> = {
  'google.protobuf.DoubleValue': 'double',
  'google.protobuf.FloatValue': 'float',
  'google.protobuf.Int64Value': 'int64',
  'google.protobuf.UInt64Value': 'uint64',
  'google.protobuf.Int32Value': 'int32',
  'google.protobuf.UInt32Value': 'uint32',
  'google.protobuf.BoolValue': 'bool',
  'google.protobuf.StringValue': 'string',
  'google.protobuf.BytesValue': 'bytes',
};

/** The largest |seconds| of google.protobuf.Duration (10,000 years). */
const MAX_DURATION_SECONDS = 315_576_000_000;

/** Parses a proto3 JSON Duration (`"-1.5s"`) into nanoseconds, or null when malformed or out of range. */
export function parseDuration(text: string): bigint | null {
  const m = /^(-)?(\d+)(?:\.(\d{1,9}))?s$/.exec(text);
  if (!m) return null;
  const seconds = BigInt(m[2]);
  if (seconds > BigInt(MAX_DURATION_SECONDS)) return null;
  const nanos = BigInt((m[3] ?? '').padEnd(9, '0') || '0');
  const total = seconds * 1_000_000_000n + nanos;
  return m[1] ? -total : total;
}

function checkWellKnown(ctx: CheckContext, typeName: string, value: unknown, path: string): unknown {
  if (!typeName.startsWith('google.protobuf.') && typeName !== 'xds.type.v3.TypedStruct' && typeName !== 'udpa.type.v1.TypedStruct') {
    return NOT_WKT;
  }
  const wrapped = WRAPPERS[typeName];
  if (wrapped) return checkScalar(ctx, wrapped, value, path) ? value : undefined;
  switch (typeName) {
    case 'google.protobuf.Any':
      return checkAny(ctx, value, path);
    case 'google.protobuf.Duration':
      if (typeof value !== 'string' || parseDuration(value) === null) {
        ctx.errors.push({ path, message: `expected a duration string like "0.25s" or "60s", got ${describe(value)}` });
        return undefined;
      }
      return value;
    case 'google.protobuf.Timestamp':
      if (typeof value !== 'string' || !/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?(Z|[+-]\d\d:\d\d)$/.test(value)) {
        ctx.errors.push({ path, message: `expected an RFC 3339 timestamp like "2025-01-15T10:30:00Z", got ${describe(value)}` });
        return undefined;
      }
      return value;
    case 'google.protobuf.FieldMask':
      if (typeof value !== 'string') {
        ctx.errors.push({ path, message: `expected a field mask string like "a.b,c", got ${describe(value)}` });
        return undefined;
      }
      return value;
    case 'google.protobuf.Struct':
      if (!isPlainObject(value)) {
        ctx.errors.push({ path, message: `expected an object (google.protobuf.Struct), got ${describe(value)}` });
        return undefined;
      }
      return value;
    case 'google.protobuf.ListValue':
      if (!Array.isArray(value)) {
        ctx.errors.push({ path, message: `expected a list (google.protobuf.ListValue), got ${describe(value)}` });
        return undefined;
      }
      return value;
    case 'google.protobuf.Value':
      return value;
    case 'google.protobuf.Empty':
      if (!isPlainObject(value) || Object.keys(value).length) {
        ctx.errors.push({ path, message: `expected {} (google.protobuf.Empty), got ${describe(value)}` });
        return undefined;
      }
      return value;
    case 'xds.type.v3.TypedStruct':
    case 'udpa.type.v1.TypedStruct':
      return checkTypedStruct(ctx, typeName, value, path);
    default:
      return NOT_WKT;
  }
}

/** `Any`: `@type` must name a type of the API; the other keys are that type's fields. */
function checkAny(ctx: CheckContext, value: unknown, path: string): Record<string, unknown> | undefined {
  if (!isPlainObject(value)) {
    ctx.errors.push({ path, message: `expected an object with "@type" (google.protobuf.Any), got ${describe(value)}` });
    return undefined;
  }
  const url = value['@type'];
  const typePath = joinPath(path, '@type');
  if (typeof url !== 'string' || !url) {
    ctx.errors.push({ path: typePath, message: `missing "@type" (an Any needs its type URL, e.g. "${TYPE_URL_PREFIX}envoy.extensions.filters.http.router.v3.Router")` });
    return undefined;
  }
  const typeName = typeNameOfUrl(url);
  const target = ctx.schema.types[typeName];
  if (!url.includes('/') || !target || target.kind !== 'message') {
    ctx.errors.push({ path: typePath, message: `unresolvable type "${url}": not a message of the Envoy API (protos of ${ctx.schema.source})` });
    return undefined;
  }
  if (typeName.startsWith('google.protobuf.') && typeName !== 'google.protobuf.Any') {
    // Well-known types inside an Any carry their JSON form under "value".
    const extra = Object.keys(value).filter((k) => k !== '@type' && k !== 'value');
    for (const k of extra) ctx.errors.push({ path: joinPath(path, k), message: `unknown field (${typeName} in an Any takes only "value")` });
    const inner = checkWellKnown(ctx, typeName, value.value, joinPath(path, 'value'));
    return { '@type': url, value: inner };
  }
  const rest = checkMessageBody(ctx, typeName, value, path, ['@type']);
  return rest && { '@type': url, ...rest };
}

function checkMessageBody(
  ctx: CheckContext,
  typeName: string,
  value: Record<string, unknown>,
  path: string,
  skipKeys: string[],
): Record<string, unknown> | undefined {
  const wkt = checkWellKnown(ctx, typeName, value, path);
  if (wkt !== NOT_WKT) return wkt as Record<string, unknown> | undefined;
  const schema = ctx.schema.types[typeName] as MessageSchema;
  const out = checkFields(ctx, typeName, schema, value, path, skipKeys);
  ctx.onMessage?.(typeName, out, path);
  return out;
}

/**
 * `TypedStruct` (`type_url` + `value` Struct) stands for the message `type_url` names; Envoy
 * converts the Struct to that message (`MessageUtil::unpackTo` / `translateOpaqueConfig`),
 * so its fields are checked as that message's.
 */
function checkTypedStruct(ctx: CheckContext, typeName: string, value: unknown, path: string): unknown {
  if (!isPlainObject(value)) {
    ctx.errors.push({ path, message: `expected an object (${typeName}), got ${describe(value)}` });
    return undefined;
  }
  for (const k of Object.keys(value)) {
    if (k !== 'type_url' && k !== 'typeUrl' && k !== 'value' && k !== '@type') {
      ctx.errors.push({ path: joinPath(path, k), message: `unknown field${suggestFrom(k, ['type_url', 'value'])}` });
    }
  }
  const url = value.type_url ?? value.typeUrl;
  if (typeof url !== 'string' || !ctx.schema.types[typeNameOfUrl(url)]) {
    ctx.errors.push({ path: joinPath(path, 'type_url'), message: `unresolvable type "${String(url)}": no such message in the Envoy API` });
    return value;
  }
  const inner = checkMessage(ctx, typeNameOfUrl(url), value.value ?? {}, joinPath(path, 'value'));
  return { type_url: url, value: inner };
}

// ---- protoc-gen-validate rules ---------------------------------------------------------

/**
 * Applies the cheap PGV rules Envoy's API uses: required messages/oneofs, string
 * length/prefix/pattern/header-safety, numeric bounds, defined enum numbers, list and map
 * sizes (and per-item rules), duration bounds. Rule semantics: protoc-gen-validate
 * `validate/validate.proto`.
 */
function applyRules(ctx: CheckContext, field: FieldSchema, value: unknown, path: string, present: boolean): void {
  const r = field.rules!;
  if (present && value === undefined) return; // already reported as a type error
  if (!present) {
    if (field.oneof) return; // PGV checks only the member that is set
    if (r['message.required'] || r['duration.required'] || r['any.required'] || r['timestamp.required']) {
      ctx.errors.push({ path, message: 'value is required' });
    }
    // proto3: a missing scalar holds its default, which the rules still apply to.
    if (field.repeated || field.mapKey || field.kind === 'message') {
      if (field.repeated && (r['repeated.min_items'] as number) > 0) {
        ctx.errors.push({ path, message: `needs at least ${r['repeated.min_items']} item(s)` });
      }
      if (field.mapKey && (r['map.min_pairs'] as number) > 0) {
        ctx.errors.push({ path, message: `needs at least ${r['map.min_pairs']} entr(ies)` });
      }
      return;
    }
    value = field.kind === 'enum' ? 0 : field.type === 'string' || field.type === 'bytes' ? '' : field.type === 'bool' ? false : 0;
  }
  if (field.mapKey && isPlainObject(value)) {
    const n = Object.keys(value).length;
    if (typeof r['map.min_pairs'] === 'number' && n < r['map.min_pairs']) ctx.errors.push({ path, message: `needs at least ${r['map.min_pairs']} entr(ies)` });
    if (typeof r['map.max_pairs'] === 'number' && n > r['map.max_pairs']) ctx.errors.push({ path, message: `allows at most ${r['map.max_pairs']} entr(ies)` });
    for (const [k, v] of Object.entries(value)) {
      scalarRules(ctx, sub(r, 'map.keys.'), field.mapKey, k, joinPath(path, k));
      scalarRules(ctx, sub(r, 'map.values.'), field.type, v, joinPath(path, k));
    }
    return;
  }
  if (field.repeated && Array.isArray(value)) {
    if (typeof r['repeated.min_items'] === 'number' && value.length < r['repeated.min_items']) {
      ctx.errors.push({ path, message: `needs at least ${r['repeated.min_items']} item(s)` });
    }
    if (typeof r['repeated.max_items'] === 'number' && value.length > r['repeated.max_items']) {
      ctx.errors.push({ path, message: `allows at most ${r['repeated.max_items']} item(s)` });
    }
    if (r['repeated.unique'] === true && new Set(value.map((v) => JSON.stringify(v))).size !== value.length) {
      ctx.errors.push({ path, message: 'items must be unique' });
    }
    const items = sub(r, 'repeated.items.');
    value.forEach((v, i) => scalarRules(ctx, items, field.type, v, joinPath(path, i)));
    return;
  }
  scalarRules(ctx, r, field.type, value, path);
}

function sub(rules: Record<string, unknown>, prefix: string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(rules)) if (k.startsWith(prefix)) out[k.slice(prefix.length)] = v;
  return out;
}

const HEADER_NAME = /^:?[0-9a-zA-Z!#$%&'*+\-.^_|~`]+$/;
const HEADER_VALUE = /^[^\u0000-\u0008\u000A-\u001F\u007F]*$/;

function scalarRules(ctx: CheckContext, r: Record<string, unknown>, type: string, value: unknown, path: string): void {
  if (!Object.keys(r).length || value === undefined || value === null) return;
  const err = (message: string) => ctx.errors.push({ path, message });
  if (typeof value === 'string' && (type === 'string' || type === 'google.protobuf.StringValue')) {
    if (r['string.ignore_empty'] === true && value === '') return;
    const chars = [...value].length;
    const bytes = Buffer.byteLength(value);
    if (typeof r['string.min_len'] === 'number' && chars < r['string.min_len']) {
      err(r['string.min_len'] === 1 ? 'must not be empty' : `must be at least ${r['string.min_len']} characters`);
    }
    if (typeof r['string.max_len'] === 'number' && chars > r['string.max_len']) err(`must be at most ${r['string.max_len']} characters`);
    if (typeof r['string.min_bytes'] === 'number' && bytes < r['string.min_bytes']) {
      err(r['string.min_bytes'] === 1 ? 'must not be empty' : `must be at least ${r['string.min_bytes']} bytes`);
    }
    if (typeof r['string.max_bytes'] === 'number' && bytes > r['string.max_bytes']) err(`must be at most ${r['string.max_bytes']} bytes`);
    if (typeof r['string.prefix'] === 'string' && !value.startsWith(r['string.prefix'])) err(`must start with "${r['string.prefix']}"`);
    if (typeof r['string.pattern'] === 'string') {
      let re: RegExp | undefined;
      try {
        re = new RegExp(r['string.pattern'], 'u');
      } catch {
        re = undefined; // RE2-only syntax: left to Envoy
      }
      if (re && !re.test(value)) err(`must match ${r['string.pattern']}`);
    }
    const wk = r['string.well_known_regex'];
    if (wk === 'HTTP_HEADER_NAME' || wk === 'HTTP_HEADER_VALUE') {
      // strict: false only forbids NUL, CR and LF (validate.proto, KnownRegex).
      const ok = r['string.strict'] === false ? !/[\0\r\n]/.test(value) : (wk === 'HTTP_HEADER_NAME' ? HEADER_NAME : HEADER_VALUE).test(value);
      if (!ok) err(`not a valid ${wk === 'HTTP_HEADER_NAME' ? 'header name' : 'header value'}`);
    }
    return;
  }
  if (typeof value === 'string' && type === 'google.protobuf.Duration') {
    const nanos = parseDuration(value);
    if (nanos === null) return;
    for (const op of ['gt', 'gte', 'lt', 'lte'] as const) {
      const s = r[`duration.${op}.seconds`];
      const n = r[`duration.${op}.nanos`];
      if (s === undefined && n === undefined) continue;
      const bound = BigInt(Number(s ?? 0)) * 1_000_000_000n + BigInt(Number(n ?? 0));
      if (!compare(op, nanos, bound)) err(`must be ${OP_TEXT[op]} ${formatNanos(bound)}`);
    }
    return;
  }
  if (typeof r['enum.defined_only'] === 'boolean' && typeof value === 'number') {
    const schema = ctx.schema.types[type];
    if (schema?.kind === 'enum' && !Object.values(schema.values).includes(value)) err(`${value} is not a defined value of ${type}`);
    return;
  }
  const numericType = WRAPPERS[type] ?? type;
  if ((typeof value === 'number' || typeof value === 'string') && numericType in NUMERIC) {
    const n = Number(value);
    if (Number.isNaN(n)) return;
    for (const op of ['gt', 'gte', 'lt', 'lte'] as const) {
      const bound = r[`${numericType}.${op}`];
      if (typeof bound === 'number' && !compare(op, n, bound)) err(`must be ${OP_TEXT[op]} ${bound}`);
    }
    const c = r[`${numericType}.const`];
    if (typeof c === 'number' && n !== c) err(`must be ${c}`);
  }
}

const NUMERIC: Record<string, true> = {
  double: true, float: true, int32: true, int64: true, uint32: true, uint64: true,
  sint32: true, sint64: true, fixed32: true, fixed64: true, sfixed32: true, sfixed64: true,
};
const OP_TEXT = { gt: 'greater than', gte: 'at least', lt: 'less than', lte: 'at most' } as const;

function compare<T extends number | bigint>(op: 'gt' | 'gte' | 'lt' | 'lte', a: T, b: T): boolean {
  return op === 'gt' ? a > b : op === 'gte' ? a >= b : op === 'lt' ? a < b : a <= b;
}

function formatNanos(n: bigint): string {
  const s = Number(n) / 1e9;
  return `${s}s`;
}

// ---- messages --------------------------------------------------------------------------

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A short description of a JSON value for error messages: `"abc"`, `42`, `a list`, `an object`. */
export function describe(v: unknown): string {
  if (v === null) return 'null';
  if (v === undefined) return 'nothing';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'an object';
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}...` : v);
  return String(v);
}

function shortType(field: FieldSchema): string {
  return field.type.slice(field.type.lastIndexOf('.') + 1);
}

function suggest(key: string, schema: MessageSchema): string {
  return suggestFrom(key, Object.keys(schema.fields));
}

/** ` (did you mean "filename"?)` when one name is within edit distance 2 of `key`. */
function suggestFrom(key: string, names: string[]): string {
  let best: string | undefined;
  let bestDistance = 3;
  for (const name of names) {
    const d = editDistance(key.toLowerCase(), name.toLowerCase());
    if (d < bestDistance) {
      best = name;
      bestDistance = d;
    }
  }
  return best ? ` (did you mean "${best}"?)` : '';
}

function editDistance(a: string, b: string): number {
  if (Math.abs(a.length - b.length) > 2) return 3;
  const prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0];
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const up = prev[j];
      prev[j] = Math.min(prev[j] + 1, prev[j - 1] + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = up;
    }
  }
  return prev[b.length];
}
