/**
 * Builds the rate-limit modules the suites load, when missing or older than their
 * sources: build/rate-limit.wasm (the asconfig target) and the test-only
 * build/test/rate-limit-no-cas.wasm (filters/rate-limit/__tests__/racy-entry.ts, the page
 * write without CAS, compiled with the target's options by ../test-module.ts, which
 * writes a temporary file and renames it).
 */
import path from 'node:path';
import { newest, projectRoot } from '../../../harness/build.ts';
import { compileTestModule, mtimeOf } from '../test-module.ts';

export const RATE_LIMIT_WASM = path.join(projectRoot, 'build', 'rate-limit.wasm');
export const NO_CAS_WASM = path.join(projectRoot, 'build', 'test', 'rate-limit-no-cas.wasm');

/** What the two modules are compiled from (all of assembly/, as harness/build.ts's isStale counts it). */
const SOURCES = ['filters/rate-limit', 'assembly', 'asconfig.json'];

async function compile(entry: string, outFile: string): Promise<string> {
  const sources = Math.max(...SOURCES.map((s) => newest(path.join(projectRoot, s))));
  if (mtimeOf(outFile) >= sources) return outFile;
  return compileTestModule(entry, 'rate-limit', outFile);
}

/** build/rate-limit.wasm, rebuilt if stale. */
export function ensureRateLimit(): Promise<string> {
  return compile('filters/rate-limit/index.ts', RATE_LIMIT_WASM);
}

/** The control module whose page write skips CAS (cas 0), rebuilt if stale. */
export function ensureNoCas(): Promise<string> {
  return compile('filters/rate-limit/__tests__/racy-entry.ts', NO_CAS_WASM);
}
