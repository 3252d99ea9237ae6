/**
 * The host is held to Envoy: the probe module (test/wasm/host-probe) runs the same scripts
 * of raw hostcalls on real Envoy 1.40 and on the host's emulator, and what each hostcall
 * returned must agree line by line (agreement.ts says how both sides are run, and
 * agreement-cases.ts what they run). Where they differ on purpose — the emulator is not
 * told something the request does not carry, or the emulator does not yet do what Envoy's
 * filter manager does — the difference is listed below with the Envoy source that decides
 * it; a listed difference that goes away fails the test as much as a new one.
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

/** Local replies are built by the filter manager, which is the emulator's part (harness/host/emulator.ts sendLocalReply). */
const LOCAL_REPLY = {
  source: 'envoy source/common/http/utility.cc Utility::prepareLocalReply (`:status`, the plugin headers, content-length, content-type only when absent; gRPC: 200, application/grpc, grpc-status, grpc-message, no body)',
  reason: 'the emulator builds local replies its own way (emulator.ts sendLocalReply: content-length and text/plain first, no gRPC form); a change is asked of its owner',
};

/** A second local reply: Envoy's filter manager records its details, then finds the response sent. */
const LOCAL_REPLY_TWICE = {
  source: 'envoy source/common/http/filter_manager.cc FilterManager::sendLocalReply (setResponseCodeDetails on every call); source/extensions/common/wasm/context.cc Context::sendLocalResponse (each call deferred, none dropped)',
  reason: 'the emulator keeps the first reply and ignores a later one, details included (emulator.ts sendLocalReply); a change is asked of its owner',
};

/** A local reply from the response path, after the response headers entered the encoder filters. */
const LOCAL_REPLY_DIRECT = {
  source: 'envoy source/common/http/filter_manager.cc FilterManager::sendLocalReply -> sendDirectLocalReply (headers not yet encoded: straight to the codec, no encoder filter runs again)',
  reason: 'the emulator runs every local reply through the filter\'s response path (emulator.ts sendLocalReply); a change is asked of its owner',
};

/** Envoy's bootstrap `Node` is a whole message; the host is told its id and cluster only. */
const NODE_MESSAGE = {
  source: 'envoy source/extensions/filters/common/expr/context.cc XDSWrapper (`node`: the LocalInfo node message, with user_agent_name, user_agent_build_version, extensions...)',
  reason: 'HostServices.node is { id, cluster }: the host serializes a Node with those two fields only',
};

const VIRTUAL_HOST = {
  source: 'envoy source/extensions/filters/common/expr/context.cc XDSWrapper (`virtual_host_name`: the route\'s virtual host)',
  reason: 'StreamInfo (harness/host/filter.ts) carries no virtual host name, so the emulator cannot give it',
};

/** A call to a cluster without hosts ends before `proxy_http_call` returns. */
const NO_HOSTS = {
  source: 'envoy source/extensions/common/wasm/context.cc Context::httpCall (AsyncClient::send returns no request: INTERNAL_FAILURE; the deferred callback finds no call)',
  reason: 'the emulator has no cluster without hosts (a listed cluster waits for the test to answer); the host answers INTERNAL_FAILURE when an embedder completes a call during the hostcall (test/host/calls.test.ts)',
};

/** Envoy's histogram sum counts each sample at its bin's midpoint (two significant digits). */
const HISTOGRAM_SUM = {
  source: 'envoy source/common/stats/histogram_impl.cc HistogramStatisticsImpl (sample_sum_ = libcircllhist hist_approx_sum: each value at its bin\'s hist_bucket_midpoint, left + width * left / (left + right))',
  reason: 'the host\'s histograms (harness/host/shared/metrics.ts, prometheus.ts) sum the exact values; a change is asked of their owner',
};

function accept(name: string, line: string, envoy: string, host: string, why: { source: string; reason: string }): AcceptedDifference {
  return { case: name, line, envoy, host, ...why };
}

