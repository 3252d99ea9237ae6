import { JsonValue, parseJsonString } from "../../../assembly/json";
import { ClaimPath, ClaimRequirement, SubjectMatcher, audienceAllowed, checkTimes, claimHeaderValue, spaceListHas } from "../claims";
import { Jwt } from "../jwt";
import { Reason } from "../reasons";

function json(text: string): JsonValue {
  return parseJsonString(text).value!;
}

function times(exp: f64, nbf: f64 = NaN, iat: f64 = NaN): Jwt {
  const jwt = new Jwt();
  if (!isNaN(exp)) {
    jwt.hasExp = true;
    jwt.exp = exp;
  }
  if (!isNaN(nbf)) {
    jwt.hasNbf = true;
    jwt.nbf = nbf;
  }
  if (!isNaN(iat)) {
    jwt.hasIat = true;
    jwt.iat = iat;
  }
  return jwt;
}

describe("checkTimes (RFC 7519 §4.1.4-4.1.6, with clock skew)", () => {
  it("expires at exp + skew exactly, as jose does", () => {
    expect(checkTimes(times(1000), 1059, 60, false, 0)).toBe(Reason.Ok);
    expect(checkTimes(times(1000), 1060, 60, false, 0)).toBe(Reason.JwtExpired);
    expect(checkTimes(times(1000), 1000, 0, false, 0)).toBe(Reason.JwtExpired);
    expect(checkTimes(times(1000.5), 1000, 0, false, 0)).toBe(Reason.Ok);
  });

  it("is valid from nbf - skew on", () => {
    expect(checkTimes(times(NaN, 1000), 940, 60, false, 0)).toBe(Reason.Ok);
    expect(checkTimes(times(NaN, 1000), 939, 60, false, 0)).toBe(Reason.JwtNotYetValid);
  });

  it("requires exp when asked, and bounds exp - iat by max_lifetime_seconds", () => {
    expect(checkTimes(times(NaN), 0, 60, false, 0)).toBe(Reason.Ok);
    expect(checkTimes(times(NaN), 0, 60, true, 0)).toBe(Reason.JwtExpRequired);
    expect(checkTimes(times(5000, NaN, 1400), 2000, 60, false, 3600)).toBe(Reason.Ok);
    expect(checkTimes(times(5001, NaN, 1400), 2000, 60, false, 3600)).toBe(Reason.JwtLifetimeTooLong);
    expect(checkTimes(times(5000), 2000, 60, false, 3600)).toBe(Reason.JwtIatRequired);
  });
});

describe("audiences and subjects", () => {
  it("matches aud as a string or an array", () => {
    const allowed = ["api", "web"];
    expect(audienceAllowed(json("\"web\""), allowed)).toBe(true);
    expect(audienceAllowed(json("[\"x\",\"api\"]"), allowed)).toBe(true);
    expect(audienceAllowed(json("[\"x\"]"), allowed)).toBe(false);
    expect(audienceAllowed(json("[]"), allowed)).toBe(false);
    expect(audienceAllowed(null, allowed)).toBe(false);
  });

  it("restricts sub by prefix or exactly", () => {
    const prefix = new SubjectMatcher("spiffe://mesh/", true);
    expect(prefix.matches(json("\"spiffe://mesh/ns/a\""))).toBe(true);
    expect(prefix.matches(json("\"spiffe://other/ns/a\""))).toBe(false);
    expect(prefix.matches(null)).toBe(false);
    const exact = new SubjectMatcher("svc-a", false);
    expect(exact.matches(json("\"svc-a\""))).toBe(true);
    expect(exact.matches(json("\"svc-ab\""))).toBe(false);
  });
});

const payload = json("{\"permissions\":[\"credit:read\",\"documents:write\"],\"scope\":\"openid profile read write\"," +
    "\"realm_access\":{\"roles\":[\"admin\",\"user\"]},\"https://example.com/roles\":[\"ops\"],\"serviceId\":\"eva-frontend\"," +
    "\"n\":42,\"f\":1.5,\"ok\":true,\"nothing\":null,\"o\":{\"a\":[1,\"b\"]},\"bad\":\"line\\nbreak\"}");

describe("claim paths and requirements", () => {

  it("reads literal names with dots before dot paths", () => {
    expect(new ClaimPath("realm_access.roles").lookup(payload)!.length).toBe(2);
    expect(new ClaimPath("https://example.com/roles").lookup(payload)!.length).toBe(1);
    expect(new ClaimPath("realm_access.missing").lookup(payload)).toBeNull();
    expect(new ClaimPath("nothing").lookup(payload)).toBeNull();
  });

  it("matches all_of / any_of over arrays, space-separated strings and plain strings", () => {
    const all = new ClaimRequirement(new ClaimPath("permissions"), ["credit:read", "documents:write"], true);
    expect(all.satisfiedBy(payload)).toBe(true);
    expect(new ClaimRequirement(new ClaimPath("permissions"), ["credit:read", "credit:write"], true).satisfiedBy(payload)).toBe(false);
    expect(new ClaimRequirement(new ClaimPath("permissions"), ["credit:write", "credit:read"], false).satisfiedBy(payload)).toBe(true);
    expect(new ClaimRequirement(new ClaimPath("scope"), ["read", "write"], true).satisfiedBy(payload)).toBe(true);
    expect(new ClaimRequirement(new ClaimPath("scope"), ["rea"], false).satisfiedBy(payload)).toBe(false);
    expect(new ClaimRequirement(new ClaimPath("serviceId"), ["eva-frontend"], true).satisfiedBy(payload)).toBe(true);
    expect(new ClaimRequirement(new ClaimPath("realm_access.roles"), ["admin"], true).satisfiedBy(payload)).toBe(true);
    expect(new ClaimRequirement(new ClaimPath("n"), ["42"], true).satisfiedBy(payload)).toBe(false);
    expect(new ClaimRequirement(new ClaimPath("absent"), ["x"], false).satisfiedBy(payload)).toBe(false);
  });

  it("finds whole items in space-separated lists only", () => {
    expect(spaceListHas("read write", "write")).toBe(true);
    expect(spaceListHas("read rewrite", "write")).toBe(false);
    expect(spaceListHas("a b", "a b")).toBe(true);
    expect(spaceListHas("", "")).toBe(true);
  });

  it("renders header values: strings raw, arrays comma-joined, objects as JSON, nothing for null or control characters", () => {
    expect(claimHeaderValue(new ClaimPath("serviceId").lookup(payload)!)!).toBe("eva-frontend");
    expect(claimHeaderValue(new ClaimPath("permissions").lookup(payload)!)!).toBe("credit:read,documents:write");
    expect(claimHeaderValue(new ClaimPath("n").lookup(payload)!)!).toBe("42");
    expect(claimHeaderValue(new ClaimPath("f").lookup(payload)!)!).toBe("1.5");
    expect(claimHeaderValue(new ClaimPath("ok").lookup(payload)!)!).toBe("true");
    expect(claimHeaderValue(new ClaimPath("o").lookup(payload)!)!).toBe("{\"a\":[1,\"b\"]}");
    expect(claimHeaderValue(new ClaimPath("o.a").lookup(payload)!)!).toBe("1,b");
    expect(claimHeaderValue(new ClaimPath("bad").lookup(payload)!)).toBeNull();
    expect(claimHeaderValue(json("null"))).toBeNull();
  });
});
