/**
 * Runs probe scripts (test/wasm/host-probe) on real Envoy and on the host's emulator and
 * lines up what each hostcall returned, for test/host/envoy-agreement.test.ts.
 *
 * Envoy side: one listener per case, each with the probe as its `envoy.filters.http.wasm`
 * filter (plugin name = the case's name, vm_id `vm-<name>` so cases share no VM, shared
 * data or queue), a `direct_response` route and a route to an upstream; `--concurrency 1`
 * and `--log-level info`, so the probe's lines come from one worker in order. Envoy's
 * output is read back (`wasm log <name> <root_id> <vm_id>: <message>`), keeping the
 * worker's lines of each vm_id (the main thread also configures the plugin, twice: the
 * canary and its own copy).
 *
 * Host side: the emulator runs the same script with the same plugin name, root_id and
 * vm_id, is given the request as Envoy's codec and connection manager give it to the
 * filter (`envoyRequestHeaders`: a model, checked by the `get_pairs 0` lines agreeing),
 * and the response and HTTP call answers as Envoy gave them to the filter (read from the
 * witness lines every script starts its phases with, e.g. `resp_headers get_pairs 2`).
 */
import { httpListener, loopbackAdmin, staticCluster } from '../../harness/envoy/bootstrap.ts';
import http from 'node:http';
import net from 'node:net';
import { Client } from 'undici';
import { type Upstream, startUpstream, status } from '../../harness/upstream/index.ts';
import { WasmEmulator } from '../../harness/host/emulator.ts';
import { LOG_LEVEL_NAMES, LogLevel } from '../../harness/host/abi.ts';
import type { HeaderPair } from '../../harness/host/header-map.ts';
import { FilterHeadersStatus } from '../../harness/host/filter.ts';
import { type EnvoyAvailability, startEnvoy } from '../../harness/envoy/runner.ts';
import { testModule } from '../../harness/host/testing.ts';
import { PROBE_WASM } from './probe.ts';

const ROOT_ID = 'probe';
const NODE = { id: 'agreement-node', cluster: 'agreement-cluster' };
/** Route names of every listener's route configuration. */
const DIRECT_ROUTE = 'direct';
const UPSTREAM_ROUTE = 'to-upstream';
/** Clusters: the upstream, and one without endpoints. */
const UPSTREAM_CLUSTER = 'upstream';
const EMPTY_CLUSTER = 'empty';
/** The one virtual host of every listener's route configuration. */
const VIRTUAL_HOST = 'probe';

/** One request of a case, as the client sends it (HTTP/1.1 through undici, or node:http for trailers). */
export interface ProbeRequest {
  method?: string;
  /** Path and query; `/up...` goes to the upstream (route `to-upstream`), the rest to the direct response. */
  path?: string;
  /** Headers in the order sent, names as written (`Host` is added by the client). */
  headers?: HeaderPair[];
  body?: string;
  /** Request trailers (chunked HTTP/1.1; the listener enables trailers). */
  trailers?: HeaderPair[];
}

export interface AgreementCase {
  /** Plugin name and listener name: letters, digits and `-`. */
  name: string;
  script: string[];
  requests: ProbeRequest[];
  /** Script lines whose value cannot agree (times, ports, ids): only their status code is compared. */
  statusOnly?: string[];
  /** Also compare what the client got (status, headers but the codec's and connection manager's, body). */
  compareClient?: boolean;
}

/** What the client of a request got back. */
export interface ClientResponse {
  status: number;
  headers: HeaderPair[];
  body: string;
}

/** One outcome: `<line> -> <result>`, as the probe logs it (other levels: `[warning] <message>`). */
export type Outcome = string;

export interface CaseRun {
  outcomes: Outcome[];
  responses: ClientResponse[];
}

