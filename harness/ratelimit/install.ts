/**
 * `npx tsx harness/ratelimit/install.ts`: installs what the global rate limit suites and
 * bench need, pinned (Debian's redis-server 7.0 line with apt-get, envoyproxy/ratelimit
 * built by `go install` into .cache/ratelimit/), and prints where they are; does nothing
 * when they are there. Exits 1 with the reason when it cannot. `.ci/run` calls it.
 */
import { ensureRateLimitTools, RATELIMIT_VERSION } from './index.ts';

const started = performance.now();
const tools = ensureRateLimitTools({ log: (line) => console.log(`mesh-filters: ${line}`) });
if (!tools.ok) {
  console.error(`mesh-filters: ${tools.reason}`);
  process.exit(1);
}
console.log(`mesh-filters: redis-server ${tools.redisServer}, envoyproxy/ratelimit ${RATELIMIT_VERSION} ${tools.ratelimit} (${((performance.now() - started) / 1000).toFixed(1)} s)`);
