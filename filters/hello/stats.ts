/**
 * hello's metrics, defined once at `proxy_on_configure` (`proxy_define_metric`) and named
 * with the SDK's `metricName`, whose labels Envoy's stats tags take out of the name
 * (README "Operating"):
 *
 * | metric                                   | counts                                  |
 * |------------------------------------------|-----------------------------------------|
 * | `<p>_requests_total{outcome="greeted"}`  | requests sent on with the greeting      |
 * | `<p>_requests_total{outcome="denied"}`   | requests answered 403 (`deny_path_prefix`) |
 */
import { Counter, metricName } from "../../assembly/proxy-wasm";

export class HelloStats {
  readonly greeted: Counter;
  readonly denied: Counter;

  constructor(prefix: string) {
    this.greeted = requests(prefix, "greeted");
    this.denied = requests(prefix, "denied");
  }
}

function requests(prefix: string, outcome: string): Counter {
  return Counter.define(metricName(prefix + "_requests_total", ["outcome", outcome]));
}
