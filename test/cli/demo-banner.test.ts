/**
 * The commands `npm start` prints (harness/demo/banner.ts) do what their comments say: each
 * line of the banner is run, in order, against a fresh demo on Envoy, and checked against its
 * `# <statuses> ... \`text\`` comment. The lines are read as a user's shell would read them
 * (words, quotes, `$VAR`, `VAR=$(...)`, `for i in {1..N}; do ...; done`, pipes) and run
 * without a shell or curl: `curl`, `grpcurl`, `grep` and `echo` are played by Node (fetch,
 * @grpc/grpc-js), `node bin/mesh-filters.js token` is run for real. The README's quick
 * start holds the same commands.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { demoBanner } from '../../harness/demo/banner.ts';
import { startDemo, type RunningDemo } from '../../harness/demo/index.ts';
import { envoyAvailable, envoySuiteTitle } from '../../harness/envoy/runner.ts';

const root = path.resolve(import.meta.dirname, '../..');

/** A banner line that runs something, with what its comment expects. */
interface Step {
  line: string;
  command: string;
  /** HTTP statuses, in the order the command's requests get them. */
  statuses: number[];
  /** Texts that must appear in what the command shows. */
  texts: string[];
}

/** The runnable lines of a banner (comments and prose dropped). */
function steps(banner: string[]): Step[] {
  const out: Step[] = [];
  for (const raw of banner) {
    const line = raw.trim();
    if (!/^(curl|grpcurl|for|[A-Z_]+=\$\()/.test(line)) continue;
    const at = line.lastIndexOf('  # ');
    const command = at < 0 ? line : line.slice(0, at).trim();
    const comment = at < 0 ? '' : line.slice(at + 4);
    const statuses = (/^\d{3}(?: \d{3})*/.exec(comment)?.[0] ?? '').split(' ').filter(Boolean).map(Number);
    const texts = [...comment.matchAll(/`([^`]+)`/g)].map((m) => m[1]);
    out.push({ line, command, statuses, texts });
  }
  return out;
}

type Token = { word: string } | { op: ';' | '|' };

/** Shell words: '...' literal, "..." and bare words with $VAR expanded; `;` and `|` as operators. */
function words(text: string, vars: Record<string, string>): Token[] {
  const out: Token[] = [];
  let i = 0;
  const expand = (s: string) => s.replace(/\$([A-Za-z_]\w*)/g, (_, name: string) => {
    if (!(name in vars)) throw new Error(`unset variable $${name}`);
    return vars[name];
  });
  while (i < text.length) {
    const c = text[i];
    if (c === ' ') {
      i++;
      continue;
    }
    if (c === ';' || c === '|') {
      out.push({ op: c });
      i++;
      continue;
    }
    let word = '';
    while (i < text.length && !' ;|'.includes(text[i])) {
      if (text[i] === "'") {
        const end = text.indexOf("'", i + 1);
        word += text.slice(i + 1, end);
        i = end + 1;
      } else if (text[i] === '"') {
        const end = text.indexOf('"', i + 1);
        word += expand(text.slice(i + 1, end));
        i = end + 1;
      } else {
        const start = i;
        while (i < text.length && !` ;|'"`.includes(text[i])) i++;
        word += expand(text.slice(start, i));
      }
    }
    out.push({ word });
  }
  return out;
}

interface Ran {
  output: string;
  statuses: number[];
}

/** `curl` as the banner uses it: -i, -s, -o, -w '%{http_code} ', -X, -H, -d; one URL. */
async function curl(args: string[]): Promise<Ran> {
  let include = false;
  let discard = false;
  let format = '';
  let method: string | undefined;
  let body: string | undefined;
  let url = '';
  const headers: [string, string][] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === '-i') include = true;
    else if (a === '-s') continue;
    else if (a === '-o') discard = args[++i] === '/dev/null';
    else if (a === '-w') format = args[++i];
    else if (a === '-X') method = args[++i];
    else if (a === '-H') {
      const h = args[++i];
      headers.push([h.slice(0, h.indexOf(':')).trim(), h.slice(h.indexOf(':') + 1).trim()]);
    } else if (a === '-d') body = args[++i];
    else if (a.startsWith('-')) throw new Error(`curl option ${a} is not played by this test`);
    else url = a;
  }
  const res = await fetch(url, { method: method ?? (body === undefined ? 'GET' : 'POST'), headers, body, redirect: 'manual' });
  const text = await res.text();
  let output = '';
  if (include) output += `HTTP/1.1 ${res.status} ${res.statusText}\n${[...res.headers].map(([k, v]) => `${k}: ${v}`).join('\n')}\n\n`;
  if (!discard) output += text;
  output += format.replace(/%\{http_code\}/g, String(res.status)).replace(/\\n/g, '\n');
  return { output, statuses: [res.status] };
}

