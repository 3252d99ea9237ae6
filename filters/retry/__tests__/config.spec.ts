import { ConfigReader } from "../../../assembly/config";
import { HeaderList } from "../../../assembly/match";
import { RetryConfig, parseConfig } from "../config";

let lastError: string = "";

function read(json: string): RetryConfig | null {
  const result = parseConfig(ConfigReader.fromString(json));
  lastError = result.error;
  return result.config;
}

/** The error of `{"policies":[<policy>]}`. */
function policyError(policy: string): string {
  read("{\"policies\":[" + policy + "]}");
  return lastError;
}

function utf8(b: ArrayBuffer | null): string {
  return b === null ? "<none>" : String.UTF8.decode(b);
}

const SPEC_EXAMPLE = `{
  "policies": [
    { "name": "financial-transactions",
      "match": { "prefix": "/api/transactions", "methods": ["POST", "PUT"] },
      "max_retries": 2, "retry_on": ["connect-failure", "refused-stream", "reset"],
      "per_try_timeout": "5s", "timeout": "20s", "idempotency_header": "Idempotency-Key" },
    { "name": "reads",
      "match": { "methods": ["GET", "HEAD", "OPTIONS"] },
      "max_retries": 5, "retry_on": ["5xx", "gateway-error", "connect-failure", "reset", "retriable-status-codes"],
      "retriable_status_codes": [429], "per_try_timeout": "2s" }
  ],
  "budget": { "ratio": 0.2, "min_retries_per_second": 10, "window": "10s" },
  "strip_downstream_retry_headers": true
}`;

describe("retry config: the filters.md example", () => {
  it("reads both policies into header values", () => {
    const config = read(SPEC_EXAMPLE);
    expect<string>(lastError).toBe("");
    expect<bool>(config !== null).toBe(true);
    const c = config!;
    expect<i32>(c.policies.length).toBe(2);
    expect<string>(c.statPrefix).toBe("retry");
    expect<bool>(c.stripDownstreamRetryHeaders).toBe(true);

    const money = c.policies[0];
    expect<string>(money.name).toBe("financial-transactions");
    expect<i32>(money.maxRetries).toBe(2);
    expect<string>(utf8(money.retryOnValue)).toBe("connect-failure,refused-stream,reset");
    expect<string>(utf8(money.retryGrpcOnValue)).toBe("<none>");
    expect<string>(utf8(money.retriableStatusCodesValue)).toBe("<none>");
    expect<string>(utf8(money.timeoutValue)).toBe("20000");
    expect<string>(utf8(money.perTryTimeoutValue)).toBe("5000");
    expect<string>(money.idempotencyHeader!).toBe("idempotency-key");
    expect<string>(utf8(money.maxRetriesValues[0])).toBe("0");
    expect<string>(utf8(money.maxRetriesValues[2])).toBe("2");
    expect<bool>(money.match.matches(new HeaderList("/api/transactions/9", "POST"))).toBe(true);
    expect<bool>(money.match.matches(new HeaderList("/api/transactions/9", "GET"))).toBe(false);

    const reads = c.policies[1];
    expect<i32>(reads.maxRetries).toBe(5);
    expect<string>(utf8(reads.retryOnValue)).toBe("5xx,gateway-error,connect-failure,reset,retriable-status-codes");
    expect<string>(utf8(reads.retriableStatusCodesValue)).toBe("429");
    expect<string>(utf8(reads.timeoutValue)).toBe("<none>");
    expect<string>(utf8(reads.perTryTimeoutValue)).toBe("2000");
    expect<bool>(reads.idempotencyHeader === null).toBe(true);

    const budget = c.budget!;
    expect<f64>(budget.ratio).toBe(0.2);
    expect<f64>(budget.minRetriesPerSecond).toBe(10);
    expect<i64>(budget.windowNanos).toBe(10000000000);
    expect<f64>(budget.minRetries).toBe(100);
  });

  it("applies defaults: max_retries 1, Envoy's budget defaults, strip on", () => {
    const c = read("{\"policies\":[{\"name\":\"p\",\"retry_grpc_on\":[\"unavailable\",\"cancelled\"]}],\"budget\":{},\"stat_prefix\":\"edge_retry\"}")!;
    expect<string>(lastError).toBe("");
    expect<i32>(c.policies[0].maxRetries).toBe(1);
    expect<string>(utf8(c.policies[0].retryGrpcOnValue)).toBe("unavailable,cancelled");
    expect<bool>(c.policies[0].match.matchesAll).toBe(true);
    expect<f64>(c.budget!.ratio).toBe(0.2);
    expect<f64>(c.budget!.minRetriesPerSecond).toBe(3);
    expect<i64>(c.budget!.windowNanos).toBe(10000000000);
    expect<bool>(c.stripDownstreamRetryHeaders).toBe(true);
    expect<string>(c.statPrefix).toBe("edge_retry");
  });

  it("accepts no policies and no budget (strip only); timeout 0s disables the route timeout", () => {
    const c = read("{\"strip_downstream_retry_headers\":false}")!;
    expect<i32>(c.policies.length).toBe(0);
    expect<bool>(c.budget === null).toBe(true);
    expect<bool>(c.stripDownstreamRetryHeaders).toBe(false);
    const z = read("{\"policies\":[{\"name\":\"z\",\"timeout\":\"0s\",\"per_try_timeout\":\"0.0015s\"}]}")!;
    expect<string>(utf8(z.policies[0].timeoutValue)).toBe("0");
    expect<string>(utf8(z.policies[0].perTryTimeoutValue)).toBe("1");
  });
});

