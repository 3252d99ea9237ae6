/**
 * mesh's configuration: the filters of the chain, in order, each with its own
 * configuration exactly as that filter's plugin takes it (`../shared/spec/filters.md`):
 *
 * ```json
 * { "filters": [
 *     { "name": "jwt-auth", "config": { "providers": [...], "rules": [...] } },
 *     { "name": "rate-limit", "config": { "rules": [...] } },
 *     { "name": "circuit-breaker", "config": { "services": [...] } },
 *     { "name": "retry", "config": { "policies": [...] } } ] }
 * ```
 *
 * - `filters` (array, at least one): run as Envoy runs a chain of `envoy.filters.http.wasm`
 *   entries in that order (assembly/proxy-wasm/chain.ts);
 * - `name`: one of `FILTER_NAMES`; a name may repeat (e.g. an edge rate-limit before
 *   jwt-auth and a per-user one after it), each with its own `stat_prefix`;
 * - `config` (object): that filter's configuration, checked by the filter itself.
 *
 * Errors name the JSON path (`filters[1].name: expected one of ...`); a member's own
 * error is reported by the member with `filters[i].config` in front.
 */
import { ConfigReader, ConfigResult } from "../../assembly/config";

/** The filters a chain can hold, as their plugins' `root_id`s name them. */
export const FILTER_NAMES: string[] = ["jwt-auth", "rate-limit", "circuit-breaker", "retry"];

const ROOT_FIELDS: string[] = ["filters"];
const MEMBER_FIELDS: string[] = ["name", "config"];

/** One filter of the chain: its kind (an index of `FILTER_NAMES`) and its configuration (UTF-8 JSON). */
export class MemberConfig {
  constructor(
    readonly kind: i32,
    readonly configuration: ArrayBuffer,
  ) {}

  get name(): string {
    return unchecked(FILTER_NAMES[this.kind]);
  }
}

export class MeshConfig {
  constructor(readonly members: MemberConfig[]) {}
}

/** Reads the chain (file comment); the error is the reader's first. */
export function parseConfig(reader: ConfigReader): ConfigResult<MeshConfig> {
  const root = reader.root(ROOT_FIELDS);
  const filters = root.requiredArray("filters", 1);
  const members = new Array<MemberConfig>();
  for (let i = 0, n = filters.length; i < n; i++) {
    const item = filters.objectAt(i, MEMBER_FIELDS);
    const kind = item.enumString("name", FILTER_NAMES);
    // Not read as a ConfigObject: its fields are the member filter's to check.
    const value = item.raw("config");
    if (value === null) item.fail("config", "missing required field");
    else if (!value.isObject()) item.fail("config", "expected a JSON object");
    // The member's configuration as written, so it behaves as the filter given that text
    // alone (rate-limit seeds its key hash with its configuration's bytes).
    else members.push(new MemberConfig(kind, changetype<ArrayBuffer>(item.rawSource("config"))));
  }
  return ConfigResult.of<MeshConfig>(reader, new MeshConfig(members));
}