export interface EnvoyRun {
  cases: Map<string, CaseRun>;
  /** `/stats/prometheus` after every case ran. */
  prometheus: string;
  /** `host:port` of the listener of each case (destination.address). */
  listeners: Record<string, string>;
  /** Source address (`127.0.0.1:port`) of each request, per case. */
  sources: Map<string, string[]>;
  /** The upstream's `host:port` (upstream.address of requests routed to it). */
  upstream: string;
}

/** Lines every script starts its phases with: what Envoy gave the filter, replayed to the host. */
const WITNESSES = [
  'resp_headers get_pairs 2',
  'resp_body get_buffer 1 0 1048576',
  'resp_trailers get_pairs 3',
  'http_response get_pairs 6',
  'http_response get_buffer 4 0 1048576',
  'http_response get_pairs 7',
];

export function fullScript(c: AgreementCase): string[] {
  return [...WITNESSES, ...c.script];
}

function vmId(c: AgreementCase): string {
  return `vm-${c.name}`;
}

/**
 * The upstream of the `to-upstream` route and of HTTP calls: `/up/call` answers 200 `pong`
 * with `x-up: 1`, `/up/trailers` 200 `ok` with response trailers, the rest echoes.
 */
export async function startAgreementUpstream(): Promise<Upstream> {
  const up = await startUpstream({ name: 'agreement' });
  up.route('/up/call', status(200, 'pong', { 'x-up': '1' }));
  up.route('/up/trailers', () => ({ kind: 'respond', status: 200, body: 'ok', headers: { 'content-type': 'text/plain' }, trailers: { 'x-trailer': 't', 'grpc-status': '0' } }));
  return up;
}

// --- Envoy ---------------------------------------------------------------------------

/** The bootstrap: one listener per case, probe filter, `direct` and `to-upstream` routes. */
export function agreementBootstrap(cases: AgreementCase[], upstream: string, wasm = PROBE_WASM): Record<string, unknown> {
  // h2c upstream, so that response trailers reach the filter.
  const clusters = [staticCluster(UPSTREAM_CLUSTER, { endpoints: [upstream], http2: true }), staticCluster(EMPTY_CLUSTER, { endpoints: [], http2: true })];
  return {
    node: NODE,
    // Histograms show in /stats/prometheus after a flush (default every 5 s).
    stats_flush_interval: '0.2s',
    admin: loopbackAdmin(),
    static_resources: {
      listeners: cases.map((c) =>
        httpListener({
          name: c.name,
          hcm: { http_protocol_options: { enable_trailers: true } },
          virtualHosts: [
            {
              name: VIRTUAL_HOST,
              domains: ['*'],
              routes: [
                { name: UPSTREAM_ROUTE, match: { prefix: '/up' }, route: { cluster: UPSTREAM_CLUSTER } },
                { name: DIRECT_ROUTE, match: { prefix: '/' }, direct_response: { status: 200, body: { inline_string: 'direct' } } },
              ],
            },
          ],
          httpFilters: [
            {
              name: 'envoy.filters.http.wasm',
              typed_config: {
                '@type': 'type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm',
                config: {
                  name: c.name,
                  root_id: ROOT_ID,
                  vm_config: { vm_id: vmId(c), runtime: 'envoy.wasm.runtime.v8', code: { local: { filename: wasm } } },
                  configuration: { '@type': 'type.googleapis.com/google.protobuf.StringValue', value: fullScript(c).join('\n') },
                },
              },
            },
          ],
        }),
      ),
      clusters,
    },
  };
}

interface WasmLine {
  thread: string;
  level: string;
  vmId: string;
  message: string;
}

/** `[time][thread][level][wasm] [file:line] wasm log <name> <root_id> <vm_id>: <message>`. */
const WASM_LOG = /^\[[^\]]*\]\[(\d+)\]\[(\w+)\]\[wasm\] \[[^\]]*\] wasm log ([^:]*): (.*)$/;

