import { JsonWriter, parseJson, parseJsonString, quoteJsonString, stringify } from "..";

function roundTrip(text: string): string {
  const parsed = parseJsonString(text);
  expect<bool>(parsed.ok).toBe(true, text);
  return stringify(parsed.value!);
}

describe("JsonWriter", () => {
  it("writes structure with commas and colons in the right places", () => {
    const w = new JsonWriter(16);
    w.beginObject()
      .name("error").string("invalid_token")
      .name("codes").beginArray().integer(401).integer(-3).beginArray().endArray().beginObject().endObject().endArray()
      .name("ok").bool(false)
      .name("none").null()
      .endObject();
    expect<string>(w.toString()).toBe("{\"error\":\"invalid_token\",\"codes\":[401,-3,[],{}],\"ok\":false,\"none\":null}");
    expect<i32>(w.byteLength).toBe(w.toBytes().length);
  });

  it("grows past its initial capacity and can be reused after reset", () => {
    const w = new JsonWriter(16);
    w.beginArray();
    for (let i = 0; i < 1000; i++) w.integer(i);
    w.endArray();
    expect<i32>(w.byteLength).toBe(2 + 10 + 90 * 2 + 900 * 3 + 999);
    w.reset().string("x");
    expect<string>(w.toString()).toBe("\"x\"");
  });

  it("escapes per RFC 8259 §7", () => {
    expect<string>(quoteJsonString("a\"b\\c/d")).toBe("\"a\\\"b\\\\c/d\"");
    expect<string>(quoteJsonString("\b\f\n\r\t")).toBe("\"\\b\\f\\n\\r\\t\"");
    expect<string>(quoteJsonString("\u0000\u001f\u007f")).toBe("\"\\u0000\\u001f\u007f\"");
    expect<string>(quoteJsonString("é€😀")).toBe("\"é€😀\"");
  });

  it("writes UTF-8 and replaces lone surrogates with U+FFFD", () => {
    const bytes = new JsonWriter().string("é\u{1F600}").toBytes();
    expect<i32>(bytes.length).toBe(2 + 2 + 4);
    expect<u8>(bytes[3]).toBe(0xf0);
    const lone = new JsonWriter().string("a\uD800b\uDC00").toBytes();
    // "a" EF BF BD "b" EF BF BD within quotes: parses back.
    expect<i32>(lone.length).toBe(2 + 1 + 3 + 1 + 3);
    expect<string>(parseJson(lone).value!.asString()).toBe("a\uFFFDb\uFFFD");
  });

  it("writes numbers JSON can read back exactly", () => {
    const w = new JsonWriter();
    w.beginArray().integer(i64.MIN_VALUE).integer(i64.MAX_VALUE).number(1.5).number(-0.0).number(1e21)
      .number(5e-324).number(NaN).number(Infinity).number(42.0).endArray();
    expect<string>(w.toString()).toBe("[-9223372036854775808,9223372036854775807,1.5,0,1e+21,5e-324,null,null,42]");
    const back = parseJsonString(w.toString()).value!;
    expect<f64>(back.at(5)!.asF64()).toBe(5e-324);
    expect<f64>(back.at(4)!.asF64()).toBe(1e21);
  });

  it("round-trips parsed documents, member order and exact integers included", () => {
    expect<string>(roundTrip("{ \"z\" : [1, 2.5, \"\\u00e9\\n\"], \"a\" : {\"b\": null}, \"n\": 12345678901234567 }"))
      .toBe("{\"z\":[1,2.5,\"é\\n\"],\"a\":{\"b\":null},\"n\":12345678901234567}");
    expect<string>(roundTrip("[1e2, 1.0, -0, 0.1]")).toBe("[100,1,0,0.1]");
  });

  it("writes parsed values found inside a document", () => {
    const doc = parseJsonString("{\"sub\":\"eva\",\"realm_access\":{\"roles\":[\"a\",2,true]}}").value!;
    expect<string>(stringify(doc.get("realm_access")!)).toBe("{\"roles\":[\"a\",2,true]}");
    expect<string>(stringify(doc.get("realm_access")!.get("roles")!.at(1)!)).toBe("2");
  });
});