/** grpcurl's names of gRPC codes (Go's codes.Code.String()). */
const GRPC_CODE_NAMES = ['OK', 'Canceled', 'Unknown', 'InvalidArgument', 'DeadlineExceeded', 'NotFound', 'AlreadyExists', 'PermissionDenied',
  'ResourceExhausted', 'FailedPrecondition', 'Aborted', 'OutOfRange', 'Unimplemented', 'Internal', 'Unavailable', 'DataLoss', 'Unauthenticated'];

/** `grpcurl -plaintext -import-path P -proto F -d JSON [-H 'k: v'] ADDRESS package.Service/Method`, its output as grpcurl prints it. */
async function grpcurl(args: string[]): Promise<Ran> {
  let importPath = '.';
  let proto = '';
  let data = '{}';
  const md = new grpc.Metadata();
  const positional: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === '-plaintext') continue;
    else if (a === '-import-path') importPath = args[++i];
    else if (a === '-proto') proto = args[++i];
    else if (a === '-d') data = args[++i];
    else if (a === '-H') {
      const h = args[++i];
      md.set(h.slice(0, h.indexOf(':')).trim(), h.slice(h.indexOf(':') + 1).trim());
    } else if (a.startsWith('-')) throw new Error(`grpcurl option ${a} is not played by this test`);
    else positional.push(a);
  }
  const [address, full] = positional;
  const [serviceName, method] = full.split('/');
  // protojson as grpcurl prints it: lowerCamelCase names, 64-bit integers as strings, defaults left out.
  const def = protoLoader.loadSync(proto, { includeDirs: [path.resolve(root, importPath)], longs: String, defaults: false });
  let Service: any = grpc.loadPackageDefinition(def);
  for (const part of serviceName.split('.')) Service = Service[part];
  const client = new Service(address, grpc.credentials.createInsecure()) as grpc.Client & Record<string, Function>;
  try {
    const output = await new Promise<string>((resolve) =>
      client[method](JSON.parse(data), md, { deadline: Date.now() + 10_000 }, (err: grpc.ServiceError | null, res: unknown) =>
        resolve(err ? `ERROR:\n  Code: ${GRPC_CODE_NAMES[err.code]}\n  Message: ${err.details}\n` : `${JSON.stringify(res, null, 2)}\n`),
      ),
    );
    return { output, statuses: [] };
  } finally {
    client.close();
  }
}

/** One command of a pipeline (`input`: what the previous one printed). */
async function runCommand(argv: string[], input: string): Promise<Ran> {
  const [name, ...args] = argv;
  if (name === 'curl') return curl(args);
  if (name === 'grpcurl') return grpcurl(args);
  if (name === 'echo') return { output: `${args.join(' ')}\n`, statuses: [] };
  if (name === 'grep') {
    let invert = false;
    const patterns: string[] = [];
    for (const a of args) {
      if (/^-[vE]+$/.test(a)) invert ||= a.includes('v');
      else patterns.push(a);
    }
    const re = new RegExp(patterns[0]);
    return { output: input.split('\n').filter((l) => l && re.test(l) !== invert).map((l) => `${l}\n`).join(''), statuses: [] };
  }
  throw new Error(`command ${name} is not played by this test`);
}

/** Runs `a; b | c; ...`, collecting output and HTTP statuses. */
async function runList(tokens: Token[]): Promise<Ran> {
  const all: Ran = { output: '', statuses: [] };
  const lists: Token[][][] = [[[]]];
  for (const t of tokens) {
    const pipeline = lists[lists.length - 1];
    if ('op' in t && t.op === ';') lists.push([[]]);
    else if ('op' in t) pipeline.push([]);
    else pipeline[pipeline.length - 1].push(t);
  }
  for (const pipeline of lists) {
    let input = '';
    for (const cmd of pipeline) {
      const r = await runCommand(cmd.map((t) => (t as { word: string }).word), input);
      all.statuses.push(...r.statuses);
      input = r.output;
    }
    all.output += input;
  }
  return all;
}

