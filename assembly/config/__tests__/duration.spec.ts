import { Duration, DURATION_SYNTAX_ERROR, parseDuration } from "..";

function nanos(text: string): i64 {
  const parsed = parseDuration(text);
  expect<string>(parsed.error).toBe("", text);
  return parsed.value!.totalNanoseconds;
}

function invalid(text: string): string {
  const parsed = parseDuration(text);
  expect<bool>(parsed.value === null).toBe(true, "accepted: " + text);
  return parsed.error;
}

describe("parseDuration (google.protobuf.Duration JSON)", () => {
  it("reads seconds with up to nine fractional digits", () => {
    expect<i64>(nanos("60s")).toBe(60_000_000_000);
    expect<i64>(nanos("3600s")).toBe(3_600_000_000_000);
    expect<i64>(nanos("0.25s")).toBe(250_000_000);
    expect<i64>(nanos("1.000000001s")).toBe(1_000_000_001);
    expect<i64>(nanos("0.000000001s")).toBe(1);
    expect<i64>(nanos("0s")).toBe(0);
    expect<i64>(nanos("007s")).toBe(7_000_000_000);
  });

  it("reads negative durations with both parts negative", () => {
    const d = parseDuration("-1.5s").value!;
    expect<i64>(d.seconds).toBe(-1);
    expect<i32>(d.nanos).toBe(-500_000_000);
    expect<i64>(d.totalMilliseconds).toBe(-1500);
    expect<i64>(nanos("-0.5s")).toBe(-500_000_000);
  });

  it("gives milliseconds truncated toward zero", () => {
    expect<i64>(parseDuration("0.0009s").value!.totalMilliseconds).toBe(0);
    expect<i64>(parseDuration("1.2345s").value!.totalMilliseconds).toBe(1234);
    expect<i64>(parseDuration("315576000000s").value!.totalMilliseconds).toBe(315_576_000_000_000);
  });

  it("accepts the whole protobuf range and saturates nanoseconds beyond i64", () => {
    const max = parseDuration("315576000000.999999999s").value!;
    expect<i64>(max.seconds).toBe(315_576_000_000);
    expect<i64>(max.totalNanoseconds).toBe(i64.MAX_VALUE);
    expect<i64>(parseDuration("-315576000000s").value!.totalNanoseconds).toBe(i64.MIN_VALUE);
  });

  it("rejects what protobuf's parser rejects", () => {
    expect<string>(invalid("60")).toBe(DURATION_SYNTAX_ERROR);
    expect<string>(invalid("1m")).toBe(DURATION_SYNTAX_ERROR);
    expect<string>(invalid("60ss")).toBe(DURATION_SYNTAX_ERROR);
    expect<string>(invalid("s")).toBe(DURATION_SYNTAX_ERROR);
    expect<string>(invalid("")).toBe(DURATION_SYNTAX_ERROR);
    expect<string>(invalid(".5s")).toBe(DURATION_SYNTAX_ERROR);
    expect<string>(invalid("1.s")).toBe(DURATION_SYNTAX_ERROR);
    expect<string>(invalid("+1s")).toBe(DURATION_SYNTAX_ERROR);
    expect<string>(invalid(" 1s")).toBe(DURATION_SYNTAX_ERROR);
    expect<string>(invalid("1s ")).toBe(DURATION_SYNTAX_ERROR);
    expect<string>(invalid("1e3s")).toBe(DURATION_SYNTAX_ERROR);
    expect<string>(invalid("--1s")).toBe(DURATION_SYNTAX_ERROR);
    expect<string>(invalid("0.1234567891s")).toBe(DURATION_SYNTAX_ERROR); // ten fractional digits
    expect<string>(invalid("315576000001s")).toBe("duration out of range (at most 315576000000s)");
    expect<string>(invalid("99999999999999999999999s")).toBe("duration out of range (at most 315576000000s)");
  });

  it("prints the protobuf JSON form", () => {
    expect<string>(parseDuration("60s").value!.toString()).toBe("60s");
    expect<string>(parseDuration("0.25s").value!.toString()).toBe("0.250s");
    expect<string>(parseDuration("1.000001s").value!.toString()).toBe("1.000001s");
    expect<string>(parseDuration("0.000000001s").value!.toString()).toBe("0.000000001s");
    expect<string>(parseDuration("-1.5s").value!.toString()).toBe("-1.500s");
    expect<string>(Duration.fromMilliseconds(1).toString()).toBe("0.001s");
    expect<string>(Duration.fromNanoseconds(-1).toString()).toBe("-0.000000001s");
  });
});
