/**
 * Test-only module (built by harness/host/testing.ts `testModule` as a variant, never
 * shipped): the rate-limit filter with its shared-data writes made unconditional (cas 0,
 * assembly/shared `skipCasForTests`), the control of the CAS race tests
 * (test/filters/rate-limit/workers.test.ts): the same interleaving of workers that the
 * real filter keeps exact lets this one over-admit.
 */
export * from "../index";

import { skipCasForTests } from "../../../assembly/shared";

skipCasForTests();
