/**
 * hello's configuration, the plugin's `configuration` (JSON):
 *
 * ```json
 * { "greeting": "hello", "header": "x-hello", "deny_path_prefix": "/forbidden", "stat_prefix": "hello" }
 * ```
 *
 * - `greeting` (string, default "hello"): the value of `header` on every request sent on;
 * - `header` (lower-case header name, default "x-hello");
 * - `deny_path_prefix` (string starting with "/", optional): requests whose `:path` starts
 *   with it get a 403 local reply (details `hello_denied`) instead;
 * - `stat_prefix` (default "hello"): the metric family prefix (stats.ts).
 *
 * Errors name the JSON path (`header: expected a lower-case header name`).
 */
import { ConfigReader, ConfigResult } from "../../assembly/config";
import { isToken } from "../../assembly/match";
import { HeaderName, asciiLowerCase } from "../../assembly/proxy-wasm";

const ROOT_FIELDS: string[] = ["greeting", "header", "deny_path_prefix", "stat_prefix"];

export class HelloConfig {
  constructor(
    readonly greeting: string,
    /** `header`, encoded once (header names are bytes on the ABI). */
    readonly header: HeaderName,
    /** Empty: deny nothing. */
    readonly denyPathPrefix: string,
    readonly statPrefix: string,
  ) {}
}

/** Reads hello's configuration (file comment); the error is the reader's first. */
export function parseConfig(reader: ConfigReader): ConfigResult<HelloConfig> {
  const root = reader.root(ROOT_FIELDS);
  const greeting = root.optionalString("greeting", "hello");
  const header = root.optionalString("header", "x-hello", true);
  if (!isToken(header) || asciiLowerCase(header) != header) root.fail("header", "expected a lower-case header name");
  const deny = root.optionalString("deny_path_prefix", "");
  if (deny.length > 0 && !deny.startsWith("/")) root.fail("deny_path_prefix", "expected a path starting with \"/\"");
  const statPrefix = root.optionalString("stat_prefix", "hello", true);
  return ConfigResult.of<HelloConfig>(reader, new HelloConfig(greeting, HeaderName.of(header), deny, statPrefix));
}