function parseWasmLine(line: string): WasmLine | null {
  const m = WASM_LOG.exec(line);
  if (!m) return null;
  const prefix = m[3].split(' ');
  return { thread: m[1], level: m[2], vmId: prefix[prefix.length - 1], message: m[4] };
}

function outcome(level: string, message: string): Outcome {
  return level === 'info' ? message : `[${level}] ${message}`;
}

/**
 * Runs every case on Envoy: its requests in order, one connection each, waiting after each
 * for the stream's `on_delete` line (access log and destruction come after the response).
 */
export async function runOnEnvoy(cases: AgreementCase[], upstream: string, availability: EnvoyAvailability): Promise<EnvoyRun> {
  await testModule('test-host-probe');
  const lines: WasmLine[] = [];
  const errors: string[] = [];
  const waiters: Array<() => void> = [];
  const envoy = await startEnvoy({
    bootstrap: agreementBootstrap(cases, upstream),
    concurrency: 1,
    logLevel: 'info',
    portOverride: 0,
    stdio: 'pipe',
    availability,
    onOutput: (line) => {
      const l = parseWasmLine(line);
      if (!l) {
        if (/\]\[(error|critical|warning)\]/.test(line)) errors.push(line);
        return;
      }
      lines.push(l);
      for (const w of waiters.splice(0)) w();
    },
  });
  try {
    const sources = new Map<string, string[]>();
    const responses = new Map<string, ClientResponse[]>();
    for (const c of cases) {
      const address = envoy.listeners[c.name];
      const got: ClientResponse[] = [];
      const from: string[] = [];
      for (const req of c.requests) {
        const deleted = () => lines.filter((l) => l.vmId === vmId(c) && /^on_delete \d+ /.test(l.message)).length;
        const before = deleted();
        const { response, source } = await send(address, req);
        got.push(response);
        from.push(source);
        await until(() => deleted() > before, waiters, `${c.name}: on_delete after ${req.method ?? 'GET'} ${req.path ?? '/'} (last line: ${lines.filter((l) => l.vmId === vmId(c)).at(-1)?.message}; Envoy: ${errors.slice(-3).join(' | ')})`);
      }
      responses.set(c.name, got);
      sources.set(c.name, from);
    }
    const prometheus = await flushedPrometheus(envoy.adminAddress);
    const worker = lines.find((l) => /^on_context_create \d+ \d+ /.test(l.message))?.thread;
    const runs = new Map<string, CaseRun>();
    for (const c of cases) {
      const outcomes = lines.filter((l) => l.vmId === vmId(c) && l.thread === worker).map((l) => outcome(l.level, l.message));
      runs.set(c.name, { outcomes, responses: responses.get(c.name)! });
    }
    return { cases: runs, prometheus, listeners: envoy.listeners, sources, upstream };
  } finally {
    await envoy.stop();
  }
}

/** `/stats/prometheus` once the plugin histograms (`agreement_*`) were flushed, or after 5 s. */
async function flushedPrometheus(admin: string): Promise<string> {
  const deadline = Date.now() + 5000;
  for (;;) {
    const text = await (await fetch(`http://${admin}/stats/prometheus`)).text();
    if (!/^agreement_\w*_count\{\} 0$/m.test(text) || Date.now() > deadline) return text;
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * The plugin metric families (`# TYPE <prefix>...` and their samples) of a
 * `/stats/prometheus` text, by family name, for comparing Envoy's with the host's.
 */
export function prometheusFamilies(text: string, prefix: string): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  let family: string | undefined;
  for (const line of text.split('\n')) {
    const type = /^# TYPE (\S+) /.exec(line);
    if (type) family = type[1].startsWith(prefix) ? type[1] : undefined;
    if (family && line.trim()) (out[family] ??= []).push(line);
  }
  return out;
}

async function until(done: () => boolean, waiters: Array<() => void>, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise<void>((resolve) => {
      waiters.push(resolve);
      setTimeout(resolve, 100);
    });
  }
}

