// rate-limit configuration on the project host: a rejected configuration fails
// proxy_on_configure with exactly one error line naming the JSON path (filters.md
// "Common rules"); the bucket table is created once and bounded. The parser's every
// rule is in filters/rate-limit/__tests__/config.spec.ts; here, what the host sees.
import { readFile } from 'node:fs/promises';
import { beforeAll, describe, expect, it } from 'vitest';
import { LogLevel } from '../../../harness/host/abi.ts';
import { createWasmPlugin, WasmPluginError } from '../../../harness/host/plugin.ts';
import { SharedState } from '../../../harness/host/shared/shared-state.ts';
import { counter, exchange, filterWorkers, testModule } from '../../../harness/host/testing.ts';
import { bigSharedState, rateLimitEmulator, TIERS } from './harness.ts';

let code: Uint8Array;
beforeAll(async () => {
  code = await readFile(await testModule('rate-limit'));
}, 180_000);

/** Configures the plugin; returns the error-level log lines and the rejection message ('' when accepted). */
async function configure(configuration: string, shared: SharedState = bigSharedState(1 << 20)): Promise<{ errors: string[]; rejection: string }> {
  const errors: string[] = [];
  try {
    const plugin = await createWasmPlugin(
      { name: 'rate-limit', rootId: 'rate-limit', vmId: `cfg-${Math.random()}`, code, configuration },
      { shared, log: (level, message) => void (level >= LogLevel.Error && errors.push(message)) },
    );
    plugin.close();
    return { errors, rejection: '' };
  } catch (e) {
    if (!(e instanceof WasmPluginError)) throw e;
    return { errors, rejection: e.message };
  }
}

const LIMIT = { max_tokens: 1, fill_interval: '1s' };

describe('rate-limit configuration', () => {
  const cases: [string, string][] = [
    ['', 'rate-limit: configuration is empty, expected a JSON object'],
    ['{"rules":[{"name":"r","limits":[{"max_tokens":1,"fill_interval":"1s"}]}],', 'rate-limit: invalid JSON: unexpected end of input, expected a member name (line 1, column 74)'],
    [JSON.stringify({ rules: [{ name: 'r', limits: [LIMIT] }], enforced: false }), 'rate-limit: enforced: unknown field'],
    [JSON.stringify({ rules: [{ name: 'r', limits: [LIMIT] }, { name: 'b', limits: [{ max_tokens: 1, fill_interval: '1m' }] }] }), 'rate-limit: rules[1].limits[0].fill_interval: expected a duration like "60s"'],
    [JSON.stringify({ rules: [{ name: 'r', key: [{ header: 'x-a', generic: 'b' }], limits: [LIMIT] }] }), 'rate-limit: rules[0].key[0]: expected exactly one of "header", "remote_address", "path", "claim", "generic"'],
    [JSON.stringify({ rules: [{ name: 'r', match: { headers: [{ name: 'x', present: false }] }, limits: [LIMIT] }] }), 'rate-limit: rules[0].match.headers[0].present: expected true (use "absent": true to match a missing header)'],
    [JSON.stringify({ rules: [{ name: 'r', limits: [{ max_tokens: -5, fill_interval: '1s' }] }] }), 'rate-limit: rules[0].limits[0].max_tokens: expected an integer between 1 and 4294967295'],
    [JSON.stringify({ rules: [{ name: 'r', limits: [LIMIT] }], max_keys: 2e6 }), 'rate-limit: max_keys: expected an integer between 1 and 1000000'],
  ];
  it.each(cases)('rejects %j with one error line', async (configuration, line) => {
    const { errors, rejection } = await configure(configuration);
    expect(rejection).toBe(line);
    expect(errors).toEqual([line]);
  });

  it('accepts the seeds\' tiers without logging at error level', async () => {
    expect(await configure(JSON.stringify(TIERS))).toEqual({ errors: [], rejection: '' });
  });

  it('refuses to start when shared data has no room for the bucket table', async () => {
    const tiny = SharedState.create({ data: { bytes: 64 << 10, buckets: 64 }, queues: { bytes: 1 << 16, maxQueues: 4 }, metrics: { maxMetrics: 64, nameBytes: 4096 } });
    const { errors, rejection } = await configure(JSON.stringify({ rules: [{ name: 'r', limits: [LIMIT] }], max_keys: 100000 }), tiny);
    expect(rejection).toBe('rate-limit: cannot create the bucket table in shared data (status 10)');
    expect(errors).toEqual([rejection]);
  });

  it('creates the table once: floor(max_keys / 8) pages and one overflow entry per rule, shared by every VM of the vm_id', async () => {
    const config = { ...TIERS, max_keys: 1000 };
    // Two workers' VMs, configured one after the other: the second finds the table.
    const [a, b] = await filterWorkers(2, await testModule('rate-limit'), 'rate-limit', config, { shared: bigSharedState(8 << 20) });
    const keys = a.shared.data.keys('rate-limit');
    expect(keys.filter((k) => /\/p[0-9a-f]{8}$/.test(k))).toHaveLength(125);
    expect(keys.filter((k) => /\/o[0-9a-f]{8}$/.test(k))).toHaveLength(3);
    expect(keys.every((k) => k.startsWith('rate-limit/rate_limit/'))).toBe(true);
    // The second worker's VM keeps what the first wrote.
    expect(exchange(a, { info: { downstreamRemoteAddress: '192.0.2.1:1' } }).responseHeader('x-ratelimit-remaining')).toBe('4');
    expect(b.shared.data.keys('rate-limit')).toHaveLength(128);
    expect(exchange(b, { info: { downstreamRemoteAddress: '192.0.2.1:2' } }).responseHeader('x-ratelimit-remaining')).toBe('3');
    a.close();
    b.close();
  });

  it('defines every metric at configure time, <stat_prefix>_requests_total{rule,outcome} and <stat_prefix>_overflow_requests_total{rule}', async () => {
    const emu = await rateLimitEmulator({ ...TIERS, stat_prefix: 'edge' });
    for (const rule of ['premium', 'authenticated', 'anonymous']) {
      for (const outcome of ['allowed', 'denied', 'shadow_denied', 'fail_open']) expect(counter(emu, 'edge_requests_total', { rule, outcome })).toBe(0);
      expect(counter(emu, 'edge_overflow_requests_total', { rule })).toBe(0);
    }
    emu.close();
  });
});
