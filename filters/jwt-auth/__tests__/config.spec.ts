import { ALL_ALGS, Alg, algIn } from "../algorithms";
import { ConfigReader, ConfigResult } from "../../../assembly/config";
import { JwtAuthConfig, RequirementKind, parseConfig } from "../config";
import { LocationKind } from "../extractor";
import { octJwks } from "./helpers";

/** `parseConfig` of configuration text. */
function parseText(text: string): ConfigResult<JwtAuthConfig> {
  return parseConfig(ConfigReader.fromString(text));
}

const JWKS = octJwks().replaceAll("\"", "\\\"");
const LOCAL = "\"local_jwks\":{\"inline_string\":\"" + JWKS + "\"}";
const REMOTE = "\"remote_jwks\":{\"http_uri\":{\"uri\":\"http://jwks.internal:8080/.well-known/jwks.json\",\"cluster\":\"jwks\"}}";
const RULE = "\"rules\":[{\"match\":{\"prefix\":\"/\"},\"requires\":{\"provider_name\":\"eva\"}}]";

function config(provider: string, rest: string = RULE): string {
  return "{\"providers\":{\"eva\":{" + provider + "}}," + rest + "}";
}

function error(text: string): string {
  return parseText(text).error;
}

function ok(text: string): JwtAuthConfig {
  const result = parseText(text);
  expect(result.error).toBe("");
  return result.config!;
}

