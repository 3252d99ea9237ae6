/**
 * The retry filter's configuration (filters.md "retry"), read once in
 * `proxy_on_configure` into immutable objects:
 *
 * ```json
 * { "policies": [{ "name", "match", "max_retries", "retry_on", "retry_grpc_on",
 *                  "retriable_status_codes", "per_try_timeout", "timeout", "idempotency_header" }],
 *   "budget": { "ratio", "min_retries_per_second", "window" },
 *   "strip_downstream_retry_headers": true,
 *   "stat_prefix": "retry" }
 * ```
 *
 * Beyond filters.md, chosen as an Envoy user would expect:
 * - `max_retries` defaults to 1 (Envoy's `num_retries`), at most 100; a policy without
 *   `retry_on` / `retry_grpc_on` sets only the count, and the route's own `retry_on` says
 *   what is retried (Envoy ignores the count when no condition is on);
 * - `retry_on` takes `x-envoy-retry-on` values only; a gRPC condition there is an error
 *   pointing to `retry_grpc_on` (Envoy ignores it in that header);
 * - `retriable_status_codes` without "retriable-status-codes" in `retry_on`, and a
 *   `per_try_timeout` not below `timeout`, are errors: Envoy would silently ignore them;
 * - `timeout: "0s"` disables the route timeout (Envoy's meaning of 0);
 * - `budget` fields default to Envoy's retry budget defaults (ratio 0.2 = `budget_percent`
 *   20%, `min_retries_per_second` 3 after `min_retry_concurrency` 3) and a 10 s window;
 * - `stat_prefix` (default "retry") names the metrics and the shared-data key.
 *
 * Errors: the reader's one line `<json.path>: <reason>` (assembly/config/reader.ts).
 */
import { ConfigArray, ConfigObject, ConfigReader, ConfigResult, Duration } from "../../assembly/config";
import { isToken, readMatch } from "../../assembly/match";
import { asciiLowerCase, formatInteger } from "../../assembly/proxy-wasm";
import { BudgetConfig } from "./budget";
import { MAX_RETRIES_LIMIT, RetryPolicy, grpcRetryConditions, httpRetryConditions, listIncludes } from "./policy";

const ROOT_FIELDS: string[] = ["policies", "budget", "strip_downstream_retry_headers", "stat_prefix"];
const POLICY_FIELDS: string[] = [
  "name", "match", "max_retries", "retry_on", "retry_grpc_on", "retriable_status_codes",
  "per_try_timeout", "timeout", "idempotency_header",
];
const BUDGET_FIELDS: string[] = ["ratio", "min_retries_per_second", "window"];

const NANOS_PER_MS: i64 = 1000000;
const NANOS_PER_SECOND: i64 = 1000000000;
/** Longest `timeout` / `per_try_timeout` / `window`: one day (a longer one is a mistake). */
const MAX_TIMEOUT_NANOS: i64 = 86400 * NANOS_PER_SECOND;

/** The parsed configuration. */
export class RetryConfig {
  constructor(
    /** In order: the first whose `match` holds applies. */
    readonly policies: StaticArray<RetryPolicy>,
    /** null: no budget. */
    readonly budget: BudgetConfig | null,
    readonly stripDownstreamRetryHeaders: bool,
    /** Prefix of metric names and of the shared-data key. */
    readonly statPrefix: string,
  ) {}
}

/** Reads retry's configuration (file comment); the error is the first one (`path: reason`). */
export function parseConfig(reader: ConfigReader): ConfigResult<RetryConfig> {
  const root = reader.root(ROOT_FIELDS);
  const statPrefix = root.optionalString("stat_prefix", "retry");
  if (!isMetricPrefix(statPrefix)) root.fail("stat_prefix", "expected letters, digits and '_', not starting with a digit");
  const strip = root.optionalBool("strip_downstream_retry_headers", true);

  const list = root.optionalArray("policies");
  const policies = new StaticArray<RetryPolicy>(list.length);
  for (let i = 0; i < list.length; i++) {
    const p = list.objectAt(i, POLICY_FIELDS);
    const policy = readPolicy(p);
    for (let j = 0; j < i; j++) {
      // The name is the `policy` label of the policy's metrics.
      if (unchecked(policies[j]).name == policy.name) p.fail("name", "duplicate policy name \"" + policy.name + "\"");
    }
    unchecked((policies[i] = policy));
  }

  const b = root.optionalObject("budget", BUDGET_FIELDS);
  const budget = b !== null ? readBudget(b) : null;
  return ConfigResult.of<RetryConfig>(reader, new RetryConfig(policies, budget, strip, statPrefix));
}

