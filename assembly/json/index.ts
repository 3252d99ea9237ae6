/**
 * Strict JSON for the filters: `parseJson` (RFC 8259) into immutable `JsonValue`s, and
 * `JsonWriter` for the JSON the filters emit.
 *
 * ```ts
 * const result = parseJson(payloadBytes, new JsonOptions(16, 8192));
 * if (!result.ok) return deny("Jwt payload is not valid JSON: " + result.error!.toString());
 * const claims = result.value!;
 * const exp = claims.get("exp");
 * if (exp !== null && exp.isInteger()) expiresAt = exp.asI64();
 * const iss = claims.get("iss");
 * if (iss === null || !iss.equalsString(provider.issuer)) return deny("Jwt issuer is not configured");
 * ```
 *
 * Decisions a caller should know (details in parser.ts and error.ts):
 * - Rejected although `JSON.parse` accepts them: duplicate member names (RFC 7515 §4),
 *   `\u` escapes of lone surrogates (RFC 7493 §2.1; rejecting is safer than replacing),
 *   numbers that round beyond binary64 (`1e400`), nesting beyond `maxDepth`, input
 *   beyond `maxBytes`. Invalid UTF-8 and a BOM are rejected too.
 * - Numbers: `isInteger()` tells an exact i64 (`asI64()`) from a double (`asF64()`,
 *   rounded exactly as `JSON.parse` rounds).
 * - A parse never traps; errors carry a kind, a byte offset and a one-line message.
 * - Cost: a parse makes five allocations whatever the document holds (plus a hash
 *   table per object of more than 32 members); strings are
 *   decoded when read (`asString`), or compared without decoding (`equalsString`).
 *   Memory held by a document is at most about 9× its input (a copy of the input and
 *   one or two 8-byte tape entries per value).
 * - Parsing is not re-entrant (module-level scratch); Wasm callbacks never overlap.
 */
export { JsonDocument, JsonKind, JsonValue } from "./value";
export { JsonError, JsonErrorKind } from "./error";
export { JsonOptions, JsonResult, emptyJsonObject, parseJson, parseJsonAt, parseJsonBuffer, parseJsonString } from "./parser";
export { JsonWriter, quoteJsonString, stringify, stringifyToBytes } from "./writer";
