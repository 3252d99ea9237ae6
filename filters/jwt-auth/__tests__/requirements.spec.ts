import { Authenticator } from "../authenticator";
import { ConfigReader, ConfigResult } from "../../../assembly/config";
import { JwtAuthConfig, Provider, Requirement, parseConfig } from "../config";
import { JwkSet, parseJwksString } from "../jwks";
import { KeySource, KeyWait, LocalKeys } from "../key-source";
import { Reason } from "../reasons";
import { Verdict, evaluateRule } from "../requirements";
import { Stats } from "../stats";
import { TokenCache } from "../token-cache";
import { MAX_CREDENTIALS } from "../extractor";
import { FakeRequest, SECRET, b64, octJwks, signHs } from "./helpers";

/** `parseConfig` of configuration text. */
function parseText(text: string): ConfigResult<JwtAuthConfig> {
  return parseConfig(ConfigReader.fromString(text));
}

const OTHER = "another-secret-for-services-32bytes!!";
const NOW_MS: i64 = 1_800_000_000_000;
const NOW: i64 = NOW_MS / 1000;

function escaped(jwks: string): string {
  return jwks.replaceAll("\"", "\\\"");
}

const PROVIDERS =
  "\"eva\":{\"issuer\":\"eva\",\"local_jwks\":{\"inline_string\":\"" + escaped(octJwks(SECRET, "e1")) + "\"}," +
  "\"claim_to_headers\":[{\"claim_name\":\"sub\",\"header_name\":\"x-user-id\"}],\"forward_payload_header\":\"x-jwt-payload\"}," +
  "\"svc\":{\"issuer\":\"svc\",\"local_jwks\":{\"inline_string\":\"" + escaped(octJwks(OTHER, "s1")) + "\"}," +
  "\"from_headers\":[{\"name\":\"x-service-token\"}],\"forward\":true,\"claim_to_headers\":[{\"claim_name\":\"serviceId\",\"header_name\":\"x-service-id\"}]}";

function configWith(requires: string, extra: string = ""): JwtAuthConfig {
  const result = parseText("{\"providers\":{" + PROVIDERS + "}" + extra + ",\"rules\":[{\"requires\":" + requires + "}]}");
  expect(result.error).toBe("");
  return result.config!;
}

function token(iss: string, claims: string = "", kid: string = "e1", secret: string = SECRET): string {
  const payload = "{\"iss\":\"" + iss + "\",\"sub\":\"alice\",\"exp\":" + (NOW + 600).toString() + claims + "}";
  return signHs("{\"alg\":\"HS256\",\"kid\":\"" + kid + "\"}", payload, secret);
}

const EVA = token("eva", ",\"permissions\":[\"credit:read\"]");
const SVC = token("svc", ",\"serviceId\":\"auth-service\"", "s1", OTHER);

class Run {
  readonly auth: Authenticator;
  readonly verdict: Verdict = new Verdict();
  constructor(readonly config: JwtAuthConfig, keys: KeySource = new LocalKeys()) {
    this.auth = new Authenticator(config, keys, new TokenCache(100), new Stats());
  }

  reason(request: FakeRequest, now: i64 = NOW_MS): Reason {
    const rule = this.config.rules[0];
    this.auth.begin(request, rule, now);
    evaluateRule(rule, this.auth, this.verdict);
    return this.verdict.reason;
  }

  /** Evaluates `request`, and applies the effects when allowed; returns the reason. */
  apply(request: FakeRequest): Reason {
    const reason = this.reason(request);
    if (reason == Reason.Ok) this.auth.applyEffects();
    return reason;
  }
}

function bearer(t: string): FakeRequest {
  return new FakeRequest().with("authorization", "Bearer " + t);
}

const run = new Run(configWith("{\"provider_name\":\"eva\",\"claims\":[{\"name\":\"permissions\",\"all_of\":[\"credit:read\"]}]}"));

