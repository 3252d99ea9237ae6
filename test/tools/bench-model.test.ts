// The bench's cost model (harness/bench/model.ts) and what it prices with: which hostcalls
// returned a value, counted on the host (harness/bench/hostcalls.ts `values_by_kind`).
import { describe, expect, it } from 'vitest';
import { countConfiguration, hostConfigurations, type RequestCount } from '../../harness/bench/hostcalls.ts';
import { modeled, unitCosts } from '../../harness/bench/model.ts';
import { COST_CALLS } from '../../harness/bench/envoy/configs.ts';
import { testModule } from '../../harness/host/testing.ts';

describe('hostcalls: values returned', () => {
  it('counts a call as returning a value only when the host hands one back', async () => {
    await testModule('test-cost');
    await testModule('rate-limit');
    await testModule('jwt-auth');
    const { configs, jwks } = await hostConfigurations(3);
    const byName = (n: string) => configs.find((c) => c.name === n)!;
    const [found] = await countConfiguration(byName('cost-header'), jwks);
    expect(found.by_kind.proxy_get_header_map_value).toBe(COST_CALLS);
    expect(found.values_by_kind.proxy_get_header_map_value).toBe(COST_CALLS);
    const [absent] = await countConfiguration(byName('cost-header-missing'), jwks);
    expect(absent.by_kind.proxy_get_header_map_value).toBe(COST_CALLS);
    expect(absent.values_by_kind.proxy_get_header_map_value ?? 0).toBe(0);
    // rate-limit per address: the client address and its bucket page, nothing else.
    const [limiter] = await countConfiguration(byName('rl-addr-open'), jwks);
    expect(limiter.values_by_kind).toEqual({ proxy_get_property: 1, proxy_get_shared_data: 1 });
    expect(limiter.request_header_writes).toBe(0);
    // jwt-auth with a cached token: removes the token, writes the user's header.
    const [jwt] = await countConfiguration(byName('jwt-cached-hs256'), jwks);
    expect(jwt.request_header_writes).toBe(2);
  }, 120_000);
});

describe('model', () => {
  // One call of each measured kind costs its index / 10 µs; a no-op filter makes 6 entries, the cost module 3.
  const kinds = ['header', 'header-missing', 'pairs', 'replace', 'shared-get', 'shared-set', 'metric', 'time', 'property', 'insert'];
  const rows: Record<string, { side: string; added_cpu_us: number }> = {
    'noop-as': { side: 'ours', added_cpu_us: 2.1 },
    'cost-none': { side: 'ours', added_cpu_us: 1.5 },
    ...Object.fromEntries(kinds.map((k, i) => [`cost-${k}`, { side: 'ours', added_cpu_us: (COST_CALLS * (i + 1)) / 10 }])),
  };

  it('derives a VM entry and a filter from the no-op and the cost module, a call from its configuration', () => {
    const u = unitCosts(rows, { noop: 6, costNone: 3 });
    expect(u.perEntry).toBeCloseTo(0.2);
    expect(u.perFilter).toBeCloseTo(0.9);
    expect(u.calls.header).toBeCloseTo(0.1);
    expect(u.calls.property).toBeCloseTo(0.9);
  });

  it('prices a call by whether it returned a value, and lists the calls it cannot price', () => {
    const u = unitCosts(rows, { noop: 6, costNone: 3 });
    const count: RequestCount = {
      vm_entries: 4, hostcalls: 5, bytes_to_host: 0, bytes_to_module: 0, shared_reads: 1, shared_cas_writes: 0, shared_plain_writes: 0, request_header_writes: 0,
      by_kind: { proxy_get_header_map_value: 2, proxy_get_shared_data: 1, proxy_send_local_response: 1, proxy_increment_metric: 1 },
      values_by_kind: { proxy_get_header_map_value: 1, proxy_get_shared_data: 1 },
    };
    const m = modeled(count, [count, { ...count, vm_entries: 0 }], u);
    // header found 0.1 + absent 0.2 + shared-get 0.5 + metric 0.7
    expect(m.calls_us).toBeCloseTo(1.5);
    expect(m.us).toBeCloseTo(2 * 0.9 + 4 * 0.2 + 1.5);
    // A write is priced as an insert (index 9: 1.0).
    expect(modeled({ ...count, by_kind: { proxy_replace_header_map_value: 2 }, values_by_kind: {} }, [count], u).calls_us).toBeCloseTo(2);
    expect(m.unpriced).toEqual(['send_local_response 1']);
  });

  it('adds a route match for each filter that wrote a request header, when the run measured one', () => {
    // An insert 0.3 and a match 0.5: 20 inserts 6.5, one 0.8.
    const oneWrite = { ...rows, 'cost-insert': { side: 'ours', added_cpu_us: COST_CALLS * 0.3 + 0.5 }, 'cost-request-write': { side: 'ours', added_cpu_us: 0.8 } };
    const u = unitCosts(oneWrite, { noop: 6, costNone: 3 });
    expect(u.calls.insert).toBeCloseTo(0.3);
    expect(u.routeMatch).toBeCloseTo(0.5);
    const count: RequestCount = {
      vm_entries: 0, hostcalls: 1, bytes_to_host: 0, bytes_to_module: 0, shared_reads: 0, shared_cas_writes: 0, shared_plain_writes: 0,
      request_header_writes: 1, by_kind: { proxy_replace_header_map_value: 1 }, values_by_kind: {},
    };
    const quiet = { ...count, request_header_writes: 0 };
    expect(modeled(count, [count, quiet, count], u).us - modeled(count, [quiet, quiet, quiet], u).us).toBeCloseTo(2 * 0.5);
    expect(unitCosts(rows, { noop: 6, costNone: 3 }).routeMatch).toBe(0);
  });

  it('names the configuration a partial Envoy run lacks', () => {
    const { 'cost-property': _, ...partial } = rows;
    expect(() => unitCosts(partial, { noop: 6, costNone: 3 })).toThrow(/cost-property/);
  });
});