/** Sends one request on a connection of its own; returns the response and the client's `ip:port`. */
async function send(address: string, req: ProbeRequest): Promise<{ response: ClientResponse; source: string }> {
  const [host, port] = address.split(':');
  if (req.trailers) return sendWithTrailers(host, Number(port), req);
  let source = '';
  const client = new Client(`http://${address}`, {
    connect: (_opts, callback) => {
      const socket = net.connect({ host, port: Number(port) });
      socket.once('connect', () => {
        source = `${socket.localAddress}:${socket.localPort}`;
        callback(null, socket);
      });
      socket.once('error', (e) => callback(e, null));
    },
  });
  try {
    const res = await client
      .request({
        origin: `http://${address}`,
        method: (req.method ?? 'GET') as 'GET',
        path: req.path ?? '/',
        headers: (req.headers ?? []).flat(),
        body: req.body,
      })
      .catch(() => undefined);
    if (!res) return { response: { status: 0, headers: [], body: RESET }, source };
    const headers: HeaderPair[] = [];
    const raw = res.headers;
    for (const [k, v] of Object.entries(raw)) for (const one of Array.isArray(v) ? v : [v]) headers.push([k, String(one)]);
    const body = await res.body.text().catch(() => RESET);
    return { response: { status: res.statusCode, headers, body }, source };
  } finally {
    await client.close();
  }
}

/** What a client got as the body of a stream that was reset. */
const RESET = '(reset)';

/** Chunked HTTP/1.1 with trailers (undici sends none): node:http. */
function sendWithTrailers(host: string, port: number, req: ProbeRequest): Promise<{ response: ClientResponse; source: string }> {
  return new Promise((resolve, reject) => {
    // Raw header lists get no default headers from node:http: Host is ours to send.
    const headers = [['Host', `${host}:${port}`], ...(req.headers ?? [])].flat();
    const r = http.request({ host, port, method: req.method ?? 'POST', path: req.path ?? '/', agent: false, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const headers: HeaderPair[] = [];
        for (let i = 0; i < res.rawHeaders.length; i += 2) headers.push([res.rawHeaders[i].toLowerCase(), res.rawHeaders[i + 1]]);
        resolve({ response: { status: res.statusCode ?? 0, headers, body: Buffer.concat(chunks).toString() }, source });
      });
    });
    let source = '';
    r.on('socket', (s) => s.once('connect', () => (source = `${s.localAddress}:${s.localPort}`)));
    r.on('error', reject);
    if (req.body) r.write(req.body);
    r.addTrailers(Object.fromEntries(req.trailers!));
    r.end();
  });
}

// --- what Envoy gives the filter ----------------------------------------------------------

/**
 * Request headers of an HTTP/1.1 request as Envoy's codec and connection manager hand them
 * to the first filter: names lower-cased; `Host` becomes `:authority`, then `:path`,
 * `:method`, `:scheme` (pseudo-headers ahead of the rest); hop-by-hop headers dropped; a
 * repeated header Envoy keeps inline (`authorization`, ...) joined into one value with `,`
 * (`HeaderMapImpl::insertByKey` → `appendToHeader`), other repeated headers kept apart;
 * `x-forwarded-proto` and `x-request-id` added when absent (`ConnectionManagerUtility::
 * mutateRequestHeaders`). Cases send their own `x-request-id`, which Envoy keeps.
 */