describe("provider_name", () => {
  it("allows a verified token whose claims satisfy the requirement", () => {
    expect(run.reason(bearer(EVA))).toBe(Reason.Ok);
  });

  it("refuses missing, forged, foreign and insufficient tokens with their reasons", () => {
    expect(run.reason(new FakeRequest())).toBe(Reason.JwtMissing);
    expect(run.reason(bearer(token("eva", ",\"permissions\":[\"credit:read\"]", "e1", OTHER)))).toBe(Reason.JwtVerificationFailed);
    expect(run.reason(bearer(token("mallory")))).toBe(Reason.JwtUnknownIssuer);
    expect(run.reason(bearer(token("eva", "", "zz")))).toBe(Reason.JwksKidAlgMismatch);
    expect(run.reason(bearer(token("eva", ",\"permissions\":[\"credit:write\"]")))).toBe(Reason.JwtClaimsNotSatisfied);
  });

  it("checks a cached token again on every request: time moves on, claims are per rule", () => {
    expect(run.reason(bearer(EVA))).toBe(Reason.Ok);
    expect(run.reason(bearer(EVA), NOW_MS + 659_000)).toBe(Reason.Ok); // within exp + 60 s skew
    expect(run.reason(bearer(EVA), NOW_MS + 660_000)).toBe(Reason.JwtExpired);
    const strict = new Run(configWith("{\"provider_name\":\"eva\",\"claims\":[{\"name\":\"permissions\",\"all_of\":[\"admin\"]}]}"));
    expect(strict.reason(bearer(EVA))).toBe(Reason.JwtClaimsNotSatisfied);
  });

  it("needs every token it finds to verify (a good one cannot carry a bad one along)", () => {
    const request = new FakeRequest("/?access_token=" + token("eva", "", "e1", OTHER)).with("authorization", "Bearer " + EVA);
    expect(run.reason(request)).toBe(Reason.JwtVerificationFailed);
    const repeated = new FakeRequest("/?access_token=" + EVA + "&access_token=" + token("eva", "", "e1", OTHER));
    expect(run.reason(repeated)).toBe(Reason.JwtVerificationFailed);
    // the bad credential is told before the good one's missing permission (401, not 403)
    const weak = new FakeRequest("/?access_token=" + token("eva", "", "e1", OTHER)).with("authorization", "Bearer " + token("eva"));
    expect(run.reason(weak)).toBe(Reason.JwtVerificationFailed);
    expect(run.reason(bearer(token("eva")))).toBe(Reason.JwtClaimsNotSatisfied);
  });
});

describe("requires_any / requires_all / allow_missing", () => {
  it("any: the first passing child allows; all failing gives the most telling reason", () => {
    const run = new Run(configWith("{\"requires_any\":[{\"provider_name\":\"eva\"},{\"provider_name\":\"svc\"}]}"));
    expect(run.reason(new FakeRequest().with("x-service-token", SVC))).toBe(Reason.Ok);
    expect(run.reason(new FakeRequest())).toBe(Reason.JwtMissing);
    expect(run.verdict.provider).toBe(0);
    // eva sees an svc token in Authorization: unknown issuer; svc finds nothing: missing → unknown issuer wins
    expect(run.reason(bearer(SVC))).toBe(Reason.JwtUnknownIssuer);
    // a real error beats both
    expect(run.reason(bearer(token("eva", "", "e1", OTHER)))).toBe(Reason.JwtVerificationFailed);
    expect(run.verdict.provider).toBe(0);
  });

  it("any: a provider without a key for the token does not hide another provider's real refusal", () => {
    // both providers read Authorization and take any issuer: svc has no key "e1"
    const shared = parseText("{\"providers\":{\"eva\":{\"local_jwks\":{\"inline_string\":\"" + escaped(octJwks(SECRET, "e1")) + "\"}}," +
      "\"svc\":{\"local_jwks\":{\"inline_string\":\"" + escaped(octJwks(OTHER, "s1")) + "\"}}}," +
      "\"rules\":[{\"requires\":{\"requires_any\":[{\"provider_name\":\"eva\",\"claims\":[{\"name\":\"permissions\",\"all_of\":[\"admin\"]}]},{\"provider_name\":\"svc\"}]}}]}").config!;
    const run = new Run(shared);
    expect(run.reason(bearer(EVA))).toBe(Reason.JwtClaimsNotSatisfied);
    expect(run.verdict.provider).toBe(0);
  });

  it("allow_missing lets requests without tokens through, never bad tokens", () => {
    const run = new Run(configWith("{\"requires_any\":[{\"provider_name\":\"eva\"},{\"allow_missing\":true}]}"));
    expect(run.reason(new FakeRequest())).toBe(Reason.Ok);
    expect(run.reason(bearer(EVA))).toBe(Reason.Ok);
    expect(run.reason(bearer("not-a-token"))).toBe(Reason.JwtBadFormat);
    const lone = new Run(configWith("{\"allow_missing\":true}"));
    expect(lone.reason(new FakeRequest())).toBe(Reason.Ok);
    expect(lone.reason(new FakeRequest().with("x-service-token", "x.y.z"))).toBe(Reason.JwtHeaderBadBase64);
  });

  it("allow_missing_or_failed lets everything through but still verifies what it can, removing what failed", () => {
    const run = new Run(configWith("{\"allow_missing_or_failed\":true}"));
    const garbage = bearer("garbage").with("x-service-token", SVC);
    expect(run.apply(garbage)).toBe(Reason.Ok);
    expect(garbage.header("authorization")).toBeNull();
    expect(garbage.all("x-service-token")).toBe(SVC); // verified, svc forwards
    const request = bearer(EVA);
    expect(run.apply(request)).toBe(Reason.Ok);
    expect(request.all("x-user-id")).toBe("alice");
  });

  it("all: every child must pass", () => {
    const run = new Run(configWith("{\"requires_all\":[{\"provider_name\":\"eva\"},{\"provider_name\":\"svc\"}]}"));
    expect(run.reason(bearer(EVA).with("x-service-token", SVC))).toBe(Reason.Ok);
    expect(run.reason(bearer(EVA))).toBe(Reason.JwtMissing);
    expect(run.verdict.provider).toBe(1);
  });
});

