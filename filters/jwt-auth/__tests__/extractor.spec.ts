import {
  Credential, CredentialList, LocationKind, MAX_CREDENTIALS, RuleSource, TokenLocation, collectCredentials, percentDecode, removeCredentials,
  removeQueryParam, tokenAt,
} from "../extractor";
import { HeaderBytes, FieldName } from "../request";
import { FakeRequest } from "./helpers";

const BEARER = new TokenLocation(LocationKind.Header, new FieldName("authorization"), "Bearer ");
const SERVICE = new TokenLocation(LocationKind.Header, new FieldName("x-service-token"));
const PARAM = new TokenLocation(LocationKind.Param, new FieldName("access_token"));
const COOKIE = new TokenLocation(LocationKind.Cookie, new FieldName("session"));

function sources(locations: TokenLocation[]): RuleSource[] {
  const out = new Array<RuleSource>();
  for (let i = 0; i < locations.length; i++) {
    const where = new RuleSource(locations[i].source);
    where.readers.push(locations[i]);
    out.push(where);
  }
  return out;
}

function collect(locations: TokenLocation[], request: FakeRequest): CredentialList {
  const list = new CredentialList();
  collectCredentials(sources(locations), request, list, new HeaderBytes());
  return list;
}

function text(bytes: Uint8Array, start: i32, end: i32): string {
  return String.UTF8.decodeUnsafe(bytes.dataStart + <usize>start, <usize>(end - start));
}

/** The credentials' values, or the tokens `location` reads from them ("-" where it reads none). */
function values(list: CredentialList, location: TokenLocation | null = null): string[] {
  const out = new Array<string>();
  const token = new HeaderBytes();
  for (let i = 0; i < list.length; i++) {
    const c = list.at(i);
    if (location === null) out.push(text(c.bytes, c.start, c.end));
    else out.push(tokenAt(location, c, token) ? text(token.bytes, token.start, token.end) : "-");
  }
  return out;
}

describe("collectCredentials", () => {
  it("takes every field of a repeated header, every repeated parameter and every cookie of the name, in order", () => {
    const request = new FakeRequest("/p?x=1&access_token=t%2E1&y&access_token=t2")
      .with("x-service-token", "s1").with("cookie", "a=1; session=\"c.1\"").with("x-service-token", " s2").with("cookie", "session=c2");
    const list = collect([SERVICE, PARAM, COOKIE], request);
    expect(values(list)).toStrictEqual(["s1", " s2", "t.1", "t2", "c.1", "c2"].slice(0, MAX_CREDENTIALS));
    expect(list.overflow).toBe(true); // six credentials: more than are checked
    const few = collect([PARAM, COOKIE], request);
    expect(values(few)).toStrictEqual(["t.1", "t2", "c.1", "c2"]);
    expect(few.at(1).occurrence).toBe(1);
    expect(few.at(3).occurrence).toBe(1); // the second session cookie, in the second cookie field
    expect(few.overflow).toBe(false);
  });

  it("counts an empty parameter or a header of another scheme as a credential (a bad one), and nothing else", () => {
    expect(values(collect([PARAM], new FakeRequest("/a?access_token=&access_tokens=x&b=access_token")))).toStrictEqual([""]);
    expect(values(collect([BEARER], new FakeRequest().with("authorization", "Basic dXNlcjpwYXNz")))).toStrictEqual(["Basic dXNlcjpwYXNz"]);
    expect(collect([BEARER, PARAM, COOKIE], new FakeRequest("/a?b=1").with("cookie", "sessionid=x")).length).toBe(0);
  });

  it("stops at MAX_CREDENTIALS, marking the request as carrying more", () => {
    const request = new FakeRequest();
    for (let i = 0; i <= MAX_CREDENTIALS; i++) request.with("x-service-token", "t" + i.toString());
    const list = collect([SERVICE], request);
    expect(list.length).toBe(MAX_CREDENTIALS);
    expect(list.overflow).toBe(true);
  });
});