function readPolicy(p: ConfigObject): RetryPolicy {
  const name = p.requiredString("name");
  if (name.length > 0 && !isPolicyName(name)) p.fail("name", "expected letters, digits, '-' and '_'");
  const match = readMatch(p);
  const maxRetries = <i32>p.optionalInteger("max_retries", 1, 0, MAX_RETRIES_LIMIT);

  const http = httpRetryConditions();
  const grpc = grpcRetryConditions();
  const retryOn = readConditions(p, "retry_on", http, grpc, "retry_grpc_on");
  const retryGrpcOn = readConditions(p, "retry_grpc_on", grpc, http, "retry_on");

  const codes = p.integerList("retriable_status_codes", 100, 599);
  let codeList = "";
  for (let i = 0; i < codes.length; i++) codeList += (i > 0 ? "," : "") + formatInteger(unchecked(codes[i]));
  if (codes.length > 0 && !retryOn.includes("retriable-status-codes")) {
    p.fail("retriable_status_codes", "has no effect unless retry_on includes \"retriable-status-codes\"");
  }

  const timeoutMs = p.has("timeout") ? toMillis(p.requiredDuration("timeout", 0, MAX_TIMEOUT_NANOS)) : -1;
  const perTryMs = p.has("per_try_timeout") ? toMillis(p.requiredDuration("per_try_timeout", NANOS_PER_MS, MAX_TIMEOUT_NANOS)) : -1;
  if (timeoutMs > 0 && perTryMs >= timeoutMs) {
    // router.cc finalTimeout drops a per-try timeout that is not below the global one.
    p.fail("per_try_timeout", "must be less than timeout (Envoy ignores a per-try timeout that is not)");
  }

  let idempotencyHeader: string | null = null;
  if (p.has("idempotency_header")) {
    const h = p.requiredString("idempotency_header");
    if (h.length > 0 && !isToken(h)) p.fail("idempotency_header", "expected a header name");
    idempotencyHeader = asciiLowerCase(h);
  }
  return new RetryPolicy(name, match, maxRetries, joinList(retryOn), joinList(retryGrpcOn), codeList, timeoutMs, perTryMs, idempotencyHeader);
}

/** A list of conditions from `known`; a condition of `other` is pointed to `otherField`. */
function readConditions(p: ConfigObject, field: string, known: string, other: string, otherField: string): string[] {
  const arr: ConfigArray = p.optionalArray(field);
  const out = new Array<string>(0);
  for (let i = 0; i < arr.length; i++) {
    const c = arr.stringAt(i);
    if (c.length == 0) continue; // the reader recorded the error
    if (!listIncludes(known, c)) {
      const hint = listIncludes(other, c) ? "; it is a condition of " + otherField : "";
      p.reader.fail(arr.pathAt(i), "unknown retry condition \"" + c + "\"" + hint);
    } else if (out.includes(c)) {
      p.reader.fail(arr.pathAt(i), "duplicate retry condition \"" + c + "\"");
    }
    out.push(c);
  }
  return out;
}

/** The items joined with ',' (the router splits header values on ','). */
function joinList(items: string[]): string {
  let out = "";
  for (let i = 0; i < items.length; i++) out += (i > 0 ? "," : "") + unchecked(items[i]);
  return out;
}

function readBudget(b: ConfigObject): BudgetConfig {
  const ratio = b.optionalNumber("ratio", 0.2, 0, 100);
  const minPerSecond = b.optionalNumber("min_retries_per_second", 3, 0, 1000000);
  const window = b.optionalDuration("window", Duration.fromNanoseconds(10 * NANOS_PER_SECOND), NANOS_PER_SECOND, 3600 * NANOS_PER_SECOND);
  return new BudgetConfig(ratio, minPerSecond, window.totalNanoseconds);
}

/** Whole milliseconds, truncated (as the router's `*-ms` headers carry them). */
function toMillis(d: Duration): i64 {
  return d.totalNanoseconds / NANOS_PER_MS;
}

function isPolicyName(s: string): bool {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    const ok = (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || c == 0x2d || c == 0x5f;
    if (!ok) return false;
  }
  return true;
}

function isMetricPrefix(s: string): bool {
  if (s.length == 0) return false;
  const first = s.charCodeAt(0);
  if (first >= 0x30 && first <= 0x39) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    const ok = (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || c == 0x5f;
    if (!ok) return false;
  }
  return true;
}

