import { ConfigReader, Duration, memberPath } from "..";

/** Reads a configuration shaped like rate-limit's (filters.md) and returns the first error ("" when none). */
function readRateLimit(text: string): string {
  const reader = ConfigReader.fromString(text);
  const root = reader.root(["stat_prefix", "rules", "enforce", "status", "max_keys"]);
  root.optionalString("stat_prefix", "rate_limit");
  root.optionalBool("enforce", true);
  root.optionalInteger("status", 429, 200, 599);
  root.optionalInteger("max_keys", 100000, 1, 10000000);
  const rules = root.requiredArray("rules", 1);
  for (let i = 0; i < rules.length; i++) {
    const rule = rules.objectAt(i, ["name", "match", "key", "limits"]);
    rule.requiredString("name");
    rule.optionalObject("match", ["prefix", "path", "suffix", "methods", "headers"]);
    const limits = rule.requiredArray("limits", 1);
    for (let j = 0; j < limits.length; j++) {
      const limit = limits.objectAt(j, ["max_tokens", "tokens_per_fill", "fill_interval"]);
      limit.requiredInteger("max_tokens", 1, 4294967295);
      limit.requiredInteger("tokens_per_fill", 1, 4294967295);
      limit.requiredDuration("fill_interval", 1000000); // at least 1 ms
    }
  }
  return reader.error;
}

const LIMIT = "{\"max_tokens\":5,\"tokens_per_fill\":5,\"fill_interval\":\"60s\"}";

function rule(name: string, limits: string): string {
  return "{\"name\":\"" + name + "\",\"limits\":[" + limits + "]}";
}

describe("ConfigReader: errors name the JSON path and the reason", () => {
  it("accepts a valid configuration", () => {
    expect<string>(readRateLimit("{\"rules\":[" + rule("a", LIMIT) + "]}")).toBe("");
  });

  it("reports a bad duration deep inside arrays (the filters.md example)", () => {
    const bad = "{\"max_tokens\":5,\"tokens_per_fill\":5,\"fill_interval\":\"60\"}";
    const text = "{\"rules\":[" + rule("a", LIMIT) + "," + rule("b", LIMIT) + "," + rule("c", bad) + "]}";
    expect<string>(readRateLimit(text)).toBe("rules[2].limits[0].fill_interval: expected a duration like \"60s\"");
  });

  it("rejects unknown fields, before reading the object's fields", () => {
    const typo = "{\"max_tokens\":5,\"tokens_per_fill\":5,\"fill_intervall\":\"60s\"}";
    expect<string>(readRateLimit("{\"rules\":[" + rule("a", typo) + "]}")).toBe("rules[0].limits[0].fill_intervall: unknown field");
    expect<string>(readRateLimit("{\"rules\":[" + rule("a", LIMIT) + "],\"enforced\":false}")).toBe("enforced: unknown field");
    expect<string>(readRateLimit("{\"rules\":[{\"name\":\"a\",\"match\":{\"prefx\":\"/\"},\"limits\":[" + LIMIT + "]}]}"))
      .toBe("rules[0].match.prefx: unknown field");
  });

  it("reports missing required fields and wrong types", () => {
    expect<string>(readRateLimit("{}")).toBe("rules: missing required field");
    expect<string>(readRateLimit("{\"rules\":[]}")).toBe("rules: expected a non-empty array");
    expect<string>(readRateLimit("{\"rules\":{}}")).toBe("rules: expected an array");
    expect<string>(readRateLimit("{\"rules\":[7]}")).toBe("rules[0]: expected an object");
    expect<string>(readRateLimit("{\"rules\":[{\"limits\":[" + LIMIT + "]}]}")).toBe("rules[0].name: missing required field");
    expect<string>(readRateLimit("{\"rules\":[" + rule("", LIMIT) + "]}")).toBe("rules[0].name: expected a non-empty string");
    expect<string>(readRateLimit("{\"rules\":[{\"name\":1,\"limits\":[]}]}")).toBe("rules[0].name: expected a non-empty string");
    expect<string>(readRateLimit("{\"enforce\":\"yes\",\"rules\":[" + rule("a", LIMIT) + "]}")).toBe("enforce: expected true or false");
    expect<string>(readRateLimit("{\"rules\":[{\"name\":\"a\",\"match\":[],\"limits\":[" + LIMIT + "]}]}")).toBe("rules[0].match: expected an object");
  });

  it("checks integer ranges and integrality", () => {
    const withStatus = (s: string): string => readRateLimit("{\"status\":" + s + ",\"rules\":[" + rule("a", LIMIT) + "]}");
    expect<string>(withStatus("429")).toBe("");
    expect<string>(withStatus("4.29e2")).toBe("");
    expect<string>(withStatus("99")).toBe("status: expected an integer between 200 and 599");
    expect<string>(withStatus("429.5")).toBe("status: expected an integer between 200 and 599");
    expect<string>(withStatus("\"429\"")).toBe("status: expected an integer between 200 and 599");
    const zeroTokens = "{\"max_tokens\":0,\"tokens_per_fill\":5,\"fill_interval\":\"60s\"}";
    expect<string>(readRateLimit("{\"rules\":[" + rule("a", zeroTokens) + "]}")).toBe("rules[0].limits[0].max_tokens: expected an integer between 1 and 4294967295");
  });

  it("checks duration ranges", () => {
    const tiny = "{\"max_tokens\":5,\"tokens_per_fill\":5,\"fill_interval\":\"0.0001s\"}";
    expect<string>(readRateLimit("{\"rules\":[" + rule("a", tiny) + "]}")).toBe("rules[0].limits[0].fill_interval: expected a duration of at least 0.001s");
    const number = "{\"max_tokens\":5,\"tokens_per_fill\":5,\"fill_interval\":60}";
    expect<string>(readRateLimit("{\"rules\":[" + rule("a", number) + "]}")).toBe("rules[0].limits[0].fill_interval: expected a duration like \"60s\"");
  });

  it("keeps the first error only", () => {
    const text = "{\"rules\":[{\"name\":\"\",\"limits\":[{\"max_tokens\":-1,\"tokens_per_fill\":5,\"fill_interval\":\"x\"}]}]}";
    expect<string>(readRateLimit(text)).toBe("rules[0].name: expected a non-empty string");
  });

  it("reports JSON syntax errors with line and column", () => {
    expect<string>(readRateLimit("{\n  \"rules\": [1,]\n}")).toBe("invalid JSON: trailing comma (line 2, column 14)");
    expect<string>(readRateLimit("{\"a\":1,\"a\":2}")).toBe("invalid JSON: duplicate member name \"a\" (line 1, column 8)");
    expect<string>(readRateLimit("[]")).toBe("expected a JSON object at the top level");
    expect<string>(readRateLimit("")).toBe("configuration is empty, expected a JSON object");
    const empty = ConfigReader.fromString("", true);
    empty.root(["rules"]);
    expect<bool>(empty.ok).toBe(true);
  });

  it("treats null as absent", () => {
    expect<string>(readRateLimit("{\"stat_prefix\":null,\"rules\":[" + rule("a", LIMIT) + "]}")).toBe("");
    expect<string>(readRateLimit("{\"rules\":null}")).toBe("rules: missing required field");
  });

  it("reports a filter reading a field it did not declare", () => {
    const reader = ConfigReader.fromString("{\"a\":1}");
    reader.root(["a"]).optionalInteger("b", 0);
    expect<string>(reader.error).toBe("b: internal error: field read but not declared");
  });
});

