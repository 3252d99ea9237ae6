/**
 * Test-only module (built by harness/host/testing.ts `testModule` as a variant, never
 * shipped): jwt-auth with its shared-data writes made unconditional (cas 0,
 * assembly/shared `skipCasForTests`), the control of the lease race test
 * (test/filters/jwt-auth/workers.test.ts): where the real filter's CAS lets one of the
 * racing workers fetch, every worker that read "nobody is fetching" fetches.
 */
export * from "../index";

import { skipCasForTests } from "../../../assembly/shared";

skipCasForTests();
