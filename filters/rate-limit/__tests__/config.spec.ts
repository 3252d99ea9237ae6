import { ConfigReader, ConfigResult } from "../../../assembly/config";
import { KeyPartKind, Limit, RateLimitConfig, parseConfig } from "../config";

/** `parseConfig` of configuration text. */
function parseText(text: string): ConfigResult<RateLimitConfig> {
  return parseConfig(ConfigReader.fromString(text));
}

const TIERS = `{
  "stat_prefix": "rl",
  "rules": [
    { "name": "premium",
      "match": { "headers": [{ "name": "x-user-tier", "exact": "premium" }] },
      "key": [{ "header": "X-User-Id" }],
      "limits": [
        { "max_tokens": 100, "tokens_per_fill": 100, "fill_interval": "60s" },
        { "max_tokens": 2000, "tokens_per_fill": 2000, "fill_interval": "3600s" } ] },
    { "name": "anonymous",
      "key": [{ "remote_address": {} }, { "path": {} }, { "claim": "x-user-tier" }, { "generic": "edge" }],
      "limits": [{ "max_tokens": 5, "fill_interval": "0.5s" }] }
  ],
  "enforce": false, "response_headers": true, "status": 503, "xff_num_trusted_hops": 2, "max_keys": 64
}`;

/** The error line for `json`, or "" when it parses. */
function errorOf(json: string): string {
  return parseText(json).error;
}

/** A configuration with one rule made of `ruleBody` (JSON members). */
function oneRule(ruleBody: string, top: string = ""): string {
  return "{\"rules\":[{\"name\":\"r\"," + ruleBody + "}]" + (top.length > 0 ? "," + top : "") + "}";
}

const LIMIT = "\"limits\":[{\"max_tokens\":1,\"fill_interval\":\"1s\"}]";

describe("config: a full configuration", () => {
  it("reads every field", () => {
    const result = parseText(TIERS);
    expect<string>(result.error).toBe("");
    const c = result.config!;
    expect<string>(c.statPrefix).toBe("rl");
    expect<bool>(c.enforce).toBe(false);
    expect<bool>(c.responseHeaders).toBe(true);
    expect<u32>(c.status).toBe(503);
    expect<i32>(c.xffNumTrustedHops).toBe(2);
    expect<i32>(c.maxKeys).toBe(64);
    expect<i32>(c.rules.length).toBe(2);
    expect<i32>(c.maxLimitsPerRule).toBe(2);
    const premium = c.rules[0];
    expect<string>(premium.name).toBe("premium");
    expect<i32>(premium.key[0].kind).toBe(KeyPartKind.Header);
    expect<string>(premium.key[0].text).toBe("x-user-id");
    expect<i64>(premium.limits[1].maxTokens).toBe(2000);
    const anonymous = c.rules[1];
    expect<i32>(anonymous.index).toBe(1);
    expect<bool>(anonymous.match.matchesAll).toBe(true);
    expect<i32>(anonymous.key[0].kind).toBe(KeyPartKind.RemoteAddress);
    expect<i32>(anonymous.key[1].kind).toBe(KeyPartKind.Path);
    expect<i32>(anonymous.key[2].kind).toBe(KeyPartKind.Claim);
    expect<i32>(anonymous.key[3].kind).toBe(KeyPartKind.Generic);
    expect<string>(anonymous.key[3].text).toBe("edge");
    expect<i64>(anonymous.limits[0].tokensPerFill).toBe(1); // Envoy's default
  });

  it("has Envoy's and filters.md's defaults", () => {
    const c = parseText(oneRule(LIMIT)).config!;
    expect<string>(c.statPrefix).toBe("rate_limit");
    expect<bool>(c.enforce).toBe(true);
    expect<bool>(c.responseHeaders).toBe(false);
    expect<u32>(c.status).toBe(429);
    expect<i32>(c.xffNumTrustedHops).toBe(0);
    expect<i32>(c.maxKeys).toBe(100000);
    expect<i32>(c.rules[0].key.length).toBe(0);
  });

  it("writes x-ratelimit-limit with every limit's quota policy (draft-03 `w=`)", () => {
    const premium = parseText(TIERS).config!.rules[0];
    expect<string>(String.UTF8.decode(premium.limitHeaderValues[0])).toBe("100, 100;w=60, 2000;w=3600");
    expect<string>(String.UTF8.decode(premium.limitHeaderValues[1])).toBe("2000, 100;w=60, 2000;w=3600");
    // A window that is not whole seconds has no policy.
    const anonymous = parseText(TIERS).config!.rules[1];
    expect<string>(String.UTF8.decode(anonymous.limitHeaderValues[0])).toBe("5");
  });

  it("fingerprints a rule by its name and limits", () => {
    const a = parseText(oneRule(LIMIT)).config!.rules[0].fingerprint;
    const same = parseText(oneRule(LIMIT, "\"max_keys\":9")).config!.rules[0].fingerprint;
    const other = parseText(oneRule("\"limits\":[{\"max_tokens\":2,\"fill_interval\":\"1s\"}]")).config!.rules[0].fingerprint;
    expect<u16>(same).toBe(a);
    expect<bool>(other != a).toBe(true);
  });

  it("seeds key hashing with the configuration text", () => {
    const a = parseText(oneRule(LIMIT)).config!.seed;
    expect<u64>(parseText(oneRule(LIMIT)).config!.seed).toBe(a);
    expect<bool>(parseText(oneRule(LIMIT, "\"max_keys\":9")).config!.seed != a).toBe(true);
  });
});