describe("applyEffects", () => {
  it("writes claim and payload headers of each verified provider, removing tokens unless forward", () => {
    const run = new Run(configWith("{\"requires_all\":[{\"provider_name\":\"eva\"},{\"provider_name\":\"svc\"}]}"));
    const request = bearer(EVA).with("x-service-token", SVC);
    expect(run.reason(request)).toBe(Reason.Ok);
    run.auth.applyEffects();
    expect(request.all("x-user-id")).toBe("alice");
    expect(request.all("x-service-id")).toBe("auth-service");
    expect(request.all("x-jwt-payload")).toBe(EVA.split(".")[1]);
    expect(request.header("authorization")).toBeNull(); // eva: forward false
    expect(request.all("x-service-token")).toBe(SVC); // svc: forward true
  });

  it("replaces incoming copies on a header's first write, and reports what it wrote", () => {
    const run = new Run(configWith("{\"provider_name\":\"eva\"}"));
    const request = bearer(EVA).with("x-user-id", "forged").with("x-user-id", "forged2");
    expect(run.reason(request)).toBe(Reason.Ok);
    const written = run.auth.applyEffects();
    expect(request.all("x-user-id")).toBe("alice");
    expect(request.edits).toStrictEqual(["=x-jwt-payload", "=x-user-id", "-authorization"]);
    const config = run.config;
    const payload = config.providers[0].forwardPayloadHeader!.sanitizedIndex;
    const user = config.providers[0].claimToHeaders[0].header.sanitizedIndex;
    expect(written).toBe((<u64>1 << <u64>payload) | (<u64>1 << <u64>user));
  });

  it("adds, not replaces, a header written before in the same request", () => {
    const run = new Run(configWith("{\"provider_name\":\"eva\"}"));
    const request = bearer(EVA);
    expect(run.reason(request)).toBe(Reason.Ok);
    run.auth.applyEffects(u64.MAX_VALUE);
    expect(request.edits).toStrictEqual(["+x-jwt-payload", "+x-user-id", "-authorization"]);
  });
});

describe("memos of a verified token", () => {
  it("answers each claim requirement as the payload says, for cached tokens too", () => {
    const config = configWith("{\"provider_name\":\"eva\",\"claims\":[{\"name\":\"permissions\",\"all_of\":[\"credit:read\"]}]}");
    const run = new Run(config);
    const weak = token("eva");
    for (let i = 0; i < 3; i++) {
      expect(run.reason(bearer(EVA))).toBe(Reason.Ok);
      expect(run.reason(bearer(weak))).toBe(Reason.JwtClaimsNotSatisfied);
    }
  });

  it("checks audience once per token, still refusing on every request", () => {
    const config = configWith("{\"provider_name\":\"eva\"}");
    config.providers[0].audiences = ["other"];
    const run = new Run(config);
    for (let i = 0; i < 3; i++) expect(run.reason(bearer(EVA))).toBe(Reason.JwtAudienceNotAllowed);
    config.providers[0].audiences = [];
    const fresh = new Run(config);
    expect(fresh.reason(bearer(EVA))).toBe(Reason.Ok);
  });
});

