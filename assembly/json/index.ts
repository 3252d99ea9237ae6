/**
 * Strict JSON for the filters: `parseJson` (RFC 8259, duplicate names rejected, bounded,
 * never traps) into immutable `JsonValue`s, and `JsonWriter` for JSON the filters emit.
 *
 * ```ts
 * const result = parseJson(payloadBytes, new JsonOptions(16, 8192));
 * if (!result.ok) return deny("Jwt payload is not valid JSON: " + result.error!.toString());
 * const exp = result.value!.get("exp");
 * if (exp !== null && exp.isInteger()) expiresAt = exp.asI64();
 * ```
 */
export { JsonDocument, JsonKind, JsonValue } from "./value";
export { JsonError, JsonErrorKind } from "./error";
export { JsonOptions, JsonResult, emptyJsonObject, parseJson, parseJsonAt, parseJsonBuffer, parseJsonString } from "./parser";
export { JsonWriter, quoteJsonString, stringify, stringifyToBytes } from "./writer";
