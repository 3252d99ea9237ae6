/**
 * The rate limit service of the bench's `global` group (configs.ts): Redis and
 * envoyproxy/ratelimit (harness/ratelimit, installed when missing), both pinned to the load
 * generator's core so that Envoy's core stays Envoy's, with a configuration under which
 * the bench's clients (`x-client-id`) are never over their limit: every call is a full
 * decision (a Redis INCRBY and EXPIRE per call) answered OK.
 */
import { ensureRateLimitTools, startRateLimitService, startRedis, stopAll } from '../../ratelimit/index.ts';
import { GLOBAL_DOMAIN } from './configs.ts';
import { LOAD_CPU } from './load.ts';

export interface BenchRateLimit {
  /** `host:port` of the service's gRPC listener. */
  grpcAddress: string;
  stop(): Promise<void>;
}

export async function startBenchRateLimit(log: (line: string) => void): Promise<BenchRateLimit> {
  const tools = ensureRateLimitTools({ log });
  if (!tools.ok) throw new Error(`bench envoy: the global group needs Redis and envoyproxy/ratelimit: ${tools.reason}`);
  const prefix = ['taskset', '-c', String(LOAD_CPU)];
  const redis = await startRedis({ tools, prefix });
  try {
    const service = await startRateLimitService({
      tools, redis, prefix,
      config: { domain: GLOBAL_DOMAIN, descriptors: [{ key: 'x-client-id', rate_limit: { unit: 'second', requests_per_unit: 1_000_000_000 } }] },
    });
    return {
      grpcAddress: service.grpcAddress,
      stop: () => stopAll(service, redis),
    };
  } catch (e) {
    await redis.stop();
    throw e;
  }
}
