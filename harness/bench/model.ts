/**
 * `npm run bench -- model`: what each configuration's added CPU on Envoy would be if it were
 * only Envoy's work for the calls it makes, and what is left over (the module's own code).
 *
 * Inputs, both written by earlier runs: bench/envoy.json (`npm run bench -- envoy`, with the
 * `floor` and `hostcall` groups) and bench/hostcalls.json (`npm run bench -- hostcalls`: VM
 * entries and hostcalls by kind per request, and which of them returned a value). Unit costs,
 * all from the one Envoy run, in µs of Envoy CPU per request:
 *
 * - a call of kind k: `cost-k`'s added CPU over `cost-none` / `COST_CALLS` (test/wasm/cost);
 *   a call returning a value is priced as the measured kind that returns one (a found header,
 *   the header map, shared data, a property), any other as its write or lookup twin;
 * - a VM entry: (`noop-as` − `cost-none`) / their difference in VM entries (6 − 3);
 * - a Wasm filter on the chain, before any entry: `cost-none` − its entries × one entry;
 * - the route matched again after a filter wrote a request header (Envoy clears the route
 *   cache on such a write for ABI <= 0.2.1), once for each Wasm filter that writes one: from
 *   `cost-request-write` (one insert and the match) and `cost-insert` (COST_CALLS inserts and
 *   the match); 0 when the run lacks the first.
 *
 * modeled = filters × per filter + VM entries × per entry + Σ calls × their cost + route
 * matches, and
 * residual = measured − modeled: the module's own code (V8's `[JIT]`) and whatever the model
 * misses. For a configuration with a native twin it also gives the added CPU at which it would
 * reach 0.8× the native throughput (one saturated core: throughput ∝ 1 / CPU per request).
 * Calls the cost module does not measure (local replies, gRPC) are listed, not priced.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { projectRoot } from '../build.ts';
import { COST_CALLS } from './envoy/configs.ts';
import { countOf, type RequestCount } from './hostcalls.ts';
import { round, type BenchSuite } from './report.ts';

/** The cost configuration pricing a call of each kind: [when it returns a value, when not]. */
const PRICED_AS: Record<string, [string, string]> = {
  proxy_get_header_map_value: ['header', 'header-missing'],
  proxy_get_header_map_pairs: ['pairs', 'header-missing'],
  proxy_get_shared_data: ['shared-get', 'header-missing'],
  proxy_get_property: ['property', 'header-missing'],
  // A filter's writes mostly add headers (claims, the router's retry headers): priced as an insert.
  proxy_replace_header_map_value: ['insert', 'insert'],
  proxy_add_header_map_value: ['insert', 'insert'],
  proxy_remove_header_map_value: ['insert', 'insert'],
  proxy_set_shared_data: ['shared-set', 'shared-set'],
  proxy_increment_metric: ['metric', 'metric'],
  proxy_record_metric: ['metric', 'metric'],
  proxy_get_current_time_nanoseconds: ['time', 'time'],
  'wasi_snapshot_preview1.clock_time_get': ['time', 'time'],
  proxy_get_log_level: ['time', 'time'],
};

/** The throughput against the native configuration a goal asks for. */
const GOAL_VS_NATIVE = 0.8;

interface EnvoyRow {
  side: string;
  cpu_us?: number;
  added_cpu_us?: number;
  baseline?: string;
  native?: string;
}

interface Counted {
  total: RequestCount;
  filters?: RequestCount[];
}

const r2 = (x: number) => round(x, 2);

/** Unit costs (µs) from an Envoy run's rows; throws naming what the run lacks. */
export function unitCosts(rows: Record<string, EnvoyRow>, entries: { noop: number; costNone: number }): { perFilter: number; perEntry: number; routeMatch: number; calls: Record<string, number> } {
  const added = (name: string) => {
    const x = rows[name]?.added_cpu_us;
    if (x === undefined) throw new Error(`bench/envoy.json has no ${name} (run npm run bench -- envoy with the floor and hostcall groups)`);
    return x;
  };
  const perEntry = (added('noop-as') - added('cost-none')) / (entries.noop - entries.costNone);
  const calls: Record<string, number> = {};
  for (const kind of new Set(Object.values(PRICED_AS).flat())) calls[kind] = added(`cost-${kind}`) / COST_CALLS;
  // COST_CALLS inserts cost COST_CALLS × an insert + one route match, one insert costs one of
  // each: two equations for the two (without the one-write run, the match stays in the inserts).
  let routeMatch = 0;
  const oneWrite = rows['cost-request-write']?.added_cpu_us;
  if (oneWrite !== undefined) {
    calls.insert = (added('cost-insert') - oneWrite) / (COST_CALLS - 1);
    routeMatch = oneWrite - calls.insert;
  }
  return { perFilter: added('cost-none') - entries.costNone * perEntry, perEntry, routeMatch, calls };
}

