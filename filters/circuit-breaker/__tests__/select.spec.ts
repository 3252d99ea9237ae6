import { ConfigReader, ConfigResult } from "../../../assembly/config";
import { CircuitBreakerConfig, ServiceConfig, parseConfig } from "../config";
import { pickService, sameCluster } from "../select";

/** `parseConfig` of configuration text. */
function parseText(text: string): ConfigResult<CircuitBreakerConfig> {
  return parseConfig(ConfigReader.fromString(text));
}

function services(list: string): StaticArray<ServiceConfig> {
  const r = parseText("{\"services\":[" + list + "]}");
  if (r.config === null) throw new Error(r.error);
  return r.config!.services;
}

function bools(values: bool[]): StaticArray<bool> {
  return StaticArray.fromArray<bool>(values);
}

// banking-writes (cluster banking, POST), banking (cluster banking), api (match only), dr (cluster dr)
const SERVICES = services(
  "{\"name\":\"banking-writes\",\"cluster\":\"banking\",\"match\":{\"methods\":[\"POST\"]},\"failure_threshold\":1}," +
  "{\"name\":\"banking\",\"cluster\":\"banking\",\"failure_threshold\":1}," +
  "{\"name\":\"api\",\"match\":{\"prefix\":\"/api\"},\"failure_threshold\":1}," +
  "{\"name\":\"dr\",\"cluster\":\"dr\",\"failure_threshold\":1}",
);

describe("pickService: the first service whose cluster and match hold", () => {
  it("needs the routed cluster for a service that names one, and its match", () => {
    expect<i32>(pickService(SERVICES, "banking", bools([true, true, true, true]), false)).toBe(0);
    expect<i32>(pickService(SERVICES, "banking", bools([false, true, true, true]), false)).toBe(1);
    expect<i32>(pickService(SERVICES, "echo", bools([true, true, true, true]), false)).toBe(2);
    expect<i32>(pickService(SERVICES, null, bools([true, true, true, true]), false)).toBe(2);
    expect<i32>(pickService(SERVICES, "dr", bools([true, true, false, true]), false)).toBe(3);
    expect<i32>(pickService(SERVICES, "echo", bools([true, true, false, true]), false)).toBe(-1);
  });

  it("for a fail-over request, only services chosen by cluster", () => {
    expect<i32>(pickService(SERVICES, "dr", bools([true, true, true, true]), true)).toBe(3);
    expect<i32>(pickService(SERVICES, "echo", bools([true, true, true, true]), true)).toBe(-1);
    expect<i32>(pickService(SERVICES, null, bools([true, true, true, true]), true)).toBe(-1);
  });

  it("reads no match result past the ones given", () => {
    expect<i32>(pickService(SERVICES, "dr", bools([false, false]), false)).toBe(-1);
  });
});

describe("sameCluster", () => {
  it("compares names, absent equal to absent only", () => {
    expect<bool>(sameCluster("a", "a")).toBe(true);
    expect<bool>(sameCluster("a", "b")).toBe(false);
    expect<bool>(sameCluster(null, null)).toBe(true);
    expect<bool>(sameCluster(null, "a")).toBe(false);
    expect<bool>(sameCluster("a", null)).toBe(false);
  });
});
