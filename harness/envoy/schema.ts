/**
 * Envoy's API definitions as a compact schema for validation.
 *
 * Source: the Envoy v3 API protos vendored by `@grpc/grpc-js-xds`
 * (`deps/envoy-api`, with their imports from `deps/xds`, `deps/googleapis` and
 * `deps/protoc-gen-validate`), parsed with `protobufjs`. Parsing ~420 files takes about half
 * a second, and protobufjs' own JSON form takes as long to rebuild, so the parsed root is
 * reduced to what validation reads (fields, types, oneofs, PGV rules, deprecation) and
 * cached on disk under `node_modules/.cache/mesh-filters/`, keyed by the package versions;
 * later loads only `JSON.parse` it. Within one process the schema is loaded once.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import type * as Protobuf from 'protobufjs';

/** One field of a message, named as in the `.proto` file. */
export interface FieldSchema {
  /** Scalar type name (`string`, `uint32`...) or the full name of a message or enum, without leading dot. */
  type: string;
  kind: 'scalar' | 'message' | 'enum';
  /** proto3 JSON name (lowerCamelCase unless `json_name` says otherwise). */
  jsonName: string;
  repeated?: true;
  /** For `map<K, V>` fields: the key's scalar type; `type`/`kind` describe V. */
  mapKey?: string;
  /** The (real, not proto3 `optional`) oneof this field belongs to. */
  oneof?: string;
  /** protoc-gen-validate rules, flattened: `{ "string.min_len": 1, "repeated.items.string.min_len": 1 }`. */
  rules?: Record<string, unknown>;
  /** `[deprecated = true]`: Envoy accepts the field and logs a deprecation warning. */
  deprecated?: true;
  /** `(envoy.annotations.disallowed_by_default)`: Envoy rejects it unless a runtime flag allows it. */
  disallowed?: true;
}

export interface MessageSchema {
  kind: 'message';
  fields: Record<string, FieldSchema>;
  /** Oneof name → member field names; `required` from `(validate.required)`. */
  oneofs?: Record<string, { fields: string[]; required?: true }>;
}

export interface EnumSchema {
  kind: 'enum';
  values: Record<string, number>;
  /** Value names marked deprecated. */
  deprecated?: string[];
}

export interface EnvoySchema {
  /** Full name (no leading dot) → definition, for every message and enum of the loaded API. */
  types: Record<string, MessageSchema | EnumSchema>;
  /** Where the definitions came from, for messages (`@grpc/grpc-js-xds@1.14.1, 415 files`). */
  source: string;
}

/** Bumped whenever the cached form changes, so that stale caches are rebuilt. */
const FORMAT = 3;

const require = createRequire(import.meta.url);
const projectRoot = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');
const xdsPackageDir = path.dirname(require.resolve('@grpc/grpc-js-xds/package.json'));
const protobufjsDir = path.dirname(require.resolve('protobufjs/package.json'));
const depsDir = path.join(xdsPackageDir, 'deps');
const includeDirs = ['envoy-api', 'xds', 'googleapis', 'protoc-gen-validate']
  .map((d) => path.join(depsDir, d))
  .concat(protobufjsDir); // google/protobuf/descriptor.proto, imported by the annotations

/** Well-known types protobufjs defines itself (it never reads these files). */
const BUNDLED = new Set(
  ['any', 'duration', 'empty', 'field_mask', 'struct', 'timestamp', 'wrappers'].map((n) => `google/protobuf/${n}.proto`),
);

let memo: EnvoySchema | undefined;
let protobuf: typeof Protobuf;

/** The Envoy API schema, loaded once per process (from the disk cache when it is fresh). */
export function loadEnvoySchema(): EnvoySchema {
  if (memo) return memo;
  const xdsVersion = readVersion(xdsPackageDir);
  const key = createHash('sha256')
    .update(`${FORMAT}|${xdsVersion}|${readVersion(protobufjsDir)}`)
    .digest('hex')
    .slice(0, 16);
  const cacheFile = path.join(projectRoot, 'node_modules', '.cache', 'mesh-filters', `envoy-api-${key}.json`);
  let schema: EnvoySchema | undefined;
  try {
    schema = JSON.parse(readFileSync(cacheFile, 'utf8')) as EnvoySchema;
  } catch {
    schema = buildSchema(`@grpc/grpc-js-xds@${xdsVersion}`);
    writeCache(cacheFile, schema);
  }
  applyNewerEnvoyFields(schema);
  memo = schema;
  return schema;
}

