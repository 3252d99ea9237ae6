import { HeaderList } from "../../../assembly/match";
import { ProtoReader, ProtoWriter, WIRE_LEN, WIRE_VARINT } from "../../../assembly/protobuf";
import { ConfigReader, ConfigResult } from "../../../assembly/config";
import { RateLimitConfig, parseConfig } from "../config";
import { ClientAddress, DescriptorBuilder, DescriptorKey, FixedAddress } from "../descriptor";
import { GlobalRequestBuilder, formatIp } from "../global";
import { CODE_OK, CODE_OVER_LIMIT, RateLimitResponse, addEntry, beginRequest, endRequest } from "../rls";
import { ServiceQuota } from "../response-headers";

/** `parseConfig` of configuration text. */
function parseText(text: string): ConfigResult<RateLimitConfig> {
  return parseConfig(ConfigReader.fromString(text));
}

// Kept referenced: a raw address alone would not keep the buffer alive.
const IP_BUFFER = new ArrayBuffer(16);
const IP = changetype<usize>(IP_BUFFER);

function hex(b: ArrayBuffer): string {
  const a = Uint8Array.wrap(b);
  let out = "";
  for (let i = 0; i < a.length; i++) out += (a[i] < 16 ? "0" : "") + a[i].toString(16);
  return out;
}

function bytes(list: u8[]): ArrayBuffer {
  const out = new ArrayBuffer(list.length);
  for (let i = 0; i < list.length; i++) store<u8>(changetype<usize>(out) + <usize>i, list[i]);
  return out;
}

function ipText(list: u8[]): string {
  for (let i = 0; i < list.length; i++) store<u8>(IP + <usize>i, list[i]);
  return formatIp(IP, list.length);
}

describe("ProtoWriter", () => {
  it("writes varints as the shortest base-128 groups", () => {
    const w = new ProtoWriter(16);
    w.varint(0);
    w.varint(1);
    w.varint(300);
    w.varint(u64.MAX_VALUE);
    expect<string>(hex(w.toBuffer())).toBe("0001ac02ffffffffffffffffff01");
  });

  it("leaves proto3 defaults out and writes a sub-message's length in front, however long", () => {
    const w = new ProtoWriter(16);
    w.uint64Field(1, 0);
    w.stringField(2, "");
    expect<i32>(w.size).toBe(0);
    const mark = w.begin(3);
    w.stringField(1, "x".repeat(200));
    w.end(mark);
    const r = ProtoReader.of(w.toBuffer());
    expect<bool>(r.next()).toBe(true);
    expect<u32>(r.field).toBe(3);
    expect<bool>(r.bytes()).toBe(true);
    expect<usize>(r.valueEnd - r.valueStart).toBe(203); // tag, 2-byte length, 200 bytes
    expect<bool>(r.next()).toBe(false);
    expect<bool>(r.ok).toBe(true);
  });

  it("is reused from message to message after reset, growing as needed", () => {
    const w = new ProtoWriter(16);
    let mark = beginRequest(w, "d".repeat(1000));
    addEntry(w, "k", "v");
    endRequest(w, mark);
    expect<i32>(w.size).toBeGreaterThan(1000);
    mark = beginRequest(w, "mesh");
    addEntry(w, "k", "v");
    endRequest(w, mark);
    expect<string>(hex(w.toBuffer())).toBe("0a046d657368" + "1208" + "0a06" + "0a016b" + "120176");
  });
});

describe("ProtoReader", () => {
  it("reads packed varints with a reader of the field's value", () => {
    const r = ProtoReader.of(bytes([0x22, 0x04, 0x01, 0xac, 0x02, 0x07]));
    expect<bool>(r.next()).toBe(true);
    expect<u32>(r.wireType).toBe(WIRE_LEN);
    expect<bool>(r.bytes()).toBe(true);
    const p = r.message();
    expect<u64>(p.packedVarint()).toBe(1);
    expect<u64>(p.packedVarint()).toBe(300);
    expect<u64>(p.packedVarint()).toBe(7);
    expect<bool>(p.more).toBe(false);
    expect<bool>(p.ok).toBe(true);
  });

  it("stops on a truncated varint, a length past the end, a group, and reads nothing after", () => {
    const cases: ArrayBuffer[] = [bytes([0x08, 0x80]), bytes([0x12, 0x05, 0x00]), bytes([0x0b]), bytes([0x0e, 0x00]), bytes([0x00])];
    for (let i = 0; i < cases.length; i++) {
      const r = ProtoReader.of(cases[i]);
      while (r.next()) {
        if (r.wireType == WIRE_VARINT) r.varintValue();
        else r.skip();
      }
      expect<bool>(r.ok).toBe(false);
      expect<bool>(r.next()).toBe(false);
    }
  });
});