describe("retry config: each rejection names the path and the reason", () => {
  it("rejects unknown fields", () => {
    read("{\"policies\":[],\"budgett\":{}}");
    expect<string>(lastError).toBe("budgett: unknown field");
    expect<string>(policyError("{\"name\":\"a\",\"max_retry\":2}")).toBe("policies[0].max_retry: unknown field");
    read("{\"budget\":{\"ratio\":0.1,\"windw\":\"1s\"}}");
    expect<string>(lastError).toBe("budget.windw: unknown field");
    expect<string>(policyError("{\"name\":\"a\",\"match\":{\"prefx\":\"/\"}}")).toBe("policies[0].match.prefx: unknown field");
  });

  it("rejects bad names", () => {
    expect<string>(policyError("{}")).toBe("policies[0].name: missing required field");
    expect<string>(policyError("{\"name\":\"\"}")).toBe("policies[0].name: expected a non-empty string");
    expect<string>(policyError("{\"name\":\"a b\"}")).toBe("policies[0].name: expected letters, digits, '-' and '_'");
    read("{\"policies\":[{\"name\":\"a-b\"},{\"name\":\"a-b\"}]}");
    expect<string>(lastError).toBe("policies[1].name: duplicate policy name \"a-b\"");
    read("{\"policies\":[{\"name\":\"a-b\"},{\"name\":\"a_b\"}]}"); // two labels, two policies
    expect<string>(lastError).toBe("");
    read("{\"stat_prefix\":\"9retry\"}");
    expect<string>(lastError).toBe("stat_prefix: expected letters, digits and '_', not starting with a digit");
  });

  it("rejects retry counts out of range", () => {
    expect<string>(policyError("{\"name\":\"a\",\"max_retries\":-1}")).toBe("policies[0].max_retries: expected an integer between 0 and 100");
    expect<string>(policyError("{\"name\":\"a\",\"max_retries\":101}")).toBe("policies[0].max_retries: expected an integer between 0 and 100");
    expect<string>(policyError("{\"name\":\"a\",\"max_retries\":1.5}")).toBe("policies[0].max_retries: expected an integer between 0 and 100");
  });

  it("rejects unknown, misplaced and duplicate retry conditions", () => {
    expect<string>(policyError("{\"name\":\"a\",\"retry_on\":[\"5xx\",\"5xxx\"]}")).toBe("policies[0].retry_on[1]: unknown retry condition \"5xxx\"");
    expect<string>(policyError("{\"name\":\"a\",\"retry_on\":[\"unavailable\"]}"))
      .toBe("policies[0].retry_on[0]: unknown retry condition \"unavailable\"; it is a condition of retry_grpc_on");
    expect<string>(policyError("{\"name\":\"a\",\"retry_grpc_on\":[\"5xx\"]}"))
      .toBe("policies[0].retry_grpc_on[0]: unknown retry condition \"5xx\"; it is a condition of retry_on");
    expect<string>(policyError("{\"name\":\"a\",\"retry_on\":[\"reset\",\"reset\"]}")).toBe("policies[0].retry_on[1]: duplicate retry condition \"reset\"");
    expect<string>(policyError("{\"name\":\"a\",\"retry_on\":\"5xx\"}")).toBe("policies[0].retry_on: expected an array");
    expect<string>(policyError("{\"name\":\"a\",\"retry_on\":[\"\"]}")).toBe("policies[0].retry_on[0]: expected a non-empty string");
  });

  it("rejects status codes that could not apply", () => {
    expect<string>(policyError("{\"name\":\"a\",\"retry_on\":[\"retriable-status-codes\"],\"retriable_status_codes\":[99]}"))
      .toBe("policies[0].retriable_status_codes[0]: expected an integer between 100 and 599");
    expect<string>(policyError("{\"name\":\"a\",\"retry_on\":[\"5xx\"],\"retriable_status_codes\":[429]}"))
      .toBe("policies[0].retriable_status_codes: has no effect unless retry_on includes \"retriable-status-codes\"");
  });

  it("rejects bad timeouts", () => {
    expect<string>(policyError("{\"name\":\"a\",\"timeout\":\"20\"}")).toBe("policies[0].timeout: expected a duration like \"60s\"");
    expect<string>(policyError("{\"name\":\"a\",\"per_try_timeout\":\"0s\"}")).toBe("policies[0].per_try_timeout: expected a duration between 0.001s and 86400s");
    expect<string>(policyError("{\"name\":\"a\",\"timeout\":\"-1s\"}")).toBe("policies[0].timeout: expected a duration between 0s and 86400s");
    expect<string>(policyError("{\"name\":\"a\",\"timeout\":\"2s\",\"per_try_timeout\":\"2s\"}"))
      .toBe("policies[0].per_try_timeout: must be less than timeout (Envoy ignores a per-try timeout that is not)");
  });

  it("rejects a bad idempotency header", () => {
    expect<string>(policyError("{\"name\":\"a\",\"idempotency_header\":\"idempotency key\"}")).toBe("policies[0].idempotency_header: expected a header name");
    expect<string>(policyError("{\"name\":\"a\",\"idempotency_header\":\"\"}")).toBe("policies[0].idempotency_header: expected a non-empty string");
  });

  it("rejects a bad budget", () => {
    read("{\"budget\":{\"ratio\":-0.1}}");
    expect<string>(lastError).toBe("budget.ratio: expected a number between 0 and 100");
    read("{\"budget\":{\"min_retries_per_second\":\"10\"}}");
    expect<string>(lastError).toBe("budget.min_retries_per_second: expected a number between 0 and 1000000");
    read("{\"budget\":{\"window\":\"0.5s\"}}");
    expect<string>(lastError).toBe("budget.window: expected a duration between 1s and 3600s");
    read("{\"budget\":[]}");
    expect<string>(lastError).toBe("budget: expected an object");
  });

  it("rejects what is not a JSON object", () => {
    read("[]");
    expect<string>(lastError).toBe("expected a JSON object at the top level");
    read("{\"policies\":[{\"name\":\"a\",}]}");
    expect<string>(lastError).toBe("invalid JSON: trailing comma (line 1, column 25)");
    read("{\"strip_downstream_retry_headers\":1}");
    expect<string>(lastError).toBe("strip_downstream_retry_headers: expected true or false");
  });
});
