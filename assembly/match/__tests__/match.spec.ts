import { ConfigReader } from "../../config";
import { HeaderList, HeaderMatchKind, RequestHeaders, RequestMatch, pathLength, readMatch } from "..";

let lastError: string = "";

/** Parses `{"match": <json>}` (or `{}` when json is empty); records the reader's error in lastError. */
function parse(json: string): RequestMatch {
  const reader = ConfigReader.fromString(json.length > 0 ? "{\"match\":" + json + "}" : "{}");
  const m = readMatch(reader.root(["match"]));
  lastError = reader.error;
  return m;
}

function req(path: string, method: string = "GET"): HeaderList {
  return new HeaderList(path, method);
}

/** Counts the calls a matcher makes, to show it asks only for what it needs. */
class CountingRequest extends RequestHeaders {
  paths: i32 = 0;
  methods: i32 = 0;
  headers: i32 = 0;
  path(): string { this.paths++; return "/api/x?y=1"; }
  method(): string { this.methods++; return "GET"; }
  header(name: string): string | null { this.headers++; return name == "x-a" ? "1" : null; }
}

describe("RequestMatch: path conditions", () => {
  it("matches everything when missing or empty", () => {
    expect<bool>(parse("").matchesAll).toBe(true);
    expect<bool>(parse("{}").matchesAll).toBe(true);
    expect<bool>(parse("{}").matches(req("/anything", "DELETE"))).toBe(true);
    expect<string>(lastError).toBe("");
  });

  it("prefix compares the path without query or fragment", () => {
    const m = parse("{\"prefix\":\"/api/credit\"}");
    expect<bool>(m.matches(req("/api/credit"))).toBe(true);
    expect<bool>(m.matches(req("/api/credit-bureau/x"))).toBe(true);
    expect<bool>(m.matches(req("/api/cred"))).toBe(false);
    expect<bool>(m.matches(req("/api/cred?it=1"))).toBe(false);
    expect<bool>(m.matches(req("/API/credit"))).toBe(false);
    expect<bool>(m.matches(req(""))).toBe(false);
  });

  it("path is exact, query and fragment excluded", () => {
    const m = parse("{\"path\":\"/health\"}");
    expect<bool>(m.matches(req("/health"))).toBe(true);
    expect<bool>(m.matches(req("/health?full=1"))).toBe(true);
    expect<bool>(m.matches(req("/health#top"))).toBe(true);
    expect<bool>(m.matches(req("/healthz"))).toBe(false);
    expect<bool>(m.matches(req("/heal"))).toBe(false);
  });

  it("suffix compares the end of the path before the query", () => {
    const m = parse("{\"suffix\":\".json\"}");
    expect<bool>(m.matches(req("/a/b.json"))).toBe(true);
    expect<bool>(m.matches(req("/a/b.json?x=.xml"))).toBe(true);
    expect<bool>(m.matches(req("/a/b.xml?x=.json"))).toBe(false);
    expect<bool>(m.matches(req("json"))).toBe(false);
  });

  it("requires all path conditions together", () => {
    const m = parse("{\"prefix\":\"/api/\",\"suffix\":\"/status\"}");
    expect<bool>(m.matches(req("/api/v1/status"))).toBe(true);
    expect<bool>(m.matches(req("/api/v1/other"))).toBe(false);
    expect<bool>(m.matches(req("/web/status"))).toBe(false);
  });

  it("finds the end of the path at the first ? or #", () => {
    expect<i32>(pathLength("/a?b#c")).toBe(2);
    expect<i32>(pathLength("/a#b?c")).toBe(2);
    expect<i32>(pathLength("/abc")).toBe(4);
    expect<i32>(pathLength("?")).toBe(0);
  });
});

