/**
 * wrk (github.com/wg/wrk; Debian's package `wrk`), the soak's load generator: an
 * event-driven HTTP/1.1 client in C with LuaJIT scripting, so that the load costs little
 * CPU beside the Envoy it measures.
 */
import { spawn } from 'node:child_process';
import { aptInstall, canAptInstall, onPath } from '../process.ts';
import { RESULT_MARK } from './traffic.ts';

/** What wrk's `done()` reports (traffic.ts `wrkScript`). */
export interface WrkResult {
  requests: number;
  duration_us: number;
  bytes: number;
  errors: { connect: number; read: number; write: number; status: number; timeout: number };
  latency_us: { p50: number; p99: number; max: number };
  /** Responses by status code. */
  statuses: Record<string, number>;
}


/**
 * wrk's path: on PATH; else, when this process is root, installed with
 * `apt-get install -y wrk` (after `apt-get update` when the package lists lack it), said
 * in one line through `log`; else undefined, with `reason`.
 */
export function ensureWrk(log: (line: string) => void = () => {}): { path?: string; reason?: string } {
  const found = onPath('wrk');
  if (found) return { path: found };
  if (!canAptInstall()) return { reason: 'wrk is not on PATH (Debian: apt-get install wrk)' };
  log('wrk is not on PATH: installing it with apt-get install -y wrk');
  aptInstall('wrk');
  const installed = onPath('wrk');
  return installed ? { path: installed } : { reason: 'wrk is not on PATH and apt-get install -y wrk failed' };
}

export interface WrkRun {
  /** Resolves with wrk's figures when it exits. */
  readonly result: Promise<WrkResult>;
  /** Ends the run early (SIGINT: wrk stops its threads and reports what it did). */
  stop(): void;
}

/**
 * Runs `wrk` on `url` with `script` (a file), `threads` threads, `connections`
 * connections, for at most `seconds` seconds (wrk waits that long even when every thread
 * has stopped early: `stop()` ends it sooner).
 */
export function runWrk(opts: { wrk: string; url: string; script: string; threads: number; connections: number; seconds: number }): WrkRun {
  const child = spawn(opts.wrk, ['-t', String(opts.threads), '-c', String(opts.connections), '-d', `${Math.ceil(opts.seconds)}s`, '--timeout', '10s', '-s', opts.script, opts.url], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (c: Buffer) => (out += c.toString('utf8')));
  child.stderr!.on('data', (c: Buffer) => (out += c.toString('utf8')));
  const result = new Promise<WrkResult>((resolve, reject) => {
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      const line = out.split('\n').find((l) => l.startsWith(RESULT_MARK));
      if (line) resolve(JSON.parse(line.slice(RESULT_MARK.length)) as WrkResult);
      else reject(new Error(`wrk exited (${code ?? signal}) without a result: ${out.trim().split('\n').slice(-3).join(' | ')}`));
    });
  });
  return {
    result,
    stop: () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGINT');
    },
  };
}
