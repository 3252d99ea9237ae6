import { JsonError, JsonErrorKind, JsonKind, JsonOptions, JsonValue, parseJson, parseJsonString } from "..";

function accept(text: string, options: JsonOptions = new JsonOptions()): JsonValue {
  const result = parseJsonString(text, options);
  if (!result.ok) {
    // Surface the reason in the failure message.
    expect<string>(result.error!.toString()).toBe("(accepted)", text);
  }
  return result.value!;
}

function reject(text: string, options: JsonOptions = new JsonOptions()): JsonError {
  const result = parseJsonString(text, options);
  expect<bool>(result.ok).toBe(false, "accepted: " + text);
  return result.error!;
}

function rejectBytes(bytes: u8[]): JsonError {
  const input = new Uint8Array(bytes.length);
  for (let i = 0; i < bytes.length; i++) input[i] = bytes[i];
  const result = parseJson(input);
  expect<bool>(result.ok).toBe(false, "accepted bytes");
  return result.error!;
}

function acceptBytes(bytes: u8[]): JsonValue {
  const input = new Uint8Array(bytes.length);
  for (let i = 0; i < bytes.length; i++) input[i] = bytes[i];
  const result = parseJson(input);
  expect<bool>(result.ok).toBe(true, result.ok ? "" : result.error!.toString());
  return result.value!;
}

function expectKind(text: string, kind: JsonErrorKind): void {
  expect<i32>(reject(text).kind).toBe(kind, text);
}

