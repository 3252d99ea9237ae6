/**
 * jwt-auth's configuration (filters.md "jwt-auth", after Envoy's JwtAuthentication proto,
 * api/envoy/extensions/filters/http/jwt_authn/v3/config.proto), parsed and checked once
 * in `proxy_on_configure` into immutable objects the request path only reads.
 *
 * Errors are one line, `<json.path>: <reason>`, e.g.
 * `providers.eva.remote_jwks.http_uri.uri: expected an absolute http:// or https:// URI`;
 * plugin.ts logs them prefixed with `jwt-auth: ` and refuses the configuration.
 *
 * Fields beyond filters.md's example (documented in the README):
 * - `max_token_bytes` (default 8192): longer tokens are refused before decoding.
 * - `on_jwks_unavailable`: "deny" (default) or "allow", for every remote provider.
 * - `clock_skew_seconds: 0` means no leeway (Envoy reads 0 as its default of 60).
 * - `forward_unverified` (default false): a credential no provider verified, on a request
 *   let through anyway (`allow_missing_or_failed`, `on_jwks_unavailable: "allow"`), is
 *   left in place instead of being removed.
 * - Provider names name metrics, so they hold letters, digits and `_` only.
 */
import { ConfigArray, ConfigObject, ConfigReader, ConfigResult, Duration } from "../../assembly/config";
import { RequestMatch, isToken, readMatch } from "../../assembly/match";
import { asciiLowerCase } from "../../assembly/proxy-wasm";
import { ALL_ALGS, Alg, AlgSet, algFromName } from "./algorithms";
import { ClaimPath, ClaimRequirement, SubjectMatcher } from "./claims";
import { LocationKind, RuleSource, TokenLocation, TokenSource } from "./extractor";
import { JwkSet, parseJwksString } from "./jwks";
import { FieldName } from "./request";

/** `remote_jwks`: where a provider's keys are fetched, and how long they are good for. */
export class RemoteJwks {
  constructor(
    readonly uri: string,
    readonly cluster: string,
    /** `:authority` and `:path` of the fetch, from `uri`. */
    readonly authority: string,
    readonly path: string,
    readonly timeoutMs: u32,
    /** `cache_duration` in milliseconds (default 600 s). */
    readonly cacheDurationMs: i64,
  ) {}
}

/** A claim copied into a request header (`claim_to_headers`). */
export class ClaimToHeader {
  constructor(readonly claim: ClaimPath, readonly header: FieldName) {}
}

/** One entry of `providers`. */
export class Provider {
  /** Position in `JwtAuthConfig.providers` (indexes per-provider state). */
  index: i32 = 0;
  name: string = "";
  /** Required `iss`, or "" for any. */
  issuer: string = "";
  /** Accepted `aud` values; empty: not checked. */
  audiences: string[] = [];
  /** Keys of `local_jwks`, or null for a remote provider. */
  localJwks: JwkSet | null = null;
  remote: RemoteJwks | null = null;
  locations: TokenLocation[] = [];
  forward: bool = false;
  forwardPayloadHeader: FieldName | null = null;
  claimToHeaders: ClaimToHeader[] = [];
  clockSkewSeconds: f64 = 60;
  maxLifetimeSeconds: f64 = 0;
  requireExpiration: bool = false;
  algorithms: AlgSet = ALL_ALGS;
  subjects: SubjectMatcher | null = null;
}

/** Kinds of requirement nodes (Envoy's JwtRequirement `requires_type`). */
export enum RequirementKind {
  /** `provider_name` (+ `claims`). */
  Provider = 0,
  /** `requires_any`, also standing for a lone `allow_missing` / `allow_missing_or_failed`. */
  Any = 1,
  /** `requires_all`. */
  All = 2,
}

/** A node of a rule's requirement tree. */
export class Requirement {
  kind: RequirementKind = RequirementKind.Provider;
  provider: Provider | null = null;
  claims: ClaimRequirement[] = [];
  children: Requirement[] = [];
  /** Any-node flags: a missing token (resp. any failure) of every child is fine. */
  allowMissing: bool = false;
  allowMissingOrFailed: bool = false;
  /** Made from an `allow_missing*` field (a parent requires_any takes its flag instead of the node). */
  fromAllowField: bool = false;
}

