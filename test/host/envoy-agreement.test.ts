/**
 * The host is held to Envoy: the probe module (test/wasm/host-probe) runs the same scripts
 * of raw hostcalls on real Envoy 1.40 and on the host's emulator, and what each hostcall
 * returned must agree line by line (agreement.ts says how both sides are run, and
 * agreement-cases.ts what they run). Where they differ on purpose — the emulator is not
 * told something the filter saw on Envoy — the difference is listed below with the Envoy
 * source that decides it; a listed difference that goes away fails the test as much as a
 * new one.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { envoyAvailable, envoySuiteTitle } from '../../harness/envoy/runner.ts';
import type { Upstream } from '../../harness/upstream/index.ts';
import { type Difference, type EnvoyRun, differences, prometheusFamilies, runOnEnvoy, runOnHost, startAgreementUpstream } from './agreement.ts';
import { CASES } from './agreement-cases.ts';

interface AcceptedDifference extends Difference {
  /** The Envoy (or proxy-wasm-cpp-host) source that decides Envoy's outcome: file and function. */
  source: string;
  /** Why the host answers otherwise. */
  reason: string;
}

/** The connection manager adds `date` and `server` after the filters; the emulator's response has neither. */
const DATE_SERVER = {
  source: 'envoy source/common/http/conn_manager_impl.cc ActiveStream::encodeHeaders (date, server); source/extensions/filters/common/expr/context.cc ResponseWrapper (total_size)',
  reason: 'the emulator is given the response the filter saw; the headers Envoy adds after the filters are not in it',
};

/** Envoy's bootstrap `Node` is a whole message; the host is told its id and cluster only. */
const NODE_MESSAGE = {
  source: 'envoy source/extensions/filters/common/expr/context.cc XDSWrapper (`node`: the LocalInfo node message, with user_agent_name, user_agent_build_version, extensions...)',
  reason: 'HostServices.node is { id, cluster }: the host serializes a Node with those two fields only',
};

function accept(name: string, line: string, envoy: string, host: string, why: { source: string; reason: string }): AcceptedDifference {
  return { case: name, line, envoy, host, ...why };
}

/** Every difference between Envoy and the host that is accepted, case by case, in Envoy's order. */
export const ACCEPTED: AcceptedDifference[] = [
  accept('headers', 'log get_pairs 2', '0 148 :status=404;x-resp=1;x-resp=2;cache-control=a,b;date=(now);server=envoy', '0 84 :status=404;x-resp=1;x-resp=2;cache-control=a,b', DATE_SERVER),
  accept('properties', 'req_headers property xds/node', '0 (over 256 bytes)', '0 0a0e61677265656d656e742d6e6f6465121161677265656d656e742d636c7573746572', NODE_MESSAGE),
  accept('properties', 'log property response/total_size', '0 6100000000000000', '0 3500000000000000', DATE_SERVER),
];

const envoy = envoyAvailable();

const strip = ({ case: name, line, envoy: e, host: h }: Difference): Difference => ({ case: name, line, envoy: e, host: h });

/** Prometheus lines by what they name (`# TYPE x`, `x_bucket{le="1"}`) → the rest (type, value). */
function samples(families: Record<string, string[]>): Map<string, string> {
  const out = new Map<string, string>();
  for (const lines of Object.values(families)) {
    for (const line of lines) {
      const cut = line.lastIndexOf(' ');
      out.set(line.slice(0, cut), line.slice(cut + 1));
    }
  }
  return out;
}

describe.skipIf(!envoy.ok)(envoySuiteTitle('the host agrees with Envoy, hostcall by hostcall (probe module)', envoy), () => {
  let upstream: Upstream;
  let run: EnvoyRun;

  beforeAll(async () => {
    upstream = await startAgreementUpstream();
    run = await runOnEnvoy(CASES, upstream.address, envoy);
  });

  afterAll(async () => {
    await upstream?.close();
  });

  for (const c of CASES) {
    it(`${c.name}: every line agrees, but for the listed differences`, async () => {
      const onEnvoy = run.cases.get(c.name)!;
      expect(onEnvoy.outcomes.length, 'Envoy ran the script').toBeGreaterThan(c.requests.length * 4);
      const host = await runOnHost(c, run);
      host.emulator.close();
      expect(differences(c, onEnvoy, host)).toEqual(ACCEPTED.filter((d) => d.case === c.name).map(strip));
    });
  }

  it('metrics: the same names, types and values in /stats/prometheus, but for the listed differences', async () => {
    const metrics = CASES.find((c) => c.name === 'metrics')!;
    const host = await runOnHost(metrics, run);
    const onEnvoy = samples(prometheusFamilies(run.prometheus, 'agreement_'));
    const onHost = samples(prometheusFamilies(host.emulator.renderPrometheus(), 'agreement_'));
    host.emulator.close();
    expect([...onEnvoy.keys()].filter((k) => k.startsWith('# TYPE')).sort()).toEqual([
      '# TYPE agreement_level',
      '# TYPE agreement_odd_name',
      '# TYPE agreement_requests',
      '# TYPE agreement_sizes',
    ]);
    const found: Difference[] = [];
    for (const key of new Set([...onEnvoy.keys(), ...onHost.keys()])) {
      const e = onEnvoy.get(key) ?? '(absent)';
      const h = onHost.get(key) ?? '(absent)';
      if (e !== h) found.push({ case: 'prometheus', line: key, envoy: e, host: h });
    }
    expect(found).toEqual(ACCEPTED.filter((d) => d.case === 'prometheus').map(strip));
  });
});