describe("parseJson: values", () => {
  it("parses each kind", () => {
    expect<i32>(accept("null").kind).toBe(JsonKind.Null);
    expect<bool>(accept("true").asBool()).toBe(true);
    expect<bool>(accept("false").asBool(true)).toBe(false);
    expect<f64>(accept("-12.5").asF64()).toBe(-12.5);
    expect<string>(accept("\"hi\"").asString()).toBe("hi");
    expect<i32>(accept("[1, 2, 3]").length).toBe(3);
    expect<i32>(accept("{\"a\": {}}").kind).toBe(JsonKind.Object);
  });

  it("allows the four whitespace bytes around tokens", () => {
    const v = accept(" \t\r\n{ \"a\" :\n[ 1 ,\t2 ] } \n");
    expect<i64>(v.get("a")!.at(1)!.asI64()).toBe(2);
  });

  it("keeps object members in document order", () => {
    const v = accept("{\"z\":1,\"a\":2,\"m\":3}");
    expect<string>(v.keyAt(0)!).toBe("z");
    expect<string>(v.keyAt(1)!).toBe("a");
    expect<string>(v.keyAt(2)!).toBe("m");
    expect<i64>(v.valueAt(2)!.asI64()).toBe(3);
    expect<string | null>(v.keyAt(3)).toBeNull();
  });

  it("finds members by name in small and indexed large objects", () => {
    const small = accept("{\"alg\":\"RS256\",\"kid\":\"k1\",\"typ\":\"JWT\"}");
    expect<string>(small.getString("kid")).toBe("k1");
    expect<bool>(small.has("x5t")).toBe(false);
    expect<JsonValue | null>(small.get("x5t")).toBeNull();
    let text = "{";
    for (let i = 0; i < 40; i++) text += (i ? "," : "") + "\"k" + i.toString() + "\":" + i.toString();
    const large = accept(text + "}");
    expect<i32>(large.length).toBe(40);
    expect<i64>(large.get("k0")!.asI64()).toBe(0);
    expect<i64>(large.get("k39")!.asI64()).toBe(39);
    expect<bool>(large.keyAtEquals(17, "k17")).toBe(true);
    expect<i64>(large.valueAt(17)!.asI64()).toBe(17);
    expect<bool>(large.get("k\u0031")!.isNumber()).toBe(true); // "k1", found through the hash index
    expect<bool>(large.has("k40")).toBe(false);
  });

  it("finds members of several large objects, nested and side by side, each through its own index", () => {
    // Outer object of 50 members; member "inner" (the 10th) is an object of 70, which
    // outgrows its first table; "last" is another large object after it.
    let inner = "{";
    for (let i = 0; i < 70; i++) inner += (i ? "," : "") + "\"i" + i.toString() + "\":" + (1000 + i).toString();
    inner += "}";
    let last = "{";
    for (let i = 0; i < 40; i++) last += (i ? "," : "") + "\"i" + i.toString() + "\":" + (2000 + i).toString();
    last += "}";
    let text = "{";
    for (let i = 0; i < 50; i++) {
      text += (i ? "," : "") + "\"k" + i.toString() + "\":";
      text += i == 9 ? inner : i == 49 ? last : i.toString();
    }
    const outer = accept(text + "}");
    expect<i64>(outer.get("k48")!.asI64()).toBe(48);
    expect<i64>(outer.get("k9")!.get("i69")!.asI64()).toBe(1069);
    expect<i64>(outer.get("k9")!.get("i0")!.asI64()).toBe(1000);
    expect<i64>(outer.get("k49")!.get("i39")!.asI64()).toBe(2039);
    expect<bool>(outer.get("k49")!.has("i40")).toBe(false);
    expect<bool>(outer.get("k9")!.has("k0")).toBe(false);
    // A duplicate far into a large inner object, after its table was rebuilt.
    const dup = "{\"a\":" + inner.substring(0, inner.length - 1) + ",\"i3\":0}}";
    expect<JsonErrorKind>(reject(dup).kind).toBe(JsonErrorKind.DuplicateKey);
  });

  it("finds members whose names were escaped, and compares strings without decoding", () => {
    const v = accept("{\"\\u0061lg\":\"RS\\u0032256\",\"k\u00e9y\":\"\\u00e9\"}");
    expect<string>(v.getString("alg")).toBe("RS2256");
    expect<bool>(v.get("alg")!.equalsString("RS2256")).toBe(true);
    expect<bool>(v.get("alg")!.equalsString("RS256")).toBe(false);
    expect<bool>(v.get("k\u00e9y")!.equalsString("\u00e9")).toBe(true);
    expect<bool>(v.keyAtEquals(1, "k\u00e9y")).toBe(true);
    expect<bool>(accept("7").equalsString("7")).toBe(false);
  });

  it("reads items in any order", () => {
    const v = accept("[[1,[2]],{\"a\":{\"b\":3}},4,\"x\",5.5]");
    expect<f64>(v.at(4)!.asF64()).toBe(5.5);
    expect<i64>(v.at(0)!.at(1)!.at(0)!.asI64()).toBe(2);
    expect<i64>(v.at(2)!.asI64()).toBe(4);
    expect<i64>(v.at(1)!.get("a")!.get("b")!.asI64()).toBe(3);
    expect<string>(v.at(3)!.asString()).toBe("x");
    expect<i64>(v.at(2)!.asI64()).toBe(4);
    expect<JsonValue | null>(v.at(5)).toBeNull();
  });

  it("returns fallbacks, not traps, for accessors of the wrong kind", () => {
    const s = accept("\"x\"");
    expect<i64>(s.asI64(-7)).toBe(-7);
    expect<bool>(isNaN(s.asF64())).toBe(true);
    expect<bool>(s.asBool(true)).toBe(true);
    expect<JsonValue | null>(s.get("a")).toBeNull();
    expect<JsonValue | null>(s.at(0)).toBeNull();
    expect<i32>(s.length).toBe(0);
    const arr = accept("[1]");
    expect<string>(arr.asString("none")).toBe("none");
    expect<JsonValue | null>(arr.at(-1)).toBeNull();
    expect<JsonValue | null>(arr.at(1)).toBeNull();
    expect<JsonValue | null>(arr.valueAt(0)).toBeNull();
    expect<JsonValue | null>(accept("{\"a\":1}").at(0)).toBeNull();
  });
});