describe("ConfigReader: typed getters", () => {
  it("reads strings, numbers, enums and lists", () => {
    const reader = ConfigReader.fromString(
      "{\"s\":\"x\",\"ratio\":0.2,\"mode\":\"allow\",\"methods\":[\"GET\",\"HEAD\"],\"codes\":[500,502],\"timeout\":\"1.5s\"}");
    const o = reader.root(["s", "ratio", "mode", "methods", "codes", "timeout", "absent"]);
    expect<string>(o.requiredString("s")).toBe("x");
    expect<string>(o.optionalString("absent", "def")).toBe("def");
    expect<f64>(o.requiredNumber("ratio", 0, 1)).toBe(0.2);
    expect<f64>(o.optionalNumber("absent", 7.5)).toBe(7.5);
    expect<i32>(o.enumString("mode", ["deny", "allow"], 0)).toBe(1);
    expect<i32>(o.enumString("absent", ["deny", "allow"], 0)).toBe(0);
    const methods = o.stringList("methods");
    expect<i32>(methods.length).toBe(2);
    expect<string>(methods[1]).toBe("HEAD");
    expect<i32>(o.stringList("absent").length).toBe(0);
    const codes = o.integerList("codes", 100, 599);
    expect<i64>(codes[1]).toBe(502);
    const timeout = o.requiredDuration("timeout");
    expect<i64>(timeout.totalMilliseconds).toBe(1500);
    expect<i64>(o.optionalDuration("absent", Duration.fromMilliseconds(20)).totalMilliseconds).toBe(20);
    expect<bool>(o.has("absent")).toBe(false);
    expect<bool>(reader.ok).toBe(true);
  });

  it("reports enum, number and list item errors", () => {
    let reader = ConfigReader.fromString("{\"mode\":\"maybe\"}");
    reader.root(["mode"]).enumString("mode", ["allow", "deny"], 1);
    expect<string>(reader.error).toBe("mode: expected one of \"allow\", \"deny\"");
    reader = ConfigReader.fromString("{\"ratio\":1.5}");
    reader.root(["ratio"]).requiredNumber("ratio", 0, 1);
    expect<string>(reader.error).toBe("ratio: expected a number between 0 and 1");
    reader = ConfigReader.fromString("{\"methods\":[\"GET\",3]}");
    reader.root(["methods"]).stringList("methods");
    expect<string>(reader.error).toBe("methods[1]: expected a non-empty string");
    reader = ConfigReader.fromString("{\"codes\":[500,99]}");
    reader.root(["codes"]).integerList("codes", 100, 599);
    expect<string>(reader.error).toBe("codes[1]: expected an integer between 100 and 599");
    reader = ConfigReader.fromString("{}");
    reader.root(["methods"]).stringList("methods", 1);
    expect<string>(reader.error).toBe("methods: missing required field");
  });

  it("writes number bounds as f64.toString() does", () => {
    expect<string>(numberError(0, 0.2)).toBe("expected a number between 0 and 0.2");
    expect<string>(numberError(-2.5, 100)).toBe("expected a number between -2.5 and 100");
    expect<string>(numberError(0.001, 1000000)).toBe("expected a number between 0.001 and 1000000");
    expect<string>(numberError(0.123456789, 1e14)).toBe("expected a number between 0.123456789 and 100000000000000");
    expect<string>(numberError(1e-9, Infinity)).toBe("expected a number of at least 1e-9");
    expect<string>(numberError(-Infinity, 1e300)).toBe("expected a number of at most 1e+300");
  });

  it("reads maps of objects with the names in the path", () => {
    const reader = ConfigReader.fromString(
      "{\"providers\":{\"eva\":{\"issuer\":\"https://a\"},\"my provider\":{\"issuer\":\"\"}}}");
    const providers = reader.root(["providers"]).map("providers", 1);
    expect<i32>(providers.length).toBe(2);
    expect<string>(providers.keyAt(0)).toBe("eva");
    expect<string>(providers.objectAt(0, ["issuer"]).requiredString("issuer")).toBe("https://a");
    expect<bool>(reader.ok).toBe(true);
    providers.objectAt(1, ["issuer"]).requiredString("issuer");
    expect<string>(reader.error).toBe("providers[\"my provider\"].issuer: expected a non-empty string");
  });

  it("reads maps of strings", () => {
    const reader = ConfigReader.fromString("{\"headers\":{\"content-type\":\"application/json\",\"x-a\":1}}");
    const headers = reader.root(["headers"]).map("headers");
    expect<string>(headers.stringAt(0)).toBe("application/json");
    expect<string>(headers.pathAt(0)).toBe("headers.content-type");
    headers.stringAt(1);
    expect<string>(reader.error).toBe("headers.x-a: expected a string");
  });

  it("checks exactly-one-of and at-most-one-of", () => {
    let reader = ConfigReader.fromString("{\"p\":{\"local_jwks\":{},\"remote_jwks\":{}}}");
    let p = reader.root(["p"]).requiredObject("p", ["local_jwks", "remote_jwks"]);
    expect<i32>(p.exactlyOneOf(["local_jwks", "remote_jwks"])).toBe(-1);
    expect<string>(reader.error).toBe("p: expected exactly one of \"local_jwks\", \"remote_jwks\"");
    reader = ConfigReader.fromString("{\"p\":{}}");
    p = reader.root(["p"]).requiredObject("p", ["local_jwks", "remote_jwks"]);
    expect<i32>(p.exactlyOneOf(["local_jwks", "remote_jwks"])).toBe(-1);
    expect<bool>(reader.ok).toBe(false);
    reader = ConfigReader.fromString("{\"p\":{\"remote_jwks\":{}}}");
    p = reader.root(["p"]).requiredObject("p", ["local_jwks", "remote_jwks"]);
    expect<i32>(p.exactlyOneOf(["local_jwks", "remote_jwks"])).toBe(1);
    expect<i32>(p.atMostOneOf(["local_jwks", "remote_jwks"])).toBe(1);
    expect<bool>(reader.ok).toBe(true);
  });

  it("lets a filter add its own rules at a path", () => {
    const reader = ConfigReader.fromString("{\"limits\":[{\"max_tokens\":5,\"tokens_per_fill\":9}]}");
    const limit = reader.root(["limits"]).requiredArray("limits").objectAt(0, ["max_tokens", "tokens_per_fill"]);
    if (limit.requiredInteger("tokens_per_fill") > limit.requiredInteger("max_tokens")) {
      limit.fail("tokens_per_fill", "must not exceed max_tokens");
    }
    expect<string>(reader.error).toBe("limits[0].tokens_per_fill: must not exceed max_tokens");
  });

  it("formats member paths", () => {
    expect<string>(memberPath("", "rules")).toBe("rules");
    expect<string>(memberPath("a", "b_c-d2")).toBe("a.b_c-d2");
    expect<string>(memberPath("a", "2x")).toBe("a[\"2x\"]");
    expect<string>(memberPath("a", "x\"y")).toBe("a[\"x\\\"y\"]");
    expect<string>(memberPath("a", "")).toBe("a[\"\"]");
  });
});

// The error for a number outside [min, max].
function numberError(min: f64, max: f64): string {
  const reader = ConfigReader.fromString("{\"x\":\"text\"}");
  reader.root(["x"]).requiredNumber("x", min, max);
  return reader.error.substring(3);
}