/** One entry of `rules`: the first whose `match` holds applies; no `requires`: no token needed. */
export class Rule {
  /** Where the providers of `requires` read credentials: every one there is checked (extractor.ts). */
  sources: RuleSource[] = [];

  constructor(readonly match: RequestMatch, readonly requires: Requirement | null) {}
}

/** The whole configuration. */
export class JwtAuthConfig {
  providers: Provider[] = [];
  rules: Rule[] = [];
  bypassCorsPreflight: bool = false;
  cacheMaxEntries: i32 = 1000;
  allowWhenJwksUnavailable: bool = false;
  maxTokenBytes: i32 = 8192;
  /** `forward_unverified`: leave credentials no provider verified in requests let through anyway. */
  forwardUnverified: bool = false;
  /** Every header jwt-auth writes for upstream use: removed from each incoming request. */
  sanitizedHeaders: FieldName[] = [];
  /**
   * Remove `sanitizedHeaders` before anything reads the request, rather than when the
   * request goes on (plugin.ts): needed when a rule's `match`, the CORS check or a
   * cookie token would otherwise read a forged copy, or when there are more of them than
   * a request's write mask holds.
   */
  sanitizeFirst: bool = false;
  /** Claim requirements, numbered for the per-token memo of their outcome (jwt.ts `claimMemo`). */
  claimRequirementCount: i32 = 0;
}

/** Most sanitized headers tracked per request (bits of a u64); more means `sanitizeFirst`. */
export const MAX_SANITIZED_WRITES = 64;

const ROOT_FIELDS = ["providers", "rules", "bypass_cors_preflight", "cache", "on_jwks_unavailable", "max_token_bytes", "forward_unverified"];
const PROVIDER_FIELDS = [
  "issuer", "audiences", "local_jwks", "remote_jwks", "from_headers", "from_params", "from_cookies", "forward",
  "forward_payload_header", "claim_to_headers", "clock_skew_seconds", "max_lifetime_seconds", "require_expiration",
  "algorithms", "subjects",
];
const REQUIREMENT_FIELDS = ["provider_name", "claims", "requires_any", "requires_all", "allow_missing", "allow_missing_or_failed"];
const REQUIREMENT_KINDS = ["provider_name", "requires_any", "requires_all", "allow_missing", "allow_missing_or_failed"];
const MAX_REQUIREMENT_DEPTH = 8;
const NANOS_PER_MS: i64 = 1_000_000;

/** Reads jwt-auth's configuration (file comment); the error is the first one (`path: reason`). */
export function parseConfig(reader: ConfigReader): ConfigResult<JwtAuthConfig> {
  const root = reader.root(ROOT_FIELDS);
  const config = new JwtAuthConfig();
  config.bypassCorsPreflight = root.optionalBool("bypass_cors_preflight", false);
  config.maxTokenBytes = <i32>root.optionalInteger("max_token_bytes", 8192, 256, 1 << 20);
  config.allowWhenJwksUnavailable = root.enumString("on_jwks_unavailable", ["deny", "allow"], 0) == 1;
  config.forwardUnverified = root.optionalBool("forward_unverified", false);
  const cache = root.optionalObject("cache", ["max_entries"]);
  if (cache !== null) config.cacheMaxEntries = <i32>cache.optionalInteger("max_entries", 1000, 0, 1000000);

  const providers = root.map("providers", 1);
  for (let i = 0; i < providers.length && reader.ok; i++) {
    config.providers.push(readProvider(providers.objectAt(i, PROVIDER_FIELDS), providers.keyAt(i), i));
  }
  if (reader.ok) {
    checkHeaderUse(reader, config);
    shareSources(config);
  }

  const rules = root.requiredArray("rules", 1);
  for (let i = 0; i < rules.length && reader.ok; i++) {
    const entry = rules.objectAt(i, ["match", "requires"]);
    const match = readMatch(entry);
    const requires = entry.optionalObject("requires", REQUIREMENT_FIELDS);
    const rule = new Rule(match, requires === null ? null : readRequirement(requires, config, 0));
    if (reader.ok && rule.requires !== null) rule.sources = ruleSources(rule.requires!, config);
    config.rules.push(rule);
  }
  if (reader.ok) config.sanitizeFirst = mustSanitizeFirst(config);
  return ConfigResult.of<JwtAuthConfig>(reader, config);
}

