/**
 * Istio `WasmPlugin` manifests (extensions.istio.io/v1alpha1): the spec's fields and enums
 * as Istio's API defines them (istio/api `extensions/v1alpha1/wasm.proto`), then the
 * `pluginConfig` through the filter's own configure step. Istio hands `pluginConfig` to
 * the plugin as JSON text in a StringValue, which is what this project's filters read.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, joinPath, type Issue } from './config-file.ts';
import { checkPluginConfiguration } from './plugins.ts';
import type { ValidateOptions, ValidationReport } from './validate.ts';

type Msg = Record<string, unknown>;

/** The project's filters: `root_id` / `pluginName` = asconfig target = `build/<name>.wasm`. */
export const FILTER_NAMES = ['jwt-auth', 'rate-limit', 'circuit-breaker', 'retry'] as const;

export function isIstioWasmPlugin(doc: unknown): boolean {
  const d = doc as Msg | null;
  return !!d && typeof d === 'object' && d.kind === 'WasmPlugin';
}

const ENUMS: Record<string, string[]> = {
  phase: ['UNSPECIFIED_PHASE', 'AUTHN', 'AUTHZ', 'STATS'],
  failStrategy: ['FAIL_CLOSE', 'FAIL_OPEN', 'FAIL_RELOAD'],
  imagePullPolicy: ['UNSPECIFIED_POLICY', 'IfNotPresent', 'Always'],
  type: ['UNSPECIFIED_PLUGIN_TYPE', 'HTTP', 'NETWORK'],
};
const SPEC_FIELDS = [
  'selector', 'targetRef', 'targetRefs', 'url', 'sha256', 'imagePullPolicy', 'imagePullSecret', 'verificationKey',
  'pluginConfig', 'pluginName', 'phase', 'priority', 'failStrategy', 'vmConfig', 'match', 'type',
];

/** Checks one WasmPlugin manifest; runs its `pluginConfig` through the filter when `build/<pluginName>.wasm` exists. */
export async function checkIstioWasmPlugin(doc: unknown, source: string, opts: ValidateOptions): Promise<ValidationReport> {
  const errors: Issue[] = [];
  const warnings: Issue[] = [];
  const d = doc as Msg;
  if (d.apiVersion !== 'extensions.istio.io/v1alpha1') {
    errors.push({ path: 'apiVersion', message: `expected extensions.istio.io/v1alpha1, got ${describe(d.apiVersion)}` });
  }
  const meta = d.metadata as Msg | undefined;
  if (!meta || typeof meta.name !== 'string' || !meta.name) errors.push({ path: 'metadata.name', message: 'value is required' });
  const spec = d.spec as Msg | undefined;
  if (!spec || typeof spec !== 'object' || Array.isArray(spec)) {
    errors.push({ path: 'spec', message: `expected an object, got ${describe(spec)}` });
    return { source, kind: 'istio-wasm-plugin', errors, warnings, summary: 'WasmPlugin' };
  }
  for (const key of Object.keys(spec)) {
    if (!SPEC_FIELDS.includes(key)) errors.push({ path: joinPath('spec', key), message: 'unknown field' });
  }
  if (typeof spec.url !== 'string' || !spec.url) errors.push({ path: 'spec.url', message: 'value is required' });
  for (const [field, values] of Object.entries(ENUMS)) {
    const v = spec[field];
    if (v !== undefined && !values.includes(String(v))) {
      errors.push({ path: joinPath('spec', field), message: `unknown enum value ${describe(v)} (one of ${values.join(', ')})` });
    }
  }
  if (spec.priority !== undefined && !Number.isInteger(spec.priority)) {
    errors.push({ path: 'spec.priority', message: `expected an integer, got ${describe(spec.priority)}` });
  }
  const config = spec.pluginConfig;
  if (config !== undefined && (typeof config !== 'object' || config === null || Array.isArray(config))) {
    errors.push({ path: 'spec.pluginConfig', message: `expected an object, got ${describe(config)}` });
  }

  const name = typeof spec.pluginName === 'string' ? spec.pluginName : '';
  if (!errors.length && (FILTER_NAMES as readonly string[]).includes(name) && opts.plugins !== false) {
    const wasm = path.resolve(opts.cwd ?? process.cwd(), 'build', `${name}.wasm`);
    if (!existsSync(wasm)) {
      warnings.push({ path: 'spec.pluginConfig', message: `not checked: build/${name}.wasm is not built (mesh-filters build ${name})` });
    } else {
      const result = await checkPluginConfiguration({
        name: String(meta?.name ?? name),
        rootId: name,
        vmId: name,
        module: readFileSync(wasm),
        configuration: Buffer.from(JSON.stringify(config ?? {})),
        vmConfiguration: new Uint8Array(0),
        environment: {},
      });
      if (result.status !== 'ok') errors.push({ path: 'spec.pluginConfig', message: result.message });
    }
  }
  return { source, kind: 'istio-wasm-plugin', errors, warnings, summary: `WasmPlugin ${String(meta?.name ?? '')} (${name || 'no pluginName'})` };
}
