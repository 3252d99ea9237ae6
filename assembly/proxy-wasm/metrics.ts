// Metrics: define once (at configure time), then update on the request path with no
// allocation and one hostcall each.
//
// ABI: proxy_define_metric, proxy_increment_metric, proxy_record_metric,
// proxy_get_metric (proxy-wasm/spec v0.2.1 "Metrics"). Envoy shares a metric by name
// across VMs (process wide) and may hand out id 0, so validity is a flag, not the id.

import {
  proxy_define_metric,
  proxy_get_metric,
  proxy_increment_metric,
  proxy_record_metric,
} from './abi/imports';
import { RET_ID, RET_U64, argPtr, argSize, argsBegin, putString, utf8MaxSize } from './abi/memory';
import { MetricType, WasmResult } from './abi/types';
import { setLastResult } from './state';

/**
 * The name to define a labelled metric under: each (label, value) pair of `labels` (label
 * names at even indexes, values after them) is written before `name` as
 * `<label>=.=<value>;.;`, the in-name tag encoding of Istio's stats. Envoy's stats tag
 * extraction takes it apart with one `stats_config.stats_tags` entry per label,
 * `{ tag_name: <label>, regex: "(<label>=\\.=(.*?);\\.;)" }` (the first group is removed
 * from the name, the second is the value; Istio writes that entry for each of its
 * `extraStatTags`), so that `/stats/prometheus` shows
 * `rate_limit_requests_total{rule="anonymous",outcome="denied"}` for
 * `metricName("rate_limit_requests_total", ["rule", "anonymous", "outcome", "denied"])`
 * (defined as `rule=.=anonymous;.;outcome=.=denied;.;rate_limit_requests_total`; Envoy's
 * `/stats` shows it with its `wasmcustom.` namespace). Values must not contain ";.;" (the
 * filters' names are `[A-Za-z0-9_-]`). Allocates: for configure time, as `define` is.
 */
export function metricName(name: string, labels: StaticArray<string>): string {
  let out = "";
  for (let i = 0, n = labels.length - 1; i < n; i += 2) out += unchecked(labels[i]) + "=.=" + unchecked(labels[i + 1]) + ";.;";
  return out + name;
}

/** A defined metric: `status` is the result of `proxy_define_metric`. */
export class Metric {
  /** Use `Counter.define`, `Gauge.define` or `Histogram.define`. */
  constructor(readonly metricType: MetricType, readonly metricId: u32, readonly status: WasmResult) {}

  /** Whether the host defined the metric; updates of an undefined one do nothing. */
  get defined(): bool {
    return this.status == WasmResult.Ok;
  }

  /** Current value (`proxy_get_metric`; counters and gauges), 0 if unavailable. */
  get(): u64 {
    if (!this.defined) return 0;
    const r = setLastResult(proxy_get_metric(this.metricId, RET_U64));
    return r == WasmResult.Ok ? load<u64>(RET_U64) : 0;
  }
}

// Defines `name`; the id (valid when Ok) is left in RET_ID.
function define(metricType: MetricType, name: string): WasmResult {
  argsBegin(utf8MaxSize(name));
  putString(name);
  return setLastResult(proxy_define_metric(metricType, argPtr, argSize, RET_ID));
}

/** A monotonically increasing count. */
export class Counter extends Metric {
  /** Defines counter `name` (Prometheus-safe, e.g. `jwt_auth_allowed`). */
  static define(name: string): Counter {
    const r = define(MetricType.Counter, name);
    return new Counter(MetricType.Counter, r == WasmResult.Ok ? load<u32>(RET_ID) : 0, r);
  }

  /** Adds `delta` (`proxy_increment_metric`). */
  increment(delta: u64 = 1): WasmResult {
    if (!this.defined) return this.status;
    return setLastResult(proxy_increment_metric(this.metricId, <i64>delta));
  }
}

/** A value that goes up and down (e.g. circuit state, in-flight requests). */
export class Gauge extends Metric {
  /** Defines gauge `name`. */
  static define(name: string): Gauge {
    const r = define(MetricType.Gauge, name);
    return new Gauge(MetricType.Gauge, r == WasmResult.Ok ? load<u32>(RET_ID) : 0, r);
  }

  /** Sets the gauge to `value` (`proxy_record_metric`). */
  set(value: u64): WasmResult {
    if (!this.defined) return this.status;
    return setLastResult(proxy_record_metric(this.metricId, value));
  }

  /** Adds `delta`, which may be negative (`proxy_increment_metric`). */
  add(delta: i64): WasmResult {
    if (!this.defined) return this.status;
    return setLastResult(proxy_increment_metric(this.metricId, delta));
  }
}

/** A distribution of recorded values (e.g. latencies in ms). */
export class Histogram extends Metric {
  /** Defines histogram `name`. */
  static define(name: string): Histogram {
    const r = define(MetricType.Histogram, name);
    return new Histogram(MetricType.Histogram, r == WasmResult.Ok ? load<u32>(RET_ID) : 0, r);
  }

  /** Records one observation of `value` (`proxy_record_metric`). */
  record(value: u64): WasmResult {
    if (!this.defined) return this.status;
    return setLastResult(proxy_record_metric(this.metricId, value));
  }
}