function isProviderName(name: string): bool {
  if (name.length == 0) return false;
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (!((c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || (c >= 0x30 && c <= 0x39) || c == 0x5f)) return false;
  }
  return true;
}

/** An RFC 9110 §5.1 field name (a `token`) lower-cased, as header maps hold it; null when `name` is not one. */
function headerName(name: string): FieldName | null {
  return isToken(name) ? new FieldName(asciiLowerCase(name)) : null;
}

function readHeaderName(obj: ConfigObject, field: string): FieldName | null {
  const text = obj.requiredString(field);
  if (!obj.reader.ok) return null;
  const name = headerName(text);
  if (name === null) obj.fail(field, "expected an HTTP header name");
  return name;
}

function readProvider(obj: ConfigObject, name: string, index: i32): Provider {
  const p = new Provider();
  p.index = index;
  p.name = name;
  if (!isProviderName(name)) {
    obj.failHere("provider names may hold letters, digits and '_' only (they name metrics)");
    return p;
  }
  p.issuer = obj.optionalString("issuer", "");
  p.audiences = obj.stringList("audiences");
  const source = obj.exactlyOneOf(["local_jwks", "remote_jwks"]);
  if (source == 0) {
    const local = obj.requiredObject("local_jwks", ["inline_string"]);
    const text = local.requiredString("inline_string");
    if (obj.reader.ok) {
      const parsed = parseJwksString(text);
      if (parsed.set === null || parsed.rejected > 0) local.fail("inline_string", parsed.error);
      p.localJwks = parsed.set;
    }
  } else if (source == 1) {
    p.remote = readRemoteJwks(obj.requiredObject("remote_jwks", ["http_uri", "cache_duration"]));
  }
  readLocations(obj, p);
  p.forward = obj.optionalBool("forward", false);
  if (obj.has("forward_payload_header")) p.forwardPayloadHeader = readHeaderName(obj, "forward_payload_header");
  const claims = obj.optionalArray("claim_to_headers");
  for (let i = 0; i < claims.length; i++) {
    const entry = claims.objectAt(i, ["claim_name", "header_name"]);
    const claim = entry.requiredString("claim_name");
    const header = readHeaderName(entry, "header_name");
    if (header !== null) p.claimToHeaders.push(new ClaimToHeader(new ClaimPath(claim), header));
  }
  p.clockSkewSeconds = <f64>obj.optionalInteger("clock_skew_seconds", 60, 0, 86400);
  p.maxLifetimeSeconds = <f64>obj.optionalInteger("max_lifetime_seconds", 0, 0, 10 * 365 * 86400);
  p.requireExpiration = obj.optionalBool("require_expiration", false);
  const algorithms = obj.optionalArray("algorithms");
  if (algorithms.length > 0) {
    p.algorithms = 0;
    for (let i = 0; i < algorithms.length; i++) {
      const alg = algFromName(algorithms.stringAt(i));
      if (alg == Alg.Unknown) {
        obj.reader.fail(algorithms.pathAt(i), "expected one of \"HS256\", \"HS384\", \"HS512\", \"RS256\", \"RS384\", \"RS512\", \"PS256\", \"PS384\", \"PS512\", \"ES256\", \"ES384\", \"EdDSA\"");
      } else p.algorithms |= <u32>1 << <u32>alg;
    }
  }
  const subjects = obj.optionalObject("subjects", ["prefix", "exact"]);
  if (subjects !== null) {
    const which = subjects.exactlyOneOf(["prefix", "exact"]);
    if (which >= 0) p.subjects = new SubjectMatcher(subjects.requiredString(which == 0 ? "prefix" : "exact"), which == 0);
  }
  return p;
}