function readVersion(dir: string): string {
  return String(JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')).version);
}

function writeCache(file: string, schema: EnvoySchema): void {
  // Several test workers may build it at once: write aside, then rename (atomic).
  try {
    mkdirSync(path.dirname(file), { recursive: true });
    const tmp = `${file}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify(schema));
    renameSync(tmp, file);
  } catch {
    // A read-only tree only costs the next run another parse.
  }
}

function findImport(target: string): string | null {
  for (const dir of includeDirs) {
    const candidate = path.join(dir, target);
    if (existsSync(candidate)) return candidate;
  }
  return null;
}

/**
 * The `.proto` files of `deps/envoy-api/envoy` whose imports all exist. The vendored tree
 * keeps some v2 files and files importing OpenCensus/OpenTelemetry/Prometheus protos
 * that are not vendored; those (and their types) are left out.
 */
function loadableFiles(): string[] {
  const apiDir = includeDirs[0];
  const all: string[] = [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(p);
      else if (entry.name.endsWith('.proto')) all.push(path.relative(apiDir, p));
    }
  };
  walk(path.join(apiDir, 'envoy'));
  // Envoy also accepts these wrappers wherever an Any is expected (typed_config).
  all.push('xds/type/v3/typed_struct.proto', 'udpa/type/v1/typed_struct.proto');
  const verdict = new Map<string, boolean>();
  const importsResolve = (file: string, visiting: Set<string>): boolean => {
    const known = verdict.get(file);
    if (known !== undefined) return known;
    if (BUNDLED.has(file)) return true;
    const found = findImport(file);
    if (!found) {
      verdict.set(file, false);
      return false;
    }
    if (visiting.has(file)) return true; // cycles are resolved by the outer call
    visiting.add(file);
    const source = readFileSync(found, 'utf8');
    let ok = true;
    for (const m of source.matchAll(/^import\s+(?:public\s+|weak\s+)?"([^"]+)";/gm)) {
      if (!importsResolve(m[1], visiting)) ok = false;
    }
    visiting.delete(file);
    verdict.set(file, ok);
    return ok;
  };
  return all.filter((f) => importsResolve(f, new Set())).sort();
}

function lowerCamel(name: string): string {
  // protoc's ToJsonName: drop each underscore and upper-case the letter after it.
  return name.replace(/_+([a-zA-Z0-9])?/g, (_, c: string | undefined) => (c ? c.toUpperCase() : ''));
}

const SCALARS = new Set([
  'double', 'float', 'int32', 'int64', 'uint32', 'uint64', 'sint32', 'sint64',
  'fixed32', 'fixed64', 'sfixed32', 'sfixed64', 'bool', 'string', 'bytes',
]);

function buildSchema(sourceName: string): EnvoySchema {
  // Loaded only here: with a fresh cache, validation never needs protobufjs.
  protobuf = require('protobufjs') as typeof Protobuf;
  const files = loadableFiles();
  const root = new protobuf.Root();
  root.resolvePath = (_origin, target) => (path.isAbsolute(target) ? target : findImport(target)) as string;
  root.loadSync(files, { keepCase: true });
  root.resolveAll();

  const types: EnvoySchema['types'] = {};
  const visit = (ns: Protobuf.NamespaceBase) => {
    for (const nested of ns.nestedArray) {
      if (nested instanceof protobuf.Type) types[nested.fullName.slice(1)] = messageSchema(nested);
      else if (nested instanceof protobuf.Enum) types[nested.fullName.slice(1)] = enumSchema(nested);
      if (nested instanceof protobuf.Namespace || nested instanceof protobuf.Type) visit(nested as Protobuf.NamespaceBase);
    }
  };
  visit(root);
  return { types, source: `${sourceName}, ${files.length} files` };
}

function messageSchema(type: Protobuf.Type): MessageSchema {
  const fields: Record<string, FieldSchema> = {};
  for (const f of type.fieldsArray) {
    const resolved = f.resolvedType;
    const field: FieldSchema = {
      type: resolved ? resolved.fullName.slice(1) : f.type,
      kind: resolved instanceof protobuf.Enum ? 'enum' : resolved ? 'message' : 'scalar',
      jsonName: (f as { jsonName?: string }).jsonName ?? lowerCamel(f.name),
    };
    if (!resolved && !SCALARS.has(f.type)) throw new Error(`unresolved type ${f.type} of ${type.fullName}.${f.name}`);
    if (f.repeated) field.repeated = true;
    if (f instanceof protobuf.MapField) field.mapKey = f.keyType;
    const options = f.options ?? {};
    if (f.partOf && !options.proto3_optional) field.oneof = f.partOf.name;
    const rules: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(options)) {
      if (k.startsWith('(validate.rules).')) rules[k.slice('(validate.rules).'.length)] = v;
    }
    if (Object.keys(rules).length) field.rules = rules;
    if (options.deprecated === true) field.deprecated = true;
    if (options['(envoy.annotations.disallowed_by_default)'] === true) field.disallowed = true;
    fields[f.name] = field;
  }
  const schema: MessageSchema = { kind: 'message', fields };
  for (const o of type.oneofsArray) {
    if (o.fieldsArray.every((f) => f.options?.proto3_optional)) continue;
    schema.oneofs ??= {};
    schema.oneofs[o.name] = { fields: [...o.oneof] };
    if (o.options?.['(validate.required)'] === true) schema.oneofs[o.name].required = true;
  }
  return schema;
}

function enumSchema(e: Protobuf.Enum): EnumSchema {
  const schema: EnumSchema = { kind: 'enum', values: { ...e.values } };
  const deprecated = Object.entries(e.valuesOptions ?? {})
    .filter(([, o]) => o?.deprecated === true)
    .map(([name]) => name);
  if (deprecated.length) schema.deprecated = deprecated;
  return schema;
}

/**
 * Fields that Envoy added to its API after the version vendored by `@grpc/grpc-js-xds`,
 * which users of current Envoy write in bootstrap files. Only names and types matter for
 * proto3 JSON validation, so tag numbers are not recorded.
 *
 * Source: Envoy `api/envoy/extensions/wasm/v3/wasm.proto` (v1.33+): `PluginConfig.failure_policy`
 * (enum `FailurePolicy`: UNSPECIFIED, FAIL_CLOSED, FAIL_RELOAD, FAIL_OPEN), `reload_config`
 * (`ReloadConfig { backoff: config.core.v3.BackoffStrategy }`), `allow_on_headers_stop_iteration`
 * (`BoolValue`), and `fail_open` deprecated in favour of `failure_policy`.
 */
function applyNewerEnvoyFields(schema: EnvoySchema): void {
  const plugin = schema.types['envoy.extensions.wasm.v3.PluginConfig'];
  if (plugin?.kind !== 'message' || plugin.fields.failure_policy) return;
  schema.types['envoy.extensions.wasm.v3.FailurePolicy'] = {
    kind: 'enum',
    values: { UNSPECIFIED: 0, FAIL_CLOSED: 1, FAIL_RELOAD: 2, FAIL_OPEN: 3 },
  };
  schema.types['envoy.extensions.wasm.v3.ReloadConfig'] = {
    kind: 'message',
    fields: { backoff: { type: 'envoy.config.core.v3.BackoffStrategy', kind: 'message', jsonName: 'backoff' } },
  };
  plugin.fields.failure_policy = { type: 'envoy.extensions.wasm.v3.FailurePolicy', kind: 'enum', jsonName: 'failurePolicy' };
  plugin.fields.reload_config = { type: 'envoy.extensions.wasm.v3.ReloadConfig', kind: 'message', jsonName: 'reloadConfig' };
  plugin.fields.allow_on_headers_stop_iteration = {
    type: 'google.protobuf.BoolValue', kind: 'message', jsonName: 'allowOnHeadersStopIteration',
  };
  if (plugin.fields.fail_open) plugin.fields.fail_open.deprecated = true;
}
