/**
 * Istio manifests (`WasmPlugin`, `EnvoyFilter`, any kind of an `*.istio.io` API): each
 * document is checked against Istio's own CRD schema through `@kubernetes-models/istio`
 * (models generated from Istio 1.29's `crd-all.gen.yaml`: types, enums, patterns; the
 * generated schemas neither reject unknown fields nor run the CRDs' CEL rules, which the
 * API server does), then a WasmPlugin's `pluginConfig` goes through the filter's own
 * configure step. Istio hands `pluginConfig` to the plugin as JSON text in a StringValue,
 * which is what this project's filters read.
 */
import { MESH_MEMBERS } from './combine.ts';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parseAllDocuments } from 'yaml';
import { describe, type Issue } from './config-file.ts';
import { checkModelSchema, modelKind } from './model-schema.ts';
import { checkPluginConfiguration } from './plugins.ts';
import type { ValidateOptions, ValidationReport } from './validate.ts';

type Msg = Record<string, unknown>;

/** The project's filters: `root_id` / `pluginName` = asconfig target = `build/<name>.wasm`. */
export const FILTER_NAMES = MESH_MEMBERS;

/** The modules `package` writes as images and `validate` configures: the filters and the mesh module (filters/mesh). */
export const MODULE_NAMES = [...FILTER_NAMES, 'mesh'] as const;

const ISTIO_API = /^([a-z0-9-]+(?:\.[a-z0-9-]+)*\.istio\.io)\/(v[0-9a-z]+)$/;

/** Whether a document is an Istio resource (its `apiVersion` is an `*.istio.io` group, or its kind a WasmPlugin). */
export function isIstioManifest(doc: unknown): boolean {
  const d = doc as Msg | null;
  return !!d && typeof d === 'object' && ((typeof d.apiVersion === 'string' && ISTIO_API.test(d.apiVersion)) || d.kind === 'WasmPlugin');
}

/**
 * The document checked against its kind's CRD schema: one issue per schema error, at the
 * field's path (`spec.failStrategy`); an unknown apiVersion/kind is one issue at `kind`.
 */
export async function checkIstioSchema(doc: Msg): Promise<Issue[]> {
  const api = typeof doc.apiVersion === 'string' ? ISTIO_API.exec(doc.apiVersion) : null;
  const kind = modelKind(doc);
  const issues = api && kind ? await checkModelSchema(doc, `@kubernetes-models/istio/${api[1]}/${api[2]}/${kind}`, kind) : null;
  return issues ?? [{ path: 'kind', message: `not an Istio resource kind: ${describe(doc.kind)} of ${describe(doc.apiVersion)}` }];
}

/**
 * Checks one Istio manifest: its CRD schema, and for a WasmPlugin of this project's
 * filters its `pluginConfig` through the filter (when `build/<pluginName>.wasm` exists), and
 * that an `oci://` URL by tag is pinned by `sha256` (else Istio runs whatever the tag names
 * when it pulls).
 */
export async function checkIstioManifest(doc: unknown, source: string, opts: ValidateOptions): Promise<ValidationReport> {
  const d = doc as Msg;
  const errors = await checkIstioSchema(d);
  const warnings: Issue[] = [];
  const name = String((d.metadata as Msg | undefined)?.name ?? '');
  const kind = String(d.kind ?? '');
  if (kind !== 'WasmPlugin') return { source, kind: 'istio', errors, warnings, summary: `${kind} ${name}` };

  const spec = (d.spec ?? {}) as Msg;
  if (typeof spec.url !== 'string' || !spec.url) errors.push({ path: 'spec.url', message: 'value is required' });
  // The CRD's CEL rule, which the generated schema does not run.
  else if (!/^(https?|file|oci):\/\//.test(spec.url)) errors.push({ path: 'spec.url', message: `url must have schema one of [http, https, file, oci], got ${describe(spec.url)}` });
  else if (spec.url.startsWith('oci://') && !spec.url.includes('@') && !spec.sha256) {
    warnings.push({ path: 'spec.sha256', message: 'an oci:// url by tag without sha256: Istio runs whatever the tag names when it pulls (mesh-filters package prints the digest)' });
  }
  const pluginName = typeof spec.pluginName === 'string' ? spec.pluginName : '';
  if (!errors.length && (MODULE_NAMES as readonly string[]).includes(pluginName) && opts.plugins !== false) {
    const wasm = path.resolve(opts.cwd ?? process.cwd(), 'build', `${pluginName}.wasm`);
    if (!existsSync(wasm)) {
      warnings.push({ path: 'spec.pluginConfig', message: `not checked: build/${pluginName}.wasm is not built (mesh-filters build ${pluginName})` });
    } else {
      const result = await checkPluginConfiguration({
        name: name || pluginName,
        rootId: pluginName,
        vmId: pluginName,
        module: readFileSync(wasm),
        configuration: Buffer.from(JSON.stringify(spec.pluginConfig ?? {})),
        vmConfiguration: new Uint8Array(0),
        environment: {},
      });
      if (result.status !== 'ok') errors.push({ path: 'spec.pluginConfig', message: result.message });
    }
  }
  return { source, kind: 'istio', errors, warnings, summary: `WasmPlugin ${name} (${pluginName || 'no pluginName'})` };
}

/** The names validate.ts imports. */

/**
 * `text` (YAML documents) with `spec.sha256` of every WasmPlugin whose `pluginName` is a
 * key of `digests` (hex, no `sha256:`) set to that digest, the rest of the text untouched
 * (comments, layout). A WasmPlugin without a `sha256` field gets none: that is the
 * writer's choice, which `checkIstioManifest` warns about.
 */
export function pinWasmPlugins(text: string, digests: Readonly<Record<string, string>>): string {
  const edits: { from: number; to: number; value: string }[] = [];
  for (const doc of parseAllDocuments(text)) {
    if (!('getIn' in doc) || doc.get('kind') !== 'WasmPlugin') continue;
    const digest = digests[String(doc.getIn(['spec', 'pluginName']))];
    const node = doc.getIn(['spec', 'sha256'], true) as { range?: [number, number, number] } | undefined;
    if (digest && node?.range) edits.push({ from: node.range[0], to: node.range[1], value: digest });
  }
  let out = text;
  for (const e of edits.sort((a, b) => b.from - a.from)) out = out.slice(0, e.from) + e.value + out.slice(e.to);
  return out;
}