/** Runs one banner command with the shell variables set so far. */
async function run(command: string, vars: Record<string, string>): Promise<Ran> {
  const loop = /^for i in \{1\.\.(\d+)\}; do (.*); done(; echo)?$/.exec(command);
  if (loop) {
    const all: Ran = { output: '', statuses: [] };
    for (let i = 0; i < Number(loop[1]); i++) {
      const r = await runList(words(loop[2], vars));
      all.output += r.output;
      all.statuses.push(...r.statuses);
    }
    if (loop[3]) all.output += '\n';
    return all;
  }
  return runList(words(command, vars));
}

/** `VAR=$(node bin/mesh-filters.js token ...)` → [VAR, its argv]. */
function assignment(command: string): [string, string[]] | null {
  const m = /^([A-Z_]+)=\$\((.*)\)$/.exec(command);
  if (!m) return null;
  return [m[1], words(m[2], {}).map((t) => (t as { word: string }).word)];
}

const envoy = envoyAvailable();

describe.skipIf(!envoy.ok)(envoySuiteTitle('the demo banner', envoy), () => {
  let demo: RunningDemo;
  const printed: string[] = [];

  beforeAll(async () => {
    demo = await startDemo({ cwd: root, build: false, portOverride: 0, concurrency: 2, logLevel: 'error', log: (l) => printed.push(l) });
  });
  afterAll(async () => {
    await demo?.stop();
  });

  it('shows each filter at work with the seeds numbers, in lines that each say what they answer', () => {
    const s = steps(printed);
    const commands = s.filter((x) => !assignment(x.command));
    expect(commands.length).toBeGreaterThan(10);
    for (const c of commands) expect(c.statuses.length + c.texts.length, c.line).toBeGreaterThan(0);
    const all = s.map((x) => x.line).join('\n');
    // jwt-auth, rate-limit (the anonymous tier: 5 a minute), circuit-breaker (the seeds' 5 calls to fail-test), retry, gRPC, metrics.
    expect(all).toMatch(/# 401, `www-authenticate/);
    expect(all).toMatch(/# 403/);
    expect(all).toContain('for i in {1..10}; do curl');
    expect(all).toContain('# 200 200 200 200 200 429 429 429 429 429');
    expect(all).toMatch(/for i in \{1\.\.5\}; do curl -s -X POST \S+\/api\/credit-bureau\/fail-test/);
    expect(all).toContain('`x-circuit-breaker: open`');
    expect(all).toContain('`x-envoy-attempt-count: 2`');
    expect(all).toContain('`Code: PermissionDenied`');
    expect(all).toContain('/stats/prometheus');
  });

  it('every line answers what its comment says, run in order against a fresh demo', async () => {
    const vars: Record<string, string> = {};
    const s = steps(printed);
    // The tokens first, all at once: they need nothing from the demo but its keys (made at its start).
    await Promise.all(
      s.map(async (step) => {
        const a = assignment(step.command);
        if (!a) return;
        const [name, argv] = a;
        expect(argv.slice(0, 3), step.line).toEqual(['node', 'bin/mesh-filters.js', 'token']);
        const { stdout } = await promisify(execFile)(process.execPath, argv.slice(1), { cwd: root, timeout: 60_000 });
        vars[name] = stdout.trim();
        expect(vars[name], step.line).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/);
      }),
    );
    for (const step of s) {
      if (assignment(step.command)) continue;
      const r = await run(step.command, vars);
      if (step.statuses.length) expect(r.statuses, `${step.line}\n${r.output}`).toEqual(step.statuses);
      for (const t of step.texts) expect(r.output, `${step.line}: \`${t}\``).toContain(t);
    }
  });

  it('the README quick start holds the same commands, with the default addresses', () => {
    const readme = readFileSync(path.join(root, 'README.md'), 'utf8');
    const lines = demoBanner({ file: 'envoy/mesh.yaml', envoy: 'Envoy', pid: 1, listener: '127.0.0.1:10000', admin: '127.0.0.1:9901', services: [], summary: '', workers: 2, chain: [] });
    const walkthrough = lines.slice(lines.findIndex((l) => l.startsWith('Try it')) + 1, lines.indexOf('Ctrl-C stops everything.'));
    expect(walkthrough.filter((l) => l.trim() && !readme.includes(l))).toEqual([]);
  });
});