describe("parseJson: numbers", () => {
  it("keeps integers exact as i64, beyond 2^53", () => {
    const v = accept("9007199254740993");
    expect<bool>(v.isInteger()).toBe(true);
    expect<i64>(v.asI64()).toBe(9007199254740993);
    expect<f64>(v.asF64()).toBe(9007199254740992.0); // nearest double, ties to even
    expect<i64>(accept("-9223372036854775808").asI64()).toBe(i64.MIN_VALUE);
    expect<i64>(accept("9223372036854775807").asI64()).toBe(i64.MAX_VALUE);
    expect<i64>(accept("1700000000").asI64()).toBe(1700000000);
  });

  it("tells integral values from others, whatever the notation", () => {
    expect<bool>(accept("1.0").isInteger()).toBe(true);
    expect<i64>(accept("1.7e9").asI64()).toBe(1700000000);
    expect<i64>(accept("25E-1").asI64(-1)).toBe(-1);
    expect<i64>(accept("2500e-2").asI64()).toBe(25);
    expect<bool>(accept("-0").isInteger()).toBe(true);
    expect<bool>(accept("1.5").isInteger()).toBe(false);
    expect<bool>(accept("9223372036854775808").isInteger()).toBe(false);
    expect<bool>(accept("-9223372036854775809").isInteger()).toBe(false);
    expect<bool>(accept("1e19").isInteger()).toBe(false);
    expect<f64>(accept("1e19").asF64()).toBe(1e19);
  });

  it("rounds to the nearest double like JSON.parse", () => {
    expect<f64>(accept("0.1").asF64()).toBe(0.1);
    expect<f64>(accept("1e-7").asF64()).toBe(1e-7);
    expect<f64>(accept("-2.5e-3").asF64()).toBe(-0.0025);
    expect<f64>(accept("1.7976931348623157e308").asF64()).toBe(f64.MAX_VALUE);
    expect<f64>(accept("2.2250738585072014e-308").asF64()).toBe(f64.MIN_NORMAL_VALUE);
    expect<f64>(accept("4.9406564584124654e-324").asF64()).toBe(f64.MIN_VALUE);
    expect<f64>(accept("2.4703282292062328e-324").asF64()).toBe(f64.MIN_VALUE); // just above half the smallest subnormal
    expect<f64>(accept("2.4703282292062327e-324").asF64()).toBe(0.0); // just below
    // 2^53 + 1 is a tie: even wins; a digit far to the right breaks it.
    expect<f64>(accept("9007199254740993.0").asF64()).toBe(9007199254740992.0);
    expect<f64>(accept("9007199254740993.00000000000000000000000001").asF64()).toBe(9007199254740994.0);
    expect<f64>(accept("9007199254740995").asF64()).toBe(9007199254740996.0);
    expect<f64>(accept("0.30000000000000000000000000000000000001").asF64()).toBe(0.3);
    expect<f64>(accept("1e-400").asF64()).toBe(0.0);
  });

  it("rejects numbers outside the RFC 8259 §6 grammar", () => {
    expectKind("01", JsonErrorKind.InvalidNumber);
    expectKind("-01", JsonErrorKind.InvalidNumber);
    expectKind("[00]", JsonErrorKind.InvalidNumber);
    expectKind("+1", JsonErrorKind.InvalidNumber);
    expectKind(".5", JsonErrorKind.InvalidNumber);
    expectKind("1.x", JsonErrorKind.InvalidNumber);
    expectKind("1.e3", JsonErrorKind.InvalidNumber);
    expectKind("1ex", JsonErrorKind.InvalidNumber);
    expectKind("-a", JsonErrorKind.InvalidNumber);
    expectKind("0x10", JsonErrorKind.TrailingData);
    expectKind("NaN", JsonErrorKind.UnexpectedCharacter);
    expectKind("-Infinity", JsonErrorKind.InvalidNumber);
  });

  it("rejects numbers beyond binary64 instead of making them Infinity", () => {
    expectKind("1e400", JsonErrorKind.NumberOutOfRange);
    expectKind("-1e309", JsonErrorKind.NumberOutOfRange);
    expectKind("1.7976931348623159e308", JsonErrorKind.NumberOutOfRange);
    expectKind("1e99999999999999999999", JsonErrorKind.NumberOutOfRange);
    let digits = "";
    for (let i = 0; i < 400; i++) digits += "9";
    expectKind(digits, JsonErrorKind.NumberOutOfRange);
  });

  it("handles very long mantissas without losing the value", () => {
    let text = "1.";
    for (let i = 0; i < 5000; i++) text += "0";
    expect<f64>(accept(text + "1").asF64()).toBe(1.0);
    let big = "";
    for (let i = 0; i < 300; i++) big += "1";
    expect<f64>(accept(big + "e-290").asF64()).toBe(1.1111111111111111e9);
  });
});