/** Every difference between Envoy and the host that is accepted, case by case, in Envoy's order. */
export const ACCEPTED: AcceptedDifference[] = [
  accept('headers', 'log get_pairs 2', '0 148 :status=404;x-resp=1;x-resp=2;cache-control=a,b;date=(now);server=envoy', '0 84 :status=404;x-resp=1;x-resp=2;cache-control=a,b', DATE_SERVER),
  accept('properties', 'req_headers property xds/node', '0 (over 256 bytes)', '0 0a0e61677265656d656e742d6e6f6465121161677265656d656e742d636c7573746572', NODE_MESSAGE),
  accept('properties', 'req_headers property xds/virtual_host_name', '0 70726f6265', '1', VIRTUAL_HOST),
  accept('properties', 'log property response/total_size', '0 6100000000000000', '0 3500000000000000', DATE_SERVER),
  accept('local-reply', 'on_response_headers 5 0', '0', '(absent)', LOCAL_REPLY),
  accept('local-reply', 'resp_headers get_pairs 2', '0 105 :status=403;x-a=1;x-b=2;content-type=text/x;content-length=9', '0 137 :status=403;content-length=9;content-type=text/plain;x-a=1;x-b=2;content-type=text/x', LOCAL_REPLY),
  accept('local-reply', 'on_response_headers 6 1', '0', '(absent)', LOCAL_REPLY),
  accept('local-reply', 'resp_headers get_pairs 2#2', '0 143 :status=200;x-a=1;x-b=2;content-type=application/grpc;grpc-status=7;grpc-message=forbidden', '0 137 :status=403;content-length=9;content-type=text/plain;x-a=1;x-b=2;content-type=text/x', LOCAL_REPLY),
  accept('local-reply', 'log property response/code#2', '0 c800000000000000', '0 9301000000000000', LOCAL_REPLY),
  accept('local-reply', 'client 1 headers', 'content-type=text/x;x-a=1;x-b=2', 'content-type=text/plain;content-type=text/x;x-a=1;x-b=2', LOCAL_REPLY),
  accept('local-reply', 'client 2 status', '200', '403', LOCAL_REPLY),
  accept('local-reply', 'client 2 headers', 'content-type=application/grpc;grpc-message=forbidden;grpc-status=7;x-a=1;x-b=2', 'content-type=text/plain;content-type=text/x;x-a=1;x-b=2', LOCAL_REPLY),
  accept('local-reply', 'client 2 body', '', 'forbidden', LOCAL_REPLY),
  accept('local-reply', 'on_response_headers 6 0', '(absent)', '0', LOCAL_REPLY),
  accept('local-reply', 'on_response_headers 6 0#2', '(absent)', '0', LOCAL_REPLY),
  accept('local-reply', 'on_response_body 9 1#2', '(absent)', '0', LOCAL_REPLY),
  accept('local-reply', 'resp_body get_buffer 1 0 1048576#2', '(absent)', '0 [forbidden]', LOCAL_REPLY),
  accept('local-reply-grpc', 'on_response_headers 3 1', '0', '(absent)', LOCAL_REPLY),
  accept('local-reply-grpc', 'resp_headers get_pairs 2', '0 85 :status=200;content-type=application/grpc;grpc-status=16', '0 24 :status=401', LOCAL_REPLY),
  accept('local-reply-grpc', 'log property response/code', '0 c800000000000000', '0 9101000000000000', LOCAL_REPLY),
  accept('local-reply-grpc', 'log property response/code_details', '0 7365636f6e64', '0 64656e696564', LOCAL_REPLY_TWICE),
  accept('local-reply-grpc', 'log property response/code_details#2', '0 7365636f6e64', '0 64656e696564', LOCAL_REPLY_TWICE),
  accept('local-reply-grpc', 'client 1 status', '200', '401', LOCAL_REPLY),
  accept('local-reply-grpc', 'client 1 headers', 'content-type=application/grpc;grpc-status=16', '', LOCAL_REPLY),
  accept('local-reply-grpc', 'on_response_headers 1 1#2', '(absent)', '0', LOCAL_REPLY),
  accept('local-reply-response', 'on_response_headers 4 0', '(absent)', '0', LOCAL_REPLY_DIRECT),
  accept('local-reply-response', 'resp_headers get_pairs 2#2', '(absent)', '0 98 :status=502;content-length=8;content-type=text/plain;x-late=1', LOCAL_REPLY_DIRECT),
  accept('local-reply-response', 'resp_headers local_reply 502 late\\sreply replaced x-late=1#2', '(absent)', '0', LOCAL_REPLY_DIRECT),
  accept('http-call-no-hosts', 'req_headers http_call empty /x 1000', '10', '0 4', NO_HOSTS),
  accept('prometheus', 'agreement_sizes_sum{}', '10.476190476190476275064611400012', '10', HISTOGRAM_SUM),
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
