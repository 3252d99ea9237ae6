/**
 * What only the circuit-breaker suites need beyond harness/host/testing.ts: the seeds'
 * credit bureau (from envoy/istio/circuit-breaker.yaml) and two readers of the circuit's state.
 */
import type { WasmEmulator } from '../../../harness/host/emulator.ts';
import { gauge, seedEntry } from '../../../harness/host/testing.ts';
import { decodeCircuit } from '../../../harness/shared-record.ts';

/** The seeds' credit bureau: open after 3 failures (500, 502, 503, 504), retry after 60 s, 3 probes, 10 s timeout. */
export const CREDIT_BUREAU = seedEntry('envoy/istio/circuit-breaker.yaml', 'circuit-breaker', 'services', 'credit-bureau');

/** The `state` of the service's circuit record (0 CLOSED, 1 OPEN, 2 HALF_OPEN), or undefined when the key holds no circuit record (of either layout). */
export function sharedState(emu: WasmEmulator, service: string, statPrefix = 'circuit_breaker'): number | undefined {
  const record = decodeCircuit(emu.getSharedData(`circuit-breaker/${statPrefix}/${service}`)?.value);
  return record ? Number(record.state) : undefined;
}

/** The states whose `circuit_breaker_state{service,state}` gauge is 1 (one, when the gauges agree), comma-joined. */
export function gaugedState(emu: WasmEmulator, service: string): string {
  return ['closed', 'open', 'half_open'].filter((state) => gauge(emu, 'circuit_breaker_state', { service, state }) === 1).join(',');
}
