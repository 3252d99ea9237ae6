/**
 * The retry policy the retry suites add to the seeds' (envoy/retry.yaml, read with
 * harness/host/testing.ts `pluginConfig`): one for harness/upstream's gRPC EchoService.
 * No request matches both it and a seed policy (they match non-gRPC paths or GET/HEAD/OPTIONS).
 */
export const ECHO_GRPC = {
  name: 'grpc',
  match: { prefix: '/mesh.test.v1.EchoService/' },
  max_retries: 3,
  retry_on: ['connect-failure', 'refused-stream'],
  retry_grpc_on: ['unavailable', 'resource-exhausted'],
};
