/**
 * circuit-breaker tracks the route Envoy finally uses (build/circuit-breaker.wasm on the
 * emulator). On Envoy 1.40 a filter reads `xds.cluster_name` as the connection manager
 * resolved it before the filters ran; the router resolves it again after any request
 * header change (test/integration/circuit-breaker.test.ts shows it on Envoy). Here the
 * router's choice is the stream's `clusterName`, changed between the request and the
 * response, as Envoy's stream info changes. Also what the request path costs in hostcalls.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { counter, exchange, filterEmulator, hostcallLog, request, testModule } from '../../../harness/host/testing.ts';
import { sharedState } from './harness.ts';

let wasm = '';
beforeAll(async () => {
  wasm = await testModule('circuit-breaker');
}, 180_000);

const FAILOVER = { fallback_filter_state: { key: 'wasm.circuit_breaker.fallback', value: 'quotes' } };
const QUOTES = { clusterName: 'quotes' };

describe('the outcome counts against the service of the final route', () => {
  it("an admitted request the router sent elsewhere: the admitted circuit's slot comes back uncounted, the final cluster's service counts it", async () => {
    const emu = await filterEmulator(wasm, 'circuit-breaker', {
      services: [
        { name: 'quotes', cluster: 'quotes', failure_threshold: 1, max_concurrent_requests: 1 },
        { name: 'other', cluster: 'other', failure_threshold: 2 },
      ],
    });
    for (let i = 0; i < 2; i++) {
      const ex = request(emu, { path: '/q', info: QUOTES });
      expect(ex.reply).toBeUndefined(); // the bulkhead slot of the one before came back
      emu.getStreamInfo(ex.id).clusterName = 'other';
      ex.respond(503);
    }
    expect(sharedState(emu, 'quotes')).toBe(0); // failure_threshold 1: one counted failure would have opened it
    expect(sharedState(emu, 'other')).toBe(1);
    expect(counter(emu, 'circuit_breaker_transitions_total', { service: 'other', state: 'open' })).toBe(1);
  });

  it('a request no service held at admission counts against the service of its final cluster', async () => {
    const emu = await filterEmulator(wasm, 'circuit-breaker', { services: [{ name: 'quotes', cluster: 'quotes', failure_threshold: 2 }] });
    for (let i = 0; i < 2; i++) {
      const ex = request(emu, { path: '/q', info: { clusterName: 'dr' } });
      emu.getStreamInfo(ex.id).clusterName = 'quotes';
      ex.respond(503);
    }
    expect(sharedState(emu, 'quotes')).toBe(1);
  });

  it("a fail-over request counts against its fail-over cluster's service, never against the open primary", async () => {
    const emu = await filterEmulator(wasm, 'circuit-breaker', {
      services: [
        { name: 'quotes', cluster: 'quotes', failure_threshold: 1, open_action: FAILOVER },
        { name: 'quotes-dr', cluster: 'quotes-dr', failure_threshold: 2 },
      ],
    });
    exchange(emu, { path: '/q', info: QUOTES }, 503);
    expect(sharedState(emu, 'quotes')).toBe(1);
    for (let i = 0; i < 2; i++) {
      const ex = request(emu, { path: '/q', info: QUOTES });
      expect(ex.reply).toBeUndefined();
      emu.getStreamInfo(ex.id).clusterName = 'quotes-dr';
      ex.respond(503);
    }
    expect(sharedState(emu, 'quotes-dr')).toBe(1);
    expect(counter(emu, 'circuit_breaker_requests_total', { service: 'quotes', outcome: 'fallback' })).toBe(2);
    expect(counter(emu, 'circuit_breaker_transitions_total', { service: 'quotes', state: 'half_open' })).toBe(0);
  });

  it('a service chosen by match alone never counts a fail-over request (it cannot tell the fail-over upstream from its own)', async () => {
    const emu = await filterEmulator(wasm, 'circuit-breaker', {
      services: [
        { name: 'quotes', cluster: 'quotes', failure_threshold: 1, open_action: FAILOVER },
        { name: 'everything', match: { prefix: '/' }, failure_threshold: 1 },
      ],
    });
    exchange(emu, { path: '/q', info: QUOTES }, 503);
    const ex = request(emu, { path: '/q', info: QUOTES });
    emu.getStreamInfo(ex.id).clusterName = 'dr';
    ex.respond(503);
    expect(sharedState(emu, 'everything')).toBe(0);
    // while a request of its own that the router sent to dr is its to count
    const own = request(emu, { path: '/e', info: { clusterName: 'echo' } });
    emu.getStreamInfo(own.id).clusterName = 'dr';
    own.respond(503);
    expect(sharedState(emu, 'everything')).toBe(1);
  });

  it('a HALF_OPEN probe the router sent elsewhere frees its probe slot uncounted', async () => {
    const emu = await filterEmulator(wasm, 'circuit-breaker', { services: [{ name: 'quotes', cluster: 'quotes', failure_threshold: 1, open_duration: '1s', half_open_requests: 1 }] });
    exchange(emu, { path: '/q', info: QUOTES }, 503);
    emu.advanceClock(1000);
    const probe = request(emu, { path: '/q', info: QUOTES });
    expect(probe.reply).toBeUndefined();
    emu.getStreamInfo(probe.id).clusterName = 'elsewhere';
    probe.respond(503);
    expect(sharedState(emu, 'quotes')).toBe(2); // still HALF_OPEN: the failure was not its probe's
    expect(exchange(emu, { path: '/q', info: QUOTES }, 200).reply).toBeUndefined(); // the slot came back
  });
});

describe('what the request path costs', () => {
  it('reads xds.cluster_name once at admission and once on the response; a configuration without cluster reads no property', async () => {
    const log = hostcallLog();
    const emu = await filterEmulator(wasm, 'circuit-breaker', {
      services: [
        { name: 'a', cluster: 'a', failure_threshold: 5 },
        { name: 'b', cluster: 'b', failure_threshold: 5 },
        { name: 'quotes', cluster: 'quotes', failure_threshold: 5 },
      ],
    }, { onHostcall: log.onHostcall });
    log.clear();
    const ex = request(emu, { path: '/q', info: QUOTES });
    expect(log.calls.filter((c) => c.name === 'proxy_get_property')).toEqual([{ name: 'proxy_get_property', path: 'xds.cluster_name' }]);
    log.clear();
    ex.respond(200);
    expect(log.calls.filter((c) => c.name === 'proxy_get_property')).toEqual([{ name: 'proxy_get_property', path: 'xds.cluster_name' }]);

    const byMatch = hostcallLog();
    const other = await filterEmulator(wasm, 'circuit-breaker', { services: [{ name: 'quotes', match: { prefix: '/q' }, failure_threshold: 5 }] }, { onHostcall: byMatch.onHostcall });
    byMatch.clear();
    exchange(other, { path: '/q' }, 503);
    exchange(other, { path: '/elsewhere' }, 503);
    expect(byMatch.count('proxy_get_property')).toBe(0);
  });

  it('a CLOSED circuit with no state change writes no shared data; a state change writes once', async () => {
    const log = hostcallLog();
    const emu = await filterEmulator(wasm, 'circuit-breaker', { services: [{ name: 'quotes', cluster: 'quotes', failure_threshold: 3 }] }, { onHostcall: log.onHostcall });
    log.clear();
    const ok = request(emu, { path: '/q', info: QUOTES });
    expect(log.count('proxy_set_shared_data')).toBe(0);
    ok.respond(200);
    expect(log.count('proxy_set_shared_data')).toBe(0);
    expect(log.count('proxy_get_shared_data')).toBe(2); // admission, completion
    const failed = request(emu, { path: '/q', info: QUOTES });
    expect(log.count('proxy_set_shared_data')).toBe(0); // admission in CLOSED changes nothing
    failed.respond(503);
    expect(log.count('proxy_set_shared_data')).toBe(1); // one consecutive failure
  });
});
