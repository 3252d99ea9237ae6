import { metricName } from "../metrics";

describe("metricName", () => {
  it("writes each label as <label>=.=<value>;.; before the family, in the order given", () => {
    expect<string>(metricName("rate_limit_requests_total", ["rule", "anonymous", "outcome", "denied"])).toBe(
      "rule=.=anonymous;.;outcome=.=denied;.;rate_limit_requests_total",
    );
    expect<string>(metricName("circuit_breaker_state", ["service", "credit-bureau", "state", "half_open"])).toBe(
      "service=.=credit-bureau;.;state=.=half_open;.;circuit_breaker_state",
    );
  });

  it("leaves a family without labels as it is, and ignores a label without a value", () => {
    expect<string>(metricName("jwt_auth_allowed_total", [])).toBe("jwt_auth_allowed_total");
    expect<string>(metricName("x_total", ["reason"])).toBe("x_total");
  });
});
