/**
 * The configuration reader every filter's `config.ts` uses: typed getters with JSON-path
 * errors, unknown-field rejection, and protobuf-JSON durations (see reader.ts).
 */
export { ConfigArray, ConfigMap, ConfigObject, ConfigReader, indexPath, memberPath } from "./reader";
export { Duration, DurationParse, DURATION_MAX_SECONDS, DURATION_SYNTAX_ERROR, parseDuration } from "./duration";
export { ConfigResult } from "./result";