describe("parseJson: strings", () => {
  it("decodes every escape of RFC 8259 §7", () => {
    const s = accept("\"\\\" \\\\ \\/ \\b \\f \\n \\r \\t \\u0041\\u00e9\\u20AC\"").asString();
    expect<string>(s).toBe("\" \\ / \b \f \n \r \t A\u00e9\u20ac");
  });

  it("decodes surrogate pairs and UTF-8 of every length", () => {
    expect<string>(accept("\"\\ud83d\\ude00\"").asString()).toBe("\u{1F600}");
    expect<string>(accept("\"é€😀\"").asString()).toBe("\u00e9\u20ac\u{1F600}");
    expect<i32>(accept("\"😀\"").asString().length).toBe(2);
    // U+007F (DEL) and U+10FFFF are allowed as they are.
    expect<i32>(acceptBytes([0x22, 0x7f, 0xf4, 0x8f, 0xbf, 0xbf, 0x22]).asString().length).toBe(3);
  });

  it("rejects lone surrogates in \\u escapes", () => {
    expectKind("\"\\ud800\"", JsonErrorKind.LoneSurrogate);
    expectKind("\"\\udc00\"", JsonErrorKind.LoneSurrogate);
    expectKind("\"\\ud800\\u0041\"", JsonErrorKind.LoneSurrogate);
    expectKind("\"\\ud800x\"", JsonErrorKind.LoneSurrogate);
    expectKind("\"\\ud800\\ud800\"", JsonErrorKind.LoneSurrogate);
  });

  it("rejects unescaped control characters", () => {
    expectKind("\"a\nb\"", JsonErrorKind.ControlCharacter);
    expectKind("\"\t\"", JsonErrorKind.ControlCharacter);
    expect<i32>(rejectBytes([0x22, 0x00, 0x22]).kind).toBe(JsonErrorKind.ControlCharacter);
    expect<i32>(rejectBytes([0x22, 0x1f, 0x22]).kind).toBe(JsonErrorKind.ControlCharacter);
  });

  it("rejects escapes RFC 8259 does not list", () => {
    expectKind("\"\\x41\"", JsonErrorKind.InvalidEscape);
    expectKind("\"\\'\"", JsonErrorKind.InvalidEscape);
    expectKind("\"\\u12G4\"", JsonErrorKind.InvalidEscape);
    expectKind("\"\\U0041\"", JsonErrorKind.InvalidEscape);
  });

  it("rejects malformed UTF-8 (RFC 3629)", () => {
    expect<i32>(rejectBytes([0x22, 0xc0, 0x80, 0x22]).kind).toBe(JsonErrorKind.InvalidUtf8); // overlong NUL
    expect<i32>(rejectBytes([0x22, 0xe0, 0x80, 0x80, 0x22]).kind).toBe(JsonErrorKind.InvalidUtf8); // overlong
    expect<i32>(rejectBytes([0x22, 0xf0, 0x80, 0x80, 0x80, 0x22]).kind).toBe(JsonErrorKind.InvalidUtf8); // overlong
    expect<i32>(rejectBytes([0x22, 0xed, 0xa0, 0x80, 0x22]).kind).toBe(JsonErrorKind.InvalidUtf8); // U+D800 encoded
    expect<i32>(rejectBytes([0x22, 0xf4, 0x90, 0x80, 0x80, 0x22]).kind).toBe(JsonErrorKind.InvalidUtf8); // > U+10FFFF
    expect<i32>(rejectBytes([0x22, 0xf5, 0x80, 0x80, 0x80, 0x22]).kind).toBe(JsonErrorKind.InvalidUtf8);
    expect<i32>(rejectBytes([0x22, 0x80, 0x22]).kind).toBe(JsonErrorKind.InvalidUtf8); // stray continuation
    expect<i32>(rejectBytes([0x22, 0xc3, 0x22]).kind).toBe(JsonErrorKind.InvalidUtf8); // missing continuation
    expect<i32>(rejectBytes([0x22, 0xff, 0x22]).kind).toBe(JsonErrorKind.InvalidUtf8);
    expect<i32>(rejectBytes([0x22, 0xe2, 0x82]).kind).toBe(JsonErrorKind.UnexpectedEnd); // truncated sequence
    expect<i32>(rejectBytes([0xc3, 0xa9]).kind).toBe(JsonErrorKind.UnexpectedCharacter); // outside a string
    expect<i32>(rejectBytes([0xef, 0xbb, 0xbf, 0x31]).kind).toBe(JsonErrorKind.UnexpectedCharacter); // BOM
  });
});

