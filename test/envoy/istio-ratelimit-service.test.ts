/**
 * envoy/istio/ratelimit-service.yaml, the rate limit service and Redis that
 * envoy/istio/global-rate-limit.yaml's WasmPlugins ask: every document valid against
 * Kubernetes' schemas (`kubernetes-models`, generated from Kubernetes' OpenAPI: types,
 * enums, required fields; like the Istio models it neither rejects unknown fields nor
 * checks ranges), and the parts that must agree with the rest of the repository:
 * the Service and port the plugins' `global.cluster` names, the ConfigMap (byte for byte
 * envoy/ratelimit/config.yaml, at the path the runtime settings point to), the settings
 * (names the pinned service reads, values as harness/ratelimit runs it), the image (the
 * pinned commit), the probes and Redis. `problems()` gathers every disagreement, so each
 * check is shown failing on a changed copy. With the service built, it runs on the
 * manifest's settings over a ConfigMap volume's layout.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Deployment } from 'kubernetes-models/apps/v1';
import { ConfigMap, Namespace, Service } from 'kubernetes-models/v1';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import {
  RATELIMIT_CACHE,
  RATELIMIT_VERSION,
  rateLimitSuiteTitle,
  rateLimitToolsAvailable,
  startRateLimitService,
  startRedis,
  stopAll,
  type RateLimitService,
  type RedisServer,
} from '../../harness/ratelimit/index.ts';

const root = path.resolve(import.meta.dirname, '../..');
type Msg = Record<string, any>;

const FILE = 'envoy/istio/ratelimit-service.yaml';
const read = (file: string) => readFileSync(path.join(root, file), 'utf8');
const docsOf = (file: string): Msg[] => parseAllDocuments(read(file)).map((d) => d.toJS() as Msg);
const shipped = docsOf(FILE);
const serviceConfig = read('envoy/ratelimit/config.yaml');

/** The clusters the gateway's plugins ask (`global.cluster` of every rule). */
const clusters = [...new Set(docsOf('envoy/istio/global-rate-limit.yaml').flatMap((d) => (d.spec?.pluginConfig?.rules ?? []).map((r: Msg) => r.global?.cluster)))];

/** The models by apiVersion and kind; a document of any other kind is a problem. */
const MODELS: Record<string, new (data: any) => { validate(): void }> = {
  'v1/Namespace': Namespace,
  'v1/ConfigMap': ConfigMap,
  'v1/Service': Service,
  'apps/v1/Deployment': Deployment,
};

function schemaProblems(doc: Msg, at: string): string[] {
  const Model = MODELS[`${doc.apiVersion}/${doc.kind}`];
  if (!Model) return [`${at}: no Kubernetes model for ${doc.kind} of ${doc.apiVersion}`];
  try {
    new Model(doc).validate();
    return [];
  } catch (e) {
    const errors = (e as { errors?: { instancePath: string; message?: string }[] }).errors;
    if (!Array.isArray(errors)) throw e;
    return errors.map((err) => `${at}: ${err.instancePath || '/'} ${err.message ?? 'invalid'}`);
  }
}

/**
 * Settings as harness/ratelimit starts the service (`startRateLimitService`'s environment
 * in harness/ratelimit/index.ts): the names, and the values written there as literals.
 */