describe("config: exact fixed-point limits", () => {
  it("reduces tokens_per_fill / fill_interval by their gcd", () => {
    const l = Limit.of(100, 100, 60000000000)!; // 100 per 60 s
    expect<i64>(l.unitsPerToken).toBe(600000000);
    expect<i64>(l.unitsPerNs).toBe(1);
    expect<i64>(l.maxUnits).toBe(60000000000);
    const edge = Limit.of(2000, 1000, 1000000000)!; // 1000/s, bursts of 2000
    expect<i64>(edge.unitsPerToken).toBe(1000000);
    expect<i64>(edge.unitsPerNs).toBe(1);
    const odd = Limit.of(5, 7, 1000000000)!; // 7 per second: no common factor
    expect<i64>(odd.unitsPerToken).toBe(1000000000);
    expect<i64>(odd.unitsPerNs).toBe(7);
  });

  it("rejects limits whose units would pass 2^62", () => {
    expect<bool>(Limit.of(4294967295, 7, 366 * 86400 * 1000000000) === null).toBe(true);
    expect<string>(errorOf(oneRule("\"limits\":[{\"max_tokens\":4294967295,\"tokens_per_fill\":7,\"fill_interval\":\"31622400s\"}]")))
      .toBe("rules[0].limits[0].max_tokens: too large for this fill_interval and tokens_per_fill (exact refill needs max_tokens × fill_interval in ns ÷ gcd(tokens_per_fill, fill_interval in ns) below 2^62)");
  });
});