function readRemoteJwks(obj: ConfigObject): RemoteJwks {
  const http = obj.requiredObject("http_uri", ["uri", "cluster", "timeout"]);
  const uri = http.requiredString("uri");
  const cluster = http.requiredString("cluster");
  const timeout = http.optionalDuration("timeout", durationMs(1000), NANOS_PER_MS, 60_000 * NANOS_PER_MS);
  const cache = obj.optionalDuration("cache_duration", durationMs(600_000), 1000 * NANOS_PER_MS);
  let authority = "";
  let path = "/";
  const schemeEnd = uri.startsWith("http://") ? 7 : uri.startsWith("https://") ? 8 : -1;
  if (schemeEnd < 0) {
    if (obj.reader.ok) http.fail("uri", "expected an absolute http:// or https:// URI");
  } else {
    let slash = uri.indexOf("/", schemeEnd);
    const query = uri.indexOf("?", schemeEnd);
    if (query >= 0 && (slash < 0 || query < slash)) slash = query;
    authority = slash < 0 ? uri.substring(schemeEnd) : uri.substring(schemeEnd, slash);
    if (slash >= 0) path = uri.charCodeAt(slash) == 0x3f ? "/" + uri.substring(slash) : uri.substring(slash);
    if (authority.length == 0 && obj.reader.ok) http.fail("uri", "expected an absolute http:// or https:// URI");
  }
  return new RemoteJwks(uri, cluster, authority, path, <u32>timeout.totalMilliseconds, cache.totalMilliseconds);
}

function durationMs(ms: i64): Duration {
  return Duration.fromNanoseconds(ms * NANOS_PER_MS);
}

function readLocations(obj: ConfigObject, p: Provider): void {
  const headers = obj.optionalArray("from_headers");
  for (let i = 0; i < headers.length; i++) {
    const h = headers.objectAt(i, ["name", "value_prefix"]);
    const name = readHeaderName(h, "name");
    const prefix = h.optionalString("value_prefix", "");
    if (name !== null) p.locations.push(new TokenLocation(LocationKind.Header, name, prefix));
  }
  const params = obj.stringList("from_params");
  for (let i = 0; i < params.length; i++) p.locations.push(new TokenLocation(LocationKind.Param, new FieldName(unchecked(params[i]))));
  const cookies = obj.stringList("from_cookies");
  for (let i = 0; i < cookies.length; i++) p.locations.push(new TokenLocation(LocationKind.Cookie, new FieldName(unchecked(cookies[i]))));
  if (p.locations.length == 0) {
    // Envoy's defaults (extractor.cc): `Authorization: Bearer <token>` and `?access_token=`.
    p.locations.push(new TokenLocation(LocationKind.Header, new FieldName("authorization"), "Bearer "));
    p.locations.push(new TokenLocation(LocationKind.Param, new FieldName("access_token")));
  }
  for (let i = 0; i < p.locations.length; i++) unchecked(p.locations[i]).provider = p.index;
}

/** Gives every location of one kind and name the same `TokenSource` (a rule reads each once). */
function shareSources(config: JwtAuthConfig): void {
  const seen = new Array<TokenSource>();
  const providers = config.providers;
  for (let i = 0; i < providers.length; i++) {
    const locations = unchecked(providers[i]).locations;
    for (let j = 0; j < locations.length; j++) {
      const l = unchecked(locations[j]);
      let shared: TokenSource | null = null;
      for (let k = 0; k < seen.length && shared === null; k++) {
        const s = unchecked(seen[k]);
        if (s.kind == l.kind && s.name.name == l.name.name) shared = s;
      }
      if (shared === null) seen.push(l.source);
      else l.source = shared;
    }
  }
}

/**
 * The token sources of a rule's providers, headers first, then parameters, then cookies,
 * each with the locations reading it; a source is tolerated when every provider reading
 * it appears in the rule only under `allow_missing_or_failed`.
 */