export function envoyRequestHeaders(req: ProbeRequest, authority: string): HeaderPair[] {
  const out: HeaderPair[] = [
    [':authority', authority],
    [':path', req.path ?? '/'],
    [':method', req.method ?? (req.trailers ? 'POST' : 'GET')],
    [':scheme', 'http'],
  ];
  const hopByHop = new Set(['connection', 'keep-alive', 'proxy-connection', 'upgrade', 'transfer-encoding', 'te']);
  for (const [name, value] of req.headers ?? []) {
    const k = name.toLowerCase();
    if (hopByHop.has(k) || k === 'host') continue;
    const inline = INLINE_JOINED.has(k) ? out.find(([n]) => n === k) : undefined;
    if (inline) inline[1] += `,${value}`;
    else out.push([k, value]);
  }
  if (req.body !== undefined && !req.trailers && !out.some(([k]) => k === 'content-length')) out.push(['content-length', String(Buffer.byteLength(req.body))]);
  if (!out.some(([k]) => k === 'x-forwarded-proto')) out.push(['x-forwarded-proto', 'http']);
  if (!out.some(([k]) => k === 'x-request-id')) throw new Error('cases send their own x-request-id (Envoy would make a random one)');
  return out;
}

/** Request headers the cases repeat that Envoy keeps inline (joined). */
const INLINE_JOINED = new Set(['authorization', 'user-agent']);

// --- host -------------------------------------------------------------------------------

/** `<line> -> <status> <value>` → the value (after the status). */
function resultValue(o: Outcome, line: string): string | undefined {
  const prefix = `${line} -> `;
  if (!o.startsWith(prefix)) return undefined;
  return o.slice(prefix.length);
}

/** `0 <size> k=v;k=v` → pairs. */
function parsePairs(result: string): HeaderPair[] {
  const m = /^0 \d+ ?(.*)$/.exec(result);
  if (!m || m[1] === '') return [];
  return m[1].split(';').map((kv) => {
    const i = kv.indexOf('=');
    return [kv.slice(0, i), kv.slice(i + 1)] as HeaderPair;
  });
}

/** `0 [bytes]` → bytes. */
function parseBuffer(result: string | undefined): string {
  const m = /^0 \[(.*)\]$/s.exec(result ?? '');
  return m ? m[1] : '';
}

/** Envoy's outcomes split per stream: from `on_context_create <id>` to `on_delete <id>`. */
function segments(outcomes: Outcome[]): Outcome[][] {
  const out: Outcome[][] = [];
  let current: Outcome[] | null = null;
  for (const o of outcomes) {
    if (/^on_context_create \d+ \d+ -> /.test(o)) out.push((current = []));
    current?.push(o);
    if (/^on_delete \d+ -> /.test(o)) current = null;
  }
  return out;
}

/**
 * Runs `c` on the emulator as Envoy ran it: the same script, plugin name, root_id and
 * vm_id; each request given as Envoy's codec gives it; the response, its body and
 * trailers, and HTTP call answers as Envoy gave them to the filter (its witness lines).
 */
