/**
 * The demo's gRPC upstream: `zoptal.project.v1.ProjectService` (project.proto, after the
 * seeds' Project Service) on @grpc/grpc-js, keeping the latest 10,000 projects in memory
 * (older ones are forgotten: the demo runs for as long as a user likes).
 *
 * Failures on demand, per call, through request metadata (so that the retry and
 * circuit-breaker filters have something to act on):
 * - `x-demo-grpc-status: 14` answers that gRPC status (14 = UNAVAILABLE);
 * - `x-demo-delay-ms: 500` waits first.
 * The caller's identity comes from `x-user-id` (what jwt-auth's `claim_to_headers` writes)
 * when the request has no user id of its own.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

export const PROJECT_PROTO = path.join(path.dirname(fileURLToPath(import.meta.url)), 'project.proto');
export const PROJECT_SERVICE = 'zoptal.project.v1.ProjectService';

export interface Project {
  id: string;
  name: string;
  description: string;
  owner_id: string;
  created_at_ms: number;
  updated_at_ms: number;
}

/** Loads the ProjectService definition (for the server and for clients). */
export function loadProjectService(): grpc.ServiceClientConstructor {
  const def = protoLoader.loadSync(PROJECT_PROTO, { keepCase: true, defaults: true, longs: Number });
  const pkg = grpc.loadPackageDefinition(def) as unknown as {
    zoptal: { project: { v1: { ProjectService: grpc.ServiceClientConstructor } } };
  };
  return pkg.zoptal.project.v1.ProjectService;
}

export interface ProjectServer {
  readonly port: number;
  /** `host:port`. */
  readonly address: string;
  /** The service's method names (`CreateProject`...). */
  readonly methods: readonly string[];
  /** Calls received per method name, all when omitted. */
  calls(method?: string): number;
  close(): Promise<void>;
}

const MAX_PROJECTS = 10_000;

type Call = grpc.ServerUnaryCall<Record<string, unknown>, unknown>;
type Done = grpc.sendUnaryData<unknown>;

/** Starts the ProjectService on `host:port` (port 0: ephemeral). */
export async function startProjectService(opts: { host?: string; port?: number } = {}): Promise<ProjectServer> {
  const Service = loadProjectService();
  const projects = new Map<string, Project>();
  const counts = new Map<string, number>();
  let nextId = 1;

  /** Wraps a handler with the on-demand failures and the call counter. */
  const handle = (method: string, fn: (req: Record<string, unknown>, user: string) => unknown) => (call: Call, done: Done) => {
    counts.set(method, (counts.get(method) ?? 0) + 1);
    const md = call.metadata;
    const status = Number(md.get('x-demo-grpc-status')[0] ?? 0);
    const wait = Number(md.get('x-demo-delay-ms')[0] ?? 0);
    const user = String(md.get('x-user-id')[0] ?? '');
    const answer = () => {
      if (status > 0 && status <= 16) return done({ code: status, details: `demo: ${method} answered status ${status} on request` });
      try {
        done(null, fn(call.request, user));
      } catch (e) {
        done(e as grpc.ServiceError);
      }
    };
    if (wait > 0) setTimeout(answer, Math.min(wait, 60_000));
    else answer();
  };
  const notFound = (id: string): grpc.ServiceError =>
    Object.assign(new Error(`project ${id} not found`), { code: grpc.status.NOT_FOUND, details: `project ${id} not found`, metadata: new grpc.Metadata() });
  const find = (id: unknown): Project => {
    const p = projects.get(String(id));
    if (!p) throw notFound(String(id));
    return p;
  };

  const server = new grpc.Server();
  server.addService(Service.service, {
    GetProject: handle('GetProject', (req) => find(req.project_id)),
    ListUserProjects: handle('ListUserProjects', (req, user) => {
      const owner = String(req.user_id || user);
      const mine = [...projects.values()].filter((p) => p.owner_id === owner);
      const limit = Number(req.limit) > 0 ? Number(req.limit) : 10;
      const page = Number(req.page) > 0 ? Number(req.page) : 1;
      return { projects: mine.slice((page - 1) * limit, page * limit), total: mine.length };
    }),
    CreateProject: handle('CreateProject', (req, user) => {
      const now = Date.now();
      const p: Project = {
        id: `p-${nextId++}`,
        name: String(req.name ?? ''),
        description: String(req.description ?? ''),
        owner_id: String(req.owner_id || user || 'anonymous'),
        created_at_ms: now,
        updated_at_ms: now,
      };
      projects.set(p.id, p);
      if (projects.size > MAX_PROJECTS) projects.delete(projects.keys().next().value!);
      return p;
    }),
    UpdateProject: handle('UpdateProject', (req) => {
      const p = find(req.project_id);
      if (req.name) p.name = String(req.name);
      if (req.description) p.description = String(req.description);
      p.updated_at_ms = Date.now();
      return p;
    }),
    CheckProjectAccess: handle('CheckProjectAccess', (req, user) => {
      const p = projects.get(String(req.project_id));
      const who = String(req.user_id || user);
      return p && p.owner_id === who ? { allowed: true, role: 'owner' } : { allowed: false, role: '' };
    }),
  });
  const host = opts.host ?? '127.0.0.1';
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`${host}:${opts.port ?? 0}`, grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  );
  return {
    port,
    address: `${host}:${port}`,
    methods: Object.keys(Service.service),
    calls: (method) => (method ? counts.get(method) ?? 0 : [...counts.values()].reduce((a, b) => a + b, 0)),
    close: () =>
      new Promise<void>((resolve) => {
        server.tryShutdown(() => resolve());
        setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, 2000).unref();
      }),
  };
}

/** A ProjectService client for `address` (the proxy's listener, or the service itself). */
export function projectClient(address: string): grpc.Client & Record<string, Function> {
  const Service = loadProjectService();
  return new Service(address, grpc.credentials.createInsecure()) as never;
}

/** Promise form of one unary call: `await callProject(client, 'CreateProject', { name: 'x' })`. */
export function callProject<T = Record<string, unknown>>(
  client: grpc.Client & Record<string, Function>,
  method: string,
  request: Record<string, unknown>,
  metadata: Record<string, string> = {},
  deadlineMs = 5000,
): Promise<T> {
  const md = new grpc.Metadata();
  for (const [k, v] of Object.entries(metadata)) md.set(k, v);
  return new Promise((resolve, reject) =>
    client[method](request, md, { deadline: Date.now() + deadlineMs }, (err: grpc.ServiceError | null, res: T) => (err ? reject(err) : resolve(res))),
  );
}