describe("RequestMatch: methods and headers", () => {
  it("methods lists the accepted methods, case-sensitive", () => {
    const m = parse("{\"prefix\":\"/api/transactions\",\"methods\":[\"POST\",\"PUT\"]}");
    expect<bool>(m.matches(req("/api/transactions", "POST"))).toBe(true);
    expect<bool>(m.matches(req("/api/transactions/1", "PUT"))).toBe(true);
    expect<bool>(m.matches(req("/api/transactions", "GET"))).toBe(false);
    expect<bool>(m.matches(req("/api/transactions", "post"))).toBe(false);
    expect<bool>(m.matches(req("/other", "POST"))).toBe(false);
  });

  it("header conditions: exact, prefix, present, absent", () => {
    const m = parse("{\"headers\":[{\"name\":\"X-User-Tier\",\"exact\":\"premium\"},{\"name\":\"authorization\",\"prefix\":\"Bearer \"},{\"name\":\"x-id\",\"present\":true},{\"name\":\"x-debug\",\"absent\":true}]}");
    expect<string>(lastError).toBe("");
    expect<i32>(m.headers[0].kind).toBe(HeaderMatchKind.Exact);
    expect<string>(m.headers[0].name).toBe("x-user-tier");
    const good = req("/").add("x-user-tier", "premium").add("authorization", "Bearer abc").add("x-id", "");
    expect<bool>(m.matches(good)).toBe(true);
    expect<bool>(m.matches(req("/").add("x-user-tier", "premium2").add("authorization", "Bearer abc").add("x-id", "1"))).toBe(false);
    expect<bool>(m.matches(req("/").add("x-user-tier", "premium").add("authorization", "Basic abc").add("x-id", "1"))).toBe(false);
    expect<bool>(m.matches(req("/").add("x-user-tier", "premium").add("authorization", "Bearer abc"))).toBe(false);
    expect<bool>(m.matches(req("/").add("x-user-tier", "premium").add("authorization", "Bearer abc").add("x-id", "1").add("x-debug", "1"))).toBe(false);
  });

  it("an exact header condition sees repeated headers joined with commas, as Envoy does", () => {
    const m = parse("{\"headers\":[{\"name\":\"x-a\",\"exact\":\"1\"}]}");
    expect<bool>(m.matches(req("/").add("x-a", "1"))).toBe(true);
    expect<bool>(m.matches(req("/").add("x-a", "1").add("x-a", "2"))).toBe(false);
  });

  it("asks the request only for what its conditions need, method first", () => {
    const m = parse("{\"methods\":[\"POST\"],\"prefix\":\"/api\",\"headers\":[{\"name\":\"x-a\",\"present\":true}]}");
    const r = new CountingRequest();
    expect<bool>(m.matches(r)).toBe(false);
    expect<i32>(r.methods).toBe(1);
    expect<i32>(r.paths).toBe(0);
    expect<i32>(r.headers).toBe(0);
    const byPath = parse("{\"prefix\":\"/api\",\"headers\":[{\"name\":\"x-a\",\"exact\":\"1\"},{\"name\":\"x-b\",\"absent\":true}]}");
    const r2 = new CountingRequest();
    expect<bool>(byPath.matches(r2)).toBe(true);
    expect<i32>(r2.methods).toBe(0);
    expect<i32>(r2.paths).toBe(1);
    expect<i32>(r2.headers).toBe(2);
  });
});

describe("readMatch: configuration errors", () => {
  it("rejects unknown fields with their path", () => {
    parse("{\"prefixx\":\"/\"}");
    expect<string>(lastError).toBe("match.prefixx: unknown field");
    parse("{\"headers\":[{\"name\":\"a\",\"exact\":\"b\",\"regex\":\".*\"}]}");
    expect<string>(lastError).toBe("match.headers[0].regex: unknown field");
  });

  it("requires exactly one condition per header", () => {
    parse("{\"headers\":[{\"name\":\"a\"}]}");
    expect<string>(lastError).toBe("match.headers[0]: expected exactly one of \"exact\", \"prefix\", \"present\", \"absent\"");
    parse("{\"headers\":[{\"name\":\"a\",\"exact\":\"x\",\"present\":true}]}");
    expect<string>(lastError).toBe("match.headers[0]: expected exactly one of \"exact\", \"prefix\", \"present\", \"absent\"");
  });

  it("rejects present/absent false rather than guess", () => {
    parse("{\"headers\":[{\"name\":\"a\",\"present\":false}]}");
    expect<string>(lastError).toBe("match.headers[0].present: expected true (use \"absent\": true to match a missing header)");
    parse("{\"headers\":[{\"name\":\"a\",\"absent\":false}]}");
    expect<string>(lastError).toBe("match.headers[0].absent: expected true (use \"present\": true to match any value)");
  });

  it("checks types, names and methods", () => {
    parse("{\"prefix\":1}");
    expect<string>(lastError).toBe("match.prefix: expected a string");
    parse("{\"methods\":\"GET\"}");
    expect<string>(lastError).toBe("match.methods: expected an array");
    parse("{\"methods\":[\"GET\",\"BAD METHOD\"]}");
    expect<string>(lastError).toBe("match.methods[1]: expected an HTTP method");
    parse("{\"headers\":[{\"exact\":\"x\"}]}");
    expect<string>(lastError).toBe("match.headers[0].name: missing required field");
    parse("{\"headers\":[{\"name\":\"bad name\",\"present\":true}]}");
    expect<string>(lastError).toBe("match.headers[0].name: expected a header name");
    parse("{\"headers\":[{\"name\":\"a\",\"prefix\":\"\"}]}");
    expect<string>(lastError).toBe("match.headers[0].prefix: expected a non-empty string");
    parse("[]");
    expect<string>(lastError).toBe("match: expected an object");
  });

  it("accepts pseudo-header names", () => {
    const m = parse("{\"headers\":[{\"name\":\":authority\",\"exact\":\"api.example.com\"}]}");
    expect<string>(lastError).toBe("");
    expect<bool>(m.matches(req("/").add(":authority", "api.example.com"))).toBe(true);
  });
});