export async function runOnHost(c: AgreementCase, envoy: EnvoyRun): Promise<CaseRun & { emulator: WasmEmulator }> {
  const envoyCase = envoy.cases.get(c.name)!;
  const emu = await WasmEmulator.create({
    wasm: PROBE_WASM,
    pluginConfiguration: fullScript(c).join('\n'),
    name: c.name,
    rootId: ROOT_ID,
    vmId: vmId(c),
    logLevel: LogLevel.Info,
    node: NODE,
    clusters: [UPSTREAM_CLUSTER],
    clustersWithoutHosts: [EMPTY_CLUSTER],
    virtualHostName: VIRTUAL_HOST,
  });
  const streams = segments(envoyCase.outcomes);
  const responses: ClientResponse[] = [];
  const listener = envoy.listeners[c.name];
  c.requests.forEach((req, i) => {
    const seen = streams[i] ?? [];
    const witness = (line: string, n = 0): string | undefined => seen.map((o) => resultValue(o, line)).filter((v) => v !== undefined)[n];
    const upstream = (req.path ?? '/').startsWith('/up');
    const id = emu.initializeHttpContext({
      downstreamRemoteAddress: envoy.sources.get(c.name)![i],
      downstreamLocalAddress: listener,
      routeName: upstream ? UPSTREAM_ROUTE : DIRECT_ROUTE,
      clusterName: upstream ? UPSTREAM_CLUSTER : undefined,
    });
    let answered = 0;
    const answerCalls = () => {
      for (const call of emu.getPendingHttpCalls()) {
        const callbacks = seen.filter((o) => o.startsWith('on_http_call_response '));
        const cb = callbacks[answered];
        if (!cb) return; // Envoy never answered it (yet)
        const headers = Number(cb.split(' ')[2]);
        if (headers === 0) emu.failHttpCall(call.id);
        else {
          emu.respondHttpCall(
            {
              headers: parsePairs(witness('http_response get_pairs 6', answered) ?? ''),
              body: parseBuffer(witness('http_response get_buffer 4 0 1048576', answered)),
              trailers: parsePairs(witness('http_response get_pairs 7', answered) ?? ''),
            },
            call.id,
          );
        }
        answered++;
      }
    };
    const replied = () => emu.getSentLocalResponse(id) !== undefined;
    // Where the codec split the body, and whether trailers came, as Envoy called the filter.
    const calls = (name: string) => seen.filter((o) => o.startsWith(`${name} `)).map((o) => o.split(' '));
    const headersEnd = calls('on_request_headers')[0]?.[2] === '1';
    const status = emu.callOnRequestHeaders(id, envoyRequestHeaders(req, listener), headersEnd);
    answerCalls();
    if (!replied() && (status === FilterHeadersStatus.Continue || emu.getContinueCalls(id).request > 0)) {
      const body = Buffer.from(req.body ?? '');
      let at = 0;
      for (const [, size, end] of calls('on_request_body')) {
        if (replied()) break;
        emu.callOnRequestBody(id, body.subarray(at, (at += Number(size))), end === '1');
        answerCalls();
      }
      if (req.trailers && calls('on_request_trailers').length > 0 && !replied()) {
        emu.callOnRequestTrailers(id, req.trailers.map(([k, v]) => [k.toLowerCase(), v]));
        answerCalls();
      }
      if (!replied() && upstream) emu.getStreamInfo(id).upstreamAddress = envoy.upstream;
      if (!replied()) {
        // The response as Envoy gave it to the filter.
        const respHeaders = witness('resp_headers get_pairs 2');
        if (respHeaders !== undefined) {
          const headersLine = seen.find((o) => o.startsWith('on_response_headers '))!;
          const end = headersLine.split(' ')[2] === '1';
          const info = emu.getStreamInfo(id);
          if (!upstream) info.responseCodeDetails = 'direct_response';
          else info.responseCodeDetails = 'via_upstream';
          emu.callOnResponseHeaders(id, parsePairs(respHeaders), end);
          const bodies = seen.filter((o) => o.startsWith('on_response_body '));
          const trailers = witness('resp_trailers get_pairs 3');
          bodies.forEach((b, n) => {
            emu.callOnResponseBody(id, parseBuffer(witness('resp_body get_buffer 1 0 1048576', n)), b.split(' ')[2] === '1');
          });
          if (trailers !== undefined) emu.callOnResponseTrailers(id, parsePairs(trailers));
        }
      }
    }
    const headers = emu.getCurrentResponseHeaders(id);
    const body = emu.isStreamReset(id) ? RESET : emu.getCurrentResponseBody(id).toString();
    responses.push({ status: Number(headers.find(([k]) => k === ':status')?.[1] ?? 0), headers, body });
    emu.completeHttpContext(id);
  });
  const outcomes = emu.getLogEntries().filter((e) => !e.source.host).map((e) => outcome(LOG_LEVEL_NAMES[e.level], e.message));
  return { outcomes, responses, emulator: emu };
}

// --- comparing ------------------------------------------------------------------------------

/** A line whose outcomes differ: `envoy` / `host` are the results (`(absent)` when it did not run). */
export interface Difference {
  case: string;
  /** Script line (or callback line such as `on_http_call_response`), with `#n` for its n-th run when it ran more than once. */
  line: string;
  envoy: string;
  host: string;
}

