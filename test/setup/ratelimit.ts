/**
 * vitest global setup: makes sure Redis and envoyproxy/ratelimit are there before any suite
 * is collected (harness/ratelimit: Debian's redis-server 7.0 with apt-get as root, the
 * service built by `go install` of the pinned version into .cache/ratelimit/; about 90 s
 * the first time, nothing after), so that suites asking `rateLimitToolsAvailable()` at
 * collection find them. Without them, the global rate limit suites report themselves
 * skipped with the reason; on CI (`CI` set) a missing tool fails the run instead.
 */
import { ensureRateLimitTools, RATELIMIT_VERSION } from '../../harness/ratelimit/index.ts';

export default function setup(): void {
  const tools = ensureRateLimitTools({ log: (line) => console.log(`mesh-filters: ${line}`) });
  if (tools.ok) {
    console.log(`mesh-filters: global rate limit suites run on ${tools.redisServer} and envoyproxy/ratelimit ${RATELIMIT_VERSION}`);
    return;
  }
  const ci = process.env.CI && process.env.CI !== 'false' && process.env.CI !== '0';
  if (ci) throw new Error(`CI: no Redis or rate limit service to run the global rate limit suites on: ${tools.reason}`);
  console.warn(`mesh-filters: global rate limit suites will be skipped: ${tools.reason}`);
}
