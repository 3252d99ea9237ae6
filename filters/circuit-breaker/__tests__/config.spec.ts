import { ConfigReader, ConfigResult } from "../../../assembly/config";
import { CircuitBreakerConfig, parseConfig } from "../config";

/** `parseConfig` of configuration text. */
function parseText(text: string): ConfigResult<CircuitBreakerConfig> {
  return parseConfig(ConfigReader.fromString(text));
}

function error(json: string): string {
  return parseText(json).error;
}

/** `{"services":[<service>]}` with a minimal valid service whose fields `extra` adds to. */
function service(extra: string): string {
  return "{\"services\":[{\"name\":\"svc\"" + (extra.length > 0 ? "," + extra : "") + "}]}";
}

function ok(json: string): ConfigResult<CircuitBreakerConfig> {
  const r = parseText(json);
  expect<string>(r.error).toBe("");
  expect<bool>(r.config !== null).toBe(true);
  return r;
}

describe("circuit-breaker config: defaults", () => {
  it("fills resilience4j-like defaults and the filters.md open response", () => {
    const config = ok(service("")).config!;
    expect<string>(config.statPrefix).toBe("circuit_breaker");
    const svc = config.services[0];
    expect<u32>(svc.failureThreshold).toBe(5);
    expect<f64>(svc.failureRateThreshold).toBe(0);
    expect<f64>(svc.slowCallRateThreshold).toBe(0);
    expect<i64>(svc.slowCallDurationMs).toBe(60000);
    expect<u32>(svc.minimumRequests).toBe(10);
    expect<i64>(svc.windowMs).toBe(10000);
    expect<i64>(svc.bucketWidthMs).toBe(1000);
    expect<i64>(svc.openDurationMs).toBe(60000);
    expect<u32>(svc.halfOpenRequests).toBe(3);
    expect<u32>(svc.successThreshold).toBe(3);
    expect<u32>(svc.maxConcurrentRequests).toBe(0);
    expect<bool>(svc.timeoutMs === null).toBe(true);
    expect<bool>(svc.fallback === null).toBe(true);
    expect<bool>(svc.cluster === null).toBe(true);
    expect<bool>(svc.match.matchesAll).toBe(true);
    expect<bool>(svc.usesWindow).toBe(false);
    expect<u32>(svc.openResponse.status).toBe(503);
    expect<string>(String.UTF8.decode(svc.openResponse.body)).toBe("{\"error\":\"circuit_open\"}");
    expect<i32>(svc.openResponse.headerNames.length).toBe(1);
    expect<string>(svc.openResponse.headerNames[0]).toBe("content-type");
    expect<string>(svc.openResponse.headerValues[0]).toBe("application/json");
    expect<bool>(config.needsCluster).toBe(false);
  });

  it("failure_status defaults to 500, 502, 503, 504", () => {
    const svc = ok(service("")).config!.services[0];
    expect<bool>(svc.isFailureStatus(500)).toBe(true);
    expect<bool>(svc.isFailureStatus(502)).toBe(true);
    expect<bool>(svc.isFailureStatus(503)).toBe(true);
    expect<bool>(svc.isFailureStatus(504)).toBe(true);
    expect<bool>(svc.isFailureStatus(501)).toBe(false);
    expect<bool>(svc.isFailureStatus(200)).toBe(false);
    expect<bool>(svc.isFailureStatus(0)).toBe(false);
    expect<bool>(svc.isFailureStatus(65535)).toBe(false);
  });

  it("success_threshold follows half_open_requests unless set", () => {
    expect<u32>(ok(service("\"half_open_requests\":5")).config!.services[0].successThreshold).toBe(5);
    expect<u32>(ok(service("\"half_open_requests\":5,\"success_threshold\":2")).config!.services[0].successThreshold).toBe(2);
  });
});

