/**
 * One check of a manifest against a generated model of its kind (`kubernetes-models` for
 * Kubernetes' own resources, `@kubernetes-models/istio` for Istio's): the models validate
 * with ajv against the OpenAPI/CRD schema they were generated from (types, enums,
 * patterns, required fields; not unknown fields, nor a CRD's CEL rules).
 */
import type { Issue } from './config-file.ts';

/** One ajv error of a model's schema check. */
interface SchemaError {
  instancePath: string;
  message?: string;
  params?: { allowedValues?: unknown[] };
}

/** `doc`'s `kind` when it can name a model (an identifier such as `Deployment`), else undefined. */
export function modelKind(doc: { kind?: unknown }): string | undefined {
  return typeof doc.kind === 'string' && /^[A-Z][A-Za-z0-9]*$/.test(doc.kind) ? doc.kind : undefined;
}

/**
 * `doc` checked against the model `kind` exported by `module` (`kubernetes-models/apps/v1/Deployment`):
 * one issue per schema error, at the field's path as this project writes paths
 * (`spec.ports[0].port`); null when `module` has no such model (not a kind of that API version).
 */
export async function checkModelSchema(doc: unknown, module: string, kind: string): Promise<Issue[] | null> {
  let Model: (new (data: unknown) => { validate(): void }) | undefined;
  try {
    Model = ((await import(/* @vite-ignore */ module)) as Record<string, unknown>)[kind] as typeof Model;
  } catch {
    return null;
  }
  if (typeof Model !== 'function') return null;
  try {
    new Model(doc).validate();
    return [];
  } catch (e) {
    const errors = (e as { errors?: SchemaError[] }).errors;
    if (!Array.isArray(errors)) throw e;
    return errors.map((err) => ({ path: fieldPath(err.instancePath), message: `${err.message ?? 'invalid'}${err.params?.allowedValues ? ` (${err.params.allowedValues.join(', ')})` : ''}` }));
  }
}

/** A JSON Pointer (`/spec/ports/0/port`, RFC 6901 escapes) as `spec.ports[0].port`. */
function fieldPath(pointer: string): string {
  return pointer
    .split('/')
    .slice(1)
    .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'))
    .reduce((at: string, p) => (/^\d+$/.test(p) ? `${at}[${p}]` : at ? `${at}.${p}` : p), '');
}