function ruleSources(requires: Requirement, config: JwtAuthConfig): RuleSource[] {
  // Per provider: 0 not in the rule, 1 only under allow_missing_or_failed, 2 elsewhere too.
  const use = new StaticArray<i32>(config.providers.length);
  markProviders(requires, false, use);
  const out = new Array<RuleSource>();
  for (let kind = LocationKind.Header; kind <= LocationKind.Cookie; kind++) {
    for (let i = 0; i < config.providers.length; i++) {
      if (use[i] == 0) continue;
      const locations = unchecked(config.providers[i]).locations;
      for (let j = 0; j < locations.length; j++) {
        const l = unchecked(locations[j]);
        if (l.kind != kind) continue;
        let where: RuleSource | null = null;
        for (let k = 0; k < out.length && where === null; k++) if (unchecked(out[k]).source === l.source) where = unchecked(out[k]);
        if (where === null) {
          where = new RuleSource(l.source);
          where.tolerated = true;
          out.push(where);
        }
        where.readers.push(l);
        if (use[i] == 2) where.tolerated = false;
      }
    }
  }
  return out;
}

function markProviders(node: Requirement, tolerant: bool, use: StaticArray<i32>): void {
  const p = node.provider;
  if (node.kind == RequirementKind.Provider) {
    if (p !== null) use[p.index] = max(use[p.index], tolerant ? 1 : 2);
    return;
  }
  const below = tolerant || (node.kind == RequirementKind.Any && node.allowMissingOrFailed);
  for (let i = 0; i < node.children.length; i++) markProviders(unchecked(node.children[i]), below, use);
}

/**
 * Collects the headers jwt-auth writes (removed from every incoming request) and
 * refuses one that is also where some provider reads tokens: removing it first would
 * throw every token away.
 */
function checkHeaderUse(reader: ConfigReader, config: JwtAuthConfig): void {
  const providers = config.providers;
  for (let i = 0; i < providers.length; i++) {
    const p = unchecked(providers[i]);
    const payload = p.forwardPayloadHeader;
    if (payload !== null) addSanitized(reader, config, payload, "providers." + p.name + ".forward_payload_header");
    for (let j = 0; j < p.claimToHeaders.length; j++) {
      addSanitized(reader, config, unchecked(p.claimToHeaders[j]).header, "providers." + p.name + ".claim_to_headers[" + j.toString() + "].header_name");
    }
  }
}

function addSanitized(reader: ConfigReader, config: JwtAuthConfig, name: FieldName, path: string): void {
  const providers = config.providers;
  for (let i = 0; i < providers.length; i++) {
    const locations = unchecked(providers[i]).locations;
    for (let j = 0; j < locations.length; j++) {
      const l = unchecked(locations[j]);
      if (l.kind == LocationKind.Header && l.name.name == name.name) {
        reader.fail(path, "\"" + name.name + "\" is a header tokens are read from (providers." + unchecked(providers[i]).name + ")");
        return;
      }
    }
  }
  const list = config.sanitizedHeaders;
  for (let i = 0; i < list.length; i++) {
    if (unchecked(list[i]).name == name.name) {
      name.sanitizedIndex = i;
      return;
    }
  }
  name.sanitizedIndex = list.length;
  list.push(name);
}

function isSanitized(config: JwtAuthConfig, name: string): bool {
  const list = config.sanitizedHeaders;
  for (let i = 0; i < list.length; i++) if (unchecked(list[i]).name == name) return true;
  return false;
}