describe("circuit-breaker config: the seeds' services", () => {
  it("reads credit-bureau and banking with every field", () => {
    const json = "{\"stat_prefix\":\"cb\",\"services\":[" +
      "{\"name\":\"credit-bureau\",\"match\":{\"prefix\":\"/api/credit-bureau\"},\"failure_threshold\":3," +
      "\"failure_rate_threshold\":50,\"slow_call_rate_threshold\":80,\"slow_call_duration\":\"2.5s\"," +
      "\"minimum_requests\":20,\"window\":\"30s\",\"open_duration\":\"60s\",\"half_open_requests\":3," +
      "\"success_threshold\":2,\"max_concurrent_requests\":100,\"failure_status\":[429,503],\"timeout\":\"10s\"}," +
      "{\"name\":\"banking\",\"cluster\":\"banking\",\"failure_threshold\":5,\"open_duration\":\"30s\",\"timeout\":\"15s\"," +
      "\"open_action\":{\"fallback_filter_state\":{\"key\":\"wasm.cb.fallback\",\"value\":\"banking-dr\"}}," +
      "\"open_response\":{\"status\":429,\"body\":\"busy\"}}]," +
      "\"open_response\":{\"status\":503,\"body\":\"{}\",\"headers\":{\"Content-Type\":\"application/json\",\"x-a\":\"1\"}}}";
    const config = ok(json).config!;
    expect<string>(config.statPrefix).toBe("cb");
    expect<bool>(config.needsCluster).toBe(true);

    const credit = config.services[0];
    expect<string>(credit.name).toBe("credit-bureau");
    expect<f64>(credit.failureRateThreshold).toBe(50);
    expect<f64>(credit.slowCallRateThreshold).toBe(80);
    expect<i64>(credit.slowCallDurationMs).toBe(2500);
    expect<u32>(credit.minimumRequests).toBe(20);
    expect<i64>(credit.windowMs).toBe(30000);
    expect<i64>(credit.bucketWidthMs).toBe(3000);
    expect<u32>(credit.successThreshold).toBe(2);
    expect<u32>(credit.maxConcurrentRequests).toBe(100);
    expect<bool>(credit.isFailureStatus(429)).toBe(true);
    expect<bool>(credit.isFailureStatus(500)).toBe(false);
    expect<string>(String.UTF8.decode(credit.timeoutMs!)).toBe("10000");
    expect<bool>(credit.usesWindow).toBe(true);
    expect<bool>(credit.detectsSlowCalls).toBe(true);
    // the top-level open_response applies, names lower-cased
    expect<u32>(credit.openResponse.status).toBe(503);
    expect<string>(credit.openResponse.headerNames[0]).toBe("content-type");
    expect<string>(credit.openResponse.headerNames[1]).toBe("x-a");

    const banking = config.services[1];
    expect<string>(banking.cluster!).toBe("banking");
    expect<string>(banking.fallback!.key).toBe("wasm.cb.fallback");
    expect<string>(banking.fallback!.path[0]).toBe("cb.fallback"); // Envoy adds "wasm." back
    expect<i32>(banking.fallback!.path.length).toBe(1);
    expect<string>(String.UTF8.decode(banking.fallback!.valueBytes)).toBe("banking-dr");
    expect<bool>(credit.fallback === null).toBe(true);
    expect<string>(String.UTF8.decode(banking.timeoutMs!)).toBe("15000");
    // its own open_response wins; a body without headers gets Envoy's text/plain
    expect<u32>(banking.openResponse.status).toBe(429);
    expect<string>(String.UTF8.decode(banking.openResponse.body)).toBe("busy");
    expect<i32>(banking.openResponse.headerNames.length).toBe(0);
  });
});