describe("parseJson: structure", () => {
  it("rejects trailing commas", () => {
    const e = reject("[1, 2,]");
    expect<i32>(e.kind).toBe(JsonErrorKind.TrailingComma);
    expect<i32>(e.offset).toBe(5);
    expectKind("{\"a\":1,}", JsonErrorKind.TrailingComma);
    expectKind("[,]", JsonErrorKind.UnexpectedCharacter);
    expectKind("[1,,2]", JsonErrorKind.UnexpectedCharacter);
  });

  it("rejects comments, single quotes and bare words", () => {
    const e = reject("{\"a\":1 // note\n}");
    expect<i32>(e.kind).toBe(JsonErrorKind.UnexpectedCharacter);
    expect<string>(e.message).toBe("comments are not allowed");
    expectKind("/* c */ 1", JsonErrorKind.UnexpectedCharacter);
    expect<string>(reject("{'a':1}").message).toBe("strings must be in double quotes");
    expectKind("{a:1}", JsonErrorKind.UnexpectedCharacter);
    expectKind("True", JsonErrorKind.UnexpectedCharacter);
    expectKind("nul", JsonErrorKind.UnexpectedEnd);
    expectKind("nulx", JsonErrorKind.UnexpectedCharacter);
  });

  it("rejects missing separators", () => {
    expectKind("{\"a\" 1}", JsonErrorKind.UnexpectedCharacter);
    expectKind("{\"a\":1 \"b\":2}", JsonErrorKind.UnexpectedCharacter);
    expectKind("[1 2]", JsonErrorKind.UnexpectedCharacter);
    expectKind("{\"a\":1]", JsonErrorKind.UnexpectedCharacter);
    expectKind("[1}", JsonErrorKind.UnexpectedCharacter);
    expectKind("{1:2}", JsonErrorKind.UnexpectedCharacter);
  });

  it("rejects anything after the value", () => {
    const e = reject("{} {}");
    expect<i32>(e.kind).toBe(JsonErrorKind.TrailingData);
    expect<i32>(e.offset).toBe(3);
    expectKind("1 2", JsonErrorKind.TrailingData);
    expectKind("\"a\"x", JsonErrorKind.TrailingData);
    expect<i32>(rejectBytes([0x31, 0x00]).kind).toBe(JsonErrorKind.TrailingData);
  });

  it("rejects duplicate member names, also when escaped differently", () => {
    const e = reject("{\"alg\":\"RS256\",\"typ\":\"JWT\",\"alg\":\"none\"}");
    expect<i32>(e.kind).toBe(JsonErrorKind.DuplicateKey);
    expect<i32>(e.offset).toBe(27);
    expect<string>(e.message).toBe("duplicate member name \"alg\"");
    expectKind("{\"a\":1,\"\\u0061\":2}", JsonErrorKind.DuplicateKey);
    expectKind("[{\"x\":{\"y\":1,\"y\":1}}]", JsonErrorKind.DuplicateKey);
    let text = "{";
    for (let i = 0; i < 20; i++) text += "\"k" + i.toString() + "\":0,";
    expectKind(text + "\"k3\":1}", JsonErrorKind.DuplicateKey);
    // Past 32 members the check goes through a hash table; escapes still count.
    let large = "{";
    for (let i = 0; i < 100; i++) large += "\"name" + i.toString() + "\":0,";
    expectKind(large + "\"name\\u0037\":1}", JsonErrorKind.DuplicateKey);
    expect<i32>(accept(large + "\"name100\":1}").length).toBe(101);
    // The same name in sibling objects is fine.
    expect<i32>(accept("[{\"a\":1},{\"a\":2}]").length).toBe(2);
  });

  it("rejects every truncation of a document as unexpected end", () => {
    const doc = "{\"a\":[1,-2.5e+3,true,false,null,\"s\\u00e9\\n\"],\"b\":{\"c\":\"😀\"}}";
    const bytes = String.UTF8.encode(doc);
    for (let n = 0; n < bytes.byteLength; n++) {
      const r = parseJson(Uint8Array.wrap(bytes, 0, n));
      expect<bool>(r.ok).toBe(false, "prefix of " + n.toString() + " bytes accepted");
      // A cut inside a number can leave a valid shorter number: "-" or "-2.5e+" are not, "1" inside [ is not complete either.
      expect<i32>(r.error!.kind).toBe(JsonErrorKind.UnexpectedEnd, "prefix " + n.toString() + ": " + r.error!.toString());
    }
    expect<bool>(parseJson(Uint8Array.wrap(bytes)).ok).toBe(true);
  });
});

