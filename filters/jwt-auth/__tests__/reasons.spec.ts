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

/** `challenge` as string concatenation writes it (its earlier form): the reference for the one-pass writer. */
function concatenated(reason: Reason, scheme: string, authority: string, path: string): string {
  let length = path.length;
  for (let i = 0; i < path.length; i++) {
    const c = path.charCodeAt(i);
    if (c == 0x3f || c == 0x23) {
      length = i;
      break;
    }
  }
  if (length > 256) length = 256;
  const realm = (scheme.length > 0 ? scheme : "http") + "://" + authority + path.substring(0, length);
  let quoted = "";
  for (let i = 0; i < realm.length; i++) {
    const c = realm.charCodeAt(i);
    if (c == 0x22 || c == 0x5c) quoted += "\\";
    quoted += String.fromCharCode(c);
  }
  const info = reasonInfo(reason);
  const value = "Bearer realm=\"" + quoted + "\"";
  return info.challengeHasError ? value + ", error=\"" + info.error + "\"" : value;
}

describe("denial responses (RFC 6750 §3)", () => {
  it("challenges without error for a missing token, with invalid_token or insufficient_scope otherwise", () => {
    expect(challenge(Reason.JwtMissing, "https", "api.example.com", "/x?access_token=secret")).toBe("Bearer realm=\"https://api.example.com/x\"");
    expect(challenge(Reason.JwtExpired, "", "h", "/")).toBe("Bearer realm=\"http://h/\", error=\"invalid_token\"");
    expect(challenge(Reason.JwtClaimsNotSatisfied, "http", "h", "/a")).toBe("Bearer realm=\"http://h/a\", error=\"insufficient_scope\"");
    expect(challenge(Reason.JwtMissing, "http", "h\"x", "/\\")).toBe("Bearer realm=\"http://h\\\"x/\\\\\"");
    expect(challenge(Reason.JwtMissing, "http", "h", "/" + "a".repeat(300)).length).toBe("Bearer realm=\"http://h\"".length + 256);
  });

  it("writes the value the realm's concatenation writes, escapes and cut included", () => {
    const paths = ["", "/", "/a?b", "/a#b", "/\"q\"/\\", "/\u00e9\ud83d\ude00", "/" + "\\".repeat(300), "/" + "a".repeat(254) + "\"\"\"", "/" + "a".repeat(256)];
    const authorities = ["", "api.example.com:8443", "h\"x\\y", "\u00fcber.example"];
    const schemes = ["", "https", "ht\"tp"];
    const reasons: Reason[] = [Reason.JwtMissing, Reason.JwtExpired, Reason.JwtClaimsNotSatisfied];
    for (let r = 0; r < reasons.length; r++) {
      for (let s = 0; s < schemes.length; s++) {
        for (let a = 0; a < authorities.length; a++) {
          for (let p = 0; p < paths.length; p++) {
            const want = concatenated(reasons[r], schemes[s], authorities[a], paths[p]);
            expect(challenge(reasons[r], schemes[s], authorities[a], paths[p])).toBe(want);
          }
        }
      }
    }
  });

  it("answers a JSON body and Envoy-style details from the same row", () => {
    expect(denialBody(Reason.JwtExpired)).toBe("{\"error\":\"invalid_token\",\"message\":\"Jwt is expired\"}");
    expect(denialBody(Reason.JwtMissing)).toBe("{\"error\":\"missing_token\",\"message\":\"Jwt is missing\"}");
    expect(denialBody(Reason.JwtClaimsNotSatisfied)).toBe("{\"error\":\"insufficient_scope\",\"message\":\"Jwt claims do not satisfy the requirement\"}");
    expect(denialDetails(Reason.JwksKidAlgMismatch)).toBe("jwt_auth_access_denied{jwks_kid_alg_mismatch}");
  });
});
