import { HeaderList, RequestHeaders } from "../../../assembly/match";
import { ConfigReader, ConfigResult } from "../../../assembly/config";
import { RateLimitConfig, parseConfig } from "../config";
import { TextRange, forwardedForEntry, parseIp, sourceAddressHost } from "../client-address";
import { ClientAddress, DescriptorBuilder, DescriptorKey, FixedAddress, KEY_BYTES, KEY_HASHED } from "../descriptor";

/** `parseConfig` of configuration text. */
function parseText(text: string): ConfigResult<RateLimitConfig> {
  return parseConfig(ConfigReader.fromString(text));
}

// The buffer stays referenced (a raw address alone would not keep it alive).
const IP_BUFFER = new ArrayBuffer(16);
const IP = changetype<usize>(IP_BUFFER);

/** The address in `s` as dotted or colon-hex text of its bytes, or "" when it does not parse. */
function ip(s: string): string {
  const n = parseIp(s, 0, s.length, IP);
  if (n == 0) return "";
  let out = "";
  for (let i = 0; i < n; i++) {
    const b = load<u8>(IP + <usize>i);
    out += (i > 0 ? (n == 4 ? "." : ":") : "") + b.toString();
  }
  return out;
}

function xffEntry(xff: string, hops: i32): string {
  const r = new TextRange();
  return forwardedForEntry(xff, hops, r) ? xff.substring(r.start, r.end) : "<none>";
}

function host(address: string): string {
  const r = new TextRange();
  sourceAddressHost(address, r);
  return address.substring(r.start, r.end);
}

function hex(bytes: Uint8Array): string {
  let out = "";
  for (let i = 0; i < bytes.length; i++) out += (bytes[i] < 16 ? "0" : "") + bytes[i].toString(16);
  return out;
}

const CONFIG = parseText(`{"rules":[
  {"name":"user","key":[{"header":"x-user-id"}],"limits":[{"max_tokens":1,"fill_interval":"1s"}]},
  {"name":"client","key":[{"remote_address":{}}],"limits":[{"max_tokens":1,"fill_interval":"1s"}]},
  {"name":"mixed","key":[{"path":{}},{"claim":"x-user-tier"},{"generic":"g"}],"limits":[{"max_tokens":1,"fill_interval":"1s"}]},
  {"name":"none","limits":[{"max_tokens":1,"fill_interval":"1s"}]}],
  "xff_num_trusted_hops":1}`).config!;

function build(ruleIndex: i32, request: RequestHeaders, address: string | null = "10.0.0.1:5000", hops: i32 = 1): DescriptorKey {
  const key = new DescriptorKey();
  new DescriptorBuilder(new ClientAddress(hops), CONFIG.seed).build(CONFIG.rules[ruleIndex], request, new FixedAddress(address), key);
  return key;
}

describe("client address: IP parsing", () => {
  it("parses IPv4 as inet_pton does", () => {
    expect<string>(ip("192.168.1.20")).toBe("192.168.1.20");
    expect<string>(ip("0.0.0.0")).toBe("0.0.0.0");
    expect<string>(ip("255.255.255.255")).toBe("255.255.255.255");
    expect<string>(ip("256.1.1.1")).toBe("");
    expect<string>(ip("01.1.1.1")).toBe("");
    expect<string>(ip("1.1.1")).toBe("");
    expect<string>(ip("1.1.1.1.")).toBe("");
    expect<string>(ip("1.1.1.1 ")).toBe("");
    expect<string>(ip("a.b.c.d")).toBe("");
    expect<string>(ip("")).toBe("");
  });

  it("parses IPv6 with ::, a trailing dotted quad, in either case", () => {
    expect<string>(ip("::1")).toBe("0:0:0:0:0:0:0:0:0:0:0:0:0:0:0:1");
    expect<string>(ip("0:0:0:0:0:0:0:1")).toBe(ip("::1"));
    expect<string>(ip("::")).toBe("0:0:0:0:0:0:0:0:0:0:0:0:0:0:0:0");
    expect<string>(ip("2001:DB8::ff00:42:8329")).toBe(ip("2001:0db8:0000:0000:0000:ff00:0042:8329"));
    expect<string>(ip("1::")).toBe("0:1:0:0:0:0:0:0:0:0:0:0:0:0:0:0");
    expect<string>(ip("::ffff:1.2.3.4")).toBe("0:0:0:0:0:0:0:0:0:0:255:255:1:2:3:4");
    expect<string>(ip("1:2:3:4:5:6:7::")).toBe("0:1:0:2:0:3:0:4:0:5:0:6:0:7:0:0");
    expect<string>(ip("1:2:3:4:5:6:7:8::")).toBe("");
    expect<string>(ip("1::2::3")).toBe("");
    expect<string>(ip(":1")).toBe("");
    expect<string>(ip("1:")).toBe("");
    expect<string>(ip("12345::")).toBe("");
    expect<string>(ip("fe80::1%eth0")).toBe("");
    expect<string>(ip("1:2:3:4:5:6:7:8:9")).toBe("");
    expect<string>(ip("::1.2.3.4.5")).toBe("");
    expect<string>(ip("[::1]")).toBe("");
  });

  it("takes the entry of x-forwarded-for that the trusted hops designate (Envoy's getLastAddressFromXFF)", () => {
    expect<string>(xffEntry("1.1.1.1", 1)).toBe("1.1.1.1");
    expect<string>(xffEntry("1.1.1.1, 2.2.2.2,3.3.3.3", 1)).toBe("3.3.3.3");
    expect<string>(xffEntry("1.1.1.1, 2.2.2.2 ,3.3.3.3", 2)).toBe("2.2.2.2");
    expect<string>(xffEntry("1.1.1.1, 2.2.2.2,3.3.3.3", 3)).toBe("1.1.1.1");
    expect<string>(xffEntry("1.1.1.1, 2.2.2.2,3.3.3.3", 4)).toBe("<none>");
    expect<string>(xffEntry("", 1)).toBe("");
    expect<string>(xffEntry(",", 2)).toBe("");
    expect<string>(xffEntry(",", 3)).toBe("<none>");
  });

  it("strips the port of source.address", () => {
    expect<string>(host("10.0.0.1:5000")).toBe("10.0.0.1");
    expect<string>(host("[::1]:5000")).toBe("::1");
    expect<string>(host("10.0.0.1")).toBe("10.0.0.1");
    expect<string>(host("::1")).toBe("::1");
    expect<string>(host("[::1")).toBe("::1");
  });
});

