/**
 * Kubernetes' own resources in the files users apply beside the WasmPlugins (the rate limit
 * service's Deployments, Services, ConfigMap: envoy/istio/ratelimit-service.yaml), checked
 * against Kubernetes' OpenAPI schemas through `kubernetes-models` (types, enums, required
 * fields; like the Istio models, it does not reject unknown fields).
 */
import type { Issue } from './config-file.ts';
import { describe } from './config-file.ts';
import { checkModelSchema, modelKind } from './model-schema.ts';
import type { ValidationReport } from './validate.ts';

type Msg = Record<string, unknown>;

/** `v1` or `<group>/<version>` of a group Kubernetes serves (no dots: core and apps...; dotted: `*.k8s.io`). */
const KUBERNETES_API = /^(?:([a-z0-9-]+(?:\.k8s\.io)?)\/)?(v[0-9]+(?:(?:alpha|beta)[0-9]+)?)$/;

/** Whether a document is a Kubernetes resource of a built-in API group (not a CRD's). */
export function isKubernetesManifest(doc: unknown): boolean {
  const d = doc as Msg | null;
  return !!d && typeof d === 'object' && typeof d.apiVersion === 'string' && typeof d.kind === 'string' && KUBERNETES_API.test(d.apiVersion);
}

/** The document checked against its kind's schema: one issue per error, at the field's path; an unknown apiVersion/kind is one issue at `kind`. */
export async function checkKubernetesManifest(doc: unknown, source: string): Promise<ValidationReport> {
  const d = doc as Msg;
  const api = KUBERNETES_API.exec(String(d.apiVersion));
  const kind = modelKind(d);
  const issues = api && kind ? await checkModelSchema(d, `kubernetes-models/${api[1] ? `${api[1]}/` : ''}${api[2]}/${kind}`, kind) : null;
  const errors: Issue[] = issues ?? [{ path: 'kind', message: `not a Kubernetes resource kind: ${describe(d.kind)} of ${describe(d.apiVersion)}` }];
  const name = String((d.metadata as Msg | undefined)?.name ?? '');
  return { source, kind: 'kubernetes', errors, warnings: [], summary: `${String(d.kind)} ${name}`.trim() };
}