/** A remote provider whose keys are not there: waiting, or unavailable. */
class NoKeys extends KeySource {
  constructor(readonly wait: KeyWait, readonly later: JwkSet | null = null) {
    super();
  }
  asked: i32 = 0;
  keys(provider: Provider): JwkSet | null {
    if (provider.localJwks !== null) return provider.localJwks;
    return this.asked > 0 ? this.later : null;
  }
  generation(provider: Provider): u64 {
    return 1;
  }
  awaitKeys(provider: Provider, nowMs: i64, waitedFor: u32): KeyWait {
    this.asked++;
    return this.wait;
  }
  pendingAttempt(provider: Provider): u32 {
    return 1;
  }
  refetchForKid(provider: Provider, nowMs: i64): KeyWait {
    return KeyWait.Unavailable;
  }
}

const REMOTE_PROVIDER = "\"idp\":{\"remote_jwks\":{\"http_uri\":{\"uri\":\"http://jwks/keys\",\"cluster\":\"jwks\"}}," +
  "\"from_headers\":[{\"name\":\"x-idp\"}]}";

function remoteConfig(requires: string, extra: string = ""): JwtAuthConfig {
  const result = parseText("{\"providers\":{" + PROVIDERS + "," + REMOTE_PROVIDER + "}" + extra + ",\"rules\":[{\"requires\":" + requires + "}]}");
  expect(result.error).toBe("");
  return result.config!;
}

const idpToken = signHs("{\"alg\":\"HS256\"}", "{\"sub\":\"bob\"}");

describe("remote keys", () => {
  it("waits (Pending) while keys are fetched: for the requirement, and for every credential to be checked", () => {
    const wait = new Run(remoteConfig("{\"provider_name\":\"idp\"}"), new NoKeys(KeyWait.Waiting));
    expect(wait.reason(new FakeRequest().with("x-idp", idpToken))).toBe(Reason.Pending);
    const any = new Run(remoteConfig("{\"requires_any\":[{\"provider_name\":\"idp\"},{\"provider_name\":\"eva\"}]}"), new NoKeys(KeyWait.Waiting));
    expect(any.reason(new FakeRequest().with("authorization", "Bearer " + EVA))).toBe(Reason.Ok);
    expect(any.reason(new FakeRequest().with("x-idp", idpToken))).toBe(Reason.Pending);
    // eva allows, but the x-idp token must be checked too before the request goes on
    expect(any.reason(new FakeRequest().with("x-idp", idpToken).with("authorization", "Bearer " + EVA))).toBe(Reason.Pending);
    // ... unless another credential already refuses it
    expect(any.reason(new FakeRequest("/?access_token=bad").with("x-idp", idpToken).with("authorization", "Bearer " + EVA))).toBe(Reason.JwtBadFormat);
  });

  it("uses keys that arrived meanwhile (another worker fetched them)", () => {
    const run = new Run(remoteConfig("{\"provider_name\":\"idp\"}"), new NoKeys(KeyWait.Ready, parseJwksString(octJwks()).set));
    expect(run.reason(new FakeRequest().with("x-idp", idpToken))).toBe(Reason.Ok);
  });

  it("denies when keys are unavailable, or lets through when on_jwks_unavailable is allow (writing nothing)", () => {
    const deny = new Run(remoteConfig("{\"provider_name\":\"idp\"}"), new NoKeys(KeyWait.Unavailable));
    expect(deny.reason(new FakeRequest().with("x-idp", idpToken))).toBe(Reason.JwksUnavailable);
    const allow = new Run(remoteConfig("{\"provider_name\":\"idp\"}", ",\"on_jwks_unavailable\":\"allow\""), new NoKeys(KeyWait.Unavailable));
    const request = new FakeRequest().with("x-idp", idpToken);
    expect(allow.apply(request)).toBe(Reason.Ok);
    expect(request.header("x-idp")).toBeNull(); // nothing was verified: it does not go on
    const keep = new Run(remoteConfig("{\"provider_name\":\"idp\"}", ",\"on_jwks_unavailable\":\"allow\",\"forward_unverified\":true"), new NoKeys(KeyWait.Unavailable));
    const kept = new FakeRequest().with("x-idp", idpToken);
    expect(keep.apply(kept)).toBe(Reason.Ok);
    expect(kept.all("x-idp")).toBe(idpToken); // forward_unverified: left in place
    // a malformed token is refused before keys are needed, whatever the setting
    expect(allow.reason(new FakeRequest().with("x-idp", "a.b"))).toBe(Reason.JwtBadFormat);
  });
});