describe("ProtoReader reuse", () => {
  it("reads a sub-message into a reader it resets, whatever that reader read before", () => {
    // field 1 LEN 2 { field 1 varint 7 }, field 2 varint 9
    const m = bytes([0x0a, 0x02, 0x08, 0x07, 0x10, 0x09]);
    const inner = ProtoReader.of(bytes([0x08])); // truncated: fails
    expect<bool>(inner.next()).toBe(true);
    expect<u64>(inner.varintValue()).toBe(0);
    expect<bool>(inner.ok).toBe(false);
    const r = ProtoReader.of(m);
    expect<bool>(r.next() && r.bytes()).toBe(true);
    expect<bool>(r.messageInto(inner) === inner).toBe(true);
    expect<bool>(inner.ok).toBe(true);
    expect<bool>(inner.next()).toBe(true);
    expect<u32>(inner.field).toBe(1);
    expect<u64>(inner.varintValue()).toBe(7);
    expect<bool>(inner.next()).toBe(false);
    expect<bool>(r.next()).toBe(true);
    expect<u64>(r.varintValue()).toBe(9);
  });
});

describe("RateLimitResponse", () => {
  it("reads codes, the limit, remaining and the nested duration; skips what it does not know", () => {
    // overall OVER_LIMIT; one status: OVER_LIMIT, limit {100, MINUTE, "u"}, remaining 0, reset {3s, 1ns}; raw_body "x"
    const m = bytes([0x08, 0x02, 0x12, 0x13, 0x08, 0x02, 0x12, 0x07, 0x08, 0x64, 0x10, 0x02, 0x1a, 0x01, 0x75, 0x18, 0x00, 0x22, 0x04, 0x08, 0x03, 0x10, 0x01, 0x2a, 0x01, 0x78]);
    const r = new RateLimitResponse();
    expect<bool>(r.decode(m)).toBe(true);
    expect<u32>(r.overallCode).toBe(CODE_OVER_LIMIT);
    expect<i32>(r.count).toBe(1);
    const s = r.statuses[0];
    expect<u32>(s.code).toBe(CODE_OVER_LIMIT);
    expect<bool>(s.hasLimit).toBe(true);
    expect<u32>(s.requestsPerUnit).toBe(100);
    expect<u32>(s.unit).toBe(2);
    expect<string>(s.name).toBe("u");
    expect<i64>(s.resetSeconds).toBe(3);
    expect<i32>(s.resetNanos).toBe(1);
    const q = new ServiceQuota();
    q.read(r);
    expect<bool>(q.present).toBe(true);
    expect<string>(q.limit).toBe("100, 100;w=60;name=\"u\"");
    expect<i64>(q.retryAfterSeconds).toBe(4);
    // Decoded again, the same object forgets the first message.
    expect<bool>(r.decode(bytes([0x08, 0x01]))).toBe(true);
    expect<u32>(r.overallCode).toBe(CODE_OK);
    expect<i32>(r.count).toBe(0);
  });

  it("is malformed when a known field has the wrong wire type or the bytes end inside a field", () => {
    const r = new RateLimitResponse();
    expect<bool>(r.decode(bytes([0x0a, 0x00]))).toBe(false);
    expect<bool>(r.decode(bytes([0x12, 0x02, 0x22, 0x00]))).toBe(true);
    expect<bool>(r.decode(bytes([0x12, 0x02, 0x20, 0x01]))).toBe(false);
    expect<bool>(r.decode(bytes([0x12, 0x03, 0x22, 0x01]))).toBe(false);
    // Its readers are reused: after a malformed message the next one reads whole.
    expect<bool>(r.decode(bytes([0x08, 0x01, 0x12, 0x04, 0x12, 0x02, 0x08, 0x05]))).toBe(true);
    expect<u32>(r.overallCode).toBe(CODE_OK);
    expect<i32>(r.count).toBe(1);
    expect<bool>(r.statuses[0].hasLimit).toBe(true);
    expect<u32>(r.statuses[0].requestsPerUnit).toBe(5);
  });
});

/** A request that counts its reads of x-forwarded-for. */
class CountingHeaders extends HeaderList {
  forwardedForReads: i32 = 0;

