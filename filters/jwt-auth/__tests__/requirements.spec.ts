import { Authenticator } from "../authenticator";
import { JwtAuthConfig, Provider, Requirement, parseConfigString } from "../config";
import { JwkSet, parseJwksString } from "../jwks";
import { KeySource, KeyWait, LocalKeys } from "../key-source";
import { Reason } from "../reasons";
import { Verdict, evaluate } from "../requirements";
import { Stats } from "../stats";
import { TokenCache } from "../token-cache";
import { FakeRequest, SECRET, b64, octJwks, signHs } from "./helpers";

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
  const result = parseConfigString("{\"providers\":{" + PROVIDERS + "}" + extra + ",\"rules\":[{\"requires\":" + requires + "}]}");
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
    this.auth.begin(request, now);
    evaluate(this.config.rules[0].requires!, this.auth, this.verdict);
    return this.verdict.reason;
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
    const shared = parseConfigString("{\"providers\":{\"eva\":{\"local_jwks\":{\"inline_string\":\"" + escaped(octJwks(SECRET, "e1")) + "\"}}," +
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

  it("allow_missing_or_failed lets everything through but still verifies what it can", () => {
    const run = new Run(configWith("{\"allow_missing_or_failed\":true}"));
    expect(run.reason(bearer("garbage"))).toBe(Reason.Ok);
    const request = bearer(EVA);
    expect(run.reason(request)).toBe(Reason.Ok);
    run.auth.applyEffects();
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
  const result = parseConfigString("{\"providers\":{" + PROVIDERS + "," + REMOTE_PROVIDER + "}" + extra + ",\"rules\":[{\"requires\":" + requires + "}]}");
  expect(result.error).toBe("");
  return result.config!;
}

const idpToken = signHs("{\"alg\":\"HS256\"}", "{\"sub\":\"bob\"}");

describe("remote keys", () => {
  it("waits (Pending) while keys are fetched, unless another child already allows", () => {
    const wait = new Run(remoteConfig("{\"provider_name\":\"idp\"}"), new NoKeys(KeyWait.Waiting));
    expect(wait.reason(new FakeRequest().with("x-idp", idpToken))).toBe(Reason.Pending);
    const any = new Run(remoteConfig("{\"requires_any\":[{\"provider_name\":\"idp\"},{\"provider_name\":\"eva\"}]}"), new NoKeys(KeyWait.Waiting));
    expect(any.reason(new FakeRequest().with("x-idp", idpToken).with("authorization", "Bearer " + EVA))).toBe(Reason.Ok);
    expect(any.reason(new FakeRequest().with("x-idp", idpToken))).toBe(Reason.Pending);
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
    expect(allow.reason(request)).toBe(Reason.Ok);
    allow.auth.applyEffects();
    expect(request.all("x-idp")).toBe(idpToken); // untouched: nothing was verified
    // a malformed token is refused before keys are needed, whatever the setting
    expect(allow.reason(new FakeRequest().with("x-idp", "a.b"))).toBe(Reason.JwtBadFormat);
  });
});
