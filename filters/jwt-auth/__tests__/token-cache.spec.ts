import { Jwt } from "../jwt";
import { TokenCache, tokenHash } from "../token-cache";
import { utf8Bytes } from "./helpers";

function jwtOf(token: string): Jwt {
  const jwt = new Jwt();
  jwt.token = utf8Bytes("Bearer " + token);
  jwt.start = 7;
  jwt.end = jwt.token.length;
  jwt.signingEnd = jwt.end;
  jwt.payloadStart = 7;
  return jwt;
}

function find(cache: TokenCache, hash: u64, token: string, provider: i32 = 0, generation: u64 = 1, now: f64 = 100): Jwt | null {
  const bytes = utf8Bytes(token);
  return cache.lookup(hash, bytes.dataStart, bytes.length, provider, generation, now);
}

function hashOf(token: string, provider: u64 = 0): u64 {
  const bytes = utf8Bytes(token);
  return tokenHash(bytes.dataStart, bytes.length, provider);
}

describe("TokenCache", () => {
  it("finds a token by hash and whole bytes, rebased onto its own copy", () => {
    const cache = new TokenCache(10);
    const jwt = jwtOf("aaa.bbb.ccc");
    cache.insert(hashOf("aaa.bbb.ccc"), jwt, 0, 1, 1000, 100);
    const found = find(cache, hashOf("aaa.bbb.ccc"), "aaa.bbb.ccc");
    expect(found).toBe(jwt);
    expect(found!.start).toBe(0);
    expect(found!.length).toBe(11);
  });

  it("never answers another token that shares the hash (collision guard)", () => {
    const cache = new TokenCache(10);
    const h = hashOf("aaa.bbb.ccc");
    cache.insert(h, jwtOf("aaa.bbb.ccc"), 0, 1, 1000, 100);
    expect(find(cache, h, "aaa.bbb.ccd")).toBeNull();
    expect(find(cache, h, "aaa.bbb.cc")).toBeNull();
    expect(find(cache, h, "aaa.bbb.ccc")).not.toBeNull(); // and the real one is still there
  });

  it("keeps providers apart, and drops entries at dropAt or when the keys change", () => {
    const cache = new TokenCache(10);
    const h = hashOf("t.t.t");
    cache.insert(h, jwtOf("t.t.t"), 0, 1, 1000, 100);
    expect(find(cache, h, "t.t.t", 1)).toBeNull();
    expect(find(cache, h, "t.t.t", 0, 1, 999)).not.toBeNull();
    expect(find(cache, h, "t.t.t", 0, 1, 1000)).toBeNull();
    expect(cache.size).toBe(0);
    cache.insert(h, jwtOf("t.t.t"), 0, 1, 1000, 100);
    expect(find(cache, h, "t.t.t", 0, 2)).toBeNull();
    expect(cache.size).toBe(0);
  });

  it("stays within max_entries: expired entries go first, then the oldest", () => {
    const cache = new TokenCache(3);
    for (let i = 0; i < 3; i++) cache.insert(hashOf("t" + i.toString()), jwtOf("t" + i.toString()), 0, 1, i == 1 ? 150 : 1000, 100);
    cache.insert(hashOf("t3"), jwtOf("t3"), 0, 1, 1000, 200); // t1 has expired by 200
    expect(cache.size).toBe(3);
    expect(find(cache, hashOf("t0"), "t0")).not.toBeNull();
    cache.insert(hashOf("t4"), jwtOf("t4"), 0, 1, 1000, 200); // none expired: the oldest (t0) goes
    expect(cache.size).toBe(3);
    expect(find(cache, hashOf("t0"), "t0")).toBeNull();
    expect(find(cache, hashOf("t4"), "t4")).not.toBeNull();
  });

  it("sweeps expired entries, and holds nothing with max_entries 0", () => {
    const cache = new TokenCache(10);
    cache.insert(hashOf("a"), jwtOf("a"), 0, 1, 150, 100);
    cache.insert(hashOf("b"), jwtOf("b"), 0, 1, Infinity, 100);
    expect(cache.sweep(200)).toBe(1);
    expect(cache.size).toBe(1);
    const none = new TokenCache(0);
    none.insert(hashOf("a"), jwtOf("a"), 0, 1, 1000, 100);
    expect(none.size).toBe(0);
  });

  it("keeps entries that share a slot findable when one between them goes (probe runs, wrapping around)", () => {
    // Capacity 8 (max_entries 4): hashes 6, 14, 22 all start at slot 6; 22 wraps to slot 0.
    const cache = new TokenCache(4);
    cache.insert(6, jwtOf("a.a.a"), 0, 1, 1000, 100);
    cache.insert(14, jwtOf("b.b.b"), 0, 1, 150, 100);
    cache.insert(22, jwtOf("c.c.c"), 0, 1, 1000, 100);
    cache.insert(7, jwtOf("d.d.d"), 0, 1, 1000, 100); // home 7, pushed on by the run
    expect(find(cache, 14, "b.b.b", 0, 1, 200)).toBeNull(); // expired: removed from the middle of the run
    expect(cache.size).toBe(3);
    expect(find(cache, 6, "a.a.a")).not.toBeNull();
    expect(find(cache, 22, "c.c.c")).not.toBeNull();
    expect(find(cache, 7, "d.d.d")).not.toBeNull();
    expect(cache.sweep(2000)).toBe(3);
    expect(cache.size).toBe(0);
    expect(find(cache, 6, "a.a.a")).toBeNull();
  });

  it("replaces an entry under the same hash, and clears", () => {
    const cache = new TokenCache(4);
    cache.insert(9, jwtOf("x.x.x"), 0, 1, 1000, 100);
    cache.insert(9, jwtOf("y.y.y"), 0, 1, 1000, 100);
    expect(cache.size).toBe(1);
    expect(find(cache, 9, "x.x.x")).toBeNull();
    expect(find(cache, 9, "y.y.y")).not.toBeNull();
    cache.clear();
    expect(cache.size).toBe(0);
    expect(find(cache, 9, "y.y.y")).toBeNull();
  });

  it("hashes a long token's tail, its length and the provider; tokens that share a tail still never match", () => {
    const tail = "s".repeat(64);
    const a = "a".repeat(40) + tail;
    const b = "b".repeat(40) + tail;
    expect(hashOf(a)).toBe(hashOf(b));
    expect(hashOf(a)).not.toBe(hashOf("a" + a));
    expect(hashOf(a)).not.toBe(hashOf(a, 1));
    expect(hashOf(a)).not.toBe(hashOf(a.substring(0, 103) + "t"));
    const cache = new TokenCache(4);
    cache.insert(hashOf(a), jwtOf(a), 0, 1, 1000, 100);
    expect(find(cache, hashOf(b), b)).toBeNull();
    expect(find(cache, hashOf(a), a)).not.toBeNull();
  });

  it("hashes every byte of a short token, and the provider", () => {
    expect(hashOf("abcdefghij")).not.toBe(hashOf("abcdefghik"));
    expect(hashOf("abcdefgh")).not.toBe(hashOf("abcdefgh", 1));
    expect(hashOf("")).not.toBe(hashOf("\u0000"));
  });
});