function harnessSettings(): Map<string, string | undefined> {
  const source = read('harness/ratelimit/index.ts');
  const from = source.indexOf('const files = given');
  const to = source.indexOf('\n  };', source.indexOf('const env: NodeJS.ProcessEnv = {'));
  if (from < 0 || to < from) throw new Error("harness/ratelimit/index.ts: startRateLimitService's environment not found");
  const settings = new Map<string, string | undefined>();
  for (const m of source.slice(from, to).matchAll(/\b([A-Z][A-Z0-9_]+): *(?:'([^']*)')?/g)) settings.set(m[1], m[2]);
  return settings;
}
const HARNESS = harnessSettings();
/** The harness's settings a deployment sets alike: not its loopback addresses, free ports or PATH. */
const REQUIRED = [...HARNESS.keys()].filter((k) => !/^(PATH|HOST|PORT|DEBUG_HOST|DEBUG_PORT|GRPC_HOST)$/.test(k));

/** Settings whose values are the deployment's own (paths, verbosity); the others' values are the harness's. */
const DEPLOYMENT_CHOICE = /^(LOG_LEVEL|REDIS_URL|GRPC_PORT|RUNTIME_ROOT|RUNTIME_SUBDIRECTORY|RUNTIME_APPDIRECTORY)$/;

/** The names the pinned service reads (envconfig tags of src/settings/settings.go), from the Go module `go install` fetched; undefined without it. */
const SETTINGS_GO = path.join(RATELIMIT_CACHE, 'go', 'mod', 'github.com', 'envoyproxy', `ratelimit@${RATELIMIT_VERSION}`, 'src', 'settings', 'settings.go');
const serviceSettings = existsSync(SETTINGS_GO) ? new Set([...readFileSync(SETTINGS_GO, 'utf8').matchAll(/envconfig:"([A-Z0-9_]+)"/g)].map((m) => m[1])) : undefined;

/** Docker Hub tags envoyproxy/ratelimit images by the first 8 hex digits of the commit; RATELIMIT_VERSION ends with 12. */
const IMAGE = `envoyproxy/ratelimit:${/-([0-9a-f]{12})$/.exec(RATELIMIT_VERSION)![1].slice(0, 8)}`;

const matches = (selector: Msg | undefined, labels: Msg | undefined) => !!selector && Object.keys(selector).length > 0 && Object.entries(selector).every(([k, v]) => labels?.[k] === v);

/** The container port a Service port reaches: by number or by the container port's name. */
const containerPort = (container: Msg, target: unknown) => (container.ports ?? []).find((p: Msg) => p.containerPort === target || (typeof target === 'string' && p.name === target));

/** The Deployment (and its one container) behind a Service. */
function backend(docs: Msg[], service: Msg): { deployment: Msg; container: Msg } | undefined {
  const deployment = docs.find((d) => d.kind === 'Deployment' && d.metadata?.namespace === service.metadata?.namespace && matches(service.spec?.selector, d.spec?.template?.metadata?.labels));
  const container = deployment?.spec.template.spec.containers?.[0];
  return deployment && container ? { deployment, container } : undefined;
}

/** Every disagreement of `docs` (the manifest's documents) with Kubernetes' schemas and the repository. */
function problems(docs: Msg[]): string[] {
  const out: string[] = docs.flatMap((d, i) => schemaProblems(d, `#${i + 1} ${d.kind} ${d.metadata?.name}`));
  const find = (kind: string, name: string, namespace?: string) => docs.find((d) => d.kind === kind && d.metadata?.name === name && (namespace === undefined || d.metadata?.namespace === namespace));

  // The Service each plugin's cluster names, on a gRPC port, backed by the service's gRPC listener.
  let service: { deployment: Msg; container: Msg } | undefined;
  for (const cluster of clusters) {
    const m = /^outbound\|(\d+)\|\|([a-z0-9-]+)\.([a-z0-9-]+)\.svc\.cluster\.local$/.exec(String(cluster));
    if (!m) {
      out.push(`global.cluster ${cluster}: not an Istio outbound cluster of a Service`);
      continue;
    }
    const [, port, name, namespace] = m;
    if (!find('Namespace', namespace)) out.push(`${cluster}: no Namespace ${namespace}`);
    const svc = find('Service', name, namespace);
    const sp = svc?.spec?.ports?.find((p: Msg) => p.port === Number(port));
    if (!sp) {
      out.push(`${cluster}: no Service ${name}.${namespace} with port ${port}`);
      continue;
    }
    // Istio's protocol selection: appProtocol, else the port's name (`grpc` or `grpc-*`).
    const protocol = sp.appProtocol ?? String(sp.name ?? '').split('-')[0];
    if (sp.name !== 'grpc' || !['grpc', 'http2'].includes(protocol)) out.push(`${cluster}: Service port ${port} is named ${sp.name} (appProtocol ${sp.appProtocol}); the plugins need it named grpc, for HTTP/2`);
    service = backend(docs, svc!);
    const cp = service && containerPort(service.container, sp.targetPort ?? sp.port);
    if (!cp) out.push(`${cluster}: Service ${name} port ${port} reaches no container port of a Deployment it selects`);
    else {
      const grpcPort = service!.container.env?.find((e: Msg) => e.name === 'GRPC_PORT')?.value ?? '8081';
      if (String(cp.containerPort) !== grpcPort) out.push(`${cluster}: Service ${name} port ${port} reaches container port ${cp.containerPort}, the service listens for gRPC on ${grpcPort} (GRPC_PORT)`);
    }
  }
  if (!service) return [...out, 'no rate limit service Deployment behind the plugins\' cluster'];
  const { deployment, container } = service;
  const env = new Map<string, string>((container.env ?? []).map((e: Msg) => [e.name, e.value]));
  const where = `Deployment ${deployment.metadata.name}`;

  if (container.image !== IMAGE) out.push(`${where}: image ${container.image}, the pinned version (RATELIMIT_VERSION ${RATELIMIT_VERSION}) is ${IMAGE}`);

  // Settings: what the harness sets, alike; nothing the pinned service does not read.
  for (const name of REQUIRED) {
    if (!env.has(name)) out.push(`${where}: ${name} is not set (harness/ratelimit sets it)`);
    else if (HARNESS.get(name) !== undefined && !DEPLOYMENT_CHOICE.test(name) && env.get(name) !== HARNESS.get(name)) out.push(`${where}: ${name}=${env.get(name)}, harness/ratelimit runs the service with ${HARNESS.get(name)}`);
  }
  if (serviceSettings) for (const name of env.keys()) if (!serviceSettings.has(name)) out.push(`${where}: ${name} is not a setting of envoyproxy/ratelimit ${RATELIMIT_VERSION} (src/settings/settings.go)`);

  // The configuration: envoy/ratelimit/config.yaml, the only file where the settings say the service loads its files.
  const configDir = path.posix.join(env.get('RUNTIME_ROOT') ?? '/srv/runtime_data/current', env.get('RUNTIME_SUBDIRECTORY') ?? '', env.get('RUNTIME_APPDIRECTORY') ?? 'config');
  const mount = (container.volumeMounts ?? []).find((v: Msg) => v.mountPath === configDir);
  const volume = mount && deployment.spec.template.spec.volumes?.find((v: Msg) => v.name === mount.name);
  const configMap = volume?.configMap && find('ConfigMap', volume.configMap.name, deployment.metadata.namespace);
  if (!configMap) out.push(`${where}: no ConfigMap volume mounted at ${configDir} (RUNTIME_ROOT/RUNTIME_SUBDIRECTORY/RUNTIME_APPDIRECTORY)`);
  else {
    const files: { key: string; path: string }[] = volume.configMap.items ?? Object.keys(configMap.data ?? {}).map((key) => ({ key, path: key }));
    if (files.length !== 1 || files[0].path !== 'config.yaml') out.push(`${where}: ${configDir} holds ${files.map((f) => f.path).join(', ') || 'nothing'}, not config.yaml alone`);
    else if (configMap.data?.[files[0].key] !== serviceConfig) out.push(`ConfigMap ${configMap.metadata.name}: ${files[0].key} is not envoy/ratelimit/config.yaml (copy the file into the ConfigMap)`);
    // A ConfigMap volume holds its files again under `..<timestamp>/`: read too, domain `mesh` twice.
    if (env.get('RUNTIME_IGNOREDOTFILES') !== 'true') out.push(`${where}: RUNTIME_IGNOREDOTFILES is not true: the service would also load the ConfigMap volume's ..<timestamp>/config.yaml`);
  }

  // Readiness on the service's HTTP listener (PORT, 8080).
  const probe = container.readinessProbe?.httpGet;
  const httpPort = Number(env.get('PORT') ?? 8080);
  if (probe?.path !== '/healthcheck' || containerPort(container, probe.port)?.containerPort !== httpPort) out.push(`${where}: readiness is not GET /healthcheck on port ${httpPort} (PORT)`);
  if (!container.resources?.requests || !container.resources?.limits) out.push(`${where}: no resource requests and limits`);

  // Redis: where REDIS_URL points, without persistence as the tests run it.
  const redisUrl = /^([a-z0-9-]+)\.([a-z0-9-]+)\.svc\.cluster\.local:(\d+)$/.exec(env.get('REDIS_URL') ?? '');
  const redisSvc = redisUrl && find('Service', redisUrl[1], redisUrl[2]);
  const redisPort = redisSvc?.spec?.ports?.find((p: Msg) => p.port === Number(redisUrl![3]));
  const redis = redisSvc && backend(docs, redisSvc);
  const redisTarget = redis && redisPort && containerPort(redis.container, redisPort.targetPort ?? redisPort.port);
  if (!redisTarget || redisTarget.containerPort !== 6379) out.push(`REDIS_URL ${env.get('REDIS_URL')}: no Service port reaching a Redis container on 6379`);
  else {
    const args: string[] = [...(redis.container.command ?? []), ...(redis.container.args ?? [])];
    const option = (name: string) => args[args.indexOf(name) + 1];
    if (!args.includes('--save') || option('--save') !== '' || option('--appendonly') !== 'no') out.push(`Deployment ${redis.deployment.metadata.name}: Redis persists (it must run with --save '' --appendonly no)`);
    if (redis.deployment.spec.template.spec.volumes?.length) out.push(`Deployment ${redis.deployment.metadata.name}: Redis has volumes; its counters are not kept`);
    if (!/^redis:7\.0(\.|-|$)/.test(redis.container.image ?? '')) out.push(`Deployment ${redis.deployment.metadata.name}: image ${redis.container.image}, not Redis 7.0`);
  }
  return out;
}

/** A changed copy of the shipped documents. */
function changed(edit: (docs: Msg[]) => void): Msg[] {
  const docs = structuredClone(shipped);
  edit(docs);
  return docs;
}
const doc = (docs: Msg[], kind: string, name: string) => docs.find((d) => d.kind === kind && d.metadata.name === name)!;
const container = (docs: Msg[], name: string) => doc(docs, 'Deployment', name).spec.template.spec.containers[0];
const setEnv = (docs: Msg[], name: string, value: string | undefined) => {
  const c = container(docs, 'ratelimit');
  c.env = c.env.filter((e: Msg) => e.name !== name);
  if (value !== undefined) c.env.push({ name, value });
};

describe(`${FILE}: the rate limit service under Istio`, () => {
  it('holds the namespace, the ConfigMap, Redis and the service (Deployment and Service each)', () => {
    expect(shipped.map((d) => `${d.kind}/${d.metadata.name}`)).toEqual(['Namespace/ratelimit', 'ConfigMap/ratelimit-config', 'Deployment/redis', 'Service/redis', 'Deployment/ratelimit', 'Service/ratelimit']);
    for (const d of shipped.slice(1)) expect(d.metadata.namespace, `${d.kind} ${d.metadata.name}`).toBe('ratelimit');
  });

  it('is valid against Kubernetes\' schemas and agrees with the plugins, envoy/ratelimit/config.yaml, the harness and the pinned version', () => {
    expect(clusters).toEqual(['outbound|8081||ratelimit.ratelimit.svc.cluster.local']);
    expect(REQUIRED.sort()).toEqual(['GRPC_PORT', 'LOG_LEVEL', 'REDIS_SOCKET_TYPE', 'REDIS_URL', 'RUNTIME_APPDIRECTORY', 'RUNTIME_ROOT', 'RUNTIME_SUBDIRECTORY', 'RUNTIME_WATCH_ROOT', 'USE_STATSD']);
    expect(IMAGE).toBe('envoyproxy/ratelimit:3fb70258');
    expect(problems(shipped)).toEqual([]);
  });

  it('fails a document the schema refuses', () => {
    expect(problems(changed((d) => (container(d, 'ratelimit').ports[1].containerPort = '8081')))).toContain('#5 Deployment ratelimit: /spec/template/spec/containers/0/ports/1/containerPort must be integer');
    expect(problems(changed((d) => delete doc(d, 'Service', 'ratelimit').spec.ports[0].port))).toContain('#6 Service ratelimit: /spec/ports/0 must have required property port');
    expect(problems(changed((d) => d.push({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 's' } })))).toContain('#7 Secret s: no Kubernetes model for Secret of v1');
  });

  it("fails a Service, port or listener the plugins' cluster does not reach", () => {
    const cluster = 'outbound|8081||ratelimit.ratelimit.svc.cluster.local';
    expect(problems(changed((d) => (doc(d, 'Service', 'ratelimit').spec.ports[0].port = 8082)))).toContain(`${cluster}: no Service ratelimit.ratelimit with port 8081`);
    expect(problems(changed((d) => (doc(d, 'Service', 'ratelimit').metadata.name = 'rate-limit')))).toContain(`${cluster}: no Service ratelimit.ratelimit with port 8081`);
    expect(problems(changed((d) => Object.assign(doc(d, 'Service', 'ratelimit').spec.ports[0], { name: 'tcp', appProtocol: undefined })))).toContain(`${cluster}: Service port 8081 is named tcp (appProtocol undefined); the plugins need it named grpc, for HTTP/2`);
    expect(problems(changed((d) => (container(d, 'ratelimit').ports[1].containerPort = 9081)))).toContain(`${cluster}: Service ratelimit port 8081 reaches container port 9081, the service listens for gRPC on 8081 (GRPC_PORT)`);
    expect(problems(changed((d) => (doc(d, 'Deployment', 'ratelimit').spec.template.metadata.labels.app = 'other')))).toContain(`${cluster}: Service ratelimit port 8081 reaches no container port of a Deployment it selects`);
  });

  it('fails a ConfigMap that is not envoy/ratelimit/config.yaml, or mounted elsewhere', () => {
    const stale = 'ConfigMap ratelimit-config: config.yaml is not envoy/ratelimit/config.yaml (copy the file into the ConfigMap)';
    expect(problems(changed((d) => (doc(d, 'ConfigMap', 'ratelimit-config').data['config.yaml'] = serviceConfig.replace('requests_per_unit: 5 }', 'requests_per_unit: 6 }'))))).toEqual([stale]);
    expect(problems(changed((d) => (doc(d, 'ConfigMap', 'ratelimit-config').data['config.yaml'] += '\n')))).toEqual([stale]);
    expect(problems(changed((d) => setEnv(d, 'RUNTIME_SUBDIRECTORY', 'rl')))).toEqual(['Deployment ratelimit: no ConfigMap volume mounted at /data/rl/config (RUNTIME_ROOT/RUNTIME_SUBDIRECTORY/RUNTIME_APPDIRECTORY)']);
    expect(problems(changed((d) => setEnv(d, 'RUNTIME_IGNOREDOTFILES', undefined)))).toEqual(["Deployment ratelimit: RUNTIME_IGNOREDOTFILES is not true: the service would also load the ConfigMap volume's ..<timestamp>/config.yaml"]);
  });

  it('fails settings unlike the harness\'s, an image of another commit, a readiness probe elsewhere, a Redis that persists', () => {
    expect(problems(changed((d) => setEnv(d, 'USE_STATSD', undefined)))).toEqual(['Deployment ratelimit: USE_STATSD is not set (harness/ratelimit sets it)']);
    expect(problems(changed((d) => setEnv(d, 'REDIS_SOCKET_TYPE', 'unix')))).toEqual(['Deployment ratelimit: REDIS_SOCKET_TYPE=unix, harness/ratelimit runs the service with tcp']);
    expect(problems(changed((d) => (container(d, 'ratelimit').image = 'envoyproxy/ratelimit:master')))).toEqual([`Deployment ratelimit: image envoyproxy/ratelimit:master, the pinned version (RATELIMIT_VERSION ${RATELIMIT_VERSION}) is envoyproxy/ratelimit:3fb70258`]);
    expect(problems(changed((d) => (container(d, 'ratelimit').readinessProbe.httpGet.port = 6070)))).toEqual(['Deployment ratelimit: readiness is not GET /healthcheck on port 8080 (PORT)']);
    expect(problems(changed((d) => setEnv(d, 'REDIS_URL', 'redis.ratelimit.svc.cluster.local:6380')))).toEqual(['REDIS_URL redis.ratelimit.svc.cluster.local:6380: no Service port reaching a Redis container on 6379']);
    expect(problems(changed((d) => (container(d, 'redis').args = ['redis-server', '--appendonly', 'yes'])))).toEqual(["Deployment redis: Redis persists (it must run with --save '' --appendonly no)"]);
  });

  it.skipIf(!serviceSettings)(`sets only settings the pinned service reads${serviceSettings ? '' : ` (skipped: no ${path.relative(root, SETTINGS_GO)}; npx tsx harness/ratelimit/install.ts fetches it)`}`, () => {
    expect(serviceSettings!.size).toBeGreaterThan(50);
    expect(problems(changed((d) => setEnv(d, 'RUNTIME_IGNORE_DOTFILES', 'true')))).toEqual([`Deployment ratelimit: RUNTIME_IGNORE_DOTFILES is not a setting of envoyproxy/ratelimit ${RATELIMIT_VERSION} (src/settings/settings.go)`]);
  });
});