describe("config: a valid configuration", () => {
  it("takes Envoy's defaults where fields are left out", () => {
    const c = ok(config(LOCAL));
    const p = c.providers[0];
    expect(p.name).toBe("eva");
    expect(p.forward).toBe(false);
    expect(p.clockSkewSeconds).toBe(60);
    expect(p.requireExpiration).toBe(false);
    expect(p.algorithms).toBe(ALL_ALGS);
    // extractor.cc defaults: Authorization: Bearer, then ?access_token=
    expect(p.locations.length).toBe(2);
    expect(p.locations[0].kind).toBe(LocationKind.Header);
    expect(p.locations[0].name.name).toBe("authorization");
    expect(p.locations[1].kind).toBe(LocationKind.Param);
    expect(c.maxTokenBytes).toBe(8192);
    expect(c.cacheMaxEntries).toBe(1000);
    expect(c.allowWhenJwksUnavailable).toBe(false);
    expect(c.bypassCorsPreflight).toBe(false);
    expect(c.forwardUnverified).toBe(false);
    expect(ok("{\"providers\":{\"eva\":{" + LOCAL + "}},\"forward_unverified\":true," + RULE + "}").forwardUnverified).toBe(true);
  });

  it("lists the token sources of each rule's providers, shared by providers reading the same place, headers first", () => {
    const svc = "\"svc\":{" + LOCAL + ",\"from_headers\":[{\"name\":\"Authorization\",\"value_prefix\":\"Bearer \"},{\"name\":\"x-service-token\"}]," +
      "\"from_cookies\":[\"session\"]}";
    const rules = "\"rules\":[{\"requires\":{\"requires_any\":[{\"provider_name\":\"eva\"},{\"provider_name\":\"svc\"}]}}," +
      "{\"requires\":{\"requires_any\":[{\"provider_name\":\"svc\"},{\"allow_missing_or_failed\":true}]}}," +
      "{\"requires\":{\"requires_all\":[{\"provider_name\":\"eva\"},{\"requires_any\":[{\"provider_name\":\"svc\"},{\"allow_missing_or_failed\":true}]}]}}," +
      "{\"match\":{\"prefix\":\"/health\"}}]";
    const c = ok("{\"providers\":{\"eva\":{" + LOCAL + "}," + svc + "}," + rules + "}");
    const eva = c.providers[0];
    const both = c.rules[0].sources;
    expect(both.length).toBe(4);
    expect(both[0].source).toBe(eva.locations[0].source); // authorization: eva's default, and svc's
    expect(both[0].readers.length).toBe(2);
    expect(both[1].source.name.name).toBe("x-service-token");
    expect(both[2].source.kind).toBe(LocationKind.Param);
    expect(both[3].source.kind).toBe(LocationKind.Cookie);
    expect(both[0].tolerated).toBe(false);
    // svc alone, under allow_missing_or_failed: its failures are tolerated
    expect(c.rules[1].sources.length).toBe(3);
    expect(c.rules[1].sources[0].tolerated).toBe(true);
    // authorization is read by eva (required) too: not tolerated there; x-service-token is
    const nested = c.rules[2].sources;
    expect(nested[0].tolerated).toBe(false);
    expect(nested[1].tolerated).toBe(true);
    expect(c.rules[3].sources.length).toBe(0);
  });

  it("reads remote_jwks into the call it makes", () => {
    const remote = ok(config(REMOTE)).providers[0].remote!;
    expect(remote.cluster).toBe("jwks");
    expect(remote.authority).toBe("jwks.internal:8080");
    expect(remote.path).toBe("/.well-known/jwks.json");
    expect(remote.timeoutMs).toBe(1000);
    expect(remote.cacheDurationMs).toBe(600000);
  });

  it("collects the headers it writes (lower case, once each) for removal from incoming requests", () => {
    const c = ok(config(LOCAL + ",\"forward_payload_header\":\"X-Jwt-Payload\",\"claim_to_headers\":[" +
      "{\"claim_name\":\"sub\",\"header_name\":\"x-user-id\"},{\"claim_name\":\"tier\",\"header_name\":\"X-User-Id\"}]"));
    expect(c.sanitizedHeaders.length).toBe(2);
    expect(c.sanitizedHeaders[0].name).toBe("x-jwt-payload");
    expect(c.sanitizedHeaders[1].name).toBe("x-user-id");
    // Every writer of a name knows its slot (the request's write mask), duplicates included.
    const p = c.providers[0];
    expect(p.forwardPayloadHeader!.sanitizedIndex).toBe(0);
    expect(p.claimToHeaders[0].header.sanitizedIndex).toBe(1);
    expect(p.claimToHeaders[1].header.sanitizedIndex).toBe(1);
    expect(p.locations[0].name.sanitizedIndex).toBe(-1);
    expect(c.sanitizeFirst).toBe(false);
  });

  it("sanitizes first when a rule matches on a header it writes (a forged copy must not match)", () => {
    const claims = LOCAL + ",\"claim_to_headers\":[{\"claim_name\":\"sub\",\"header_name\":\"x-user-id\"}]";
    const reads = "\"rules\":[{\"match\":{\"headers\":[{\"name\":\"X-User-Id\",\"present\":true}]}},{\"requires\":{\"provider_name\":\"eva\"}}]";
    expect(ok(config(claims, reads)).sanitizeFirst).toBe(true);
    const other = "\"rules\":[{\"match\":{\"headers\":[{\"name\":\"x-tenant\",\"present\":true}]}},{\"requires\":{\"provider_name\":\"eva\"}}]";
    expect(ok(config(claims, other)).sanitizeFirst).toBe(false);
  });

  it("numbers claim requirements for the per-token memo", () => {
    const rules = "\"rules\":[{\"requires\":{\"provider_name\":\"eva\",\"claims\":[{\"name\":\"a\",\"any_of\":[\"x\"]},{\"name\":\"b\",\"all_of\":[\"y\"]}]}}," +
      "{\"requires\":{\"requires_any\":[{\"provider_name\":\"eva\",\"claims\":[{\"name\":\"c\",\"any_of\":[\"z\"]}]}]}}]";
    const c = ok(config(LOCAL, rules));
    expect(c.claimRequirementCount).toBe(3);
    expect(c.rules[0].requires!.claims[1].index).toBe(1);
    expect(c.rules[1].requires!.children[0].claims[0].index).toBe(2);
  });

  it("narrows algorithms and reads subjects", () => {
    const p = ok(config(LOCAL + ",\"algorithms\":[\"RS256\",\"EdDSA\"],\"subjects\":{\"prefix\":\"spiffe://mesh/\"}")).providers[0];
    expect(algIn(p.algorithms, Alg.RS256)).toBe(true);
    expect(algIn(p.algorithms, Alg.EdDSA)).toBe(true);
    expect(algIn(p.algorithms, Alg.HS256)).toBe(false);
    expect(p.subjects!.isPrefix).toBe(true);
  });

  it("folds allow_missing inside requires_any into the list, as Envoy's AnyVerifier does", () => {
    const c = ok(config(LOCAL, "\"rules\":[{\"requires\":{\"requires_any\":[{\"provider_name\":\"eva\"},{\"allow_missing\":true}]}}," +
      "{\"requires\":{\"allow_missing_or_failed\":true}}]"));
    const any = c.rules[0].requires!;
    expect(any.kind).toBe(RequirementKind.Any);
    expect(any.children.length).toBe(1);
    expect(any.allowMissing).toBe(true);
    const lone = c.rules[1].requires!;
    expect(lone.allowMissingOrFailed).toBe(true);
    expect(lone.children.length).toBe(1); // every provider
  });
});

