import { REASON_COUNT, Reason, isDenial, reasonInfo } from "../reasons";
import { challenge, denialBody, denialDetails } from "../response";

describe("the reason table", () => {
  it("has one distinct snake_case name and message per reason, and a 401/403 for each denial", () => {
    const names = new Set<string>();
    for (let r = 0; r < REASON_COUNT; r++) {
      const info = reasonInfo(<Reason>r);
      expect(info.name.length).toBeGreaterThan(0);
      expect(names.has(info.name)).toBe(false, info.name);
      names.add(info.name);
      expect(info.message.length).toBeGreaterThan(0);
      for (let i = 0; i < info.name.length; i++) {
        const c = info.name.charCodeAt(i);
        expect((c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39) || c == 0x5f).toBe(true, info.name);
      }
      if (isDenial(<Reason>r)) expect(info.status == 401 || info.status == 403).toBe(true, info.name);
    }
    expect(reasonInfo(Reason.JwtClaimsNotSatisfied).name).toBe("jwt_claims_not_satisfied"); // the last row is filled
  });

  it("refuses ambiguous and too many credentials as invalid tokens", () => {
    expect(denialBody(Reason.JwtAmbiguous)).toBe("{\"error\":\"invalid_token\",\"message\":\"Jwts of more than one identity for one provider\"}");
    expect(reasonInfo(Reason.JwtAmbiguous).status).toBe(401);
    expect(reasonInfo(Reason.JwtTooMany).name).toBe("jwt_too_many");
    expect(reasonInfo(Reason.JwtTooMany).status).toBe(401);
  });
});

describe("denial responses (RFC 6750 §3)", () => {
  it("challenges without error for a missing token, with invalid_token or insufficient_scope otherwise", () => {
    expect(challenge(Reason.JwtMissing, "https", "api.example.com", "/x?access_token=secret")).toBe("Bearer realm=\"https://api.example.com/x\"");
    expect(challenge(Reason.JwtExpired, "", "h", "/")).toBe("Bearer realm=\"http://h/\", error=\"invalid_token\"");
    expect(challenge(Reason.JwtClaimsNotSatisfied, "http", "h", "/a")).toBe("Bearer realm=\"http://h/a\", error=\"insufficient_scope\"");
    expect(challenge(Reason.JwtMissing, "http", "h\"x", "/\\")).toBe("Bearer realm=\"http://h\\\"x/\\\\\"");
    expect(challenge(Reason.JwtMissing, "http", "h", "/" + "a".repeat(300)).length).toBe("Bearer realm=\"http://h\"".length + 256);
  });

  it("answers a JSON body and Envoy-style details from the same row", () => {
    expect(denialBody(Reason.JwtExpired)).toBe("{\"error\":\"invalid_token\",\"message\":\"Jwt is expired\"}");
    expect(denialBody(Reason.JwtMissing)).toBe("{\"error\":\"missing_token\",\"message\":\"Jwt is missing\"}");
    expect(denialBody(Reason.JwtClaimsNotSatisfied)).toBe("{\"error\":\"insufficient_scope\",\"message\":\"Jwt claims do not satisfy the requirement\"}");
    expect(denialDetails(Reason.JwksKidAlgMismatch)).toBe("jwt_auth_access_denied{jwks_kid_alg_mismatch}");
  });
});
