// rate-limit's `global` part in the configuration, on the project host: what is accepted,
// and each mistake refused by proxy_on_configure with one error line naming its JSON path.
import { readFile } from 'node:fs/promises';
import { beforeAll, describe, expect, it } from 'vitest';
import { LogLevel } from '../../../harness/host/abi.ts';
import { createWasmPlugin, WasmPluginError } from '../../../harness/host/plugin.ts';
import { testModule } from '../../../harness/host/testing.ts';
import { bigSharedState } from './harness.ts';

let code: Uint8Array;
beforeAll(async () => {
  code = await readFile(await testModule('rate-limit'));
}, 180_000);

/** Configures the plugin with `config`; returns the error-level lines ([] when accepted). */
async function errorsOf(config: unknown): Promise<string[]> {
  const errors: string[] = [];
  try {
    const plugin = await createWasmPlugin(
      { name: 'rate-limit', rootId: 'rate-limit', vmId: `global-cfg-${Math.random()}`, code, configuration: JSON.stringify(config) },
      { shared: bigSharedState(1 << 20), log: (level, message) => void (level >= LogLevel.Error && errors.push(message)) },
    );
    plugin.close();
  } catch (e) {
    if (!(e instanceof WasmPluginError)) throw e;
  }
  return errors;
}

const LIMITS = [{ max_tokens: 10, fill_interval: '1s' }];
const rule = (global: unknown, key: unknown = [{ header: 'x-user-id' }]) => ({ rules: [{ name: 'r', key, limits: LIMITS, global }], max_keys: 1024 });

describe('the global part', () => {
  it('accepts cluster and domain alone, and every field', async () => {
    expect(await errorsOf(rule({ cluster: 'ratelimit', domain: 'mesh' }))).toEqual([]);
    expect(await errorsOf(rule({ cluster: 'outbound|8081||ratelimit.default.svc.cluster.local', domain: 'mesh', timeout: '0.1s', failure_mode_deny: true }))).toEqual([]);
    expect(await errorsOf(rule({ cluster: 'c', domain: 'd', timeout: '60s' }, [{ remote_address: {} }, { path: {} }, { generic: 'g' }, { claim: 'x-sub' }]))).toEqual([]);
  });

  it.each([
    ['no cluster', { domain: 'mesh' }, 'rate-limit: rules[0].global.cluster: missing required field'],
    ['an empty cluster', { cluster: '', domain: 'mesh' }, 'rate-limit: rules[0].global.cluster: expected a non-empty string'],
    ['no domain', { cluster: 'c' }, 'rate-limit: rules[0].global.domain: missing required field'],
    ['an empty domain', { cluster: 'c', domain: '' }, 'rate-limit: rules[0].global.domain: expected a non-empty string'],
    ['a domain of another type', { cluster: 'c', domain: 5 }, 'rate-limit: rules[0].global.domain: expected a non-empty string'],
    ['a timeout of 0', { cluster: 'c', domain: 'd', timeout: '0s' }, 'rate-limit: rules[0].global.timeout: expected a duration between 0.001s and 60s'],
    ['a timeout past 60 s', { cluster: 'c', domain: 'd', timeout: '61s' }, 'rate-limit: rules[0].global.timeout: expected a duration between 0.001s and 60s'],
    ['a timeout that is not a duration', { cluster: 'c', domain: 'd', timeout: 20 }, 'rate-limit: rules[0].global.timeout: expected a duration like "60s"'],
    ['failure_mode_deny not a boolean', { cluster: 'c', domain: 'd', failure_mode_deny: 'yes' }, 'rate-limit: rules[0].global.failure_mode_deny: expected true or false'],
    ['an unknown field (Envoy\'s name for the cluster)', { grpc_service: {}, cluster: 'c', domain: 'd' }, 'rate-limit: rules[0].global.grpc_service: unknown field'],
    ['not an object', 'ratelimit', 'rate-limit: rules[0].global: expected an object'],
  ])('refuses %s', async (_name, global, message) => {
    const errors = await errorsOf(rule(global));
    expect(errors).toHaveLength(1);
    expect(errors[0]).toBe(message);
  });

  it('refuses a global part on a rule without key parts: they are the descriptor\'s entries', async () => {
    expect(await errorsOf(rule({ cluster: 'c', domain: 'd' }, []))).toEqual([
      'rate-limit: rules[0].key: expected at least one key part with "global" (the parts are the rate limit descriptor\'s entries)',
    ]);
    expect(await errorsOf({ rules: [{ name: 'r', limits: LIMITS, global: { cluster: 'c', domain: 'd' } }], max_keys: 1024 })).toHaveLength(1);
  });
});
