import { LocationKind, MAX_TOKENS, TokenList, TokenLocation, cookieValue, extractTokens, percentDecode, queryParam, removeCookie, removeQueryParam, removeToken } from "../extractor";
import { HeaderName } from "../request";
import { FakeRequest } from "./helpers";

function tokens(locations: TokenLocation[], request: FakeRequest): string[] {
  const found = new TokenList();
  extractTokens(locations, request, found);
  const out = new Array<string>();
  for (let i = 0; i < found.length; i++) {
    const t = found.at(i);
    out.push(String.UTF8.decodeUnsafe(t.bytes.dataStart + <usize>t.start, <usize>(t.end - t.start)));
  }
  return out;
}

const BEARER = new TokenLocation(LocationKind.Header, new HeaderName("authorization"), "Bearer ");
const SERVICE = new TokenLocation(LocationKind.Header, new HeaderName("x-service-token"));
const PARAM = new TokenLocation(LocationKind.Param, new HeaderName("access_token"));
const COOKIE = new TokenLocation(LocationKind.Cookie, new HeaderName("session"));

describe("extractTokens", () => {
  it("takes the token after a value_prefix, whatever the case of the scheme, trimmed", () => {
    expect(tokens([BEARER], new FakeRequest().with("authorization", "Bearer a.b.c"))).toStrictEqual(["a.b.c"]);
    expect(tokens([BEARER], new FakeRequest().with("authorization", "bearer   a.b.c  "))).toStrictEqual(["a.b.c"]);
    expect(tokens([BEARER], new FakeRequest().with("authorization", "Bearer "))).toStrictEqual([""]);
  });

  it("ignores a header whose value does not start with the prefix (another scheme)", () => {
    expect(tokens([BEARER], new FakeRequest().with("authorization", "Basic dXNlcjpwYXNz"))).toStrictEqual(new Array<string>());
    expect(tokens([BEARER], new FakeRequest().with("authorization", "Bear"))).toStrictEqual(new Array<string>());
  });

  it("reads headers without prefix, query parameters and cookies", () => {
    const request = new FakeRequest("/p?x=1&access_token=t%2E1&y").with("x-service-token", " s.t.u").with("cookie", "a=1; session=\"c.d.e\"; z=2");
    expect(tokens([SERVICE, PARAM, COOKIE], request)).toStrictEqual(["s.t.u", "t.1", "c.d.e"]);
  });

  it("looks at no more than MAX_TOKENS tokens", () => {
    const many = new Array<TokenLocation>();
    for (let i = 0; i < MAX_TOKENS + 3; i++) many.push(SERVICE);
    expect(tokens(many, new FakeRequest().with("x-service-token", "a")).length).toBe(MAX_TOKENS);
  });
});

describe("query strings and cookies", () => {
  it("finds the first parameter, percent-decoded, and tells absent from empty", () => {
    expect(queryParam("/a?access_token=", "access_token")!).toBe("");
    expect(queryParam("/a?b=1", "access_token")).toBeNull();
    expect(queryParam("/a", "access_token")).toBeNull();
    expect(queryParam("/a?access%5Ftoken=v#frag", "access_token")!).toBe("v");
    expect(queryParam("/a?k=1&k=2", "k")!).toBe("1");
    expect(percentDecode("%zz%4")).toBe("%zz%4");
  });

  it("removes every occurrence of a parameter and keeps the rest as written", () => {
    expect(removeQueryParam("/a?access_token=t&b=%20", "access_token")).toBe("/a?b=%20");
    expect(removeQueryParam("/a?b=1&access_token=t&access_token=u#f", "access_token")).toBe("/a?b=1#f");
    expect(removeQueryParam("/a?access_token=t", "access_token")).toBe("/a");
    expect(removeQueryParam("/a", "access_token")).toBe("/a");
  });

  it("reads and removes cookies", () => {
    expect(cookieValue("a=1;session=x", "session")!).toBe("x");
    expect(cookieValue("sessionid=x", "session")).toBeNull();
    expect(removeCookie("a=1; session=x; b=2", "session")).toBe("a=1; b=2");
    expect(removeCookie("session=x", "session")).toBe("");
  });
});

describe("removeToken (forward: false)", () => {
  it("removes the header, the parameter or the cookie the token came from", () => {
    const request = new FakeRequest("/p?access_token=t&q=1").with("authorization", "Bearer x").with("cookie", "session=c; keep=1");
    const found = new TokenList();
    extractTokens([BEARER, PARAM, COOKIE], request, found);
    for (let i = 0; i < found.length; i++) removeToken(request, found.at(i));
    expect(request.header("authorization")).toBeNull();
    expect(request.path()).toBe("/p?q=1");
    expect(request.header("cookie")!).toBe("keep=1");
  });
});