// After envoy/mesh.yaml: user tokens (eva's key) in Authorization; service tokens (svc's key)
// in Authorization or x-service-token; both map x-user-id and x-user-tier.
const MESH_PROVIDERS =
  "\"users\":{\"issuer\":\"eva\",\"local_jwks\":{\"inline_string\":\"" + escaped(octJwks(SECRET, "e1")) + "\"}," +
  "\"from_headers\":[{\"name\":\"authorization\",\"value_prefix\":\"Bearer \"}]," +
  "\"claim_to_headers\":[{\"claim_name\":\"sub\",\"header_name\":\"x-user-id\"},{\"claim_name\":\"tier\",\"header_name\":\"x-user-tier\"}]}," +
  "\"services\":{\"issuer\":\"svc\",\"local_jwks\":{\"inline_string\":\"" + escaped(octJwks(OTHER, "s1")) + "\"}," +
  "\"from_headers\":[{\"name\":\"authorization\",\"value_prefix\":\"Bearer \"},{\"name\":\"x-service-token\"}]," +
  "\"claim_to_headers\":[{\"claim_name\":\"serviceId\",\"header_name\":\"x-service-id\"},{\"claim_name\":\"sub\",\"header_name\":\"x-user-id\"}," +
  "{\"claim_name\":\"tier\",\"header_name\":\"x-user-tier\"}]}";

function meshConfig(requires: string, extra: string = ""): JwtAuthConfig {
  const result = parseText("{\"providers\":{" + MESH_PROVIDERS + "}" + extra + ",\"rules\":[{\"requires\":" + requires + "}]}");
  expect(result.error).toBe("");
  return result.config!;
}

const ANY = "{\"requires_any\":[{\"provider_name\":\"users\"},{\"provider_name\":\"services\"},{\"allow_missing\":true}]}";
const ALL = "{\"requires_all\":[{\"provider_name\":\"users\"},{\"provider_name\":\"services\"}]}";
const SVC_PREMIUM = token("svc", ",\"serviceId\":\"auth-service\",\"tier\":\"premium\"", "s1", OTHER);

function user(sub: string, claims: string = ""): string {
  const payload = "{\"iss\":\"eva\",\"sub\":\"" + sub + "\",\"exp\":" + (NOW + 600).toString() + claims + "}";
  return signHs("{\"alg\":\"HS256\",\"kid\":\"e1\"}", payload);
}

describe("one identity per provider", () => {
  it("refuses two different tokens a provider verifies as ambiguous, wherever they are", () => {
    const run = new Run(configWith("{\"provider_name\":\"eva\"}"));
    expect(run.reason(bearer(user("alice")).with("x-other", "1"))).toBe(Reason.Ok);
    const two = new FakeRequest("/?access_token=" + user("bob")).with("authorization", "Bearer " + user("alice"));
    expect(run.reason(two)).toBe(Reason.JwtAmbiguous);
    expect(run.verdict.provider).toBe(0);
    // the same subject in two different tokens is ambiguous too: their other claims may differ
    expect(run.reason(new FakeRequest("/?access_token=" + user("alice", ",\"tier\":\"premium\"")).with("authorization", "Bearer " + user("alice")))).toBe(Reason.JwtAmbiguous);
  });

  it("takes the same token twice as one identity: one value per header, removed from both places", () => {
    const run = new Run(configWith("{\"provider_name\":\"eva\"}"));
    const request = new FakeRequest("/p?access_token=" + EVA + "&q=1").with("authorization", "Bearer " + EVA);
    expect(run.apply(request)).toBe(Reason.Ok);
    expect(request.all("x-user-id")).toBe("alice");
    expect(request.header("authorization")).toBeNull();
    expect(request.path()).toBe("/p?q=1");
  });

  it("refuses ambiguous tokens of a provider the tree did not need, and removes them where failure is tolerated", () => {
    const run = new Run(meshConfig(ANY));
    const request = bearer(user("alice")).with("x-service-token", SVC).with("x-service-token", SVC_PREMIUM);
    expect(run.reason(request)).toBe(Reason.JwtAmbiguous);
    expect(run.verdict.provider).toBe(1);
    const tolerant = new Run(meshConfig("{\"requires_any\":[{\"provider_name\":\"users\"},{\"allow_missing_or_failed\":true}]}"));
    const both = new FakeRequest("/").with("authorization", "Bearer " + user("alice")).with("authorization", "Bearer " + user("bob"));
    expect(tolerant.apply(both)).toBe(Reason.Ok);
    expect(both.header("authorization")).toBeNull();
    expect(both.header("x-user-id")).toBeNull();
  });
});