/** Whether something reads a sanitized header before the request goes on (`JwtAuthConfig.sanitizeFirst`). */
function mustSanitizeFirst(config: JwtAuthConfig): bool {
  if (config.sanitizedHeaders.length > MAX_SANITIZED_WRITES) return true;
  const rules = config.rules;
  for (let i = 0; i < rules.length; i++) {
    const headers = unchecked(rules[i]).match.headers;
    for (let j = 0; j < headers.length; j++) if (isSanitized(config, unchecked(headers[j]).name)) return true;
  }
  if (config.bypassCorsPreflight && (isSanitized(config, "origin") || isSanitized(config, "access-control-request-method"))) return true;
  const providers = config.providers;
  for (let i = 0; i < providers.length; i++) {
    const locations = unchecked(providers[i]).locations;
    for (let j = 0; j < locations.length; j++) {
      if (unchecked(locations[j]).kind == LocationKind.Cookie && isSanitized(config, "cookie")) return true;
    }
  }
  return false;
}

function findProvider(config: JwtAuthConfig, name: string): Provider | null {
  const providers = config.providers;
  for (let i = 0; i < providers.length; i++) if (unchecked(providers[i]).name == name) return unchecked(providers[i]);
  return null;
}

function readRequirement(obj: ConfigObject, config: JwtAuthConfig, depth: i32): Requirement {
  const r = new Requirement();
  if (depth >= MAX_REQUIREMENT_DEPTH) {
    obj.failHere("requirements nest deeper than " + MAX_REQUIREMENT_DEPTH.toString() + " levels");
    return r;
  }
  const kind = obj.exactlyOneOf(REQUIREMENT_KINDS);
  if (kind != 0 && obj.has("claims")) obj.fail("claims", "only allowed with provider_name");
  if (kind == 0) {
    const name = obj.requiredString("provider_name");
    const provider = findProvider(config, name);
    if (provider === null && obj.reader.ok) obj.fail("provider_name", "no provider named \"" + name + "\"");
    r.provider = provider;
    readClaims(obj.optionalArray("claims"), r, config);
  } else if (kind == 1 || kind == 2) {
    r.kind = kind == 1 ? RequirementKind.Any : RequirementKind.All;
    const list = obj.requiredArray(kind == 1 ? "requires_any" : "requires_all", 1);
    for (let i = 0; i < list.length && obj.reader.ok; i++) {
      const child = readRequirement(list.objectAt(i, REQUIREMENT_FIELDS), config, depth + 1);
      // Envoy (verifier.cc AnyVerifierImpl): allow_missing / allow_missing_or_failed in
      // requires_any apply to the outcome of the list's other entries.
      if (r.kind == RequirementKind.Any && child.fromAllowField) {
        r.allowMissing = r.allowMissing || child.allowMissing;
        r.allowMissingOrFailed = r.allowMissingOrFailed || child.allowMissingOrFailed;
      } else r.children.push(child);
    }
    if (r.kind == RequirementKind.Any && r.children.length == 0) r.children = allProviders(config);
  } else if (kind == 3 || kind == 4) {
    const field = kind == 3 ? "allow_missing" : "allow_missing_or_failed";
    if (!obj.requiredBool(field) && obj.reader.ok) obj.fail(field, "expected true (leave the field out otherwise)");
    r.kind = RequirementKind.Any;
    r.allowMissing = kind == 3;
    r.allowMissingOrFailed = kind == 4;
    r.fromAllowField = true;
    r.children = allProviders(config);
  }
  return r;
}

/** A lone `allow_missing*` checks the tokens of every provider (Envoy: `getAllProvidersAsList`). */
function allProviders(config: JwtAuthConfig): Requirement[] {
  const out = new Array<Requirement>();
  for (let i = 0; i < config.providers.length; i++) {
    const child = new Requirement();
    child.provider = unchecked(config.providers[i]);
    out.push(child);
  }
  return out;
}

function readClaims(list: ConfigArray, r: Requirement, config: JwtAuthConfig): void {
  for (let i = 0; i < list.length; i++) {
    const entry = list.objectAt(i, ["name", "all_of", "any_of"]);
    const name = entry.requiredString("name");
    const which = entry.exactlyOneOf(["all_of", "any_of"]);
    if (which < 0) continue;
    const values = entry.stringList(which == 0 ? "all_of" : "any_of", 1);
    r.claims.push(new ClaimRequirement(new ClaimPath(name), values, which == 0, config.claimRequirementCount++));
  }
}