describe("descriptor key", () => {
  it("tells a missing header from an empty one, and values apart", () => {
    const missing = build(0, new HeaderList());
    const empty = build(0, new HeaderList().add("x-user-id", ""));
    const alice = build(0, new HeaderList().add("x-user-id", "alice"));
    expect<string>(hex(missing.encoded())).toBe("00");
    expect<string>(hex(empty.encoded())).toBe("0100");
    expect<string>(hex(alice.encoded())).toBe("0105616c696365");
    expect<bool>(missing.hash != empty.hash && empty.hash != alice.hash).toBe(true);
    expect<u8>(alice.form).toBe(7);
  });

  it("uses the client address from x-forwarded-for, else from the connection", () => {
    const viaXff = build(1, new HeaderList().add("x-forwarded-for", "203.0.113.7, 10.1.1.1"), "10.0.0.1:5000", 2);
    expect<string>(hex(viaXff.encoded())).toBe("02cb007107");
    // XFF not trusted (0 hops): the connection address.
    const direct = build(1, new HeaderList().add("x-forwarded-for", "203.0.113.7"), "10.0.0.1:5000", 0);
    expect<string>(hex(direct.encoded())).toBe("020a000001");
    // Too few XFF entries, or one that is no IP: the connection address, as Envoy.
    expect<string>(hex(build(1, new HeaderList().add("x-forwarded-for", "203.0.113.7"), "10.0.0.1:5000", 2).encoded())).toBe("020a000001");
    expect<string>(hex(build(1, new HeaderList().add("x-forwarded-for", "unknown"), "10.0.0.1:5000", 1).encoded())).toBe("020a000001");
    // IPv6, and the same client written two ways is one key.
    const v6 = build(1, new HeaderList(), "[2001:db8::1]:443", 0);
    expect<string>(hex(v6.encoded())).toBe("0320010db8000000000000000000000001");
    expect<u64>(build(1, new HeaderList(), "[2001:DB8:0::1]:80", 0).hash).toBe(v6.hash);
    // Not an IP: the text; none at all: its own value.
    expect<string>(hex(build(1, new HeaderList(), "pipe", 0).encoded())).toBe("040470697065");
    expect<string>(hex(build(1, new HeaderList(), null, 0).encoded())).toBe("00");
  });

  it("keys on the path without query or fragment, a claim header and a constant", () => {
    const a = build(2, new HeaderList("/api/x?page=2").add("x-user-tier", "premium"));
    const b = build(2, new HeaderList("/api/x#top").add("x-user-tier", "premium"));
    const c = build(2, new HeaderList("/api/y").add("x-user-tier", "premium"));
    expect<u64>(a.hash).toBe(b.hash);
    expect<bool>(a.hash != c.hash).toBe(true);
    expect<string>(hex(a.encoded())).toBe("05062f6170692f78" + "01077072656d69756d" + "060167");
  });

  it("gives a rule without key parts one key", () => {
    const a = build(3, new HeaderList("/a"));
    const b = build(3, new HeaderList("/b").add("x-user-id", "z"));
    expect<i32>(a.encoded().length).toBe(0);
    expect<u64>(a.hash).toBe(b.hash);
    // The same (empty) key under another rule hashes elsewhere.
    const other = new DescriptorKey();
    other.finish(0, CONFIG.seed);
    expect<bool>(other.hash != a.hash).toBe(true);
  });

  it("stores short keys as they are and long ones as their SHA-256", () => {
    let id = "";
    for (let i = 0; i < KEY_BYTES - 2; i++) id += "u";
    const short = build(0, new HeaderList().add("x-user-id", id));
    expect<u8>(short.form).toBe(<u8>KEY_BYTES);
    const long = build(0, new HeaderList().add("x-user-id", id + "u"));
    expect<u8>(long.form).toBe(KEY_HASHED);
    expect<i32>(long.storedLength).toBe(32);
    const longer = build(0, new HeaderList().add("x-user-id", id + "v"));
    expect<bool>(memory.compare(long.storedPtr, longer.storedPtr, 32) != 0).toBe(true);
    // Header values of any size, multi-byte UTF-8 included.
    let huge = "";
    for (let i = 0; i < 5000; i++) huge += "é";
    const big = build(0, new HeaderList().add("x-user-id", huge));
    expect<i32>(big.encoded().length).toBe(1 + 2 + 10000);
    expect<u8>(big.form).toBe(KEY_HASHED);
  });
});
