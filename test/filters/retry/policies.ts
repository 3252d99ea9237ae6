/**
 * The retry policies the retry suites share: filters.md's example (financial transactions,
 * reads) and a gRPC policy for the upstreams' EchoService.
 */
export const FINANCIAL_TRANSACTIONS = {
  name: 'financial-transactions',
  match: { prefix: '/api/transactions', methods: ['POST', 'PUT'] },
  max_retries: 2,
  retry_on: ['connect-failure', 'refused-stream', 'reset'],
  per_try_timeout: '5s',
  timeout: '20s',
  idempotency_header: 'idempotency-key',
};

export const READS = {
  name: 'reads',
  match: { methods: ['GET', 'HEAD', 'OPTIONS'] },
  max_retries: 5,
  retry_on: ['5xx', 'gateway-error', 'connect-failure', 'reset', 'retriable-status-codes'],
  retriable_status_codes: [429],
  per_try_timeout: '2s',
};

/** harness/upstream's gRPC EchoService. */
export const ECHO_GRPC = {
  name: 'grpc',
  match: { prefix: '/mesh.test.v1.EchoService/' },
  max_retries: 3,
  retry_on: ['connect-failure', 'refused-stream'],
  retry_grpc_on: ['unavailable', 'resource-exhausted'],
};

/** In the order a configuration lists them: the first whose match holds applies. */
export const POLICIES = [FINANCIAL_TRANSACTIONS, ECHO_GRPC, READS];