const ABSENT = '(absent)';

/** `<line> -> <result>` → [line, result]; callback lines keep their arguments in the line. */
function split(o: Outcome): [string, string] {
  const i = o.lastIndexOf(' -> ');
  return i < 0 ? [o, ''] : [o.slice(0, i), o.slice(i + 4)];
}

/**
 * Normalizes what cannot agree: cas values are renamed in order of appearance per side
 * (`cas=c1`, `c2`...; the counter is process wide in Envoy), `statusOnly` lines keep only
 * their status, values over 256 bytes (logged as their size) are `(over 256 bytes)`, an
 * HTTP date is `(now)`.
 */
function normalize(c: AgreementCase, outcomes: Outcome[]): Array<[string, string]> {
  const cas = new Map<string, string>();
  return outcomes.map((o) => {
    let [line, result] = split(o);
    if (c.statusOnly?.includes(line)) result = result.split(' ')[0];
    // The probe gives the size of values over 256 bytes (xds.node), which varies by build.
    result = result.replace(/^0 \d+ bytes$/, '0 (over 256 bytes)');
    result = result.replace(/date=\w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d GMT/g, 'date=(now)');
    result = result.replace(/cas=(\d+)/g, (_, n: string) => {
      if (!cas.has(n)) cas.set(n, `c${cas.size + 1}`);
      return `cas=${cas.get(n)}`;
    });
    return [line, result];
  });
}

/** Keys each run of a line by its occurrence (`line`, `line#2`...). */
function keyed(pairs: Array<[string, string]>): Map<string, string> {
  const count = new Map<string, number>();
  const out = new Map<string, string>();
  for (const [line, result] of pairs) {
    const n = (count.get(line) ?? 0) + 1;
    count.set(line, n);
    out.set(n === 1 ? line : `${line}#${n}`, result);
  }
  return out;
}

/**
 * What the client got, as outcomes (`client 1 status -> 403`...), headers sorted by name,
 * without those of the connection manager and codec (`date`, `server`, `connection`, and
 * the framing: `content-length`, `transfer-encoding`); the filter saw those it could.
 */
function clientOutcomes(responses: ClientResponse[]): Outcome[] {
  const hidden = new Set([':status', 'date', 'server', 'connection', 'content-length', 'transfer-encoding']);
  return responses.flatMap((r, i) => [
    `client ${i + 1} status -> ${r.status}`,
    `client ${i + 1} headers -> ${r.headers.filter(([k]) => !hidden.has(k)).map(([k, v]) => `${k}=${v}`).sort().join(';')}`,
    `client ${i + 1} body -> ${r.body}`,
  ]);
}

/** The lines whose outcomes differ between Envoy and the host, in Envoy's order. */
export function differences(c: AgreementCase, envoyRun: CaseRun, hostRun: CaseRun): Difference[] {
  const envoy = [...envoyRun.outcomes, ...(c.compareClient ? clientOutcomes(envoyRun.responses) : [])];
  const host = [...hostRun.outcomes, ...(c.compareClient ? clientOutcomes(hostRun.responses) : [])];
  const e = keyed(normalize(c, envoy));
  const h = keyed(normalize(c, host));
  const out: Difference[] = [];
  for (const [line, result] of e) if (h.get(line) !== result) out.push({ case: c.name, line, envoy: result, host: h.get(line) ?? ABSENT });
  for (const [line, result] of h) if (!e.has(line)) out.push({ case: c.name, line, envoy: ABSENT, host: result });
  if (out.length === 0) {
    const eo = [...e.keys()];
    const ho = [...h.keys()];
    const at = eo.findIndex((k, i) => ho[i] !== k);
    if (at >= 0) out.push({ case: c.name, line: `(order at ${at})`, envoy: eo[at], host: ho[at] });
  }
  return out;
}