  header(name: string): string | null {
    if (name == "x-forwarded-for") this.forwardedForReads++;
    return super.header(name);
  }
}

/** A connection address that counts its reads. */
class CountingAddress extends FixedAddress {
  reads: i32 = 0;

  sourceAddress(): string | null {
    this.reads++;
    return super.sourceAddress();
  }
}

/** The ShouldRateLimit request of domain `mesh` with one entry, `remote_address` = `address`. */
function remoteAddressRequest(address: string): ArrayBuffer {
  const w = new ProtoWriter();
  const mark = beginRequest(w, "mesh");
  addEntry(w, "remote_address", address);
  endRequest(w, mark);
  return w.toBuffer();
}

const GLOBAL_CONFIG = parseText(`{"rules":[{"name":"r","key":[{"header":"x-user-id"},{"remote_address":{}},{"path":{}},{"generic":"g"}],
  "limits":[{"max_tokens":1,"fill_interval":"1s"}],"global":{"cluster":"rls","domain":"mesh"}}]}`).config!;

describe("the global request", () => {

  it("has the rule's key parts as entries, keyed as Envoy's actions", () => {
    const builder = new GlobalRequestBuilder(new ClientAddress(0));
    const request = new HeaderList("/a/b?c=d#e").add("x-user-id", "alice");
    const message = builder.build(GLOBAL_CONFIG.rules[0], request, new FixedAddress("[::ffff:10.1.2.3]:80"));
    const w = new ProtoWriter();
    const mark = beginRequest(w, "mesh");
    addEntry(w, "x-user-id", "alice");
    addEntry(w, "remote_address", "::ffff:10.1.2.3");
    addEntry(w, "path", "/a/b");
    addEntry(w, "generic_key", "g");
    endRequest(w, mark);
    expect<string>(hex(message)).toBe(hex(w.toBuffer()));
  });

  it("shares the local key's client address: x-forwarded-for and source.address read once per request", () => {
    const config = parseText(`{"rules":[{"name":"r","key":[{"remote_address":{}}],"limits":[{"max_tokens":1,"fill_interval":"1s"}],
      "global":{"cluster":"rls","domain":"mesh"}}],"xff_num_trusted_hops":1}`).config!;
    const rule = config.rules[0];
    const client = new ClientAddress(1);
    const local = new DescriptorBuilder(client, config.seed);
    const global = new GlobalRequestBuilder(client);
    const key = new DescriptorKey();
    const source = new CountingAddress("10.0.0.1:5000");

    const forwarded = new CountingHeaders();
    forwarded.add("x-forwarded-for", "203.0.113.9, 198.51.100.7");
    client.forget();
    local.build(rule, forwarded, source, key);
    const first = global.build(rule, forwarded, source);
    expect<i32>(forwarded.forwardedForReads).toBe(1);
    expect<i32>(source.reads).toBe(0);
    expect<string>(hex(key.encoded().buffer)).toBe("02c6336407");
    expect<string>(hex(first)).toBe(hex(remoteAddressRequest("198.51.100.7")));

    // The next request (forget) resolves again: no x-forwarded-for, so the connection's address.
    const direct = new CountingHeaders();
    client.forget();
    local.build(rule, direct, source, key);
    const second = global.build(rule, direct, source);
    expect<i32>(direct.forwardedForReads).toBe(1);
    expect<i32>(source.reads).toBe(1);
    expect<string>(hex(key.encoded().buffer)).toBe("020a000001");
    expect<string>(hex(second)).toBe(hex(remoteAddressRequest("10.0.0.1")));
  });

  it("writes IP addresses as inet_ntop does (RFC 5952)", () => {
    expect<string>(ipText([10, 0, 0, 1])).toBe("10.0.0.1");
    expect<string>(ipText([0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 7])).toBe("2001:db8::7");
    expect<string>(ipText([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1])).toBe("::1");
    expect<string>(ipText([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0])).toBe("::");
    // One zero group is not shortened; of two equal runs the first is.
    expect<string>(ipText([0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1])).toBe("2001:db8:0:1:1:1:1:1");
    expect<string>(ipText([0x20, 0x01, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1, 0, 1])).toBe("2001::1:0:0:1:1");
    expect<string>(ipText([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 0, 2, 1])).toBe("::ffff:192.0.2.1");
    expect<string>(ipText([0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0xab, 0xcd, 0, 0, 0, 0, 0, 0])).toBe("fe80::abcd:0:0:0");
  });
});