describe("parseJson: messages", () => {
  it("names the offending byte in hexadecimal and the limits in decimal", () => {
    expect<string>(rejectBytes([0x22, 0x1f, 0x22]).message).toBe("control character 0x1f in a string must be escaped");
    expect<string>(rejectBytes([0x22, 0x05, 0x22]).message).toBe("control character 0x5 in a string must be escaped");
    expect<string>(rejectBytes([0x80]).toString()).toBe("unexpected byte 0x80, expected a value at byte 0");
    expect<string>(reject("[[1]]", new JsonOptions(1)).message).toBe("nesting deeper than 1");
    expect<string>(reject("[1, 2]", new JsonOptions(8, 3)).message).toBe("input of 6 bytes is over the limit of 3");
  });
});

describe("parseJson: limits", () => {
  it("limits nesting depth", () => {
    const two = new JsonOptions(2);
    expect<i32>(accept("[[1]]", two).length).toBe(1);
    expect<i32>(accept("{\"a\":[]}", two).length).toBe(1);
    const e = reject("[[[1]]]", two);
    expect<i32>(e.kind).toBe(JsonErrorKind.TooDeep);
    expect<i32>(e.offset).toBe(2);
    expect<i32>(reject("{\"a\":{\"b\":{}}}", two).kind).toBe(JsonErrorKind.TooDeep);
    expect<i32>(reject("[1]", new JsonOptions(0)).kind).toBe(JsonErrorKind.TooDeep);
    expect<i64>(accept("7", new JsonOptions(0)).asI64()).toBe(7);
  });

  it("stops at the depth limit without exhausting the stack", () => {
    let deep = "";
    for (let i = 0; i < 100000; i++) deep += "[";
    expect<i32>(reject(deep).kind).toBe(JsonErrorKind.TooDeep);
    expect<i32>(reject(deep, new JsonOptions(1000000, 1 << 20)).kind).toBe(JsonErrorKind.UnexpectedEnd);
  });

  it("limits input size", () => {
    const e = reject("[1,2,3]", new JsonOptions(64, 6));
    expect<i32>(e.kind).toBe(JsonErrorKind.TooLarge);
    expect<string>(e.message).toBe("input of 7 bytes is over the limit of 6");
    expect<i32>(accept("[1,2,3]", new JsonOptions(64, 7)).length).toBe(3);
  });

  it("reports empty input as unexpected end", () => {
    expectKind("", JsonErrorKind.UnexpectedEnd);
    expectKind("  \n", JsonErrorKind.UnexpectedEnd);
  });
});

describe("memberSource", () => {
  const text = '{ "a" :\n { "x": "}{\\"", "y": [1, {"z": null}] } , "b":"s\\"t" ,"c": -1.5e3,"d":true , "e" : [ ], "f": null }';
  const source = (key: string): string | null => {
    const bytes = accept(text).memberSource(key);
    return bytes === null ? null : String.UTF8.decode(bytes);
  };

  it("gives a member's value exactly as written: containers, strings, numbers, literals", () => {
    expect<string | null>(source("a")).toBe('{ "x": "}{\\"", "y": [1, {"z": null}] }');
    expect<string | null>(source("b")).toBe('"s\\"t"');
    expect<string | null>(source("c")).toBe("-1.5e3");
    expect<string | null>(source("d")).toBe("true");
    expect<string | null>(source("e")).toBe("[ ]");
    expect<string | null>(source("f")).toBe("null");
  });

  it("is null for a missing member and for a value that is not an object", () => {
    expect<string | null>(source("g")).toBeNull();
    expect<ArrayBuffer | null>(accept("[1]").memberSource("a")).toBeNull();
  });
});