describe("every credential is checked", () => {
  it("refuses more credentials than it checks before checking any", () => {
    const run = new Run(meshConfig(ANY));
    const request = new FakeRequest();
    for (let i = 0; i <= MAX_CREDENTIALS; i++) request.with("x-service-token", SVC);
    expect(run.reason(request)).toBe(Reason.JwtTooMany);
    expect(run.verdict.provider).toBe(-1);
  });

  it("refuses a credential no provider of the rule verified, even when the requirement is met", () => {
    const run = new Run(meshConfig(ANY));
    expect(run.reason(bearer(user("alice")).with("x-service-token", token("svc", "", "s1", SECRET)))).toBe(Reason.JwtVerificationFailed);
    expect(run.verdict.provider).toBe(1);
    expect(run.reason(new FakeRequest().with("x-service-token", SVC).with("x-service-token", "x.y"))).toBe(Reason.JwtBadFormat);
  });

  it("refuses a header at a token location that no value_prefix starts (another scheme, a tab), where no token is fine", () => {
    const run = new Run(meshConfig(ANY));
    expect(run.reason(new FakeRequest())).toBe(Reason.Ok);
    expect(run.reason(new FakeRequest().with("authorization", "Basic dXNlcjpwYXNz"))).toBe(Reason.JwtBadFormat);
    expect(run.reason(new FakeRequest().with("authorization", "Bearer\t" + SVC))).toBe(Reason.JwtBadFormat);
  });

  it("counts a credential verified by one provider as verified, whatever the others said of it", () => {
    // services fails the user token in Authorization (not its key), users verified it
    const run = new Run(meshConfig(ALL));
    const request = bearer(user("alice")).with("x-service-token", SVC);
    expect(run.apply(request)).toBe(Reason.Ok);
    expect(request.header("authorization")).toBeNull();
    expect(request.header("x-service-token")).toBeNull();
  });

  it("leaves failed credentials in place with forward_unverified, where failure is tolerated", () => {
    const run = new Run(meshConfig("{\"allow_missing_or_failed\":true}", ",\"forward_unverified\":true"));
    const request = new FakeRequest().with("authorization", "Basic dXNlcjpwYXNz").with("x-service-token", SVC);
    expect(run.apply(request)).toBe(Reason.Ok);
    expect(request.all("authorization")).toBe("Basic dXNlcjpwYXNz");
    expect(request.header("x-service-token")).toBeNull(); // verified: services does not forward
    expect(new Run(meshConfig(ANY, ",\"forward_unverified\":true")).reason(new FakeRequest().with("authorization", "Basic x"))).toBe(Reason.JwtBadFormat);
  });
});

describe("claim headers from one credential", () => {
  it("gives each header to the first provider in requirement order that satisfied the rule and maps it", () => {
    const request = bearer(user("dave")).with("x-service-token", SVC_PREMIUM);
    expect(new Run(meshConfig(ALL)).apply(request)).toBe(Reason.Ok);
    // users owns x-user-id and x-user-tier (dave's token has no tier: none is written); services x-service-id
    expect(request.all("x-user-id")).toBe("dave");
    expect(request.header("x-user-tier")).toBeNull();
    expect(request.all("x-service-id")).toBe("auth-service");
    const reversed = bearer(user("dave")).with("x-service-token", SVC_PREMIUM);
    expect(new Run(meshConfig("{\"requires_all\":[{\"provider_name\":\"services\"},{\"provider_name\":\"users\"}]}")).apply(reversed)).toBe(Reason.Ok);
    expect(reversed.all("x-user-id")).toBe("alice"); // the service token's sub
    expect(reversed.all("x-user-tier")).toBe("premium");
  });

  it("under requires_any writes only the passing child's headers, not those of a child that failed midway", () => {
    const requires = "{\"requires_any\":[{\"requires_all\":[{\"provider_name\":\"services\"},{\"provider_name\":\"users\"," +
      "\"claims\":[{\"name\":\"permissions\",\"all_of\":[\"admin\"]}]}]},{\"provider_name\":\"users\"}]}";
    const request = bearer(user("carol")).with("x-service-token", SVC_PREMIUM);
    expect(new Run(meshConfig(requires)).apply(request)).toBe(Reason.Ok);
    expect(request.all("x-user-id")).toBe("carol");
    expect(request.header("x-service-id")).toBeNull();
    expect(request.header("x-service-token")).toBeNull(); // verified by services all the same: removed
  });
});
