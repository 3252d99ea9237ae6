/**
 * Kept only for test/integration/global-rate-limit.test.ts, which another change is editing:
 * suites call harness/host/testing.ts `testModule('rate-limit')`. Delete with its last user.
 */
import { testModule } from '../../../harness/host/testing.ts';

/** build/rate-limit.wasm, rebuilt if stale. */
export function ensureRateLimit(): Promise<string> {
  return testModule('rate-limit');
}