describe("tokenAt", () => {
  it("takes the token after a value_prefix, whatever the case of the scheme, trimmed", () => {
    const request = new FakeRequest().with("authorization", "Bearer a.b.c").with("authorization", "bearer   a.b.c  ").with("authorization", "Bearer ");
    expect(values(collect([BEARER], request), BEARER)).toStrictEqual(["a.b.c", "a.b.c", ""]);
  });

  it("reads no token from a value the prefix does not start (another scheme, a tab for the space)", () => {
    const request = new FakeRequest().with("authorization", "Basic dXNlcjpwYXNz").with("authorization", "Bear").with("authorization", "Bearer\tx");
    expect(values(collect([BEARER], request), BEARER)).toStrictEqual(["-", "-", "-"]);
  });

  it("trims a header without prefix; takes parameters and cookies as they are", () => {
    expect(values(collect([SERVICE], new FakeRequest().with("x-service-token", " s.t.u\t")), SERVICE)).toStrictEqual(["s.t.u"]);
    expect(values(collect([PARAM], new FakeRequest("/?access_token=%20x")), PARAM)).toStrictEqual([" x"]);
  });
});

describe("query strings", () => {
  it("finds every parameter of a name, percent-decoded, before any fragment", () => {
    const params = (path: string): string[] => values(collect([PARAM], new FakeRequest(path)));
    expect(params("/a?access_token=")).toStrictEqual([""]);
    expect(params("/a?b=1")).toStrictEqual(new Array<string>());
    expect(params("/a")).toStrictEqual(new Array<string>());
    expect(params("/a?access%5Ftoken=v#frag&access_token=w")).toStrictEqual(["v"]);
    expect(params("/a?access_token=1&access_token=2&access_token")).toStrictEqual(["1", "2", ""]);
    expect(percentDecode("%zz%4")).toBe("%zz%4");
  });

  it("removes the occurrences of a parameter in a mask (all by default) and keeps the rest as written", () => {
    expect(removeQueryParam("/a?access_token=t&b=%20", "access_token")).toBe("/a?b=%20");
    expect(removeQueryParam("/a?b=1&access_token=t&access_token=u#f", "access_token")).toBe("/a?b=1#f");
    expect(removeQueryParam("/a?access_token=t&x=1&access_token=u", "access_token", 0b10)).toBe("/a?access_token=t&x=1");
    expect(removeQueryParam("/a?access_token=t", "access_token")).toBe("/a");
    expect(removeQueryParam("/a", "access_token")).toBe("/a");
  });
});

/** Removes the credentials number `which` of the one source of `locations` from `request`. */
function remove(request: FakeRequest, locations: TokenLocation[], which: i32[]): void {
  const list = collect(locations, request);
  for (let i = 0; i < which.length; i++) list.at(which[i]).remove = true;
  const kept = new Array<ArrayBuffer>();
  let mask: u32 = 0;
  for (let i = 0; i < list.length; i++) {
    const c: Credential = list.at(i);
    if (c.remove) mask |= <u32>1 << <u32>c.occurrence;
    else kept.push(c.bytes.slice(c.start, c.end).buffer);
  }
  removeCredentials(request, list.at(0).where!, mask, kept.length == 0, kept);
}

describe("removeCredentials", () => {
  it("removes a header, giving back the values kept", () => {
    const request = new FakeRequest().with("x-service-token", "a").with("accept", "*/*").with("x-service-token", "b");
    remove(request, [SERVICE], [0]);
    expect(request.all("x-service-token")).toBe("b");
    remove(request, [SERVICE], [0]);
    expect(request.header("x-service-token")).toBeNull();
    expect(request.header("accept")!).toBe("*/*");
  });

  it("removes parameters by occurrence", () => {
    const request = new FakeRequest("/p?access_token=t&q=1&access_token=u");
    remove(request, [PARAM], [1]);
    expect(request.path()).toBe("/p?access_token=t&q=1");
  });

  it("removes cookies from every cookie field, which become one", () => {
    const request = new FakeRequest().with("cookie", "theme=dark; session=a").with("cookie", "session=\"b\"; lang=en");
    remove(request, [COOKIE], [1]);
    expect(request.all("cookie")).toBe("theme=dark; session=a; lang=en");
    remove(request, [COOKIE], [0]);
    expect(request.all("cookie")).toBe("theme=dark; lang=en");
    const only = new FakeRequest().with("cookie", "session=x");
    remove(only, [COOKIE], [0]);
    expect(only.header("cookie")).toBeNull();
  });
});