describe("circuit-breaker config: each rejection names the path and the reason", () => {
  it("rejects what is not a configuration", () => {
    expect<string>(error("")).toBe("configuration is empty, expected a JSON object");
    expect<string>(error("[]")).toBe("expected a JSON object at the top level");
    expect<string>(error("{\"services\":[}")).toBe("invalid JSON: unexpected character '}', expected a value (line 1, column 14)");
    expect<string>(error("{}")).toBe("services: missing required field");
    expect<string>(error("{\"services\":[]}")).toBe("services: expected a non-empty array");
    expect<string>(error("{\"services\":{}}")).toBe("services: expected an array");
    expect<string>(error("{\"services\":[1]}")).toBe("services[0]: expected an object");
  });

  it("rejects unknown fields at every level", () => {
    expect<string>(error("{\"service\":[]}")).toBe("service: unknown field");
    expect<string>(error(service("\"failure_treshold\":3"))).toBe("services[0].failure_treshold: unknown field");
    expect<string>(error(service("\"match\":{\"prefx\":\"/\"}"))).toBe("services[0].match.prefx: unknown field");
    expect<string>(error(service("\"open_response\":{\"code\":503}"))).toBe("services[0].open_response.code: unknown field");
    expect<string>(error(service("\"open_action\":{\"fallback\":{}}"))).toBe("services[0].open_action.fallback: unknown field");
    expect<string>(error(service("\"open_action\":{\"fallback_filter_state\":{\"key\":\"wasm.x\",\"value\":\"1\",\"v\":1}}")))
      .toBe("services[0].open_action.fallback_filter_state.v: unknown field");
  });

  it("rejects bad names", () => {
    expect<string>(error("{\"services\":[{}]}")).toBe("services[0].name: missing required field");
    expect<string>(error("{\"services\":[{\"name\":\"\"}]}")).toBe("services[0].name: expected a non-empty string");
    expect<string>(error("{\"services\":[{\"name\":\"a.b\"}]}")).toBe("services[0].name: expected letters, digits, '_' and '-' (it names metrics)");
    expect<string>(error("{\"services\":[{\"name\":\"a\"},{\"name\":\"b\"},{\"name\":\"a\"}]}")).toBe("services[2].name: duplicate service name \"a\"");
    expect<string>(error("{\"stat_prefix\":\"1cb\",\"services\":[{\"name\":\"a\"}]}")).toBe("stat_prefix: expected letters, digits and '_' (not starting with a digit)");
    expect<string>(error("{\"stat_prefix\":\"\",\"services\":[{\"name\":\"a\"}]}")).toBe("stat_prefix: expected a non-empty string");
    expect<string>(error(service("\"cluster\":\"\""))).toBe("services[0].cluster: expected a non-empty string");
  });

  it("rejects out-of-range numbers and durations", () => {
    expect<string>(error(service("\"failure_threshold\":-1"))).toBe("services[0].failure_threshold: expected an integer between 0 and 1000000");
    expect<string>(error(service("\"failure_threshold\":2.5"))).toBe("services[0].failure_threshold: expected an integer between 0 and 1000000");
    expect<string>(error(service("\"failure_rate_threshold\":101"))).toBe("services[0].failure_rate_threshold: expected a number between 0 and 100");
    expect<string>(error(service("\"slow_call_rate_threshold\":\"50\""))).toBe("services[0].slow_call_rate_threshold: expected a number between 0 and 100");
    expect<string>(error(service("\"minimum_requests\":0"))).toBe("services[0].minimum_requests: expected an integer between 1 and 1000000");
    expect<string>(error(service("\"half_open_requests\":0"))).toBe("services[0].half_open_requests: expected an integer between 1 and 10000");
    expect<string>(error(service("\"success_threshold\":0"))).toBe("services[0].success_threshold: expected an integer between 1 and 1000000");
    expect<string>(error(service("\"max_concurrent_requests\":-3"))).toBe("services[0].max_concurrent_requests: expected an integer between 0 and 1000000");
    expect<string>(error(service("\"open_duration\":\"60\""))).toBe("services[0].open_duration: expected a duration like \"60s\"");
    expect<string>(error(service("\"open_duration\":60"))).toBe("services[0].open_duration: expected a duration like \"60s\"");
    expect<string>(error(service("\"open_duration\":\"0s\""))).toBe("services[0].open_duration: expected a duration between 0.001s and 86400s");
    expect<string>(error(service("\"window\":\"0.05s\""))).toBe("services[0].window: expected a duration between 0.100s and 86400s");
    expect<string>(error(service("\"slow_call_duration\":\"-1s\""))).toBe("services[0].slow_call_duration: expected a duration between 0.001s and 86400s");
    expect<string>(error(service("\"timeout\":\"0s\""))).toBe("services[0].timeout: expected a duration between 0.001s and 86400s");
    expect<string>(error(service("\"failure_status\":[503,600]"))).toBe("services[0].failure_status[1]: expected an integer between 100 and 599");
    expect<string>(error(service("\"failure_status\":503"))).toBe("services[0].failure_status: expected an array");
  });

  it("rejects a service that would do nothing", () => {
    expect<string>(error(service("\"failure_threshold\":0")))
      .toBe("services[0]: nothing to do: set failure_threshold, failure_rate_threshold, slow_call_rate_threshold or max_concurrent_requests above 0");
    expect<string>(parseText(service("\"failure_threshold\":0,\"max_concurrent_requests\":1")).error).toBe("");
    expect<string>(parseText(service("\"failure_threshold\":0,\"slow_call_rate_threshold\":1")).error).toBe("");
  });

  it("rejects bad open responses and fail-over filter states", () => {
    expect<string>(error(service("\"open_response\":{\"status\":99}"))).toBe("services[0].open_response.status: expected an integer between 200 and 599");
    expect<string>(error("{\"services\":[{\"name\":\"a\"}],\"open_response\":{\"body\":1}}")).toBe("open_response.body: expected a string");
    expect<string>(error(service("\"open_response\":{\"headers\":{\"bad name\":\"1\"}}"))).toBe("services[0].open_response.headers[\"bad name\"]: expected a header name");
    expect<string>(error(service("\"open_response\":{\"headers\":{\":status\":\"200\"}}"))).toBe("services[0].open_response.headers[\":status\"]: expected a header name");
    expect<string>(error(service("\"open_response\":{\"headers\":{\"retry-after\":\"5\"}}"))).toBe("services[0].open_response.headers.retry-after: set by the filter, cannot be configured");
    expect<string>(error(service("\"open_response\":{\"headers\":{\"X-Circuit-Breaker\":\"x\"}}"))).toBe("services[0].open_response.headers.X-Circuit-Breaker: set by the filter, cannot be configured");
    expect<string>(error(service("\"open_response\":{\"headers\":{\"x\":\"a\\nb\"}}"))).toBe("services[0].open_response.headers.x: expected a header value (no control characters)");
    expect<string>(error(service("\"open_response\":{\"headers\":{\"x\":1}}"))).toBe("services[0].open_response.headers.x: expected a string");
    expect<string>(error(service("\"open_action\":{}"))).toBe("services[0].open_action.fallback_filter_state: missing required field");
    expect<string>(error(service("\"open_action\":{\"fallback_filter_state\":{\"value\":\"1\"}}"))).toBe("services[0].open_action.fallback_filter_state.key: missing required field");
    const wantKey = "expected \"wasm.<name>\" (printable ASCII, no spaces)";
    expect<string>(error(service("\"open_action\":{\"fallback_filter_state\":{\"key\":\"fallback\",\"value\":\"1\"}}"))).toBe("services[0].open_action.fallback_filter_state.key: " + wantKey);
    expect<string>(error(service("\"open_action\":{\"fallback_filter_state\":{\"key\":\"wasm.\",\"value\":\"1\"}}"))).toBe("services[0].open_action.fallback_filter_state.key: " + wantKey);
    expect<string>(error(service("\"open_action\":{\"fallback_filter_state\":{\"key\":\"wasm.a b\",\"value\":\"1\"}}"))).toBe("services[0].open_action.fallback_filter_state.key: " + wantKey);
    expect<string>(error(service("\"open_action\":{\"fallback_filter_state\":{\"key\":\"wasm.a\\u0000\",\"value\":\"1\"}}"))).toBe("services[0].open_action.fallback_filter_state.key: " + wantKey);
    expect<string>(error(service("\"open_action\":{\"fallback_filter_state\":{\"key\":\"wasm.x\",\"value\":\"\"}}"))).toBe("services[0].open_action.fallback_filter_state.value: expected a non-empty string");
    expect<string>(error(service("\"open_action\":{\"fallback_filter_state\":{\"key\":\"wasm.x\",\"value\":\"a\\r\"}}"))).toBe("services[0].open_action.fallback_filter_state.value: expected no control characters");
  });

  it("names what replaced fallback_header (a client could forge the header and pick the fail-over route)", () => {
    expect<string>(error(service("\"open_action\":{\"fallback_header\":{\"name\":\"x-fallback\",\"value\":\"1\"}}")))
      .toBe("services[0].open_action.fallback_header: replaced by fallback_filter_state (a client can send a header itself; README \"circuit-breaker\")");
    expect<string>(error("{\"services\":[{\"name\":\"a\"}],\"open_action\":{\"fallback_header\":{\"name\":\"x\",\"value\":\"1\"}}}"))
      .toBe("open_action.fallback_header: replaced by fallback_filter_state (a client can send a header itself; README \"circuit-breaker\")");
  });

  it("reports errors inside match with their path", () => {
    expect<string>(error(service("\"match\":{\"headers\":[{\"name\":\"x\"}]}")))
      .toBe("services[0].match.headers[0]: expected exactly one of \"exact\", \"prefix\", \"present\", \"absent\"");
    expect<string>(error(service("\"match\":\"/api\""))).toBe("services[0].match: expected an object");
  });
});