const tools = rateLimitToolsAvailable();

/**
 * The kubelet's layout of a ConfigMap volume (atomic writer): the files in a
 * `..<timestamp>` directory, `..data` linking to it, each key a link through `..data`.
 */
function configMapVolume(dir: string, files: Record<string, string>): void {
  const stamp = '..2026_01_22_08_36_18.000000001';
  mkdirSync(path.join(dir, stamp), { recursive: true });
  for (const [name, text] of Object.entries(files)) writeFileSync(path.join(dir, stamp, name), text);
  symlinkSync(stamp, path.join(dir, '..data'));
  for (const name of Object.keys(files)) symlinkSync(path.join('..data', name), path.join(dir, name));
}

describe.skipIf(!tools.ok)(rateLimitSuiteTitle(`${FILE}'s settings on the pinned service`, tools), () => {
  const ratelimit = container(shipped, 'ratelimit');
  const env = Object.fromEntries((ratelimit.env as Msg[]).map((e) => [e.name, String(e.value)]));
  const configMap = doc(shipped, 'ConfigMap', 'ratelimit-config');
  let tmp: string;
  let redis: RedisServer | undefined;
  let service: RateLimitService | undefined;

  beforeAll(async () => {
    tmp = mkdtempSync(path.join(os.tmpdir(), 'mesh-filters-configmap-'));
    // RUNTIME_ROOT is the temporary directory; the rest of the path as the manifest has it.
    const dir = path.join(tmp, env.RUNTIME_SUBDIRECTORY, env.RUNTIME_APPDIRECTORY);
    configMapVolume(dir, configMap.data);
    redis = await startRedis({ tools });
    // The manifest's settings, but loopback addresses on free ports (the harness's) and this Redis.
    const { GRPC_PORT, REDIS_URL, RUNTIME_ROOT, RUNTIME_SUBDIRECTORY, RUNTIME_APPDIRECTORY, ...rest } = env;
    service = await startRateLimitService({ config: { directory: dir }, redis, env: rest, tools });
  });
  afterAll(async () => {
    await stopAll(service, redis);
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  it('loads the ConfigMap once (domain mesh, every descriptor) and reports itself healthy', async () => {
    const rlconfig = await (await fetch(`http://${service!.debugAddress}/rlconfig`)).text();
    const limits = rlconfig.split('\n').filter((l) => l.startsWith('mesh.')).map((l) => l.split(':')[0]).sort();
    expect(limits).toEqual(['mesh.generic_key_anonymous.remote_address', 'mesh.generic_key_authenticated.x-user-id', 'mesh.generic_key_edge', 'mesh.generic_key_premium.x-user-id', 'mesh.generic_key_services.x-service-id']);
    const health = await fetch(`http://${service!.httpAddress}/healthcheck`);
    expect([health.status, (await health.text()).trim()]).toEqual([200, 'OK']);
  });
});
