import { RequestMatch } from "../../../assembly/match";
import { isGrpcContentType, parseAttemptCount } from "../headers";
import { RetryPolicy, grpcRetryConditions, httpRetryConditions, idempotencyGuardApplies, isNonIdempotentMethod, listIncludes } from "../policy";

function policy(idempotencyHeader: string | null, maxRetries: i32 = 2): RetryPolicy {
  return new RetryPolicy("p", RequestMatch.all(), maxRetries, "5xx", "", "", -1, -1, idempotencyHeader);
}

function bytes(s: string): ArrayBuffer {
  return String.UTF8.encode(s);
}

describe("idempotency guard", () => {
  it("treats every method RFC 9110 does not call idempotent as non-idempotent", () => {
    expect<bool>(isNonIdempotentMethod("POST")).toBe(true);
    expect<bool>(isNonIdempotentMethod("PATCH")).toBe(true);
    expect<bool>(isNonIdempotentMethod("CONNECT")).toBe(true);
    expect<bool>(isNonIdempotentMethod("TRANSFER")).toBe(true);
    expect<bool>(isNonIdempotentMethod("post")).toBe(true); // methods are case-sensitive
    expect<bool>(isNonIdempotentMethod("")).toBe(true);
    expect<bool>(isNonIdempotentMethod("GET")).toBe(false);
    expect<bool>(isNonIdempotentMethod("HEAD")).toBe(false);
    expect<bool>(isNonIdempotentMethod("PUT")).toBe(false);
    expect<bool>(isNonIdempotentMethod("DELETE")).toBe(false);
    expect<bool>(isNonIdempotentMethod("OPTIONS")).toBe(false);
    expect<bool>(isNonIdempotentMethod("TRACE")).toBe(false);
  });

  it("applies to non-idempotent requests without a non-empty key, only when the policy names a header", () => {
    const guarded = policy("idempotency-key");
    expect<bool>(idempotencyGuardApplies(guarded, "POST", 0)).toBe(true);
    expect<bool>(idempotencyGuardApplies(guarded, "PATCH", 0)).toBe(true);
    expect<bool>(idempotencyGuardApplies(guarded, "POST", 36)).toBe(false);
    expect<bool>(idempotencyGuardApplies(guarded, "PUT", 0)).toBe(false);
    expect<bool>(idempotencyGuardApplies(guarded, "GET", 0)).toBe(false);
    expect<bool>(idempotencyGuardApplies(policy(null), "POST", 0)).toBe(false);
  });
});

describe("RetryPolicy header values", () => {
  it("precomputes every x-envoy-max-retries value up to max_retries", () => {
    const p = new RetryPolicy("p", RequestMatch.all(), 12, "reset", "unavailable", "429,503", 20000, 2500, null);
    expect<i32>(p.maxRetriesValues.length).toBe(13);
    expect<string>(String.UTF8.decode(p.maxRetriesValues[12])).toBe("12");
    expect<string>(String.UTF8.decode(p.retryOnValue!)).toBe("reset");
    expect<string>(String.UTF8.decode(p.retryGrpcOnValue!)).toBe("unavailable");
    expect<string>(String.UTF8.decode(p.retriableStatusCodesValue!)).toBe("429,503");
    expect<string>(String.UTF8.decode(p.timeoutValue!)).toBe("20000");
    expect<string>(String.UTF8.decode(p.perTryTimeoutValue!)).toBe("2500");
    expect<bool>(p.idempotencyHeaderName === null).toBe(true);
    const none = new RetryPolicy("q", RequestMatch.all(), 0, "", "", "", -1, -1, "k");
    expect<bool>(none.retryOnValue === null).toBe(true);
    expect<bool>(none.timeoutValue === null).toBe(true);
    expect<string>(none.idempotencyHeaderName!.toString()).toBe("k");
  });
});

describe("headers: what the filter reads", () => {
  it("tells gRPC requests as Envoy's router does", () => {
    expect<bool>(isGrpcContentType(String.UTF8.encode("application/grpc"))).toBe(true);
    expect<bool>(isGrpcContentType(String.UTF8.encode("application/grpc+proto"))).toBe(true);
    expect<bool>(isGrpcContentType(String.UTF8.encode("application/grpc-web"))).toBe(false);
    expect<bool>(isGrpcContentType(String.UTF8.encode("application/grpc-web+proto"))).toBe(false);
    expect<bool>(isGrpcContentType(String.UTF8.encode("application/json"))).toBe(false);
    expect<bool>(isGrpcContentType(String.UTF8.encode("application/grp"))).toBe(false);
    expect<bool>(isGrpcContentType(String.UTF8.encode(""))).toBe(false);
    expect<bool>(isGrpcContentType(null)).toBe(false);
  });

  it("parses x-envoy-attempt-count, rejecting anything Envoy would not send", () => {
    expect<u32>(parseAttemptCount(bytes("1"))).toBe(1);
    expect<u32>(parseAttemptCount(bytes("3"))).toBe(3);
    expect<u32>(parseAttemptCount(bytes("101"))).toBe(101);
    expect<u32>(parseAttemptCount(bytes("1000000"))).toBe(1000000);
    expect<u32>(parseAttemptCount(bytes("1000001"))).toBe(0);
    expect<u32>(parseAttemptCount(bytes("99999999999999999999"))).toBe(0);
    expect<u32>(parseAttemptCount(bytes(""))).toBe(0);
    expect<u32>(parseAttemptCount(bytes("-2"))).toBe(0);
    expect<u32>(parseAttemptCount(bytes(" 2"))).toBe(0);
    expect<u32>(parseAttemptCount(bytes("2x"))).toBe(0);
    expect<u32>(parseAttemptCount(bytes("\u00e9"))).toBe(0);
    expect<u32>(parseAttemptCount(null)).toBe(0);
  });
});

describe("retry condition lists", () => {
  it("match whole comma-separated entries only", () => {
    const http = httpRetryConditions();
    expect<bool>(listIncludes(http, "5xx")).toBe(true); // first
    expect<bool>(listIncludes(http, "reset")).toBe(true);
    expect<bool>(listIncludes(http, "reset-before-request")).toBe(true);
    expect<bool>(listIncludes(http, "http3-post-connect-failure")).toBe(true); // last
    expect<bool>(listIncludes(http, "rese")).toBe(false);
    expect<bool>(listIncludes(http, "5xx,gateway-error")).toBe(false);
    expect<bool>(listIncludes("5xx,gateway-error", "5xx,gateway-error")).toBe(false);
    expect<bool>(listIncludes("5xx,gateway-error", "gateway-errors")).toBe(false);
    expect<bool>(listIncludes("5xx,gateway-error", "5x")).toBe(false);
    expect<bool>(listIncludes(http, "")).toBe(false);
    expect<bool>(listIncludes(http, "unavailable")).toBe(false);
    expect<bool>(listIncludes(grpcRetryConditions(), "unavailable")).toBe(true);
    expect<bool>(listIncludes(grpcRetryConditions(), "cancelled")).toBe(true);
    expect<bool>(listIncludes("", "")).toBe(true); // an empty list has one empty entry
  });
});