describe("config: every rejection names the JSON path and the reason", () => {
  it("structure", () => {
    expect(error("")).toBe("configuration is empty, expected a JSON object");
    expect(error("{")).toBe("invalid JSON: unexpected end of input, expected a member name (line 1, column 2)");
    expect(error("{\"rules\":[{}]}")).toBe("providers: missing required field");
    expect(error("{\"providers\":{}," + RULE + "}")).toBe("providers: expected at least 1 entries");
    expect(error("{\"providrs\":{}}")).toBe("providrs: unknown field");
    expect(error(config(LOCAL, "\"rules\":[]"))).toBe("rules: expected a non-empty array");
    expect(error(config(LOCAL + ",\"isuer\":\"x\""))).toBe("providers.eva.isuer: unknown field");
    expect(error("{\"providers\":{\"e-va\":{" + LOCAL + "}}," + RULE + "}")).toBe(
      "providers.e-va: provider names may hold letters, digits and '_' only (they name metrics)");
  });

  it("keys", () => {
    expect(error(config("\"issuer\":\"x\""))).toBe("providers.eva: expected exactly one of \"local_jwks\", \"remote_jwks\"");
    expect(error(config(LOCAL + "," + REMOTE))).toBe("providers.eva: expected exactly one of \"local_jwks\", \"remote_jwks\"");
    expect(error(config("\"local_jwks\":{\"inline_string\":\"{}\"}"))).toBe("providers.eva.local_jwks.inline_string: Jwks does not have [keys] field");
    expect(error(config("\"local_jwks\":{\"filename\":\"/etc/jwks.json\"}"))).toBe("providers.eva.local_jwks.filename: unknown field");
    expect(error(config("\"local_jwks\":{\"inline_string\":\"{\\\"keys\\\":[{\\\"kty\\\":\\\"oct\\\",\\\"k\\\":\\\"AAAA\\\"}]}\"}"))).toBe(
      "providers.eva.local_jwks.inline_string: keys[0]: [k] is shorter than 32 bytes, the least HS256 accepts");
    expect(error(config("\"remote_jwks\":{\"http_uri\":{\"uri\":\"jwks.internal/keys\",\"cluster\":\"jwks\"}}"))).toBe(
      "providers.eva.remote_jwks.http_uri.uri: expected an absolute http:// or https:// URI");
    expect(error(config("\"remote_jwks\":{\"http_uri\":{\"uri\":\"http://x/\"}}"))).toBe("providers.eva.remote_jwks.http_uri.cluster: missing required field");
    expect(error(config("\"remote_jwks\":{\"http_uri\":{\"uri\":\"http://x/\",\"cluster\":\"j\",\"timeout\":\"1\"}}"))).toBe(
      "providers.eva.remote_jwks.http_uri.timeout: expected a duration like \"60s\"");
    expect(error(config("\"remote_jwks\":{\"http_uri\":{\"uri\":\"http://x/\",\"cluster\":\"j\"},\"cache_duration\":\"0.5s\"}"))).toBe(
      "providers.eva.remote_jwks.cache_duration: expected a duration of at least 1s");
    expect(error(config("\"remote_jwks\":{\"http_uri\":{\"uri\":\"http://x/\",\"cluster\":\"j\"},\"async_fetch\":{}}"))).toBe(
      "providers.eva.remote_jwks.async_fetch: unknown field");
  });

  it("provider fields", () => {
    expect(error(config(LOCAL + ",\"algorithms\":[\"RS256\",\"none\"]"))).toBe(
      "providers.eva.algorithms[1]: expected one of \"HS256\", \"HS384\", \"HS512\", \"RS256\", \"RS384\", \"RS512\", \"PS256\", \"PS384\", \"PS512\", \"ES256\", \"ES384\", \"EdDSA\"");
    expect(error(config(LOCAL + ",\"clock_skew_seconds\":-1"))).toBe("providers.eva.clock_skew_seconds: expected an integer between 0 and 86400");
    expect(error(config(LOCAL + ",\"forward\":\"no\""))).toBe("providers.eva.forward: expected true or false");
    expect(error(config(LOCAL + ",\"subjects\":{\"prefix\":\"a\",\"exact\":\"b\"}"))).toBe("providers.eva.subjects: expected exactly one of \"prefix\", \"exact\"");
    expect(error(config(LOCAL + ",\"from_headers\":[{\"name\":\"bad header\"}]"))).toBe("providers.eva.from_headers[0].name: expected an HTTP header name");
    expect(error(config(LOCAL + ",\"claim_to_headers\":[{\"claim_name\":\"sub\",\"header_name\":\"Authorization\"}]"))).toBe(
      "providers.eva.claim_to_headers[0].header_name: \"authorization\" is a header tokens are read from (providers.eva)");
    expect(error(config(LOCAL + ",\"claim_to_headers\":[{\"claim_name\":\"sub\"}]"))).toBe("providers.eva.claim_to_headers[0].header_name: missing required field");
  });

  it("root fields", () => {
    expect(error("{\"providers\":{\"eva\":{" + LOCAL + "}},\"max_token_bytes\":10," + RULE + "}")).toBe(
      "max_token_bytes: expected an integer between 256 and 1048576");
    expect(error("{\"providers\":{\"eva\":{" + LOCAL + "}},\"on_jwks_unavailable\":\"open\"," + RULE + "}")).toBe(
      "on_jwks_unavailable: expected one of \"deny\", \"allow\"");
    expect(error("{\"providers\":{\"eva\":{" + LOCAL + "}},\"cache\":{\"max_entries\":-1}," + RULE + "}")).toBe(
      "cache.max_entries: expected an integer between 0 and 1000000");
    expect(error("{\"providers\":{\"eva\":{" + LOCAL + "}},\"forward_unverified\":\"yes\"," + RULE + "}")).toBe(
      "forward_unverified: expected true or false");
    expect(error("{\"providers\":{\"eva\":{" + LOCAL + "}},\"forward_unverifed\":true," + RULE + "}")).toBe("forward_unverifed: unknown field");
  });

  it("rules and requirements", () => {
    expect(error(config(LOCAL, "\"rules\":[{\"match\":{\"prefx\":\"/\"}}]"))).toBe("rules[0].match.prefx: unknown field");
    expect(error(config(LOCAL, "\"rules\":[{\"requires\":{\"provider_name\":\"evaa\"}}]"))).toBe("rules[0].requires.provider_name: no provider named \"evaa\"");
    expect(error(config(LOCAL, "\"rules\":[{\"requires\":{}}]"))).toBe(
      "rules[0].requires: expected exactly one of \"provider_name\", \"requires_any\", \"requires_all\", \"allow_missing\", \"allow_missing_or_failed\"");
    expect(error(config(LOCAL, "\"rules\":[{\"requires\":{\"allow_missing\":false}}]"))).toBe("rules[0].requires.allow_missing: expected true (leave the field out otherwise)");
    expect(error(config(LOCAL, "\"rules\":[{\"requires\":{\"requires_any\":[{\"provider_name\":\"eva\"}],\"claims\":[]}}]"))).toBe(
      "rules[0].requires.claims: only allowed with provider_name");
    expect(error(config(LOCAL, "\"rules\":[{\"requires\":{\"requires_all\":[{\"provider_name\":\"eva\",\"claims\":[{\"name\":\"scope\",\"all_of\":[]}]}]}}]"))).toBe(
      "rules[0].requires.requires_all[0].claims[0].all_of: expected a non-empty array");
    expect(error(config(LOCAL, "\"rules\":[{\"requires\":{\"provider_name\":\"eva\",\"claims\":[{\"name\":\"scope\",\"all_of\":[\"a\"],\"any_of\":[\"b\"]}]}}]"))).toBe(
      "rules[0].requires.claims[0]: expected exactly one of \"all_of\", \"any_of\"");
    let deep = "{\"provider_name\":\"eva\"}";
    for (let i = 0; i < 9; i++) deep = "{\"requires_all\":[" + deep + "]}";
    expect(error(config(LOCAL, "\"rules\":[{\"requires\":" + deep + "}]"))).toBe(
      "rules[0].requires.requires_all[0].requires_all[0].requires_all[0].requires_all[0].requires_all[0].requires_all[0].requires_all[0].requires_all[0]: requirements nest deeper than 8 levels");
  });
});