describe("config: rejections name the JSON path", () => {
  it("rejects what is not a configuration", () => {
    expect<string>(errorOf("")).toBe("configuration is empty, expected a JSON object");
    expect<string>(errorOf("[]")).toBe("expected a JSON object at the top level");
    expect<string>(errorOf("{\"rules\":")).toBe("invalid JSON: unexpected end of input, expected a value (line 1, column 10)");
    expect<string>(errorOf("{}")).toBe("rules: missing required field");
    expect<string>(errorOf("{\"rules\":[]}")).toBe("rules: expected a non-empty array");
  });

  it("rejects unknown fields at every level", () => {
    expect<string>(errorOf("{\"rules\":[{\"name\":\"r\"," + LIMIT + "}],\"enforced\":true}")).toBe("enforced: unknown field");
    expect<string>(errorOf(oneRule(LIMIT + ",\"limts\":[]"))).toBe("rules[0].limts: unknown field");
    expect<string>(errorOf(oneRule("\"limits\":[{\"max_tokens\":1,\"fill_interval\":\"1s\",\"burst\":2}]"))).toBe("rules[0].limits[0].burst: unknown field");
    expect<string>(errorOf(oneRule("\"key\":[{\"remote_address\":{\"v6\":true}}]," + LIMIT))).toBe("rules[0].key[0].remote_address.v6: unknown field");
    expect<string>(errorOf(oneRule("\"match\":{\"prefixx\":\"/\"}," + LIMIT))).toBe("rules[0].match.prefixx: unknown field");
  });

  it("rejects bad limits", () => {
    expect<string>(errorOf(oneRule("\"limits\":[]"))).toBe("rules[0].limits: expected a non-empty array");
    expect<string>(errorOf(oneRule("\"limits\":[{\"fill_interval\":\"1s\"}]"))).toBe("rules[0].limits[0].max_tokens: missing required field");
    expect<string>(errorOf(oneRule("\"limits\":[{\"max_tokens\":0,\"fill_interval\":\"1s\"}]"))).toBe("rules[0].limits[0].max_tokens: expected an integer between 1 and 4294967295");
    expect<string>(errorOf(oneRule("\"limits\":[{\"max_tokens\":1.5,\"fill_interval\":\"1s\"}]"))).toBe("rules[0].limits[0].max_tokens: expected an integer between 1 and 4294967295");
    expect<string>(errorOf(oneRule("\"limits\":[{\"max_tokens\":1,\"tokens_per_fill\":0,\"fill_interval\":\"1s\"}]"))).toBe("rules[0].limits[0].tokens_per_fill: expected an integer between 1 and 4294967295");
    expect<string>(errorOf(oneRule("\"limits\":[{\"max_tokens\":1}]"))).toBe("rules[0].limits[0].fill_interval: missing required field");
    expect<string>(errorOf(oneRule("\"limits\":[{\"max_tokens\":1,\"fill_interval\":60}]"))).toBe("rules[0].limits[0].fill_interval: expected a duration like \"60s\"");
    expect<string>(errorOf(oneRule("\"limits\":[{\"max_tokens\":1,\"fill_interval\":\"1m\"}]"))).toBe("rules[0].limits[0].fill_interval: expected a duration like \"60s\"");
    expect<string>(errorOf(oneRule("\"limits\":[{\"max_tokens\":1,\"fill_interval\":\"0s\"}]"))).toBe("rules[0].limits[0].fill_interval: expected a duration between 0.001s and 31622400s");
    expect<string>(errorOf(oneRule("\"limits\":[{\"max_tokens\":1,\"fill_interval\":\"-1s\"}]"))).toBe("rules[0].limits[0].fill_interval: expected a duration between 0.001s and 31622400s");
    const nine = "{\"max_tokens\":1,\"fill_interval\":\"1s\"}";
    let many = nine;
    for (let i = 0; i < 8; i++) many += "," + nine;
    expect<string>(errorOf(oneRule("\"limits\":[" + many + "]"))).toBe("rules[0].limits: expected at most 8 limits");
  });

  it("rejects bad names and duplicates", () => {
    expect<string>(errorOf("{\"rules\":[{" + LIMIT + "}]}")).toBe("rules[0].name: missing required field");
    expect<string>(errorOf("{\"rules\":[{\"name\":\"\"," + LIMIT + "}]}")).toBe("rules[0].name: expected a non-empty string");
    expect<string>(errorOf("{\"rules\":[{\"name\":\"a-b\"," + LIMIT + "}]}")).toBe("rules[0].name: expected letters, digits and '_' (it names the rule's metrics)");
    expect<string>(errorOf("{\"rules\":[{\"name\":\"a\"," + LIMIT + "},{\"name\":\"a\"," + LIMIT + "}]}")).toBe("rules[1].name: duplicate rule name \"a\"");
    expect<string>(errorOf(oneRule(LIMIT, "\"stat_prefix\":\"rate.limit\""))).toBe("stat_prefix: expected letters, digits and '_' (it starts every metric name)");
    expect<string>(errorOf(oneRule(LIMIT, "\"stat_prefix\":\"\""))).toBe("stat_prefix: expected letters, digits and '_' (it starts every metric name)");
  });

  it("rejects bad key parts", () => {
    expect<string>(errorOf(oneRule("\"key\":[{}]," + LIMIT))).toBe("rules[0].key[0]: expected exactly one of \"header\", \"remote_address\", \"path\", \"claim\", \"generic\"");
    expect<string>(errorOf(oneRule("\"key\":[{\"header\":\"a\",\"path\":{}}]," + LIMIT))).toBe("rules[0].key[0]: expected exactly one of \"header\", \"remote_address\", \"path\", \"claim\", \"generic\"");
    expect<string>(errorOf(oneRule("\"key\":[{\"header\":\"\"}]," + LIMIT))).toBe("rules[0].key[0].header: expected a non-empty string");
    expect<string>(errorOf(oneRule("\"key\":[{\"header\":\"x y\"}]," + LIMIT))).toBe("rules[0].key[0].header: expected a header name");
    expect<string>(errorOf(oneRule("\"key\":[{\"claim\":7}]," + LIMIT))).toBe("rules[0].key[0].claim: expected a non-empty string");
    expect<string>(errorOf(oneRule("\"key\":[{\"remote_address\":true}]," + LIMIT))).toBe("rules[0].key[0].remote_address: expected an object");
    expect<string>(errorOf(oneRule("\"key\":{\"header\":\"a\"}," + LIMIT))).toBe("rules[0].key: expected an array");
    expect<string>(errorOf(oneRule("\"key\":[{\"generic\":\"\"}]," + LIMIT))).toBe("rules[0].key[0].generic: expected a non-empty string");
  });

  it("rejects out-of-range top-level values", () => {
    expect<string>(errorOf(oneRule(LIMIT, "\"status\":200"))).toBe("status: expected an integer between 400 and 599");
    expect<string>(errorOf(oneRule(LIMIT, "\"max_keys\":0"))).toBe("max_keys: expected an integer between 1 and 1000000");
    expect<string>(errorOf(oneRule(LIMIT, "\"xff_num_trusted_hops\":-1"))).toBe("xff_num_trusted_hops: expected an integer between 0 and 64");
    expect<string>(errorOf(oneRule(LIMIT, "\"enforce\":\"yes\""))).toBe("enforce: expected true or false");
    expect<string>(errorOf(oneRule(LIMIT, "\"response_headers\":1"))).toBe("response_headers: expected true or false");
  });

  it("reports the first error only", () => {
    expect<string>(errorOf("{\"rules\":[{\"name\":\"a-b\",\"limits\":[]}],\"status\":1}")).toBe("status: expected an integer between 400 and 599");
  });
});
