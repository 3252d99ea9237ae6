/**
 * Prometheus text rendering of the metric store as Envoy's admin `/stats/prometheus`
 * shows it (source/server/admin/prometheus_stats_formatter.cc, prometheus_stats_render.cc):
 *
 * - names are sanitized: every char outside [a-zA-Z0-9_] becomes `_`;
 * - Wasm custom metrics (namespace `wasmcustom.`) lose the namespace and get no prefix;
 *   one whose sanitized name is empty or starts with a digit is not exported;
 * - every other (Envoy's own) stat is prefixed `envoy_`;
 * - counters, then gauges, then histograms; one `# TYPE` line per name, each metric as
 *   `name{} value`, a blank line after each group; histograms as cumulative
 *   `_bucket{le="..."}` lines, `+Inf`, `_sum` (Envoy's approximate sum, metrics.ts,
 *   printed as fmt's `{:.32g}`) and `_count`.
 *
 * Tags: Envoy's default tag extractors do not match `wasmcustom.*` names, so these
 * metrics carry no labels (`{}`), as in Envoy.
 */
import { MetricType } from '../abi.ts';
import { CUSTOM_STAT_NAMESPACE, HISTOGRAM_BUCKETS, type MetricSnapshot, type MetricStore } from './metrics.ts';

/** Envoy's `sanitizeName`. */
export function sanitizeMetricName(name: string): string {
  return name.replace(/[^a-zA-Z0-9_]/g, '_');
}

/** Envoy's `PrometheusStatsFormatter::metricName`; undefined when not exportable. */
export function prometheusName(statName: string): string | undefined {
  if (statName.startsWith(CUSTOM_STAT_NAMESPACE)) {
    const name = sanitizeMetricName(statName.slice(CUSTOM_STAT_NAMESPACE.length));
    if (name.length === 0 || (name[0] >= '0' && name[0] <= '9')) return undefined;
    return name;
  }
  return `envoy_${sanitizeMetricName(statName)}`;
}

/** printf's `%.32g` (fmt `{:.32g}`) of a finite double: 32 significant digits, trailing zeros dropped. */
export function formatG32(x: number): string {
  if (x === 0) return Object.is(x, -0) ? '-0' : '0';
  const exp = Number(x.toExponential(31).split('e')[1]);
  const strip = (digits: string) => (digits.includes('.') ? digits.replace(/0+$/, '').replace(/\.$/, '') : digits);
  if (exp >= -4 && exp < 32) return strip(x.toPrecision(32));
  const [mantissa] = x.toExponential(31).split('e');
  return `${strip(mantissa)}e${exp < 0 ? '-' : '+'}${String(Math.abs(exp)).padStart(2, '0')}`;
}

const TYPE_NAMES: Record<MetricType, string> = {
  [MetricType.Counter]: 'counter',
  [MetricType.Gauge]: 'gauge',
  [MetricType.Histogram]: 'histogram',
};

/** Renders every metric of `store` (or of a snapshot) in Prometheus text format 0.0.4. */
export function renderPrometheus(source: MetricStore | MetricSnapshot[]): string {
  const metrics = Array.isArray(source) ? source : source.snapshot();
  let out = '';
  for (const type of [MetricType.Counter, MetricType.Gauge, MetricType.Histogram]) {
    const groups = new Map<string, MetricSnapshot[]>();
    for (const m of metrics) {
      if (m.type !== type) continue;
      const name = prometheusName(m.name);
      if (name === undefined) continue;
      const group = groups.get(name);
      if (group) group.push(m);
      else groups.set(name, [m]);
    }
    for (const name of [...groups.keys()].sort()) {
      out += `# TYPE ${name} ${TYPE_NAMES[type]}\n`;
      for (const m of groups.get(name)!) {
        if (type !== MetricType.Histogram || !m.histogram) {
          out += `${name}{} ${m.value}\n`;
          continue;
        }
        let cumulative = 0n;
        HISTOGRAM_BUCKETS.forEach((bound, i) => {
          cumulative += m.histogram!.buckets[i];
          out += `${name}_bucket{le="${bound}"} ${cumulative}\n`;
        });
        out += `${name}_bucket{le="+Inf"} ${m.histogram.count}\n`;
        out += `${name}_sum{} ${formatG32(m.histogram.approxSum)}\n`;
        out += `${name}_count{} ${m.histogram.count}\n`;
      }
      out += '\n';
    }
  }
  return out;
}