/** The modeled added CPU of one request that made `count` in all, `perFilter` in each Wasm filter. */
export function modeled(count: RequestCount, perFilter: RequestCount[], units: ReturnType<typeof unitCosts>): { us: number; calls_us: number; unpriced: string[] } {
  let calls = 0;
  const unpriced: string[] = [];
  for (const [kind, n] of Object.entries(count.by_kind)) {
    const as = PRICED_AS[kind];
    if (!as) {
      unpriced.push(`${kind.replace(/^proxy_/, '')} ${n}`);
      continue;
    }
    const valued = count.values_by_kind?.[kind] ?? 0;
    calls += valued * units.calls[as[0]] + (n - valued) * units.calls[as[1]];
  }
  const rematches = perFilter.filter((f) => f.request_header_writes > 0).length;
  return { us: perFilter.length * units.perFilter + count.vm_entries * units.perEntry + calls + rematches * units.routeMatch, calls_us: calls, unpriced };
}

function readJson<T>(name: string): T | string {
  const file = path.join(projectRoot, 'bench', `${name}.json`);
  if (!existsSync(file)) return `no bench/${name}.json`;
  return JSON.parse(readFileSync(file, 'utf8')) as T;
}

export const suite: BenchSuite = {
  name: 'model',
  description: "each configuration's added CPU on Envoy as per-call costs measured in the same run would have it, and the residual (the module's own code)",
  async run() {
    const envoy = readJson<{ date: string; envoy: unknown; machine: unknown; results: Record<string, EnvoyRow> }>('envoy');
    const counts = readJson<{ configurations: Record<string, Counted> }>('hostcalls');
    if (typeof envoy === 'string' || typeof counts === 'string') {
      const missing = typeof envoy === 'string' ? envoy : counts;
      console.log(`model: skipped, ${missing} (npm run bench -- envoy, then npm run bench -- hostcalls)`);
      return { skipped: missing };
    }
    const rows = envoy.results;
    const entriesOf = (name: string) => counts.configurations[name]?.total.vm_entries;
    const noop = entriesOf('noop-as');
    const costNone = entriesOf('cost-none');
    if (noop === undefined || costNone === undefined || noop === costNone) throw new Error('bench/hostcalls.json lacks noop-as or cost-none');
    let units: ReturnType<typeof unitCosts>;
    try {
      units = unitCosts(rows, { noop, costNone });
    } catch (e) {
      // A run of some groups only (`--only jwt`): nothing to price with, not a failure.
      const why = (e as Error).message;
      console.log(`model: skipped, ${why}`);
      return { skipped: why };
    }
    const lines = [
      `Unit costs (µs, Envoy run of ${envoy.date}): a Wasm filter ${r2(units.perFilter)} + ${r2(units.perEntry)} a VM entry; ` +
        `the route matched again after a request-header write ${units.routeMatch ? r2(units.routeMatch) : '(not measured in this run)'}; calls: ` +
        Object.entries(units.calls).map(([k, v]) => `${k} ${r2(v)}`).join(', '),
      '',
      `| configuration | Wasm filters | VM entries | values returned | modeled µs (of it calls) | measured µs | residual | ${GOAL_VS_NATIVE}× native needs ≤ | not priced |`,
      '|---|---|---|---|---|---|---|---|---|',
    ];
    const out: Record<string, unknown> = {};
    for (const [name, c] of Object.entries(counts.configurations)) {
      const row = rows[name];
      if (!row || row.added_cpu_us === undefined || name.startsWith('cost-')) continue;
      const perFilter = c.filters ?? [c.total];
      const filters = perFilter.length;
      const m = modeled(c.total, perFilter, units);
      const residual = row.added_cpu_us - m.us;
      // cpu_ours ≤ cpu_native / goal, less the baseline's CPU.
      const native = row.native ? rows[row.native] : undefined;
      const base = row.baseline ? rows[row.baseline] : undefined;
      const goal = native?.cpu_us !== undefined && base?.cpu_us !== undefined ? native.cpu_us / GOAL_VS_NATIVE - base.cpu_us : undefined;
      const values = countOf(c.total.values_by_kind ?? {});
      out[name] = { filters, vm_entries: c.total.vm_entries, values_returned: values, modeled_us: r2(m.us), calls_us: r2(m.calls_us), measured_us: row.added_cpu_us, residual_us: r2(residual), ...(goal !== undefined ? { goal_us: r2(goal) } : {}), ...(m.unpriced.length ? { not_priced: m.unpriced } : {}) };
      lines.push(`| ${name} | ${filters} | ${c.total.vm_entries} | ${values} | ${r2(m.us)} (${r2(m.calls_us)}) | ${row.added_cpu_us} | ${r2(residual)} | ${goal !== undefined ? r2(goal) : ''} | ${m.unpriced.join(', ')} |`);
    }
    console.log(lines.join('\n'));
    return { note: 'modeled = Wasm filters × per filter + VM entries × per entry + calls × their cost, all measured in the Envoy run named; residual = measured − modeled', envoy_run: envoy.date, envoy: envoy.envoy, machine: envoy.machine, units: { per_filter_us: r2(units.perFilter), per_entry_us: r2(units.perEntry), route_match_us: r2(units.routeMatch), calls_us: Object.fromEntries(Object.entries(units.calls).map(([k, v]) => [k, r2(v)])) }, configurations: out };
  },
};
